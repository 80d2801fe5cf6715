
# Copyright (c) 2025, pg_topics contributors

# The delivery state of a queue lives in ordinary tables (topics.queue_partition,
# topics.queue_delivery): it survives a crash, and pg_dump and restore.
#
# A queue of one partition holds 10 messages: 3 are consumed, 2 received
# with a lease of an hour, 1 nacked with a delay of an hour, 1 consumed by a
# prepared transaction, 1 consumed by a transaction still open when the
# server is killed.
#
# After kill -9 and a start: the 3 consumed messages are gone; the leases,
# the nack's delay and the prepared transaction's hold are still there; the
# open transaction's message is back, not counted as delivered (its take
# was never written); so a receive gets offsets 7 to 9.  The leases can still be acked by their
# delivery ids; COMMIT PREPARED makes its message gone.
#
# pg_dump then restore into a fresh server (taken while a transaction holds
# a message and a lease is running): the restored queue has the same start
# and deliveries; the lease, with its id, is still there; the message of the
# transaction in progress at the dump is back (its transaction is another
# server's).

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $conf = q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
max_prepared_transactions = 5
pg_topics.worker_naptime = '100ms'
};
my $node = PostgreSQL::Test::Cluster->new('queue_state');
$node->init;
$node->append_conf('postgresql.conf', $conf);
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('st', 1, 'queue');
SELECT count(*) FROM topics.produce_batch('st', ARRAY(SELECT 'm' || i FROM generate_series(0, 9) i));
SELECT count(*) FROM topics.consume('st', 3);
CREATE TABLE leases AS SELECT delivery_id, msg_offset FROM topics.receive('st', '1 hour', 2);
CREATE TABLE nacked AS SELECT delivery_id, msg_offset FROM topics.receive('st', '1 hour', 1);
SELECT topics.nack('st', ARRAY(SELECT delivery_id FROM nacked), '1 hour');
BEGIN;
SELECT count(*) FROM topics.consume('st', 1);
PREPARE TRANSACTION 'held';
-- a window of one offset, whose rows are reused at once: a receipt never
-- comes again after a restart
SELECT topics.create_topic('w1', 1, 'queue', '{"delivery.window": 1}');
SELECT count(*) FROM topics.produce_batch('w1', ARRAY['a', 'b', 'c']);
CREATE TABLE w1_id AS SELECT delivery_id FROM topics.receive('w1', '1 hour');
SELECT topics.ack('w1', ARRAY(SELECT delivery_id FROM w1_id));
SELECT count(*) FROM topics.consume('w1');
-- a receive prepared before the crash, committed after it
SELECT topics.create_topic('pb', 1, 'queue');
SELECT count(*) FROM topics.produce_batch('pb', ARRAY['a', 'b']);
BEGIN;
CREATE TABLE pb_id AS SELECT delivery_id FROM topics.receive('pb', '1 hour');
PREPARE TRANSACTION 'pb1';
});
is( $node->safe_psql('postgres',
		q{SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset) FROM leases}),
	'3,4', 'leased offsets 3 and 4');

# A transaction in progress when the server is killed.
my ($in, $out, $err) = ('', '', '');
my $h = IPC::Run::start([ 'psql', '-X', '-d', $node->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "BEGIN;\nSELECT 'took ' || msg_offset FROM topics.consume('st', 1);\n";
$h->pump until $out =~ /took (\d+)/;
my $open_offset = $1;
is($open_offset, '7', 'an open transaction holds offset 7');

# (not the depth: after a crash, the log resumes past a gap of offsets
# never used, which depth counts until reads pass them)
my $stats = q{SELECT start_offset || ' in flight ' || in_flight || ' delayed ' || delayed
                FROM topics.queue_stats WHERE topic = 'st'};
is($node->safe_psql('postgres', $stats), '3 in flight 4 delayed 1',
	'before the crash');

$node->stop('immediate');
$h->kill_kill;
$node->start;

# the first call after the start settles leases taken before it
is( $node->safe_psql('postgres', q{
SELECT topics.extend('st', ARRAY(SELECT delivery_id FROM leases), '1 hour')}),
	'2', 'the first call after the crash extends the leases taken before it');

is($node->safe_psql('postgres', $stats), '3 in flight 3 delayed 1',
	'after the crash: the leases, the nack and the prepared hold are there, the open take is not');
is( $node->safe_psql('postgres', q{
CREATE TABLE after_crash AS SELECT delivery_id, msg_offset, deliveries
  FROM topics.receive('st', '1 hour', 10);
SELECT string_agg(msg_offset || ':' || deliveries, ',' ORDER BY msg_offset) FROM after_crash}),
	'7:1,8:1,9:1', 'a read after the crash gets the open transaction\'s message and the rest');
is( $node->safe_psql('postgres', q{
SELECT topics.ack('st', ARRAY(SELECT delivery_id FROM leases))}),
	'2', 'the leases taken before the crash are acked by their ids');
$node->safe_psql('postgres', q{COMMIT PREPARED 'held'});
# (the worker may have moved the nacked message 5 already: see below)
is( $node->safe_psql('postgres', q{
SELECT in_flight || ' ' || (start_offset IN (5, 7)) FROM topics.queue_stats WHERE topic = 'st'}),
	'3 true', 'COMMIT PREPARED after the crash: its message is done');

my ($w1_new, $w1_old) = split /\|/, $node->safe_psql('postgres', q{
SELECT r.delivery_id, o.delivery_id FROM topics.receive('w1', '1 hour') r, w1_id o});
isnt($w1_new, $w1_old, 'after the crash, a new delivery gets a new id');
my ($ok, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT topics.ack('w1', ARRAY(SELECT delivery_id FROM w1_id))});
like($stderr, qr/cannot settle delivery/, 'an id from before the crash settles no other delivery');

$node->safe_psql('postgres', q{SELECT count(*) FROM topics.queue_stats WHERE topic = 'pb'});
$node->safe_psql('postgres', q{COMMIT PREPARED 'pb1'});
is( $node->safe_psql('postgres', q{
SELECT topics.ack('pb', ARRAY(SELECT delivery_id FROM pb_id))}),
	'1', 'a receive prepared before the crash and committed after it is acked by its id');

# The nacked message waits an hour at the head of the window, which the
# gap after the crash fills: the worker moves it to the end of the log.
$node->safe_psql('postgres',
	q{SELECT topics.ack('st', ARRAY(SELECT delivery_id FROM after_crash))});
ok( $node->poll_query_until('postgres', q{
SELECT start_offset > 1000 AND delayed = 1 FROM topics.queue_stats WHERE topic = 'st'}),
	'the worker moved the message delayed at the head of the full window to the end');

# pg_dump while a transaction holds a message, and restore.
$node->safe_psql('postgres', q{
SELECT count(*) FROM topics.produce_batch('st', ARRAY['n0', 'n1']);
CREATE TABLE lease2 AS SELECT delivery_id, msg_offset FROM topics.receive('st', '1 hour', 1);
});
($in, $out, $err) = ('', '', '');
$h = IPC::Run::start([ 'psql', '-X', '-d', $node->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "BEGIN;\nSELECT 'took ' || msg_offset FROM topics.consume('st', 1);\n";
$h->pump until $out =~ /took (\d+)/;
my $taken_at_dump = $1;

# a restored queue starts where the worker last recorded the start before
# the dump: let it record the start, settle the lease's row, and record a
# horizon above the lease's transaction (a state made at or above it counts
# as never made after a restore)
ok( $node->poll_query_until('postgres', q{
SELECT p.queue_start = s.start_offset AND p.queue_horizon >
       (SELECT d.xid FROM topics.queue_delivery d JOIN lease2 l USING (msg_offset)
         WHERE d.topic = 'st' AND d.pending = -1)
  FROM topics.partition p JOIN topics.queue_stats s USING (topic, partition)
 WHERE topic = 'st'}),
	'the worker recorded the start');
my $dump = "$PostgreSQL::Test::Utils::tmp_check/queue_state.dump";
$node->command_ok(
	[ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump');
$in .= "ROLLBACK;\n";
$h->finish;

my $restored = PostgreSQL::Test::Cluster->new('queue_restored');
$restored->init;
$restored->append_conf('postgresql.conf', $conf);
$restored->start;
$restored->command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', $restored->connstr('postgres'), $dump ],
	'pg_restore');

is( $restored->safe_psql('postgres', q{
SELECT start_offset FROM topics.queue_stats WHERE topic = 'st'}),
	$node->safe_psql('postgres', q{
SELECT start_offset FROM topics.queue_stats WHERE topic = 'st'}),
	'the restored queue starts where the dumped one did');
is( $restored->safe_psql('postgres', q{
SELECT topics.extend('st', ARRAY(SELECT delivery_id FROM lease2), '2 hours')}),
	'1', 'a lease running at the dump is extended by its id after the restore');
is( $restored->safe_psql('postgres', q{
SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset)
  FROM topics.consume('st', 10)}),
	$node->safe_psql('postgres', q{
SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset)
  FROM topics.consume('st', 10)}),
	'the restored queue hands out what the dumped one does, the message held at the dump included');
note "taken at the dump: $taken_at_dump";

# pg_dump under load: a consumer commits its work and its take after the
# dump's snapshot, and before the dump copies the delivery state (a
# snapshot exported by an open transaction stands for a dump's).  The
# restored database holds neither the work nor the take: the messages come
# again there, none is lost.
$node->safe_psql('postgres', q{
SELECT topics.create_topic('ld', 2, 'queue');
SELECT count(*) FROM topics.produce_batch('ld', ARRAY(SELECT 'w' || i FROM generate_series(1, 20) i),
                                          ARRAY(SELECT 'k' || i FROM generate_series(1, 20) i));
CREATE TABLE work (v text);
INSERT INTO work SELECT convert_from(value, 'UTF8') FROM topics.consume('ld', 6);
});
ok( $node->poll_query_until('postgres', q{
SELECT sum(queue_start) = 6 FROM topics.partition WHERE topic = 'ld'}),
	'the worker recorded the start of the queue');
($in, $out, $err) = ('', '', '');
$h = IPC::Run::start([ 'psql', '-X', '-At', '-d', $node->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT 'snap ' || pg_export_snapshot();\n";
$h->pump until $out =~ /snap (\S+)/;
my $snap = $1;
$node->safe_psql('postgres', q{
INSERT INTO work SELECT convert_from(value, 'UTF8') FROM topics.consume('ld', 6);
SELECT count(*) FROM topics.queue_stats WHERE topic = 'ld';
});
# the worker settles the rows of that take and writes the start past them,
# as it may before a dump reads them
ok( $node->poll_query_until('postgres', q{
SELECT bool_and(q.start_offset = s.start_offset)
  FROM topics.queue_partition q JOIN topics.queue_stats s USING (topic, partition)
 WHERE topic = 'ld'}),
	'the worker wrote the start past the second take');
my $dump2 = "$PostgreSQL::Test::Utils::tmp_check/queue_load.dump";
$node->command_ok(
	[ 'pg_dump', '-Fc', "--snapshot=$snap", '-f', $dump2, '-d', $node->connstr('postgres') ],
	'pg_dump with a snapshot older than a consumer\'s commit');
$in .= "COMMIT;\n";
$h->finish;

my $restored2 = PostgreSQL::Test::Cluster->new('queue_restored2');
$restored2->init;
$restored2->append_conf('postgresql.conf', $conf);
$restored2->start;
$restored2->command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', $restored2->connstr('postgres'), $dump2 ],
	'pg_restore of that dump');
is( $restored2->safe_psql('postgres', q{
SELECT count(*) FROM work}), '6', 'the restored work is the first consumer\'s');
is( $restored2->safe_psql('postgres', q{
WITH again AS (SELECT convert_from(value, 'UTF8') AS v FROM topics.consume('ld', 100))
SELECT (SELECT count(*) FROM again) || ' ' ||
       (SELECT count(*) FROM (SELECT v FROM work UNION SELECT v FROM again) u)}),
	'14 20', 'the restored queue delivers every message the restored work lacks');

# The same with segments the worker empties: a TRUNCATE ignores snapshots,
# so the worker empties only what every snapshot sees recorded as done; and
# a restore into the database the dump came from.
$node->safe_psql('postgres', q{
SELECT topics.create_topic('tr', 1, 'queue', '{"segment.messages": 10}');
SELECT count(*) FROM topics.produce_batch('tr', ARRAY(SELECT 'w' || i FROM generate_series(1, 40) i));
CREATE TABLE trwork (v text);
INSERT INTO trwork SELECT convert_from(value, 'UTF8') FROM topics.consume('tr', 5);
});
ok( $node->poll_query_until('postgres', q{
SELECT queue_start = 5 FROM topics.partition WHERE topic = 'tr'}),
	'the worker recorded the start of tr');
($in, $out, $err) = ('', '', '');
$h = IPC::Run::start([ 'psql', '-X', '-At', '-d', $node->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT 'snap ' || pg_export_snapshot();\n";
$h->pump until $out =~ /snap (\S+)/;
$snap = $1;
$node->safe_psql('postgres', q{
INSERT INTO trwork SELECT convert_from(value, 'UTF8') FROM topics.consume('tr', 15)});
ok( $node->poll_query_until('postgres', q{
SELECT queue_start = 20 FROM topics.partition WHERE topic = 'tr'}),
	'the worker recorded the new start of tr');
# a few rounds, in which the worker must not empty what the snapshot reads
sleep 1;
is( $node->safe_psql('postgres', q{SELECT log_start FROM topics.partitions WHERE topic = 'tr'}),
	'0', 'the worker empties no segment a snapshot held open may read');
my $dump3 = "$PostgreSQL::Test::Utils::tmp_check/queue_tr.dump";
$node->command_ok(
	[ 'pg_dump', '-Fc', "--snapshot=$snap", '-f', $dump3, '-d', $node->connstr('postgres') ],
	'pg_dump with the old snapshot');
$in .= "COMMIT;\n";
$h->finish;
ok( $node->poll_query_until('postgres', q{
SELECT log_start = 20 FROM topics.partitions WHERE topic = 'tr'}),
	'once no snapshot needs them, the worker empties the consumed segments');

# restore into the database the dump came from
$node->safe_psql('postgres', q{
DROP TABLE work, trwork, leases, nacked, after_crash, lease2, w1_id, pb_id;
DROP EXTENSION pg_topics CASCADE;});
$node->command_ok(
	[ 'pg_restore', '-d', $node->connstr('postgres'), $dump3 ],
	'pg_restore into the database the dump came from');
is( $node->safe_psql('postgres', q{
WITH again AS (SELECT convert_from(value, 'UTF8') AS v FROM topics.consume('tr', 100))
SELECT (SELECT count(*) FROM trwork) || ' ' ||
       (SELECT count(*) FROM (SELECT v FROM trwork UNION SELECT v FROM again) u)}),
	'5 40', 'restored where it came from, the queue delivers every message the work lacks');

# A delivery a rollback counted is written by the worker, so that a message
# whose consumers keep failing ends as a dead letter across a crash too.
$node->safe_psql('postgres', q{
SELECT topics.create_topic('pz', 1, 'queue', '{"max.deliveries": 2}');
SELECT topics.produce('pz', 'poison'::text);
});
for my $i (1 .. 2)
{
	$node->safe_psql('postgres', q{
BEGIN; SELECT count(*) FROM topics.consume('pz', 1); ROLLBACK;});
}
ok( $node->poll_query_until('postgres', q{
SELECT deliveries = 2 FROM topics.queue_delivery WHERE topic = 'pz' AND msg_offset = 0}),
	'the worker wrote the deliveries the rollbacks counted');
# A rollback counted while the worker writes the rows (here blocked on a
# lock after copying them) is written in the round after.  In a database
# of its own, whose worker has no other window to write first.
$node->safe_psql('postgres', q{CREATE DATABASE rzdb});
$node->safe_psql('rzdb', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('rz', 1, 'queue', '{"max.deliveries": 100}');
SELECT topics.produce('rz', 'r'::text);
BEGIN; SELECT count(*) FROM topics.consume('rz', 1); ROLLBACK;});
ok( $node->poll_query_until('rzdb', q{
SELECT deliveries = 1 FROM topics.queue_delivery WHERE topic = 'rz' AND msg_offset = 0}),
	'the worker wrote the first rolled-back delivery');
# the lock first, and the second rollback right after it from a session
# already there: the worker's next round copies the row with it, then waits
($in, $out, $err) = ('', '', '');
$h = IPC::Run::start([ 'psql', '-X', '-At', '-d', $node->connstr('rzdb') ],
	'<', \$in, '>', \$out, '2>', \$err);
my ($in2, $out2, $err2) = ('', '', '');
my $h2 = IPC::Run::start([ 'psql', '-X', '-At', '-d', $node->connstr('rzdb') ],
	'<', \$in2, '>', \$out2, '2>', \$err2);
$in2 .= "SELECT 'ready';\n";
$h2->pump until $out2 =~ /ready/;
$in .= "BEGIN;\nLOCK TABLE topics.queue_partition IN ACCESS EXCLUSIVE MODE;\nSELECT 'locked';\n";
$h->pump until $out =~ /locked/;
$in2 .= "BEGIN;\nSELECT count(*) FROM topics.consume('rz', 1);\nROLLBACK;\nSELECT 'second';\n";
$h2->pump until $out2 =~ /second/;
ok( $node->poll_query_until('rzdb', q{
SELECT count(*) > 0 FROM pg_stat_activity
 WHERE backend_type = 'pg_topics worker' AND wait_event_type = 'Lock'
   AND datname = 'rzdb'}),
	'the worker waits for the lock with the rows copied');
$in2 .= "BEGIN;\nSELECT count(*) FROM topics.consume('rz', 1);\nROLLBACK;\nSELECT 'third';\n";
$h2->pump until $out2 =~ /third/;
$in2 .= "\\q\n";
$h2->finish;
$in .= "COMMIT;\n";
$h->finish;
ok( $node->poll_query_until('rzdb', q{
SELECT deliveries = 3 FROM topics.queue_delivery WHERE topic = 'rz' AND msg_offset = 0}),
	'the rollback counted meanwhile is written too');

$node->stop('immediate');
$node->start;
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM topics.consume('pz', 1);
SELECT string_agg(convert_from(value, 'UTF8') || ' ' || (headers ->> 'dead_letter.deliveries'), ',')
  FROM topics.fetch('pz.dead_letter', 0, 0, 10)}),
	"0\npoison 2", 'after the crash, the third read sends the message to the dead letters');

$restored2->stop;
$restored->stop;
$node->stop;
done_testing();
