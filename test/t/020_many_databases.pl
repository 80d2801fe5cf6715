
# Copyright (c) 2025, pg_topics contributors

# Twenty databases with the extension on a server with the default
# max_worker_processes (8): the maintenance workers take turns in a small
# pool, so that producers in every database, all at once, still find
# worker slots to add segments, and every database still gets its rounds.
# Each database has a topic of 4-message segments, and a consumer group
# member that never polls; producers in all databases cross a segment
# boundary every 4 messages.  Every message must be produced, and every
# silent member expired.

use strict;
use warnings;

use IPC::Run;
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $ndb = 20;
my $messages = 24;
my @dbs = map { "d$_" } 1 .. $ndb;

my $node = PostgreSQL::Test::Cluster->new('many_databases');
$node->init;
# max_worker_processes stays at its default on purpose
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
pg_topics.worker_naptime = '100ms'
});
$node->start;

is($node->safe_psql('postgres', 'SHOW max_worker_processes'),
	'8', 'the default max_worker_processes');

# The databases are copies of one that has the extension and the topic
# (each copy is new to the launcher, which probes it).  One psql script,
# switching databases, is much cheaper than a psql per database.
$node->safe_psql(
	'postgres', q{
CREATE DATABASE tmpl;
\c tmpl
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('t', 1, 'stream', '{"segment.messages": 4}');
\c postgres
ALTER DATABASE tmpl IS_TEMPLATE true;
} . join('', map { "CREATE DATABASE $_ TEMPLATE tmpl;\n" } @dbs));

# Runs $sql in every database, one psql for all.
sub in_each
{
	my ($sql) = @_;
	return $node->safe_psql('postgres',
		join('', map { "\\c $_\n$sql\n" } @dbs));
}

# Once the launcher runs workers for the new databases (as many as it
# will), a member that will never poll again in every database, then
# producers, all at the same time, each committing every message on its
# own.
$node->poll_query_until(
	'postgres', q{
SELECT count(*) >= 2 FROM pg_stat_activity
 WHERE backend_type = 'pg_topics worker'})
  or die "Timed out waiting for the launcher to start workers";
in_each(q{SELECT count(*) FROM topics.join('g', 't', 'm', '1 s');});
my $t0 = time;
my @producers;
for my $db (@dbs)
{
	my %p = (db => $db, out => '', err => '');
	$p{h} = IPC::Run::start(
		[
			'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr($db), '-c', qq{
DO \$\$
BEGIN
    FOR i IN 1 .. $messages LOOP
        PERFORM topics.produce('t', 'm' || i);
        COMMIT;
    END LOOP;
END
\$\$}
		],
		'>', \$p{out}, '2>', \$p{err});
	push @producers, \%p;
}
my $failed = 0;
for my $p (@producers)
{
	$p->{h}->finish;
	if ($p->{h}->result != 0)
	{
		$failed++;
		diag("producer in $p->{db}: $p->{err}");
	}
}
is($failed, 0, "the producers of all $ndb databases succeed");
note sprintf('all producers done after %.1f s', time - $t0);

my @counts = split /\n/, in_each(
	q{SELECT current_database(),
       (SELECT count(*) FROM topics.fetch('t', 0, 0, 1000)),
       (SELECT count(*) FROM topics.segment);});
my $short = 0;
for (@counts)
{
	my ($db, $n, $segments) = split /\|/;
	if ($n != $messages || $segments < $messages / 4)
	{
		$short++;
		diag("$db has $n messages in $segments segments");
	}
}
is(scalar(@counts), $ndb, "$ndb databases counted");
is($short, 0,
	"every database has its $messages messages, in segments of 4");

# Every database gets its rounds: each silent member is expired.
for my $db (@dbs)
{
	$node->poll_query_until($db,
		'SELECT count(*) = 0 FROM topics.group_member')
	  or die "Timed out waiting for the member of $db to expire";
}
my $elapsed = time - $t0;
pass("the silent member of each of the $ndb databases is expired");
note sprintf('all members expired %.1f s after the producers started',
	$elapsed);
cmp_ok($elapsed, '<', 90, 'within a bound');

# Lowering pg_topics.max_workers is taken at a reload; the databases still
# all get rounds.
$node->append_conf('postgresql.conf', 'pg_topics.max_workers = 1');
$node->reload;
in_each(q{SELECT count(*) FROM topics.join('g', 't', 'm', '1 s');});
for my $db (@dbs)
{
	$node->poll_query_until($db,
		'SELECT count(*) = 0 FROM topics.group_member')
	  or die "Timed out waiting for the member of $db to expire";
}
pass('with one worker, every database still gets its rounds');
ok( $node->poll_query_until(
		'postgres', q{
SELECT count(*) <= 1 FROM pg_stat_activity
 WHERE backend_type = 'pg_topics worker'}),
	'at most one worker runs');

$node->stop;

done_testing();
