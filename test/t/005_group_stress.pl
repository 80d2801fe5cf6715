
# Copyright (c) 2025, pg_topics contributors

# Exactly-once consumption by a consumer group under load.  Three producers
# (pgbench, group_producer.sql) write batches, keyed and keyless, to a
# 6-partition topic, one transaction in five rolling back.  Three
# in-database consumers (the procedure consumer() below) each poll and
# store what they polled in ONE transaction: the group's positions move
# with the stored rows or not at all.  During the load one consumer leaves
# the group and joins again, and another one's backend is terminated, is
# expired by the worker after its 1 s session timeout, and is started
# again.  Every rebalance makes the other members rejoin (55000).  At the
# end every committed message of the topic is in the results exactly once.

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $script =
  File::Spec->rel2abs(dirname(__FILE__) . '/group_producer.sql');
my $partitions = 6;
my $all_partitions = '{' . join(',', 0 .. $partitions - 1) . '}';

my $node = PostgreSQL::Test::Cluster->new('group_stress');
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
SELECT topics.create_topic('s', $partitions, 'stream',
                           '{"segment.messages": 5000}');

-- What the consumers stored, each row in the transaction that polled it.
CREATE TABLE results (
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    partition  int NOT NULL,
    msg_offset bigint NOT NULL,
    member     text NOT NULL
);

-- The consumers' joins (with the reason) and leaves.
CREATE TABLE consumer_log (
    seq    bigint GENERATED ALWAYS AS IDENTITY,
    member text NOT NULL,
    pid    int NOT NULL DEFAULT pg_backend_pid(),
    event  text NOT NULL,
    detail text
);

-- A row here asks that consumer to leave the group.
CREATE TABLE leave_request (member text PRIMARY KEY);

-- A row here ends the consumers.
CREATE TABLE stop (at timestamptz NOT NULL DEFAULT now());
});

# A consumer: join, then poll and store in one transaction, again and
# again.  The poll runs in a block with an exception handler, that is a
# subtransaction: when the poll fails, its stored rows and its position
# moves are undone together.  A member of an older generation (55000) joins
# again and gets its new partitions; a member that is no longer one (42704:
# expired) joins as a new member.  Any other error ends the consumer.  When
# asked to leave, it leaves, then waits for advisory lock 1 (held by the
# test) before joining again.  Told to stop, it leaves the group.
$node->safe_psql(
	'postgres', q{
CREATE PROCEDURE consumer(g text, t text, me text)
LANGUAGE plpgsql AS $$
DECLARE
    rejoin text := 'start';
    parts text;
    left_group boolean;
    n bigint;
    polls bigint := 0;
    got bigint := 0;
BEGIN
    LOOP
        EXIT WHEN EXISTS (SELECT FROM stop);
        IF rejoin IS NOT NULL THEN
            INSERT INTO consumer_log (member, event, detail)
            SELECT me, 'join',
                   rejoin || ' -> generation ' || j.generation
                          || ', partitions ' || j.partitions::text
              FROM topics.join(g, t, me, '1 s',
                               auto_offset_reset => 'earliest') j;
            rejoin := NULL;
            COMMIT;
        END IF;

        IF EXISTS (SELECT FROM leave_request WHERE member = me) THEN
            DELETE FROM leave_request WHERE member = me;
            SELECT m.partitions::text INTO parts
              FROM topics.group_members m
             WHERE m.group_name = g AND m.topic = t AND m.member = me;
            left_group := topics.leave(g, t, me);
            INSERT INTO consumer_log (member, event, detail)
            VALUES (me, 'leave', 'left ' || left_group || ', had ' || parts);
            COMMIT;
            PERFORM pg_advisory_xact_lock_shared(1);
            COMMIT;
            rejoin := 'left';
            CONTINUE;
        END IF;

        BEGIN
            INSERT INTO results (partition, msg_offset, member)
            SELECT p.partition, p.msg_offset, me
              FROM topics.poll(g, t, me, 50, '20 ms') p;
            GET DIAGNOSTICS n = ROW_COUNT;
            got := got + n;
        EXCEPTION
            WHEN object_not_in_prerequisite_state THEN
                rejoin := '55000 ' || SQLERRM;
            WHEN undefined_object THEN
                rejoin := '42704 ' || SQLERRM;
        END;
        polls := polls + 1;
        COMMIT;
    END LOOP;
    PERFORM topics.leave(g, t, me);
    COMMIT;
    RAISE NOTICE 'consumer % done: % polls, % messages', me, polls, got;
END
$$;
});

my $timeout = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);

# Consumers run in psql sessions of their own.
my %consumer;

sub start_consumer
{
	my ($me) = @_;
	my $c = { out => '', err => '' };
	$c->{h} = IPC::Run::start(
		[
			'psql', '-X', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr('postgres'),
			'-c', "CALL consumer('g', 's', '$me')"
		],
		'>', \$c->{out}, '2>', \$c->{err}, $timeout);
	$consumer{$me} = $c;
	return;
}

# Wait until the members are exactly @members, all of the group's current
# generation, and own every partition between them.
sub wait_for_members
{
	my @members = @_;
	my $list = join(',', @members);
	$node->poll_query_until(
		'postgres', qq{
SELECT string_agg(member, ',' ORDER BY member) = '$list'
       AND bool_and(current)
       AND (SELECT array_agg(p ORDER BY p)
              FROM topics.group_members m, unnest(m.partitions) p
             WHERE m.group_name = 'g')::text = '$all_partitions'
  FROM topics.group_members WHERE group_name = 'g'})
	  or die "Timed out waiting for the members $list to own every partition";
	return;
}

# Wait until the group consumed from every partition after the rows
# stored so far.
sub wait_for_progress_everywhere
{
	my ($what) = @_;
	my $mark =
	  $node->safe_psql('postgres', 'SELECT coalesce(max(seq), 0) FROM results');
	$node->poll_query_until(
		'postgres', qq{
SELECT count(DISTINCT partition) = $partitions FROM results WHERE seq > $mark})
	  or die "Timed out waiting for progress on every partition $what";
	return;
}

# The test holds advisory lock 1: a consumer that left waits for it.
my $ctl = $node->background_psql('postgres');
$ctl->query_safe('SELECT pg_advisory_lock(1)');

start_consumer($_) for qw(c1 c2 c3);
wait_for_members(qw(c1 c2 c3));

my ($bench_out, $bench_err) = ('', '');
my $bench = IPC::Run::start(
	[
		'pgbench', '-n', '-c', '3', '-j', '3', '-T', '25', '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$bench_out, '2>', \$bench_err, $timeout);

$node->poll_query_until(
	'postgres', q{
SELECT count(*) > 2000 AND count(DISTINCT member) = 3 FROM results})
  or die "Timed out waiting for the consumers to consume";

# c2 leaves; c1 and c3 take over its partitions, then c2 joins again.
$node->safe_psql('postgres', q{INSERT INTO leave_request VALUES ('c2')});
$node->poll_query_until(
	'postgres', q{
SELECT EXISTS (SELECT FROM pg_locks l JOIN consumer_log c ON c.pid = l.pid
                WHERE l.locktype = 'advisory' AND NOT l.granted
                  AND c.member = 'c2' AND c.event = 'leave')})
  or die "Timed out waiting for c2 to leave";
like(
	$node->safe_psql('postgres',
		q{SELECT detail FROM consumer_log WHERE event = 'leave'}),
	qr/^left true, had \{\d/,
	'c2 left the group, giving up partitions');
wait_for_members(qw(c1 c3));
wait_for_progress_everywhere('after c2 left');
$ctl->query_safe('SELECT pg_advisory_unlock(1)');
$ctl->quit;
wait_for_members(qw(c1 c2 c3));
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM consumer_log
		   WHERE member = 'c2' AND event = 'join' AND detail LIKE 'left ->%'}),
	'1',
	'c2 joined again after leaving');
wait_for_progress_everywhere('after c2 came back');

# c3's backend is terminated; the worker expires c3 and c1 and c2 take over
# its partitions; then c3 starts again.
my $log_offset = -s $node->logfile;
my $c3_pid = $node->safe_psql(
	'postgres', q{
SELECT a.pid FROM pg_stat_activity a
 WHERE a.query = 'CALL consumer(''g'', ''s'', ''c3'')'});
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($c3_pid)"),
	't', 'c3\'s backend is terminated');
$consumer{c3}{h}->finish;
like(
	$consumer{c3}{err},
	qr/terminating connection due to administrator command/,
	'c3 ended with its backend');
$node->wait_for_log(
	qr/expired member "c3" of consumer group "g" of topic "s" after its session timeout/,
	$log_offset);
wait_for_members(qw(c1 c2));
wait_for_progress_everywhere('after c3 was expired');
delete $consumer{c3};
start_consumer('c3');
wait_for_members(qw(c1 c2 c3));
my $log_end_after_events = $node->safe_psql('postgres',
	q{SELECT sum(log_end) FROM topics.partitions WHERE topic = 's'});
wait_for_progress_everywhere('after c3 came back');

# The producers end; the consumers drain the topic.
my $bench_ok = $bench->finish;
ok($bench_ok, 'the producers ran without error') or diag($bench_err);
my ($transactions) =
  $bench_out =~ /number of transactions actually processed: (\d+)/;
$transactions //= 0;
$node->poll_query_until(
	'postgres', q{
SELECT bool_and(lso = log_end AND oldest_producer_xid IS NULL)
  FROM topics.partitions WHERE topic = 's'})
  or die "Timed out waiting for the producers to end";
cmp_ok(
	$node->safe_psql('postgres',
		q{SELECT sum(log_end) FROM topics.partitions WHERE topic = 's'}),
	'>', $log_end_after_events,
	'the producers still produced after the leave and the expiry');

$node->poll_query_until(
	'postgres', qq{
SELECT count(*) = $partitions AND bool_and(coalesce(lag, 1) = 0)
  FROM topics.group_lag WHERE group_name = 'g' AND topic = 's'})
  or die "Timed out waiting for the consumers to drain the topic";

$node->safe_psql('postgres', 'INSERT INTO stop DEFAULT VALUES');
my %per_consumer;
for my $me (sort keys %consumer)
{
	my $c = $consumer{$me};
	ok($c->{h}->finish, "consumer $me ended without error")
	  or diag($c->{err});
	unlike($c->{err}, qr/ERROR/, "no error in consumer $me");
	($per_consumer{$me}) =
	  $c->{err} =~ /(consumer $me done: \d+ polls, \d+ messages)/;
	$per_consumer{$me} //= '';
}
is( $node->safe_psql(
		'postgres',
		q{SELECT members FROM topics.groups WHERE group_name = 'g'}),
	'0',
	'the consumers left the group when they stopped');

# Exactly once.
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    SELECT partition, msg_offset FROM topics_data.s
    EXCEPT
    SELECT partition, msg_offset FROM results) x}),
	'0',
	'every committed message was consumed');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    SELECT partition, msg_offset FROM results
    EXCEPT
    SELECT partition, msg_offset FROM topics_data.s) x}),
	'0',
	'only committed messages were consumed');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) = count(DISTINCT (partition, msg_offset)) FROM results}),
	't',
	'no message was consumed twice');
is( $node->safe_psql(
		'postgres', q{
SELECT (SELECT count(*) FROM results) = (SELECT count(*) FROM topics_data.s)}),
	't',
	'as many messages consumed as committed');

# The rejoins were the ones expected.
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM consumer_log
 WHERE event = 'join'
   AND NOT (detail LIKE 'start ->%' OR detail LIKE 'left ->%'
            OR detail ~ ('^55000 member "c\d" of consumer group "g" has '
                         'generation \d+, the group is at \d+ ->')
            OR detail ~ '^42704 member "c\d" is not in consumer group "g" ->')
}),
	'0',
	'consumers rejoined only after a stale generation or an expiry');
my ($stale, $expired, $generation) = split /\|/, $node->safe_psql(
	'postgres', q{
SELECT count(*) FILTER (WHERE detail LIKE '55000%'),
       count(*) FILTER (WHERE detail LIKE '42704%'),
       (SELECT generation FROM topics.groups WHERE group_name = 'g')
  FROM consumer_log WHERE event = 'join'});
cmp_ok($stale, '>', 0, 'rebalances made members rejoin');

my ($committed, $offsets, $consumed, $segments) = split /\|/,
  $node->safe_psql(
	'postgres', q{
SELECT (SELECT count(*) FROM topics_data.s),
       (SELECT sum(log_end) FROM topics.partitions WHERE topic = 's'),
       (SELECT count(*) FROM results),
       (SELECT count(*) FROM topics.segment)});
note "producer transactions: $transactions; messages committed: $committed, "
  . "offsets handed out: $offsets, segments: $segments";
note "messages consumed: $consumed; group generation: $generation; "
  . "rejoins after 55000: $stale, after 42704: $expired";
note "per member: "
  . $node->safe_psql(
	'postgres', q{
SELECT string_agg(member || ' ' || n, ', ' ORDER BY member)
  FROM (SELECT member, count(*) n FROM results GROUP BY member) x});
note $_ for grep { $_ ne '' } values %per_consumer;
cmp_ok($committed, '>', 10000, 'the producers ran a real load');
cmp_ok($offsets, '>', $committed, 'rolled back transactions left gaps');

$node->stop;

done_testing();
