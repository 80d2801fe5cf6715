--
-- A procedure whose FOR loop over poll ROLLBACKs inside the loop must not
-- let the rest of the loop's rows reach committed work while the position
-- stays behind them.
--
-- The ROLLBACK keeps the loop's cursor by reading it to its end (as a
-- COMMIT does, see procedure_commit), so the poll's rows 1-9 are taken in
-- the transaction that rolls back, and handed out by the kept cursor in
-- the next one, which holds no position: the loop processes them, the
-- procedure's transaction commits them, and the position stays at 0.  The
-- next poll hands out 1-9 again: delivered twice.  Expected: refused, as a
-- COMMIT in the loop is (2D000), and no message both done and handed out
-- again.
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT * FROM topics.create_topic('brk_proc_rb');
SELECT count(*) FROM topics.produce_batch('brk_proc_rb',
    array(SELECT 'm' || i FROM generate_series(0, 9) i));
SELECT member FROM topics.join('g', 'brk_proc_rb', 'm', auto_offset_reset => 'earliest');
CREATE TABLE brk_proc_rb_done (msg_offset bigint);

CREATE PROCEDURE brk_proc_rb_consume() LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT msg_offset FROM topics.poll('g', 'brk_proc_rb', 'm', 10) LOOP
        IF r.msg_offset = 0 THEN
            -- message 0 cannot be processed now: give it back
            ROLLBACK;
        ELSE
            INSERT INTO brk_proc_rb_done VALUES (r.msg_offset);
        END IF;
    END LOOP;
END
$$;

CALL brk_proc_rb_consume();
SELECT committed FROM topics.group_lag WHERE group_name = 'g';
-- messages done and handed out again: none
BEGIN;
SELECT msg_offset FROM topics.poll('g', 'brk_proc_rb', 'm', 10)
 WHERE msg_offset IN (SELECT msg_offset FROM brk_proc_rb_done);
ROLLBACK;

DROP PROCEDURE brk_proc_rb_consume();
DROP TABLE brk_proc_rb_done;
SELECT topics.drop_topic('brk_proc_rb');
