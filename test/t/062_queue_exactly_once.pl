
# Copyright (c) 2025, pg_topics contributors

# Queue mode under load, with a crash in the middle (DESIGN.md section 7).
#
# Four producers send numbered messages to a queue of four partitions
# (single sends, some delayed, and batches; keyed), recording each number
# in table produced in the same transaction, and roll back one transaction
# in ten.  Eight consumers compete for them:
# - three consume and store what they took (table consumed) in one
#   transaction, rolling back one transaction in twenty and a savepoint in
#   ten; one of them dawdles inside its transactions;
# - three receive with a visibility timeout of 1 s, then store and ack in a
#   second transaction; one receive in ten is nacked, one in twenty is
#   abandoned (its lease runs out), and one in thirty takes longer than its
#   lease, so that its ack fails and its store is undone;
# - two more, one of each kind, which the test terminates
#   (pg_terminate_backend) now and then, mid-job, and starts again.
# One session holds a snapshot open all along, as a long report would.
# After 15 s a consumer's backend is killed (kill -9), which makes the
# postmaster restart the whole server from the WAL; everyone reconnects,
# and the run goes on for 15 s more.  Then the
# producers stop, and the queue is drained.
#
# Every committed message ends exactly once either in consumed (by a
# consumer whose transaction committed) or in the dead-letter topic (after
# max.deliveries deliveries), never both, never twice, never lost.  No
# message row was updated or deleted, the delivery state's tables did not
# grow, and the segments the queue consumed were emptied by the worker.
#
# A second part holds a snapshot while 20000 messages are produced and
# consumed: the message tables have no dead tuple, and the delivery
# state's tables neither grow nor have dead tuples.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $run_secs = 15;

my $node = PostgreSQL::Test::Cluster->new('queue_eo');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
max_connections = 40
pg_topics.worker_naptime = '200ms'
restart_after_crash = on
log_statement = none
log_min_messages = warning
autovacuum = off
});
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('jq', 4, 'queue',
    '{"max.deliveries": 4, "visibility.timeout.ms": 1000,
      "segment.messages": 500, "delivery.window": 256}');
CREATE SEQUENCE ids;
CREATE TABLE produced (id bigint NOT NULL);
CREATE TABLE consumed (id bigint NOT NULL, how text NOT NULL, who text NOT NULL);
CREATE TABLE stop_producers (at timestamptz DEFAULT now());
CREATE TABLE stop_consumers (at timestamptz DEFAULT now());

CREATE PROCEDURE producer()
LANGUAGE plpgsql AS $$
DECLARE
    n int;
    ids bigint[];
BEGIN
    LOOP
        EXIT WHEN EXISTS (SELECT FROM stop_producers);
        n := 1 + (random() * 9)::int;
        ids := ARRAY(SELECT nextval('ids') FROM generate_series(1, n));
        IF random() < 0.5 THEN
            PERFORM topics.send_batch('jq', ARRAY(SELECT to_jsonb(i) FROM unnest(ids) i),
                                      ARRAY(SELECT (i % 50)::text FROM unnest(ids) i));
        ELSE
            PERFORM topics.send('jq', to_jsonb(i), key => (i % 50)::text,
                                delay => CASE WHEN random() < 0.1 THEN interval '200 ms' END)
               FROM unnest(ids) i;
        END IF;
        INSERT INTO produced SELECT unnest(ids);
        IF random() < 0.1 THEN ROLLBACK; ELSE COMMIT; END IF;
        -- about as fast as the consumers, so that the queue drains
        PERFORM pg_sleep(0.005 + random() * 0.01);
    END LOOP;
END
$$;

CREATE PROCEDURE consumer(me text, dawdle boolean)
LANGUAGE plpgsql AS $$
BEGIN
    LOOP
        EXIT WHEN EXISTS (SELECT FROM stop_consumers);
        BEGIN
            INSERT INTO consumed
            SELECT convert_from(value, 'UTF8')::bigint, 'consume', me
              FROM topics.consume('jq', 10, '100 ms');
            IF random() < 0.1 THEN
                RAISE EXCEPTION 'savepoint rolled back';
            END IF;
        EXCEPTION WHEN raise_exception THEN
            NULL;
        END;
        IF dawdle THEN
            PERFORM pg_sleep(random() * 0.2);
        END IF;
        IF random() < 0.05 THEN ROLLBACK; ELSE COMMIT; END IF;
    END LOOP;
END
$$;

CREATE PROCEDURE receiver(me text, dawdle boolean)
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    vals bigint[];
    r float8;
BEGIN
    LOOP
        EXIT WHEN EXISTS (SELECT FROM stop_consumers);
        SELECT array_agg(delivery_id), array_agg(convert_from(value, 'UTF8')::bigint)
          INTO ids, vals
          FROM topics.receive('jq', '1 s', 5, '100 ms');
        COMMIT;
        CONTINUE WHEN ids IS NULL;
        r := random();
        IF r < 0.1 THEN
            PERFORM topics.nack('jq', ids, '50 ms');
        ELSIF r < 0.15 THEN
            NULL;
        ELSE
            IF r > 0.967 THEN
                PERFORM pg_sleep(1.2);
            ELSIF dawdle THEN
                PERFORM pg_sleep(random() * 0.2);
            END IF;
            BEGIN
                INSERT INTO consumed SELECT unnest(vals), 'receive', me;
                PERFORM topics.ack('jq', ids);
            EXCEPTION WHEN object_not_in_prerequisite_state THEN
                NULL;
            END;
        END IF;
        COMMIT;
    END LOOP;
END
$$;
});
my $slots_size = $node->safe_psql('postgres',
	q{SELECT pg_relation_size('topics.queue_delivery') || '/' ||
	         pg_relation_size('topics.queue_partition')});

my %client;

# start $name running $sql in a psql of its own
sub start_client
{
	my ($name, $sql) = @_;
	my $c = { out => '', err => '', sql => $sql };
	my $connstr = $node->connstr('postgres') . " application_name=$name";
	$c->{h} = IPC::Run::start(
		[ 'psql', '-X', '-d', $connstr, '-c', $sql ],
		'>', \$c->{out}, '2>', \$c->{err});
	$client{$name} = $c;
}

my %clients = (
	(map { ("p$_" => 'CALL producer()') } 1 .. 4),
	c1 => q{CALL consumer('c1', false)},
	c2 => q{CALL consumer('c2', false)},
	c3 => q{CALL consumer('c3', true)},
	r1 => q{CALL receiver('r1', false)},
	r2 => q{CALL receiver('r2', false)},
	r3 => q{CALL receiver('r3', true)},
	k1 => q{CALL consumer('k1', true)},
	k2 => q{CALL receiver('k2', true)},
	snap => q{BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM produced;
	          SELECT pg_sleep(600)});

sub start_all
{
	start_client($_, $clients{$_}) for sort keys %clients;
}

# Run for $secs, terminating a victim's backend now and then; a client
# that ended (terminated, or by the crash) starts again, the producers and
# consumers as long as they were not told to stop.
sub run_for
{
	my ($secs) = @_;
	my $end = time() + $secs;
	my $kills = 0;
	while (time() < $end)
	{
		select(undef, undef, undef, 0.7);
		$kills += $node->safe_psql('postgres',
			q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			   WHERE application_name IN ('k1', 'k2') AND random() < 0.5});
		for my $name (sort keys %client)
		{
			$client{$name}{h}->pump_nb;
			next if $client{$name}{h}->pumpable;
			$client{$name}{h}->finish;
			start_client($name, $clients{$name});
		}
	}
	return $kills;
}

start_all();
my $kills = run_for($run_secs);

# The crash: kill -9 of a consumer's backend, mid-job.  The postmaster
# ends every other backend and restarts the server from the WAL, as after
# a crash of the whole server; the clients reconnect.
my $victim = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE application_name = 'c3'});
kill 'KILL', $victim;
$node->poll_query_until('postgres', q{SELECT true}) or die 'the server did not come back';
like(slurp_file($node->logfile), qr/server process \(PID $victim\) was terminated by signal 9/,
	'the postmaster restarted the server after the kill');
my $before_crash = $node->safe_psql('postgres', 'SELECT count(*) FROM consumed');
$kills += run_for($run_secs);
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM consumed'), '>', $before_crash,
	'the consumers went on after the crash');
note "victims terminated: $kills";
cmp_ok($kills, '>', 0, 'consumers were terminated mid-job');

# The end: producers first, then consumers; then drain what is left,
# waiting out the leases that were abandoned.
$node->safe_psql('postgres', 'INSERT INTO stop_producers DEFAULT VALUES');
$client{$_}{h}->finish for grep { /^p/ } keys %client;
$node->safe_psql('postgres', 'INSERT INTO stop_consumers DEFAULT VALUES');
$client{$_}{h}->finish for grep { /^[ckr]/ } keys %client;
$client{snap}{h}->kill_kill;
# (its backend sleeps on, holding its snapshot, until told)
$node->safe_psql('postgres', q{
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'snap'});

my $left;
for my $try (1 .. 200)
{
	$node->safe_psql('postgres', q{
INSERT INTO consumed SELECT convert_from(value, 'UTF8')::bigint, 'drain', 'drain'
  FROM topics.consume('jq', 1000, '200 ms')});
	$left = $node->safe_psql('postgres',
		q{SELECT sum(depth) || '/' || sum(in_flight) FROM topics.queue_stats WHERE topic = 'jq'});
	last if $left eq '0/0';
}
is($left, '0/0', 'the queue drained: nothing waiting, nothing in flight');

my ($produced, $consumed, $dead) = split /\|/, $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM produced), (SELECT count(*) FROM consumed),
       (SELECT count(*) FROM topics_data."jq.dead_letter")});
note "produced $produced, consumed $consumed, dead-lettered $dead";
cmp_ok($produced, '>', 1000, 'the producers produced');
cmp_ok($dead, '>', 0, 'some messages were dead-lettered');
is( $node->safe_psql('postgres', q{
WITH ended AS (
    SELECT id, 'consumed' AS how FROM consumed
    UNION ALL
    SELECT convert_from(value, 'UTF8')::bigint, 'dead' FROM topics_data."jq.dead_letter")
SELECT (SELECT count(*) FROM produced p WHERE NOT EXISTS (SELECT FROM ended e WHERE e.id = p.id))
       || ' lost, ' ||
       (SELECT count(*) FROM (SELECT id FROM ended GROUP BY id HAVING count(*) > 1) d)
       || ' twice, ' ||
       (SELECT count(*) FROM ended e WHERE NOT EXISTS (SELECT FROM produced p WHERE p.id = e.id))
       || ' never produced'}),
	'0 lost, 0 twice, 0 never produced',
	'every produced message ended exactly once, consumed or dead-lettered');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM topics_data."jq.dead_letter"
 WHERE headers->>'dead_letter.topic' <> 'jq'
    OR (headers->>'dead_letter.deliveries')::int <> 4
    OR headers->>'dead_letter.reason' <> 'max.deliveries'}),
	'0', 'each dead letter says where from and after how many deliveries');

# Consuming changed no message row; the delivery state stayed its size.
$node->safe_psql('postgres', 'SELECT pg_stat_force_next_flush()');
is( $node->safe_psql('postgres', q{
SELECT coalesce(sum(n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables
 WHERE schemaname = 'topics_data' AND relname LIKE 'jq$%'}),
	'0', 'no message row was updated or deleted');
is( $node->safe_psql('postgres',
		q{SELECT pg_relation_size('topics.queue_delivery') || '/' ||
		         pg_relation_size('topics.queue_partition')}),
	$slots_size, 'the delivery state\'s tables did not grow');

# The worker emptied the segments every message of which is done, once no
# snapshot could read them any more.
ok( $node->poll_query_until('postgres', q{
SELECT bool_and(log_start > 0) FROM topics.partitions WHERE topic = 'jq'}),
	'the worker emptied consumed segments of every partition')
  or diag($node->safe_psql('postgres',
		q{SELECT * FROM topics.partitions WHERE topic = 'jq'}));
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM topics.segments s JOIN topics.partitions p USING (topic, partition)
 WHERE s.topic = 'jq' AND s.end_offset <= p.log_start
   AND EXISTS (SELECT FROM topics_data.jq m
                WHERE m.partition = s.partition AND m.msg_offset >= s.base_offset
                  AND m.msg_offset < s.end_offset)}),
	'0', 'the consumed segments below the log start are empty');

# Part two: a held snapshot while 20000 messages go through the queue.
$node->safe_psql('postgres', q{
SELECT topics.create_topic('flat', 2, 'queue', '{"segment.messages": 100000}')});
my $snap = { out => '', err => '' };
$snap->{h} = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c',
	  q{BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM produced;
	    SELECT pg_sleep(600)} ],
	'>', \$snap->{out}, '2>', \$snap->{err});
$node->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_xmin IS NOT NULL
   AND query LIKE '%pg_sleep(600)%'});
$slots_size = $node->safe_psql('postgres',
	q{SELECT pg_relation_size('topics.queue_delivery')});
$node->safe_psql('postgres', q{
SELECT count(*) FROM topics.produce_batch('flat',
    ARRAY(SELECT i::text FROM generate_series(1, 20000) i));
DO $$
DECLARE
    n int;
BEGIN
    LOOP
        SELECT count(*) INTO n FROM topics.consume('flat', 10);
        COMMIT;
        EXIT WHEN n = 0;
    END LOOP;
END
$$;
SELECT pg_stat_force_next_flush();
});
is( $node->safe_psql('postgres', q{
SELECT sum(depth) FROM topics.queue_stats WHERE topic = 'flat'}),
	'0', 'with a snapshot held, 20000 messages were consumed');
is( $node->safe_psql('postgres', q{
SELECT coalesce(sum(n_dead_tup), -1) FROM pg_stat_user_tables
 WHERE schemaname = 'topics_data' AND relname LIKE 'flat$%'}),
	'0', 'the message tables have no dead tuple');
is( $node->safe_psql('postgres', q{
SELECT sum(n_dead_tup + n_tup_upd + n_tup_del) FROM pg_stat_user_tables
 WHERE schemaname = 'topics' AND relname IN ('queue_delivery', 'queue_partition')}),
	'0', 'the delivery state\'s tables have no dead tuple');
is($node->safe_psql('postgres', q{SELECT pg_relation_size('topics.queue_delivery')}),
	$slots_size, 'the delivery state\'s tables did not grow');
$snap->{h}->kill_kill;

$node->stop;
done_testing();
