
# Copyright (c) 2025, pg_topics contributors

# The proof of DESIGN.md section 2 under load: four producers (pgbench,
# stress_producer.sql) with random rollbacks and random pauses while they
# hold offsets, and one reader running at the same time that follows every
# partition with topics.fetch from its own positions.  The reader must see
# every committed message exactly once, in offset order, and nothing else.

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $script =
  File::Spec->rel2abs(dirname(__FILE__) . '/stress_producer.sql');
my $partitions = 4;

my $node = PostgreSQL::Test::Cluster->new('stress');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
});
$node->start;

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('s', $partitions, 'stream',
                           '{"segment.messages": 1000}');

-- The committed messages, written by the producers in their transactions.
CREATE TABLE ledger (
    partition  int NOT NULL,
    msg_offset bigint NOT NULL,
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id()
);

-- What the reader saw, and in which of its passes.
CREATE TABLE seen (
    partition  int NOT NULL,
    msg_offset bigint NOT NULL,
    pass       int NOT NULL
);

-- A row here tells the reader that the producers are done.
CREATE TABLE stop (at timestamptz NOT NULL DEFAULT now());
});

# The reader: passes over all partitions, each fetching from where the last
# one stopped, committing what it saw after every pass.  A message at or
# below one already seen in its partition is an error.  The pass that starts
# after the stop flag is the last one.
$node->safe_psql(
	'postgres', q{
CREATE PROCEDURE reader(topic text, partitions int)
LANGUAGE plpgsql AS $$
DECLARE
    pos bigint[] := array_fill(0::bigint, ARRAY[partitions]);
    pass int := 0;
    stopping boolean;
    got int;
    r record;
BEGIN
    LOOP
        stopping := EXISTS (SELECT FROM stop);
        pass := pass + 1;
        FOR p IN 0 .. partitions - 1 LOOP
            LOOP
                got := 0;
                FOR r IN SELECT f.msg_offset
                           FROM topics.fetch(topic, p, pos[p + 1], 1000,
                                             '10 ms') f
                LOOP
                    IF r.msg_offset < pos[p + 1] THEN
                        RAISE EXCEPTION 'partition %: offset % read after offset %',
                            p, r.msg_offset, pos[p + 1] - 1;
                    END IF;
                    INSERT INTO seen VALUES (p, r.msg_offset, pass);
                    pos[p + 1] := r.msg_offset + 1;
                    got := got + 1;
                END LOOP;
                EXIT WHEN got < 1000;
            END LOOP;
        END LOOP;
        COMMIT;
        EXIT WHEN stopping;
    END LOOP;
    RAISE NOTICE 'reader done after % passes', pass;
END
$$;
});

my $timeout = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);

my ($reader_out, $reader_err) = ('', '');
my $reader = IPC::Run::start(
	[
		'psql', '-X', '-v', 'ON_ERROR_STOP=1',
		'-d', $node->connstr('postgres'),
		'-c', "CALL reader('s', $partitions)"
	],
	'>', \$reader_out, '2>', \$reader_err, $timeout);
$node->poll_query_until(
	'postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE query LIKE 'CALL reader(%' AND state = 'active'})
  or die "Timed out waiting for the reader to start";

my ($bench_out, $bench_err) = ('', '');
my $bench_ok = IPC::Run::run(
	[
		'pgbench', '-n', '-c', '4', '-j', '4', '-T', '20', '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$bench_out, '2>', \$bench_err, $timeout);
ok($bench_ok, 'producers ran without error') or diag($bench_err);
my ($transactions) =
  $bench_out =~ /number of transactions actually processed: (\d+)/;
$transactions //= 0;
cmp_ok($transactions, '>', 1000, 'the producers ran a real load');

# The producers' backends may outlive pgbench for a moment: wait until no
# transaction holds an offset before raising the stop flag.
$node->poll_query_until(
	'postgres', q{
SELECT bool_and(lso = log_end AND oldest_producer_xid IS NULL)
  FROM topics.partitions WHERE topic = 's'})
  or die "Timed out waiting for the producers to end";

my $seen_during_load =
  $node->safe_psql('postgres', 'SELECT count(*) FROM seen');
$node->safe_psql('postgres', 'INSERT INTO stop DEFAULT VALUES');
my $reader_ok = $reader->finish;
ok($reader_ok, 'the reader raised nothing') or diag($reader_err);
unlike($reader_err, qr/ERROR/, 'no error from the reader');
my ($passes) = $reader_err =~ /reader done after (\d+) passes/;
$passes //= 0;

cmp_ok($seen_during_load, '>', 0,
	'the reader read while the producers ran');

is( $node->safe_psql(
		'postgres', q{
SELECT partition, msg_offset FROM ledger
EXCEPT
SELECT partition, msg_offset FROM seen}),
	'',
	'the reader missed no committed message');
is( $node->safe_psql(
		'postgres', q{
SELECT partition, msg_offset FROM seen
EXCEPT
SELECT partition, msg_offset FROM ledger}),
	'',
	'the reader saw no message that was not committed');
is( $node->safe_psql(
		'postgres', q{
SELECT partition, msg_offset, count(*) FROM seen
 GROUP BY 1, 2 HAVING count(*) > 1}),
	'',
	'the reader saw no message twice');
is( $node->safe_psql(
		'postgres',
		'SELECT (SELECT count(*) FROM seen) = (SELECT count(*) FROM ledger)'),
	't',
	'the reader saw as many messages as were committed');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    (SELECT partition, msg_offset FROM ledger
     EXCEPT ALL SELECT partition, msg_offset FROM topics_data.s)
    UNION ALL
    (SELECT partition, msg_offset FROM topics_data.s
     EXCEPT ALL SELECT partition, msg_offset FROM ledger)) x}),
	'0',
	'the topic holds exactly the committed messages');

my ($messages, $committed, $offsets, $segments) = split /\|/,
  $node->safe_psql(
	'postgres', q{
SELECT (SELECT count(*) FROM ledger),
       (SELECT count(DISTINCT xid) FROM ledger),
       (SELECT sum(log_end) FROM topics.partitions WHERE topic = 's'),
       (SELECT count(*) FROM topics.segment)});
my $rollbacks = $transactions - $committed;
note "transactions: $transactions, committed: $committed, "
  . "rolled back: $rollbacks";
note "messages committed: $messages, offsets handed out: $offsets, "
  . "segments: $segments";
note "reader: $seen_during_load messages during the load, $passes passes";
cmp_ok($rollbacks, '>', 0, 'some transactions rolled back');
cmp_ok($offsets, '>', $messages, 'the rollbacks left gaps');

$node->stop;

done_testing();
