
# Copyright (c) 2025, pg_topics contributors

# pg_topics without its preconditions: the library not preloaded (every call
# fails with 55000 and a hint), and no free background worker slot for the
# worker that adds a segment (53000 and a hint, with nothing half done).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Run $sql with verbose errors; return (exit code, stdout, stderr).
sub psql_verbose
{
	my ($node, $sql) = @_;
	my ($stdout, $stderr);
	my $ret = $node->psql(
		'postgres', "\\set VERBOSITY verbose\n$sql",
		stdout => \$stdout,
		stderr => \$stderr,
		on_error_stop => 1);
	return ($ret, $stdout, $stderr);
}

# Check that $sql fails with $sqlstate and a HINT matching $hint.
sub fails_with
{
	my ($node, $sql, $sqlstate, $hint, $name) = @_;
	my ($ret, $stdout, $stderr) = psql_verbose($node, $sql);

	isnt($ret, 0, "$name: fails");
	like($stderr, qr/ERROR:\s+$sqlstate:/, "$name: SQLSTATE $sqlstate");
	like($stderr, qr/HINT:\s+.*$hint/, "$name: hint mentions $hint");
	return $stderr;
}

# Not preloaded

my $plain = PostgreSQL::Test::Cluster->new('no_preload');
$plain->init;
$plain->start;

my ($ret, $out, $stderr) = psql_verbose($plain, 'CREATE EXTENSION pg_topics');
is($ret, 0, 'CREATE EXTENSION works without shared_preload_libraries')
  or diag($stderr);

SKIP:
{
	skip 'the extension could not be created', 13 if $ret != 0;

	fails_with($plain, "SELECT topics.create_topic('t')",
		'55000', 'shared_preload_libraries', 'create_topic without preload');
	fails_with($plain, "SELECT * FROM topics.produce('t', 'v'::text)",
		'55000', 'shared_preload_libraries', 'produce without preload');
	fails_with(
		$plain,
		"SELECT * FROM topics.produce_batch('t', ARRAY['a', 'b']::text[])",
		'55000', 'shared_preload_libraries', 'produce_batch without preload');
	fails_with($plain, "SELECT * FROM topics.fetch('t', 0, 0)",
		'55000', 'shared_preload_libraries', 'fetch without preload');
	is($plain->safe_psql('postgres', 'SELECT count(*) FROM topics.topic'),
		'0', 'no topic was created');
}

$plain->stop;

# Preloaded, but no background worker slot for the segment worker

my $node = PostgreSQL::Test::Cluster->new('no_worker_slot');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 0
pg_topics.segment_create_timeout = '500ms'
});
$node->start;

# Every worker slot is taken: background workers show in pg_stat_activity
# under their own backend_type; nothing else may use a slot.
is( $node->safe_psql(
		'postgres', q{
SELECT current_setting('max_worker_processes')::int - count(*)
  FROM pg_stat_activity
 WHERE backend_type NOT IN ('client backend', 'autovacuum launcher',
                            'autovacuum worker', 'background writer',
                            'checkpointer', 'walwriter', 'archiver',
                            'startup', 'walreceiver', 'walsender')}),
	'0',
	'no free background worker slot');

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('t', 1, 'stream', '{"segment.messages": 5}');
});
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM topics.segment s WHERE s.topic = 't'}),
	'1',
	'the topic starts with one segment');

my $err = fails_with(
	$node, q{
SELECT * FROM topics.produce_batch('t',
    ARRAY(SELECT 'm' || g FROM generate_series(1, 20) g))},
	'53000', 'max_worker_processes',
	'20 messages into segments of 5 without a worker slot');
like($err, qr/could not start a worker/, 'the error names the worker');

# Nothing half done: no message committed, no producer left registered.
is($node->safe_psql('postgres', 'SELECT count(*) FROM topics_data.t'),
	'0', 'no message of the failed batch is stored');
is($node->safe_psql('postgres', q{SELECT count(*) FROM topics.fetch('t', 0, 0)}),
	'0', 'fetch returns nothing after the failed batch');
is( $node->safe_psql(
		'postgres',
		q{SELECT lso = log_end, oldest_producer_xid IS NULL, segments
		    FROM topics.partitions WHERE topic = 't'}),
	't|t|1',
	'the failed batch holds no LSO and left one segment');

# A later produce that fits in the first segment still works.
($ret, $out, $stderr) = psql_verbose(
	$node, q{
SELECT partition, msg_offset FROM topics.produce('t', 'after'::text)});
is($ret, 0, 'a later produce works') or diag($stderr);
like($out, qr/^0\|[0-4]$/, 'a later produce lands in the first segment');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(convert_from(value, 'UTF8'), ',')
		    FROM topics.fetch('t', 0, 0)}),
	'after',
	'only the later message is readable');

$node->stop;

done_testing();
