
# Copyright (c) 2025, pg_topics contributors

# A dump taken while the segment maker drops the tables of a wide topic
# (break-it review of issue 10): the dump holds the dropped topic's tree
# under its renamed root, "$dropping$<name>".  Restored, the maker of the
# new database drops it again; pg_restore creates the tables before it
# attaches them, so the maker must not take the root for the last of
# them while other tables of the topic wait to be attached, which left
# them behind for good and the name taken ("relation ... already
# exists").  Expected: whatever pg_restore managed, no table of the topic
# is left, and its name can be used again.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump_during_drop');
$node->init;
$node->append_conf('postgresql.conf', q{shared_preload_libraries = 'pg_topics'});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_topics');
$node->safe_psql('postgres', q{SELECT topics.create_topic('gd', 200)});
$node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM topics.partitions WHERE topic = 'gd' AND segments = 0})
  or die 'partitions never made';
$node->safe_psql('postgres', q{
SELECT count(*) FROM topics.produce_batch('gd',
    ARRAY(SELECT 'v' || i FROM generate_series(1, 500) i),
    ARRAY(SELECT 'k' || i FROM generate_series(1, 500) i))});

# tables named for topic gd, and its renamed root, in database $db
sub tables_of_gd
{
	my ($db) = @_;
	return $node->safe_psql($db, q{
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'topics_data' AND c.relkind IN ('r', 'p')
   AND (c.relname LIKE 'gd$%' OR c.relname = '$dropping$gd')});
}

# a session's lock on one segment holds the maker up while we dump
my $holder = $node->background_psql('postgres');
$holder->query_safe(q{BEGIN; LOCK TABLE topics_data."gd$5$0" IN ACCESS SHARE MODE});
$node->safe_psql('postgres', q{SELECT topics.drop_topic('gd')});
cmp_ok(tables_of_gd('postgres'), '>', 200, 'the dropped topic\'s tables wait for the maker');
my $dump = $node->basedir . '/during_drop.dump';
$node->command_ok(
	[ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump while the tables of a dropped topic are dropped');
$holder->query_safe('COMMIT');
$holder->quit;

ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM pg_class WHERE relname LIKE 'gd$%' OR relname = '$dropping$gd'}),
	'the maker drops them once the lock is gone');

# restore the tables first and attach them a moment later, giving the new
# database's maker time to find the renamed root without its partitions
$node->safe_psql('postgres', 'CREATE DATABASE restored');
my $list = $node->basedir . '/all.list';
run_log([ 'pg_restore', '-l', '-f', $list, $dump ]) or die 'pg_restore -l failed';
my @entries = split /\n/, slurp_file($list);
my @attach = grep { /TABLE ATTACH/ } @entries;
my @rest = grep { !/TABLE ATTACH/ } @entries;
cmp_ok(scalar(@attach), '>', 200, 'the dump attaches the dropped topic\'s tables');
my $first = $node->basedir . '/first.list';
my $then = $node->basedir . '/then.list';
append_to_file($first, join("\n", @rest) . "\n");
append_to_file($then, join("\n", @attach) . "\n");
run_log([ 'pg_restore', '-L', $first, '-d', $node->connstr('restored'), $dump ]);
sleep 3;
run_log([ 'pg_restore', '-L', $then, '-d', $node->connstr('restored'), $dump ]);
ok($node->poll_query_until('restored', q{
SELECT count(*) = 0 FROM pg_class WHERE relname = '$dropping$gd'}),
	'the restored database\'s maker drops the restored tree');
is( $node->safe_psql('restored',
		q{SELECT partitions FROM topics.create_topic('gd', 3)}),
	'3', 'the name can be used again in the restored database');
is( $node->safe_psql('restored', q{
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'topics_data' AND c.relkind IN ('r', 'p')
   AND (c.relname LIKE 'gd$%' OR c.relname = 'gd')}),
	'8', 'and only the new topic\'s tables are left: tables restored after the maker was done went with the create');
is( $node->safe_psql('postgres',
		q{SELECT partitions FROM topics.create_topic('gd', 3)}),
	'3', 'and in the dumped one');

$node->stop;
done_testing();
