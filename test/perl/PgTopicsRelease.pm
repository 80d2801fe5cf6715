
# Copyright (c) 2025, pg_topics contributors

# A released version of pg_topics, built from its source in test/upgrade
# and installed into a private copy of the PostgreSQL installation whose
# pg_config is on PATH, for the upgrade tests: a node runs on that copy,
# holds data made by the release, then gets the current build installed
# over it (install_current).
#
# Only a release's library can make its data (it reads the catalog of its
# own version), so the tests build releases from source; the sources are
# kept in test/upgrade, as CI runs from a clone whose history may be
# shallow.

package PgTopicsRelease;

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Path qw(make_path);
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(install_release install_current);

# The copy's pg_config, for install_current.
my $copy_config;

# install_release($srcdir, $version): builds release $version from
# $srcdir/test/upgrade/pg_topics-$version.tar.gz, installs it into a
# private copy of PostgreSQL in the test's temp dir, and returns that
# copy's install path (for PostgreSQL::Test::Cluster's install_path).
sub install_release
{
	my ($srcdir, $version) = @_;
	my $tarball = "$srcdir/test/upgrade/pg_topics-$version.tar.gz";
	-f $tarball or BAIL_OUT("missing $tarball");
	-f "$srcdir/pg_topics.so"
	  or BAIL_OUT("$srcdir has no pg_topics.so: build the current version first");

	# PostgreSQL finds its lib and share dirs relative to its binaries: copy
	# each below the longest directory prefix they have in common.
	my %dir;
	for my $what (qw(bindir pkglibdir sharedir))
	{
		my ($out, $err) = run_command([ 'pg_config', "--$what" ]);
		chomp $out;
		$out ne '' or BAIL_OUT("pg_config --$what failed: $err");
		$dir{$what} = $out;
	}
	my @common = split m{/}, $dir{bindir};
	for my $d (values %dir)
	{
		my @parts = split m{/}, $d;
		my $n = 0;
		$n++ while $n < @common && $n < @parts && $common[$n] eq $parts[$n];
		splice @common, $n;
	}
	my $common = join('/', @common);
	my $tmp = PostgreSQL::Test::Utils::tempdir;
	my $copy = "$tmp/pg";
	for my $d (dirname($dir{bindir}), $dir{sharedir})
	{
		# a build from source has its share dir inside that of its binaries
		next
		  if $d ne dirname($dir{bindir})
		  && index($d, dirname($dir{bindir}) . '/') == 0;
		my $to = $copy . substr($d, length $common);
		make_path(dirname($to));
		system_or_bail('cp', '-a', $d, $to);
	}
	my $inst = $copy . substr(dirname($dir{bindir}), length $common);
	$copy_config = "$inst/bin/pg_config";
	-d $copy . substr($dir{pkglibdir}, length $common)
	  or BAIL_OUT("pkglibdir $dir{pkglibdir} is not beside $dir{bindir}");
	note "private installation: $inst";

	# The release is built with the pg_config on PATH (the copy has no
	# headers) and installed with the copy's.  No LLVM bitcode: it only
	# slows the build.  The makes take no variables from the make that runs
	# prove (such as its PG_CONFIG) and no part in its job server.
	local @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES)};
	delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES)};
	my $src = "$tmp/pg_topics-$version";
	make_path($src);
	system_or_bail('tar', '-xzf', $tarball, '-C', $src);
	system_or_bail('make', '-C', $src, '-s', '-j2', 'with_llvm=no');
	system_or_bail('make', '-C', $src, '-s', "PG_CONFIG=$copy_config",
		'with_llvm=no', 'install');
	return $inst;
}

# install_current($srcdir): installs the current build from $srcdir into
# the copy install_release made (stop its nodes first).
sub install_current
{
	my ($srcdir) = @_;
	local @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES)};
	delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES)};
	system_or_bail('make', '-C', $srcdir, '-s', "PG_CONFIG=$copy_config",
		'install');
}

1;
