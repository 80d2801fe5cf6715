--
-- Errors: the SQLSTATE map of the README, one row per case
--
-- sqlstate_of runs a statement and returns its SQLSTATE and message, or
-- 'ok' when it succeeds.
--
-- Not covered here, as they need another server setup (TAP tests):
--   55000 object_not_in_prerequisite_state: library not in
--         shared_preload_libraries;
--   53000 insufficient_resources: no background worker slot free for a new
--         segment, or shared memory full.
--
\set VERBOSITY terse

CREATE FUNCTION sqlstate_of(sql text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

SELECT * FROM topics.create_topic('e', 2);
SELECT member FROM topics.join('eg', 'e', 'm');
CREATE ROLE regress_errors;
CREATE ROLE regress_errors_reader;
GRANT SELECT, INSERT ON topics_data.e TO regress_errors_reader;

SELECT n, "case", sqlstate_of(sql) AS result
  FROM (VALUES
    (1, 'unknown topic', $$SELECT * FROM topics.produce('nosuch', 'x')$$),
    (2, 'topic already exists', $$SELECT * FROM topics.create_topic('e')$$),
    (3, 'bad argument: partition count', $$SELECT * FROM topics.create_topic('e2', 0)$$),
    (4, 'bad argument: partition', $$SELECT * FROM topics.produce('e', 'x', partition => 2)$$),
    (5, 'bad argument: offset', $$SELECT * FROM topics.fetch('e', 0, -1)$$),
    (6, 'bad argument: mode', $$SELECT * FROM topics.create_topic('e2', 1, 'log')$$),
    (7, 'bad argument: config', $$SELECT * FROM topics.create_topic('e2', 1, 'stream', '{"x": 1}')$$),
    (8, 'bad argument: wait', $$SELECT * FROM topics.fetch('e', 0, 0, 1, '-1 s')$$),
    (9, 'bad argument: max_messages below 1', $$SELECT * FROM topics.fetch('e', 0, 0, 0)$$),
    (10, 'bad argument: message too large', $$SELECT * FROM topics.produce('e', repeat('x', 1048577))$$),
    (11, 'bad argument: headers not an object', $$SELECT * FROM topics.produce('e', 'x', headers => '[]')$$),
    (12, 'bad argument: array lengths', $$SELECT * FROM topics.produce_batch('e', ARRAY['x'], ARRAY['k', 'l'])$$),
    (13, 'number out of range: max_messages above 1000000', $$SELECT * FROM topics.fetch('e', 0, 0, 1000001)$$),
    (14, 'a required argument is NULL', $$SELECT * FROM topics.produce(NULL, 'x')$$),
    (15, 'bad topic name', $$SELECT * FROM topics.create_topic('a b')$$),
    (16, 'topic name too long', $$SELECT * FROM topics.create_topic(repeat('x', 64))$$),
    (21, 'bad argument: wait below a millisecond', $$SELECT * FROM topics.fetch('e', 0, 0, 1, '-0.5 ms')$$),
    (22, 'bad argument: wait of negative days', $$SELECT * FROM topics.fetch('e', 0, 0, 1, '1 s -1 day')$$),
    (23, 'a required argument is NULL: values', $$SELECT * FROM topics.produce_batch('e', NULL::text[], ARRAY['k'])$$),
    (24, 'a required argument is NULL: bytea values', $$SELECT * FROM topics.produce_batch('e', NULL::bytea[])$$)
  ) v(n, "case", sql)
 ORDER BY n;

-- privilege missing: create, produce, fetch, drop
SET ROLE regress_errors;
SELECT n, "case", sqlstate_of(sql) AS result
  FROM (VALUES
    (17, 'privilege missing: create', $$SELECT * FROM topics.create_topic('e2')$$),
    (18, 'privilege missing: produce', $$SELECT * FROM topics.produce('e', 'x')$$),
    (19, 'privilege missing: fetch', $$SELECT * FROM topics.fetch('e', 0, 0)$$),
    (20, 'privilege missing: drop', $$SELECT topics.drop_topic('e')$$),
    (27, 'privilege missing: DDL on a topic table', $$ALTER TABLE topics_data.e DROP COLUMN key$$)
  ) v(n, "case", sql)
 ORDER BY n;
RESET ROLE;
SET ROLE regress_errors_reader;
SELECT sqlstate_of($$SELECT * FROM topics.join('eg', 'e', 'm')$$)
    AS "26: privilege missing: group of another role";
SELECT sqlstate_of($$INSERT INTO topics_data.e (partition, msg_offset) VALUES (0, 0)$$)
    AS "25: privilege missing: direct insert (with INSERT granted)";
-- when another role's member was last seen is that role's to know
SELECT sqlstate_of($$SELECT topics_internal._last_seen('e', 'eg', 'm')$$)
    AS "28: privilege missing: last seen, group of another role";
RESET ROLE;
SET ROLE regress_errors;
SELECT sqlstate_of($$SELECT topics_internal._last_seen('e', 'eg', 'm')$$)
    AS "29: privilege missing: last seen, topic not readable";
RESET ROLE;

-- group and member names have at most 255 bytes, as in Kafka
SELECT left(sqlstate_of(format($$SELECT * FROM topics.join(%L, 'e', 'm')$$,
                               repeat('g', 256))), 5) AS "30: group name too long",
       left(sqlstate_of(format($$SELECT * FROM topics.join('eg', 'e', %L)$$,
                               repeat('m', 256))), 5) AS "31: member name too long",
       left(sqlstate_of($$SELECT * FROM topics.join('', 'e', 'm')$$), 5)
           AS "32: empty group name";
SELECT left(member, 3), length(member)
  FROM topics.join(repeat('g', 255), 'e', repeat('m', 255));
SELECT topics.leave(repeat('g', 255), 'e', repeat('m', 255));

-- A number too large for an integer argument fails in core, before the
-- call: at function lookup for an uncast literal, or at the cast
SELECT sqlstate_of($$SELECT * FROM topics.fetch('e', 0, 0, 2147483648)$$);
SELECT sqlstate_of($$SELECT * FROM topics.fetch('e', 0, 0, 2147483648::bigint::integer)$$);

-- nothing above changed a topic
SELECT topic, partition, lso, log_end FROM topics.partitions ORDER BY partition;
SELECT name FROM topics.topics ORDER BY name COLLATE "C";

DROP ROLE regress_errors;
REVOKE SELECT, INSERT ON topics_data.e FROM regress_errors_reader;
DROP ROLE regress_errors_reader;
SELECT topics.drop_topic('e');
DROP FUNCTION sqlstate_of(text);
SELECT count(*) AS topics FROM topics.topic;
