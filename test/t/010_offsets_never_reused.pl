
# Copyright (c) 2025, pg_topics contributors

# No offset is ever handed out twice (DESIGN.md section 2, "durable
# high-water mark"), and a consumer group therefore never skips a message.
#
# Part 1 is the scenario of the issue.  Two messages are produced, a group
# joins at the log end (auto_offset_reset latest) and polls; a transaction
# produces five messages (offsets 2-6) and rolls back; the group polls again
# and its position moves past the gap to 7.  VACUUM then removes the dead
# rows of the rolled-back transaction, and the server restarts.  If the
# partition's counter is rebuilt from the highest row still stored, the
# next seven messages get offsets 2-8 again and the group, sitting at 7,
# receives only two of them.  The test requires offsets >= 7 and all seven
# messages received.
#
# Part 2 is the crash variant.  Producers hold offsets in open transactions
# when a kill -9 of one of their backends crashes the server (with
# restart_after_crash, as in production).  Every offset a producer was given
# is recorded, before its transaction ends, on a separate ledger node
# through dblink: an autonomous channel that survives the crash and does not
# flush the producers' WAL.  So the ledger knows offsets whose rows never
# reached disk (topic c: the crash loses them) and offsets whose rows are
# removed by VACUUM after the restart (topic v, which also has a rolled-back
# batch at its tail that its group's position has passed).  After the
# restart, every new offset must lie above every offset handed out before
# the crash, no offset may appear twice in the ledger, and each group must
# receive every message committed after the crash.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('reuse');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
restart_after_crash = on
# VACUUM runs when the test says so, never in between
autovacuum = off
});
$node->start;

# ---------------------------------------------------------------------
# Part 1: rollback + VACUUM + restart
# ---------------------------------------------------------------------

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_topics;
CREATE EXTENSION dblink;
SELECT topics.create_topic('t', 1);
});

# The offsets a query returns, comma-separated in offset order.
sub offsets_of
{
	my ($sql) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset) FROM ($sql) x"
	);
}

is( offsets_of(
		q{SELECT * FROM topics.produce_batch('t', ARRAY['m0', 'm1'])}),
	'0,1',
	'two messages at offsets 0 and 1');

is( $node->safe_psql(
		'postgres',
		q{SELECT partitions FROM topics.join('g', 't', 'm',
		                                      auto_offset_reset => 'latest')}
	),
	'{0}',
	'the member owns the only partition');
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM topics.poll('g', 't', 'm')}),
	'0',
	'a group joining at the log end reads nothing');
is( $node->safe_psql(
		'postgres',
		q{SELECT committed FROM topics.group_lag WHERE group_name = 'g'}),
	'2',
	'the group sits at the log end, offset 2');

# Offsets 2-6 are handed out and rolled back: a gap, never to be reused.
is( $node->safe_psql(
		'postgres', q{
BEGIN;
SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset)
  FROM topics.produce_batch('t', ARRAY['r1', 'r2', 'r3', 'r4', 'r5']);
ROLLBACK;
}),
	'2,3,4,5,6',
	'the rolled-back batch held offsets 2 to 6');

is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM topics.poll('g', 't', 'm')}),
	'0',
	'the group finds nothing to read in the gap');
is( $node->safe_psql(
		'postgres',
		q{SELECT committed FROM topics.group_lag WHERE group_name = 'g'}),
	'7',
	'the group position moved past the gap, to 7');
is( $node->safe_psql(
		'postgres',
		q{SELECT log_end FROM topics.partitions WHERE topic = 't'}),
	'7',
	'the log end is 7 before VACUUM and restart');

# VACUUM removes the rolled-back rows: nothing stored shows offsets 2-6 were
# ever used.
$node->safe_psql('postgres', 'VACUUM');
$node->restart;

my $after_restart = offsets_of(
	q{SELECT * FROM topics.produce_batch('t',
	      ARRAY['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'])});
note "offsets of the seven messages produced after VACUUM and restart: "
  . $after_restart;
my @new = split /,/, $after_restart;
is(scalar(@new), 7, 'seven new messages produced');
cmp_ok($new[0], '>=', 7,
	'new offsets start at or above 7: rolled-back offsets 2-6 are not reused'
);
cmp_ok(
	$node->safe_psql(
		'postgres',
		q{SELECT log_end FROM topics.partitions WHERE topic = 't'}),
	'>=', 14,
	'the log end is at least 7 + 7 after the restart');

is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset)
  FROM topics.poll('g', 't', 'm')}),
	'n1,n2,n3,n4,n5,n6,n7',
	'the group receives all seven messages produced after the restart');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset)
  FROM topics.fetch('t', 0, 0)}),
	'm0,m1,n1,n2,n3,n4,n5,n6,n7',
	'the partition holds the two old and seven new messages, in that order');

# ---------------------------------------------------------------------
# Part 2: kill -9 with producers in flight
# ---------------------------------------------------------------------

# The ledger node: every offset a producer was handed, committed there
# before the producer's own transaction ends.
my $ledger = PostgreSQL::Test::Cluster->new('ledger');
$ledger->init;
$ledger->start;
$ledger->safe_psql(
	'postgres', q{
CREATE TABLE handed_out (
    topic      text NOT NULL,
    partition  int NOT NULL,
    msg_offset bigint NOT NULL,
    who        text NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
});
(my $ledger_connstr = $ledger->connstr('postgres')) =~ s/'/''/g;

# produce_logged produces a batch and records the offsets it got on the
# ledger node (dblink_exec commits there at once), then returns them.
$node->safe_psql(
	'postgres', qq{
SELECT topics.create_topic('c', 1);
SELECT topics.create_topic('v', 1);
CREATE TABLE ledger_node (connstr text NOT NULL);
INSERT INTO ledger_node VALUES ('$ledger_connstr');
CREATE FUNCTION produce_logged(p_topic text, p_values text[], p_who text)
RETURNS SETOF topics.produced
LANGUAGE plpgsql AS \$\$
DECLARE
    got topics.produced[];
BEGIN
    got := ARRAY(SELECT p FROM topics.produce_batch(p_topic, p_values) p);
    IF NOT coalesce('ledger' = ANY (dblink_get_connections()), false) THEN
        PERFORM dblink_connect('ledger', (SELECT connstr FROM ledger_node));
    END IF;
    PERFORM dblink_exec('ledger',
        'INSERT INTO handed_out (topic, partition, msg_offset, who) VALUES '
        || (SELECT string_agg(format('(%L, %s, %s, %L)', p_topic, g.partition,
                                     g.msg_offset, p_who), ', ')
              FROM unnest(got) g));
    RETURN QUERY SELECT * FROM unnest(got);
END
\$\$;
});

# Offsets of a topic in the ledger, comma-separated.
sub ledger_offsets
{
	my ($topic, $who) = @_;
	return $ledger->safe_psql(
		'postgres', qq{
SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset)
  FROM handed_out WHERE topic = '$topic' AND who = '$who'});
}

# Values a query returns, comma-separated in offset order.
sub values_of
{
	my ($sql) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset) FROM ($sql) x"
	);
}

# Before the crash: committed messages on both topics, and a rolled-back
# batch at the tail of v.
$node->safe_psql(
	'postgres', q{
SELECT count(*) FROM produce_logged('c', ARRAY['c0', 'c1', 'c2', 'c3', 'c4'], 'committed');
SELECT count(*) FROM produce_logged('v', ARRAY['v0', 'v1', 'v2'], 'committed');
BEGIN;
SELECT count(*) FROM produce_logged('v', ARRAY['rb3', 'rb4', 'rb5'], 'rolled back');
ROLLBACK;
});
is(ledger_offsets('v', 'rolled back'), '3,4,5',
	'v: the rolled-back batch held offsets 3 to 5');

# A group on each topic reads everything committed; on v its position
# passes the rolled-back gap.
for my $t ('c', 'v')
{
	$node->safe_psql('postgres',
		"SELECT topics.join('g$t', '$t', 'm', auto_offset_reset => 'earliest')");
	$node->safe_psql('postgres',
		"SELECT count(*) FROM topics.poll('g$t', '$t', 'm')");
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM topics.poll('g$t', '$t', 'm')"),
		'0', "$t: the group read everything committed before the crash");
}
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(topic || ':' || committed, ',' ORDER BY topic)
  FROM topics.group_lag WHERE group_name IN ('gc', 'gv')}),
	'c:5,v:6',
	'group positions: 5 in c, 6 (past the gap) in v');

# Producers in flight: each holds offsets at the tail of its topic in a
# transaction that is still open when the server crashes.
my $pc = $node->background_psql('postgres');
my $pv = $node->background_psql('postgres');
my $pc_pid = $pc->query_safe('SELECT pg_backend_pid()');
$pc->query_safe('BEGIN');
$pv->query_safe('BEGIN');
is( $pc->query_safe(
		q{SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset)
		    FROM produce_logged('c', ARRAY['f5', 'f6', 'f7', 'f8', 'f9'], 'in flight')}
	),
	'5,6,7,8,9',
	'c: the open producer holds offsets 5 to 9');
is( $pv->query_safe(
		q{SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset)
		    FROM produce_logged('v', ARRAY['f6', 'f7', 'f8'], 'in flight')}),
	'6,7,8',
	'v: the open producer holds offsets 6 to 8');
is(ledger_offsets('c', 'in flight'), '5,6,7,8,9',
	'c: the ledger recorded the open producer\'s offsets');
is(ledger_offsets('v', 'in flight'), '6,7,8',
	'v: the ledger recorded the open producer\'s offsets');

# kill -9 of a producer's backend: the postmaster treats it as a crash, ends
# every other process at once (nothing more reaches the WAL) and restarts
# with crash recovery.
my $log_offset = -s $node->logfile;
kill 'KILL', $pc_pid;
$node->wait_for_log(qr/all server processes terminated; reinitializing/,
	$log_offset);
$node->wait_for_log(qr/database system is ready to accept connections/,
	$log_offset);
$node->poll_query_until('postgres', 'SELECT true')
  or die "Timed out waiting for the server to come back after the crash";
$pc->quit;
$pv->quit;
pass('the server came back after kill -9 of a producer');

# Topic v is vacuumed before anything produces again, as autovacuum may well
# do after a crash; c is not.
$node->safe_psql('postgres', 'VACUUM topics_data.v');

# New producers after the crash.
$node->safe_psql(
	'postgres', q{
SELECT count(*) FROM produce_logged('c', ARRAY['new-c1', 'new-c2', 'new-c3'], 'after crash');
SELECT count(*) FROM produce_logged('v', ARRAY['new-v1', 'new-v2', 'new-v3'], 'after crash');
});
for my $t ('c', 'v')
{
	my $after = ledger_offsets($t, 'after crash');
	my $before_max = $ledger->safe_psql(
		'postgres', qq{
SELECT max(msg_offset) FROM handed_out
 WHERE topic = '$t' AND who <> 'after crash'});
	note "$t: offsets after the crash: $after";
	my ($first_new) = split /,/, $after;
	cmp_ok($first_new, '>', $before_max,
		"$t: new offsets lie above every offset handed out before the crash"
	);
}

is( $ledger->safe_psql(
		'postgres', q{
SELECT string_agg(format('%s/%s/%s: %s', topic, partition, msg_offset, whos), '; ')
  FROM (SELECT topic, partition, msg_offset,
               string_agg(who, ' + ' ORDER BY at) AS whos
          FROM handed_out GROUP BY 1, 2, 3 HAVING count(*) > 1) d}),
	'',
	'no offset was handed out twice');

for my $t ('c', 'v')
{
	is(values_of("SELECT * FROM topics.poll('g$t', '$t', 'm')"),
		"new-${t}1,new-${t}2,new-${t}3",
		"$t: the group receives every message committed after the crash");
}
is(values_of(q{SELECT * FROM topics.fetch('c', 0, 0)}),
	'c0,c1,c2,c3,c4,new-c1,new-c2,new-c3',
	'c: fetch returns the committed messages in order');
is(values_of(q{SELECT * FROM topics.fetch('v', 0, 0)}),
	'v0,v1,v2,new-v1,new-v2,new-v3',
	'v: fetch returns the committed messages in order');

$node->stop;
$ledger->stop;

done_testing();
