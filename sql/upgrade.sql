--
-- Upgrades: the extension installed at its oldest version and updated step
-- by step, with its objects after each step; a fresh install ends with the
-- same objects, and DROP EXTENSION leaves nothing behind.  (The data of an
-- upgraded installation is tested by test/t/009_upgrade.pl, which runs the
-- library of each version.)
--
\set VERBOSITY terse
DROP EXTENSION IF EXISTS pg_topics CASCADE;
SELECT nspname FROM pg_namespace WHERE nspname LIKE 'topics%';

CREATE VIEW extension_objects AS
SELECT pg_describe_object(d.classid, d.objid, 0) AS object
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND e.extname = 'pg_topics';

CREATE EXTENSION pg_topics VERSION '0.1';
SELECT extversion FROM pg_extension WHERE extname = 'pg_topics';
SELECT object FROM extension_objects ORDER BY object COLLATE "C";

ALTER EXTENSION pg_topics UPDATE TO '0.2';
SELECT extversion FROM pg_extension WHERE extname = 'pg_topics';
SELECT object FROM extension_objects ORDER BY object COLLATE "C";
CREATE TABLE objects_0_2 AS SELECT object FROM extension_objects;

-- 0.3 adds columns and functions, and min_messages to poll
ALTER EXTENSION pg_topics UPDATE TO '0.3';
SELECT extversion FROM pg_extension WHERE extname = 'pg_topics';
(SELECT object FROM objects_0_2 EXCEPT SELECT object FROM extension_objects)
UNION ALL
(SELECT object FROM extension_objects EXCEPT SELECT object FROM objects_0_2);
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'topics.partition'::regclass AND attnum > 0 AND NOT attisdropped
 ORDER BY attnum;
CREATE TABLE objects_0_3 AS SELECT object FROM extension_objects;

-- 0.4 adds queue mode: the delivery state's tables, the queue calls, and
-- topics.queue_stats
ALTER EXTENSION pg_topics UPDATE TO '0.4';
SELECT extversion FROM pg_extension WHERE extname = 'pg_topics';
SELECT object FROM
  ((SELECT object FROM objects_0_3 EXCEPT SELECT object FROM extension_objects)
   UNION ALL
   (SELECT object FROM extension_objects EXCEPT SELECT object FROM objects_0_3)) d
 ORDER BY object COLLATE "C";
CREATE TABLE objects_0_4 AS SELECT object FROM extension_objects;

-- 0.5 adds retention: alter_topic, delete_records, run_maintenance, the
-- maintenance log, topics.topics.settings and segment.max_timestamp
ALTER EXTENSION pg_topics UPDATE TO '0.5';
SELECT extversion FROM pg_extension WHERE extname = 'pg_topics';
SELECT object FROM
  ((SELECT object FROM objects_0_4 EXCEPT SELECT object FROM extension_objects)
   UNION ALL
   (SELECT object FROM extension_objects EXCEPT SELECT object FROM objects_0_4)) d
 ORDER BY object COLLATE "C";
SELECT attname FROM pg_attribute
 WHERE attrelid = 'topics.segment'::regclass AND attnum > 0 AND NOT attisdropped
 ORDER BY attnum;
SELECT attname FROM pg_attribute
 WHERE attrelid = 'topics.topics'::regclass AND attnum > 0 AND NOT attisdropped
 ORDER BY attnum;
-- the tables pg_dump dumps the data of
SELECT config_table FROM
  (SELECT unnest(extconfig)::regclass AS config_table
     FROM pg_extension WHERE extname = 'pg_topics') c
 ORDER BY config_table::text COLLATE "C";
CREATE TABLE objects_0_5 AS SELECT object FROM extension_objects;

-- 0.6 adds change data capture: capture, uncapture, snapshot, the
-- captured tables' catalog and view, the trigger function and the event
-- triggers that follow DDL on captured tables
ALTER EXTENSION pg_topics UPDATE TO '0.6';
SELECT extversion FROM pg_extension WHERE extname = 'pg_topics';
SELECT object FROM
  ((SELECT object FROM objects_0_5 EXCEPT SELECT object FROM extension_objects)
   UNION ALL
   (SELECT object FROM extension_objects EXCEPT SELECT object FROM objects_0_5)) d
 ORDER BY object COLLATE "C";
SELECT config_table FROM
  (SELECT unnest(extconfig)::regclass AS config_table
     FROM pg_extension WHERE extname = 'pg_topics') c
 WHERE config_table::text = 'topics.capture';
CREATE TABLE upgraded AS SELECT object FROM extension_objects;

-- DROP EXTENSION takes its schemas with it, topics too
DROP EXTENSION pg_topics;
SELECT nspname FROM pg_namespace WHERE nspname LIKE 'topics%';

-- a fresh install has the objects of an upgraded one
CREATE EXTENSION pg_topics;
SELECT extversion FROM pg_extension WHERE extname = 'pg_topics';
(SELECT object FROM upgraded EXCEPT SELECT object FROM extension_objects)
UNION ALL
(SELECT object FROM extension_objects EXCEPT SELECT object FROM upgraded);

-- with topics in it, DROP EXTENSION needs CASCADE, and then leaves no
-- table, schema or shared state behind
SELECT topic FROM topics.create_topic('gone', 2);
SELECT * FROM topics.produce('gone', 'x', partition => 0);
DROP EXTENSION pg_topics;
DROP EXTENSION pg_topics CASCADE;
SELECT nspname FROM pg_namespace WHERE nspname LIKE 'topics%';
CREATE EXTENSION pg_topics;
SELECT topic FROM topics.create_topic('gone', 2);
SELECT * FROM topics.produce('gone', 'x', partition => 0);
SELECT partition, lso, log_end FROM topics.partitions ORDER BY partition;
SELECT topics.drop_topic('gone');

DROP TABLE upgraded, objects_0_2, objects_0_3, objects_0_4, objects_0_5;
DROP VIEW extension_objects;
