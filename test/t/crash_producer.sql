-- pgbench script of 002_crash_restart.pl: produce a batch of keyed messages
-- to topic t and record their offsets in ledger in the same transaction;
-- one transaction in four rolls back.
\set n random(1, 20)
\set r random(1, 4)
BEGIN;
INSERT INTO ledger (partition, msg_offset)
SELECT partition, msg_offset
  FROM topics.produce_batch('t',
           array_fill('crash'::text, ARRAY[:n]),
           ARRAY(SELECT md5(random()::text) FROM generate_series(1, :n)));
\if :r = 1
ROLLBACK;
\else
COMMIT;
\endif
