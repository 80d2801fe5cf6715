
# Copyright (c) 2025, pg_topics contributors

# The life of the per-database workers, while there are fewer databases
# with the extension than pg_topics.max_workers (so workers stay): a
# database without the extension is probed once and gets no worker; CREATE
# EXTENSION starts one and DROP EXTENSION ends it; each database with the
# extension has its own, which stays between rounds; SIGTERM ends a worker
# promptly and the launcher replaces it at once; a transaction that
# creates the extension cannot be prepared; CREATE DATABASE ... TEMPLATE,
# ALTER DATABASE ... RENAME and DROP DATABASE of a database whose worker
# runs succeed (the worker is stopped first instead of making them fail
# with "being accessed by other users"); a database that stops accepting
# connections loses its worker.

use strict;
use warnings;

use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker_lifecycle');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
max_prepared_transactions = 2
pg_topics.worker_naptime = '100ms'
pg_topics.max_workers = 4
});
$node->start;

# The pid of the worker of a database, waiting until there is exactly one
# (other than $not_pid, when given).
sub worker_pid
{
	my ($dbname, $not_pid) = @_;
	my $other = defined $not_pid ? "AND pid <> $not_pid" : '';

	$node->poll_query_until(
		'postgres', qq{
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE backend_type = 'pg_topics worker' AND datname = '$dbname' $other})
	  or die "Timed out waiting for the worker of database $dbname";
	return $node->safe_psql(
		'postgres', qq{
SELECT pid FROM pg_stat_activity
 WHERE backend_type = 'pg_topics worker' AND datname = '$dbname'});
}

# Wait until database $dbname has no worker.
sub no_worker
{
	my ($dbname) = @_;

	return $node->poll_query_until(
		'postgres', qq{
SELECT count(*) = 0 FROM pg_stat_activity
 WHERE backend_type = 'pg_topics worker' AND datname = '$dbname'});
}

sub launchers
{
	return $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM pg_stat_activity
		   WHERE backend_type = 'pg_topics launcher'});
}

# How many times a worker found no extension in database $dbname (logged at
# DEBUG1 by the worker, which the database's settings make visible).
sub probes
{
	my ($dbname) = @_;
	my $log = slurp_file($node->logfile);
	my @hits = $log =~ /database "$dbname" has no extension "pg_topics"/g;
	return scalar @hits;
}

is(launchers(), '1', 'one launcher runs');

# A database without the extension: connections are allowed only once its
# workers log at DEBUG1, so that the probe shows in the log.
$node->safe_psql('postgres', q{
CREATE DATABASE plain ALLOW_CONNECTIONS false;
ALTER DATABASE plain SET log_min_messages = debug1;
ALTER DATABASE plain ALLOW_CONNECTIONS true;
});
$node->wait_for_log(qr/database "plain" has no extension "pg_topics"/);
ok(no_worker('plain'), 'the probe of a database without the extension exits');

# CREATE EXTENSION starts the database's worker.
$node->safe_psql('postgres', 'CREATE EXTENSION pg_topics');
my $pid1 = worker_pid('postgres');
like($pid1, qr/^\d+$/, 'CREATE EXTENSION starts a worker');

# DROP EXTENSION ends it, CREATE EXTENSION starts a new one.
$node->safe_psql('postgres', 'DROP EXTENSION pg_topics');
ok(no_worker('postgres'), 'the worker exits after DROP EXTENSION');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_topics');
my $pid2 = worker_pid('postgres');
isnt($pid2, $pid1, 'CREATE EXTENSION again starts a new worker');

# A second database with the extension gets its own worker.
$node->safe_psql('postgres', 'CREATE DATABASE db2');
$node->safe_psql('db2', 'CREATE EXTENSION pg_topics');
my $db2_pid = worker_pid('db2');
isnt($db2_pid, $pid2, 'db2 has its own worker');

# The worker of db2 does its job there: a silent member expires.
$node->safe_psql(
	'db2', q{
SELECT topics.create_topic('t', 2);
SELECT topics.join('g', 't', 'm', '100 ms');
});
ok( $node->poll_query_until(
		'db2', 'SELECT count(*) = 0 FROM topics.group_member'),
	'the worker of db2 expires a silent member of db2');
is(worker_pid('postgres'), $pid2,
	'with room in the pool, the worker of postgres stayed meanwhile');
is(worker_pid('db2'), $db2_pid, 'and so did the worker of db2');

# SIGTERM ends a worker promptly; the launcher starts a new one at once.
my $t0 = time;
is(kill('TERM', $pid2), 1, 'SIGTERM sent to the worker of postgres');
$node->poll_query_until('postgres',
	"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $pid2)")
  or die "Timed out waiting for the worker to exit";
my $t_exit = time - $t0;
my $pid3 = worker_pid('postgres', $pid2);
my $t_new = time - $t0;
isnt($pid3, $pid2, 'a new worker replaces the terminated one');
note sprintf(
	'worker ended %.2f s after SIGTERM, replaced after %.2f s',
	$t_exit, $t_new);
is(launchers(), '1', 'the launcher still runs');

# The launcher learns of the extension when its creator commits, which a
# prepared transaction would do behind its back.
my ($ret, $out, $err) = $node->psql(
	'plain', q{
BEGIN;
CREATE EXTENSION pg_topics;
PREPARE TRANSACTION 'ext';
});
like(
	$err,
	qr/cannot PREPARE a transaction that has created extension "pg_topics"/,
	'a transaction that creates the extension cannot be prepared');
is( $node->safe_psql(
		'plain',
		q{SELECT count(*) FROM pg_prepared_xacts UNION ALL
		  SELECT count(*) FROM pg_extension WHERE extname = 'pg_topics'}),
	"0\n0",
	'nothing was prepared or created');

# CREATE DATABASE ... TEMPLATE a database whose worker runs.
($ret, $out, $err) =
  $node->psql('postgres', 'CREATE DATABASE db_copy TEMPLATE db2');
is($ret, 0, 'CREATE DATABASE with a template whose worker runs succeeds')
  or diag($err);
is( $node->safe_psql(
		'db_copy', q{SELECT count(*) FROM topics.topic WHERE name = 't'}),
	'1',
	'the copy has the template\'s topic');
like(worker_pid('db_copy'), qr/^\d+$/,
	'the copy is probed and gets its own worker');
like(worker_pid('db2'), qr/^\d+$/, 'the template gets its worker back');

# ALTER DATABASE ... RENAME a database whose worker runs.
($ret, $out, $err) =
  $node->psql('postgres', 'ALTER DATABASE db_copy RENAME TO renamed');
is($ret, 0, 'renaming a database whose worker runs succeeds') or diag($err);
my $renamed_pid = worker_pid('renamed');
like($renamed_pid, qr/^\d+$/, 'the renamed database gets its worker back');

# A database that no longer accepts connections gets no worker.
$node->safe_psql('postgres',
	'ALTER DATABASE renamed ALLOW_CONNECTIONS false');
ok(no_worker('renamed'),
	'the worker of a database that no longer allows connections exits');

# DROP DATABASE of databases whose worker runs (or not).
for my $db ('db2', 'renamed')
{
	my $pid = $db eq 'db2' ? worker_pid($db) : $renamed_pid;
	($ret, $out, $err) = $node->psql('postgres', "DROP DATABASE $db");
	is($ret, 0, "DROP DATABASE $db succeeds") or diag($err);
	unlike($err, qr/being accessed by other users/,
		"DROP DATABASE $db is not refused");
	ok( $node->poll_query_until(
			'postgres',
			"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $pid)"),
		"the worker of $db is gone");
}

# plain was probed once, while the launcher had many reasons to look again.
is(probes('plain'), 1, 'the database without the extension was probed once');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(datname, ',') FROM pg_stat_activity
		   WHERE backend_type = 'pg_topics worker'}),
	'postgres',
	'only the worker of postgres remains');
is(launchers(), '1', 'one launcher at the end');

$node->stop;

done_testing();
