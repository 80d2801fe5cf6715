
# Copyright (c) 2025, pg_topics contributors

# A module's fmgr hook sees every call of topics.fetch.
#
# PostgreSQL calls a function through its security wrapper, and so through
# the hooks of modules such as sepgsql (needs_fmgr_hook / fmgr_hook: a
# "trusted procedure" changes the caller's domain there), whenever a module
# asks for it.  The streaming scan of topics.fetch does not call the
# function, so the hook would not run.  Expected: while a module's hook
# wants topics.fetch, a query calls it through the function scan, and the
# hook sees the call; without such a module the query streams.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# A module whose hook wants every function named fetch and says so.
my $dir = PostgreSQL::Test::Utils::tempdir;
open my $fh, '>', "$dir/fetch_hook.c" or die $!;
print $fh <<'C';
#include "postgres.h"
#include "fmgr.h"
#include "utils/lsyscache.h"

PG_MODULE_MAGIC;
void		_PG_init(void);

static bool
wants(Oid fn)
{
	char	   *name = get_func_name(fn);

	return name != NULL && strcmp(name, "fetch") == 0;
}

static void
saw(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	if (event == FHET_START)
		elog(NOTICE, "fmgr hook saw a call of %s", get_func_name(flinfo->fn_oid));
}

void
_PG_init(void)
{
	needs_fmgr_hook = wants;
	fmgr_hook = saw;
}
C
close $fh;
my $cc = `pg_config --cc`;
chomp $cc;
my $inc = `pg_config --includedir-server`;
chomp $inc;
system($cc, '-shared', '-fPIC', '-I', $inc, '-o', "$dir/fetch_hook.so",
	"$dir/fetch_hook.c") == 0
  or BAIL_OUT("could not build the hook module");

my $node = PostgreSQL::Test::Cluster->new('fmgr_hook');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
});
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('t', 1);
SELECT topics.produce_batch('t', ARRAY['a', 'b', 'c']);
});

my $query = "SELECT count(*) FROM topics.fetch('t', 0, 0)";
like($node->safe_psql('postgres', "EXPLAIN (COSTS OFF) $query"),
	qr/Custom Scan \(TopicFetch\)/, 'without the module, fetch streams');

my ($stdout, $stderr);
$node->psql(
	'postgres', "LOAD '$dir/fetch_hook.so'; EXPLAIN (COSTS OFF) $query; $query",
	stdout => \$stdout,
	stderr => \$stderr);
like($stdout, qr/Function Scan on "fetch"/,
	'with a hook that wants fetch, the function scan calls it');
like($stdout, qr/^3$/m, 'and returns the same rows');
like($stderr, qr/fmgr hook saw a call of fetch/, 'the hook sees the call');

$node->stop;
done_testing();
