
# Copyright (c) 2025, pg_topics contributors

# A consumer group member whose client dies is expired by the database's
# worker after its session timeout, and the survivor takes over its
# partitions from the positions the dead member committed.  Member a (a
# long-lived psql session) and member b share a 4-partition topic; a
# commits some polls, then polls more in a transaction that never ends:
# its backend is terminated.  The worker removes a and rebalances; b, which
# keeps heartbeating, is told to rejoin, gets all 4 partitions, and reads
# a's former partitions on from a's committed positions: every message
# once, including those a polled but never committed.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $per_partition = 10;

my $node = PostgreSQL::Test::Cluster->new('group_expiry');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
pg_topics.worker_naptime = '100ms'
});
$node->start;

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('e', 4);
-- offsets 0 to $per_partition - 1 in every partition
SELECT count(*) FROM (
    SELECT topics.produce_batch('e',
               ARRAY(SELECT 'm' || p || '-' || g
                       FROM generate_series(0, $per_partition - 1) g),
               partition => p)
      FROM generate_series(0, 3) p) x;
});

# The launcher and this database's worker are running.
$node->poll_query_until(
	'postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE backend_type = 'pg_topics worker' AND datname = current_database()})
  or die "Timed out waiting for the worker of database postgres";
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM pg_stat_activity
		   WHERE backend_type = 'pg_topics launcher'}),
	'1',
	'pg_stat_activity shows the pg_topics launcher');

# Messages returned by a query as "partition|offset" lines, as a hash.
sub message_set
{
	my ($out) = @_;
	return { map { $_ => 1 } grep { $_ ne '' } split /\n/, $out };
}

# Member a: a client session that stays connected.
my $session_a = $node->background_psql('postgres');
my $a_pid = $session_a->query_safe('SELECT pg_backend_pid()');
like($a_pid, qr/^\d+$/, 'member a has a backend');

is( $session_a->query_safe(
		q{SELECT generation, partitions
		    FROM topics.join('g', 'e', 'a', '1 s',
		                     auto_offset_reset => 'earliest')}),
	'1|{0,1,2,3}',
	'a joins alone and owns every partition');
is( $node->safe_psql(
		'postgres',
		q{SELECT generation, partitions FROM topics.join('g', 'e', 'b', '1 s')}),
	'2|{2,3}',
	'b joins: a rebalance gives it partitions 2 and 3');
is( $session_a->query_safe(
		q{SELECT rejoin FROM topics.heartbeat('g', 'e', 'a')}),
	't',
	'a learns from a heartbeat that it must rejoin');
is( $session_a->query_safe(
		q{SELECT generation, partitions
		    FROM topics.join('g', 'e', 'a', '1 s')}),
	'2|{0,1}',
	'a rejoins with partitions 0 and 1');

# a commits two polls (a poll starts with the partition after the one the
# previous poll started with, so both partitions get a position).
my $a_committed = message_set(
	$session_a->query_safe(
		q{SELECT partition, msg_offset FROM topics.poll('g', 'e', 'a', 6)})
	  . "\n"
	  . $session_a->query_safe(
		q{SELECT partition, msg_offset FROM topics.poll('g', 'e', 'a', 3)}));
is(scalar(keys %$a_committed), 9, 'a committed 9 messages');
my %a_position = map { $_ => 0 } (0, 1);
for (keys %$a_committed)
{
	my ($p, $o) = split /\|/;
	$a_position{$p}++;
}
# the committed positions of partitions 0 and 1 (a's), as "p|offset" lines
sub committed_0_1
{
	return $node->safe_psql(
		'postgres',
		q{SELECT partition, committed FROM topics.group_lag
		   WHERE group_name = 'g' AND partition < 2 ORDER BY partition});
}

ok( $a_position{0} > 0 && $a_position{1} > 0,
	"a read both partitions: $a_position{0} of partition 0, "
	  . "$a_position{1} of partition 1");
is(committed_0_1(), "0|$a_position{0}\n1|$a_position{1}",
	'a\'s positions are committed, from offset 0 on');

# b reads its own partitions.
my $b_before = message_set(
	$node->safe_psql(
		'postgres',
		q{SELECT partition, msg_offset FROM topics.poll('g', 'e', 'b', 1000)}));
is(scalar(keys %$b_before), 2 * $per_partition,
	'b reads all of partitions 2 and 3');

# a polls more in a transaction it never commits.
$session_a->query_safe('BEGIN');
my $a_uncommitted = message_set(
	$session_a->query_safe(
		q{SELECT partition, msg_offset FROM topics.poll('g', 'e', 'a', 4)}));
is(scalar(keys %$a_uncommitted), 4, 'a polls 4 more in an open transaction');
is(committed_0_1(), "0|$a_position{0}\n1|$a_position{1}",
	'the open transaction has not moved the committed positions');

# a's client dies: its backend ends as if the connection dropped.  (b
# heartbeats first, so that its own session timeout runs from here.)
$node->safe_psql('postgres', q{SELECT topics.heartbeat('g', 'e', 'b')});
my $log_offset = -s $node->logfile;
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($a_pid)"),
	't', 'a\'s backend is terminated');
$node->poll_query_until('postgres',
	"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $a_pid)")
  or die "Timed out waiting for a's backend to exit";
$session_a->quit;

# b heartbeats (every 100 ms, the pace of poll_query_until) until it is
# told to rejoin, which happens when the worker has expired a.
$node->poll_query_until('postgres',
	q{SELECT rejoin FROM topics.heartbeat('g', 'e', 'b')})
  or die "Timed out waiting for b to be told to rejoin";
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(member, ',' ORDER BY member)
		    FROM topics.group_members WHERE group_name = 'g'}),
	'b',
	'a is no longer a member; b is');
$node->wait_for_log(
	qr/expired member "a" of consumer group "g" of topic "e" after its session timeout/,
	$log_offset);
my $expired_lines = () =
  slurp_file($node->logfile, $log_offset) =~ /expired member "/g;
is($expired_lines, 1, 'the worker expired one member, a');

my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT * FROM topics.poll('g', 'e', 'a')});
like($err, qr/member "a" is not in consumer group "g"/,
	'the expired member may not poll');

is($node->safe_psql('postgres',
		q{SELECT generation, partitions FROM topics.join('g', 'e', 'b', '1 s')}),
	'3|{0,1,2,3}', 'b rejoins and owns all 4 partitions');

# b reads on from a's committed positions: the messages a polled and never
# committed come again, those a committed do not.
my $b_after = message_set(
	$node->safe_psql(
		'postgres',
		q{SELECT partition, msg_offset FROM topics.poll('g', 'e', 'b', 1000)}));
my @expected;
for my $p (0, 1)
{
	push @expected, map { "$p|$_" } ($a_position{$p} .. $per_partition - 1);
}
is_deeply([ sort keys %$b_after ], [ sort @expected ],
	'b reads a\'s former partitions from a\'s committed positions on');
ok(!(grep { $b_after->{$_} } keys %$a_committed),
	'b reads none of the messages a committed');
ok(!(grep { !$b_after->{$_} } keys %$a_uncommitted),
	'b reads the messages a polled but did not commit');

my %all = (%$a_committed, %$b_before, %$b_after);
is(scalar(keys %all), 4 * $per_partition, 'every message was consumed');
is( scalar(keys %$a_committed) + scalar(keys %$b_before) +
	  scalar(keys %$b_after),
	4 * $per_partition,
	'no message was consumed twice');

# New messages on a's former partitions go to b.
$node->safe_psql(
	'postgres', q{
SELECT topics.produce('e', 'late'::text, NULL::text, p)
  FROM generate_series(0, 3) p});
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(partition || ':' || msg_offset, ',' ORDER BY partition)
		    FROM topics.poll('g', 'e', 'b', 1000)}),
	join(',', map { "$_:$per_partition" } (0 .. 3)),
	'b reads the new messages of all 4 partitions');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(partition || ':' || lag || ':' || member, ','
		                    ORDER BY partition)
		    FROM topics.group_lag WHERE group_name = 'g'}),
	'0:0:b,1:0:b,2:0:b,3:0:b',
	'no lag left, b owns every partition');

$node->stop;

done_testing();
