
# Copyright (c) 2025, pg_topics contributors

# One statement drops many topics while the database worker runs its
# rounds.
#
# A round of the database worker opens every topic of the database, in the
# order of their names, and persists their stable offsets, all in one
# transaction.  A transaction that drops several topics locks their roots
# in an order of its own.  When the worker waited for a topic the drop had
# locked while holding one the drop waited for, the two deadlocked, and the
# user's statement was the one cancelled (40P01): its wait began first, so
# its deadlock check ran first.  The worker now takes a topic's lock only
# if it is free, and leaves a topic being dropped to a later round.
#
# Here rounds run every 10 ms, and each time 30 topics with messages are
# dropped in one statement, in the reverse of their names' order: every
# drop works, no topic or table is left, and the worker goes on (a topic
# made after the drops has its stable offset persisted).  A topic whose
# root a prepared transaction holds is passed over, and persisted once the
# transaction ends.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('drop_many');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 8
max_prepared_transactions = 2
pg_topics.worker_naptime = 10
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_topics');

for my $round (1 .. 5)
{
	$node->safe_psql(
		'postgres', q{
SELECT count(*) FROM generate_series(1, 30) i,
       LATERAL topics.create_topic(format('t%s', lpad(i::text, 2, '0')), 2);
SELECT count(*) FROM generate_series(1, 30) i, generate_series(0, 1) p,
       LATERAL topics.produce(format('t%s', lpad(i::text, 2, '0')), 'm', partition => p);
});
	# let the worker's rounds take up the new topics
	$node->poll_query_until(
		'postgres', q{
SELECT count(*) = 60 FROM topics.partition WHERE topic LIKE 't__' AND stable_offset = 1})
	  or die 'the worker did not persist the stable offsets';
	my ($ret, $out, $err) = $node->psql(
		'postgres', q{
SELECT count(*) FROM (SELECT name FROM topics.topic ORDER BY name DESC) n,
       LATERAL topics.drop_topic(n.name)});
	is($ret, 0, "round $round: one statement drops 30 topics in reverse order")
	  or diag($err);
	$node->safe_psql('postgres',
		q{SELECT count(*) FROM (SELECT name FROM topics.topic) n, LATERAL topics.drop_topic(n.name)})
	  if $ret != 0;
}

$node->poll_query_until(
	'postgres', q{
SELECT count(*) = 0 FROM pg_class WHERE relnamespace = 'topics_data'::regnamespace})
  or die 'tables of dropped topics remain';
pass('no table of a dropped topic remains');

# A topic whose root another transaction holds is passed over, without a
# wait or a warning, and its offsets are persisted once it is let go.
$node->safe_psql(
	'postgres', q{
SELECT topic FROM topics.create_topic('held', 1);
SELECT count(*) FROM topics.produce('held', 'x');});
$node->poll_query_until(
	'postgres', q{SELECT stable_offset = 1 FROM topics.partition WHERE topic = 'held'})
  or die 'the worker did not persist the stable offset of held';
my $log_offset = -s $node->logfile;
$node->safe_psql(
	'postgres', q{
BEGIN;
SELECT count(*) FROM topics.produce('held', 'y');
LOCK TABLE topics_data.held IN ACCESS EXCLUSIVE MODE;
PREPARE TRANSACTION 'hold';});
sleep 1;
unlike(slurp_file($node->logfile, $log_offset), qr/could not open topic "held"/,
	'a topic held by a prepared transaction is passed over without a wait');
$node->safe_psql('postgres', q{COMMIT PREPARED 'hold'});
ok( $node->poll_query_until(
		'postgres', q{
SELECT stable_offset = 2 FROM topics.partition WHERE topic = 'held'}),
	'and its offset persisted once the transaction ended');

$node->safe_psql(
	'postgres', q{
SELECT topic FROM topics.create_topic('after', 1);
SELECT count(*) FROM topics.produce('after', 'x');});
ok( $node->poll_query_until(
		'postgres', q{
SELECT stable_offset = 1 FROM topics.partition WHERE topic = 'after'}),
	'the worker goes on: a new topic\'s stable offset is persisted');

$node->stop;
done_testing();
