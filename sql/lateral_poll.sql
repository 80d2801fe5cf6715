--
-- A poll whose group name is not a constant (LATERAL over a table of
-- group names) gets the same protection of its cursor's rows as one whose
-- group is a constant.
--
-- topics_internal._take learns the read of its rows only when its group
-- and topic arguments are constants (consume.c, TakeSite); otherwise it
-- passes read 0 to positions_take, which then skips both read checks.  So
-- cursor_repoll's case skips rows again: the cursor's first FETCH (0-2)
-- rolls back with its savepoint, a new poll hands out 0, and the cursor's
-- next FETCH hands out 3-5: COMMIT stores position 6, and 1-2 are never
-- delivered.  Expected: the FETCH is refused (55000), and nothing skipped.
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT * FROM topics.create_topic('brk_lateral');
SELECT count(*) FROM topics.produce_batch('brk_lateral',
    array(SELECT 'm' || i FROM generate_series(0, 19) i));
SELECT member FROM topics.join('g', 'brk_lateral', 'm', auto_offset_reset => 'earliest');
CREATE TABLE brk_lateral_groups (g text);
INSERT INTO brk_lateral_groups VALUES ('g');

BEGIN;
DECLARE c CURSOR FOR
SELECT p.msg_offset
  FROM brk_lateral_groups l,
       LATERAL topics.poll(l.g, 'brk_lateral', 'm', 1000) p;
SAVEPOINT s;
FETCH 3 FROM c;
ROLLBACK TO SAVEPOINT s;
SELECT msg_offset FROM topics.poll('g', 'brk_lateral', 'm', 1);
-- refused: handing out 3-5 now would skip 1-2
FETCH 3 FROM c;
\echo :SQLSTATE
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';

-- The first case of cursor_repoll, in group h: 5-9 rolled back, a poll
-- hands out 5, the cursor would go on at 10
SELECT member FROM topics.join('h', 'brk_lateral', 'm', auto_offset_reset => 'earliest');
UPDATE brk_lateral_groups SET g = 'h';
BEGIN;
DECLARE c CURSOR FOR
SELECT p.msg_offset
  FROM brk_lateral_groups l,
       LATERAL topics.poll(l.g, 'brk_lateral', 'm', 1000) p;
FETCH 5 FROM c;
SAVEPOINT s;
FETCH 5 FROM c;
ROLLBACK TO SAVEPOINT s;
SELECT msg_offset FROM topics.poll('h', 'brk_lateral', 'm', 1);
-- refused: handing out 10-14 now would skip 6-9
FETCH 5 FROM c;
\echo :SQLSTATE
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'h';

DROP TABLE brk_lateral_groups;
SELECT topics.drop_topic('brk_lateral');
