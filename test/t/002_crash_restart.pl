
# Copyright (c) 2025, pg_topics contributors

# kill -9 under load.  Producers (pgbench, crash_producer.sql) append keyed
# batches to a 3-partition topic with small segments and record the offsets
# in a ledger table in the same transaction, rolling back one transaction in
# four; a prepared transaction holds offsets of partition 0.  After the crash
# and restart: the ledger and the topic agree row for row, no offset is
# stored twice, new offsets are above every offset stored before the crash,
# the LSO equals the log end except where the prepared transaction still
# holds it, and COMMIT PREPARED then releases it.

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $script =
  File::Spec->rel2abs(dirname(__FILE__) . '/crash_producer.sql');

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_prepared_transactions = 10
max_worker_processes = 16
});
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_topics;
CREATE EXTENSION pageinspect;
SELECT topics.create_topic('t', 3, 'stream', '{"segment.messages": 2000}');
CREATE TABLE ledger (
    partition  int NOT NULL,
    msg_offset bigint NOT NULL,
    PRIMARY KEY (partition, msg_offset)
);

-- An int8 stored little-endian, as pageinspect returns it.
CREATE FUNCTION le_int8(b bytea) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT sum(get_byte(b, i)::numeric * 256::numeric ^ i)::bigint
      FROM generate_series(0, 7) i
$$;

-- The highest offset of a partition physically stored in its segments,
-- whatever the fate of the transaction that wrote it.
CREATE FUNCTION max_physical(p int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    seg regclass;
    m bigint := -1;
    v bigint;
BEGIN
    FOR seg IN SELECT pg_catalog.format('topics_data.%I',
                   topics_internal.table_name(s.topic, s.partition, s.base_offset))::regclass
                 FROM topics.segment s
                WHERE s.topic = 't' AND s.partition = p
    LOOP
        FOR b IN 0 .. pg_relation_size(seg)
                      / current_setting('block_size')::int - 1
        LOOP
            SELECT max(le_int8((tuple_data_split(seg::oid, h.t_data,
                                                 h.t_infomask, h.t_infomask2,
                                                 h.t_bits))[2]))
              INTO v
              FROM heap_page_items(get_raw_page(seg::text, b)) h
             WHERE h.lp_flags = 1 AND h.t_data IS NOT NULL;
            m := greatest(m, v);
        END LOOP;
    END LOOP;
    RETURN m;
END
$$;
});

# This helper reads what it must: offsets sit in the second column.
is($node->safe_psql('postgres', q{
BEGIN;
SELECT topics.produce('t', 'probe'::text, NULL::text, 2);
SELECT max_physical(2);
ROLLBACK;
}), "(2,0)\n0", 'max_physical sees an uncommitted offset');

# Load.
my ($bench_out, $bench_err) = ('', '');
my $bench = IPC::Run::start(
	[
		'pgbench', '-n', '-c', '4', '-j', '4', '-T', '120', '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$bench_out, '2>', \$bench_err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));

$node->poll_query_until('postgres', 'SELECT count(*) > 5000 FROM ledger')
  or die "Timed out waiting for the producers";

# A prepared transaction holds two offsets of partition 0 across the crash.
my @prepared = split /\n/, $node->safe_psql(
	'postgres', q{
BEGIN;
WITH p AS (
    SELECT * FROM topics.produce_batch('t', ARRAY['prepared-1', 'prepared-2'],
                                       partition => 0))
INSERT INTO ledger SELECT partition, msg_offset FROM p RETURNING msg_offset;
PREPARE TRANSACTION 'p0';
});
is(scalar(@prepared), 2, 'the prepared transaction took two offsets');
is($prepared[1], $prepared[0] + 1, 'consecutive offsets in a batch');
my $prep_xid = $node->safe_psql('postgres',
	q{SELECT transaction FROM pg_prepared_xacts WHERE gid = 'p0'});
cmp_ok(
	$node->safe_psql(
		'postgres',
		q{SELECT lso FROM topics.partitions
		   WHERE topic = 't' AND partition = 0}),
	'<=', $prepared[0],
	'the prepared transaction holds the LSO of partition 0');

# Crash once more transactions committed after the prepared one, on every
# partition and above the prepared offsets of partition 0.
$node->poll_query_until(
	'postgres', qq{
SELECT count(*) > 20000
       AND count(*) FILTER (WHERE partition = 0 AND msg_offset > $prepared[1]) > 500
  FROM ledger})
  or die "Timed out waiting for commits after the prepared transaction";

$node->kill9;
$bench->finish;    # the clients lost their connections
note "pgbench stderr after the crash:\n$bench_err";

# The postmaster is gone, but it or its children may linger for a moment
# and make a start fail: retry as src/test/recovery/t/017_shm.pl does.
my $started = 0;
for (my $i = 0; $i < 10 * $PostgreSQL::Test::Utils::timeout_default; $i++)
{
	if ($node->start(fail_ok => 1))
	{
		$started = 1;
		last;
	}
	usleep(100_000);
	$node->stop('fast', fail_ok => 1);
}
$node->start unless $started;

# What is stored after the crash, before producing again.
my %max_committed = map { split /\|/ } split /\n/, $node->safe_psql(
	'postgres', q{
SELECT p, coalesce(max(msg_offset), -1)
  FROM generate_series(0, 2) p
  LEFT JOIN topics_data.t d ON d.partition = p
 GROUP BY p});
my %max_physical = map { split /\|/ } split /\n/, $node->safe_psql(
	'postgres', 'SELECT p, max_physical(p) FROM generate_series(0, 2) p');
note "max committed offset per partition: "
  . join(', ', map { "$_: $max_committed{$_}" } sort keys %max_committed);
note "max stored offset per partition: "
  . join(', ', map { "$_: $max_physical{$_}" } sort keys %max_physical);

is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'),
	'1', 'the prepared transaction survived the crash');

# (a) The ledger and the topic committed together.
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    (SELECT partition, msg_offset FROM ledger
     EXCEPT SELECT partition, msg_offset FROM topics_data.t)
    UNION ALL
    (SELECT partition, msg_offset FROM topics_data.t
     EXCEPT SELECT partition, msg_offset FROM ledger)) x}),
	'0',
	'ledger and topic hold the same messages after the crash');

# (b) No offset stored twice.
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    SELECT partition, msg_offset FROM topics_data.t
     GROUP BY 1, 2 HAVING count(*) > 1) x}),
	'0',
	'no duplicate offset');

my $committed = $node->safe_psql('postgres', 'SELECT count(*) FROM ledger');
note "committed messages before the crash: $committed";

# (d) With no open producer the LSO is the log end; partition 0 is still
# held by the prepared transaction.
is( $node->safe_psql(
		'postgres', q{
SELECT partition, lso = log_end, oldest_producer_xid IS NULL
  FROM topics.partitions WHERE topic = 't' AND partition > 0
 ORDER BY partition}),
	"1|t|t\n2|t|t",
	'after restart, lso = log_end on partitions without producers');
is( $node->safe_psql(
		'postgres', q{
SELECT lso, log_end > lso, oldest_producer_xid
  FROM topics.partitions WHERE topic = 't' AND partition = 0}),
	"$prepared[0]|t|$prep_xid",
	'after restart, the prepared transaction still holds the LSO of partition 0'
);
cmp_ok(
	$node->safe_psql(
		'postgres',
		"SELECT count(*) FROM topics_data.t
		  WHERE partition = 0 AND msg_offset > $prepared[1]"),
	'>', 0,
	'commits above the prepared offsets exist');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM topics.fetch('t', 0, $prepared[0], 1000000)"),
	'0',
	'fetch from the prepared offset returns nothing');
is( $node->safe_psql(
		'postgres', qq{
SELECT (SELECT count(*) FROM topics.fetch('t', 0, 0, 1000000))
     = (SELECT count(*) FROM topics_data.t
         WHERE partition = 0 AND msg_offset < $prepared[0])}),
	't',
	'fetch from 0 returns every committed message below the prepared offset');

# (c) New offsets are above everything stored before the crash.
for my $p (0 .. 2)
{
	my $offset = $node->safe_psql(
		'postgres', qq{
INSERT INTO ledger
SELECT partition, msg_offset
  FROM topics.produce('t', 'after'::text, NULL::text, $p)
RETURNING msg_offset});
	cmp_ok($offset, '>', $max_committed{$p},
		"partition $p: new offset above the committed ones");
	cmp_ok($offset, '>', $max_physical{$p},
		"partition $p: new offset above every stored one");
}
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM topics.fetch('t', 0, $prepared[0], 1000000)"),
	'0',
	'the prepared transaction still holds partition 0 after new commits');

# COMMIT PREPARED releases the LSO: everything from the prepared offsets on
# becomes readable, in offset order.
$node->safe_psql('postgres', q{COMMIT PREPARED 'p0'});
is( $node->safe_psql(
		'postgres', qq{
SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset)
  FROM topics.fetch('t', 0, $prepared[0], 2)}),
	'prepared-1,prepared-2',
	'the prepared messages are readable after COMMIT PREPARED');
is( $node->safe_psql(
		'postgres', qq{
SELECT (SELECT array_agg(msg_offset ORDER BY n)
          FROM topics.fetch('t', 0, $prepared[0], 1000000) WITH ORDINALITY f(topic, partition, msg_offset, ts, key, value, headers, n))
     = (SELECT array_agg(msg_offset ORDER BY msg_offset) FROM topics_data.t
         WHERE partition = 0 AND msg_offset >= $prepared[0])}),
	't',
	'fetch returns every committed message above the prepared offsets');
is( $node->safe_psql(
		'postgres', q{
SELECT bool_and(lso = log_end AND oldest_producer_xid IS NULL)
  FROM topics.partitions WHERE topic = 't'}),
	't',
	'lso = log_end on every partition after COMMIT PREPARED');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    (SELECT partition, msg_offset FROM ledger
     EXCEPT SELECT partition, msg_offset FROM topics_data.t)
    UNION ALL
    (SELECT partition, msg_offset FROM topics_data.t
     EXCEPT SELECT partition, msg_offset FROM ledger)) x}),
	'0',
	'ledger and topic still agree, prepared messages included');

my ($gaps, $segments) = split /\|/, $node->safe_psql(
	'postgres', q{
SELECT (SELECT sum(log_end) FROM topics.partitions WHERE topic = 't')
       - (SELECT count(*) FROM topics_data.t),
       (SELECT count(*) FROM topics.segment)});
note "offsets lost to rollbacks and the crash: $gaps; segments: $segments";
cmp_ok($gaps, '>', 0, 'rolled back transactions left gaps');
cmp_ok($segments, '>', 3, 'segments rolled over under load');

$node->stop;

done_testing();
