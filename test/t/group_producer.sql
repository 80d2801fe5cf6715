-- pgbench script of 005_group_stress.pl: one producing transaction to the
-- 6-partition topic s: a batch of 1 to 10 messages, keyed (spread over the
-- partitions) or keyless (all to one partition), a short pause while the
-- transaction holds its offsets, then COMMIT; one transaction in five rolls
-- back and leaves a gap.  The committed messages are the rows of
-- topics_data.s.
\set n random(1, 10)
\set keyed random(0, 1)
\set pause random(0, 2)
\set r random(1, 5)
BEGIN;
\if :keyed = 1
SELECT count(*)
  FROM topics.produce_batch('s',
           ARRAY(SELECT 'keyed-' || g FROM generate_series(1, :n) g),
           ARRAY(SELECT md5(random()::text) FROM generate_series(1, :n)));
\else
SELECT count(*)
  FROM topics.produce_batch('s',
           ARRAY(SELECT 'keyless-' || g FROM generate_series(1, :n) g));
\endif
\sleep :pause ms
\if :r = 1
ROLLBACK;
\else
COMMIT;
\endif
