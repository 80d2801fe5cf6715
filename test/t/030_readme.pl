
# Copyright (c) 2025, pg_topics contributors

# Every example of README.md runs and prints what README.md shows: the ```sql
# examples with psql, the ```js and ```python examples (section Drivers) with
# node-postgres and psycopg2, in README order, in one database of one node.
# The convention that tells examples from signatures, and how output is
# compared, is in test/readme/ReadmeCheck.pm.
#
# PGTOPICS_README=path/to/file.md checks another file (relative to the
# repository root), e.g. test/readme/sample.md.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../readme";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ReadmeCheck qw(check_markdown);

my $srcdir = "$FindBin::RealBin/../..";
my $md = $ENV{PGTOPICS_README} || 'README.md';
my $path = $md =~ m{^/} ? $md : "$srcdir/$md";
-e $path or BAIL_OUT("no such file: $path");

my $node = PostgreSQL::Test::Cluster->new('readme');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
max_prepared_transactions = 10
});
$node->start;

# An empty database, as a reader has after installing: the examples create
# the extension themselves (section Setup).
$node->safe_psql('postgres',
	q{CREATE DATABASE readme TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'});

my @results = check_markdown(
	node => $node,
	db => 'readme',
	path => $path,
	name => $md,
	srcdir => $srcdir,
	workdir => "$PostgreSQL::Test::Utils::tmp_check/readme");

ok(scalar(@results), "$md has examples");
for my $r (@results)
{
	if ($r->{ok})
	{
		pass($r->{name});
		note($r->{message}) if $r->{message} ne '';
	}
	else
	{
		fail($r->{name});
		diag($r->{message});
	}
}

$node->stop;

done_testing();
