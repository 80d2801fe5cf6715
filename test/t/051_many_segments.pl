
# Copyright (c) 2025, pg_topics contributors

# A partition of 5,000 segments, under default settings: produce, fetch,
# poll, plain SQL and the views work, and keep working after a restart.
#
# Segments of two offsets make the chain long quickly.  The segment maker
# adds at most 64 segments in one transaction (segment.c), so a batch
# that needs hundreds of new segments does not fill the lock table; the
# segments after the first sit in groups of 64 under the partition's
# table (the tree is three levels deep).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('many_segments');
$node->init;
$node->append_conf('postgresql.conf', q{shared_preload_libraries = 'pg_topics'});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_topics');
$node->safe_psql('postgres',
	q{SELECT * FROM topics.create_topic('long', 1, config => '{"segment.messages": 2}')});

# 10,000 messages in batches of 1,000: 500 new segments per batch
for my $b (0 .. 9)
{
	$node->safe_psql('postgres', qq{
SELECT count(*) FROM topics.produce_batch('long',
    ARRAY(SELECT 'm' || i FROM generate_series($b * 1000, $b * 1000 + 999) i))});
}
my $segments = $node->safe_psql('postgres',
	q{SELECT count(*) FROM topics.segments WHERE topic = 'long'});
cmp_ok($segments, '>=', 5000, "the partition has $segments segments");
is( $node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE isleaf), max(level)
  FROM pg_partition_tree('topics_data."long$0"')}),
	"$segments|2", 'every segment is a table of the tree, in groups');

# every message, in offset order, by fetch, by plain SQL and by a poll
is( $node->safe_psql('postgres', q{
SELECT count(*), bool_and(convert_from(value, 'UTF8') = 'm' || msg_offset)
  FROM topics.fetch('long', 0, 0, 100000)}),
	'10000|t', 'fetch reads the 10,000 messages across the segments');
is( $node->safe_psql('postgres', q{
SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset)
  FROM topics.fetch('long', 0, 7777, 5)}),
	'7777,7778,7779,7780,7781', 'fetch from an offset deep in the chain');
is( $node->safe_psql('postgres', q{
SELECT count(*), count(DISTINCT msg_offset), min(msg_offset), max(msg_offset)
  FROM topics_data.long}),
	'10000|10000|0|9999', 'plain SQL on the root reads them all');
$node->safe_psql('postgres',
	q{SELECT * FROM topics.join('g', 'long', 'm', auto_offset_reset => 'earliest')});
is( $node->safe_psql('postgres', q{
SELECT count(*), min(msg_offset), max(msg_offset)
  FROM topics.poll('g', 'long', 'm', max_messages => 10000)}),
	'10000|0|9999', 'a poll reads them all');

# the views: a partition's figures come from its record, not from a walk
# over its segments
is( $node->safe_psql('postgres', q{
SELECT segments >= 5000, log_end, size_bytes > 0 FROM topics.partitions
 WHERE topic = 'long'}),
	't|10000|t', 'topics.partitions');
$node->poll_query_until('postgres', q{
SELECT sealed_end >= 9998 FROM topics.partition WHERE topic = 'long'})
  or die 'the worker never sealed the segments';
my $sizes = q{
SELECT p.size_bytes = (SELECT sum(topics_internal.segment_size(topic, partition, base_offset))
                         FROM topics.segments WHERE topic = 'long')
  FROM topics.partitions p WHERE p.topic = 'long'};
is($node->safe_psql('postgres', $sizes),
	't', 'size_bytes adds the sealed size and the size of the segments above');
# VACUUM adds free space and visibility maps, which sizes leave out: the
# sealed size stays true
$node->safe_psql('postgres', 'VACUUM topics_data.long');
is($node->safe_psql('postgres', $sizes), 't', 'and stays so after VACUUM');

# after a restart, the partition resumes past the end of its long chain
# (at the durable high-water mark: offsets need not be dense)
$node->restart;
my $after = $node->safe_psql('postgres',
	q{SELECT msg_offset FROM topics.produce('long', 'after')});
cmp_ok($after, '>=', 10000, 'produce after a restart continues the chain');
is( $node->safe_psql('postgres', qq{
SELECT convert_from(value, 'UTF8') FROM topics.fetch('long', 0, 9999, 10)
 WHERE msg_offset = $after}),
	'after', 'and the message is read where it was written');

$node->stop;
done_testing();
