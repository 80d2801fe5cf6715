
# Copyright (c) 2025, pg_topics contributors

# Reads on a physical hot standby, and promotion.
#
# A standby replays the primary's WAL but not its shared memory: it does not
# know which offsets the primary's open transactions hold, so it cannot
# compute an LSO of its own.  It may only serve what lies below the stable
# offset the primary persisted (topics.partitions.stable_offset, advanced by
# the primary's worker every pg_topics.worker_naptime and replicated like any
# row).  Otherwise a standby reader sees committed messages above an offset
# still held open on the primary, moves past it, and never sees that
# message once it commits: DESIGN.md section 2, on a replica.
#
# Steps:
# - A producer on the primary holds offset 3 open while 4-6 commit after
#   it.  The standby's first read returns 0-2 only, and stable_offset there
#   is 3.
# - On the standby, fetch with max_wait > 0 fails with 0A000 (nothing on a
#   standby wakes it), and produce, join, poll, commit and seek fail as
#   read-only (25006).
# - Once the producer commits and the primary's stable offset passes 6, the
#   standby returns 0-6; messages produced after its first read appear once
#   the stable offset passes them (the standby does not freeze at the log
#   end it first saw).
# - A producer holds offsets 10-12 open on the primary, the standby replays
#   all the primary flushed, the primary stops and the standby is promoted:
#   produce there continues above every offset the old primary handed out
#   (the open transaction's messages are lost, their offsets are not
#   reused), and fetch, with and without max_wait, works.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
pg_topics.worker_naptime = '100ms'
shared_buffers = 16MB
max_connections = 20
});
$primary->start;
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('t', 1);
SELECT count(*) FROM topics.produce_batch('t', ARRAY['m0', 'm1', 'm2']);
SELECT topics.join('g', 't', 'm', auto_offset_reset => 'earliest');
});

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

my $has_stable = $primary->safe_psql(
	'postgres', q{
SELECT count(*) FROM information_schema.columns
 WHERE table_schema = 'topics' AND table_name = 'partitions'
   AND column_name = 'stable_offset'});
is($has_stable, '1', 'topics.partitions has a stable_offset column');

# Wait until the primary persisted a stable offset of at least $at_least
# for t/0, then until the standby replayed it.
sub wait_stable
{
	my ($at_least) = @_;
	if ($has_stable)
	{
		$primary->poll_query_until(
			'postgres', qq{
SELECT stable_offset >= $at_least FROM topics.partitions
 WHERE topic = 't' AND partition = 0})
		  or die "Timed out waiting for the primary's stable offset to reach $at_least";
	}
	$primary->wait_for_catchup($standby);
	return;
}

# Offsets that fetch returns on $node, comma-separated.
sub offsets_on
{
	my ($node, $from) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset)
		   FROM topics.fetch('t', 0, $from, 1000)");
}

# The SQLSTATE of the error $sql raises on $node, or what it returned.
sub sqlstate_of
{
	my ($node, $sql) = @_;
	my ($out, $err) = ('', '');
	$node->psql(
		'postgres', "\\set VERBOSITY verbose\n$sql",
		stdout => \$out,
		stderr => \$err,
		on_error_stop => 1);
	return $1 if $err =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return "no error, returned '$out'";
}

# The output of $sql on $node, or its error.
sub result_of
{
	my ($node, $sql) = @_;
	my ($out, $err) = ('', '');
	$node->psql(
		'postgres', $sql,
		stdout => \$out,
		stderr => \$err,
		on_error_stop => 1);
	return $err =~ /ERROR/ ? $err : $out;
}

wait_stable(3);

# A producer holds offset 3 open; 4-6 commit after it.
my $held = $primary->background_psql('postgres');
$held->query_safe('BEGIN');
is( $held->query_safe(
		q{SELECT msg_offset FROM topics.produce('t', 'held'::text)}),
	'3',
	'the open producer holds offset 3');
is( $primary->safe_psql(
		'postgres', q{
SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset)
  FROM topics.produce_batch('t', ARRAY['after-1', 'after-2', 'after-3'])}),
	'4,5,6',
	'offsets 4 to 6 commit after it');
is(offsets_on($primary, 0), '0,1,2',
	'on the primary, fetch stops at the open offset 3');
$primary->wait_for_catchup($standby);

# The standby's first read of the topic.
is(offsets_on($standby, 0), '0,1,2',
	'the standby returns nothing above the offset still open on the primary');
is(offsets_on($standby, 3) // '', '',
	'the standby returns nothing from the open offset on');
is( result_of(
		$standby,
		q{SELECT stable_offset FROM topics.partitions WHERE topic = 't'}),
	'3',
	'the standby\'s stable offset is the primary\'s, 3');

# What a standby refuses.
is( sqlstate_of(
		$standby, q{SELECT * FROM topics.fetch('t', 0, 3, 100, '50 ms')}),
	'0A000',
	'fetch with max_wait on the standby fails with 0A000');
my %read_only = (
	produce => q{SELECT topics.produce('t', 'x'::text)},
	produce_batch => q{SELECT topics.produce_batch('t', ARRAY['x'])},
	join => q{SELECT topics.join('g', 't', 'other')},
	poll => q{SELECT * FROM topics.poll('g', 't', 'm')},
	commit => q{SELECT topics.commit('g', 't', 0, 1)},
	seek => q{SELECT topics.seek('g', 't', 0, 1)});
for my $what (sort keys %read_only)
{
	is(sqlstate_of($standby, $read_only{$what}),
		'25006', "$what on the standby fails as read-only (25006)");
}

# The producer commits: once the stable offset passes 6 the standby returns
# everything, offset 3 included.
$held->query_safe('COMMIT');
$held->quit;
$standby->poll_query_until(
	'postgres', q{
SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset) = '0,1,2,3,4,5,6'
  FROM topics.fetch('t', 0, 0, 1000)})
  or die "Timed out waiting for the standby to return offsets 0 to 6";
pass('after the commit the standby returns offsets 0 to 6');

# Messages produced after the standby's first read.
$primary->safe_psql('postgres',
	q{SELECT count(*) FROM topics.produce_batch('t', ARRAY['later-1', 'later-2', 'later-3'])}
);
wait_stable(10);
is(offsets_on($standby, 7), '7,8,9',
	'the standby returns messages produced after its first read');
is( result_of(
		$standby,
		q{SELECT stable_offset >= 10 FROM topics.partitions WHERE topic = 't'}),
	't',
	'the standby\'s stable offset moved on with the primary\'s');

# Promotion with a producer in flight on the old primary.
my $in_flight = $primary->background_psql('postgres');
$in_flight->query_safe('BEGIN');
is( $in_flight->query_safe(
		q{SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset)
		    FROM topics.produce_batch('t', ARRAY['lost-1', 'lost-2', 'lost-3'])}),
	'10,11,12',
	'a producer holds offsets 10 to 12 on the primary');
# Whatever the primary has flushed reaches the standby before it stops.
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('flush'));
$primary->stop('immediate');
$in_flight->quit;
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die "Timed out waiting for the promotion";

my $promoted = result_of($standby,
	q{SELECT msg_offset FROM topics.produce('t', 'promoted'::text)});
note "first produce after promotion: $promoted";
like($promoted, qr/^\d+$/, 'produce works after promotion');
cmp_ok(($promoted =~ /^(\d+)$/ ? $1 : -1),
	'>', 12,
	'the promoted server continues above every offset the old primary handed out'
);
is( result_of(
		$standby, q{
SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset)
  FROM topics.fetch('t', 0, 0, 1000)}),
	'm0,m1,m2,held,after-1,after-2,after-3,later-1,later-2,later-3,promoted',
	'fetch on the promoted server returns every committed message, in order');
is( result_of(
		$standby,
		q{SELECT count(*) FROM topics.fetch('t', 0, 0, 1000, '10 ms')}),
	'11',
	'fetch with max_wait works on the promoted server');
is( result_of(
		$standby,
		q{SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY msg_offset)
		    FROM topics.poll('g', 't', 'm', 1000)}),
	'm0,m1,m2,held,after-1,after-2,after-3,later-1,later-2,later-3,promoted',
	'the group polls every committed message on the promoted server');

$standby->stop;

done_testing();
