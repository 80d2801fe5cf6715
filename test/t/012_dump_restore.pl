
# Copyright (c) 2025, pg_topics contributors

# pg_dump and restore into a fresh server keep every topic, message, offset,
# timestamp and group position, and leave a server on which new topics,
# groups, members and produces work.
#
# Server A holds two topics with small segments (so each partition has a
# chain of several segment tables): "one" (1 partition, owned by role
# regress_app) and "three" (3 partitions, store mode).  Messages have keys,
# headers, explicit timestamps, a NULL key, a tombstone and non-UTF-8 bytes;
# rolled-back transactions leave gaps, one of them at the tail of "one".
# Group g1 (two members) has read part of "three"; group g2 has read all of
# "one", and its position passed the rolled-back tail.
#
# A is dumped (custom format) and restored into a fresh server B that
# preloads pg_topics and has the role.  On B:
# - every message (topic, partition, offset, timestamp, key, value,
#   headers), every topic, group, member and group position is as on A, and
#   no partition's log end went back;
# - a produce to a restored topic gets an offset above every offset A ever
#   handed out, rolled-back tail included: otherwise g2, whose position is
#   past that tail, would skip the new message;
# - the restored groups poll on from their positions and get exactly the
#   messages they had not read plus the new ones;
# - create_topic, a new group and a new member of a restored group work:
#   the catalog's id sequences must come back with the data, or these fail
#   with duplicate keys.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $conf = q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
};

my $node_a = PostgreSQL::Test::Cluster->new('dump_a');
$node_a->init;
$node_a->append_conf('postgresql.conf', $conf);
$node_a->start;

$node_a->safe_psql(
	'postgres', q{
CREATE ROLE regress_app LOGIN;
CREATE EXTENSION pg_topics;
GRANT EXECUTE ON FUNCTION topics.create_topic(text, integer, text, jsonb) TO regress_app;

SET ROLE regress_app;
SELECT topics.create_topic('one', 1, 'stream', '{"segment.messages": 4}');
RESET ROLE;
SELECT topics.create_topic('three', 3, 'store', '{"segment.messages": 4}');
});

# Topic one, as its owner: keyed messages with headers and timestamps, a
# NULL key, a tombstone, raw bytes; a rolled-back gap in the middle and one
# at the tail.
$node_a->safe_psql(
	'postgres', q{
SET ROLE regress_app;
SELECT count(*) FROM (
    SELECT topics.produce('one', 'one-' || i, 'key-' || (i % 3), NULL,
                          jsonb_build_object('i', i, 'src', 'a'),
                          timestamptz '2024-01-01 00:00:00+00' + i * interval '90 s')
      FROM generate_series(0, 6) i) x;
BEGIN;
SELECT count(*) FROM topics.produce_batch('one', ARRAY['gap-1', 'gap-2']);
ROLLBACK;
SELECT topics.produce('one', 'no key'::text, NULL::text, NULL, NULL,
                      timestamptz '2024-02-01 12:00:00.123456+00');
SELECT topics.produce('one', NULL::bytea, '\x6b6579'::bytea, NULL,
                      '{"tombstone": true}', timestamptz '2024-02-02 00:00:00+00');
SELECT topics.produce('one', '\x00ff10fe'::bytea, '\xc3'::bytea, NULL, NULL,
                      timestamptz '1999-12-31 23:59:59.999999+00');
SELECT count(*) FROM (
    SELECT topics.produce('one', 'late-' || i, NULL::text)
      FROM generate_series(1, 6) i) x;
BEGIN;
SELECT count(*) FROM topics.produce_batch('one', ARRAY['tail-1', 'tail-2', 'tail-3']);
ROLLBACK;
});

# Topic three: keyed batches spread over the partitions, with headers and a
# batch timestamp, and a rolled-back batch.
$node_a->safe_psql(
	'postgres', q{
SELECT count(*) FROM (
    SELECT topics.produce_batch('three',
               ARRAY(SELECT 'three-' || b || '-' || i FROM generate_series(1, 6) i),
               ARRAY(SELECT 'k' || (b * 7 + i) FROM generate_series(1, 6) i),
               NULL,
               ARRAY(SELECT jsonb_build_object('batch', b, 'i', i)
                       FROM generate_series(1, 6) i),
               timestamptz '2023-06-01 00:00:00+00' + b * interval '1 day')
      FROM generate_series(1, 5) b) x;
BEGIN;
SELECT count(*) FROM topics.produce_batch('three', ARRAY['x1', 'x2', 'x3'],
                                          ARRAY['k1', 'k2', 'k3']);
ROLLBACK;
SELECT count(*) FROM topics.produce_batch('three',
           ARRAY(SELECT 'three-late-' || i FROM generate_series(1, 9) i),
           ARRAY(SELECT 'late' || i FROM generate_series(1, 9) i));
});

# Groups: g1 on three with two members reads part of it; g2 on one reads
# everything and then polls once more, which moves its position past the
# rolled-back tail.
$node_a->safe_psql(
	'postgres', q{
SELECT topics.join('g1', 'three', 'm1', auto_offset_reset => 'earliest');
SELECT topics.join('g1', 'three', 'm2');
SELECT topics.join('g1', 'three', 'm1');
SELECT count(*) FROM topics.poll('g1', 'three', 'm1', 7);
SELECT count(*) FROM topics.poll('g1', 'three', 'm2', 3);
SELECT topics.join('g2', 'one', 'a', strategy => 'roundrobin',
                   auto_offset_reset => 'earliest');
SELECT count(*) FROM topics.poll('g2', 'one', 'a', 1000);
SELECT count(*) FROM topics.poll('g2', 'one', 'a', 1000);
});

my ($one_log_end) = $node_a->safe_psql('postgres',
	q{SELECT log_end FROM topics.partitions WHERE topic = 'one'});
is( $node_a->safe_psql(
		'postgres',
		q{SELECT committed FROM topics.group_lag WHERE group_name = 'g2'}),
	$one_log_end,
	'on A, g2 sits at the log end of one, past the rolled-back tail');
cmp_ok(
	$node_a->safe_psql(
		'postgres',
		q{SELECT min(segments) FROM topics.partitions}),
	'>', 2,
	'on A, every partition has a chain of segments');
is( $node_a->safe_psql(
		'postgres',
		q{SELECT log_end - 1 - (SELECT max(msg_offset) FROM topics_data.one)
		    FROM topics.partitions WHERE topic = 'one'}),
	'3',
	'on A, the last three offsets of one were rolled back');

# What must survive, read through the API.
my %snapshot = (
	messages => q{
SELECT f.topic, f.partition, f.msg_offset,
       to_char(f."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
       encode(f.key, 'hex'), encode(f.value, 'hex'), f.headers
  FROM topics.partitions p,
       LATERAL topics.fetch(p.topic, p.partition, 0, 1000000) f
 ORDER BY 1, 2, 3},
	topics => q{
SELECT name, mode, partitions, config, owner FROM topics.topics ORDER BY 1},
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
my %on_a = map { $_ => $node_a->safe_psql('postgres', $snapshot{$_}) } keys %snapshot;
my %log_end_a = map { my ($t, $p, $e) = split /\|/; ("$t/$p" => $e) }
  split /\n/, $node_a->safe_psql('postgres',
	'SELECT topic, partition, log_end FROM topics.partitions');
note "A: " . scalar(split /\n/, $on_a{messages}) . " messages; log ends: "
  . join(', ', map { "$_ $log_end_a{$_}" } sort keys %log_end_a);

# Dump A, restore into a fresh B.
my $dump = $node_a->basedir . '/a.dump';
$node_a->command_ok(
	[ 'pg_dump', '-Fc', '-f', $dump, '-d', $node_a->connstr('postgres') ],
	'pg_dump of A');

my $node_b = PostgreSQL::Test::Cluster->new('restore_b');
$node_b->init;
$node_b->append_conf('postgresql.conf', $conf);
$node_b->start;
$node_b->safe_psql('postgres', 'CREATE ROLE regress_app LOGIN');
$node_b->command_ok(
	[
		'pg_restore', '--exit-on-error', '-d', $node_b->connstr('postgres'),
		$dump
	],
	'pg_restore into B');

for my $what (qw(messages topics groups members positions log_start))
{
	is($node_b->safe_psql('postgres', $snapshot{$what}),
		$on_a{$what}, "B has the same $what as A");
}
for my $line (split /\n/, $node_b->safe_psql('postgres',
	'SELECT topic, partition, log_end FROM topics.partitions ORDER BY 1, 2'))
{
	my ($t, $p, $e) = split /\|/, $line;
	cmp_ok($e, '>=', $log_end_a{"$t/$p"},
		"B: the log end of $t/$p did not go back");
}

# Run $sql on B as $role (or the superuser); return (ok, stdout, stderr).
sub on_b
{
	my ($sql, $role) = @_;
	my ($out, $err);
	$sql = "SET ROLE $role;\n$sql" if $role;
	my $ret = $node_b->psql(
		'postgres', $sql,
		stdout => \$out,
		stderr => \$err,
		on_error_stop => 1);
	return ($ret == 0, $out, $err);
}

# Produce to the restored topics: above every offset A ever handed out.
my ($ok, $out, $err) = on_b(
	q{SELECT msg_offset FROM topics.produce('one', 'after-restore'::text, NULL::text)},
	'regress_app');
ok($ok, 'the owner produces to restored topic one') or diag($err);
cmp_ok($out || -1, '>=', $log_end_a{'one/0'},
	'the new offset of one lies above every offset A handed out, rolled-back tail included'
);
my %new_three;
for my $p (0 .. 2)
{
	($ok, $out, $err) = on_b(
		qq{SELECT msg_offset FROM topics.produce('three', 'after-restore-$p'::text,
		                                         NULL::text, $p)});
	ok($ok, "produce to restored topic three, partition $p") or diag($err);
	$new_three{$p} = $out;
	cmp_ok($out || -1, '>=', $log_end_a{"three/$p"},
		"the new offset of three/$p lies above every offset A handed out");
}

# The restored groups poll on from their positions.
($ok, $out, $err) = on_b(
	q{SELECT string_agg(msg_offset || ':' || coalesce(encode(value, 'escape'), 'NULL'),
	                    ',' ORDER BY msg_offset)
	    FROM topics.poll('g2', 'one', 'a', 1000)});
ok($ok, 'restored group g2 polls') or diag($err);
like($out, qr/^\d+:after-restore$/,
	'g2 gets exactly the message produced after the restore');

my $expected_g1 = $node_b->safe_psql(
	'postgres', q{
SELECT string_agg(f.partition || ':' || f.msg_offset, ',' ORDER BY f.partition, f.msg_offset)
  FROM topics.group_lag l,
       LATERAL topics.fetch('three', l.partition, coalesce(l.committed, 0),
                            1000000) f
 WHERE l.group_name = 'g1'});
($ok, $out, $err) = on_b(
	q{
CREATE TABLE g1_polled AS
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('g1', 'three', 'm1', 1000);
INSERT INTO g1_polled
SELECT partition, msg_offset, convert_from(value, 'UTF8')
  FROM topics.poll('g1', 'three', 'm2', 1000);
SELECT string_agg(partition || ':' || msg_offset, ',' ORDER BY partition, msg_offset)
  FROM g1_polled;
});
ok($ok, 'restored group g1 polls with both members') or diag($err);
is($out, $expected_g1,
	'g1 gets every message at or after its positions, and nothing before');
is( $node_b->safe_psql(
		'postgres', q{
SELECT string_agg(value, ',' ORDER BY partition)
  FROM g1_polled WHERE value LIKE 'after-restore-%'}),
	'after-restore-0,after-restore-1,after-restore-2',
	'g1 gets the three messages produced after the restore');
cmp_ok(
	$node_b->safe_psql('postgres', 'SELECT count(*) FROM g1_polled'),
	'>', 3,
	'g1 also gets restored messages it had not read on A');

# New topics, groups and members.
($ok, $out, $err) = on_b(
	q{SELECT topic FROM topics.create_topic('fresh', 2);
	  SELECT string_agg(r.partition || ':' || r.msg_offset, ',' ORDER BY r.partition)
	    FROM generate_series(0, 1) p,
	         LATERAL topics.produce('fresh', 'f' || p, NULL::text, p) r;});
ok($ok, 'create_topic works on B') or diag($err);
is($out, "fresh\n0:0,1:0", 'the new topic takes messages from offset 0');

($ok, $out, $err) = on_b(
	q{SELECT member, partitions FROM topics.join('g3', 'three', 'n1',
	                                              auto_offset_reset => 'earliest');
	  SELECT count(*) FROM topics.poll('g3', 'three', 'n1', 100000);});
ok($ok, 'a new group joins a restored topic') or diag($err);
is( $out,
	"n1|{0,1,2}\n"
	  . $node_b->safe_psql('postgres', q{SELECT count(*) FROM topics_data.three}),
	'the new group reads every message of the restored topic');

($ok, $out, $err) = on_b(
	q{SELECT member, cardinality(partitions) FROM topics.join('g1', 'three', 'm3')});
ok($ok, 'a new member joins a restored group') or diag($err);
is($out, 'm3|1', 'the new member gets one of the three partitions');

is($node_b->safe_psql('postgres', 'SELECT count(*) FROM topics.groups'),
	'3', 'B has the two restored groups and the new one');

$node_a->stop;
$node_b->stop;

done_testing();
