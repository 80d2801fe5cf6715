
# Copyright (c) 2025, pg_topics contributors

# What wakes a queue read that waits (DESIGN.md section 7): a producer's
# commit wakes about as many waiting reads as it made messages, not all of
# them; a message given back (a rollback, a nack) wakes one; nothing wakes
# them by polling.  Four sessions wait in topics.consume(..., max_wait =>
# '60 s') on an empty queue:
# - one message committed: one of them returns it, three still wait;
# - two messages committed in one transaction: two more return;
# - a consumer that took the last message in a transaction rolls back: the
#   last waiting session gets it;
# - a receiver nacks its lease: a new waiting session gets it;
# - ROLLBACK PREPARED of a transaction that took one: a new waiting session
#   gets it; COMMIT PREPARED of one that filled a window: a session waiting
#   past it gets the next.
# Every session that returned did so long before its max_wait.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('queue_wake');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
max_prepared_transactions = 2
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('wq', 1, 'queue');
});

my @waiters;

# start_waiter NAME [TOPIC]: a session that waits up to 60 s for one message
# of TOPIC (wq), and
# prints what it took and how long it waited.
sub start_waiter
{
	my ($name, $topic) = @_;
	$topic //= 'wq';
	my $w = { name => $name, out => '', err => '' };
	$w->{h} = IPC::Run::start(
		[
			'psql', '-X', '-At', '-d',
			$node->connstr('postgres') . " application_name=$name", '-c',
			q{SELECT coalesce(string_agg(convert_from(value, 'UTF8'), ','), 'none')
			         || ' ' || (clock_timestamp() - now() < interval '30 s')
			    FROM topics.consume('} . $topic . q{', 1, '60 s')}
		],
		'>', \$w->{out}, '2>', \$w->{err});
	push @waiters, $w;
	return $w;
}

# waiting: how many of the sessions named like waiter% sleep in a read
sub waiting
{
	return $node->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity
 WHERE application_name LIKE 'waiter%' AND wait_event = 'Extension'});
}

# waits_until NAME N: polls until N sessions named like NAME sleep in a read
sub waits_until
{
	my ($name, $n) = @_;
	return $node->poll_query_until('postgres', qq{
SELECT count(*) = $n FROM pg_stat_activity
 WHERE application_name LIKE '$name' AND wait_event = 'Extension'});
}

# done: the sessions that returned, and what they printed
sub done
{
	my @d;
	for my $w (@waiters)
	{
		$w->{h}->pump_nb;
		push @d, $w if !$w->{h}->pumpable;
	}
	return @d;
}

start_waiter("waiter$_") for 1 .. 4;
ok(waits_until('waiter%', 4),
	'four sessions wait for the queue');

$node->safe_psql('postgres', q{SELECT topics.produce('wq', 'm1'::text)});
ok(waits_until('waiter%', 3),
	'one message: one session woke');
# long enough for any other wake-up to show
sleep 1;
is(waiting(), '3', 'one message woke one session, the others still wait');

$node->safe_psql('postgres', q{
SELECT count(*) FROM topics.produce_batch('wq', ARRAY['m2', 'm3'])});
ok(waits_until('waiter%', 1),
	'two messages in one commit: two more sessions woke');
sleep 1;
is(waiting(), '1', 'and the fourth still waits');

# The fourth takes the next message.
$node->safe_psql('postgres', q{SELECT topics.produce('wq', 'm4'::text)});
ok(waits_until('waiter%', 0),
	'the fourth woke for the next message');

# A message a transaction took and gives back by rolling back wakes a
# session waiting for it.
$node->safe_psql('postgres', q{SELECT topics.produce('wq', 'm5'::text)});
my ($in, $out, $err) = ('', '', '');
my $taker = IPC::Run::start([ 'psql', '-X', '-At', '-d', $node->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "BEGIN;\nSELECT 'took ' || string_agg(convert_from(value, 'UTF8'), ',') FROM topics.consume('wq', 1);\n";
$taker->pump until $out =~ /took m5/;
start_waiter('waiter5');
ok(waits_until('waiter5', 1),
	'a fifth session waits while a transaction holds m5');
$in .= "ROLLBACK;\n";
$taker->finish;
ok(waits_until('waiter5', 0),
	'the rollback woke it');

# A lease given back by a nack wakes a session waiting for it.
$node->safe_psql('postgres', q{SELECT topics.produce('wq', 'm6'::text)});
my $id = $node->safe_psql('postgres', q{
SELECT delivery_id FROM topics.receive('wq', '1 hour')});
start_waiter('waiter6');
ok(waits_until('waiter6', 1),
	'a sixth session waits while m6 is leased');
$node->safe_psql('postgres', qq{SELECT topics.nack('wq', ARRAY[$id])});
ok(waits_until('waiter6', 0),
	'the nack woke it');

# A message a prepared transaction took, given back by ROLLBACK PREPARED
# (no backend of that transaction is left to give it back), wakes a
# session waiting for it.
$node->safe_psql('postgres', q{SELECT topics.produce('wq', 'm7'::text)});
$node->safe_psql('postgres', q{
BEGIN;
SELECT count(*) FROM topics.consume('wq', 1);
PREPARE TRANSACTION 'wq_took';});
start_waiter('waiter7');
ok(waits_until('waiter7', 1),
	'a seventh session waits while a prepared transaction holds m7');
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'wq_took'});
ok(waits_until('waiter7', 0),
	'ROLLBACK PREPARED woke it');

# COMMIT PREPARED of a take that fills a window of 2 lets the window move
# on: a session waiting for the message past it wakes.
$node->safe_psql('postgres', q{
SELECT topics.create_topic('ww', 1, 'queue', '{"delivery.window": 2}');
SELECT count(*) FROM topics.produce_batch('ww', ARRAY['w1', 'w2', 'm8']);
BEGIN;
SELECT count(*) FROM topics.consume('ww', 2);
PREPARE TRANSACTION 'ww_took';});
start_waiter('waiter8', 'ww');
ok(waits_until('waiter8', 1),
	'an eighth session waits while a prepared transaction fills the window');
$node->safe_psql('postgres', q{COMMIT PREPARED 'ww_took'});
ok(waits_until('waiter8', 0),
	'COMMIT PREPARED woke it');

$_->{h}->finish for @waiters;
my @took = map { chomp(my $o = $_->{out}); $o } @waiters;
is( join(' ', sort(@took[0 .. 3]), @took[4 .. 7]),
	'm1 true m2 true m3 true m4 true m5 true m6 true m7 true m8 true',
	'each session took one message, long before its max_wait');

$node->stop;
done_testing();
