
# Copyright (c) 2025, pg_topics contributors

# A drop_topic that commits through PREPARE TRANSACTION / COMMIT PREPARED
# frees the shared memory it held, as the same drop committed directly
# does (007_leaks.pl): the database's worker finds the tables gone.  A
# DROP EXTENSION cannot be prepared: no worker round would run in a
# database without the extension to free its partition states and member
# heartbeats, so PREPARE refuses it (0A000); committed directly, it frees
# both.  With the smallest tables (16 states, 16 heartbeats) a leak would
# show at once: every other database would fail with 53000.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('prepared_drop');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
max_prepared_transactions = 4
pg_topics.max_partitions = 16
pg_topics.max_members = 16
pg_topics.max_open_producers = 64
pg_topics.worker_naptime = '100ms'
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE a');
$node->safe_psql('postgres', 'CREATE DATABASE b');
$node->safe_psql($_, 'CREATE EXTENSION pg_topics') for qw(a b);

# Fill both tables from database a: 16 partition states, 16 heartbeats.
my $fill = q{
SELECT topic FROM topics.create_topic('t', 16);
SELECT count(*) FROM generate_series(0, 15) p,
       LATERAL topics.produce('t', 'x', partition => p);
SELECT count(*) FROM generate_series(1, 16) m,
       LATERAL topics.join('g', 't', 'm' || m);
};
like($node->safe_psql('a', $fill), qr/^t\n16\n16$/, 'database a fills both tables');

# drop_topic through PREPARE TRANSACTION: a's worker forgets the states.
$node->safe_psql('a',
	"BEGIN; SELECT topics.drop_topic('t'); PREPARE TRANSACTION 'dt'");
$node->safe_psql('a', "COMMIT PREPARED 'dt'");
ok( $node->poll_query_until(
		'b', q{
SELECT count(*) = 1 FROM topics.create_topic('probe', 1);
}, 't'),
	'probe topic created');
my $ok = $node->poll_query_until(
	'b', q{
SELECT count(*) = 1 FROM topics.produce('probe', 'x')
}, 't');
ok($ok, 'after a prepared drop_topic, the states come free');
$node->safe_psql('b', "SELECT topics.drop_topic('probe')");

# Fill again; DROP EXTENSION cannot be prepared, and committed frees all.
like($node->safe_psql('a', $fill), qr/^t\n16\n16$/, 'database a fills both tables again');
my ($ret, $out, $err) = $node->psql('a',
	"BEGIN; DROP EXTENSION pg_topics CASCADE; PREPARE TRANSACTION 'de'");
like($err, qr/cannot PREPARE a transaction that has dropped extension "pg_topics"/,
	'PREPARE TRANSACTION refuses a DROP EXTENSION');
is($node->safe_psql('a', q{SELECT count(*) FROM pg_prepared_xacts}),
	'0', 'nothing was prepared');
$node->safe_psql('a', 'DROP EXTENSION pg_topics CASCADE');
is($node->safe_psql('a', q{SELECT count(*) FROM pg_extension WHERE extname = 'pg_topics'}),
	'0', 'the extension is gone from database a');

# Once the launcher has ended the worker of database a, which has no
# extension any more, use b.
ok( $node->poll_query_until(
		'postgres', q{
SELECT count(*) = 0 FROM pg_stat_activity
 WHERE backend_type = 'pg_topics worker' AND datname = 'a'
}, 't'),
	'the worker of database a ended');
($ret, $out, $err) = $node->psql(
	'b', q{
SELECT topic FROM topics.create_topic('after', 1);
SELECT msg_offset FROM topics.produce('after', 'x');
});
is($ret, 0, 'database b can produce after DROP EXTENSION in a')
  or diag($err);
($ret, $out, $err) = $node->psql('b',
	q{SELECT member FROM topics.join('g', 'after', 'm1')});
is($ret, 0, 'database b can join a group after DROP EXTENSION in a')
  or diag($err);

$node->stop;
done_testing();
