
# Copyright (c) 2025, pg_topics contributors

# Segment makers side by side (src/log/segment_maker.c): a database runs
# up to pg_topics.makers_per_database of them, and the partitions of a
# wide topic are asked for in as many ranges of whole groups, which they
# make in parallel.  Each partition is made once, whoever makes it: a
# maker's range, a producer that wants it, or a maker that comes after
# one that was stopped.  A database's second maker gives way when another
# database needs one and none may start.
#
# The server has room for two makers in all (max_worker_processes 5, one
# maintenance worker: half of the four slots left), so that the part
# where a database gives way can fill them.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# a started node running pg_topics with these settings, and the extension
# in database postgres and in each of @dbs
sub topics_node
{
	my ($name, $settings, @dbs) = @_;
	my $n = PostgreSQL::Test::Cluster->new($name);
	$n->init;
	$n->append_conf('postgresql.conf',
		"shared_preload_libraries = 'pg_topics'\npg_topics.worker_naptime = 200\n"
		  . $settings);
	$n->start;
	$n->safe_psql('postgres', 'CREATE EXTENSION pg_topics');
	for my $db (@dbs)
	{
		$n->safe_psql('postgres', "CREATE DATABASE $db");
		$n->safe_psql($db, 'CREATE EXTENSION pg_topics');
	}
	return $n;
}

my $node = topics_node('parallel_makers', q{
max_worker_processes = 5
pg_topics.max_workers = 1
pg_topics.max_partitions = 16384
}, 'other');

# partitions of topic $t whose tables are not made yet
sub unmade
{
	my ($t) = @_;
	return $node->safe_psql('postgres', qq{
SELECT count(*) FROM topics.partitions WHERE topic = '$t' AND segments = 0});
}

# every partition of topic $t made, once: one segment each, recorded once,
# and as many leaf tables under its root
sub made_once
{
	my ($t) = @_;
	return $node->safe_psql('postgres', qq{
SELECT (SELECT count(*) FROM topics.partitions WHERE topic = '$t' AND segments = 1),
       (SELECT count(*) FROM topics.segment WHERE topic = '$t'),
       (SELECT count(*) FILTER (WHERE isleaf) FROM pg_partition_tree('topics_data.$t'))});
}

my $makers = q{(SELECT count(*) FROM pg_stat_activity
 WHERE backend_type = 'pg_topics segment' AND datname = current_database())};

# 1. two makers make a wide topic's partitions, each once, while a
# producer asks for partitions spread over them
$node->safe_psql('postgres', q{SELECT topics.create_topic('wide', 1500)});
ok($node->poll_query_until('postgres', "SELECT $makers >= 2"),
	'two makers of one database run at once');
my $produced = 0;
for my $p (100, 700, 1300, 1499, 900, 65)
{
	$produced += $node->safe_psql('postgres', qq{
SELECT count(*) FROM topics.produce('wide', 'to $p', partition => $p)});
}
is($produced, 6, 'a producer gets the partitions it wants while the makers work');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM topics.partitions WHERE topic = 'wide' AND segments = 0}),
	'the makers make every partition');
is(made_once('wide'), '1500|1500|1500', 'each partition once');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM pg_partition_tree('topics_data.wide') WHERE level = 1}),
	'24', 'in groups of 64, each made once');
is( $node->safe_psql('postgres', q{
SELECT string_agg(partition || ':' || convert_from(value, 'UTF8'), ',' ORDER BY partition)
  FROM topics_data.wide WHERE partition IN (65, 100, 700, 900, 1300, 1499)}),
	'65:to 65,100:to 100,700:to 700,900:to 900,1300:to 1300,1499:to 1499',
	'the messages produced meanwhile are in their partitions');
my $log = slurp_file($node->logfile);
unlike($log, qr/already exists|could not open topic/,
	'no maker tried to make a table another made');

# 2. one maker when the setting says so
$node->safe_psql('postgres', q{
ALTER SYSTEM SET pg_topics.makers_per_database = 1;
SELECT pg_reload_conf();});
ok($node->poll_query_until('postgres', "SELECT $makers = 0"), 'the makers of part 1 are gone');
$node->safe_psql('postgres', q{SELECT topics.create_topic('single', 1000)});
my $most = 0;
while (unmade('single') > 0)
{
	my $now = $node->safe_psql('postgres', "SELECT $makers");
	$most = $now if $now > $most;
}
is($most, 1, 'with pg_topics.makers_per_database = 1, one maker makes them');
is(made_once('single'), '1000|1000|1000', 'each partition once');

# a setting lowered while two makers work sends one of them away after its
# transaction; the other makes the rest
$node->safe_psql('postgres', q{
ALTER SYSTEM RESET pg_topics.makers_per_database;
SELECT pg_reload_conf();});
ok($node->poll_query_until('postgres', "SELECT $makers = 0"), 'the maker of part 2 is gone');
$node->safe_psql('postgres', q{SELECT topics.create_topic('lowered', 3000)});
ok($node->poll_query_until('postgres', "SELECT $makers >= 2"), 'two makers start');
$node->safe_psql('postgres', q{
ALTER SYSTEM SET pg_topics.makers_per_database = 1;
SELECT pg_reload_conf();});
ok( $node->poll_query_until('postgres', qq{
SELECT $makers = 1 AND EXISTS (SELECT FROM topics.partitions
                                WHERE topic = 'lowered' AND segments = 0)}),
	'a lower setting sends a maker away while the topic is still being made');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM topics.partitions WHERE topic = 'lowered' AND segments = 0}),
	'the maker left makes the rest');
is(made_once('lowered'), '3000|3000|3000', 'each partition once');
$node->safe_psql('postgres', q{
ALTER SYSTEM RESET pg_topics.makers_per_database;
SELECT pg_reload_conf();});

# 3. makers stopped half-way: the database worker has the others made,
# and the ones made stay made once
ok($node->poll_query_until('postgres', "SELECT $makers = 0"), 'the maker left is gone');
$node->safe_psql('postgres', q{SELECT topics.create_topic('stopped', 1500)});
ok($node->poll_query_until('postgres', "SELECT $makers >= 2"), 'two makers start');
$node->safe_psql('postgres', q{
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE backend_type = 'pg_topics segment'});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM topics.partitions WHERE topic = 'stopped' AND segments = 0}),
	'the partitions of stopped makers are made in the end');
is(made_once('stopped'), '1500|1500|1500', 'each partition once');

# 4. both maker slots held by one database's wide topic: another
# database's producer that needs a new segment gets a maker, from the one
# that gives way, long before the wide topic is made
$node->safe_psql('other', q{
SELECT topics.create_topic('small', 1, config => '{"segment.messages": 2}')});
$node->safe_psql('other', q{SELECT topics.produce('small', 'a')});
$node->safe_psql('other', q{SELECT topics.produce('small', 'b')});
ok($node->poll_query_until('postgres', "SELECT $makers = 0"), 'no maker left of part 3');
ok($node->poll_query_until('other', "SELECT $makers = 0"), 'nor of the other database');
$node->safe_psql('postgres', q{SELECT topics.create_topic('busy', 3000)});
ok($node->poll_query_until('postgres', "SELECT $makers >= 2"), 'the wide topic takes both maker slots');
my ($ret, $out, $err) = $node->psql('other', q{
SET pg_topics.segment_create_timeout = '10s';
SELECT msg_offset FROM topics.produce('small', 'c');});
is($out, '2', 'the other database\'s producer gets its new segment');
cmp_ok(unmade('busy'), '>', 0, 'while the wide topic is still being made');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM topics.partitions WHERE topic = 'busy' AND segments = 0}),
	'the maker left makes the rest of the wide topic');
is(made_once('busy'), '3000|3000|3000', 'each partition once');

# 5. a topic whose tables' names leave no room for PostgreSQL's index
# names: it cut the names it chose to the same stem for every table and
# numbered them, and two makers both took the first number free.  (50
# characters: at 63 the names of the tables are cut too, see README.)
my $long = 'Long.topic-name_' . ('abcdefghij' x 3) . '0123';
$node->safe_psql('postgres', qq{
SELECT topics.create_topic('$long', 1000, config => '{"segment.messages": 2}')});
ok($node->poll_query_until('postgres', qq{
SELECT count(*) = 0 FROM topics.partitions WHERE topic = '$long' AND segments = 0}),
	'the makers make every partition of a topic with a name of 50 characters');
# roll-overs of many partitions at once, by both makers
$node->safe_psql('postgres', qq{
SELECT count(*) FROM topics.produce_batch('$long',
    ARRAY(SELECT 'v' || i FROM generate_series(1, 3000) i),
    ARRAY(SELECT 'k' || i FROM generate_series(1, 3000) i))});
is( $node->safe_psql('postgres', qq{
SELECT sum(log_end) FROM topics.partitions WHERE topic = '$long'}),
	'3000', 'and its segments roll over');
is( $node->safe_psql('postgres', qq{
SELECT count(*) FILTER (WHERE n <> 1) FROM (
  SELECT (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid) n
    FROM pg_class c
   WHERE c.relnamespace = 'topics_data'::regnamespace AND c.relname LIKE 'Long.topic%'
     AND c.relkind = 'r') t}),
	'0', 'every segment has its index');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace AND relname LIKE 'Long.topic%'
   AND relkind IN ('i', 'I') AND relname ~ 'idx[0-9]+$'}),
	'0', 'each named for its table, none numbered by PostgreSQL');
$log = slurp_file($node->logfile);
unlike($log, qr/duplicate key value|already exists/,
	'no maker took an index name another took');
$node->stop;

# 6. a pool as small as it goes: four databases take turns for their
# maintenance workers (max_worker_processes 4: this extension's launcher,
# PostgreSQL's logical replication launcher, a worker, a maker).  Two
# workers took the last slot, and no maker ever found one; nor could it
# while a worker that said it exits kept its slot until it was gone and
# the launcher started the next one meanwhile.
my $small = topics_node('small_pool', q{
max_worker_processes = 4
pg_topics.max_workers = 2
}, 'd1', 'd2', 'd3');
$small->safe_psql('postgres', q{SELECT topics.create_topic('tight', 600)});
($ret, $out, $err) = $small->psql('postgres', q{
SET pg_topics.segment_create_timeout = '20s';
SELECT partition FROM topics.produce('tight', 'x', partition => 599);});
is($out, '599', 'a producer gets a partition not made yet while workers take turns');
ok($small->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM topics.partitions WHERE topic = 'tight' AND segments = 0}),
	'a maker makes the others');
$small->stop;

done_testing();
