--
-- A cursor that goes back over rows rolled back to a savepoint must not
-- hand them out again to the transaction that commits without moving the
-- position past them: they would be delivered twice.
--
-- The cursor FETCHes 0-4, then 5-9 in a savepoint that rolls back: the
-- position goes back to 5.  FETCH BACKWARD now hands out 8, 7, 6 (rows of
-- the latest read, at offsets handed out before), which _take lets through
-- as "read again, moves nothing": the transaction commits having received
-- 6-8, with the position at 5, and the next poll hands out 5-9 again.
-- Expected: refused (55000), as the forward FETCH is.
--
-- The same with a WITH HOLD cursor of ten rows: the COMMIT reads the cursor
-- again from the start to keep it, 5-9 pass as "read again", the COMMIT
-- stores position 5, and the held cursor then hands out 5-9, which the next
-- poll hands out again (README: "A WITH HOLD cursor is read to its end at
-- commit, so it takes every row").  Expected: refused (55000) at COMMIT.
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT * FROM topics.create_topic('brk_scroll');
SELECT count(*) FROM topics.produce_batch('brk_scroll',
    array(SELECT 'm' || i FROM generate_series(0, 19) i));
SELECT member FROM topics.join('g', 'brk_scroll', 'm', auto_offset_reset => 'earliest');
SELECT member FROM topics.join('h', 'brk_scroll', 'm', auto_offset_reset => 'earliest');

BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.poll('g', 'brk_scroll', 'm', 1000);
FETCH 5 FROM c;
SAVEPOINT s;
FETCH 5 FROM c;
ROLLBACK TO SAVEPOINT s;
-- refused: 6-8 would reach the committing transaction with the position at 5
FETCH BACKWARD 3 FROM c;
\echo :SQLSTATE
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';

-- WITH HOLD, the poll's ten rows
BEGIN;
DECLARE h CURSOR WITH HOLD FOR
SELECT msg_offset FROM topics.poll('h', 'brk_scroll', 'm', 10);
FETCH 5 FROM h;
SAVEPOINT s;
FETCH 5 FROM h;
ROLLBACK TO SAVEPOINT s;
-- refused: keeping the cursor hands 5-9 out again with the position at 5
COMMIT;
\echo :SQLSTATE
SELECT committed FROM topics.group_lag WHERE group_name = 'h';

SELECT topics.drop_topic('brk_scroll');
