
# Copyright (c) 2025, pg_topics contributors

# Retention and compaction (0.5) with the database worker running them
# every 100 ms, under load and across crashes.
#
# 1. Retention under load.  Producers (pgbench, retention_producer.sql)
#    write keyed messages to a stream of 2 partitions whose messages expire
#    after 1 s (segments of 200 offsets, rolled over after 500 ms), one
#    transaction in five rolling back; each records what produce returned
#    in its transaction.  A consumer group member polls, and a reader
#    fetches each partition from its own positions, each recording what it
#    got in its transaction.  The log start moves and segments are dropped
#    while they read; offsets go on and are never reused; every message a
#    consumer is handed is the one produced at its offset; each consumer's
#    offsets strictly increase per partition; a consumer may skip only what
#    retention removed before it got there: everything above the final log
#    start reached both.
# 2. Reclamation waits for snapshots.  While a REPEATABLE READ transaction
#    holds a snapshot taken before the log start moved, the segments below
#    it stay (topics.health names the backend that holds them), and that
#    snapshot still reads the expired messages with plain SQL; once it
#    ends, the worker drops them.
# 3. kill -9 during compaction.  A compacted topic of 150,001 messages over
#    1001 keys: (a) compacted inside a transaction left open when the server
#    goes down (immediate shutdown), nothing of the compaction remains: a
#    reader sees exactly what it saw before, the segment tables are the
#    same files with the same rows; (b) kill -9 of the backend while it
#    rewrites a segment: after the crash a reader finds Kafka's guarantees
#    (each message read is the one produced at its offset, the latest value
#    of every key is there); (c) compaction then runs to its end: the
#    latest value of every key is the one before the crashes, and nothing
#    else of the compacted segments remains.

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $script =
  File::Spec->rel2abs(dirname(__FILE__) . '/retention_producer.sql');

my $node = PostgreSQL::Test::Cluster->new('retention');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
max_prepared_transactions = 5
pg_topics.worker_naptime = '100ms'
pg_topics.maintenance_interval = '100ms'
# kill -9 of a backend makes the postmaster crash-restart the server
restart_after_crash = on
});
$node->start;

my $timeout = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);

###########################################################################
# 1. Retention under load
###########################################################################

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('r', 2, 'stream',
    '{"retention.ms": 1000, "segment.messages": 200, "segment.ms": 500}');

-- The committed messages, each recorded by its producer in its transaction
-- (no primary key: a duplicate must show up here, not fail its producer).
CREATE TABLE produced (
    partition  int NOT NULL,
    msg_offset bigint NOT NULL,
    value      text NOT NULL
);

-- What each consumer was handed, in the order it was handed (seq).
CREATE TABLE seen_group (
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    partition  int NOT NULL,
    msg_offset bigint NOT NULL,
    value      text
);
CREATE TABLE seen_fetch (LIKE seen_group INCLUDING IDENTITY);

-- Every error a consumer met; a consumer goes on after one.
CREATE TABLE errors (
    who     text NOT NULL,
    state   text NOT NULL,
    message text NOT NULL
);

-- The partitions as the reader found them after each of its passes, and
-- the reclaim runs it saw in the maintenance log.
CREATE TABLE samples (
    seq       bigint GENERATED ALWAYS AS IDENTITY,
    partition int NOT NULL,
    log_start bigint NOT NULL,
    log_end   bigint NOT NULL,
    segments  int NOT NULL
);
CREATE TABLE reclaims (
    last_run       timestamptz NOT NULL,
    segments_freed bigint NOT NULL,
    error          text
);

-- A row here tells the consumers that the producers are done.
CREATE TABLE stop (at timestamptz NOT NULL DEFAULT now());
});

# The group member (joined before): polls and records in one transaction,
# again and again, for run_for ms, or until told to stop (NULL).  The poll
# runs in a block with an exception handler: an error undoes that poll's
# rows and moves, is recorded, and the member goes on.  Once told to stop,
# it ends at the first poll that finds nothing more.
$node->safe_psql(
	'postgres', q{
CREATE PROCEDURE group_consumer(t text, run_for int)
LANGUAGE plpgsql AS $$
DECLARE
    until timestamptz := clock_timestamp() + run_for * interval '1 ms';
    stopping boolean;
    n bigint;
    polls bigint := 0;
    got bigint := 0;
BEGIN
    LOOP
        stopping := EXISTS (SELECT FROM stop);
        n := 0;
        BEGIN
            INSERT INTO seen_group (partition, msg_offset, value)
            SELECT p.partition, p.msg_offset, convert_from(p.value, 'UTF8')
              FROM topics.poll('g', t, 'm1', 100, '20 ms') p;
            GET DIAGNOSTICS n = ROW_COUNT;
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO errors VALUES ('group', SQLSTATE, SQLERRM);
            n := -1;
        END;
        polls := polls + 1;
        got := got + greatest(n, 0);
        COMMIT;
        EXIT WHEN stopping AND n = 0;
        EXIT WHEN clock_timestamp() > until;
    END LOOP;
    RAISE NOTICE 'group member: % polls, % messages', polls, got;
END
$$;

-- The reader: passes over the partitions, each fetching from the offset
-- after the last one it got there (pos), committing what it recorded after
-- each pass, with a sample of the partitions and of the maintenance log,
-- for run_for ms or until told to stop (NULL).  An error is recorded and
-- the partition read again from where it was.  The pass that starts after
-- the stop flag is the last one.
CREATE PROCEDURE fetch_reader(t text, partitions int, INOUT pos bigint[],
                              run_for int)
LANGUAGE plpgsql AS $$
DECLARE
    until timestamptz := clock_timestamp() + run_for * interval '1 ms';
    saved bigint;
    passes int := 0;
    stopping boolean;
    got int;
    total bigint := 0;
    r record;
BEGIN
    LOOP
        stopping := EXISTS (SELECT FROM stop);
        passes := passes + 1;
        FOR p IN 0 .. partitions - 1 LOOP
            saved := pos[p + 1];
            BEGIN
                LOOP
                    got := 0;
                    FOR r IN SELECT f.msg_offset, f.value
                               FROM topics.fetch(t, p, pos[p + 1], 100) f
                    LOOP
                        INSERT INTO seen_fetch (partition, msg_offset, value)
                        VALUES (p, r.msg_offset, convert_from(r.value, 'UTF8'));
                        pos[p + 1] := r.msg_offset + 1;
                        got := got + 1;
                    END LOOP;
                    total := total + got;
                    EXIT WHEN got < 100;
                END LOOP;
            EXCEPTION WHEN OTHERS THEN
                INSERT INTO errors VALUES ('fetch', SQLSTATE, SQLERRM);
                pos[p + 1] := saved;
            END;
        END LOOP;
        INSERT INTO samples (partition, log_start, log_end, segments)
        SELECT partition, log_start, log_end, segments
          FROM topics.partitions WHERE topic = t;
        INSERT INTO reclaims
        SELECT last_run, segments_freed, error
          FROM topics.maintenance_log WHERE topic = t AND job = 'reclaim';
        COMMIT;
        EXIT WHEN stopping OR clock_timestamp() > until;
    END LOOP;
    RAISE NOTICE 'reader: % passes, % messages', passes, total;
END
$$;
});

# Each consumer reads a while, pauses 3 s (in psql, holding no snapshot:
# a snapshot would keep the segments), long enough for retention to move
# the log start past messages it has not read yet (the segment holding
# them seals within 0.5 s and expires 1 s after that), and reads on until
# the producers are done.  The group member pauses after 2 s, the reader
# after 5 s: one of them reads while the other one pauses.
my %consumer;
for my $c (
	[
		'group', q{
SELECT member FROM topics.join('g', 'r', 'm1', auto_offset_reset => 'earliest');
CALL group_consumer('r', 2000);
\! sleep 3
CALL group_consumer('r', NULL);
}
	],
	[
		'fetch', q{
CALL fetch_reader('r', 2, '{0,0}', 5000) \gset
\! sleep 3
CALL fetch_reader('r', 2, :'pos', NULL);
}
	])
{
	my ($name, $script) = @$c;
	my $file = "$PostgreSQL::Test::Utils::tmp_check/065_$name.sql";
	open(my $fh, '>', $file) or die "could not write $file: $!";
	print $fh $script;
	close($fh);
	my $s = { out => '', err => '' };
	$s->{h} = IPC::Run::start(
		[
			'psql', '-X', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr('postgres'), '-f', $file
		],
		'>', \$s->{out}, '2>', \$s->{err}, $timeout);
	$consumer{$name} = $s;
}
$node->poll_query_until(
	'postgres', q{
SELECT count(DISTINCT substr(query, 1, 10)) = 2 FROM pg_stat_activity
 WHERE (query LIKE 'CALL group_consumer(%' OR query LIKE 'CALL fetch_reader(%')
   AND state = 'active'})
  or die "Timed out waiting for the consumers to start";

# At most 800 transactions a second (about 1200 messages a second in each
# partition, 6 segments), so that how many segments retention leaves does
# not depend on the machine's speed.
my ($bench_out, $bench_err) = ('', '');
my $bench_ok = IPC::Run::run(
	[
		'pgbench', '-n', '-c', '2', '-j', '2', '-T', '10', '-R', '800',
		'-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$bench_out, '2>', \$bench_err, $timeout);
# pgbench ends a client at its first error and goes on with the others
my @bench_errors = $bench_err =~ /^(client \d+ aborted.*)$/mg;
ok($bench_ok, 'the producers ran without error')
  or diag($bench_err);
is(scalar(@bench_errors), 0, 'no producer aborted')
  or diag(join("\n", @bench_errors));
my ($transactions) =
  $bench_out =~ /number of transactions actually processed: (\d+)/;
$transactions //= 0;
cmp_ok($transactions, '>', 500, 'the producers ran a real load');

# The producers' backends may outlive pgbench for a moment: wait until no
# transaction holds an offset, then let the consumers drain and stop.
$node->poll_query_until(
	'postgres', q{
SELECT bool_and(lso = log_end AND oldest_producer_xid IS NULL)
  FROM topics.partitions WHERE topic = 'r'})
  or die "Timed out waiting for the producers to end";
my $seen_during_load = $node->safe_psql('postgres',
	q{SELECT (SELECT count(*) FROM seen_group) || '|' || (SELECT count(*) FROM seen_fetch)});
$node->safe_psql('postgres', 'INSERT INTO stop DEFAULT VALUES');
my %done;
for my $name (sort keys %consumer)
{
	my $s = $consumer{$name};
	ok($s->{h}->finish, "the $name consumer ended without error")
	  or diag($s->{err});
	$done{$name} = join('; ', $s->{err} =~ /NOTICE:  (.*)/g);
}
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(who || ' ' || state || ' ' || message || ' (' || n || ' times)',
                  E'\n' ORDER BY who, n DESC)
  FROM (SELECT who, state, message, count(*) n FROM errors GROUP BY 1, 2, 3) e}),
	'',
	'no consumer met an error');

my ($during_group, $during_fetch) = split /\|/, $seen_during_load;
cmp_ok($during_group, '>', 0, 'the group member read during the load');
cmp_ok($during_fetch, '>', 0, 'the reader read during the load');

# The log start moved and the segments below it went.
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(partition::text, ',') FROM topics.partitions
 WHERE topic = 'r' AND log_start = 0}),
	'',
	'the log start of each partition moved');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(p.partition::text, ',')
  FROM topics.partitions p
 WHERE p.topic = 'r'
   AND (SELECT min(base_offset) FROM topics.segments s
         WHERE s.topic = 'r' AND s.partition = p.partition) = 0}),
	'',
	'the first segment of each partition was dropped');
cmp_ok(
	$node->safe_psql(
		'postgres', q{
SELECT count(DISTINCT last_run) FROM reclaims WHERE segments_freed > 0}),
	'>', 0,
	'the maintenance log showed reclaim runs that dropped segments');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(job || ': ' || error, E'\n') FROM topics.maintenance_log
 WHERE topic = 'r' AND error IS NOT NULL}),
	'',
	'no maintenance job failed on the topic');
my ($segments_max, $segments_passed, $samples_moved) = split /\|/,
  $node->safe_psql(
	'postgres', q{
SELECT max(segments),
       (SELECT max(log_end) / 200 FROM samples),
       count(DISTINCT (partition, log_start)) FROM samples});
cmp_ok($segments_max, '<=', 40,
	"a partition never had more than 40 segments (at most $segments_max, "
	  . "of about $segments_passed it went through)");
cmp_ok($samples_moved, '>', 4, 'the reader saw the log starts move');

# Offsets go on: the log end never went back, and a new message takes an
# offset above every one handed out before.
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    SELECT log_end < lag(log_end) OVER (PARTITION BY partition ORDER BY seq)
               AS back,
           log_start < lag(log_start) OVER (PARTITION BY partition ORDER BY seq)
               AS start_back
      FROM samples) s
 WHERE back OR start_back}),
	'0',
	'the log start and end of a partition never went back');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(partition || ':' || msg_offset, ', ')
  FROM (SELECT partition, msg_offset FROM produced
         GROUP BY 1, 2 HAVING count(*) > 1) d}),
	'',
	'no offset was handed out twice');
is( $node->safe_psql(
		'postgres', q{
WITH n AS (SELECT * FROM topics.produce('r', 'after'::text, partition => 0))
SELECT n.msg_offset > (SELECT max(msg_offset) FROM produced WHERE partition = 0)
  FROM n}),
	't',
	'a message produced after the load takes a new offset');

# The topic holds every committed message above its log start, and only
# those.
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM produced d
  JOIN topics.partitions p ON p.topic = 'r' AND p.partition = d.partition
 WHERE d.msg_offset >= p.log_start
   AND NOT EXISTS (SELECT FROM topics_data.r m
                    WHERE m.partition = d.partition AND m.msg_offset = d.msg_offset
                      AND convert_from(m.value, 'UTF8') = d.value)}),
	'0',
	'every committed message above the log start is in the topic');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM topics_data.r m
 WHERE convert_from(m.value, 'UTF8') <> 'after'
   AND NOT EXISTS (SELECT FROM produced d
                    WHERE m.partition = d.partition AND m.msg_offset = d.msg_offset
                      AND convert_from(m.value, 'UTF8') = d.value)}),
	'0',
	'the topic holds no message that was not committed');

# What each consumer was handed.
for my $seen (qw(seen_group seen_fetch))
{
	is( $node->safe_psql(
			'postgres', qq{
SELECT count(*) FROM $seen s
 WHERE NOT EXISTS (SELECT FROM produced d
                    WHERE d.partition = s.partition AND d.msg_offset = s.msg_offset
                      AND d.value = s.value)}),
		'0',
		"$seen: every message is the one committed at its offset");
	is( $node->safe_psql(
			'postgres', qq{
SELECT count(*) FROM (
    SELECT msg_offset <= lag(msg_offset) OVER (PARTITION BY partition ORDER BY seq)
               AS not_after
      FROM $seen) s
 WHERE not_after}),
		'0',
		"$seen: offsets strictly increase in each partition");
	is( $node->safe_psql(
			'postgres', qq{
SELECT count(*) FROM produced d
  JOIN topics.partitions p ON p.topic = 'r' AND p.partition = d.partition
 WHERE d.msg_offset >= p.log_start
   AND NOT EXISTS (SELECT FROM $seen s
                    WHERE s.partition = d.partition AND s.msg_offset = d.msg_offset)}),
		'0',
		"$seen: nothing above the final log start was skipped");
}

my ($committed, $offsets, $log_starts, $segments, $got_group, $got_fetch,
	$skipped_group, $skipped_fetch)
  = split /\|/,
  $node->safe_psql(
	'postgres', q{
SELECT (SELECT count(*) FROM produced),
       (SELECT sum(log_end) FROM topics.partitions WHERE topic = 'r'),
       (SELECT string_agg(log_start::text, ',' ORDER BY partition)
          FROM topics.partitions WHERE topic = 'r'),
       (SELECT count(*) FROM topics.segments WHERE topic = 'r'),
       (SELECT count(*) FROM seen_group),
       (SELECT count(*) FROM seen_fetch),
       (SELECT count(*) FROM produced d
         WHERE NOT EXISTS (SELECT FROM seen_group s
                            WHERE (s.partition, s.msg_offset) = (d.partition, d.msg_offset))),
       (SELECT count(*) FROM produced d
         WHERE NOT EXISTS (SELECT FROM seen_fetch s
                            WHERE (s.partition, s.msg_offset) = (d.partition, d.msg_offset)))});
note "producer transactions: $transactions; messages committed: $committed, "
  . "offsets handed out: $offsets; log starts now $log_starts, $segments segments left";
note "group member: $got_group messages ($skipped_group skipped); "
  . "reader: $got_fetch messages ($skipped_fetch skipped)";
note "$_: $done{$_}" for sort keys %done;
# (messages that expired while the consumer paused)
cmp_ok($skipped_group, '>', 0,
	'the group member skipped what retention removed while it paused');
cmp_ok($skipped_fetch, '>', 0,
	'the reader skipped what retention removed while it paused');

###########################################################################
# 2. Reclamation waits for the snapshots that may still read
###########################################################################

# Retention is off until the snapshot below is taken: the snapshot must
# see the messages, and the move of the log start must come after it.
$node->safe_psql(
	'postgres', q{
SELECT topics.create_topic('snap', 1, 'stream',
    '{"segment.messages": 10, "retention.ms": -1}');
SELECT count(*) FROM topics.produce_batch('snap',
    ARRAY(SELECT 'old' || i FROM generate_series(0, 49) i),
    "timestamp" => '2000-01-01');
SELECT count(*) FROM topics.produce_batch('snap', ARRAY['new 50', 'new 51', 'new 52']);
});

# The snapshot: taken by the transaction's first query, which reads no
# table of the topic (a lock on one would keep its segments as well).
my $rr = $node->background_psql('postgres');
$rr->set_query_timer_restart;
$rr->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
my $rr_pid = $rr->query_safe('SELECT pg_backend_pid()');

# The segments of offsets 0 to 49 expire (their newest message is from
# 2000); the last one, of the new messages, stays.
$node->safe_psql('postgres',
	q{SELECT topics.alter_topic('snap', '{"retention.ms": 1000}')});
ok( $node->poll_query_until(
		'postgres', q{
SELECT log_start = 50 FROM topics.partitions WHERE topic = 'snap'}),
	'the worker moved the log start of snap past the expired segments');
my $moved_at = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
is( $node->safe_psql(
		'postgres', q{
SELECT min(msg_offset) || ' ' || count(*) FROM topics.fetch('snap', 0, 0, 100)}),
	'50 3',
	'a new reader starts at the log start');

# The worker's reclaim runs after the move, and drops nothing the snapshot
# may read.
ok( $node->poll_query_until(
		'postgres', qq{
SELECT count(*) = 1 FROM topics.maintenance_log
 WHERE topic = 'snap' AND job = 'reclaim' AND last_run > '$moved_at'}),
	'the worker ran reclaim on snap after the move');
is( $node->safe_psql(
		'postgres', q{
SELECT job || ' ' || segments_freed FROM topics.run_maintenance('snap')
 WHERE job = 'reclaim'}),
	'reclaim 0',
	'run_maintenance reclaims nothing either');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM topics.segments s
  JOIN pg_class c ON c.oid = s.segment_table
 WHERE s.topic = 'snap' AND s.end_offset <= 50}),
	'5',
	'the 5 segments below the log start are still there');
# (polled: an autovacuum that began before the snapshot would be older)
ok( $node->poll_query_until(
		'postgres', q{
SELECT reclaimable_segments || ' ' || xmin_holder || ' ' || xmin_holder_pid
  FROM topics.health WHERE topic = 'snap'},
		"5 backend $rr_pid"),
	'topics.health: 5 segments wait, held by the backend of the snapshot');

# The old snapshot reads them, with plain SQL.
is( $rr->query_safe(
		q{SELECT count(*) || ' ' || count(*) FILTER (WHERE msg_offset < 50)
            FROM topics_data.snap}),
	'53 50',
	'the old snapshot still reads the expired messages');
$rr->query_safe('COMMIT');
$rr->quit;

ok( $node->poll_query_until(
		'postgres', q{
SELECT reclaimable_segments = 0 FROM topics.health WHERE topic = 'snap'}),
	'once the snapshot is gone, the worker drops the segments');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'topics_data' AND c.relname ~ '^snap\$0\$[0-4]?0$'}),
	'0',
	'their tables are gone');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset)
  FROM topics.fetch('snap', 0, 0, 100)}),
	'new 50,new 51,new 52',
	'the messages above the log start are all there');

###########################################################################
# 3. kill -9 during compaction
###########################################################################

# A compacted topic whose sealed segments hold 150,000 messages of 1000
# keys, 150 each, and a last segment with one message.  The worker compacts
# a compacted topic on its own: min.compaction.lag.ms keeps it off until a
# transaction of the test sets it to 0.
$node->safe_psql(
	'postgres', q{
SELECT topics.create_topic('c', 1, 'stream',
    '{"cleanup.policy": "compact", "segment.messages": 50000,
      "min.compaction.lag.ms": 3600000}');
SELECT count(*)
  FROM generate_series(0, 14) b,
       LATERAL topics.produce_batch('c',
           ARRAY(SELECT 'v' || i FROM generate_series(b * 10000, b * 10000 + 9999) i),
           ARRAY(SELECT 'k' || (i % 1000) FROM generate_series(b * 10000, b * 10000 + 9999) i));
SELECT count(*) FROM topics.produce('c', 'last'::text, 'last');

-- what a reader from offset 0 saw before any compaction
CREATE TABLE original AS
SELECT msg_offset, key, value FROM topics.fetch('c', 0, 0, 1000000);
CREATE VIEW latest_original AS
SELECT DISTINCT ON (key) key, value FROM original ORDER BY key, msg_offset DESC;

-- what a reader from offset 0 sees now
CREATE VIEW replay AS
SELECT msg_offset, key, value FROM topics.fetch('c', 0, 0, 1000000);
CREATE FUNCTION fingerprint() RETURNS text LANGUAGE sql AS $$
SELECT md5(string_agg(msg_offset || ':' || encode(key, 'hex') || ':'
                      || coalesce(encode(value, 'hex'), '-'), ','
                      ORDER BY msg_offset))
  FROM replay
$$;

-- the segment tables: their files and rows
CREATE VIEW segment_files AS
SELECT s.base_offset, pg_relation_filenode(s.segment_table) AS filenode
  FROM topics.segments s WHERE s.topic = 'c';
CREATE FUNCTION segment_rows() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s record;
    n bigint;
    result text := '';
BEGIN
    FOR s IN SELECT base_offset, segment_table FROM topics.segments
              WHERE topic = 'c' ORDER BY base_offset LOOP
        EXECUTE 'SELECT count(*) FROM ' || s.segment_table INTO n;
        result := result || s.base_offset || ':' || n || ' ';
    END LOOP;
    RETURN result;
END
$$;

-- Kafka's guarantees to a reader from offset 0, against the original:
-- what it reads is a subset, each message the one of its offset, in
-- offset order, and the latest value of every key is there
CREATE FUNCTION guarantees_broken() RETURNS text LANGUAGE sql AS $$
SELECT concat_ws(', ',
    (SELECT count(*) || ' messages not the original at their offset'
       FROM replay r LEFT JOIN original o USING (msg_offset)
      WHERE o.key IS DISTINCT FROM r.key OR o.value IS DISTINCT FROM r.value
     HAVING count(*) > 0),
    (SELECT count(*) || ' keys whose latest value changed'
       FROM latest_original l
       FULL JOIN (SELECT DISTINCT ON (key) key, value FROM replay
                   ORDER BY key, msg_offset DESC) r USING (key)
      WHERE l.value IS DISTINCT FROM r.value
     HAVING count(*) > 0))
$$;
});
my ($original_count, $original_keys) = split /\|/,
  $node->safe_psql('postgres',
	'SELECT count(*), count(DISTINCT key) FROM original');
is("$original_count $original_keys", '150001 1001',
	'the compacted topic holds 150,001 messages of 1001 keys');
my $fingerprint = $node->safe_psql('postgres', 'SELECT fingerprint()');
my $files_query = q{
SELECT string_agg(base_offset || ':' || filenode, ' ' ORDER BY base_offset)
  FROM segment_files};
my $files = $node->safe_psql('postgres', $files_query);
my $rows = $node->safe_psql('postgres', 'SELECT segment_rows()');
is($rows, '0:50000 50000:50000 100000:50000 150000:1 ',
	'four segments, three of them full');

# (a) Compacted in a transaction still open when the server goes down.
my $open_tx = $node->background_psql('postgres', on_error_stop => 0);
$open_tx->query_safe('BEGIN');
$open_tx->query_safe(
	q{SELECT topics.alter_topic('c', '{"min.compaction.lag.ms": 0}')});
is( $open_tx->query_safe(
		q{SELECT segments_freed || ' ' || coalesce(error, 'no error')
            FROM topics.run_maintenance('c') WHERE job = 'compaction'}),
	'3 no error',
	'(a) the open transaction compacted the three sealed segments');
is($open_tx->query_safe('SELECT count(*) FROM replay'),
	'1001', '(a) it reads the latest message of each key');
$node->stop('immediate');
$open_tx->quit;
$node->start;
is($node->safe_psql('postgres', 'SELECT fingerprint()'),
	$fingerprint, '(a) after the crash a reader sees what it saw before');
is($node->safe_psql('postgres', $files_query),
	$files,
	'(a) the segment tables have their files of before');
is($node->safe_psql('postgres', 'SELECT segment_rows()'),
	$rows, '(a) and their rows');
# The new heaps of the rolled-back rewrite were never committed: no table
# of theirs remains, but PostgreSQL leaves their files after a crash.
my $leftovers = q{
SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'topics_data' AND c.relname LIKE 'pg\_temp\_%')
       || ' tables pg_temp_% in topics_data, '
       || (SELECT count(*)
             FROM pg_ls_dir('base/' || (SELECT oid FROM pg_database
                                         WHERE datname = current_database())) f
            WHERE f ~ '^[0-9]+$'
              AND NOT EXISTS (SELECT FROM pg_class c
                               WHERE pg_relation_filenode(c.oid)::text = f))
       || ' files of no table in the database''s directory'};
note '(a) after the crash: ' . $node->safe_psql('postgres', $leftovers);

# (b) kill -9 of the backend while it rewrites a segment.  A rewrite holds
# an exclusive lock on its new heap, a table that no other transaction can
# see yet: the watcher returns as soon as it finds one (or the compaction
# done, if it was too quick to catch).
$node->safe_psql(
	'postgres', q{
CREATE FUNCTION wait_for_rewrite(target int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '3 minutes';
BEGIN
    LOOP
        IF EXISTS (SELECT FROM pg_locks l
                    WHERE l.pid = target AND l.locktype = 'relation'
                      AND l.mode = 'AccessExclusiveLock'
                      AND NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = l.relation)) THEN
            RETURN 'rewriting, ' ||
                (SELECT count(*) FROM pg_locks l
                  WHERE l.pid = target AND l.locktype = 'relation'
                    AND l.mode = 'ShareLock') || ' segments begun';
        END IF;
        IF EXISTS (SELECT FROM topics.partition
                    WHERE topic = 'c' AND compacted_end > 0) THEN
            RETURN 'done';
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN 'timeout';
        END IF;
        PERFORM pg_sleep(0.001);
    END LOOP;
END
$$;
});
my $compactor = $node->background_psql('postgres', on_error_stop => 0);
my $b_pid = $compactor->query_safe('SELECT pg_backend_pid()');
$compactor->query_safe('BEGIN');
$compactor->query_safe(
	q{SELECT topics.alter_topic('c', '{"min.compaction.lag.ms": 0}')});
my $watcher = $node->background_psql('postgres');
$watcher->query_until(qr/watching/,
	"\\echo watching\nSELECT 'watched: ' || wait_for_rewrite($b_pid);\n");
$compactor->query_until(qr/compacting/,
	"\\echo compacting\nSELECT count(*) FROM topics.run_maintenance('c');\nCOMMIT;\n");
my $caught = $watcher->query_until(qr/watched: \S.*\n/, '');
($caught) = $caught =~ /watched: (.*)/;
my $log_offset = -s $node->logfile;
kill 'KILL', $b_pid;
note "(b) kill -9 of backend $b_pid: $caught";
note '(b) the compaction ended before the kill' if $caught eq 'done';
$node->wait_for_log(qr/all server processes terminated; reinitializing/,
	$log_offset);
$node->wait_for_log(qr/database system is ready to accept connections/,
	$log_offset);
$node->poll_query_until('postgres', 'SELECT true')
  or die "Timed out waiting for the server to come back after the crash";
# (psql ended when it lost its connection: there is nothing to quit)
$compactor->{run}->kill_kill;
$watcher->quit;
isnt($caught, 'timeout', '(b) the compaction ran');
note '(b) after the crash: ' . $node->safe_psql('postgres', $leftovers);

my $after_b = $node->safe_psql('postgres', 'SELECT fingerprint()');
my $replay_count = $node->safe_psql('postgres', 'SELECT count(*) FROM replay');
note '(b) after the crash a reader sees '
  . ($after_b eq $fingerprint ? 'what it saw before' : 'something else')
  . ": $replay_count messages";
is($node->safe_psql('postgres', 'SELECT guarantees_broken()'),
	'', '(b) after the crash a reader finds Kafka\'s guarantees');
ok( $after_b eq $fingerprint || $replay_count eq '1001',
	'(b) the compaction is either undone or complete');

# (c) Compaction to its end after the crashes.
is( $node->safe_psql(
		'postgres', q{
BEGIN;
SELECT topics.alter_topic('c', '{"min.compaction.lag.ms": 0}') IS NOT NULL;
SELECT job || ' ' || segments_freed || ' ' || coalesce(error, 'no error')
  FROM topics.run_maintenance('c') WHERE job = 'compaction';
COMMIT;}),
	($after_b eq $fingerprint ? "t\ncompaction 3 no error" : "t\ncompaction 0 no error"),
	'(c) the compaction runs to its end');
is($node->safe_psql('postgres', 'SELECT guarantees_broken()'),
	'', '(c) a reader finds Kafka\'s guarantees');
is($node->safe_psql('postgres', 'SELECT count(*) FROM replay'),
	'1001', '(c) the latest message of each key is all that remains');
is($node->safe_psql('postgres', 'SELECT segment_rows()'),
	'0:0 50000:0 100000:1000 150000:1 ', '(c) in the segment tables too');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(job || ': ' || error, E'\n') FROM topics.maintenance_log
 WHERE topic = 'c' AND error IS NOT NULL}),
	'',
	'(c) the maintenance log shows no error');

$node->stop;

done_testing();
