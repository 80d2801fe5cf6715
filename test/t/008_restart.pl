
# Copyright (c) 2025, pg_topics contributors

# What a restart leaves a partition with, and what a producer says when the
# server goes away under it.
#
# - The first use of a partition after a restart finds the offsets that
#   prepared transactions hold through the offset index, from the stable
#   offset the worker persisted on: it reads no segment whole, however many
#   segments there are (the counters of sequential scans do not move).
# - The prepared transaction still holds back readers, the counter resumes
#   above every offset handed out, and COMMIT PREPARED lets readers on.
# - The stable offset is persisted for partitions nobody touched since the
#   restart too (a standby reads below it).
# - A producer waiting for a new segment when the postmaster dies says that
#   the server went away, not that the segment worker failed.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('restart');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_prepared_transactions = 10
max_worker_processes = 16
pg_topics.worker_naptime = '100ms'
});
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('r', 2, 'stream', '{"segment.messages": 4}');
SELECT count(*) FROM topics.produce_batch('r', array(SELECT 'm' || i FROM generate_series(1, 100) i),
                                          partition => 0);
SELECT count(*) FROM topics.produce_batch('r', ARRAY['untouched'], partition => 1);
});
$node->poll_query_until('postgres',
	q{SELECT bool_and(stable_offset = lso) FROM topics.partitions WHERE topic = 'r'})
  or die "Timed out waiting for the stable offsets";

# A prepared transaction holds offsets 100 and 101 of partition 0.
$node->safe_psql(
	'postgres', q{
BEGIN;
SELECT count(*) FROM topics.produce_batch('r', ARRAY['p1', 'p2'], partition => 0);
PREPARE TRANSACTION 'held';
});
my $segments = $node->safe_psql('postgres',
	q{SELECT count(*) FROM topics.segment WHERE topic = 'r' AND partition = 0});
cmp_ok($segments, '>=', 25, "partition 0 has $segments segments");

my $old_segments = $node->safe_psql('postgres',
	q{SELECT string_agg(quote_literal(relname), ',') FROM pg_class
	   WHERE relnamespace = 'topics_data'::regnamespace AND relname LIKE 'r$0$%'});

$node->restart;

# Sequential scans of the segment tables there were before the restart, as
# the statistics count them (a segment added now is scanned once, empty,
# when it is attached).
my $seq_scans = qq{
SELECT sum(seq_scan) FROM pg_stat_user_tables
 WHERE schemaname = 'topics_data' AND relname IN ($old_segments)};
my $before = $node->safe_psql('postgres', $seq_scans);

my $first = $node->safe_psql(
	'postgres', q{
SELECT msg_offset FROM topics.produce('r', 'after the restart', partition => 0);
SELECT pg_stat_force_next_flush();
});
($first) = split /\n/, $first;
is($node->safe_psql('postgres', $seq_scans),
	$before, 'the first produce after the restart read no segment whole');
cmp_ok($first, '>=', 102,
	'the counter resumes above the offsets of the prepared transaction');
is( $node->safe_psql(
		'postgres',
		q{SELECT lso FROM topics.partitions WHERE topic = 'r' AND partition = 0}),
	'100',
	'the prepared transaction still holds the LSO at its first offset');
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM topics.fetch('r', 0, 0, 1000)}),
	'100',
	'readers see the hundred messages below it, and nothing else');

# Partition 1 is not touched after the next restart: its stable offset is
# persisted all the same.  With rounds an hour apart, the message produced
# now stays above the persisted stable offset until the restart.
$node->append_conf('postgresql.conf', "pg_topics.worker_naptime = '1h'");
$node->restart;
$node->poll_query_until('postgres',
	q{SELECT stable_offset = lso FROM topics.partitions WHERE topic = 'r' AND partition = 1})
  or die "Timed out waiting for the first round after the restart";
my $x = $node->safe_psql('postgres',
	q{SELECT msg_offset FROM topics.produce_batch('r', ARRAY['x'], partition => 1)});
cmp_ok(
	$node->safe_psql(
		'postgres',
		q{SELECT stable_offset FROM topics.partitions WHERE topic = 'r' AND partition = 1}),
	'<=', $x,
	'the stable offset of partition 1 is not persisted past its new message yet');
$node->append_conf('postgresql.conf', "pg_topics.worker_naptime = '100ms'");
$node->restart;
$node->safe_psql('postgres', q{COMMIT PREPARED 'held'});
$node->poll_query_until(
	'postgres', qq{
SELECT stable_offset > $x FROM topics.partitions WHERE topic = 'r' AND partition = 1})
  or die "Timed out waiting for the stable offset of an untouched partition";
pass('the stable offset of a partition untouched since the restart is persisted');
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM topics.fetch('r', 0, 0, 1000)}),
	'103',
	'after COMMIT PREPARED readers see its messages too');

# The postmaster dies while a producer waits for a segment: a session holds
# the lock that the segment worker needs, the producer waits for the
# worker, and the postmaster is killed.
my $holder = $node->background_psql('postgres');
$holder->query_safe(
	q{BEGIN; LOCK TABLE topics_data."r$1" IN SHARE UPDATE EXCLUSIVE MODE});
my ($out, $err) = ('', '');
my $producer = IPC::Run::start(
	[
		'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
		q{SELECT count(*) FROM topics.produce_batch('r', array(SELECT 'n' || i FROM generate_series(1, 40) i), partition => 1)}
	],
	'>', \$out, '2>', \$err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$node->poll_query_until(
	'postgres', q{
SELECT count(*) > 0 FROM pg_stat_activity
 WHERE backend_type = 'pg_topics segment' AND wait_event_type = 'Lock'})
  or die "Timed out waiting for the segment worker to wait";
$node->kill9;
$producer->finish;
like(
	$err,
	qr/the server exited while a producer waited for a new segment of topic "r"/,
	'the producer says that the server went away');
unlike($err, qr/worker that adds segments/, 'and does not blame the worker');
eval { $holder->quit; };

done_testing();
