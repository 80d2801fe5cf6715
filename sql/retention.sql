-- Retention, store mode and topic settings
\set VERBOSITY default

-- Settings under Kafka's names, checked at create
SELECT topics.create_topic('bad', 1, 'stream', '{"retention.ms": -2}');
SELECT topics.create_topic('bad', 1, 'stream', '{"retention.ms": "soon"}');
SELECT topics.create_topic('bad', 1, 'stream', '{"retention.bytes": 1.5}');
SELECT topics.create_topic('bad', 1, 'stream', '{"segment.ms": 0}');
SELECT topics.create_topic('bad', 1, 'stream', '{"cleanup.policy": "shred"}');
SELECT topics.create_topic('bad', 1, 'stream', '{"cleanup.policy": 1}');
SELECT topics.create_topic('bad', 1, 'stream', '{"delete.retention.ms": -1}');
SELECT topics.create_topic('bad', 1, 'stream', '{"min.compaction.lag.ms": -1}');
SELECT topics.create_topic('bad', 1, 'stream', '{"max.message.bytes": 0}');
SELECT topics.create_topic('bad', 1, 'stream', '{"message.timestamp.type": "WallTime"}');
SELECT topics.create_topic('bad', 1, 'stream', '{"retention.minutes": 5}');
SELECT topics.create_topic('bad', 1, 'store', '{"retention.ms": 1000}');
SELECT topics.create_topic('bad', 1, 'store', '{"cleanup.policy": "compact"}');
SELECT topics.create_topic('bad', 1, 'queue', '{"retention.bytes": 1000}');
SELECT topics.create_topic('bad', 1, 'queue', '{"segment.ms": 1000}');
SELECT count(*) FROM topics.topics WHERE name = 'bad';

-- numbers as strings, as Kafka's tools pass them; what a topic does not
-- set is the server's default
SELECT topics.create_topic('st', 1, 'stream', '{"retention.ms": "3600000", "cleanup.policy": "compact,delete"}');
SELECT jsonb_pretty(settings) FROM topics.topics WHERE name = 'st';
SELECT topics.create_topic('es', 1, 'store');
SELECT settings->'retention.ms' AS retention_ms, settings->'retention.bytes' AS retention_bytes,
       settings->'cleanup.policy' AS cleanup_policy
  FROM topics.topics WHERE name = 'es';

-- alter_topic merges, a null goes back to the default, and checks first
SELECT topics.alter_topic('st', '{"retention.ms": null, "retention.bytes": 1048576}');
SELECT config, settings->'retention.ms' AS retention_ms FROM topics.topics WHERE name = 'st';
SELECT topics.alter_topic('st', '{"retention.bytes": -7}');
SELECT topics.alter_topic('st', '[1]');
SELECT topics.alter_topic('es', '{"retention.ms": 1}');
SELECT topics.alter_topic('nope', '{}');
SELECT topics.alter_topic('st', NULL);
SELECT config FROM topics.topics WHERE name = 'st';
-- a queue keeps its window, fifo and dead-letter topic
SELECT topics.create_topic('rq', 1, 'queue', '{"delivery.window": 8}');
SELECT topics.alter_topic('rq', '{"delivery.window": 16}');
SELECT topics.alter_topic('rq', '{"max.deliveries": 2, "delivery.window": 8}');
SELECT config FROM topics.topics WHERE name = 'rq';

-- max.message.bytes of the topic
SELECT topics.alter_topic('st', '{"max.message.bytes": 10}');
-- a topic may lower the server's limit, not raise it
SELECT topics.alter_topic('st', '{"max.message.bytes": 2000000}');
SELECT partition FROM topics.produce('st', 'short', 'k');
SELECT partition FROM topics.produce('st', 'far too long a message', 'k');

-- message.timestamp.type: with LogAppendTime the log's clock wins
SELECT topics.create_topic('lat', 1, 'stream', '{"message.timestamp.type": "LogAppendTime"}');
SELECT partition FROM topics.produce('lat', 'x', "timestamp" => '2001-01-01');
SELECT partition FROM topics.produce('st', 'x', 'k', "timestamp" => '2001-01-01');
SELECT "timestamp" > now() - interval '1 hour' AS recent FROM topics.fetch('lat', 0, 0);
SELECT count(*) FILTER (WHERE "timestamp" = '2001-01-01') AS kept_create_time FROM topics.fetch('st', 0, 0);

-- run_maintenance until the segments of a topic wholly below its log
-- start are dropped (a snapshot held elsewhere, a worker's, may keep them
-- a moment)
CREATE FUNCTION reclaimed(t text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..500 LOOP
        PERFORM topics.run_maintenance(t);
        IF NOT EXISTS (SELECT FROM topics.segments s JOIN topics.partitions p USING (topic, partition)
                        WHERE s.topic = t AND s.end_offset <= p.log_start) THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
    RETURN false;
END
$$;
-- the segments holding messages (the segment maker adds the next one
-- ahead of need, at a moment of its own)
CREATE VIEW held AS
SELECT topic, partition, count(*) AS segments
  FROM topics.segments s JOIN topics.partitions p USING (topic, partition)
 WHERE s.base_offset < p.lso
 GROUP BY topic, partition;

-- Retention by time: segments whose newest message is older than
-- retention.ms go, whole, oldest first; never the last one
-- (old timestamps would roll the segments over at once: see below)
SELECT topics.create_topic('rt', 2, 'stream', '{"segment.messages": 10, "retention.ms": 86400000, "segment.ms": 1000000000000}');
SELECT count(*) FROM topics.produce_batch('rt', ARRAY(SELECT 'old' || i FROM generate_series(0, 24) i),
                                          partition => 0, "timestamp" => '2000-01-01');
SELECT count(*) FROM topics.produce_batch('rt', ARRAY(SELECT 'new' || i FROM generate_series(25, 34) i),
                                          partition => 0);
-- an old message in a young segment keeps the segment
SELECT count(*) FROM topics.produce_batch('rt', ARRAY['old 35', 'new 36'], partition => 0,
                                          "timestamp" => '2000-01-01');
SELECT count(*) FROM topics.produce_batch('rt', ARRAY(SELECT 'old' || i FROM generate_series(0, 4) i),
                                          partition => 1, "timestamp" => '2000-01-01');
SELECT partition, log_start, held.segments FROM topics.partitions JOIN held USING (topic, partition)
 WHERE topic = 'rt' ORDER BY 1;
SELECT topic, job, segments_freed, log_start_moves, error FROM topics.run_maintenance('rt');
-- the log start moved at once; readers start there
SELECT partition, log_start, lso, log_end FROM topics.partitions WHERE topic = 'rt' ORDER BY 1;
SELECT min(msg_offset), count(*) FROM topics.fetch('rt', 0, 0, 100);
SELECT min(msg_offset), count(*) FROM topics.fetch('rt', 0, 12, 100);
SELECT reclaimed('rt');
-- every backend's list of segments lost the dropped ones (those of a
-- group too), and the groups left without segments went with them
SELECT bool_and(p.segments = (SELECT count(*) FROM topics.segments s
                               WHERE s.topic = p.topic AND s.partition = p.partition)) AS lists_current
  FROM topics.partitions p WHERE p.topic = 'rt';
SELECT count(*) AS empty_groups FROM pg_class c
 WHERE c.relnamespace = 'topics_data'::regnamespace AND c.relname LIKE 'rt$%$g%'
   AND NOT EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = c.oid);
SELECT partition, base_offset, end_offset, max_timestamp IS NOT NULL AS measured
  FROM topics.segment WHERE topic = 'rt' AND base_offset < 40 ORDER BY 1, 2;
SELECT job, segments_freed, bytes_freed > 0 AS freed FROM topics.maintenance_log
 WHERE topic = 'rt' ORDER BY job;
-- offset_for_time looks from the log start on
SELECT topics.offset_for_time('rt', 0, '-infinity'), topics.offset_for_time('rt', 1, '-infinity');
-- offsets go on, never reused
SELECT msg_offset FROM topics.produce('rt', 'after', partition => 0);
SELECT count(*) FROM topics.fetch('rt', 0, 0, 100);
-- nothing was deleted row by row
SELECT pg_stat_force_next_flush();
SELECT coalesce(sum(n_tup_del + n_tup_upd), 0) AS rows_changed
  FROM pg_stat_user_tables WHERE schemaname = 'topics_data' AND relname LIKE 'rt$%';

-- Roll-over by age: the segment written to rolls over once its first
-- message is older than segment.ms; the rest of its offsets are a gap,
-- and the next segment is made at once, so that the messages can expire
SELECT topics.create_topic('rr', 1, 'stream', '{"segment.messages": 100, "segment.ms": 3600000, "retention.ms": 3600000}');
SELECT count(*) FROM topics.produce_batch('rr', ARRAY['young', 'young too']);
SELECT job, segments_freed FROM topics.run_maintenance('rr') WHERE job IN ('roll', 'retention') ORDER BY job;
SELECT topics.create_topic('ro', 1, 'stream', '{"segment.messages": 100, "segment.ms": 3600000, "retention.ms": 3600000}');
SELECT count(*) FROM topics.produce_batch('ro', ARRAY['old', 'old too'], "timestamp" => now() - interval '90 minutes');
SELECT job, segments_freed FROM topics.run_maintenance('ro') WHERE job = 'roll';
SELECT log_start, lso, log_end FROM topics.partitions WHERE topic = 'ro';
SELECT msg_offset FROM topics.produce('ro', 'next');
SELECT job, segments_freed FROM topics.run_maintenance('ro') WHERE job IN ('roll', 'retention') ORDER BY job;
SELECT log_start, lso, log_end FROM topics.partitions WHERE topic = 'ro';
SELECT msg_offset, convert_from(value, 'UTF8') AS value FROM topics.fetch('ro', 0, 0);
SELECT reclaimed('ro');

-- a group positioned below the log start follows auto_offset_reset
CREATE TABLE seen (g text, msg_offset bigint);
SELECT topics.join('early', 'rt', 'm', auto_offset_reset => 'earliest');
SELECT topics.join('late', 'rt', 'm', auto_offset_reset => 'latest');
SELECT topics.join('strict', 'rt', 'm', auto_offset_reset => 'none');
SELECT topics.seek('early', 'rt', 0, 5);
SELECT topics.seek('late', 'rt', 0, 5);
SELECT topics.seek('strict', 'rt', 0, 5);
SELECT topics.seek('strict', 'rt', 1, 0);
SELECT topics.seek('late', 'rt', 1, 0);
SELECT topics.seek('early', 'rt', 1, 0);
SELECT partition, min(msg_offset), count(*) FROM topics.poll('early', 'rt', 'm', 100) GROUP BY 1 ORDER BY 1;
SELECT partition, min(msg_offset), count(*) FROM topics.poll('late', 'rt', 'm', 100) GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM topics.poll('strict', 'rt', 'm', 100);

-- Retention by size: the oldest segments go while the rest still hold
-- retention.bytes
SELECT topics.create_topic('rb', 1, 'stream', '{"segment.messages": 100}');
SELECT count(*) FROM topics.produce_batch('rb', ARRAY(SELECT repeat('x', 500) FROM generate_series(1, 450)));
SELECT held.segments, log_start FROM topics.partitions JOIN held USING (topic, partition) WHERE topic = 'rb';
SELECT topics.alter_topic('rb', jsonb_build_object('retention.bytes',
    (SELECT sum(topics_internal.segment_size('rb', 0, base_offset))
       FROM topics.segments WHERE topic = 'rb' AND base_offset >= 200))) ? 'retention.bytes' AS set;
SELECT job, segments_freed, log_start_moves FROM topics.run_maintenance('rb');
SELECT log_start FROM topics.partitions WHERE topic = 'rb';
SELECT reclaimed('rb');
-- no limit, no time: nothing more goes
SELECT topics.alter_topic('rb', '{"retention.bytes": -1, "retention.ms": -1}');
SELECT job, segments_freed FROM topics.run_maintenance('rb');
SELECT log_start, held.segments FROM topics.partitions JOIN held USING (topic, partition) WHERE topic = 'rb';

-- a rolled-back move of the log start moves nothing
BEGIN;
SELECT topics.delete_records('rb', 0, 250);
SELECT min(msg_offset) FROM topics.fetch('rb', 0, 0, 1000);
ROLLBACK;
SELECT log_start FROM topics.partitions WHERE topic = 'rb';
SELECT min(msg_offset) FROM topics.fetch('rb', 0, 0, 1000);

-- Store mode: nothing goes but by delete_records, the owner's call
SELECT count(*) FROM topics.produce_batch('es', ARRAY(SELECT 'e' || i FROM generate_series(1, 30) i),
                                          "timestamp" => '2000-01-01');
SELECT job, segments_freed, log_start_moves FROM topics.run_maintenance('es');
SELECT log_start, lso FROM topics.partitions WHERE topic = 'es';
DELETE FROM topics_data.es;
TRUNCATE topics_data."es$0";
SELECT topics.delete_records('es', 0, 31);
SELECT topics.delete_records('es', 0, -2);
SELECT topics.delete_records('es', 1, 3);
SELECT topics.delete_records('es', 0, NULL);
SELECT topics.delete_records('rq', 0, 0);
CREATE ROLE retention_reader;
GRANT SELECT ON topics_data.es TO retention_reader;
SET ROLE retention_reader;
SELECT count(*) FROM topics.fetch('es', 0, 0, 100);
SELECT topics.delete_records('es', 0, 10);
SELECT topics.alter_topic('es', '{"segment.ms": 1000}');
SELECT topics.run_maintenance('es');
RESET ROLE;
-- a topic owner who is no superuser runs maintenance on its own topics
CREATE ROLE retention_owner;
GRANT EXECUTE ON FUNCTION topics.create_topic(text, integer, text, jsonb) TO retention_owner;
SET ROLE retention_owner;
SELECT topics.create_topic('owned', 1, 'stream', '{"segment.messages": 10, "retention.ms": 1000, "segment.ms": 1000000000000}');
SELECT count(*) FROM topics.produce_batch('owned', ARRAY(SELECT 'o' || i FROM generate_series(1, 25) i),
                                          "timestamp" => '2000-01-01');
SELECT job, segments_freed FROM topics.run_maintenance('owned') ORDER BY job;
SELECT topic, job FROM topics.run_maintenance() ORDER BY 1, 2;
SELECT topics.drop_topic('owned');
RESET ROLE;
SELECT topics.delete_records('es', 0, 10);
SELECT topics.delete_records('es', 0, 5);
SELECT min(msg_offset), count(*) FROM topics.fetch('es', 0, 0, 100);
SELECT topics.delete_records('es', 0, -1);
SELECT count(*) FROM topics.fetch('es', 0, 0, 100);
SELECT msg_offset FROM topics.produce('es', 'e31');
SELECT msg_offset FROM topics.fetch('es', 0, 0, 100);

DROP FUNCTION reclaimed(text);
DROP VIEW held;
DROP TABLE seen;
SELECT topics.drop_topic(name) FROM topics.topics ORDER BY name;
SELECT count(*) FROM topics.maintenance_log;
DROP ROLE retention_reader;
REVOKE EXECUTE ON FUNCTION topics.create_topic(text, integer, text, jsonb) FROM retention_owner;
DROP ROLE retention_owner;
