
# Copyright (c) 2025, pg_topics contributors

# The segment maker (src/log/segment_maker.c): one background worker per
# database adds the segments its producers ask for, from a queue in shared
# memory.  Breaks found by a review, each a case here:
#
# 1. Requests of a database that is dropped stayed in the queue; once it
#    was full, no database could add a segment.  DROP DATABASE drops them,
#    and a request whose producer gave up makes room.
# 2. A producer connected to a database that then stopped taking
#    connections waited forever: every maker it started died connecting.
#    The maker connects anyway (its producer is connected), and a producer
#    never waits past pg_topics.segment_create_timeout.
# 3. A request waiting for a lock on one partition held up every other
#    roll-over of the database for up to 30 s.  The maker waits for a lock
#    100 ms at a time and serves others meanwhile.
# 4. Makers that stayed while their databases produced took the background
#    worker slots, and another database could never start one.  At most
#    half of the slots the maintenance workers leave are makers', and an
#    idle maker exits at once when another database wants one.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('segment_maker');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 6
pg_topics.max_workers = 1
});
$node->start;

sub new_db
{
	my ($db, $partitions) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, qq{
CREATE EXTENSION pg_topics;
SELECT FROM topics.create_topic('t', $partitions, config => '{"segment.messages": 1}');});
}

# 1. a database whose producers queued requests is dropped; another one
# still gets its segments
new_db('leak', 70);
for my $round (1 .. 3)
{
	$node->safe_psql('leak', q{
SELECT count(*) FROM generate_series(0, 69) p,
       LATERAL topics.produce_batch('t', ARRAY['a', 'b'], partition => p)});
}
$node->safe_psql('postgres', 'DROP DATABASE leak WITH (FORCE)');
new_db('victim', 1);
is( $node->safe_psql('victim', q{
SET pg_topics.segment_create_timeout = 5000;
SELECT count(*) FROM topics.produce_batch('t', ARRAY['x', 'y', 'z'])}),
	'3', 'after DROP DATABASE, another database adds segments');

# 2. the producer's database stops taking connections while it produces
new_db('noconn', 1);
my $producer = $node->background_psql('noconn', on_error_stop => 0);
$producer->query_safe('SET pg_topics.segment_create_timeout = 3000');
$node->safe_psql('postgres', 'ALTER DATABASE noconn ALLOW_CONNECTIONS false');
my $t0 = time;
my ($out, $ret) = $producer->query(
	q{SELECT count(*) FROM topics.produce_batch('t', ARRAY['a', 'b', 'c'])});
my $took = time - $t0;
is($out, '3', 'a producer connected before ALLOW_CONNECTIONS false gets its segments');
cmp_ok($took, '<', 10, sprintf('within its timeout (%.1f s)', $took));
$producer->quit;
$node->safe_psql('postgres', 'ALTER DATABASE noconn ALLOW_CONNECTIONS true');

# 3. a lock held on one topic's partition: the other topic's producer is
# served at once, the blocked one gives up at its own timeout
$node->safe_psql('victim', q{
SELECT FROM topics.create_topic('hol_a', 1, config => '{"segment.messages": 1}');
SELECT FROM topics.create_topic('hol_b', 1, config => '{"segment.messages": 1}');});
my $holder = $node->background_psql('victim');
$holder->query_safe(
	q{BEGIN; LOCK TABLE topics_data."hol_a$0" IN SHARE UPDATE EXCLUSIVE MODE});
my $blocked = $node->background_psql('victim', on_error_stop => 0);
$blocked->query_safe('SET pg_topics.segment_create_timeout = 2000');
$blocked->query_until(qr/asking/, q{
\echo asking
SELECT count(*) FROM topics.produce_batch('hol_a', ARRAY['a', 'b']);
\echo done
});
$node->poll_query_until('victim', q{
SELECT count(*) > 0 FROM pg_stat_activity
 WHERE backend_type = 'pg_topics segment' AND wait_event_type = 'Lock'})
  or die 'the maker never waited for the lock';
$t0 = time;
is( $node->safe_psql('victim',
		q{SELECT count(*) FROM topics.produce_batch('hol_b', ARRAY['a', 'b'])}),
	'2', 'a producer of another topic gets its segment');
$took = time - $t0;
cmp_ok($took, '<', 1.5, sprintf('while the maker also waits for the lock (%.2f s)', $took));
$blocked->query_until(qr/done/, '');
like($blocked->{stderr}, qr/no segment was added to partition 0 of topic "hol_a" within 2000 ms/,
	'the blocked producer gives up at its own timeout, saying why');
$blocked->quit;
$holder->query_safe('COMMIT');
$holder->quit;
is( $node->safe_psql('victim',
		q{SELECT count(*) FROM topics.produce_batch('hol_a', ARRAY['a', 'b'])}),
	'2', 'once the lock is gone, the partition grows again');

# 4. with room for two makers, three databases that keep producing
new_db('m1', 1);
new_db('m2', 1);
new_db('m3', 1);
my @busy;
for my $db ('m1', 'm2')
{
	my $s = $node->background_psql($db);
	$s->query_until(qr/producing/, q{
\echo producing
DO $$ BEGIN
  FOR i IN 1 .. 150 LOOP
    PERFORM topics.produce('t', 'x');
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
});
	push @busy, $s;
}
$node->poll_query_until('postgres', q{
SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'pg_topics segment'})
  or die 'the two makers never ran';
is( $node->safe_psql('m3', q{
SET pg_topics.segment_create_timeout = 10000;
SELECT count(*) FROM topics.produce_batch('t', ARRAY['a', 'b', 'c'])}),
	'3', 'a third database gets a maker while two others keep theirs busy');
cmp_ok($node->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_topics segment'}),
	'<=', 2, 'never more makers than allowed');
$_->quit for @busy;

# 5. both maker slots held by makers that wait for locks: a producer of a
# third database that gets no maker gives up at its own timeout, not at
# twice it (each retry used to wait a fresh timeout), saying why
$node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_topics segment'})
  or die 'the makers never exited';
my (@holders, @waiters);
for my $db ('m1', 'm2')
{
	my $h = $node->background_psql($db);
	$h->query_safe(q{BEGIN; LOCK TABLE topics_data."t$0" IN SHARE UPDATE EXCLUSIVE MODE});
	push @holders, $h;
	my $w = $node->background_psql($db, on_error_stop => 0);
	$w->query_safe('SET pg_topics.segment_create_timeout = 8000');
	$w->query_until(qr/asking/, q{
\echo asking
SELECT count(*) FROM topics.produce_batch('t', ARRAY['a', 'b']);
\echo done
});
	push @waiters, $w;
}
$node->poll_query_until('postgres', q{
SELECT count(*) = 2 FROM pg_stat_activity
 WHERE backend_type = 'pg_topics segment' AND datname IN ('m1', 'm2')})
  or die 'the two makers never ran';
$t0 = time;
my ($ret3, $out3, $err3) = $node->psql('m3', q{
SET pg_topics.segment_create_timeout = 2000;
SELECT count(*) FROM topics.produce_batch('t', ARRAY['a', 'b', 'c', 'd'])});
$took = time - $t0;
isnt($ret3, 0, 'a producer that gets no maker fails');
like($err3, qr/could not start a worker to add a segment to topic "t"/, 'saying so');
cmp_ok($took, '<', 3.5, sprintf('at its own timeout of 2 s (%.1f s)', $took));
$_->query_until(qr/done/, '') for @waiters;
$_->quit for @waiters;
$_->query_safe('COMMIT') for @holders;
$_->quit for @holders;

$node->stop;
done_testing();
