--
-- Fetch: reading a partition from an offset, below the last stable offset
--
-- After each expected error, \echo :SQLSTATE prints its SQLSTATE.
--
\set VERBOSITY terse

-- 10 offsets per segment: 25 messages fill offsets 0 to 24 in 3 segments
SELECT * FROM topics.create_topic('f', 2, 'stream', '{"segment.messages": 10}');
SELECT count(*) AS produced FROM generate_series(0, 24) i,
       LATERAL topics.produce('f', 'm' || i, partition => 0) p;
SELECT s.base_offset, s.end_offset
  FROM topics.segment s
 WHERE s.topic = 'f' AND s.partition = 0
 ORDER BY s.base_offset;

-- every column of a fetched message
SELECT topic, partition, msg_offset, "timestamp" IS NOT NULL AS t, key,
       convert_from(value, 'UTF8') AS value, headers
  FROM topics.fetch('f', 0, 0, 1);

-- from offset 0 with the default max_messages (100): all 25, in order
SELECT count(*), min(msg_offset), max(msg_offset),
       bool_and(convert_from(value, 'UTF8') = 'm' || msg_offset) AS values_match
  FROM topics.fetch('f', 0, 0);
SELECT array_agg(msg_offset) = array_agg(msg_offset ORDER BY msg_offset) AS in_order
  FROM topics.fetch('f', 0, 0);

-- max_messages, across segment boundaries
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('f', 0, 7, 5);
SELECT msg_offset FROM topics.fetch('f', 0, 18, 100);
SELECT msg_offset FROM topics.fetch('f', 0, 3, 1);
SELECT count(*) FROM topics.fetch('f', 0, 0, 1000000);

-- an empty partition, and the log end: nothing to read
SELECT * FROM topics.fetch('f', 1, 0);
SELECT * FROM topics.fetch('f', 0, 25);

-- with nothing to read, max_wait waits that long, then returns nothing
SELECT clock_timestamp() AS before_wait \gset
SELECT * FROM topics.fetch('f', 0, 25, 100, '10 ms');
SELECT clock_timestamp() - :'before_wait' >= interval '10 ms' AS waited;
-- with messages to read, max_wait does not wait
SELECT count(*) FROM topics.fetch('f', 0, 20, 100, '1 hour');

-- rolled back offsets are gaps that fetch skips
BEGIN;
SELECT * FROM topics.produce('f', 'rolled back', partition => 0);
ROLLBACK;
SELECT * FROM topics.produce('f', 'm26', partition => 0);
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('f', 0, 24);
-- from the gap itself
SELECT msg_offset FROM topics.fetch('f', 0, 25);

-- A transaction does not read its own uncommitted messages: its open
-- registration holds the LSO at its first offset, and topics.partitions
-- shows it as the oldest open producer.
BEGIN;
SELECT * FROM topics.produce('f', 'open', partition => 0);
SELECT * FROM topics.produce('f', 'open too', partition => 0);
SELECT msg_offset FROM topics.fetch('f', 0, 24);
SELECT * FROM topics.fetch('f', 0, 27);
SELECT * FROM topics.fetch('f', 0, 27, 100, '10 ms');
SELECT partition, log_start, lso, log_end, lso < log_end AS held,
       oldest_producer_pid = pg_backend_pid() AS own_pid,
       oldest_producer_xid = pg_current_xact_id()::xid AS own_xid,
       oldest_producer_age IS NOT NULL AS t
  FROM topics.partitions WHERE topic = 'f' ORDER BY partition;
-- plain SQL on the table is ordinary MVCC, not bounded by the LSO
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics_data.f WHERE msg_offset >= 26 ORDER BY msg_offset;
COMMIT;
-- committed: fetch returns them and nothing holds the LSO
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('f', 0, 27);
SELECT partition, lso, log_end, oldest_producer_pid, oldest_producer_xid,
       oldest_producer_age
  FROM topics.partitions WHERE topic = 'f' ORDER BY partition;

-- the same inside REPEATABLE READ: fetch reads with the latest snapshot,
-- but never past the transaction's own open offsets
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM topics.fetch('f', 0, 0);
SELECT * FROM topics.produce('f', 'rr', partition => 0);
SELECT count(*) FROM topics.fetch('f', 0, 0);
SELECT lso, log_end, oldest_producer_pid = pg_backend_pid() AS own_pid
  FROM topics.partitions WHERE topic = 'f' AND partition = 0;
COMMIT;
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('f', 0, 29);
-- a rolled back transaction releases the LSO as well
BEGIN;
SELECT * FROM topics.produce('f', 'rolled back', partition => 0);
SELECT lso, log_end FROM topics.partitions WHERE topic = 'f' AND partition = 0;
ROLLBACK;
SELECT lso, log_end, oldest_producer_pid
  FROM topics.partitions WHERE topic = 'f' AND partition = 0;
-- ROLLBACK TO SAVEPOINT leaves a gap, but the transaction holds the LSO
-- until it ends
BEGIN;
SAVEPOINT s;
SELECT * FROM topics.produce('f', 'rolled back to savepoint', partition => 0);
ROLLBACK TO SAVEPOINT s;
SELECT lso, log_end, oldest_producer_pid = pg_backend_pid() AS own_pid
  FROM topics.partitions WHERE topic = 'f' AND partition = 0;
COMMIT;
SELECT lso, log_end, oldest_producer_pid
  FROM topics.partitions WHERE topic = 'f' AND partition = 0;
SELECT count(*), max(msg_offset) FROM topics.fetch('f', 0, 0);

-- offset_for_time: the earliest offset whose timestamp is at or after ts.
-- Timestamps are the producer's and need not grow with the offsets.
SELECT * FROM topics.create_topic('ft');
SELECT msg_offset FROM topics.produce('ft', 'a', "timestamp" => '2020-01-01 00:00:00+00');
SELECT msg_offset FROM topics.produce('ft', 'b', "timestamp" => '2020-01-03 00:00:00+00');
SELECT msg_offset FROM topics.produce('ft', 'c', "timestamp" => '2020-01-02 00:00:00+00');
SELECT msg_offset FROM topics.produce('ft', 'd', "timestamp" => '2020-01-05 00:00:00+00');
SELECT ts, topics.offset_for_time('ft', 0, ts::timestamptz) AS msg_offset
  FROM (VALUES ('2019-12-31 00:00:00+00'), ('2020-01-01 00:00:00+00'),
               ('2020-01-01 00:00:01+00'), ('2020-01-02 00:00:00+00'),
               ('2020-01-03 12:00:00+00'), ('2020-01-05 00:00:00+00'),
               ('2020-01-05 00:00:01+00'), ('infinity')) v(ts)
 ORDER BY ts::timestamptz;
-- an empty partition has none
SELECT topics.offset_for_time('f', 1, '-infinity') AS msg_offset;
-- uncommitted messages are not found
BEGIN;
SELECT msg_offset FROM topics.produce('ft', 'e', "timestamp" => '2020-01-09 00:00:00+00');
SELECT topics.offset_for_time('ft', 0, '2020-01-08 00:00:00+00') AS msg_offset;
COMMIT;
SELECT topics.offset_for_time('ft', 0, '2020-01-08 00:00:00+00') AS msg_offset;

-- Invalid input: offsets
SELECT * FROM topics.fetch('f', 0, -1);
\echo :SQLSTATE
SELECT log_end FROM topics.partitions WHERE topic = 'f' AND partition = 0;
SELECT * FROM topics.fetch('f', 0, 33);
\echo :SQLSTATE
SELECT * FROM topics.fetch('f', 1, 1);
\echo :SQLSTATE
SELECT * FROM topics.fetch('f', 0, 9223372036854775807);
\echo :SQLSTATE

-- Invalid input: max_messages (above 1000000 is 22003, out of range) and
-- max_wait
SELECT * FROM topics.fetch('f', 0, 0, 0);
\echo :SQLSTATE
SELECT * FROM topics.fetch('f', 0, 0, -1);
\echo :SQLSTATE
SELECT * FROM topics.fetch('f', 0, 0, 1000001);
\echo :SQLSTATE
SELECT * FROM topics.fetch('f', 0, 0, 2000000);
\echo :SQLSTATE
SELECT * FROM topics.fetch('f', 0, 0, 100, '-1 ms');
\echo :SQLSTATE
SELECT * FROM topics.fetch('f', 0, 0, 100, '-1 day');
\echo :SQLSTATE

-- Invalid input: partition out of range
SELECT * FROM topics.fetch('f', 2, 0);
\echo :SQLSTATE
SELECT * FROM topics.fetch('f', -1, 0);
\echo :SQLSTATE
SELECT topics.offset_for_time('f', 2, now());
\echo :SQLSTATE

-- Invalid input: NULL arguments, unknown topic
SELECT * FROM topics.fetch(NULL, 0, 0);
\echo :SQLSTATE
SELECT * FROM topics.fetch('f', NULL, 0);
\echo :SQLSTATE
SELECT * FROM topics.fetch('f', 0, NULL);
\echo :SQLSTATE
SELECT * FROM topics.fetch('f', 0, 0, NULL);
\echo :SQLSTATE
SELECT * FROM topics.fetch('f', 0, 0, 100, NULL);
\echo :SQLSTATE
SELECT topics.offset_for_time('f', 0, NULL);
\echo :SQLSTATE
SELECT * FROM topics.fetch('nosuch', 0, 0);
\echo :SQLSTATE
SELECT topics.offset_for_time('nosuch', 0, now());
\echo :SQLSTATE

-- Reads follow offsets, not the heap: VACUUM frees the space of a batch
-- rolled back between two others, and a later batch fills it.  The heap
-- then holds offsets 0-99, 300-399, 200-299.
SELECT topics.create_topic('fo', 1);
SELECT count(*) FROM topics.produce_batch('fo',
    ARRAY(SELECT convert_to(lpad(i::text, 200, 'a'), 'UTF8') FROM generate_series(0, 99) i));
BEGIN;
SELECT count(*) FROM topics.produce_batch('fo',
    ARRAY(SELECT convert_to(lpad(i::text, 200, 'r'), 'UTF8') FROM generate_series(100, 199) i));
ROLLBACK;
SELECT count(*) FROM topics.produce_batch('fo',
    ARRAY(SELECT convert_to(lpad(i::text, 200, 'a'), 'UTF8') FROM generate_series(200, 299) i));
VACUUM topics_data.fo;
SELECT count(*) FROM topics.produce_batch('fo',
    ARRAY(SELECT convert_to(lpad(i::text, 200, 'a'), 'UTF8') FROM generate_series(300, 399) i));
SELECT (SELECT ctid FROM topics_data.fo WHERE msg_offset = 99) <
       (SELECT ctid FROM topics_data.fo WHERE msg_offset = 300) AND
       (SELECT ctid FROM topics_data.fo WHERE msg_offset = 399) <
       (SELECT ctid FROM topics_data.fo WHERE msg_offset = 200) AS later_batch_in_the_gap;
-- every offset once, in order, each with its own value
SELECT count(*), min(msg_offset), max(msg_offset),
       bool_and(convert_from(value, 'UTF8') = lpad(msg_offset::text, 200, 'a')) AS values_match,
       array_agg(msg_offset) = array_agg(msg_offset ORDER BY msg_offset) AS in_order
  FROM topics.fetch('fo', 0, 0, 1000);
-- reads that start in each run of the heap
SELECT min(msg_offset), max(msg_offset), count(*),
       array_agg(msg_offset) = array_agg(msg_offset ORDER BY msg_offset) AS in_order
  FROM topics.fetch('fo', 0, 50, 100);
SELECT min(msg_offset), max(msg_offset), count(*),
       array_agg(msg_offset) = array_agg(msg_offset ORDER BY msg_offset) AS in_order
  FROM topics.fetch('fo', 0, 250, 100);
SELECT min(msg_offset), max(msg_offset), count(*),
       array_agg(msg_offset) = array_agg(msg_offset ORDER BY msg_offset) AS in_order
  FROM topics.fetch('fo', 0, 350, 100);
-- a serializable transaction reads through the index only: the same rows
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT count(*), min(msg_offset), max(msg_offset),
       array_agg(msg_offset) = array_agg(msg_offset ORDER BY msg_offset) AS in_order
  FROM topics.fetch('fo', 0, 0, 1000);
SELECT min(msg_offset), max(msg_offset), count(*)
  FROM topics.fetch('fo', 0, 50, 100);
COMMIT;
SELECT topics.drop_topic('fo');

SELECT topics.drop_topic('f');
SELECT topics.drop_topic('ft');
SELECT count(*) AS topics FROM topics.topic;
