
# Copyright (c) 2025, pg_topics contributors

# Any topic create_topic accepts can be dropped again, whatever the size
# of the lock table.
#
# Making a partition takes about 9 locks, dropping one 13; with
# max_locks_per_transaction at its minimum here, the lock table holds
# about 1,200, so that one transaction cannot make or drop a topic of a
# few hundred partitions (0.1 made topics it could not drop; 0.2 refused
# them with 53400).  create_topic makes the partitions its transaction may
# and leaves the rest to the segment maker, a share of the lock table at
# a time; drop_topic of a topic that wide leaves its tables to the maker.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('wide_drop');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
max_locks_per_transaction = 10
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_topics');

is( $node->safe_psql('postgres',
		"SELECT partitions FROM topics.create_topic('wide', 1024)"),
	'1024', 'create_topic of 1,024 partitions with the smallest lock table');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM topics.partitions WHERE topic = 'wide' AND segments = 0}),
	'the segment maker makes every partition');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM topics.produce_batch('wide',
    ARRAY(SELECT 'v' || i FROM generate_series(1, 100) i),
    ARRAY(SELECT 'k' || i FROM generate_series(1, 100) i))}),
	'100', 'a batch over many partitions');

my ($ret, $out, $err) =
  $node->psql('postgres', "SELECT topics.drop_topic('wide')");
is($ret, 0, "drop_topic drops the topic of 1,024 partitions")
  or diag($err);
is($node->safe_psql('postgres', q{SELECT count(*) FROM topics.topics WHERE name = 'wide'}),
	'0', 'the topic is gone');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'topics_data'}),
	'and so are its tables');

$node->stop;
done_testing();
