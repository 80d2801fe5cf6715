--
-- A WITH HOLD cursor over topics.poll() that has FETCHed rows commits.
--
-- README: "A WITH HOLD cursor is read to its end at commit, so it takes
-- every row".  A cursor declared without NO SCROLL is scrollable when its
-- plan allows (a function scan does), and PostgreSQL keeps a scrollable
-- holdable cursor by rewinding it and reading it again from the start:
-- the rows FETCHed before the COMMIT pass topics_internal._take a second
-- time, and must move nothing (refusing them would fail the COMMIT).  The
-- COMMIT succeeds, the position moves past every row the poll read, and
-- the rows not yet FETCHed can be read from the cursor after the commit;
-- a scrollable cursor can also be read backwards within its transaction.
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT * FROM topics.create_topic('brk_hold');
SELECT count(*) FROM topics.produce_batch('brk_hold',
    array(SELECT 'm' || i FROM generate_series(0, 9) i));
SELECT member FROM topics.join('g', 'brk_hold', 'm', auto_offset_reset => 'earliest');
CREATE TABLE brk_hold_done (msg_offset bigint);

BEGIN;
INSERT INTO brk_hold_done VALUES (-1);
DECLARE h CURSOR WITH HOLD FOR
SELECT msg_offset FROM topics.poll('g', 'brk_hold', 'm', 1000);
FETCH 2 FROM h;
COMMIT;
-- the transaction's own write survived the commit
SELECT * FROM brk_hold_done;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';
FETCH ALL FROM h;
CLOSE h;

-- the same, declared NO SCROLL
SELECT count(*) FROM topics.produce_batch('brk_hold',
    array(SELECT 'n' || i FROM generate_series(0, 9) i));
BEGIN;
DECLARE h NO SCROLL CURSOR WITH HOLD FOR
SELECT msg_offset FROM topics.poll('g', 'brk_hold', 'm', 1000);
FETCH 2 FROM h;
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';
FETCH ALL FROM h;
CLOSE h;

-- a SCROLL cursor read backwards hands rows out again and moves the
-- position only past the furthest row it handed out
SELECT count(*) FROM topics.produce_batch('brk_hold',
    array(SELECT 's' || i FROM generate_series(0, 9) i));
BEGIN;
DECLARE s SCROLL CURSOR FOR
SELECT msg_offset FROM topics.poll('g', 'brk_hold', 'm', 1000);
FETCH 3 FROM s;
FETCH BACKWARD 2 FROM s;
FETCH 3 FROM s;
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';

DROP TABLE brk_hold_done;
SELECT topics.drop_topic('brk_hold');
