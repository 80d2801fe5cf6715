--
-- Positions: a poll's rows in cursors and savepoints are delivered or
-- refused, never skipped; a position never passes the last stable offset
--
-- After each expected error, \echo :SQLSTATE prints its SQLSTATE.
--
\set VERBOSITY terse
CREATE EXTENSION IF NOT EXISTS pg_topics;

SELECT * FROM topics.create_topic('pos');
SELECT count(*) FROM topics.produce_batch('pos', array(SELECT 'm' || i FROM generate_series(0, 29) i));
SELECT member FROM topics.join('g', 'pos', 'm', auto_offset_reset => 'earliest');

-- A cursor FETCHes 5 rows, then 5 more in a savepoint that rolls back:
-- those 5 cannot come again from the cursor, so the next FETCH is refused
-- rather than going on at 10 and skipping 5 to 9
BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.poll('g', 'pos', 'm', 1000);
FETCH 5 FROM c;
SAVEPOINT s;
FETCH 5 FROM c;
ROLLBACK TO SAVEPOINT s;
FETCH 5 FROM c;
\echo :SQLSTATE
ROLLBACK;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';

-- committing after the rollback to the savepoint keeps the 5 rows taken
-- before it; the next poll starts at 5
BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.poll('g', 'pos', 'm', 1000);
FETCH 5 FROM c;
SAVEPOINT s;
FETCH 5 FROM c;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';
SELECT msg_offset FROM topics.poll('g', 'pos', 'm', 2);
SELECT committed FROM topics.group_lag WHERE group_name = 'g';

-- the first FETCH (which runs the poll and locks the position) inside a
-- savepoint that rolls back: the next FETCH says so, instead of "not
-- polled in this transaction"
BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.poll('g', 'pos', 'm', 1000);
SAVEPOINT s;
FETCH 3 FROM c;
ROLLBACK TO SAVEPOINT s;
FETCH 3 FROM c;
\echo :SQLSTATE
ROLLBACK;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';

-- rolled back to a savepoint taken before the poll, a new poll hands out
-- the same rows again
BEGIN;
SAVEPOINT before_poll;
SELECT msg_offset FROM topics.poll('g', 'pos', 'm', 3);
ROLLBACK TO SAVEPOINT before_poll;
SELECT msg_offset FROM topics.poll('g', 'pos', 'm', 3);
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';

-- a savepoint released keeps what its FETCHes took
BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.poll('g', 'pos', 'm', 1000);
SAVEPOINT s;
FETCH 2 FROM c;
RELEASE SAVEPOINT s;
FETCH 2 FROM c;
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';

-- a seek while a cursor is open: its next row is refused, not handed out
-- from where the seek put the position
BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.poll('g', 'pos', 'm', 1000);
FETCH 2 FROM c;
SELECT topics.seek('g', 'pos', 0, 0);
FETCH 2 FROM c;
\echo :SQLSTATE
ROLLBACK;

-- In subtransactions of PL/pgSQL: an exception block that rolls back after
-- its poll hands the rows out again to the next poll
DO $$
DECLARE
    n bigint;
BEGIN
    BEGIN
        PERFORM count(*) FROM topics.poll('g', 'pos', 'm', 4);
        RAISE EXCEPTION 'work failed';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    SELECT min(msg_offset) INTO n FROM topics.poll('g', 'pos', 'm', 4);
    RAISE NOTICE 'the next poll starts at %', n;
END
$$;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';

--
-- A position never passes the last stable offset
--
-- a prepared transaction holds offsets 30 and 31 open: the LSO stays at 30
BEGIN;
SELECT * FROM topics.produce_batch('pos', ARRAY['open1', 'open2']);
PREPARE TRANSACTION 'pos_open';
SELECT partition, lso, log_end FROM topics.partitions WHERE topic = 'pos';
SELECT topics.seek('g', 'pos', 0, 31);
\echo :SQLSTATE
SELECT topics.commit('g', 'pos', 0, 32);
\echo :SQLSTATE
SELECT topics.commit('g', 'pos', 0, 32, 'm');
\echo :SQLSTATE
-- seeking to the end means to the LSO
SELECT topics.seek('g', 'pos', 0, 30);
SELECT topics.seek('g', 'pos', 0, 'infinity'::timestamptz);
SELECT committed FROM topics.group_lag WHERE group_name = 'g';
COMMIT PREPARED 'pos_open';
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('g', 'pos', 'm');

-- _take, which topics.poll() calls for each row, moves a position only
-- within what this transaction's poll read
SELECT topics.seek('g', 'pos', 0, 25);
BEGIN;
SELECT count(*) FROM topics.poll('g', 'pos', 'm', 2);
SELECT topics_internal._take('g', 'pos', 0, 1000000000000);
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT count(*) FROM topics.poll('g', 'pos', 'm', 2);
SELECT topics_internal._take('g', 'pos', 0, 32);
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT count(*) FROM topics.poll('g', 'pos', 'm', 2);
SELECT topics_internal._take('g', 'pos', 0, 3);
\echo :SQLSTATE
ROLLBACK;
-- without a poll it moves nothing
SELECT topics_internal._take('g', 'pos', 0, 10);
\echo :SQLSTATE
BEGIN;
SELECT topics.seek('g', 'pos', 0, 20);
SELECT topics_internal._take('g', 'pos', 0, 25);
\echo :SQLSTATE
ROLLBACK;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';

-- the internal functions are out of the user's schema
SELECT count(*) AS internal_in_topics FROM pg_proc
 WHERE pronamespace = 'topics'::regnamespace AND proname LIKE '\_%';

SELECT topics.drop_topic('pos');
