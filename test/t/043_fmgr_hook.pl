
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

# A module whose hook wants every function named fetch (unless
# fetch_hook.off is on) and says so.
my $dir = PostgreSQL::Test::Utils::tempdir;
open my $fh, '>', "$dir/fetch_hook.c" or die $!;
print $fh <<'C';
#include "postgres.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

PG_MODULE_MAGIC;
void		_PG_init(void);

static bool
wants(Oid fn)
{
	char	   *name = get_func_name(fn);
	const char *off = GetConfigOption("fetch_hook.off", true, false);

	return name != NULL && strcmp(name, "fetch") == 0 &&
		(off == NULL || strcmp(off, "on") != 0);
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

# A plan made while the hook did not want fetch (a generic plan kept across
# a change of policy) calls the function through fmgr once the hook wants it.
$node->psql(
	'postgres', qq{
LOAD '$dir/fetch_hook.so';
SET fetch_hook.off = on;
SET plan_cache_mode = force_generic_plan;
PREPARE q AS $query;
EXPLAIN (COSTS OFF) EXECUTE q;
EXECUTE q;
SET fetch_hook.off = off;
EXECUTE q;
},
	stdout => \$stdout,
	stderr => \$stderr);
like($stdout, qr/Custom Scan \(TopicFetch\)/, 'the generic plan streams');
like($stdout, qr/^3\n3$/m, 'both executions return the rows');
my @seen = $stderr =~ /fmgr hook saw a call of fetch/g;
is(scalar @seen, 1, 'the hook sees the call made once it wants it');

$node->stop;
done_testing();
