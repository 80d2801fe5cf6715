
# Copyright (c) 2025, pg_topics contributors

# Partitions whose making is rolled back (review 5 of issue 10).
#
# A transaction that makes a partition inside a savepoint, produces to it
# and rolls the savepoint back holds a producer slot on the partition's
# shared state until it ends, though the table is gone and its lock with
# it.  The worker's round once removed that state, slots and all; the
# transaction's end then put its slot on the free list a second time, two
# producers shared a slot, and the LSO passed a producer still open: a
# group skipped its message for good.
#
# The segment maker looks for a wide topic's next partitions from the
# first it found unmade.  Once, a maker transaction that failed (its lock
# wait timed out while a producer wanted the partition) moved that mark
# past the partition it failed to make, and no one made it after.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('rolled_back_partitions');
$node->init;
# one maker, which makes a topic's partitions in order: the last part
# checks that order (with two, each makes a range of its own, and the
# other range's last partition may come first)
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
pg_topics.makers_per_database = 1
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_topics');

# a topic made, produced to and rolled back in a savepoint, the worker's
# round (1 s) passing before the transaction ends
$node->safe_psql('postgres', q{
BEGIN;
SELECT 1;
SAVEPOINT a;
SELECT * FROM topics.create_topic('gone', 1);
SELECT * FROM topics.produce('gone', '\x01'::bytea);
ROLLBACK TO a;
SELECT pg_sleep(3);
COMMIT;});

$node->safe_psql('postgres', q{
SELECT topics.create_topic('r', 2);
SELECT member FROM topics.join('rg', 'r', 'c', auto_offset_reset => 'earliest');});

# P1 stays open on partition 0 while P2 commits on partition 1
my $p1 = $node->background_psql('postgres');
$p1->query_safe(q{BEGIN});
$p1->query_safe(q{SELECT msg_offset FROM topics.produce('r', 'first'::bytea, partition => 0)});
$node->safe_psql('postgres',
	q{SELECT topics.produce('r', 'second'::bytea, partition => 1)});
is( $node->safe_psql('postgres', q{
SELECT lso, log_end, oldest_producer_pid IS NOT NULL FROM topics.partitions
 WHERE topic = 'r' AND partition = 0}),
	'0|1|t', 'an open producer holds the LSO of its partition');
is( $node->safe_psql('postgres', q{
SELECT string_agg(convert_from(value, 'UTF8'), ',') FROM topics.poll('rg', 'r', 'c')}),
	'second', 'a poll reads the committed message only');
$p1->query_safe(q{COMMIT});
$p1->quit;
is( $node->safe_psql('postgres', q{
SELECT string_agg(convert_from(value, 'UTF8'), ',') FROM topics.poll('rg', 'r', 'c')}),
	'first', 'the open producer\'s message comes once it commits');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM topics.produce_batch('r', ARRAY['a', 'b', 'c', 'd']::bytea[])}),
	'4', 'producers still get slots of their own');

# the maker's transaction fails for a partition a producer wanted
$node->safe_psql('postgres', q{SELECT topics.create_topic('wf', 2000)});
my $hog = $node->background_psql('postgres');
$hog->query_safe(q{BEGIN});
$hog->query_safe(
	q{LOCK TABLE ONLY topics_data.wf IN SHARE UPDATE EXCLUSIVE MODE});
$node->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM pg_stat_activity
 WHERE backend_type LIKE 'pg_topics segment%' AND wait_event_type = 'Lock'})
  or die 'the maker never waited for the lock';
my $low = $node->safe_psql('postgres', q{
SELECT min(partition) FROM topics.partition p WHERE topic = 'wf'
   AND NOT EXISTS (SELECT FROM topics.segment s
                    WHERE s.topic = p.topic AND s.partition = p.partition)});
ok($low > 0, "partition $low is not made yet");
my ($ret, $out, $err) = $node->psql('postgres', qq{
SET pg_topics.segment_create_timeout = '1s';
SELECT topics.produce('wf', 'x'::bytea, partition => $low)});
isnt($ret, 0, 'a producer gives up waiting for a partition the maker cannot make');
$hog->query_safe(q{COMMIT});
$hog->quit;
# the maker goes up from the lowest partition it may have failed to make:
# that one is made before the last
$node->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM topics.segment WHERE topic = 'wf' AND partition = 1999})
  or die 'the last partition was never made';
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM topics.segment WHERE topic = 'wf' AND partition = $low}),
	'1', 'the partition the maker failed to make is made before the last');
ok( $node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM topics.partition p WHERE topic = 'wf'
   AND NOT EXISTS (SELECT FROM topics.segment s
                    WHERE s.topic = p.topic AND s.partition = p.partition)}),
	'the maker makes every partition, the one it failed to make too');
is( $node->safe_psql('postgres', qq{
SELECT msg_offset FROM topics.produce('wf', 'y'::bytea, partition => $low)}),
	'0', 'and it takes messages');

# a savepoint rolled back gives back its share of the lock table: the
# partitions it made no longer count against the transaction's share
# (review 5: they did, and a 53400 came with few locks held)
is( $node->psql('postgres', q{
BEGIN;
SAVEPOINT a;
SELECT topics.create_topic('sa', 200);
ROLLBACK TO a;
SAVEPOINT b;
SELECT topics.create_topic('sb', 200);
ROLLBACK TO b;
SAVEPOINT c;
SELECT topics.create_topic('sc', 200);
ROLLBACK TO c;
SELECT topics.create_topic('sd', 200);
SELECT count(*) FROM generate_series(64, 99) p,
       LATERAL topics.produce('sd', 'x'::bytea, partition => p);
COMMIT;}),
	0, 'three savepoints of 64 partitions each, rolled back, leave the share whole');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM topics.fetch('sd', 99, 0, 10)}),
	'1', 'the transaction made the partitions it produced to');

$node->stop;
done_testing();
