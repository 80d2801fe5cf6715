
# Copyright (c) 2025, pg_topics contributors

# A topic that create_topic accepts can be dropped again.
#
# Creating a topic of N partitions takes about five relation locks per
# partition in one transaction; dropping it (DROP TABLE of the root, which
# cascades) takes more: every partition table, segment, index and TOAST
# table, and the row and array types of each table.  Between the two
# limits lies a topic that exists and cannot be dropped: drop_topic fails
# with 53200 "out of shared memory" (max_locks_per_transaction) every time,
# and the topic stays until a superuser raises max_locks_per_transaction
# and restarts the server.  With the default lock table a topic of about
# 1300 partitions (README allows up to pg_topics.max_partitions, 4096)
# shows it; here max_locks_per_transaction is at its minimum, so that a
# few hundred partitions do.  Expected: create_topic refuses a topic that
# drop_topic could not drop (a clean error), or drop_topic drops any topic
# that exists.

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

# The widest topic create_topic accepts, by halving down from 1024.
my $created = 0;
for my $n (1024, 512, 256, 128, 64)
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT partitions FROM topics.create_topic('wide', $n)");
	if ($ret == 0)
	{
		$created = $n;
		last;
	}
	like($err, qr/out of shared memory|max_locks_per_transaction|partition/i,
		"create_topic of $n partitions fails cleanly");
}
ok($created > 0, "create_topic accepted a topic of $created partitions");

my ($ret, $out, $err) =
  $node->psql('postgres', "SELECT topics.drop_topic('wide')");
is($ret, 0, "drop_topic drops the topic of $created partitions that create_topic accepted")
  or diag($err);
is($node->safe_psql('postgres', q{SELECT count(*) FROM topics.topics WHERE name = 'wide'}),
	'0', 'the topic is gone');

$node->stop;
done_testing();
