--
-- A cursor's rows rolled back to a savepoint are never skipped, also when
-- another poll of the same transaction reads the partition in between.
--
-- The cursor FETCHes 0-4, then 5-9 in a savepoint that rolls back: the
-- position goes back to 5.  A new poll hands out 5.  The cursor's next
-- FETCH would hand out 10-14: it must be refused (55000), as it is without
-- the poll in between, since 6-9 were never delivered by a transaction
-- that commits (accepting it would have COMMIT store position 15, and
-- 6-9 would be lost).
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT * FROM topics.create_topic('brk_repoll');
SELECT count(*) FROM topics.produce_batch('brk_repoll',
    array(SELECT 'm' || i FROM generate_series(0, 19) i));
SELECT member FROM topics.join('g', 'brk_repoll', 'm', auto_offset_reset => 'earliest');

BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.poll('g', 'brk_repoll', 'm', 1000);
FETCH 5 FROM c;
SAVEPOINT s;
FETCH 5 FROM c;
ROLLBACK TO SAVEPOINT s;
SELECT msg_offset FROM topics.poll('g', 'brk_repoll', 'm', 1);
-- refused: handing out 10-14 now would skip 6-9
FETCH 5 FROM c;
\echo :SQLSTATE
COMMIT;

-- nothing was skipped: the next poll starts where a committed transaction
-- last took a row (here nothing committed), and every offset comes once
SELECT committed FROM topics.group_lag WHERE group_name = 'g';
BEGIN;
SELECT min(msg_offset), max(msg_offset), count(*)
  FROM topics.poll('g', 'brk_repoll', 'm', 1000);
ROLLBACK;

-- The same when the cursor's first FETCH (which ran its poll) was in the
-- savepoint: the position's lock went with the rollback, so the next FETCH
-- is refused ("the poll ... was rolled back"), unless a new poll claims the
-- partition again in between; then the cursor hands out 3-5 after the new
-- poll's 0, and 1-2 are lost.
BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.poll('g', 'brk_repoll', 'm', 1000);
SAVEPOINT s;
FETCH 3 FROM c;
ROLLBACK TO SAVEPOINT s;
SELECT msg_offset FROM topics.poll('g', 'brk_repoll', 'm', 1);
FETCH 3 FROM c;
\echo :SQLSTATE
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';
SELECT min(msg_offset), max(msg_offset), count(*)
  FROM topics.poll('g', 'brk_repoll', 'm', 1000);

SELECT topics.drop_topic('brk_repoll');
