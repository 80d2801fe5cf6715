-- pgbench script of 003_stress.pl: one producing transaction of 1 to 5
-- messages to topic s.  First a batch of 0 to 4 messages, keyed or keyless,
-- then a random pause while the transaction holds its offsets, then one
-- message to a random partition.  Each message is recorded in ledger in the
-- same transaction, so ledger holds exactly the committed messages.  One
-- transaction in four rolls back.
\set n random(0, 4)
\set keyed random(0, 1)
\set p random(0, 3)
\set pause random(0, 5)
\set r random(1, 4)
BEGIN;
\if :n > 0 and :keyed = 1
INSERT INTO ledger (partition, msg_offset)
SELECT partition, msg_offset
  FROM topics.produce_batch('s',
           ARRAY(SELECT 'keyed-' || g FROM generate_series(1, :n) g),
           ARRAY(SELECT md5(random()::text) FROM generate_series(1, :n)));
\elif :n > 0
INSERT INTO ledger (partition, msg_offset)
SELECT partition, msg_offset
  FROM topics.produce_batch('s',
           ARRAY(SELECT 'keyless-' || g FROM generate_series(1, :n) g));
\endif
\sleep :pause ms
INSERT INTO ledger (partition, msg_offset)
SELECT partition, msg_offset
  FROM topics.produce('s', 'late'::text, NULL::text, :p);
\if :r = 1
ROLLBACK;
\else
COMMIT;
\endif
