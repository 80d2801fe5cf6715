
# Copyright (c) 2025, pg_topics contributors

# The join barrier (src/groups/join_window.c): members that join a group
# within pg_topics.rebalance_delay of each other are added in one
# rebalance, as Kafka's coordinator waits group.initial.rebalance.delay.ms.
# Before, every new member rebalanced its group, and every member already
# polling had to join again after each: 64 members joining within a
# second took 29 s to settle (issue 10).
#
# Checked here: 20 members joining together make one generation, all
# current, every partition assigned; with the delay at 0, one generation
# per member as before; a member that already polls is woken once; and a
# window holds the joiners of one role: a role that may not use a group
# adds no member to it.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('join_barrier');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_connections = 60
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('jb', 64);
CREATE ROLE r1 LOGIN;
CREATE ROLE r2 LOGIN;
GRANT SELECT ON topics_data.jb TO r1, r2;});

# 20 clients join group $group at once (pgbench connects them all first)
sub join_together
{
	my ($group, $opts, $name) = @_;
	$node->pgbench(
		"-n -c 20 -j 2 -t 1 $opts", 0, [qr/processed: 20\/20/], [qr/^$/],
		$name,
		{ "join_$group" => "SELECT generation FROM topics.join('$group', 'jb', 'm' || :client_id);" });
}

join_together('together', '', '20 members join a group at once');
is( $node->safe_psql('postgres', q{
SELECT generation, members FROM topics.groups WHERE group_name = 'together'}),
	'1|20', 'one rebalance for the 20');
is( $node->safe_psql('postgres', q{
SELECT bool_and(current), sum(cardinality(partitions)), min(cardinality(partitions))
  FROM topics.group_members WHERE group_name = 'together'}),
	't|64|3', 'all current, every partition assigned, shared out');

# a known member that joins again (after a rebalance) waits for nobody
is( $node->safe_psql('postgres', q{
SET pg_topics.rebalance_delay = '5s';
SELECT generation, clock_timestamp() - statement_timestamp() < interval '2.5 s'
  FROM topics.join('together', 'jb', 'm3');}),
	'1|t', 'a known member joins again at once');

# a member name longer than a window holds joins alone, whole (review 4:
# a cut copy of it was added as a second member)
is( $node->safe_psql('postgres', q{
SELECT generation, cardinality(partitions) FROM topics.join('long', 'jb', repeat('m', 70));
SELECT count(*), max(length(member)) FROM topics.group_members WHERE group_name = 'long';}),
	"1|64\n1|70", 'a member of a long name joins once, under its whole name');

$ENV{PGOPTIONS} = '-c pg_topics.rebalance_delay=0';
join_together('alone', '', '20 members join a group at once, no delay');
delete $ENV{PGOPTIONS};
is( $node->safe_psql('postgres', q{
SELECT generation, members FROM topics.groups WHERE group_name = 'alone'}),
	'20|20', 'with pg_topics.rebalance_delay = 0, a rebalance per member');

# a member that polls is woken by the one rebalance of 10 newcomers
$node->safe_psql('postgres', q{SELECT topics.join('polled', 'jb', 'first')});
my $poller = $node->background_psql('postgres');
$poller->query_until(qr/polling/, q{
\echo polling
SELECT count(*) FROM topics.poll('polled', 'jb', 'first', 10, '60 s');
});
$node->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event = 'Extension'
   AND query LIKE '%topics.poll(%'})
  or die 'the poll never waited';
$node->pgbench(
	'-n -c 10 -j 2 -t 1', 0, [qr/processed: 10\/10/], [qr/^$/],
	'10 members join a group with a waiting member',
	{ 'join_polled' => "SELECT generation FROM topics.join('polled', 'jb', 'n' || :client_id);" });
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM pg_stat_activity WHERE wait_event = 'Extension'
   AND query LIKE '%topics.poll(%'}),
	'the rebalance woke the waiting poll, well before its 60 s');
$poller->quit;
is( $node->safe_psql('postgres', q{
SELECT generation, members FROM topics.groups WHERE group_name = 'polled'}),
	'2|11', 'one rebalance for the 10 newcomers');

# Wait until a background session runs a join of group $group: the joins
# below must come while its window is open, after it opened it.
sub join_started
{
	my ($group) = @_;
	$node->poll_query_until('postgres', qq{
SELECT count(*) > 0 FROM pg_stat_activity
 WHERE state = 'active' AND pid <> pg_backend_pid()
   AND query LIKE '%topics.join(''$group''%'})
	  or die "the join of group $group did not start";
}

# two roles join a new group in the same moment: one role's members get
# it, the other role's are refused (42501) and are not members
my $a = $node->background_psql('postgres', on_error_stop => 0);
my $b = $node->background_psql('postgres', on_error_stop => 0);
$a->query_safe('SET ROLE r1');
$b->query_safe('SET ROLE r2');
$a->query_until(qr/joining/, q{
\echo joining
SELECT generation FROM topics.join('contested', 'jb', 'mine');
});
$b->query_until(qr/joining/, q{
\echo joining
SELECT generation FROM topics.join('contested', 'jb', 'theirs');
});
$a->quit;
$b->quit;
is( $node->safe_psql('postgres', q{
SELECT count(*), count(DISTINCT owner) FROM topics.group_members m
  JOIN topics.consumer_group g ON g.topic = m.topic AND g.name = m.group_name
 WHERE m.group_name = 'contested'}),
	'1|1', 'a group made in the same moment holds the members of one role only');

# a member whose join rolls back after another member of its window added
# it (review 4) is expired at the worker's next round, not after its
# session timeout (45 s)
my $rb = $node->background_psql('postgres');
$rb->query_until(qr/joining/, q{
SET pg_topics.rebalance_delay = '1s';
\echo joining
BEGIN;
SELECT generation FROM topics.join('gA', 'jb', 'a');
SELECT pg_sleep(2);
ROLLBACK;
});
join_started('gA');
my $t0 = time();
is( $node->safe_psql('postgres', q{SELECT generation FROM topics.join('gA', 'jb', 'b')}),
	'1', 'b joins in the window of a');
$rb->quit;
ok( $node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM topics.group_members WHERE group_name = 'gA'}),
	'the member whose join rolled back goes');
cmp_ok(time() - $t0, '<', 20, 'at the next round, not after its session timeout');
is( $node->safe_psql('postgres', q{
SELECT member, cardinality(partitions) FROM topics.join('gA', 'jb', 'b')}),
	'b|64', 'and b gets every partition');

# review 5: the member that opens a window asks for a strategy and an
# auto_offset_reset, another joins 50 ms later with neither: each window
# holds the joiners of the same options, so the first creates the group
# with its own, whoever adds the other
$node->safe_psql('postgres', q{SELECT topics.produce('jb', 'old', partition => p) FROM generate_series(0, 63) p});
my $first = $node->background_psql('postgres', on_error_stop => 0);
$first->query_until(qr/joining/, q{
SET pg_topics.rebalance_delay = '300ms';
\echo joining
SELECT generation FROM topics.join('opts', 'jb', 'first', strategy => 'roundrobin', auto_offset_reset => 'earliest');
});
join_started('opts');
$node->safe_psql('postgres', q{
SET pg_topics.rebalance_delay = '300ms';
SELECT generation FROM topics.join('opts', 'jb', 'second')});
$first->quit;
is( $node->safe_psql('postgres', q{
SELECT strategy, auto_offset_reset, members FROM topics.groups WHERE group_name = 'opts'}),
	'roundrobin|earliest|2', 'the group has the options of its first member, and both members');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM topics.poll('opts', 'jb', 'second', 1000)}),
	'32', 'the other member reads its partitions from the earliest message');

# review 5: a join rolled back with its savepoint leaves no member behind
# past the worker's next round, and the others of its window need not
# wait for the end of its transaction
my $sp = $node->background_psql('postgres');
$sp->query_until(qr/joining/, q{
SET pg_topics.rebalance_delay = '300ms';
\echo joining
BEGIN;
SAVEPOINT a;
SELECT generation FROM topics.join('saved', 'jb', 'm1');
ROLLBACK TO a;
SELECT pg_sleep(5);
COMMIT;
});
join_started('saved');
$t0 = time();
$node->safe_psql('postgres', q{
SET pg_topics.rebalance_delay = '300ms';
SELECT generation FROM topics.join('saved', 'jb', 'm2')});
cmp_ok(time() - $t0, '<', 4, 'a joiner does not wait for the transaction whose savepoint added it');
ok( $node->poll_query_until('postgres', q{
SELECT string_agg(member, ',') = 'm2' FROM topics.group_members WHERE group_name = 'saved'}),
	'the member whose savepoint rolled back goes');
cmp_ok(time() - $t0, '<', 20, 'at the next round, not after its session timeout');
$sp->quit;

# review 5: a member whose join was cancelled while it waited in its
# window, which another then added in a transaction open for longer than
# the heartbeats' 10 s grace, goes at the worker's next round after that
# one commits, not after its session timeout
my $adder = $node->background_psql('postgres');
$adder->query_until(qr/joining/, q{
SET pg_topics.rebalance_delay = '1s';
\echo joining
BEGIN;
SELECT generation FROM topics.join('late', 'jb', 'y');
SELECT pg_sleep(14);
COMMIT;
});
join_started('late');
my ($ret, $out, $err) = $node->psql('postgres', q{
SET statement_timeout = '300ms';
SELECT generation FROM topics.join('late', 'jb', 'x')});
isnt($ret, 0, 'a joiner is cancelled while it waits in its window');
ok( $node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM topics.groups WHERE group_name = 'late'}),
	'the other adds both and commits');
$t0 = time();
ok( $node->poll_query_until('postgres', q{
SELECT string_agg(member, ',') = 'y' FROM topics.group_members WHERE group_name = 'late'}),
	'the member whose join was cancelled goes');
cmp_ok(time() - $t0, '<', 20, 'at the next round, not after its session timeout');
$adder->quit;

$node->stop;
done_testing();
