--
-- topics.fetch in a query's FROM clause streams its rows through a custom
-- scan (TopicFetch), which reads as the query asks for rows; elsewhere it
-- is a set-returning function.  Both hand out the same rows.
--
-- After each expected error, \echo :SQLSTATE prints its SQLSTATE.
--
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

-- 10 offsets per segment; offsets 15 to 17 are rolled back, so the heap of
-- the second segment holds them between two batches.  45 messages at
-- offsets 0 to 47 in 5 segments.
SELECT * FROM topics.create_topic('fs', 2, 'stream', '{"segment.messages": 10}');
SELECT count(*) FROM topics.produce_batch('fs',
    array(SELECT 'm' || i FROM generate_series(0, 14) i), partition => 0);
BEGIN;
SELECT count(*) FROM topics.produce_batch('fs',
    array(SELECT 'r' || i FROM generate_series(0, 2) i), partition => 0);
ROLLBACK;
SELECT count(*) FROM topics.produce_batch('fs',
    array(SELECT 'm' || i FROM generate_series(15, 44) i), partition => 0);
-- (the segment maker may have added the next one, for offsets 50 to 59)
SELECT count(*) AS segments FROM topics.segment
 WHERE topic = 'fs' AND partition = 0 AND base_offset <= 47;

-- The plans: the custom scan in FROM, projecting and filtering itself; the
-- function scan WITH ORDINALITY, LATERAL, and in a query that locks or
-- modifies rows; the function in a select list
EXPLAIN (COSTS OFF) SELECT * FROM topics.fetch('fs', 0, 0);
EXPLAIN (COSTS OFF, VERBOSE)
SELECT msg_offset, key FROM topics.fetch('fs', 0, 0) WHERE msg_offset % 3 = 0;
EXPLAIN (COSTS OFF) SELECT * FROM topics.fetch('fs', 0, 0) WITH ORDINALITY;
EXPLAIN (COSTS OFF)
SELECT * FROM generate_series(0, 1) p, LATERAL topics.fetch('fs', p, 0);
CREATE TABLE fs_seen (msg_offset bigint);
EXPLAIN (COSTS OFF)
SELECT * FROM fs_seen s, topics.fetch('fs', 0, 0) f
 WHERE s.msg_offset = f.msg_offset FOR UPDATE OF s;
EXPLAIN (COSTS OFF)
UPDATE fs_seen s SET msg_offset = f.msg_offset + 1
  FROM topics.fetch('fs', 0, 0) f WHERE s.msg_offset = f.msg_offset;
EXPLAIN (COSTS OFF) SELECT (topics.fetch('fs', 0, 0)).msg_offset;
EXPLAIN (COSTS OFF) SELECT f FROM topics.fetch('fs', 0, 0) f;
EXPLAIN (COSTS OFF) SELECT msg_offset FROM topics.fetch('fs', 0, 0) f WHERE f IS NOT NULL;

-- The same rows streamed as stored by the function, from every offset,
-- with every max_messages that matters (each call in the subqueries is read
-- again for each o and n: a rescan with new arguments)
SELECT count(*) AS reads,
       count(*) FILTER (WHERE streamed IS DISTINCT FROM stored) AS different,
       sum(cardinality(streamed)) AS rows
  FROM (SELECT o, n,
               (SELECT array_agg(row(f.topic, f.partition, f.msg_offset, f."timestamp", f.key,
                                        f.value, f.headers)::text)
                  FROM topics.fetch('fs', 0, o, n) f) AS streamed,
               (SELECT array_agg(row(t, p, m, ts, k, v, h)::text)
                  FROM topics.fetch('fs', 0, o, n)
                       WITH ORDINALITY AS x(t, p, m, ts, k, v, h, i)) AS stored
          FROM generate_series(0, 48) o, unnest(ARRAY[1, 2, 5, 9, 100]) n) s;
-- and in a serializable transaction, which reads through the index only
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT count(*) FILTER (WHERE streamed IS DISTINCT FROM stored) AS different,
       sum(cardinality(streamed)) AS rows
  FROM (SELECT (SELECT array_agg(row(f.topic, f.partition, f.msg_offset, f."timestamp", f.key,
                                        f.value, f.headers)::text)
                  FROM topics.fetch('fs', 0, o, 9) f) AS streamed,
               (SELECT array_agg(row(t, p, m, ts, k, v, h)::text)
                  FROM topics.fetch('fs', 0, o, 9)
                       WITH ORDINALITY AS x(t, p, m, ts, k, v, h, i)) AS stored
          FROM generate_series(0, 48) o) s;
COMMIT;
-- the rows themselves, and the topic column as passed
SELECT topic, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('fs', 0, 13, 4);
SELECT msg_offset FROM topics.fetch('fs', 0, 0, 1000) WHERE msg_offset % 7 = 0;
SELECT msg_offset FROM topics.fetch('fs', 0, 0, 1000) LIMIT 3;
SELECT count(*) FROM topics.fetch('fs', 1, 0);
SELECT (f).topic, (f).msg_offset, convert_from((f).value, 'UTF8') AS value
  FROM (SELECT f FROM topics.fetch('fs', 0, 44, 2) f) s;

-- A rescan with the same arguments (the inner side of a nested loop, not
-- materialized) hands out the same rows again, as a function scan does
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
EXPLAIN (COSTS OFF)
SELECT g, f.msg_offset FROM generate_series(1, 3) g, topics.fetch('fs', 0, 20, 2) f;
SELECT g, f.msg_offset FROM generate_series(1, 3) g, topics.fetch('fs', 0, 20, 2) f;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;

-- A rescan whose changed parameter is only in the scan's filter is not a
-- new read either: the rows are the same, and a waiting fetch does not
-- wait again (three waits would take 3 s)
SELECT g, (SELECT count(*) FROM topics.fetch('fs', 1, 0, 10, '1 s') f
            WHERE f.msg_offset + g > 0) AS rows
  FROM generate_series(1, 3) g;
SELECT clock_timestamp() - statement_timestamp() < interval '2.5 s' AS waited_once
  FROM (SELECT g, (SELECT count(*) FROM topics.fetch('fs', 1, 0, 10, '1 s') f
                    WHERE f.msg_offset + g > 0)
          FROM generate_series(1, 3) g OFFSET 0) s
 LIMIT 1 OFFSET 2;

-- A generic plan evaluates its parameters at each execution
PREPARE fs_read(bigint, integer) AS
    SELECT array_agg(msg_offset) FROM topics.fetch('fs', 0, $1, $2);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE fs_read(0, 1);
EXECUTE fs_read(3, 4);
EXECUTE fs_read(40, 100);
RESET plan_cache_mode;
DEALLOCATE fs_read;

-- A cursor reads as it is fetched from, below the stable offset of its
-- first FETCH: messages its transaction produces afterwards, into new
-- segments, are not among its rows.  A savepoint rolled back after a FETCH
-- leaves the cursor where that FETCH moved it, as for any cursor.  A SCROLL
-- cursor goes backwards.
BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.fetch('fs', 0, 10, 1000);
FETCH 3 FROM c;
SELECT count(*) FROM topics.produce_batch('fs',
    array(SELECT 'n' || i FROM generate_series(0, 24) i), partition => 0);
SAVEPOINT s;
FETCH 3 FROM c;
ROLLBACK TO s;
FETCH ALL FROM c;
CLOSE c;
DECLARE d SCROLL CURSOR FOR SELECT msg_offset FROM topics.fetch('fs', 0, 40, 5);
FETCH 3 FROM d;
FETCH BACKWARD 2 FROM d;
FETCH ALL FROM d;
COMMIT;
SELECT count(*) AS segments FROM topics.segment
 WHERE topic = 'fs' AND partition = 0 AND base_offset <= 72;

-- An open cursor keeps its topic: dropping it in the same transaction is
-- refused, and the cursor reads on
BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.fetch('fs', 0, 0, 1000);
FETCH 1 FROM c;
SAVEPOINT s;
SELECT topics.drop_topic('fs');
\echo :SQLSTATE
ROLLBACK TO s;
FETCH 2 FROM c;
COMMIT;

-- A read locks a segment when it reaches it: a fetch of one message far
-- behind the stable offset locks one segment, not all it could span.  A
-- segment table dropped by hand before the cursor reaches it is a clear
-- error then.  A TRUNCATE, which would leave it silently empty, is refused
-- to every role.
SELECT * FROM topics.create_topic('fs_drop', 1, 'stream', '{"segment.messages": 10}');
-- (a table never written to loses nothing: parallel pg_restore truncates
-- the tables it made before loading them)
TRUNCATE topics_data."fs_drop$0$0";
SELECT count(*) FROM topics.produce_batch('fs_drop',
    array(SELECT 'd' || i FROM generate_series(0, 14) i));
TRUNCATE topics_data."fs_drop$0$0";
\echo :SQLSTATE
BEGIN;
SELECT msg_offset FROM topics.fetch('fs_drop', 0, 0, 1);
SELECT count(*) AS segments_locked FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
 WHERE l.pid = pg_backend_pid() AND c.relkind = 'r' AND c.relname LIKE 'fs\_drop$0$%';
COMMIT;
BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.fetch('fs_drop', 0, 8, 1000);
FETCH 1 FROM c;
SAVEPOINT s;
TRUNCATE topics_data."fs_drop$0$10";
\echo :SQLSTATE
ROLLBACK TO s;
DROP TABLE topics_data."fs_drop$0$10";
FETCH ALL FROM c;
\echo :SQLSTATE
ROLLBACK;
SELECT count(*) FROM topics.fetch('fs_drop', 0, 0, 1000);
SELECT topics.drop_topic('fs_drop');

-- A large value, stored out of line, read through a cursor after the rows
-- before it were handed out
SELECT * FROM topics.create_topic('fs_big', 1);
SELECT count(*) FROM topics.produce_batch('fs_big', ARRAY[
    convert_to('small', 'UTF8'),
    (SELECT convert_to(string_agg(md5(i::text), ''), 'UTF8') FROM generate_series(1, 5000) i),
    convert_to('after', 'UTF8')]);
BEGIN;
DECLARE c CURSOR FOR
    SELECT msg_offset, octet_length(value) AS bytes, md5(value) FROM topics.fetch('fs_big', 0, 0);
FETCH 1 FROM c;
FETCH ALL FROM c;
COMMIT;
SELECT md5(string_agg(md5(i::text), '')) FROM generate_series(1, 5000) i;

-- A waiting fetch waits in the scan as well
SELECT count(*) AS rows,
       clock_timestamp() - statement_timestamp() >= interval '100 ms' AS waited
  FROM topics.fetch('fs', 1, 0, 10, '100 ms');

-- Compiled expressions see the same rows
SET jit = on;
SET jit_above_cost = 0;
SET jit_inline_above_cost = 0;
SET jit_optimize_above_cost = 0;
SELECT count(*), sum(msg_offset), string_agg(convert_from(value, 'UTF8'), ',')
  FROM topics.fetch('fs', 0, 30, 8) WHERE key IS NULL;
RESET jit;
RESET jit_above_cost;
RESET jit_inline_above_cost;
RESET jit_optimize_above_cost;

-- A SECURITY DEFINER, SET or STRICT clause given to topics.fetch by hand
-- holds only when the function is called: the function scan stays then
ALTER FUNCTION topics.fetch(text, integer, bigint, integer, interval) SECURITY DEFINER;
EXPLAIN (COSTS OFF) SELECT * FROM topics.fetch('fs', 0, 0);
ALTER FUNCTION topics.fetch(text, integer, bigint, integer, interval) SECURITY INVOKER;
ALTER FUNCTION topics.fetch(text, integer, bigint, integer, interval) SET work_mem = '1MB';
EXPLAIN (COSTS OFF) SELECT * FROM topics.fetch('fs', 0, 0);
ALTER FUNCTION topics.fetch(text, integer, bigint, integer, interval) RESET ALL;
ALTER FUNCTION topics.fetch(text, integer, bigint, integer, interval) STRICT;
EXPLAIN (COSTS OFF) SELECT * FROM topics.fetch('fs', 0, 0);
SELECT count(*) FROM topics.fetch((SELECT NULL::text), 0, 0);
ALTER FUNCTION topics.fetch(text, integer, bigint, integer, interval) CALLED ON NULL INPUT;
EXPLAIN (COSTS OFF) SELECT * FROM topics.fetch('fs', 0, 0);

-- The scan checks EXECUTE on topics.fetch, as calling it does
CREATE ROLE regress_fs_reader;
GRANT SELECT ON topics_data.fs TO regress_fs_reader;
SET ROLE regress_fs_reader;
SELECT count(*) FROM topics.fetch('fs', 0, 0);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION topics.fetch(text, integer, bigint, integer, interval) FROM PUBLIC;
SET ROLE regress_fs_reader;
SELECT count(*) FROM topics.fetch('fs', 0, 0);
\echo :SQLSTATE
RESET ROLE;
GRANT EXECUTE ON FUNCTION topics.fetch(text, integer, bigint, integer, interval) TO PUBLIC;
REVOKE SELECT ON topics_data.fs FROM regress_fs_reader;
DROP ROLE regress_fs_reader;

-- Planning a function in FROM looks topics.fetch up by the catalog alone:
-- a role without USAGE on schema topics plans its own queries
CREATE ROLE regress_fs_nousage LOGIN;
REVOKE USAGE ON SCHEMA topics FROM PUBLIC;
SELECT current_user AS fs_admin \gset
\c - regress_fs_nousage
SELECT count(*) FROM generate_series(1, 3);
SELECT count(*) FROM topics.fetch('fs', 0, 0);
\echo :SQLSTATE
\c - :fs_admin
GRANT USAGE ON SCHEMA topics TO PUBLIC;
DROP ROLE regress_fs_nousage;

DROP TABLE fs_seen;
SELECT topics.drop_topic('fs');
SELECT topics.drop_topic('fs_big');
