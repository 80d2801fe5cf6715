
# Copyright (c) 2025, pg_topics contributors

# Reads of a partition whose rows alternate between heap pages.
#
# Concurrent producers each fill a heap page of their own, so that a
# partition's consecutive offsets lie on different pages.  Past the heap
# run of its first row, a read takes the row pointers of a batch from the
# index and visits each page of the batch once (fetch_reader.c).  Here two
# sessions produce in turn, with wide rows (five to a page, so that a
# batch meets its page limit before its row limit) and a rolled-back batch
# now and then (entries of rows no one sees, inside batches).  Every read
# must hand out exactly the committed rows, in offset order, as the table
# itself holds them.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('striped_reads');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
shared_buffers = 4MB
max_connections = 20
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('st', 1);
});

my %s = (a => $node->background_psql('postgres'),
		 b => $node->background_psql('postgres'));
for my $round (1 .. 40)
{
	for my $who ('a', 'b')
	{
		my $batch = qq{SELECT count(*) FROM topics.produce_batch('st',
			ARRAY(SELECT convert_to(lpad('$who$round-' || i, 1500, '.'), 'UTF8')
			        FROM generate_series(1, 7) i))};
		$s{$who}->query_safe($round % 9 == 4
			? "BEGIN; $batch; ROLLBACK" : $batch);
	}
}
# then short rows, rolled back and committed in turn: pages with room are
# not pruned, so the rolled-back rows stay in the heap and in the index
for my $round (1 .. 3)
{
	for my $who ('a', 'b')
	{
		my $batch = qq{SELECT count(*) FROM topics.produce_batch('st',
			ARRAY(SELECT convert_to('$who$round-' || i, 'UTF8')
			        FROM generate_series(1, 3) i))};
		$s{$who}->query_safe("BEGIN; $batch; ROLLBACK");
		$s{$who}->query_safe($batch);
	}
}
# and a wide topic, 2,760 rows on some 600 pages, in runs of 23 (five rows
# fill a page: the runs share pages)
$node->safe_psql('postgres', q{SELECT topics.create_topic('wide', 1)});
for my $round (1 .. 60)
{
	for my $who ('a', 'b')
	{
		$s{$who}->query_safe(qq{SELECT count(*) FROM topics.produce_batch('wide',
			ARRAY(SELECT convert_to(lpad('$who$round-' || i, 1500, '.'), 'UTF8')
			        FROM generate_series(1, 23) i))});
	}
}
$_->quit for values %s;

# The checks read the table without its index: an index scan would mark
# the entries of rolled-back rows dead, and the reads would not meet them.
my $no_index = 'SET enable_indexscan = off; SET enable_bitmapscan = off; '
  . 'SET enable_indexonlyscan = off; ';

# the heap is striped: offset order leaves the page of the row before
my $turns = $node->safe_psql('postgres', $no_index . q{
SELECT count(*) FROM (
  SELECT (ctid::text::point)[0] AS page,
         lag((ctid::text::point)[0]) OVER (ORDER BY msg_offset) AS before
    FROM topics_data.st) s
 WHERE page <> before});
cmp_ok($turns, '>', 100, "consecutive offsets change page $turns times");

my $committed = $node->safe_psql('postgres',
	$no_index . 'SELECT count(*) FROM topics_data.st');
is($committed, 2 * 7 * scalar(grep { $_ % 9 != 4 } 1 .. 40) + 2 * 3 * 3,
	'the rolled-back batches hold no row');

# rolled-back rows are still in the heap (their pages were not pruned),
# with entries the index does not know to be dead
my $rolled_back = $node->safe_psql('postgres', q{
CREATE EXTENSION pageinspect;
SELECT count(*)
  FROM topics.segments s,
       generate_series(0, pg_relation_size(s.segment_table) / 8192 - 1) b,
       heap_page_items(get_raw_page(s.segment_table::text, b::integer)) i
 WHERE s.topic = 'st' AND i.lp_flags = 1
   AND NOT pg_xact_status(i.t_xmin::text::xid8) = 'committed'});
cmp_ok($rolled_back, '>=', 9, "$rolled_back rolled-back rows in the heap");

# what the table holds from offset FROM on, MAX rows, in offset order
sub truth
{
	my ($from, $max) = @_;
	return $node->safe_psql('postgres', $no_index . qq{
SELECT string_agg(msg_offset || ':' || md5(value), ',' ORDER BY msg_offset)
  FROM (SELECT * FROM topics_data.st WHERE msg_offset >= $from
         ORDER BY msg_offset LIMIT $max) s});
}

for my $read ([0, 1000], [0, 1], [3, 7], [10, 255], [10, 256], [10, 257],
			  [100, 300], [250, 1000])
{
	my ($from, $max) = @$read;
	my $got = $node->safe_psql('postgres', qq{
SELECT string_agg(msg_offset || ':' || md5(value), ',')
  FROM topics.fetch('st', 0, $from, $max)});
	is($got, truth($from, $max), "fetch from $from, up to $max");
}

# The reads marked the index entries of the rolled-back rows dead, as an
# index scan marks those it meets: later reads pass them by.
my $live_entries = $node->safe_psql('postgres', q{
SELECT count(*)
  FROM topics.segments s,
       LATERAL (SELECT indexrelid::regclass::text AS idx FROM pg_index
                 WHERE indrelid = s.segment_table) i,
       generate_series(1, pg_relation_size(i.idx) / 8192 - 1) b,
       bt_page_items(i.idx, b::integer) e
 WHERE s.topic = 'st' AND e.htid IS NOT NULL AND NOT e.dead});
is($live_entries, $committed, 'entries of rolled-back rows marked dead');

# Cursors left open pin their batches' pages: 60 of them, each read into
# its first batch on pages of its own, pin together no more than the
# backend's share of shared_buffers (512 buffers / some 40 backends) and a
# page each, where each used to pin a batch of that share, 720 in all, and
# ran out of buffers.  A read that reached its last row unpins its pages
# at once (d reads pages none of the others reads: a page pinned twice
# counts once).
my $pinned = $node->safe_psql('postgres', q{
CREATE EXTENSION pg_buffercache;
BEGIN;
SELECT format('DECLARE c%s CURSOR FOR SELECT msg_offset FROM topics.fetch(''wide'', 0, %s, 1000)',
              i, i * 46)
  FROM generate_series(0, 59) i \gexec
SELECT format('FETCH 30 FROM c%s', i) FROM generate_series(0, 59) i \gexec
DECLARE d CURSOR FOR SELECT msg_offset FROM topics.fetch('st', 0, 470, 30);
FETCH 20 FROM d;
SELECT 'pinned', count(*) FROM pg_buffercache WHERE pinning_backends > 0;
MOVE ALL IN d;
SELECT 'after', count(*) FROM pg_buffercache WHERE pinning_backends > 0;
COMMIT;
});
my ($open) = $pinned =~ /^pinned\|(\d+)$/m;
my ($after) = $pinned =~ /^after\|(\d+)$/m;
my $share = $node->safe_psql('postgres', q{
SELECT pg_size_bytes(current_setting('shared_buffers')) / 8192 /
       (current_setting('max_connections')::int + current_setting('max_worker_processes')::int +
        current_setting('autovacuum_max_workers')::int + current_setting('max_wal_senders')::int + 1)});
cmp_ok($open, '<=', 61 + $share + 5, "61 open cursors pin $open pages");
cmp_ok($after, '<', $open, 'a cursor read to its last row unpins its pages');

# Cursors of a subtransaction rolled back are never ended: their pins go
# back with their memory, and a cursor after them reads in batches of
# several pages again (they had used up the backend's share).
my $after_rollback = $node->safe_psql('postgres', q{
BEGIN;
SAVEPOINT s;
SELECT format('DECLARE c%s CURSOR FOR SELECT msg_offset FROM topics.fetch(''wide'', 0, %s, 1000)',
              i, i * 46)
  FROM generate_series(0, 19) i \gexec
SELECT format('FETCH 30 FROM c%s', i) FROM generate_series(0, 19) i \gexec
ROLLBACK TO SAVEPOINT s;
SELECT 'before', count(*) FROM pg_buffercache WHERE pinning_backends > 0;
DECLARE d CURSOR FOR SELECT msg_offset FROM topics.fetch('wide', 0, 1500, 1000);
FETCH 30 FROM d;
SELECT 'after', count(*) FROM pg_buffercache WHERE pinning_backends > 0;
COMMIT;
});
my ($before_d) = $after_rollback =~ /^before\|(\d+)$/m;
my ($with_d) = $after_rollback =~ /^after\|(\d+)$/m;
cmp_ok($with_d - $before_d, '>', 2,
	'after a rollback to savepoint, a cursor pins a batch of pages again');

# A read across a long run of rolled-back rows (20,000, in batches of 99,
# the rows it has left to hand out) marks their entries dead walking each
# batch once: the walk of a batch starts past the one before, whether its
# rows were seen or dead, and reads some 55 leaf pages for it all, not the
# run so far each time (some 6,000 index pages).
my $index_pages = $node->safe_psql('postgres', q{
SELECT topics.create_topic('gap', 1);
SELECT count(*) FROM topics.produce_batch('gap', ARRAY['first']);
BEGIN;
SELECT count(*) FROM topics.produce_batch('gap',
    ARRAY(SELECT 'r' || i FROM generate_series(1, 20000) i));
ROLLBACK;
SELECT count(*) FROM topics.produce_batch('gap',
    ARRAY(SELECT 'after' || i FROM generate_series(1, 10) i));
BEGIN;
CREATE TEMP VIEW gap_index_pages AS
SELECT pg_stat_get_xact_blocks_fetched(i.indexrelid) AS pages
  FROM topics.segments s JOIN pg_index i ON i.indrelid = s.segment_table
 WHERE s.topic = 'gap';
SELECT pages AS before FROM gap_index_pages \gset
SELECT 'rows', count(*) FROM topics.fetch('gap', 0, 0, 100);
SELECT 'index pages', pages - :before FROM gap_index_pages;
COMMIT;
});
like($index_pages, qr/^rows\|11$/m, 'the read passes the rolled-back rows');
my ($gap_pages) = $index_pages =~ /^index pages\|(\d+)$/m;
cmp_ok($gap_pages, '<', 1500, "the read took $gap_pages index pages");

# a cursor handed one row at a time keeps each row valid until the next
my $cursor = $node->safe_psql('postgres', q{
CREATE TABLE got (n serial, v text);
DO $$
DECLARE
    c refcursor;
    r record;
BEGIN
    OPEN c FOR SELECT * FROM topics.fetch('st', 0, 0, 1000);
    LOOP
        FETCH c INTO r;
        EXIT WHEN NOT FOUND;
        INSERT INTO got (v) VALUES (r.msg_offset || ':' || md5(r.value));
    END LOOP;
END $$;
SELECT string_agg(v, ',' ORDER BY n) FROM got});
is($cursor, truth(0, 1000), 'a cursor read row by row');

# a scrollable cursor read forward past batches, then back to the start
my $rewound = $node->safe_psql('postgres', q{
BEGIN;
DECLARE c SCROLL CURSOR FOR
    SELECT msg_offset || ':' || md5(value) AS v FROM topics.fetch('st', 0, 0, 1000);
MOVE FORWARD 300 IN c;
MOVE ABSOLUTE 0 IN c;
FETCH ALL FROM c;
COMMIT;
});
is(join(',', split /\n/, $rewound), truth(0, 1000),
	'a scrollable cursor rewound after 300 rows');

# a serializable read goes through the index from its first row on
my $serializable = $node->safe_psql('postgres', q{
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT string_agg(msg_offset || ':' || md5(value), ',')
  FROM topics.fetch('st', 0, 5, 400);
COMMIT;
});
is($serializable, truth(5, 400), 'a serializable read');

# a group polls every committed row once, in order, in polls of 100
$node->safe_psql('postgres',
	q{SELECT topics.join('g', 'st', 'm', auto_offset_reset => 'earliest')});
my @polled;
for (1 .. 10)
{
	my $got = $node->safe_psql('postgres', q{
SELECT string_agg(msg_offset || ':' || md5(value), ',')
  FROM topics.poll('g', 'st', 'm', 100)});
	push @polled, $got if $got ne '';
}
is(join(',', @polled), truth(0, 1000), 'polls of a group');

$node->stop;
done_testing();
