
# Copyright (c) 2025, pg_topics contributors

# The worker's maintenance and the snapshots it must respect (third
# break-it review of issue 12).
#
# 1. A topic whose lock a user's transaction holds (its open
#    run_maintenance holds the topic's rows of topics.maintenance) waits
#    for the worker's next pass; the topics after it are maintained
#    meanwhile: a compacted topic is compacted while that transaction
#    stays open.
# 2. A standby with hot_standby_feedback and no replication slot: its
#    REPEATABLE READ snapshot, taken before messages that supersede others,
#    still reads the messages they supersede after the primary ran
#    compaction; once it ends, compaction goes on.
# 3. A transaction of another database, which cannot read the topic's
#    tables, holds no compaction back.
# 4. A cursor declared in the same query string as the run_maintenance that
#    follows it (so of the same statement start) keeps what it reads: the
#    call leaves the new messages to a later one.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('retention_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
pg_topics.worker_naptime = '100ms'
pg_topics.maintenance_interval = '100ms'
});
$primary->start;
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('aa_busy', 1);
SELECT topics.create_topic('zz_comp', 1, 'stream',
    '{"cleanup.policy": "compact", "segment.messages": 4, "min.compaction.lag.ms": 0}');
SELECT topics.create_topic('sb', 1, 'stream',
    '{"cleanup.policy": "compact", "segment.messages": 4, "min.compaction.lag.ms": 3600000}');
SELECT count(*) FROM topics.produce_batch('sb', ARRAY['a1', 'b1', 'c1', 'd1'], ARRAY['a', 'b', 'c', 'd']);
});

# --- 1. a busy topic does not hold the others up

my ($in, $out, $err) = ('', '', '');
my $busy = IPC::Run::start([ 'psql', '-X', '-d', $primary->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "BEGIN;\nSELECT 'ran ' || count(*) FROM topics.run_maintenance('aa_busy');\n";
$busy->pump until $out =~ /ran \d+/;

$primary->safe_psql(
	'postgres', q{
SELECT count(*) FROM topics.produce_batch('zz_comp', ARRAY['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9'],
    ARRAY['k', 'k', 'k', 'k', 'k', 'k', 'k', 'k', 'k']);
});
ok( $primary->poll_query_until(
		'postgres',
		q{SELECT compacted_end > 0 FROM topics.partition WHERE topic = 'zz_comp'}),
	'the worker compacts a topic after one a user\'s transaction holds');
is( $primary->safe_psql(
		'postgres',
		q{SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset) FROM topics.fetch('zz_comp', 0, 0)}),
	'v8,v9', 'the sealed segments keep the last message of the key, the last segment its own');
$in .= "COMMIT;\n\\q\n";
$busy->finish;

# --- 3. another database's snapshot

$primary->safe_psql('postgres', 'CREATE DATABASE elsewhere');
($in, $out, $err) = ('', '', '');
my $other = IPC::Run::start([ 'psql', '-X', '-d', $primary->connstr('elsewhere') ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT 'held ' || 1;\n";
$other->pump until $out =~ /held 1/;
$primary->safe_psql(
	'postgres', q{
SELECT topics.create_topic('xdb', 1, 'stream',
    '{"cleanup.policy": "compact", "segment.messages": 4, "min.compaction.lag.ms": 0}');
SELECT count(*) FROM topics.produce_batch('xdb', ARRAY['w1', 'w2', 'w3', 'w4', 'w5'],
    ARRAY['k', 'k', 'k', 'k', 'k']);
});
ok( $primary->poll_query_until(
		'postgres', q{SELECT compacted_end > 0 FROM topics.partition WHERE topic = 'xdb'}),
	'a snapshot of another database holds no compaction back');
$in .= "COMMIT;\n\\q\n";
$other->finish;

# --- 4. a cursor of the same query string

$primary->safe_psql(
	'postgres', q{
SELECT topics.create_topic('cur', 1, 'stream',
    '{"cleanup.policy": "compact", "segment.messages": 4, "min.compaction.lag.ms": 3600000}');
SELECT count(*) FROM topics.produce_batch('cur', ARRAY['a1', 'b1', 'c1', 'd1'], ARRAY['a', 'b', 'c', 'd']);
CREATE FUNCTION read_cur() RETURNS TABLE (v text) STABLE LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT convert_from(value, 'UTF8') FROM topics_data.cur ORDER BY msg_offset;
END $$;
});
($in, $out, $err) = ('', '', '');
my $one = IPC::Run::start(
	[
		'psql', '-X', '-At', '-d', $primary->connstr('postgres'), '-c',
		q{BEGIN; DECLARE c CURSOR FOR SELECT v FROM read_cur(); SELECT pg_sleep(2);
SELECT 'compacted ' || segments_freed FROM topics.run_maintenance('cur') WHERE job = 'compaction';
FETCH ALL FROM c; COMMIT;}
	],
	'<', \$in, '>', \$out, '2>', \$err);
# while it sleeps: newer values of the keys, and compaction allowed at once
usleep(500_000);
$primary->safe_psql(
	'postgres', q{
SELECT count(*) FROM topics.produce_batch('cur', ARRAY['a2', 'b2', 'c2', 'd2', 'e1'], ARRAY['a', 'b', 'c', 'd', 'e']);
SELECT topics.alter_topic('cur', '{"min.compaction.lag.ms": 0}');
});
$one->finish;
like($out, qr/compacted 0/, 'the call leaves the new messages to a later one');
like($out, qr/a1\nb1\nc1\nd1/, 'the cursor reads what its snapshot saw');

# --- 2. a standby's snapshot, fed back without a slot

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('retention_standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->append_conf('postgresql.conf', q{
hot_standby_feedback = on
wal_receiver_status_interval = 1
});
$standby->start;
$primary->wait_for_catchup($standby);

($in, $out, $err) = ('', '', '');
my $reader = IPC::Run::start([ 'psql', '-X', '-d', $standby->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "BEGIN ISOLATION LEVEL REPEATABLE READ;\n"
  . "SELECT 'before ' || string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset) FROM topics_data.sb;\n";
$reader->pump until $out =~ /before ([a-z0-9,]+)/;
is($1, 'a1,b1,c1,d1', 'the standby\'s snapshot reads the first values');

# the primary hears of the standby's snapshot
ok( $primary->poll_query_until(
		'postgres', q{SELECT count(*) > 0 FROM pg_stat_replication WHERE backend_xmin IS NOT NULL}),
	'the standby feeds its snapshot back');
$primary->safe_psql(
	'postgres', q{
SELECT count(*) FROM topics.produce_batch('sb', ARRAY['a2', 'b2', 'c2', 'd2', 'e1'], ARRAY['a', 'b', 'c', 'd', 'e']);
SELECT topics.alter_topic('sb', '{"min.compaction.lag.ms": 0}');
});
is( $primary->safe_psql(
		'postgres', q{SELECT segments_freed FROM topics.run_maintenance('sb') WHERE job = 'compaction'}),
	'0', 'compaction waits for the standby\'s snapshot');
$primary->wait_for_catchup($standby);
$out = '';
$in .= "SELECT 'after ' || string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset) FROM topics_data.sb;\n";
$reader->pump until $out =~ /after ([a-z0-9,]+)/;
is($1, 'a1,b1,c1,d1', 'the standby\'s snapshot still reads the first values');
$in .= "COMMIT;\n\\q\n";
$reader->finish;

ok( $primary->poll_query_until(
		'postgres', q{SELECT compacted_end > 0 FROM topics.partition WHERE topic = 'sb'}),
	'once the standby\'s snapshot ended, the worker compacts');
$primary->wait_for_catchup($standby);
is( $standby->safe_psql(
		'postgres', q{SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset) FROM topics_data.sb}),
	'a2,b2,c2,d2,e1', 'the standby reads the compacted topic');

$standby->stop;
$primary->stop;
done_testing();
