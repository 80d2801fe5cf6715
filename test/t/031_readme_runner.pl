
# Copyright (c) 2025, pg_topics contributors

# The README runner (test/readme/ReadmeCheck.pm) itself: test/readme/sample.md,
# which has every kind of block the convention knows, passes, and every block
# of test/readme/bad.md fails with a message that says why.  Also runs

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../readme";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ReadmeCheck qw(check_markdown);

my $srcdir = "$FindBin::RealBin/../..";

my $node = PostgreSQL::Test::Cluster->new('readme_runner');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
});
$node->start;

sub check
{
	my ($md, $db) = @_;
	$node->safe_psql('postgres',
		qq{CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'});
	return check_markdown(
		node => $node,
		db => $db,
		path => "$srcdir/$md",
		name => $md,
		srcdir => $srcdir,
		workdir => "$PostgreSQL::Test::Utils::tmp_check/readme");
}

my @good = check('test/readme/sample.md', 'sample');
is(scalar(@good), 9, 'sample.md: 9 blocks run');
for my $r (@good)
{
	ok($r->{ok}, $r->{name}) or diag($r->{message});
}

# What the runner says about each block of bad.md, in order.
my @expected = (
	[ 'wrong output', qr/^-.*\b2 \| stream\n\+.*\b1 \| stream$/m ],
	[ 'neither example nor signature', qr/neither an example nor a signature/ ],
	[ 'signature without RETURNS', qr/does not say what it RETURNS/ ],
	[
		'a statement that fails without showing it',
		qr/statement at line \d+ fails: ERROR:  topic "no_such_topic" does not exist/
	],
	[ 'no semicolon', qr/does not end with ';'/ ],
	[ 'output runs into a statement', qr/leave a blank line after a statement's output/ ],
	[ 'js exits non-zero', qr/exits with 3/ ],
	[ 'python prints something else', qr/^-what it shows\n\+something else$/m ]);

my @bad = check('test/readme/bad.md', 'bad');
is(scalar(@bad), scalar(@expected), 'bad.md: every block runs or is refused');
for my $i (0 .. $#expected)
{
	my ($what, $re) = @{ $expected[$i] };
	my $r = $bad[$i] // { ok => 1, message => '(no result)' };
	ok(!$r->{ok}, "bad.md: $what: fails");
	like($r->{message}, $re, "bad.md: $what: says why");
	note($r->{message});
}

$node->stop;

done_testing();
