
# Copyright (c) 2025, pg_topics contributors

# A topic of 4,000 partitions under default settings (the lock table of
# max_locks_per_transaction = 64): created and dropped, produced to,
# fetched, polled and seen in the views; and what a crash, a prepared
# transaction and a drop followed at once by a create leave behind.
#
# One transaction cannot lock the tables of 4,000 partitions (about 9
# locks each to make, 13 to drop; the default lock table holds about
# 7,800).  create_topic makes the partitions one transaction may and the
# segment maker makes the rest once it commits; a producer that needs one
# first asks for it.  drop_topic of a topic that wide renames its root out
# of the way and the maker drops the tables, leaves first.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('wide_topic');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_prepared_transactions = 2
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_topics');
is($node->safe_psql('postgres', 'SHOW max_locks_per_transaction'),
	'64', 'the lock table has its default size');

# partitions of topic $t whose tables are not made yet
sub unmade
{
	my ($t) = @_;
	return $node->safe_psql('postgres', qq{
SELECT count(*) FROM topics.partitions WHERE topic = '$t' AND segments = 0});
}

# tables left of topic $t and of its dropped roots
sub tables_left
{
	my ($t) = @_;
	return $node->safe_psql('postgres', qq{
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'topics_data'
   AND c.relkind IN ('r', 'p')
   AND (c.relname LIKE '$t\$%' OR c.relname = '$t' OR c.relname = '\$dropping\$$t')});
}

my $start = time();
is( $node->safe_psql('postgres',
		q{SELECT partitions FROM topics.create_topic('wide', 4000)}),
	'4000', 'create_topic of 4,000 partitions with the default lock table');
my $returned = time() - $start;
note(sprintf('create_topic returned after %.2f s', $returned));

# a producer that needs a partition not made yet gets it at once
is( $node->safe_psql('postgres',
		q{SELECT partition, msg_offset FROM topics.produce('wide', 'last', partition => 3999)}),
	'3999|0', 'produce to the last partition waits only for that one');

ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM topics.partitions WHERE topic = 'wide' AND segments = 0}),
	'the segment maker makes every partition');
my $made = time() - $start;
note(sprintf('all 4,000 partitions made after %.2f s', $made));
is( $node->safe_psql('postgres', q{
SELECT count(*), count(DISTINCT partition) FROM topics.partitions WHERE topic = 'wide'}),
	'4000|4000', 'topics.partitions shows the 4,000 partitions');
is( $node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE isleaf), max(level)
  FROM pg_partition_tree('topics_data.wide')}),
	'4000|3', 'one segment per partition, partitions in groups of 64');

# keyed batches spread over every partition, in transactions of 1,000
for my $b (0 .. 7)
{
	$node->safe_psql('postgres', qq{
SELECT count(*) FROM topics.produce_batch('wide',
    ARRAY(SELECT 'v' || i FROM generate_series($b * 1000, $b * 1000 + 999) i),
    ARRAY(SELECT 'k' || i FROM generate_series($b * 1000, $b * 1000 + 999) i))});
}
is( $node->safe_psql('postgres', q{
SELECT sum(log_end), sum(lso), count(*) FILTER (WHERE log_end > 0) > 3000
  FROM topics.partitions WHERE topic = 'wide'}),
	'8001|8001|t', 'the views count every message');
my $p = $node->safe_psql('postgres',
	q{SELECT topics.partition_for_key('k4242', 4000)});
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM topics.fetch('wide', $p, 0, 100)
 WHERE convert_from(key, 'UTF8') = 'k4242'}),
	'1', 'fetch finds a keyed message in its partition');
# plain SQL on the root plans and locks every table of the topic (which
# the default lock table may not hold); naming the partition prunes that
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM topics_data.wide WHERE partition = $p AND key = 'k4242'}),
	'1', 'plain SQL on the root that names a partition reads only its tables');

# one member owns the 4,000 partitions: its polls read them all
$node->safe_psql('postgres',
	q{SELECT * FROM topics.join('g', 'wide', 'm', auto_offset_reset => 'earliest')});
my $polled = 0;
for my $i (1 .. 20)
{
	$polled += $node->safe_psql('postgres', q{
SELECT count(*) FROM topics.poll('g', 'wide', 'm', max_messages => 10000)});
	last if $polled >= 8001;
}
is($polled, 8001, 'polls read every message of the 4,000 partitions');

# drop, then create the same name at once: the create waits for the maker
$start = time();
$node->safe_psql('postgres', q{SELECT topics.drop_topic('wide')});
note(sprintf('drop_topic returned after %.2f s', time() - $start));
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM topics.topics WHERE name = 'wide'}),
	'0', 'drop_topic of 4,000 partitions with the default lock table');
is( $node->safe_psql('postgres',
		q{SELECT partitions FROM topics.create_topic('wide', 2)}),
	'2', 'create_topic of a name just dropped waits for its tables to go');
is(tables_left('wide'), '6', 'only the new topic\'s tables are there');

# a transaction that creates a wide topic can produce to all of it
is( $node->safe_psql('postgres', q{
BEGIN;
SELECT partitions FROM topics.create_topic('same_txn', 200);
SELECT partition FROM topics.produce('same_txn', 'x', partition => 190);
COMMIT;}),
	"200\n190", 'the creating transaction makes the partition it produces to');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM topics.partitions WHERE topic = 'same_txn' AND segments = 0}),
	'the maker makes the others after the commit');

# a long fetch of a partition not made yet waits out its max_wait (a
# consumer's loop must not spin)
is( $node->safe_psql('postgres', q{
BEGIN;
SELECT partitions FROM topics.create_topic('fw', 200);
SELECT count(*), clock_timestamp() - statement_timestamp() >= interval '250 ms'
  FROM topics.fetch('fw', 150, 0, 10, '300 ms');
ROLLBACK;}),
	"200\n0|t", 'a long fetch of a partition not made yet waits');

# ... but only a transaction's share of the lock table of them
my ($ret, $out, $err) = $node->psql('postgres', q{
BEGIN;
SELECT partitions FROM topics.create_topic('ct', 300);
SELECT count(*) FROM topics.produce_batch('ct',
    ARRAY(SELECT 'v' || i FROM generate_series(1, 3000) i),
    ARRAY(SELECT 'k' || i FROM generate_series(1, 3000) i));});
like($err, qr/ERROR:  the transaction that created partition \d+ of topic "ct" cannot make it/,
	'a creating transaction that needs more partitions than its share is refused (53400)');

($ret, $out, $err) = $node->psql('postgres', q{
BEGIN;
SELECT topics.drop_topic('same_txn');
SELECT topics.create_topic('same_txn', 1);});
like($err, qr/still being dropped/,
	'a wide topic cannot be created again in the transaction that dropped it');

# the maker's work survives a crash: a wide topic created, one dropped
$node->safe_psql('postgres', q{SELECT topics.drop_topic('same_txn')});
$node->safe_psql('postgres', q{SELECT topics.create_topic('crash', 3000)});
$node->stop('immediate');
$node->start;
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM topics.partitions WHERE topic = 'crash' AND segments = 0}),
	'after a crash the database worker has the rest of the partitions made');
$node->safe_psql('postgres', q{SELECT topics.drop_topic('crash')});
$node->stop('immediate');
$node->start;
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM pg_class
 WHERE relname LIKE 'same\_txn%' OR relname LIKE 'crash%' OR relname LIKE '$dropping$%'}),
	'and the tables of the topics dropped before a crash are dropped');

# a prepared transaction asks no maker: the worker's round does
$node->safe_psql('postgres', q{SELECT topics.create_topic('prep', 300)});
$node->safe_psql('postgres', q{
BEGIN;
SELECT topics.drop_topic('prep');
PREPARE TRANSACTION 'drop_prep';});
$node->safe_psql('postgres', q{COMMIT PREPARED 'drop_prep'});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM pg_class WHERE relname LIKE 'prep%' OR relname LIKE '$dropping$%'}),
	'a drop committed from a prepared transaction is finished');
is(tables_left('wide'), '6', 'the other topic\'s tables are all there');

$node->stop;
done_testing();
