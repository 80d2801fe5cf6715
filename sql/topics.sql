--
-- Topics: create, describe, add partitions, drop, segment roll-over
--
-- After each expected error, \echo :SQLSTATE prints its SQLSTATE.
--
\set VERBOSITY terse
CREATE EXTENSION pg_topics;

-- The extension's schemas
SELECT nspname FROM pg_namespace
 WHERE nspname IN ('topics', 'topics_data', 'topics_internal')
 ORDER BY nspname COLLATE "C";

-- create_topic with the defaults: one partition, mode stream, no config
SELECT * FROM topics.create_topic('orders');

-- create_topic with a mode and a config
SELECT * FROM topics.create_topic('events', 3, 'store', '{"segment.messages": 1000}');
SELECT * FROM topics.create_topic('jobs', partitions => 2, mode => 'queue');
SELECT * FROM topics.create_topic('my.topic_name-1', config => '{"segment.bytes": 1048576}');

-- topics.topics lists them, with the owner and the root table
SELECT name, mode, partitions, config, owner, root_table,
       created_at IS NOT NULL AS t
  FROM topics.topics
 ORDER BY name COLLATE "C";

-- the catalog: one row per topic, per partition and (at first) one
-- segment per partition
SELECT t.name, count(*) AS partitions
  FROM topics.topic t JOIN topics.partition p ON p.topic = t.name
 GROUP BY t.name
 ORDER BY t.name COLLATE "C";
SELECT t.name, s.partition, s.base_offset, s.end_offset
  FROM topics.topic t JOIN topics.segment s ON s.topic = t.name
 WHERE t.name IN ('events', 'orders')
 ORDER BY t.name COLLATE "C", s.partition, s.base_offset;

-- the root table has the message columns and is partitioned by list
SELECT attname, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute
 WHERE attrelid = 'topics_data.orders'::regclass AND attnum > 0
 ORDER BY attnum;
SELECT pg_get_partkeydef('topics_data.orders'::regclass);
-- the tree: the root, a group of up to 64 partitions, the partitions'
-- tables, their segments
SELECT level, count(*) AS tables FROM pg_partition_tree('topics_data.events')
 GROUP BY level ORDER BY level;

-- topics.partitions: an empty partition starts and ends at 0
SELECT topic, partition, log_start, lso, log_end, segments,
       size_bytes IS NOT NULL AS t,
       oldest_producer_pid, oldest_producer_xid, oldest_producer_age
  FROM topics.partitions
 ORDER BY topic COLLATE "C", partition;

-- after producing, log_end (and the lso, nothing being open) move on
SELECT partition, msg_offset FROM topics.produce('orders', 'a');
SELECT partition, msg_offset FROM topics.produce('orders', 'b');
SELECT topic, partition, log_start, lso, log_end, segments
  FROM topics.partitions WHERE topic = 'orders';

-- partition_info is the function behind the view
SELECT partition, log_start, lso, log_end, segments, oldest_producer_pid
  FROM topics.partition_info('orders');

-- add_partitions returns the new total and raises a NOTICE
SELECT topics.add_partitions('events', 2);
SELECT name, partitions FROM topics.topics WHERE name = 'events';
SELECT partition, log_start, lso, log_end, segments
  FROM topics.partitions WHERE topic = 'events' ORDER BY partition;
-- the root table gets the new partitions: produce there and read it back
-- the tree: the root, a group of up to 64 partitions, the partitions'
-- tables, their segments
SELECT level, count(*) AS tables FROM pg_partition_tree('topics_data.events')
 GROUP BY level ORDER BY level;
SELECT * FROM topics.produce('events', 'to 4', partition => 4);
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics_data.events;

-- drop_topic leaves no table and no catalog row behind
SELECT topics.drop_topic('events');
SELECT topics.drop_topic('jobs');
-- a queue's dead-letter topic, made with it, is a topic of its own
SELECT topics.drop_topic('jobs.dead_letter');
SELECT topics.drop_topic('my.topic_name-1');
SELECT topics.drop_topic('orders');
SELECT count(*) AS tables FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace;
SELECT (SELECT count(*) FROM topics.topic) AS topics,
       (SELECT count(*) FROM topics.partition) AS partitions,
       (SELECT count(*) FROM topics.segment) AS segments;
-- and the name can be used again
SELECT * FROM topics.create_topic('orders', 2);
SELECT topic, partition, log_start, lso, log_end, segments
  FROM topics.partitions ORDER BY partition;
SELECT topics.drop_topic('orders');

-- Segment roll-over: 10 offsets per segment
SELECT * FROM topics.create_topic('small', 1, 'stream', '{"segment.messages": 10}');
SELECT count(*) AS produced FROM generate_series(0, 34) i,
       LATERAL topics.produce('small', 'm' || i) p;
SELECT s.partition, s.base_offset, s.end_offset
  FROM topics.segment s
 WHERE s.topic = 'small'
 ORDER BY s.partition, s.base_offset;
SELECT topic, partition, log_start, lso, log_end, segments
  FROM topics.partitions WHERE topic = 'small';
-- the segments are tables under the partition's table: the first one
-- right under it, the next ones in a group of up to 64 segments
SELECT count(*) FILTER (WHERE isleaf) AS segment_tables,
       count(*) FILTER (WHERE NOT isleaf AND level = 1) AS groups,
       pg_catalog.max(level) AS depth
  FROM pg_partition_tree('topics_data."small$0"');
-- plain SQL on the root reads every message, in every segment
SELECT count(*), min(msg_offset), max(msg_offset),
       count(DISTINCT msg_offset) AS distinct_offsets
  FROM topics_data.small;
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics_data.small WHERE msg_offset BETWEEN 8 AND 11
 ORDER BY msg_offset;
SELECT bool_and(convert_from(value, 'UTF8') = 'm' || msg_offset) AS values_match
  FROM topics_data.small;
SELECT topics.drop_topic('small');
SELECT count(*) AS tables FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace;

-- Invalid input: topic names
SELECT * FROM topics.create_topic('');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('.');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('..');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('has space');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('a/b');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('quote"d');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('ünïcode');
\echo :SQLSTATE
SELECT * FROM topics.create_topic(repeat('x', 64));
\echo :SQLSTATE
-- 63 characters is fine
SELECT length(topic), partitions, mode FROM topics.create_topic(repeat('x', 63));
SELECT topics.drop_topic(repeat('x', 63));

-- Invalid input: duplicate topic
SELECT * FROM topics.create_topic('dup');
SELECT * FROM topics.create_topic('dup');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('dup', 4, 'store');
\echo :SQLSTATE
SELECT name, partitions, mode FROM topics.topics;
SELECT topics.drop_topic('dup');

-- Invalid input: partitions and mode
SELECT * FROM topics.create_topic('bad', 0);
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', -1);
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', 1000000);
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', 1, 'log');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', 1, '');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', 1, 'STREAM');
\echo :SQLSTATE

-- Invalid input: config
SELECT * FROM topics.create_topic('bad', 1, 'stream', '{"retention.hours": 1}');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', 1, 'stream', '{"segment.messages": 0}');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', 1, 'stream', '{"segment.messages": -5}');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', 1, 'stream', '{"segment.messages": "ten"}');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', 1, 'stream', '{"segment.messages": 1.5}');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', 1, 'stream', '{"segment.bytes": null}');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', 1, 'stream', '[]');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', 1, 'stream', '"segment.bytes"');
\echo :SQLSTATE

-- Invalid input: NULL arguments
SELECT * FROM topics.create_topic(NULL);
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', NULL);
\echo :SQLSTATE
SELECT * FROM topics.create_topic('bad', 1, NULL);
\echo :SQLSTATE

-- nothing was left behind by the failed calls
SELECT count(*) AS topics FROM topics.topic;
SELECT count(*) AS tables FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace;

-- Invalid input: unknown topic
SELECT topics.drop_topic('nosuch');
\echo :SQLSTATE
SELECT topics.add_partitions('nosuch', 1);
\echo :SQLSTATE
SELECT * FROM topics.partition_info('nosuch');
\echo :SQLSTATE

-- A topic created in the transaction that produces to it gets its next
-- segments in that transaction: no worker could see the topic yet
BEGIN;
SELECT * FROM topics.create_topic('young', 1, 'stream', '{"segment.messages": 3}');
SELECT count(*) FROM topics.produce_batch('young', array(SELECT 'm' || i FROM generate_series(1, 10) i));
SELECT count(*) AS segments FROM topics.segment WHERE topic = 'young';
COMMIT;
SELECT partition, lso, log_end, segments FROM topics.partitions WHERE topic = 'young';
SELECT count(*) FROM topics.fetch('young', 0, 0);
SELECT topics.drop_topic('young');

-- drop_topic in a savepoint that rolls back leaves the topic as it was:
-- its offsets go on, and its readers see every message
SELECT * FROM topics.create_topic('kept');
SELECT * FROM topics.produce('kept', 'before');
BEGIN;
SAVEPOINT s;
SELECT topics.drop_topic('kept');
ROLLBACK TO SAVEPOINT s;
SELECT * FROM topics.produce('kept', 'after the savepoint');
COMMIT;
SELECT * FROM topics.produce('kept', 'after the commit');
SELECT partition, lso, log_end FROM topics.partitions WHERE topic = 'kept';
SELECT msg_offset, convert_from(value, 'UTF8') AS value FROM topics.fetch('kept', 0, 0);
SELECT topics.drop_topic('kept');

-- A topic name as long as a table name: the names of its partition and
-- segment tables are cut, and told apart by a hash of the whole name
SELECT topic FROM topics.create_topic(repeat('x', 62) || 'y', 2,
                                      config => '{"segment.messages": 2}');
SELECT count(*) FROM topics.produce_batch(repeat('x', 62) || 'y',
                                          ARRAY['a', 'b', 'c'], partition => 1);
SELECT relname FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace AND relkind IN ('r', 'p')
 ORDER BY relname COLLATE "C";
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.fetch(repeat('x', 62) || 'y', 1, 0);
SELECT topics.drop_topic(repeat('x', 62) || 'y');

-- A superuser may still change a topic's tables by hand: pg_topics then
-- refuses with a clear error, and drop_topic cleans up whatever is left
SELECT topic FROM topics.create_topic('hurt', 1, config => '{"segment.messages": 4}');
SELECT count(*) FROM topics.produce_batch('hurt', ARRAY['a', 'b']);
ALTER TABLE topics_data.hurt DROP COLUMN headers;
SELECT * FROM topics.produce('hurt', 'x');
\echo :SQLSTATE
SELECT * FROM topics.fetch('hurt', 0, 0);
\echo :SQLSTATE
SELECT topics.drop_topic('hurt');
SELECT topic FROM topics.create_topic('hurt', 1, config => '{"segment.messages": 4}');
ALTER TABLE topics_data.hurt ALTER COLUMN value TYPE text;
SELECT * FROM topics.produce('hurt', 'x');
\echo :SQLSTATE
SELECT topics.drop_topic('hurt');
SELECT topic FROM topics.create_topic('hurt', 2, config => '{"segment.messages": 4}');
DROP TABLE topics_data."hurt$1$0";
-- the partition whose segment is gone is refused, the other one still works
SELECT * FROM topics.produce('hurt', 'x', partition => 1);
\echo :SQLSTATE
SELECT * FROM topics.fetch('hurt', 1, 0);
\echo :SQLSTATE
SELECT * FROM topics.produce('hurt', 'x', partition => 0);
SELECT topics.drop_topic('hurt');
SELECT topic FROM topics.create_topic('hurt', 2, config => '{"segment.messages": 4}');
DROP TABLE topics_data.hurt;
SELECT * FROM topics.produce('hurt', 'x', partition => 0);
\echo :SQLSTATE
SELECT topics.drop_topic('hurt');
SELECT topic FROM topics.create_topic('hurt', 1, config => '{"segment.messages": 4}');
ALTER TABLE topics_data."hurt$0" DETACH PARTITION topics_data."hurt$0$0";
SELECT topics.drop_topic('hurt');
-- a group of segments detached by hand goes too, with its segments
SELECT topic FROM topics.create_topic('hurt', 1, config => '{"segment.messages": 2}');
SELECT count(*) FROM topics.produce_batch('hurt', ARRAY['a', 'b', 'c', 'd', 'e']);
ALTER TABLE topics_data."hurt$0" DETACH PARTITION topics_data."hurt$0$g2";
SELECT topics.drop_topic('hurt');
-- the catalog's segment rows of a partition deleted by hand
SELECT topic FROM topics.create_topic('hurt', 2, config => '{"segment.messages": 4}');
DELETE FROM topics.segment WHERE topic = 'hurt' AND partition = 1;
SELECT * FROM topics.produce('hurt', 'x', partition => 0);
\echo :SQLSTATE
SELECT topics.drop_topic('hurt');
SELECT count(*) AS tables FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace;
SELECT count(*) AS topics FROM topics.topic;

-- Invalid input: add_partitions count
SELECT * FROM topics.create_topic('grow');
SELECT topics.add_partitions('grow', 0);
\echo :SQLSTATE
SELECT topics.add_partitions('grow', -2);
\echo :SQLSTATE
SELECT topics.add_partitions('grow', NULL);
\echo :SQLSTATE
SELECT name, partitions FROM topics.topics;
SELECT topics.drop_topic('grow');
SELECT count(*) AS topics FROM topics.topic;
