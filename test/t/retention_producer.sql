-- pgbench script of 065_retention.pl: one producing transaction to the
-- 2-partition topic r: a batch of 1 to 5 keyed messages (the keys spread
-- them over both partitions), each recorded in produced with the offset
-- produce returned and its value, in the same transaction, so that
-- produced holds exactly the committed messages.  A short pause while the
-- transaction holds its offsets (the segments it writes to cannot be let
-- go before it ends); one transaction in five rolls back and leaves a gap.
\set n random(1, 5)
\set pause random(0, 2)
\set r random(1, 5)
BEGIN;
INSERT INTO produced (partition, msg_offset, value)
SELECT p.partition, p.msg_offset, v.vals[p.i]
  FROM (SELECT ARRAY(SELECT substr(md5(random()::text), 1, 8)
                       FROM generate_series(1, :n)) AS vals,
               ARRAY(SELECT 'k' || (random() * 99)::int
                       FROM generate_series(1, :n)) AS keys) v,
       LATERAL topics.produce_batch('r', v.vals, v.keys)
               WITH ORDINALITY AS p(partition, msg_offset, i);
\sleep :pause ms
\if :r = 1
ROLLBACK;
\else
COMMIT;
\endif
