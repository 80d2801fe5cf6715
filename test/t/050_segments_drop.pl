
# Copyright (c) 2025, pg_topics contributors

# A topic whose partitions rolled over to many segments can be dropped once
# the lock table has room for all its tables.
#
# create_topic refuses a topic wider than drop_topic could drop
# (check_droppable in topic_admin.c counts 13 locks per partition of one
# segment), but each segment a partition rolls over to adds a table, an
# index, a TOAST table and its index and two types to what drop_topic locks
# in its one transaction.  Past what the lock table holds, drop_topic fails
# with PostgreSQL's 53200 "out of shared memory" and its hint to increase
# max_locks_per_transaction, and drops nothing; with the setting raised (a
# restart), it drops the topic.  README says so (create_topic, and
# Limitations); retention will bound the number of segments.  Here
# max_locks_per_transaction is at its minimum and segments hold one
# message, so that a topic of a few dozen partitions shows it.

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

# The widest topic create_topic accepts, found by halving, then half of it.
my $widest = 0;
for my $n (1024, 512, 256, 128, 64, 32)
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT partitions FROM topics.create_topic('probe', $n)");
	if ($ret == 0)
	{
		$widest = $n;
		$node->safe_psql('postgres', "SELECT topics.drop_topic('probe')");
		last;
	}
}
ok($widest > 0, "create_topic accepts a topic of $widest partitions");
my $parts = $widest;
$node->safe_psql('postgres',
	qq{SELECT * FROM topics.create_topic('grown', $parts,
	   config => '{"segment.messages": 1}')});

# thirty segments in each partition
$node->safe_psql('postgres', qq{
SELECT count(*) FROM generate_series(0, $parts - 1) p,
       LATERAL topics.produce_batch('grown',
           array(SELECT 'x' FROM generate_series(1, 30)), partition => p) r;});
my $segments = $node->safe_psql('postgres',
	q{SELECT count(*) FROM topics.segments WHERE topic = 'grown'});
cmp_ok($segments, ">=", 30 * $parts, "the topic grew to $segments segments");

my ($ret, $out, $err) =
  $node->psql('postgres', "SELECT topics.drop_topic('grown')");
isnt($ret, 0, "drop_topic of $parts partitions and $segments segments needs more locks");
like($err, qr/out of shared memory/, 'PostgreSQL says why');
like($err, qr/increase max_locks_per_transaction/, 'and what to do');
# (a worker may have added the next segment of a partition meanwhile)
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM topics.segments WHERE topic = 'grown'}),
	'>=', $segments, 'nothing was dropped');

$node->append_conf('postgresql.conf', 'max_locks_per_transaction = 128');
$node->restart;
($ret, $out, $err) =
  $node->psql('postgres', "SELECT topics.drop_topic('grown')");
is($ret, 0, "with max_locks_per_transaction raised, drop_topic drops it")
  or diag($err);
is($node->safe_psql('postgres', q{SELECT count(*) FROM topics.topics WHERE name = 'grown'}),
	'0', 'the topic is gone');

$node->stop;
done_testing();
