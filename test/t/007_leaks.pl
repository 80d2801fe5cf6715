
# Copyright (c) 2025, pg_topics contributors

# Shared memory is not leaked by topics, groups or the extension going
# away.  The server runs with the smallest tables pg_topics allows: 16
# partition states and 16 member heartbeats.  Each round creates a topic of
# 4 partitions, produces to every partition (which makes their states),
# joins 3 members (their heartbeats), and then drops it all again, by
# drop_topic, by DROP EXTENSION ... CASCADE, or by DROP SCHEMA topics
# CASCADE.  Were anything left behind, the tables would be full within a
# few rounds ("too many partitions in use", "too many consumer group
# members", 53000).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('leaks');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
pg_topics.max_partitions = 16
pg_topics.max_members = 16
pg_topics.max_open_producers = 64
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION pg_topics');

# One round: a topic of four partitions, a message in each, three members.
my $round = q{
SELECT topics.create_topic('t', 4);
SELECT count(*) FROM generate_series(0, 3) p,
       LATERAL topics.produce('t', 'x', partition => p);
SELECT count(*) FROM generate_series(1, 3) m,
       LATERAL topics.join('g', 't', 'm' || m);
SELECT count(*) FROM topics.join('g', 't', 'm1');
SELECT count(*) FROM topics.poll('g', 't', 'm1');
};

# drop_topic, 200 times: 800 partition states and 600 heartbeats through
# tables of 16.
my $rounds = '';
$rounds .= $round . "SELECT topics.drop_topic('t');\n" for 1 .. 200;
my ($ret, $out, $err) = $node->psql('postgres', $rounds, on_error_stop => 1);
is($ret, 0, '200 topics created, used and dropped with drop_topic')
  or diag($err);

# The states of dropped partitions are gone: 4 topics of 4 partitions fill
# the table exactly.
$out = $node->safe_psql(
	'postgres', q{
SELECT topics.create_topic('full' || i, 4) FROM generate_series(1, 4) i;
SELECT count(*) FROM generate_series(1, 4) i, generate_series(0, 3) p,
       LATERAL topics.produce('full' || i, 'x', partition => p);
});
like($out, qr/^16$/m, 'sixteen partition states fit in the table of sixteen');
($ret, $out, $err) = $node->psql(
	'postgres', q{
SELECT topics.create_topic('one_more', 1);
SELECT * FROM topics.produce('one_more', 'x');
});
like($err, qr/too many partitions in use/,
	'a seventeenth does not (53000): the table is full, not leaking');
$node->safe_psql('postgres',
	"SELECT topics.drop_topic(name) FROM topics.topics; DROP EXTENSION pg_topics");

# DROP EXTENSION ... CASCADE, and DROP SCHEMA topics CASCADE (which drops
# the extension), with topics, messages and members in place.
for my $i (1 .. 10)
{
	my $drop =
	  $i % 2
	  ? 'DROP EXTENSION pg_topics CASCADE'
	  : 'DROP SCHEMA topics CASCADE';
	($ret, $out, $err) = $node->psql(
		'postgres', "CREATE EXTENSION pg_topics;\n" . $round . $round =~ s/'t'/'u'/gr . ";\n$drop;",
		on_error_stop => 1);
	is($ret, 0, "round $i: topics and members, then $drop") or diag($err);
}
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'topics%'}),
	'0',
	'no schema of pg_topics is left');

# After all that, the tables still hold sixteen of each.
$node->safe_psql('postgres', 'CREATE EXTENSION pg_topics');
$out = $node->safe_psql(
	'postgres', q{
SELECT topics.create_topic('full' || i, 4) FROM generate_series(1, 4) i;
SELECT count(*) FROM generate_series(1, 4) i, generate_series(0, 3) p,
       LATERAL topics.produce('full' || i, 'x', partition => p);
SELECT count(*) FROM generate_series(1, 16) m,
       LATERAL topics.join('g', 'full1', 'm' || m);
});
like($out, qr/^16\n16$/m,
	'sixteen partition states and sixteen heartbeats fit after the drops');

done_testing();
