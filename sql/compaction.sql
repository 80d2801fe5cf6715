-- Compaction: the latest message of each key, Kafka's guarantees
\set VERBOSITY default

SELECT topics.create_topic('cp', 1, 'stream',
    '{"segment.messages": 8, "cleanup.policy": "compact", "delete.retention.ms": 3600000}');
-- a compacted topic takes only messages with a key
SELECT partition FROM topics.produce('cp', 'no key');
SELECT count(*) FROM topics.produce_batch('cp', ARRAY['v1', 'v2'], ARRAY['k1', NULL]);

-- a scripted sequence of keys: updates, tombstones (a NULL value), a key
-- deleted and written again, a tombstone old enough to go, and one not
CREATE TABLE script (step serial, key text, value text, ts timestamptz);
INSERT INTO script (key, value, ts)
SELECT 'k' || (i % 7), 'v' || i, '2000-01-01'::timestamptz + i * interval '1 minute'
  FROM generate_series(1, 40) i;
INSERT INTO script (key, value, ts) VALUES
    ('k3', NULL, '2000-01-02'),          -- deleted, long ago: goes
    ('k5', NULL, now()),                 -- deleted now: stays a while
    ('k6', NULL, '2000-01-02'),
    ('k6', 'back again', '2000-01-03'),  -- deleted, then written again
    ('k1', 'v final', '2000-01-03');
-- and a few more, so that the above are in sealed segments
INSERT INTO script (key, value, ts)
SELECT 'tail' || i, 't' || i, now() FROM generate_series(1, 10) i;
CREATE TABLE produced AS
SELECT s.step, s.key, s.value, p.msg_offset
  FROM script s,
       LATERAL topics.produce('cp', s.value, s.key, "timestamp" => s.ts) p
 ORDER BY s.step;
SELECT count(*) AS produced, max(msg_offset) AS last_offset FROM produced;
SELECT lso FROM topics.partitions WHERE topic = 'cp';

-- (a run whose own statement began while another transaction was still
-- running, the segment maker's, leaves the new messages to the next run)
DO $$
BEGIN
    FOR i IN 1..500 LOOP
        EXIT WHEN EXISTS (SELECT FROM topics.run_maintenance('cp')
                           WHERE job = 'compaction' AND segments_freed > 0);
        COMMIT;
        PERFORM pg_sleep(0.01);
    END LOOP;
END $$;
SELECT job, segments_freed > 0 AS compacted, error FROM topics.maintenance_log
 WHERE topic = 'cp' AND job = 'compaction';

CREATE TABLE after AS
SELECT msg_offset, convert_from(key, 'UTF8') AS key, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('cp', 0, 0, 1000);
-- fewer messages
SELECT (SELECT count(*) FROM after) < (SELECT count(*) FROM produced) AS smaller;
-- offsets never change: each message read is the one produced at its offset
SELECT count(*) AS changed FROM after a
  LEFT JOIN produced p ON p.msg_offset = a.msg_offset
 WHERE p.key IS DISTINCT FROM a.key OR p.value IS DISTINCT FROM a.value;
-- order never changes (fetch returns offset order; the offsets rise)
SELECT bool_and(msg_offset > prev) AS ascending
  FROM (SELECT msg_offset, lag(msg_offset, 1, -1::bigint) OVER (ORDER BY msg_offset) AS prev
          FROM after) o;
-- a reader from offset 0 sees the final state of every key
CREATE VIEW final_state AS
SELECT DISTINCT ON (key) key, value FROM produced ORDER BY key, msg_offset DESC;
CREATE VIEW replayed AS
SELECT DISTINCT ON (key) key, value FROM after ORDER BY key, msg_offset DESC;
SELECT f.key, f.value AS final, r.value AS replayed
  FROM final_state f FULL JOIN replayed r USING (key)
 WHERE f.value IS DISTINCT FROM r.value
 ORDER BY 1;
-- what stays of the script: the latest of each key, tombstones younger
-- than delete.retention.ms, and the last segment untouched
SELECT key, value FROM after WHERE key LIKE 'k%' ORDER BY msg_offset;
-- the segment the last stable offset lies in is not sealed: untouched
SELECT (SELECT count(*) FROM after WHERE msg_offset >= s.base_offset) AS read,
       (SELECT count(*) FROM produced WHERE msg_offset >= s.base_offset) AS produced
  FROM topics.segments s, topics.partitions p
 WHERE s.topic = 'cp' AND p.topic = 'cp'
   AND p.lso > s.base_offset AND p.lso < s.end_offset;

-- compacting again with nothing new changes nothing
SELECT job, segments_freed FROM topics.run_maintenance('cp') WHERE job = 'compaction';
SELECT count(*) = (SELECT count(*) FROM after) AS same FROM topics.fetch('cp', 0, 0, 1000);

-- rows are rewritten, not deleted: no dead tuple
SELECT pg_stat_force_next_flush();
SELECT coalesce(sum(n_tup_del + n_tup_upd + n_dead_tup), 0) AS rows_changed
  FROM pg_stat_user_tables WHERE schemaname = 'topics_data' AND relname LIKE 'cp$%';

-- min.compaction.lag.ms keeps young messages as they are
SELECT topics.create_topic('cl', 1, 'stream',
    '{"segment.messages": 4, "cleanup.policy": "compact", "min.compaction.lag.ms": 3600000}');
SELECT count(*) FROM topics.produce_batch('cl', ARRAY(SELECT 'v' || i FROM generate_series(1, 12) i),
                                          ARRAY(SELECT 'same' FROM generate_series(1, 12) i));
SELECT msg_offset FROM topics.produce('cl', 'other', 'other');
SELECT job, segments_freed FROM topics.run_maintenance('cl') WHERE job = 'compaction';
SELECT count(*) FROM topics.fetch('cl', 0, 0, 100);
-- a stream both compacted and deleted: retention goes first
SELECT topics.alter_topic('cl', '{"cleanup.policy": "delete,compact", "min.compaction.lag.ms": 0, "retention.ms": 3600000}');
SELECT job, segments_freed FROM topics.run_maintenance('cl') ORDER BY job;
SELECT msg_offset, convert_from(value, 'UTF8') AS value FROM topics.fetch('cl', 0, 0, 100);

-- a segment read by a cursor of this session is left for a later run
SELECT topics.create_topic('cc', 1, 'stream', '{"segment.messages": 4, "cleanup.policy": "compact"}');
SELECT count(*) FROM topics.produce_batch('cc', ARRAY(SELECT 'v' || i FROM generate_series(1, 12) i),
                                          ARRAY(SELECT 'same' FROM generate_series(1, 12) i));
-- (a message in the next segment: the segments before it are not the last)
SELECT msg_offset FROM topics.produce('cc', 'other', 'other');
BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.fetch('cc', 0, 0, 100);
FETCH 2 FROM c;
SELECT job, segments_freed FROM topics.run_maintenance('cc') WHERE job = 'compaction';
FETCH ALL FROM c;
COMMIT;
SELECT job, segments_freed FROM topics.run_maintenance('cc') WHERE job = 'compaction';
SELECT msg_offset FROM topics.fetch('cc', 0, 0, 100);

-- keys too long to stay inline (compressed, or stored out of line) are
-- compared by their bytes: a deleted long key stays deleted
SELECT topics.create_topic('ck', 1, 'stream',
    '{"segment.messages": 4, "cleanup.policy": "compact", "delete.retention.ms": 0}');
CREATE TABLE long_keys AS
SELECT repeat('K', 5000) AS compressed,
       (SELECT string_agg(md5(i::text || 'salt'), '') FROM generate_series(1, 120) i) AS external;
SELECT count(*) FROM topics.produce_batch('ck', ARRAY['v1', 'v2', NULL, 'w1', 'w2', 'x'],
    (SELECT ARRAY[compressed, compressed, compressed, external, external, 'x'] FROM long_keys),
    "timestamp" => '2000-01-01');
SELECT msg_offset FROM topics.produce('ck', 'y', 'y');
SELECT msg_offset FROM topics.produce('ck', 'z', 'z');
SELECT msg_offset FROM topics.produce('ck', 'n', 'n');
SELECT job, segments_freed FROM topics.run_maintenance('ck') WHERE job = 'compaction';
SELECT msg_offset, length(key) AS key_length, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('ck', 0, 0);

DROP TABLE long_keys;
DROP VIEW final_state, replayed;
DROP TABLE script, produced, after;
SELECT topics.drop_topic(name) FROM topics.topics ORDER BY name;
