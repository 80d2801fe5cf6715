
# Copyright (c) 2025, pg_topics contributors

# An installation of 0.1, with data made by the 0.1 library, upgraded to the
# current version with ALTER EXTENSION pg_topics UPDATE.
#
# The 0.1 library reads only the 0.1 catalog, so the data must come from it:
# test/upgrade/pg_topics-0.1.tar.gz holds the source of 0.1 (see the README
# there).  The test copies the PostgreSQL installation whose pg_config is on
# PATH into its temp dir, builds 0.1 and installs it there, and runs a node
# on that copy (test/perl/PgTopicsRelease.pm).
#
# With 0.1, as its users did:
# - regress_creator, which has CREATE on schema topics_data, creates topic
#   "orders" (3 partitions, 4 messages per segment, so it owns a chain of
#   0.1 tables) and grants INSERT on it to regress_producer and SELECT to
#   regress_reader and regress_other; the superuser creates topic "audit"
#   (2 partitions);
# - messages with keys, headers, timestamps, a NULL key, a tombstone and raw
#   bytes; a rolled-back gap in the middle of a partition and one at the
#   tail of another;
# - a prepared transaction holds offsets of orders/2, with committed
#   messages above them;
# - regress_reader's group "billing" (two members) has polled part of orders
#   in transactions, regress_other's group "idle" joined and never polled,
#   and the superuser's group "auditors" read all of audit, its position
#   past a rolled-back tail that VACUUM then removed.
#
# The current library is installed over 0.1 and the node restarted.  Before
# the update, the API fails with 55000 and a hint to run ALTER EXTENSION
# pg_topics UPDATE; an update while the prepared transaction holds its
# tables waits for it (here: a lock timeout, and 0.1 is left as it was).
# After COMMIT PREPARED, the update runs, and then:
# - every message is as it was, read through topics.fetch and SELECT;
# - the topics' tables have their new names and belong to the owner of
#   topics_data; regress_creator owns "orders" in topics.topics and holds
#   SELECT and INSERT on it WITH GRANT OPTION; its grants still work; a
#   direct INSERT is refused; CREATE on topics_data became EXECUTE on
#   topics.create_topic;
# - produce resumes above every offset 0.1 stored and every group position;
# - the groups keep their positions and poll on from them: across the
#   upgrade every message is consumed exactly once; a group of 0.1 has no
#   owner until a join claims it, and then it is closed to other roles;
# - new topics, groups and members work;
# - a pg_dump of the upgraded database restores into a fresh server with
#   the same messages, groups and privileges (the update must not record
#   the grants it makes to this installation's roles in pg_init_privs,
#   whose privileges pg_dump leaves out);
# - drop_topic of an upgraded topic leaves no table behind, and no server
#   process crashed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use PgTopicsRelease;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $srcdir = $ENV{TESTDIR} || '.';
my $inst = install_release($srcdir, '0.1');
my $tmp = PostgreSQL::Test::Utils::tempdir;

my $node = PostgreSQL::Test::Cluster->new('v01', install_path => $inst);
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
max_prepared_transactions = 5
# VACUUM runs when the test says so
autovacuum = off
});
$node->start;

# Run $sql as $role (or the superuser), with verbose errors; return
# (ok, stdout, stderr).
sub run_sql
{
	my ($n, $sql, $role) = @_;
	my ($out, $err);
	$sql = "SET ROLE $role;\n$sql" if $role;
	my $ret = $n->psql(
		'postgres', "\\set VERBOSITY verbose\n$sql",
		stdout => \$out,
		stderr => \$err,
		on_error_stop => 1);
	return ($ret == 0, $out, $err);
}

# Check that $sql, run as $role, fails with $sqlstate and, if given, a hint
# matching $hint.
sub fails_with
{
	my ($n, $sql, $role, $sqlstate, $hint, $name) = @_;
	my ($ok, $out, $err) = run_sql($n, $sql, $role);
	$err //= '';
	my $re = defined $hint ? qr/ERROR:\s+$sqlstate:.*\nHINT:\s+[^\n]*$hint/s
	  : qr/ERROR:\s+$sqlstate:/;
	ok(!$ok && $err =~ $re,
		"$name: fails with $sqlstate" . (defined $hint ? " and a hint" : ''))
	  or diag("ok: $ok\n$err");
	return $err;
}

# Run $sql as $role and check that it works; return its output.
sub works
{
	my ($n, $sql, $role, $name) = @_;
	my ($ok, $out, $err) = run_sql($n, $sql, $role);
	ok($ok, $name) or diag($err);
	return $out;
}

# ---------------------------------------------------------------------
# Data made by 0.1
# ---------------------------------------------------------------------

$node->safe_psql(
	'postgres', q{
CREATE ROLE regress_creator LOGIN;
CREATE ROLE regress_producer LOGIN;
CREATE ROLE regress_reader LOGIN;
CREATE ROLE regress_other LOGIN;
CREATE EXTENSION pg_topics;
GRANT CREATE ON SCHEMA topics_data TO regress_creator;

SET ROLE regress_creator;
SELECT topics.create_topic('orders', 3, 'stream', '{"segment.messages": 4}');
GRANT INSERT ON topics_data.orders TO regress_producer;
GRANT SELECT ON topics_data.orders TO regress_reader, regress_other;
RESET ROLE;
SELECT topics.create_topic('audit', 2, 'store', '{"segment.messages": 4}');
SELECT topics.create_topic('jobs', 2, 'queue');

-- what the groups consumed, across the upgrade
CREATE TABLE consumed (
    phase      text NOT NULL,
    group_name text NOT NULL,
    partition  integer NOT NULL,
    msg_offset bigint NOT NULL
);
GRANT INSERT, SELECT ON consumed TO PUBLIC;
});
is($node->safe_psql('postgres',
		q{SELECT extversion FROM pg_extension WHERE extname = 'pg_topics'}),
	'0.1', 'the node runs pg_topics 0.1');

# orders: keyed messages with headers and timestamps from its creator, a
# NULL key, a tombstone, raw bytes, batches of the producer; a rolled-back
# gap in the middle of partition 1 and one at the tail of partition 0.
$node->safe_psql(
	'postgres', q{
SET ROLE regress_creator;
SELECT count(*) FROM (
    SELECT topics.produce('orders', 'order-' || i, 'customer-' || (i % 5), NULL,
                          jsonb_build_object('i', i, 'src', 'creator'),
                          timestamptz '2024-01-01 00:00:00+00' + i * interval '90 s')
      FROM generate_series(0, 11) i) x;
SELECT topics.produce('orders', 'no key'::text, NULL::text, 0, NULL,
                      timestamptz '2024-02-01 12:00:00.123456+00');
SELECT topics.produce('orders', NULL::bytea, '\x6b6579'::bytea, 1, NULL,
                      timestamptz '2024-02-02 00:00:00+00');
SELECT topics.produce('orders', '\x00ff10fe'::bytea, '\xc3'::bytea, 2,
                      '{"raw": true}', timestamptz '1999-12-31 23:59:59.999999+00');
SET ROLE regress_producer;
SELECT count(*) FROM topics.produce_batch('orders', ARRAY['p1-a', 'p1-b', 'p1-c'],
                                          NULL, 1,
                                          ARRAY['{"h": 1}', '{"h": 2}', NULL]::jsonb[],
                                          timestamptz '2024-03-01 00:00:00+00');
BEGIN;
SELECT count(*) FROM topics.produce_batch('orders', ARRAY['gap-1', 'gap-2'], NULL, 1);
ROLLBACK;
SELECT count(*) FROM topics.produce_batch('orders',
           ARRAY(SELECT 'batch-' || i FROM generate_series(1, 9) i),
           ARRAY(SELECT 'k' || i FROM generate_series(1, 9) i));
BEGIN;
SELECT count(*) FROM topics.produce_batch('orders', ARRAY['tail-1', 'tail-2', 'tail-3'],
                                          NULL, 0);
ROLLBACK;
});

# jobs, a queue of 0.1 (read as a stream then), by the superuser: its group
# workers read the first two messages of partition 0.
$node->safe_psql(
	'postgres', q{
SELECT count(*) FROM topics.produce_batch('jobs', ARRAY['j0', 'j1', 'j2'], NULL, 0);
SELECT count(*) FROM topics.produce_batch('jobs', ARRAY['j3', 'j4', 'j5'], NULL, 1);
SELECT topics.join('workers', 'jobs', 'w', '1 hour', 'range', 'earliest');
BEGIN;
SELECT topics.commit('workers', 'jobs', 0, 2, 'w');
COMMIT;
});

# audit, by the superuser.
$node->safe_psql(
	'postgres', q{
SELECT count(*) FROM (
    SELECT topics.produce_batch('audit',
               ARRAY(SELECT 'audit-' || b || '-' || i FROM generate_series(1, 5) i),
               ARRAY(SELECT 'a' || (b * 5 + i) FROM generate_series(1, 5) i),
               NULL,
               ARRAY(SELECT jsonb_build_object('b', b, 'i', i) FROM generate_series(1, 5) i),
               timestamptz '2023-06-01 00:00:00+00' + b * interval '1 day')
      FROM generate_series(1, 3) b) x;
});

# Groups.  billing (regress_reader) polls part of orders in transactions,
# and commits one position explicitly; idle (regress_other) only joins;
# auditors (the superuser) reads all of audit.
$node->safe_psql(
	'postgres', q{
SET ROLE regress_reader;
SELECT topics.join('billing', 'orders', 'm1', '1 hour', 'range', 'earliest');
SELECT topics.join('billing', 'orders', 'm2', '1 hour');
SELECT topics.join('billing', 'orders', 'm1', '1 hour');
BEGIN;
INSERT INTO consumed
SELECT 'before', 'billing', partition, msg_offset
  FROM topics.poll('billing', 'orders', 'm1', 5);
COMMIT;
BEGIN;
INSERT INTO consumed
SELECT 'before', 'billing', partition, msg_offset
  FROM topics.poll('billing', 'orders', 'm2', 3);
COMMIT;
BEGIN;
INSERT INTO consumed
SELECT 'before', 'billing', partition, msg_offset
  FROM topics.poll('billing', 'orders', 'm1', 4);
COMMIT;
SET ROLE regress_other;
SELECT topics.join('idle', 'orders', 'x', '1 hour', 'roundrobin', 'earliest');
RESET ROLE;
SELECT topics.join('auditors', 'audit', 'a', '1 hour', 'sticky', 'earliest');
INSERT INTO consumed
SELECT 'before', 'auditors', partition, msg_offset
  FROM topics.poll('auditors', 'audit', 'a', 1000);
});
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(member || ':' || partitions::text, ' ' ORDER BY member)
  FROM topics.group_members WHERE group_name = 'billing'}),
	'm1:{0,1} m2:{2}',
	'0.1: billing has two members, with partitions 0-1 and 2');

# billing's m2 commits a position of its own, below what it polled.
my ($m2_pos) = $node->safe_psql(
	'postgres', q{
SELECT committed FROM topics.group_lag WHERE group_name = 'billing' AND partition = 2});
$node->safe_psql(
	'postgres', qq{
SET ROLE regress_reader;
BEGIN;
SELECT topics.commit('billing', 'orders', 2, $m2_pos - 1, 'm2');
COMMIT;
RESET ROLE;
DELETE FROM consumed
 WHERE group_name = 'billing' AND partition = 2 AND msg_offset = $m2_pos - 1;
});

# A rolled-back tail in audit/0 that auditors' position passes, removed by
# VACUUM: nothing stored shows these offsets were handed out.
is( $node->safe_psql(
		'postgres', q{
BEGIN;
SELECT count(*) FROM topics.produce_batch('audit', ARRAY['r1', 'r2', 'r3', 'r4'], NULL, 0);
ROLLBACK;
SELECT count(*) FROM topics.poll('auditors', 'audit', 'a', 1000);
VACUUM topics_data.audit;
SELECT committed - (SELECT max(msg_offset) + 1 FROM topics_data.audit WHERE partition = 0)
  FROM topics.group_lag WHERE group_name = 'auditors' AND partition = 0}),
	"4\n0\n4",
	'0.1: auditors\' position in audit/0 is 4 past the last stored message');

# A prepared transaction holds offsets of orders/2; messages committed after
# it wait behind it.
$node->safe_psql(
	'postgres', q{
SET ROLE regress_producer;
BEGIN;
SELECT count(*) FROM topics.produce_batch('orders', ARRAY['prepared-1', 'prepared-2'],
                                          NULL, 2);
PREPARE TRANSACTION 'upgrade_p1';
SELECT count(*) FROM topics.produce_batch('orders', ARRAY['after-prepared-1'], NULL, 2);
});

# What the update must keep, readable with the views and functions of both
# versions.
my %snapshot = (
	messages => q{
SELECT f.topic, f.partition, f.msg_offset,
       to_char(f."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
       encode(f.key, 'hex'), encode(f.value, 'hex'), f.headers
  FROM topics.topics t, generate_series(0, t.partitions - 1) p,
       LATERAL topics.fetch(t.name, p, 0, 1000000) f
 WHERE position('prepared-'::bytea IN coalesce(f.value, '')) = 0
 ORDER BY 1, 2, 3},
	rows => q{
SELECT 'orders', partition, msg_offset,
       to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
       encode(key, 'hex'), encode(value, 'hex'), headers
  FROM topics_data.orders
 WHERE position('prepared-'::bytea IN coalesce(value, '')) = 0
UNION ALL
SELECT 'audit', partition, msg_offset,
       to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
       encode(key, 'hex'), encode(value, 'hex'), headers
  FROM topics_data.audit
 ORDER BY 1, 2, 3},
	# (the update to 0.5 sets retention.ms, checked on its own below)
	topics => q{
SELECT name, mode, partitions, config - 'retention.ms' FROM topics.topics ORDER BY 1},
	groups => q{
SELECT group_name, topic, strategy, auto_offset_reset, generation, members
  FROM topics.groups ORDER BY 1},
	members => q{
SELECT group_name, topic, member, generation, current, partitions, session_timeout
  FROM topics.group_members ORDER BY 1, 3},
	positions => q{
SELECT group_name, topic, partition, committed, member
  FROM topics.group_lag ORDER BY 1, 2, 3},
	log_start => q{
SELECT topic, partition, log_start FROM topics.partitions ORDER BY 1, 2});
my %before = map { $_ => $node->safe_psql('postgres', $snapshot{$_}) } keys %snapshot;

# Per partition, the log end of 0.1 and the highest committed position.
my %log_end_01 = map { my ($t, $p, $e) = split /\|/; ("$t/$p" => $e) }
  split /\n/, $node->safe_psql('postgres',
	'SELECT topic, partition, log_end FROM topics.partitions');
my %max_pos_01 = map { my ($t, $p, $c) = split /\|/; ("$t/$p" => $c) }
  split /\n/, $node->safe_psql('postgres',
	q{SELECT topic, partition, coalesce(max(committed), -1) FROM topics.group_lag GROUP BY 1, 2});
my %max_stored_01 = map { my ($t, $p, $m) = split /\|/; ("$t/$p" => $m) }
  split /\n/, $node->safe_psql('postgres', q{
SELECT 'orders', partition, max(msg_offset) FROM topics_data.orders GROUP BY 2
UNION ALL
SELECT 'audit', partition, max(msg_offset) FROM topics_data.audit GROUP BY 2});
my $tables_01 = $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_class
	   WHERE relnamespace = 'topics_data'::regnamespace AND relkind IN ('r', 'p')});
note "0.1: $tables_01 tables in topics_data; log ends: "
  . join(', ', map { "$_ $log_end_01{$_}" } sort keys %log_end_01);
cmp_ok(
	$node->safe_psql('postgres',
		q{SELECT min(segments) FROM topics.partitions WHERE topic = 'orders'}),
	'>=', 2, '0.1: every partition of orders has a chain of segments');
is( $node->safe_psql(
		'postgres',
		q{SELECT lso || '/' || log_end FROM topics.partitions
		   WHERE topic = 'orders' AND partition = 2}),
	($log_end_01{'orders/2'} - 3) . "/$log_end_01{'orders/2'}",
	'0.1: the prepared transaction holds the LSO of orders/2');

# ---------------------------------------------------------------------
# The current library over the 0.1 catalog
# ---------------------------------------------------------------------

$node->stop;
install_current($srcdir);
$node->start;

is($node->safe_psql('postgres',
		q{SELECT extversion FROM pg_extension WHERE extname = 'pg_topics'}),
	'0.1', 'after the restart, the SQL objects are still those of 0.1');

my $update_hint = 'ALTER EXTENSION pg_topics UPDATE';
for my $case (
	[ 'fetch', q{SELECT * FROM topics.fetch('orders', 0, 0)} ],
	[ 'produce', q{SELECT * FROM topics.produce('orders', 'v'::text)} ],
	[
		'produce_batch',
		q{SELECT * FROM topics.produce_batch('orders', ARRAY['a', 'b']::text[])}
	],
	[ 'poll', q{SELECT * FROM topics.poll('billing', 'orders', 'm1')} ],
	[ 'join', q{SELECT * FROM topics.join('billing', 'orders', 'm3')} ],
	[ 'commit', q{SELECT topics.commit('billing', 'orders', 0, 0)} ],
	[ 'seek', q{SELECT topics.seek('billing', 'orders', 0, 0::bigint)} ],
	[ 'heartbeat', q{SELECT * FROM topics.heartbeat('billing', 'orders', 'm1')} ],
	[ 'leave', q{SELECT topics.leave('billing', 'orders', 'm1')} ],
	[ 'offset_for_time', q{SELECT topics.offset_for_time('orders', 0, now())} ],
	[ 'partitions view', q{SELECT * FROM topics.partitions} ],
	[ 'group_members view', q{SELECT * FROM topics.group_members} ],
	[ 'create_topic', q{SELECT topics.create_topic('new', 1)} ],
	[ 'add_partitions', q{SELECT topics.add_partitions('audit', 1)} ],
	[ 'drop_topic', q{SELECT topics.drop_topic('audit')} ])
{
	my ($what, $sql) = @$case;
	# in a transaction that rolls back, in case the call does not fail
	fails_with($node, "BEGIN;\n$sql;\nROLLBACK;", undef, '55000',
		$update_hint, "before the update, $what");
}

# ALTER EXTENSION waits for the prepared transaction, which holds a lock on
# a table that the update renames: with a lock timeout, it fails, and 0.1
# is left as it was.
fails_with($node, "SET lock_timeout = '100ms';\nALTER EXTENSION pg_topics UPDATE;",
	undef, '55P03', undef,
	'the update while a prepared transaction holds a segment');
is( $node->safe_psql(
		'postgres', q{
SELECT extversion || ' ' || (SELECT count(*) FROM topics.topic)
  FROM pg_extension WHERE extname = 'pg_topics'}),
	'0.1 3', 'the failed update left 0.1 as it was');

works($node, q{COMMIT PREPARED 'upgrade_p1'}, undef,
	'COMMIT PREPARED of a 0.1 producer, with the new library and the old catalog');

# ---------------------------------------------------------------------
# The update
# ---------------------------------------------------------------------

works($node, 'ALTER EXTENSION pg_topics UPDATE', undef, 'ALTER EXTENSION pg_topics UPDATE');
is($node->safe_psql('postgres',
		q{SELECT extversion FROM pg_extension WHERE extname = 'pg_topics'}),
	'0.6', 'the extension is at 0.6');

# Streams of before 0.5 kept their messages for ever: they still do, while
# a stream made now keeps them pg_topics.retention_time (Kafka's 7 days).
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(name || ':' || mode || ':' || coalesce(config->>'retention.ms', '-') || ':'
                  || (settings->>'retention.ms'), ',' ORDER BY name)
  FROM topics.topics}),
	'audit:store:-:-1,jobs:queue:-:-1,orders:stream:-1:-1',
	'the stream of 0.1 keeps its messages for ever (retention.ms -1)');
works($node, 'SELECT count(*) FROM topics.run_maintenance()', undef,
	'maintenance runs on the upgraded topics');

# ---------------------------------------------------------------------
# After the update: the data
# ---------------------------------------------------------------------

for my $what (qw(messages rows topics groups members positions log_start))
{
	is($node->safe_psql('postgres', $snapshot{$what}),
		$before{$what}, "after the update, the same $what as in 0.1");
}
my $held = $log_end_01{'orders/2'} - 3;
is( $node->safe_psql(
		'postgres', qq{
SELECT string_agg(msg_offset || ':' || convert_from(value, 'UTF8'), ',' ORDER BY msg_offset)
  FROM topics.fetch('orders', 2, $held)}),
	join(',',
		map { ($held + $_) . ':' . ('prepared-1', 'prepared-2', 'after-prepared-1')[$_] }
		  0 .. 2),
	'the prepared transaction\'s messages are at the offsets it held, before the one committed after it'
);

# The tables: named as 0.2 names them, owned by the owner of topics_data,
# none lost, none added.
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(relname, ',' ORDER BY relname COLLATE "C")
  FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace AND relkind IN ('r', 'p')}),
	$node->safe_psql(
		'postgres', q{
SELECT string_agg(n, ',' ORDER BY n COLLATE "C")
  FROM (SELECT name AS n FROM topics.topic
        UNION ALL
        SELECT topics_internal.table_name(t.name, p)
          FROM topics.topic t, generate_series(0, t.partitions - 1) p
        UNION ALL
        SELECT topics_internal.table_name(topic, partition, base_offset)
          FROM topics.segment) x}),
	'the tables of topics_data have the names 0.2 gives them');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace AND relkind IN ('r', 'p')}),
	$tables_01, 'as many tables as in 0.1');
is( $node->safe_psql(
		'postgres', q{
SELECT to_regclass('topics_data."orders$0"') IS NOT NULL,
       to_regclass('topics_data."orders$2$0"') IS NOT NULL,
       to_regclass('topics_data."orders$2$4"') IS NOT NULL}),
	't|t|t', 'partition and segment tables are named <topic>$<p> and <topic>$<p>$<base>');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(DISTINCT pg_get_userbyid(c.relowner), ',')
  FROM pg_class c
 WHERE c.relnamespace = 'topics_data'::regnamespace}),
	$node->safe_psql('postgres',
		q{SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'topics_data'}),
	'every table and index of topics_data belongs to the owner of topics_data');

# Ownership and privileges.
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(name || ':' || (owner = current_user::regrole), ',' ORDER BY name)
  FROM topics.topics}),
	'audit:true,jobs:true,orders:false', 'audit is owned by the superuser that made it');
is( $node->safe_psql(
		'postgres', q{SELECT owner FROM topics.topics WHERE name = 'orders'}),
	'regress_creator', 'orders is owned by regress_creator, which made it in 0.1');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(p || ':' || has_table_privilege('regress_creator', 'topics_data.orders', p),
                  ',' ORDER BY p)
  FROM unnest(ARRAY['SELECT WITH GRANT OPTION', 'INSERT WITH GRANT OPTION',
                    'UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES']) p}),
	'DELETE:false,INSERT WITH GRANT OPTION:true,REFERENCES:false,'
	  . 'SELECT WITH GRANT OPTION:true,TRIGGER:false,TRUNCATE:false,UPDATE:false',
	'regress_creator holds SELECT and INSERT on orders WITH GRANT OPTION, and nothing else');
is( $node->safe_psql(
		'postgres', q{
SELECT has_schema_privilege('regress_creator', 'topics_data', 'CREATE'),
       has_function_privilege('regress_creator',
           'topics.create_topic(text, integer, text, jsonb)', 'EXECUTE'),
       has_function_privilege('regress_reader',
           'topics.create_topic(text, integer, text, jsonb)', 'EXECUTE')}),
	'f|t|f',
	'CREATE on topics_data became EXECUTE on topics.create_topic, for regress_creator only');
fails_with($node, 'CREATE TABLE topics_data.mine (i int)', 'regress_creator',
	'42501', undef, 'regress_creator creates a table in topics_data');
fails_with($node, q{SELECT topics.create_topic('not_mine', 1)}, 'regress_reader',
	'42501', undef, 'create_topic by a role that never had CREATE on topics_data');

# Grants made in 0.1 still work; a direct write is refused to all.
my %new_offset;
for my $p (0 .. 2)
{
	my $out = works($node,
		qq{SELECT msg_offset FROM topics.produce('orders', 'after-update-$p', NULL::text, $p,
		                                         '{"v": "0.2"}')},
		'regress_producer', "regress_producer produces to orders/$p after the update");
	$new_offset{"orders/$p"} = $out;
}
for my $p (0 .. 1)
{
	$new_offset{"audit/$p"} = works($node,
		qq{SELECT msg_offset FROM topics.produce('audit', 'after-update-$p', NULL::text, $p)},
		undef, "the superuser produces to audit/$p after the update");
}
for my $tp (sort keys %new_offset)
{
	my $above = $max_stored_01{$tp};
	$above = $max_pos_01{$tp} - 1 if $max_pos_01{$tp} - 1 > $above;
	$above = $log_end_01{$tp} - 1 if $log_end_01{$tp} - 1 > $above;
	cmp_ok($new_offset{$tp} || -1, '>', $above,
		"$tp: the new offset $new_offset{$tp} lies above every offset 0.1 stored, handed out or read past"
	);
}
is( works($node, q{
SELECT string_agg(f.partition || ':' || convert_from(f.value, 'UTF8'), ',' ORDER BY f.partition)
  FROM generate_series(0, 2) p, LATERAL topics.fetch('orders', p, 0, 1000) f
 WHERE f.value = convert_to('after-update-' || p, 'UTF8')},
		'regress_reader', 'regress_reader fetches orders'),
	'0:after-update-0,1:after-update-1,2:after-update-2',
	'regress_reader reads the new messages');
works($node, q{SELECT count(*) FROM topics_data.orders}, 'regress_other',
	'regress_other reads topics_data.orders with SELECT');
fails_with($node, q{SELECT topics.produce('orders', 'x'::text)}, 'regress_reader',
	'42501', undef, 'regress_reader, which has no INSERT, produces');
for my $role ('regress_creator', 'regress_producer', undef)
{
	fails_with($node,
		q{INSERT INTO topics_data.orders VALUES (0, 999999, now(), NULL, 'x', NULL)},
		$role, '42501', undef,
		'a direct INSERT into topics_data.orders by ' . ($role // 'the superuser'));
}
fails_with($node, q{DELETE FROM topics_data.audit}, undef, '42501', undef,
	'a direct DELETE from topics_data.audit by the superuser');
works($node, q{
GRANT SELECT ON topics_data.orders TO regress_other WITH GRANT OPTION;
REVOKE SELECT ON topics_data.orders FROM regress_other;
GRANT SELECT ON topics_data.orders TO regress_other;},
	'regress_creator', 'regress_creator grants and revokes on orders');

# ---------------------------------------------------------------------
# After the update: the groups
# ---------------------------------------------------------------------

is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(group_name || ':' || coalesce(owner::text, '-'), ',' ORDER BY group_name)
  FROM topics.groups}),
	'auditors:-,billing:-,idle:-,workers:-', 'the groups of 0.1 have no owner');

# billing polls on from its positions, without joining again: across the
# update it consumes every message of orders exactly once.
works($node, q{
BEGIN;
INSERT INTO consumed
SELECT 'after', 'billing', partition, msg_offset
  FROM topics.poll('billing', 'orders', 'm1', 1000);
COMMIT;
BEGIN;
INSERT INTO consumed
SELECT 'after', 'billing', partition, msg_offset
  FROM topics.poll('billing', 'orders', 'm2', 1000);
COMMIT;}, 'regress_reader', 'the members of billing poll after the update');
my $all_orders = $node->safe_psql(
	'postgres', q{
SELECT string_agg(f.partition || ':' || f.msg_offset, ',' ORDER BY f.partition, f.msg_offset)
  FROM generate_series(0, 2) p, LATERAL topics.fetch('orders', p, 0, 1000000) f});
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(partition || ':' || msg_offset, ',' ORDER BY partition, msg_offset)
  FROM consumed WHERE group_name = 'billing'}),
	$all_orders,
	'billing consumed every message of orders exactly once, before and after the update');
is( $node->safe_psql(
		'postgres', q{
SELECT min(msg_offset) FROM consumed
 WHERE group_name = 'billing' AND phase = 'after' AND partition = 2}),
	$m2_pos - 1,
	'in orders/2, billing polled on from the position m2 committed');
is( $node->safe_psql(
		'postgres', q{SELECT owner IS NULL FROM topics.groups WHERE group_name = 'billing'}),
	't', 'polls do not claim the group');

# A join claims the group for the joining role; then it is closed to others.
is( works($node, q{SELECT member FROM topics.join('billing', 'orders', 'm3', '1 hour')},
		'regress_reader', 'a new member joins billing'),
	'm3', 'the new member joined');
is( $node->safe_psql(
		'postgres', q{SELECT owner FROM topics.groups WHERE group_name = 'billing'}),
	'regress_reader', 'the join claimed billing for regress_reader');
fails_with($node, q{SELECT * FROM topics.poll('billing', 'orders', 'm1')},
	'regress_other', '42501', undef, 'regress_other polls billing');
fails_with($node, q{SELECT * FROM topics.join('billing', 'orders', 'm9')},
	'regress_other', '42501', undef, 'regress_other joins billing');
is( works($node, q{SELECT count(*) FROM topics.groups WHERE group_name = 'billing'},
		'regress_other', 'regress_other lists the groups'),
	'0', 'regress_other does not see billing');
is( works($node, q{
SELECT string_agg(member || ':' || partitions::text, ' ' ORDER BY member)
  FROM (SELECT (topics.join('billing', 'orders', m, '1 hour')).*
          FROM unnest(ARRAY['m1', 'm2', 'm3']) m) j},
		'regress_reader', 'the members of billing join again after the rebalance'),
	'm1:{0} m2:{1} m3:{2}', 'billing has three members, one partition each');

# idle never polled: with its owner claimed by its member's join, it reads
# orders from the start.
works($node, q{SELECT topics.join('idle', 'orders', 'x', '1 hour')}, 'regress_other',
	'regress_other joins idle again');
is( works($node, q{
SELECT string_agg(partition || ':' || msg_offset, ',' ORDER BY partition, msg_offset)
  FROM topics.poll('idle', 'orders', 'x', 1000000)}, 'regress_other', 'idle polls'),
	$all_orders, 'idle reads every message of orders from the start');

# auditors polls on past the rolled-back tail and gets the new messages only.
is( $node->safe_psql(
		'postgres', q{
WITH polled AS (
    INSERT INTO consumed
    SELECT 'after', 'auditors', partition, msg_offset
      FROM topics.poll('auditors', 'audit', 'a', 1000)
    RETURNING partition, msg_offset)
SELECT string_agg(convert_from(f.value, 'UTF8'), ',' ORDER BY f.partition)
  FROM polled, LATERAL topics.fetch('audit', polled.partition, polled.msg_offset, 1) f}),
	'after-update-0,after-update-1',
	'auditors reads the two messages produced after the update');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(partition || ':' || msg_offset, ',' ORDER BY partition, msg_offset)
  FROM consumed WHERE group_name = 'auditors'}),
	$node->safe_psql(
		'postgres', q{
SELECT string_agg(f.partition || ':' || f.msg_offset, ',' ORDER BY f.partition, f.msg_offset)
  FROM generate_series(0, 1) p, LATERAL topics.fetch('audit', p, 0, 1000000) f}),
	'auditors consumed every message of audit exactly once');

# New topics, groups and members.
is( works($node, q{
SELECT topic FROM topics.create_topic('fresh', 2, 'stream', '{"segment.messages": 4}');
SELECT string_agg(r.partition || ':' || r.msg_offset, ',' ORDER BY r.partition)
  FROM generate_series(0, 1) p, LATERAL topics.produce('fresh', 'f' || p, NULL::text, p) r;},
		'regress_creator', 'regress_creator creates and produces to a new topic'),
	"fresh\n0:0,1:0", 'the new topic takes messages from offset 0');
is( $node->safe_psql(
		'postgres', q{SELECT owner FROM topics.topics WHERE name = 'fresh'}),
	'regress_creator', 'regress_creator owns the new topic');
is( works($node, q{
SELECT partitions FROM topics.join('fresh-group', 'orders', 'n', auto_offset_reset => 'earliest');
SELECT count(*) FROM topics.poll('fresh-group', 'orders', 'n', 1000000);},
		'regress_reader', 'a new group on an upgraded topic'),
	"{0,1,2}\n"
	  . $node->safe_psql('postgres', q{SELECT count(*) FROM topics_data.orders}),
	'a new group reads every message of an upgraded topic');
is( $node->safe_psql(
		'postgres', q{SELECT owner FROM topics.groups WHERE group_name = 'fresh-group'}),
	'regress_reader', 'the new group belongs to the role that made it');

# Partitions added to an upgraded topic: those in the range of 64 that its
# first partitions occupy go under the root, as 0.2 put them; from the
# next multiple of 64 on, into groups (0.3).  Produce and fetch work in
# both, and the topic's cache sees the new partitions at once.
is( $node->safe_psql(
		'postgres', q{
SELECT topics.add_partitions('audit', 65);
SELECT string_agg(p || ':' || r.msg_offset, ',' ORDER BY p)
  FROM unnest(ARRAY[2, 63, 64, 66]) p, LATERAL topics.produce('audit', 'grown', NULL::text, p) r;
SELECT string_agg(c.relname || '<' || pc.relname, ',' ORDER BY c.relname COLLATE "C")
  FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_class pc ON pc.oid = i.inhparent
 WHERE c.relname IN ('audit$2', 'audit$63', 'audit$64', 'audit$66');}),
	"67
2:0,63:0,64:0,66:0
"
	  . 'audit$2<audit,audit$63<audit,audit$64<audit$pg64,audit$66<audit$pg64',
	'partitions added after the update: under the root up to 63, in a group from 64');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM topics_data.audit WHERE convert_from(value, 'UTF8') = 'grown'}),
	'4', 'plain SQL on the root reads the new partitions');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(p || ':' || count, ',' ORDER BY p)
  FROM unnest(ARRAY[2, 63, 64, 66]) p,
       LATERAL (SELECT count(*) FROM topics.fetch('audit', p, 0, 100)) f}),
	'2:1,63:1,64:1,66:1', 'fetch reads them');

# ---------------------------------------------------------------------
# pg_dump of the upgraded database, restored into a fresh server
# ---------------------------------------------------------------------

# pg_dump leaves out the privileges of pg_init_privs, which an extension's
# script records for every GRANT it runs: on tables that are not the
# extension's, such a record would lose their grants in a dump.
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(c.relname || ' ' || i.initprivs::text, ', ' ORDER BY c.relname)
  FROM pg_init_privs i JOIN pg_class c ON c.oid = i.objoid
 WHERE i.classoid = 'pg_class'::regclass
   AND c.relnamespace = 'topics_data'::regnamespace}),
	'', 'no initial privileges are recorded for the tables of topics_data');

$snapshot{acl} = q{
SELECT string_agg(relname || ' ' || coalesce(relacl::text, '-'), E'\n' ORDER BY relname COLLATE "C")
  FROM pg_class WHERE relnamespace = 'topics_data'::regnamespace AND relkind IN ('r', 'p')};
$snapshot{group_owners} = q{
SELECT string_agg(group_name || ':' || coalesce(owner::text, '-'), ',' ORDER BY group_name)
  FROM topics.groups};
$snapshot{create_topic} = q{
SELECT string_agg(r || ':' || has_function_privilege(r,
           'topics.create_topic(text, integer, text, jsonb)', 'EXECUTE'), ',' ORDER BY r)
  FROM unnest(ARRAY['regress_creator', 'regress_producer', 'regress_reader',
                    'regress_other']) r};
# a captured table: its capture and its triggers come back with it
works($node, q{
CREATE TABLE public."Shop Items" (id int PRIMARY KEY, name text);
SELECT topics.capture('public."Shop Items"', 'audit', options => '{"format": "debezium"}');
INSERT INTO public."Shop Items" VALUES (1, 'before the dump');
-- a partitioned table, one of whose triggers fires in replicas too: the
-- restore makes its partitions' triggers once, from the dump
CREATE TABLE public.shop_lines (id int, region text, PRIMARY KEY (id, region))
    PARTITION BY LIST (region);
CREATE TABLE public.shop_lines_eu PARTITION OF public.shop_lines FOR VALUES IN ('eu');
CREATE TABLE public.shop_lines_us PARTITION OF public.shop_lines FOR VALUES IN ('us');
SELECT topics.capture('public.shop_lines', 'audit');
ALTER TABLE public.shop_lines ENABLE ALWAYS TRIGGER pg_topics_capture_update;
INSERT INTO public.shop_lines VALUES (1, 'eu'), (2, 'us')}, undef,
	'capture tables into a topic of 0.1');
$snapshot{captures} = q{
SELECT string_agg(table_name || ':' || topic || ':' || format || ':' || active, ','
                  ORDER BY table_name COLLATE "C")
  FROM topics.captures};
my %dumped = map { $_ => $node->safe_psql('postgres', $snapshot{$_}) }
  qw(messages rows groups members positions group_owners acl create_topic captures);
is($dumped{captures}, 'Shop Items:audit:debezium:true,shop_lines:audit:json:true',
	'the captures before the dump');
$dumped{owners} = $node->safe_psql('postgres',
	q{SELECT string_agg(name || ':' || owner, ',' ORDER BY name) FROM topics.topics});

my $dump = "$tmp/upgraded.dump";
$node->command_ok(
	[ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump of the upgraded database');

my $restored = PostgreSQL::Test::Cluster->new('restored', install_path => $inst);
$restored->init;
$restored->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
});
$restored->start;
$restored->safe_psql('postgres', q{
CREATE ROLE regress_creator LOGIN;
CREATE ROLE regress_producer LOGIN;
CREATE ROLE regress_reader LOGIN;
CREATE ROLE regress_other LOGIN;});
$restored->command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', $restored->connstr('postgres'), $dump ],
	'pg_restore into a fresh server');
for my $what (qw(messages rows groups members positions group_owners acl create_topic captures))
{
	is($restored->safe_psql('postgres', $snapshot{$what}),
		$dumped{$what}, "restored: the same $what");
}
is($restored->safe_psql('postgres',
		q{SELECT string_agg(name || ':' || owner, ',' ORDER BY name) FROM topics.topics}),
	$dumped{owners}, 'restored: the same topic owners');
my $restored_offset = works($restored,
	q{SELECT msg_offset FROM topics.produce('orders', 'after-restore', NULL::text, 0)},
	undef, 'restored: produce to orders');
cmp_ok($restored_offset || -1, '>', $new_offset{'orders/0'},
	'restored: produce continues above the dumped offsets');
works($restored,
	q{SELECT msg_offset FROM topics.produce('orders', 'after-restore', NULL::text, 1)},
	'regress_producer', 'restored: regress_producer still produces to orders');
works($restored, q{SELECT count(*) FROM topics.fetch('orders', 0, 0)},
	'regress_reader', 'restored: regress_reader still reads orders');
# A fresh install (which pg_restore runs) records no grant to a role of this
# installation as an initial privilege: neither may the update.
is( $node->safe_psql(
		'postgres', q{
SELECT initprivs FROM pg_init_privs
 WHERE objoid = 'topics.create_topic(text, integer, text, jsonb)'::regprocedure}),
	$restored->safe_psql(
		'postgres', q{
SELECT initprivs FROM pg_init_privs
 WHERE objoid = 'topics.create_topic(text, integer, text, jsonb)'::regprocedure}),
	'the initial privileges of topics.create_topic are those of a fresh install');
fails_with($restored,
	q{INSERT INTO topics_data.orders VALUES (0, 999999, now(), NULL, 'x', NULL)},
	'regress_creator', '42501', undef, 'restored: a direct INSERT');
works($restored, q{INSERT INTO public."Shop Items" VALUES (2, 'after the restore')},
	undef, 'restored: write the captured table');
is( $restored->safe_psql(
		'postgres', q{
SELECT string_agg(name, ',' ORDER BY name)
  FROM (SELECT convert_from(f.value, 'UTF8')::jsonb #>> '{payload,after,name}' AS name
          FROM topics.topics t, generate_series(0, t.partitions - 1) p,
               topics.fetch('audit', p, 0, 1000) f
         WHERE t.name = 'audit' AND f.headers->>'op' = 'c') e}),
	'after the restore,before the dump',
	'restored: the captured table publishes its changes');
works($restored, q{UPDATE public.shop_lines SET region = 'us' WHERE id = 1},
	undef, 'restored: move a row of the captured partitioned table');
is( $restored->safe_psql(
		'postgres', q{
SELECT string_agg(e->>'op' || ':' || coalesce(e->'after'->>'region', '-'), ','
                  ORDER BY e->>'op', coalesce(e->'after'->>'region', '-'))
  FROM (SELECT convert_from(f.value, 'UTF8')::jsonb AS e
          FROM topics.topics t, generate_series(0, t.partitions - 1) p,
               topics.fetch('audit', p, 0, 1000) f
         WHERE t.name = 'audit' AND f.headers->>'table' = 'shop_lines') e}),
	'c:eu,c:us,c:us,d:-',
	'restored: the partitioned table publishes its changes, once');
is( $restored->safe_psql(
		'postgres', q{
SELECT count(*) FROM pg_trigger
 WHERE tgrelid IN ('public.shop_lines'::regclass, 'public.shop_lines_eu'::regclass,
                   'public.shop_lines_us'::regclass)
   AND tgname LIKE 'pg_topics_capture%'}),
	'18', 'restored: each table of the tree has its six triggers');
# the dump holds the triggers, not their dependencies: the restore makes
# them again as it makes the triggers
fails_with($restored, q{ALTER TABLE public."Shop Items" ALTER COLUMN id TYPE bigint},
	undef, '0A000', undef, 'restored: the type of a key column cannot change');
fails_with($restored, q{ALTER TABLE public.shop_lines DROP COLUMN id},
	undef, '2BP01', undef, 'restored: a key column cannot be dropped');
$restored->stop;
works($node, q{DROP TABLE public."Shop Items", public.shop_lines}, undef,
	'drop the captured tables');

# ---------------------------------------------------------------------
# The queue of 0.1
# ---------------------------------------------------------------------

# It is a queue now: its window starts where its group had read (or at its
# log start), and its group is refused.
is( works($node, q{
SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY partition, msg_offset)
  FROM topics.consume('jobs', 10)}, undef, 'consume from a queue of 0.1'),
	'j2,j3,j4,j5', 'a queue of 0.1 hands out what its group had not read');
fails_with($node, q{SELECT * FROM topics.poll('workers', 'jobs', 'w')}, undef,
	'42809', undef, 'a poll of the group of a queue of 0.1');
is( $node->safe_psql('postgres', q{
SELECT string_agg(partition || ':' || start_offset, ',' ORDER BY partition)
  FROM topics.queue_stats WHERE topic = 'jobs'}),
	'0:3,1:3', 'the queue of 0.1 is consumed');

# ---------------------------------------------------------------------
# drop_topic of the upgraded topics
# ---------------------------------------------------------------------

works($node, q{SELECT topics.drop_topic('jobs')}, undef, 'the superuser drops jobs');

works($node, q{SELECT topics.drop_topic('orders')}, 'regress_creator',
	'regress_creator drops orders');
works($node, q{SELECT topics.drop_topic('audit')}, undef, 'the superuser drops audit');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(relname, ',' ORDER BY relname COLLATE "C") FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace AND relkind IN ('r', 'p')}),
	'fresh,fresh$0,fresh$0$0,fresh$1,fresh$1$0,fresh$pg0',
	'no table of the dropped topics is left');
is( $node->safe_psql(
		'postgres', q{
SELECT (SELECT count(*) FROM topics.topic WHERE name <> 'fresh')
     + (SELECT count(*) FROM topics.segment WHERE topic <> 'fresh')
     + (SELECT count(*) FROM topics.consumer_group WHERE topic <> 'fresh')}),
	'0', 'nor a catalog row');

$node->stop;
unlike(slurp_file($node->logfile), qr/terminated by signal|PANIC|TRAP:/,
	'no server process crashed');

done_testing();
