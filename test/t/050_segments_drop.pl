
# Copyright (c) 2025, pg_topics contributors

# A topic whose partitions rolled over to many segments can be dropped
# whatever the size of the lock table.
#
# Each segment a partition rolls over to adds a table, an index, a TOAST
# table and its index and two types to what dropping the topic locks; one
# transaction could not hold them all (0.2 failed here with PostgreSQL's
# 53200 "out of shared memory").  drop_topic of a topic that wide renames
# its root out of the way in its transaction, and the segment maker drops
# the tables after it commits, a share of the lock table at a time, leaves
# first.  Here max_locks_per_transaction is at its minimum and segments
# hold one message, so that a topic of a few dozen partitions shows it.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('segments_drop');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
max_locks_per_transaction = 10
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_topics');

my $parts = 32;
$node->safe_psql('postgres',
	qq{SELECT * FROM topics.create_topic('grown', $parts,
	   config => '{"segment.messages": 1}')});

# thirty segments in each partition, a transaction per partition
$node->safe_psql('postgres', join("\n", map { qq{
SELECT count(*) FROM topics.produce_batch('grown',
    array(SELECT 'x' FROM generate_series(1, 30)), partition => $_);} } 0 .. $parts - 1));
my $segments = $node->safe_psql('postgres',
	q{SELECT count(*) FROM topics.segments WHERE topic = 'grown'});
cmp_ok($segments, ">=", 30 * $parts, "the topic grew to $segments segments");

my ($ret, $out, $err) =
  $node->psql('postgres', "SELECT topics.drop_topic('grown')");
is($ret, 0, "drop_topic of $parts partitions and $segments segments with the smallest lock table")
  or diag($err);
is($node->safe_psql('postgres', q{SELECT count(*) FROM topics.topics WHERE name = 'grown'}),
	'0', 'the topic is gone');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'topics_data'}),
	'the segment maker drops every table of it');
is( $node->safe_psql('postgres',
		q{SELECT partitions FROM topics.create_topic('grown', 2)}),
	'2', 'and the name can be used again');

$node->stop;
done_testing();
