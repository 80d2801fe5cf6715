--
-- Privileges: who may create, drop, produce to and fetch from a topic
--
-- After each expected error, \echo :SQLSTATE prints its SQLSTATE.
--
\set VERBOSITY terse

CREATE ROLE regress_owner;
CREATE ROLE regress_producer;
CREATE ROLE regress_reader;
CREATE ROLE regress_nobody;

-- Creating a topic needs CREATE on schema topics_data
SET ROLE regress_owner;
SELECT * FROM topics.create_topic('priv');
\echo :SQLSTATE
RESET ROLE;
GRANT CREATE ON SCHEMA topics_data TO regress_owner;
SET ROLE regress_owner;
SELECT * FROM topics.create_topic('priv', 2, 'stream', '{"segment.messages": 4}');
RESET ROLE;
-- the creator owns the topic and all its tables
SELECT name, owner FROM topics.topics;
SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace;

-- the owner produces and fetches; a new segment, made by the segment
-- worker, is the owner's as well (offsets 0 to 5: the producer waits for
-- segment [4, 8) and has not reached its middle, so no worker is left
-- running)
SET ROLE regress_owner;
SELECT * FROM topics.produce('priv', 'by owner', partition => 0);
SELECT count(*) FROM topics.produce_batch('priv', ARRAY['1', '2', '3', '4', '5'],
                                          partition => 0);
SELECT msg_offset, convert_from(value, 'UTF8') AS value FROM topics.fetch('priv', 0, 0);
SELECT topics.offset_for_time('priv', 0, '-infinity');
RESET ROLE;
SELECT count(*) AS segments FROM topics.segment;
SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace;

-- Without privileges: no produce, fetch, drop or add_partitions
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
SELECT * FROM topics.create_topic('nobody');
\echo :SQLSTATE
SELECT count(*) FROM topics_data.priv;
\echo :SQLSTATE
-- but everyone may look at the catalog and the monitoring views
SELECT name, owner FROM topics.topics;
SELECT topic, partition, lso, log_end FROM topics.partitions ORDER BY partition;
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
RESET ROLE;

-- SELECT lets regress_reader fetch, but not produce
SET ROLE regress_reader;
SELECT * FROM topics.fetch('priv', 1, 0);
\echo :SQLSTATE
RESET ROLE;
SET ROLE regress_owner;
GRANT SELECT ON topics_data.priv TO regress_reader;
RESET ROLE;
SET ROLE regress_reader;
SELECT msg_offset, convert_from(key, 'UTF8') AS key,
       convert_from(value, 'UTF8') AS value
  FROM topics.fetch('priv', 1, 0);
SELECT topics.offset_for_time('priv', 1, '-infinity');
-- plain SQL on the root table too, across segments
SELECT partition, count(*) FROM topics_data.priv GROUP BY partition ORDER BY partition;
SELECT * FROM topics.produce('priv', 'x', partition => 1);
\echo :SQLSTATE
SELECT * FROM topics.produce_batch('priv', ARRAY['x']);
\echo :SQLSTATE
SELECT topics.drop_topic('priv');
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
SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace;
SELECT topics.drop_topic('priv');
SELECT count(*) AS topics FROM topics.topic;
RESET ROLE;

-- a superuser may drop another role's topic
SET ROLE regress_owner;
SELECT * FROM topics.create_topic('priv2');
RESET ROLE;
SELECT topics.drop_topic('priv2');
SELECT count(*) AS tables FROM pg_class
 WHERE relnamespace = 'topics_data'::regnamespace;

-- once CREATE is revoked, the role cannot create topics again
REVOKE CREATE ON SCHEMA topics_data FROM regress_owner;
SET ROLE regress_owner;
SELECT * FROM topics.create_topic('priv3');
\echo :SQLSTATE
RESET ROLE;

DROP ROLE regress_owner;
DROP ROLE regress_producer;
DROP ROLE regress_reader;
DROP ROLE regress_nobody;
SELECT count(*) AS topics FROM topics.topic;
