
# Copyright (c) 2025, pg_topics contributors

# Databases come and go, and pg_topics keeps nothing of them: on a server
# whose shared state is sized for 16 partitions and 16 members, a database
# is created, given the extension, a topic of 4 partitions with a message
# in each and a group member, then dropped, again and again.  Were the
# partition states and heartbeats of a dropped database kept, they would
# fill the shared hash tables, which then grow into the server's spare
# shared memory (visible as anonymous allocations) until none is left, or,
# were the tables of fixed size, the fifth round would fail with "too many
# partitions in use".  Meanwhile, a database without the extension is
# probed once, and gets no worker after that; after a restart it is probed
# once more.

use strict;
use warnings;

use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $rounds = 40;

my $node = PostgreSQL::Test::Cluster->new('database_churn');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
pg_topics.max_partitions = 16
pg_topics.max_members = 16
pg_topics.worker_naptime = '100ms'
});
$node->start;

# How many times a worker found no extension in database $dbname (logged at
# DEBUG1 by the worker, which the database's settings make visible).
sub probes
{
	my ($dbname) = @_;
	my $log = slurp_file($node->logfile);
	my @hits = $log =~ /database "$dbname" has no extension "pg_topics"/g;
	return scalar @hits;
}

# A database without the extension, whose workers log at DEBUG1; it only
# accepts connections once that is set, so that its probe shows.
$node->safe_psql('postgres', q{
CREATE DATABASE plain ALLOW_CONNECTIONS false;
ALTER DATABASE plain SET log_min_messages = debug1;
ALTER DATABASE plain ALLOW_CONNECTIONS true;
});

# All rounds in one psql script, which stops at the first error; each
# round reports its number, the messages produced and the member's
# partitions.
my $script = '';
for my $i (1 .. $rounds)
{
	$script .= qq{
CREATE DATABASE churn;
\\c churn
CREATE EXTENSION pg_topics;
SELECT count(*) FROM topics.create_topic('t', 4);
SELECT $i, count(*), (SELECT partitions FROM topics.join('g', 't', 'm', '1 min'))
  FROM (SELECT topics.produce('t', 'v', partition => p)
          FROM generate_series(0, 3) p) x;
\\c postgres
DROP DATABASE churn;
};
}
# Shared memory allocated after start-up, as the shared hash tables grow.
sub anonymous_shmem
{
	return $node->safe_psql('postgres',
		q{SELECT size FROM pg_shmem_allocations WHERE name = '<anonymous>'});
}
my $anonymous = anonymous_shmem();

my $t0 = time;
my ($ret, $out, $err) =
  $node->psql('postgres', $script, on_error_stop => 1);
my @done = grep { /^\d+\|4\|\{0,1,2,3\}$/ } split /\n/, $out;
is(scalar(@done), $rounds,
	"$rounds databases with 4 partitions and a member each, created and dropped"
) or diag($err);
is($ret, 0, 'without an error');
note sprintf('%d rounds in %.1f s', scalar(@done), time - $t0);
is(anonymous_shmem() - $anonymous,
	0, 'no shared memory was allocated meanwhile');

$node->wait_for_log(qr/database "plain" has no extension "pg_topics"/);
is(probes('plain'), 1,
	'the database without the extension was probed once meanwhile');
ok( $node->poll_query_until(
		'postgres', q{
SELECT count(*) = 0 FROM pg_stat_activity
 WHERE backend_type = 'pg_topics worker'}),
	'no worker is left, in plain or postgres');

# A restart forgets what the launcher knew: one probe more.
my $offset = -s $node->logfile;
$node->restart;
$node->wait_for_log(qr/database "plain" has no extension "pg_topics"/,
	$offset);
is(probes('plain'), 2, 'after a restart, plain is probed once more');

$node->stop;

done_testing();
