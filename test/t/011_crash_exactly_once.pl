
# Copyright (c) 2025, pg_topics contributors

# Exactly-once consumption across crashes (DESIGN.md section 2).  Four
# producers (pgbench, 011_crash_exactly_once_producer.sql) write keyed and
# keyless messages with produce and produce_batch, sometimes inside a
# savepoint they roll back, sometimes rolling back the whole transaction,
# pausing while they hold offsets.  Each committed message is recorded in
# table ledger in the producer's transaction, and every offset handed out,
# committed or not, is recorded on a separate ledger node through dblink
# before the producer's transaction ends: that record survives the crashes
# and knows offsets that never reached this server's disk.  Two consumers of
# one group poll and store what they polled (table consumed) in one
# transaction.
#
# The run has four phases.  In each, producers and consumers (re)connect,
# VACUUM runs under load, and the first three phases end in a crash: kill -9
# of a producer's backend (the postmaster then crash-restarts the server),
# an immediate shutdown, and kill -9 of a consumer's backend.  After each
# crash, before any client reconnects, VACUUM runs again (as autovacuum may):
# it removes the rows of transactions the crash aborted and of rolled-back
# ones, so nothing stored shows those offsets were used.  The last phase
# runs to its end and the consumers drain the topic.
#
# Then: the group consumed exactly the committed messages, each once, in
# strictly increasing offset order per partition; the topic holds exactly
# the committed messages; no offset was handed out twice, and after each
# crash every new offset of a partition lies above every offset handed out
# there before it.

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $script = File::Spec->rel2abs(
	dirname(__FILE__) . '/011_crash_exactly_once_producer.sql');
my $partitions = 4;
my @consumers = qw(c1 c2);

# The ledger node: the autonomous record of every offset handed out, and
# the phase (server life) in which it was.
my $ledger = PostgreSQL::Test::Cluster->new('ledger');
$ledger->init;
$ledger->start;
$ledger->safe_psql(
	'postgres', q{
CREATE TABLE phase (n int NOT NULL);
INSERT INTO phase VALUES (0);
CREATE FUNCTION current_phase() RETURNS int
LANGUAGE sql STABLE AS 'SELECT n FROM phase';
CREATE TABLE handed_out (
    partition  int NOT NULL,
    msg_offset bigint NOT NULL,
    phase      int NOT NULL DEFAULT current_phase(),
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
});
(my $ledger_connstr = $ledger->connstr('postgres')) =~ s/'/''/g;

my $node = PostgreSQL::Test::Cluster->new('crash_eo');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
pg_topics.worker_naptime = '100ms'
# kill -9 of a backend makes the postmaster crash-restart the server
restart_after_crash = on
# thousands of statements a second: keep the log readable
log_statement = none
});
$node->start;

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_topics;
CREATE EXTENSION dblink;
SELECT topics.create_topic('s', $partitions, 'stream',
                           '{"segment.messages": 2000}');

-- The committed messages, each recorded in the producer's transaction.
CREATE TABLE ledger (
    partition  int NOT NULL,
    msg_offset bigint NOT NULL
);

-- What the group consumed, each row in the transaction that polled it.
CREATE TABLE consumed (
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    partition  int NOT NULL,
    msg_offset bigint NOT NULL,
    member     text NOT NULL
);

-- A row here ends the consumers.
CREATE TABLE stop (at timestamptz NOT NULL DEFAULT now());

CREATE TABLE ledger_node (connstr text NOT NULL);
INSERT INTO ledger_node VALUES ('$ledger_connstr');
});

# produce_step: kind 1 one keyed message, 2 one keyless message, 3 a keyed
# batch of n, 4 a keyless batch of n.  Every offset handed out is recorded
# on the ledger node (dblink_exec commits there at once), then the messages
# go into ledger, in the caller's transaction.
$node->safe_psql(
	'postgres', q{
CREATE FUNCTION produce_step(kind int, n int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    got topics.produced[];
BEGIN
    CASE kind
    WHEN 1 THEN
        got := ARRAY[topics.produce('s', 'single-keyed'::text,
                                    md5(random()::text))];
    WHEN 2 THEN
        got := ARRAY[topics.produce('s', 'single'::text, NULL::text)];
    WHEN 3 THEN
        got := ARRAY(SELECT p FROM topics.produce_batch('s',
                         array_fill('batch-keyed'::text, ARRAY[n]),
                         ARRAY(SELECT md5(random()::text)
                                 FROM generate_series(1, n))) p);
    ELSE
        got := ARRAY(SELECT p FROM topics.produce_batch('s',
                         array_fill('batch'::text, ARRAY[n])) p);
    END CASE;
    IF NOT coalesce('ledger' = ANY (dblink_get_connections()), false) THEN
        PERFORM dblink_connect('ledger', (SELECT connstr FROM ledger_node));
    END IF;
    PERFORM dblink_exec('ledger',
        'INSERT INTO handed_out (partition, msg_offset) VALUES '
        || (SELECT string_agg(format('(%s, %s)', g.partition, g.msg_offset), ', ')
              FROM unnest(got) g));
    INSERT INTO ledger (partition, msg_offset)
    SELECT g.partition, g.msg_offset FROM unnest(got) g;
    RETURN cardinality(got);
END
$$;
});

# A consumer: join, then poll and store in one transaction, again and
# again.  The poll runs in a block with an exception handler: when it fails
# its stored rows and position moves are undone together.  A member of an
# older generation (55000) or one that is no longer known (42704) joins
# again; any other error ends the consumer.  Told to stop, it leaves.
$node->safe_psql(
	'postgres', q{
CREATE PROCEDURE consumer(g text, t text, me text)
LANGUAGE plpgsql AS $$
DECLARE
    rejoin boolean := true;
BEGIN
    LOOP
        EXIT WHEN EXISTS (SELECT FROM stop);
        IF rejoin THEN
            PERFORM topics.join(g, t, me, '5 s',
                                auto_offset_reset => 'earliest');
            rejoin := false;
            COMMIT;
        END IF;
        BEGIN
            INSERT INTO consumed (partition, msg_offset, member)
            SELECT p.partition, p.msg_offset, me
              FROM topics.poll(g, t, me, 50, '20 ms') p;
        EXCEPTION
            WHEN object_not_in_prerequisite_state OR undefined_object THEN
                rejoin := true;
        END;
        COMMIT;
    END LOOP;
    PERFORM topics.leave(g, t, me);
    COMMIT;
END
$$;
});

my %consumer;

sub start_consumers
{
	for my $me (@consumers)
	{
		my $c = { out => '', err => '' };
		$c->{h} = IPC::Run::start(
			[
				'psql', '-X', '-v', 'ON_ERROR_STOP=1',
				'-d', $node->connstr('postgres'),
				'-c', "CALL consumer('g', 's', '$me')"
			],
			'>', \$c->{out}, '2>', \$c->{err},
			IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
		$consumer{$me} = $c;
	}
	return;
}

# Wait for the consumers' ends; with $ok, each must have ended cleanly.
sub finish_consumers
{
	my ($ok) = @_;
	for my $me (@consumers)
	{
		my $c = $consumer{$me};
		my $ended = $c->{h}->finish;
		if ($ok)
		{
			ok($ended, "consumer $me ended without error") or diag($c->{err});
		}
		else
		{
			note "consumer $me after the crash: $c->{err}";
		}
	}
	return;
}

my ($bench, $bench_out, $bench_err);

sub start_producers
{
	my @duration = @_;
	($bench_out, $bench_err) = ('', '');
	$bench = IPC::Run::start(
		[
			'pgbench', '-n', '-c', '4', '-j', '2', @duration,
			'-f', $script, '-h', $node->host, '-p', $node->port, 'postgres'
		],
		'>', \$bench_out, '2>', \$bench_err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return;
}

sub count_of
{
	my ($table) = @_;
	return $node->safe_psql('postgres', "SELECT count(*) FROM $table");
}

# Wait until the ledger and consumed tables grew by the given numbers of
# rows since the marks.
sub wait_for_progress
{
	my ($ledger_mark, $ledger_more, $consumed_mark, $consumed_more) = @_;
	$node->poll_query_until(
		'postgres', qq{
SELECT (SELECT count(*) FROM ledger) >= $ledger_mark + $ledger_more
   AND (SELECT count(*) FROM consumed) >= $consumed_mark + $consumed_more})
	  or die "Timed out waiting for producers and consumers to progress";
	return;
}

# kill -9 of a backend: the postmaster ends every other process at once and
# restarts the server with crash recovery.
sub kill9_backend
{
	my ($what, $condition) = @_;
	$node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE $condition")
	  or die "Timed out waiting for a $what backend";
	my $pid = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE $condition LIMIT 1");
	my $log_offset = -s $node->logfile;
	note "kill -9 of $what backend $pid";
	kill 'KILL', $pid;
	$node->wait_for_log(qr/all server processes terminated; reinitializing/,
		$log_offset);
	$node->wait_for_log(qr/database system is ready to accept connections/,
		$log_offset);
	return;
}

my @crashes = (
	sub {
		kill9_backend('producer',
			q{query LIKE 'SELECT produce_step(%' AND backend_xid IS NOT NULL});
	},
	sub {
		note 'immediate shutdown';
		$node->stop('immediate');
		$node->start;
	},
	sub {
		kill9_backend('consumer',
			q{query LIKE 'CALL consumer(%' AND state = 'active'});
	});

for my $phase (0 .. scalar(@crashes))
{
	my $last = $phase == scalar(@crashes);
	$ledger->safe_psql('postgres', "UPDATE phase SET n = $phase");

	my ($ledger_mark, $consumed_mark) = (count_of('ledger'), count_of('consumed'));
	start_consumers();
	# The last phase runs a fixed number of transactions (enough for the
	# waits below); the others run until the crash ends them.
	start_producers($last ? ('-t', 300) : ('-T', 600));

	wait_for_progress($ledger_mark, 1500, $consumed_mark, 500);
	$node->safe_psql('postgres', 'VACUUM topics_data.s');
	wait_for_progress($ledger_mark, 3000, $consumed_mark, 1000);

	last if $last;

	$crashes[$phase]->();
	$bench->finish;
	note "pgbench after crash " . ($phase + 1) . ":\n$bench_err";
	finish_consumers(0);
	$node->poll_query_until('postgres', 'SELECT true')
	  or die "Timed out waiting for the server after crash " . ($phase + 1);
	pass('the server is back after crash ' . ($phase + 1));

	# Before anything produces again: VACUUM removes the rows of the
	# transactions the crash aborted.
	$node->safe_psql('postgres', 'VACUUM topics_data.s');
}

# The last phase: the producers run to their end, the consumers drain.
ok($bench->finish, 'the producers of the last phase ran without error')
  or diag($bench_err);
$node->poll_query_until(
	'postgres', q{
SELECT bool_and(lso = log_end AND oldest_producer_xid IS NULL)
  FROM topics.partitions WHERE topic = 's'})
  or die "Timed out waiting for the producers to end";
$node->poll_query_until(
	'postgres', qq{
SELECT count(*) = $partitions AND bool_and(coalesce(lag, 1) = 0)
  FROM topics.group_lag WHERE group_name = 'g' AND topic = 's'})
  or die "Timed out waiting for the consumers to drain the topic";
$node->safe_psql('postgres', 'INSERT INTO stop DEFAULT VALUES');
finish_consumers(1);

# Exactly once.
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    SELECT partition, msg_offset FROM ledger
    EXCEPT
    SELECT partition, msg_offset FROM consumed) x}),
	'0',
	'every committed message was consumed');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    SELECT partition, msg_offset FROM consumed
    EXCEPT
    SELECT partition, msg_offset FROM ledger) x}),
	'0',
	'only committed messages were consumed');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    SELECT partition, msg_offset FROM consumed
     GROUP BY 1, 2 HAVING count(*) > 1) x}),
	'0',
	'no message was consumed twice');
is( $node->safe_psql(
		'postgres',
		'SELECT (SELECT count(*) FROM consumed) = (SELECT count(*) FROM ledger)'),
	't',
	'as many messages consumed as committed');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(format('partition %s: %s after %s (%s)', partition, msg_offset,
                         previous, member), '; ' ORDER BY seq)
  FROM (SELECT seq, partition, msg_offset, member,
               lag(msg_offset) OVER (PARTITION BY partition ORDER BY seq) AS previous
          FROM consumed) x
 WHERE msg_offset <= previous}),
	'',
	'offsets strictly increase per partition in consumption order');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    (SELECT partition, msg_offset FROM ledger
     EXCEPT ALL SELECT partition, msg_offset FROM topics_data.s)
    UNION ALL
    (SELECT partition, msg_offset FROM topics_data.s
     EXCEPT ALL SELECT partition, msg_offset FROM ledger)) x}),
	'0',
	'the topic holds exactly the committed messages');

# No offset handed out twice, across the crashes.
my $handed_out = $ledger->safe_psql(
	'postgres', q{
SELECT partition, msg_offset FROM handed_out ORDER BY 1, 2});
my %handed;
$handed{$_}++ for split /\n/, $handed_out;
my @twice = grep { $handed{$_} > 1 } sort keys %handed;
is(scalar(@twice), 0, 'no offset was handed out twice')
  or diag('offsets (partition|offset) handed out more than once: '
	  . join(', ', @twice[ 0 .. ($#twice < 19 ? $#twice : 19) ]));
is( $ledger->safe_psql(
		'postgres', q{
SELECT string_agg(format('partition %s, phase %s: first offset %s, earlier max %s',
                         partition, phase, first, earlier), '; ')
  FROM (SELECT partition, phase, min(msg_offset) AS first,
               (SELECT max(msg_offset) FROM handed_out e
                 WHERE e.partition = h.partition AND e.phase < h.phase) AS earlier
          FROM handed_out h GROUP BY partition, phase) x
 WHERE first <= earlier}),
	'',
	'after each crash, new offsets lie above every offset handed out before it'
);
my $committed_list =
  $node->safe_psql('postgres', 'SELECT partition, msg_offset FROM ledger');
is( scalar(grep { !$handed{$_} } split /\n/, $committed_list),
	0,
	'the ledger node recorded every committed offset');

# The run did what it claims.
my ($committed, $offsets_out, $phases) = (
	count_of('ledger'),
	$ledger->safe_psql('postgres', 'SELECT count(*) FROM handed_out'),
	$ledger->safe_psql('postgres', 'SELECT count(DISTINCT phase) FROM handed_out'));
note "messages committed: $committed, offsets handed out: $offsets_out, "
  . "server lives with produces: $phases";
note "per phase (partition: handed out, min-max): "
  . $ledger->safe_psql(
	'postgres', q{
SELECT string_agg(format('phase %s p%s: %s, %s-%s', phase, partition, n, lo, hi),
                  '; ' ORDER BY phase, partition)
  FROM (SELECT phase, partition, count(*) n, min(msg_offset) lo, max(msg_offset) hi
          FROM handed_out GROUP BY 1, 2) x});
is($phases, scalar(@crashes) + 1, 'producers produced in every server life');
cmp_ok($offsets_out, '>', $committed,
	'rollbacks and crashes left offsets that never committed');
cmp_ok(
	$node->safe_psql('postgres', 'SELECT count(*) FROM topics.segment'),
	'>', $partitions, 'segments rolled over during the run');

$node->stop;
$ledger->stop;

done_testing();
