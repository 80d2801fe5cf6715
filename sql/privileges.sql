--
-- Privileges: who may create, drop, produce to, read and change a topic,
-- and who may use a consumer group
--
-- After each expected error, \echo :SQLSTATE prints its SQLSTATE.
--
\set VERBOSITY terse

CREATE ROLE regress_owner;
CREATE ROLE regress_producer;
CREATE ROLE regress_reader;
CREATE ROLE regress_reader2;
CREATE ROLE regress_nobody;
CREATE ROLE regress_app;
GRANT regress_app TO regress_reader2;

-- Creating a topic needs EXECUTE on topics.create_topic
SET ROLE regress_owner;
SELECT * FROM topics.create_topic('priv');
\echo :SQLSTATE
RESET ROLE;
GRANT EXECUTE ON FUNCTION topics.create_topic(text, integer, text, jsonb) TO regress_owner;
SET ROLE regress_owner;
SELECT * FROM topics.create_topic('priv', 2, 'stream', '{"segment.messages": 4}');
RESET ROLE;
-- the creator owns the topic; its tables belong to the owner of schema
-- topics_data, and the creator may read, produce and grant both on
SELECT name, owner FROM topics.topics;
SELECT DISTINCT pg_get_userbyid(relowner) = (SELECT pg_get_userbyid(nspowner)
                                               FROM pg_namespace
                                              WHERE nspname = 'topics_data') AS data_owner
  FROM pg_class WHERE relnamespace = 'topics_data'::regnamespace;
SELECT privilege_type, is_grantable FROM information_schema.role_table_grants
 WHERE table_schema = 'topics_data' AND table_name = 'priv'
   AND grantee = 'regress_owner'
 ORDER BY privilege_type COLLATE "C";

-- Nobody but its owner creates tables in topics_data, so no role can take
-- the name of a topic's table before the topic does
SET ROLE regress_owner;
CREATE TABLE topics_data."later$0" (x int);
\echo :SQLSTATE
RESET ROLE;

-- the owner produces and fetches; a new segment, made by the segment
-- worker, belongs to the owner of topics_data as well (offsets 0 to 5: the
-- producer waits for segment [4, 8) and has not reached its middle, so no
-- worker is left running)
SET ROLE regress_owner;
SELECT * FROM topics.produce('priv', 'by owner', partition => 0);
SELECT count(*) FROM topics.produce_batch('priv', ARRAY['1', '2', '3', '4', '5'],
                                          partition => 0);
SELECT msg_offset, convert_from(value, 'UTF8') AS value FROM topics.fetch('priv', 0, 0);
SELECT topics.offset_for_time('priv', 0, '-infinity');
RESET ROLE;
SELECT count(*) AS segments FROM topics.segment WHERE topic = 'priv';
SELECT count(DISTINCT relowner) AS owners FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace;

-- Without privileges: no produce, fetch, drop, add_partitions or
-- partition_info, and nothing of the topic in the views
SET ROLE regress_nobody;
SELECT * FROM topics.produce('priv', 'x');
\echo :SQLSTATE
SELECT * FROM topics.produce('priv', 'x', partition => 1);
\echo :SQLSTATE
SELECT * FROM topics.produce_batch('priv', ARRAY['x']);
\echo :SQLSTATE
SELECT * FROM topics.fetch('priv', 0, 0);
\echo :SQLSTATE
SELECT topics.offset_for_time('priv', 0, '-infinity');
\echo :SQLSTATE
SELECT topics.drop_topic('priv');
\echo :SQLSTATE
SELECT topics.add_partitions('priv', 1);
\echo :SQLSTATE
SELECT * FROM topics.partition_info('priv');
\echo :SQLSTATE
SELECT * FROM topics.create_topic('nobody');
\echo :SQLSTATE
SELECT count(*) FROM topics_data.priv;
\echo :SQLSTATE
SELECT count(*) FROM topics.topic;
\echo :SQLSTATE
SELECT (SELECT count(*) FROM topics.topics) AS topics,
       (SELECT count(*) FROM topics.partitions) AS partitions,
       (SELECT count(*) FROM topics.segments) AS segments;
RESET ROLE;

-- INSERT lets regress_producer produce, but not fetch
SET ROLE regress_producer;
SELECT * FROM topics.produce('priv', 'x', partition => 1);
\echo :SQLSTATE
RESET ROLE;
SET ROLE regress_owner;
GRANT INSERT ON topics_data.priv TO regress_producer;
RESET ROLE;
SET ROLE regress_producer;
-- (offsets 0 and 1 only: passing the middle of segment [0, 4) would start a
-- segment worker in the background, which drop_topic below must not race)
SELECT * FROM topics.produce('priv', 'by producer'::text, 'k'::text, partition => 1);
SELECT * FROM topics.produce_batch('priv', ARRAY['b1'], partition => 1);
SELECT * FROM topics.fetch('priv', 1, 0);
\echo :SQLSTATE
SELECT topics.offset_for_time('priv', 1, '-infinity');
\echo :SQLSTATE
SELECT topics.drop_topic('priv');
\echo :SQLSTATE
SELECT topics.add_partitions('priv', 1);
\echo :SQLSTATE
-- a producer sees the topic, not its partitions
SELECT name FROM topics.topics;
SELECT count(*) FROM topics.partitions;
RESET ROLE;

-- SELECT lets regress_reader fetch, but not produce
SET ROLE regress_reader;
SELECT * FROM topics.fetch('priv', 1, 0);
\echo :SQLSTATE
RESET ROLE;
SET ROLE regress_owner;
-- (regress_reader2 reads through its membership of regress_app)
GRANT SELECT ON topics_data.priv TO regress_reader, regress_app;
RESET ROLE;
SET ROLE regress_reader;
SELECT msg_offset, convert_from(key, 'UTF8') AS key,
       convert_from(value, 'UTF8') AS value
  FROM topics.fetch('priv', 1, 0);
SELECT topics.offset_for_time('priv', 1, '-infinity');
SELECT partition, lso, log_end FROM topics.partition_info('priv') ORDER BY partition;
SELECT topic, partition, lso FROM topics.partitions ORDER BY partition;
-- plain SQL on the root table too, across segments
SELECT partition, count(*) FROM topics_data.priv GROUP BY partition ORDER BY partition;
SELECT * FROM topics.produce('priv', 'x', partition => 1);
\echo :SQLSTATE
SELECT * FROM topics.produce_batch('priv', ARRAY['x']);
\echo :SQLSTATE
SELECT topics.drop_topic('priv');
\echo :SQLSTATE
RESET ROLE;

--
-- Messages are written by produce only: INSERT on the topic's table lets a
-- role produce, not write rows of its own (with offsets of its choosing)
--
SET ROLE regress_producer;
INSERT INTO topics_data.priv (partition, msg_offset, value) VALUES (1, 1000, 'forged');
\echo :SQLSTATE
COPY topics_data.priv (partition, msg_offset, value) FROM stdin;
1	1001	forged
\.
\echo :SQLSTATE
INSERT INTO topics_data."priv$1$0" (partition, msg_offset, value) VALUES (1, 3, 'forged');
\echo :SQLSTATE
UPDATE topics_data.priv SET msg_offset = 1000;
\echo :SQLSTATE
DELETE FROM topics_data.priv;
\echo :SQLSTATE
TRUNCATE topics_data.priv;
\echo :SQLSTATE
RESET ROLE;
SET ROLE regress_owner;
INSERT INTO topics_data.priv (partition, msg_offset, value) VALUES (1, 1000, 'forged');
\echo :SQLSTATE
RESET ROLE;
-- produce keeps working, with offsets that follow
SET ROLE regress_producer;
SELECT * FROM topics.produce('priv', 'after', partition => 1);
RESET ROLE;
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics_data.priv WHERE partition = 1 ORDER BY msg_offset;

--
-- A topic's tables keep their shape: its owner cannot change them
--
SET ROLE regress_owner;
ALTER TABLE topics_data.priv DROP COLUMN value;
\echo :SQLSTATE
ALTER TABLE topics_data.priv ALTER COLUMN key TYPE text;
\echo :SQLSTATE
ALTER TABLE topics_data."priv$0" DETACH PARTITION topics_data."priv$0$0";
\echo :SQLSTATE
ALTER TABLE topics_data.priv RENAME TO other;
\echo :SQLSTATE
ALTER TABLE topics_data.priv OWNER TO regress_owner;
\echo :SQLSTATE
ALTER TABLE topics_data.priv DISABLE TRIGGER ALL;
\echo :SQLSTATE
DROP TABLE topics_data."priv$0$0";
\echo :SQLSTATE
DROP TABLE topics_data.priv;
\echo :SQLSTATE
DROP TRIGGER refuse_direct_write ON topics_data.priv;
\echo :SQLSTATE
TRUNCATE topics_data."priv$0$0";
\echo :SQLSTATE
CREATE INDEX ON topics_data."priv$0$0" (key);
\echo :SQLSTATE
CREATE TRIGGER t BEFORE INSERT ON topics_data.priv
    FOR EACH STATEMENT EXECUTE FUNCTION topics_internal.refuse_direct_write();
\echo :SQLSTATE
CREATE RULE r AS ON INSERT TO topics_data.priv DO INSTEAD NOTHING;
\echo :SQLSTATE
CREATE TABLE topics_data.extra PARTITION OF topics_data.priv FOR VALUES IN (7);
\echo :SQLSTATE
ALTER TABLE topics_data.priv SET SCHEMA public;
\echo :SQLSTATE
-- but grants what it holds to other roles
GRANT SELECT ON topics_data.priv TO regress_nobody;
REVOKE SELECT ON topics_data.priv FROM regress_nobody;
RESET ROLE;
-- everything still works
SET ROLE regress_producer;
SELECT * FROM topics.produce_batch('priv', ARRAY['p0'], partition => 0);
RESET ROLE;
SET ROLE regress_reader;
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('priv', 0, 0) ORDER BY msg_offset;
RESET ROLE;

--
-- Consumer groups belong to the role that created them: reading the topic
-- is not enough to use another application's group
--
SET ROLE regress_reader;
SELECT member, generation, partitions
  FROM topics.join('app', 'priv', 'r1', auto_offset_reset => 'earliest');
SELECT count(*) FROM topics.poll('app', 'priv', 'r1');
RESET ROLE;
SELECT group_name, topic, owner FROM topics.groups;
SET ROLE regress_reader2;
-- regress_reader2 may read the topic, not use regress_reader's group
SELECT * FROM topics.join('app', 'priv', 'thief');
\echo :SQLSTATE
SELECT * FROM topics.poll('app', 'priv', 'r1');
\echo :SQLSTATE
SELECT topics.commit('app', 'priv', 0, 0);
\echo :SQLSTATE
SELECT topics.seek('app', 'priv', 0, 0);
\echo :SQLSTATE
SELECT topics.seek('app', 'priv', 0, now());
\echo :SQLSTATE
SELECT * FROM topics.heartbeat('app', 'priv', 'r1');
\echo :SQLSTATE
SELECT topics.leave('app', 'priv', 'r1');
\echo :SQLSTATE
-- nor see it
SELECT count(*) FROM topics.groups;
SELECT count(*) FROM topics.group_members;
SELECT count(*) FROM topics.group_lag;
-- a group of its own role works, and a role that has the privileges of a
-- group's owner may use the group
SELECT member FROM topics.join('app2', 'priv', 'm', auto_offset_reset => 'earliest');
SET ROLE regress_app;
SELECT member FROM topics.join('shared', 'priv', 'a', auto_offset_reset => 'earliest');
RESET ROLE;
SET ROLE regress_reader2;
SELECT member, partitions FROM topics.join('shared', 'priv', 'b');
SELECT topics.commit('shared', 'priv', 1, 1);
SELECT group_name, owner, members FROM topics.groups ORDER BY group_name COLLATE "C";
RESET ROLE;
SET ROLE regress_reader;
SELECT * FROM topics.join('shared', 'priv', 'c');
\echo :SQLSTATE
RESET ROLE;
-- the catalog's group tables are not readable, nor writable
SET ROLE regress_reader;
SELECT count(*) FROM topics.committed_offset;
\echo :SQLSTATE
UPDATE topics.committed_offset SET committed = 0;
\echo :SQLSTATE
RESET ROLE;

-- privileges are checked when the role changes within a session, after
-- the topic was cached
SET ROLE regress_owner;
REVOKE INSERT ON topics_data.priv FROM regress_producer;
RESET ROLE;
SET ROLE regress_producer;
SELECT * FROM topics.produce('priv', 'x', partition => 1);
\echo :SQLSTATE
RESET ROLE;

-- only the owner (or a superuser) adds partitions and drops the topic
SET ROLE regress_owner;
SELECT topics.add_partitions('priv', 1);
SELECT name, partitions, owner FROM topics.topics;
SELECT topics.drop_topic('priv');
SELECT count(*) AS topics FROM topics.topics;
RESET ROLE;
SELECT count(*) AS topics FROM topics.topic;
SELECT count(*) AS groups FROM topics.consumer_group;

-- a superuser may drop another role's topic
SET ROLE regress_owner;
SELECT * FROM topics.create_topic('priv2');
RESET ROLE;
SELECT topics.drop_topic('priv2');
SELECT count(*) AS tables FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace;

-- once EXECUTE is revoked, the role cannot create topics again
REVOKE EXECUTE ON FUNCTION topics.create_topic(text, integer, text, jsonb) FROM regress_owner;
SET ROLE regress_owner;
SELECT * FROM topics.create_topic('priv3');
\echo :SQLSTATE
RESET ROLE;

DROP ROLE regress_owner;
DROP ROLE regress_producer;
DROP ROLE regress_reader;
DROP ROLE regress_reader2;
DROP ROLE regress_nobody;
DROP ROLE regress_app;
SELECT count(*) AS topics FROM topics.topic;
