
# Copyright (c) 2025, pg_topics contributors

# Topics with long names, made by 0.2 and upgraded to the current version.
#
# PostgreSQL 15 names a table's array type "_" and the table's name, cut to
# 63 characters; tables whose names differ only in their 63rd character get
# array types of the same name, told apart by more underscores, which run
# out after some sixty ("could not form array type name").  0.2 named a
# topic's tables up to 63 characters long, so a topic of a long name could
# not have more than some sixty partitions or segments a partition; the
# current version names them up to 62, and the update renames the tables
# 0.2 made.
#
# With 0.2 (test/upgrade/pg_topics-0.2.tar.gz, test/perl/PgTopicsRelease.pm):
# a topic whose name is 60 characters long gets 20 partitions (partitions
# 10 to 19 have tables named in 63 characters) and partition 0 a chain of
# 20 segments (the names of segments are cut to 63 characters, with a hash
# of the topic's name).
# After the update:
# - every table has the name the current version gives it, at most 62
#   characters long, and every message reads as before;
# - the topic grows to 200 partitions and partition 0 to 150 segments,
#   which the names of 0.2 could not hold, and every partition and segment
#   takes messages;
# - drop_topic leaves no table behind.
# A topic named as the update's first version named a table in passing
# ("pg_topics_renamed_<oid>", the name of a topic) does not stop the update:
# it now names them with a "$", which no topic's name has.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use PgTopicsRelease;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $srcdir = $ENV{TESTDIR} || '.';
my $inst = install_release($srcdir, '0.2');

my $node = PostgreSQL::Test::Cluster->new('v02', install_path => $inst);
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
});
$node->start;

my $topic = 'long.topic.name.' . ('x' x 44);
is(length $topic, 60, 'the topic name is 60 characters long');

# Every message of the topic, in order.
my $messages = qq{
SELECT string_agg(partition || ':' || msg_offset || ':' || convert_from(value, 'UTF8'), ','
                  ORDER BY partition, msg_offset)
  FROM topics_data."$topic"};

# How many of the topic's partitions and segments have no table of the
# name the running version gives them, and how long the longest name of
# the topic's tables is, its root aside.
my $misnamed = qq{
SELECT (SELECT count(*)
          FROM (SELECT topics_internal.table_name('$topic', p) AS n
                  FROM topics.topic t, generate_series(0, t.partitions - 1) p
                 WHERE t.name = '$topic'
                UNION ALL
                SELECT topics_internal.table_name(topic, partition, base_offset)
                  FROM topics.segment WHERE topic = '$topic') x
         WHERE to_regclass(format('topics_data.%I', n)) IS NULL),
       (SELECT max(length(relname)) FROM pg_class
         WHERE relnamespace = 'topics_data'::regnamespace AND relkind IN ('r', 'p')
           AND relname <> '$topic')};

# produce_02 SQL: runs SQL on the 0.2 server, again when one of its
# segment makers failed.  0.2 let PostgreSQL name a segment's index, and
# two makers of partitions of one long name could pick the same name at
# once (a unique violation in pg_class, the producer's segment not made);
# 0.3 names them itself.  The statement rolled back: running it again
# writes each message once.
sub produce_02
{
	my ($sql) = @_;
	for my $try (1 .. 5)
	{
		my ($rc, $out, $err) = $node->psql('postgres', $sql);
		return if $rc == 0;
		die "0.2 setup failed: $err" if $err !~ /no segment of topic/ || $try == 5;
	}
}

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('$topic', 20, 'stream', '{"segment.messages": 1}');
});
produce_02(qq{
SELECT count(*) FROM generate_series(0, 19) p,
       LATERAL topics.produce('$topic', 'p' || p, partition => p)});
produce_02(qq{
SELECT count(*) FROM generate_series(1, 19) i,
       LATERAL topics.produce('$topic', 'm' || i, partition => 0)});
$node->safe_psql(
	'postgres', qq{
-- a topic of the name the update's first version gave a table in passing
SELECT topics.create_topic('pg_topics_renamed_' || oid)
  FROM pg_class WHERE relname = '$topic\$10';
});
is($node->safe_psql('postgres',
		q{SELECT extversion FROM pg_extension WHERE extname = 'pg_topics'}),
	'0.2', 'made by 0.2');
is( $node->safe_psql(
		'postgres', qq{
SELECT count(*) FILTER (WHERE length(relname) = 63 AND relname NOT LIKE '%~%'),
       count(*) FILTER (WHERE length(relname) = 63 AND relname LIKE '%~%') >= 39
  FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace AND relkind IN ('r', 'p')}),
	'10|t',
	'0.2 named partition tables 10 to 19 in 63 characters, and the segments too, cut');
my $before = $node->safe_psql('postgres', $messages);

$node->stop;
install_current($srcdir);
$node->start;
$node->safe_psql('postgres', 'ALTER EXTENSION pg_topics UPDATE');
isnt($node->safe_psql('postgres',
		q{SELECT extversion FROM pg_extension WHERE extname = 'pg_topics'}),
	'0.2', 'updated');

is($node->safe_psql('postgres', $misnamed), '0|62',
	'every table has the name the current version gives it, 62 characters at most');
is($node->safe_psql('postgres', $messages), $before, 'every message reads as before');
is( $node->safe_psql(
		'postgres', qq{
SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset)
  FROM topics.fetch('$topic', 0, 0)}),
	join(',', 'p0', map { "m$_" } 1 .. 19),
	'fetch reads partition 0 across its renamed segments');

# 200 partitions and 150 segments in partition 0: 0.2's names run out of
# array type names long before
$node->safe_psql(
	'postgres', qq{
SELECT topics.add_partitions('$topic', 180);
SELECT count(*) FROM generate_series(0, 199) p,
       LATERAL topics.produce('$topic', 'q' || p, partition => p);
SELECT count(*) FROM generate_series(1, 130) i,
       LATERAL topics.produce('$topic', 'n' || i, partition => 0);
});
is( $node->safe_psql(
		'postgres', qq{
SELECT count(*), max(segments) >= 150,
       (SELECT count(*) FROM topics_data."$topic")
  FROM topics.partitions WHERE topic = '$topic'}),
	'200|t|' . (20 + 19 + 200 + 130),
	'200 partitions and 150 segments in partition 0, each holding its messages');
is($node->safe_psql('postgres', $misnamed), '0|62',
	'the new tables have their names, 62 characters at most');
is( $node->safe_psql(
		'postgres', qq{
SELECT count(*) FROM pg_type t
  JOIN pg_class c ON c.reltype = t.typelem
 WHERE c.relnamespace = 'topics_data'::regnamespace AND t.typname LIKE '\\_\\_%'}),
	'0', 'no array type of the topic needed a second underscore');

$node->safe_psql('postgres', qq{SELECT topics.drop_topic('$topic')});
$node->safe_psql('postgres',
	q{SELECT topics.drop_topic(name) FROM topics.topic WHERE name LIKE 'pg\_topics\_renamed\_%'});
$node->poll_query_until(
	'postgres', q{
SELECT count(*) = 0 FROM pg_class WHERE relnamespace = 'topics_data'::regnamespace})
  or die 'the tables of the dropped topic stay';
pass('drop_topic leaves no table behind');
is($node->safe_psql('postgres', 'SELECT count(*) FROM topics.topic'), '0', 'both topics dropped');

$node->stop;
done_testing();
