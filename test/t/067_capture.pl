
# Copyright (c) 2025, pg_topics contributors

# Change data capture (0.6) under concurrent writers, and across a crash:
# replaying a captured table's topic from offset 0 rebuilds the table.
#
# 1. A table of 1000 rows is written by 4 pgbench clients
#    (capture_writer.sql: upserts, savepoints rolled back, multi-row
#    updates, deletes, key changes, out-of-line values, one transaction in
#    ten rolled back, deadlocks retried) for about 20 s.  After 3 s it is
#    captured, after 6 s snapshotted (topics.snapshot(), while the writers
#    go on), and the writers stop at 20 s.  Replaying every event in offset
#    order per partition (c, u, r: the after image replaces the key's row;
#    d: the key's row goes) into an empty copy of the table gives the table
#    exactly, row for row.  Every key's events are on one partition.
# 2. The same writers again for 3 s, then kill -9 of a writer's backend,
#    which makes the server crash and restart: after recovery, the replay
#    of the whole topic still gives the table.

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $script = File::Spec->rel2abs(dirname(__FILE__) . '/capture_writer.sql');

my $node = PostgreSQL::Test::Cluster->new('capture');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
deadlock_timeout = '50ms'
restart_after_crash = on
});
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('src_cdc', 4);
CREATE TABLE src (id bigint PRIMARY KEY, v text, n int, doc jsonb, big text);
ALTER TABLE src ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE SEQUENCE src_moved START 1000000;
INSERT INTO src SELECT g, 'initial', 0, jsonb_build_object('g', g), NULL FROM generate_series(1, 1000) g;

-- the replay: every event of the topic, read with topics.fetch(), per
-- partition in offset order; a key's last event decides its row (c, u, r:
-- its after image; d: none), as applying them all one by one would
CREATE TABLE replica (LIKE src);
CREATE TABLE events (partition int, msg_offset bigint, k jsonb, v jsonb);
CREATE PROCEDURE replay() LANGUAGE plpgsql AS $$
DECLARE
    p int;
    from_offset bigint;
BEGIN
    TRUNCATE events, replica;
    FOR p IN 0 .. 3 LOOP
        from_offset := 0;
        LOOP
            INSERT INTO events
            SELECT f.partition, f.msg_offset, convert_from(f.key, 'UTF8')::jsonb,
                   convert_from(f.value, 'UTF8')::jsonb
              FROM topics.fetch('src_cdc', p, from_offset, 10000) f;
            EXIT WHEN NOT FOUND;
            SELECT max(msg_offset) + 1 INTO from_offset FROM events WHERE partition = p;
        END LOOP;
    END LOOP;
    INSERT INTO replica
    SELECT r.* FROM (SELECT DISTINCT ON (k) v FROM events
                      ORDER BY k, partition, msg_offset DESC) e,
                    jsonb_populate_record(NULL::replica, e.v->'after') r
     WHERE e.v->>'op' IN ('c', 'u', 'r');
END $$;
});

# the rows that differ between the table and its replay
my $differ = q{
SELECT count(*) FROM ((SELECT * FROM src EXCEPT ALL SELECT * FROM replica)
                      UNION ALL
                      (SELECT * FROM replica EXCEPT ALL SELECT * FROM src)) d};

# start_writers SECONDS: pgbench with the writers, in the background
sub start_writers
{
	my ($secs) = @_;
	my $w = { out => '', err => '' };
	$w->{h} = IPC::Run::start(
		[
			'pgbench', '-n', '-c', '4', '-j', '2', '-T', $secs,
			'--max-tries', '100', '-f', $script,
			'-h', $node->host, '-p', $node->port, 'postgres'
		],
		'>', \$w->{out}, '2>', \$w->{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return $w;
}

###########################################################################
# 1. Concurrent writers, capture and snapshot while they write
###########################################################################

my $start = time;
my $w = start_writers(20);
sleep(3);
$node->safe_psql('postgres', q{SELECT topics.capture('src', 'src_cdc')});
sleep(3);
my $snapshot = $node->safe_psql('postgres', q{SELECT topics.snapshot('src')});
cmp_ok($snapshot, '>', 900, "the snapshot read the table's rows ($snapshot)");
ok($w->{h}->finish, 'the writers ran without error') or diag($w->{err});
my @aborted = $w->{err} =~ /^(client \d+ aborted.*)$/mg;
is(scalar(@aborted), 0, 'no writer aborted') or diag(join("\n", @aborted));
my ($transactions) = $w->{out} =~ /number of transactions actually processed: (\d+)/;
cmp_ok($transactions // 0, '>', 1000, 'the writers ran a real load');
note(sprintf('%d transactions in %.1f s', $transactions // 0, time - $start));

my $events = $node->safe_psql('postgres',
	q{SELECT count(*) FROM topics_data.src_cdc});
cmp_ok($events, '>', $snapshot + 1000, "the changes were published ($events events)");
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (SELECT key FROM topics_data.src_cdc GROUP BY key
                      HAVING count(DISTINCT partition) > 1) k}),
	'0', "every key's events are on one partition");
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(op || ':' || (n > 0), ',' ORDER BY op) FROM
  (SELECT convert_from(value, 'UTF8')::jsonb->>'op' AS op, count(*) AS n
     FROM topics_data.src_cdc GROUP BY 1) o}),
	'c:true,d:true,r:true,u:true', 'events of every kind');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM topics_data.src_cdc
 WHERE length(convert_from(value, 'UTF8')::jsonb->'after'->>'big') > 3000}) > 0
	  ? 'yes' : 'no',
	'yes', 'out-of-line values were published');

$node->safe_psql('postgres', 'CALL replay()');
is($node->safe_psql('postgres', $differ), '0',
	'the replay of the topic rebuilds the table');
is($node->safe_psql('postgres', 'SELECT count(*) FROM replica'),
	$node->safe_psql('postgres', 'SELECT count(*) FROM src'),
	'as many rows');

###########################################################################
# 2. kill -9 while they write
###########################################################################

$w = start_writers(30);
sleep(3);
my $victim = $node->safe_psql('postgres', q{
SELECT pid FROM pg_stat_activity
 WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
   AND query LIKE '%src%' LIMIT 1});
ok($victim, "a writer's backend to kill ($victim)");
kill 'KILL', $victim;
$w->{h}->finish;
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die 'the server did not come back';
$node->safe_psql('postgres', 'CALL replay()');
is($node->safe_psql('postgres', $differ), '0',
	'after kill -9 and recovery, the replay still rebuilds the table');
$node->safe_psql('postgres', q{INSERT INTO src VALUES (-1, 'after the crash', 0, '{}', NULL)});
$node->safe_psql('postgres', 'CALL replay()');
is($node->safe_psql('postgres', $differ), '0',
	'capture goes on after recovery');

$node->stop;
done_testing();
