--
-- A procedure that polls in a FOR loop and COMMITs inside it never loses
-- a message.
--
-- PL/pgSQL fetches a FOR loop's rows ahead (ten at a time), and a COMMIT
-- inside the loop keeps the loop's cursor by reading it to its end: the
-- poll's positions pass rows the loop has not processed yet, and a failure
-- at offset 3 would lose 3-9.  So that COMMIT is refused (2D000) and the
-- whole transaction rolls back: nothing is done, nothing is lost.  The way
-- that works, a poll of one message per transaction, follows.
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT * FROM topics.create_topic('brk_proc');
SELECT count(*) FROM topics.produce_batch('brk_proc',
    array(SELECT 'm' || i FROM generate_series(0, 9) i));
SELECT member FROM topics.join('g', 'brk_proc', 'm', auto_offset_reset => 'earliest');
CREATE TABLE brk_proc_done (msg_offset bigint);

CREATE PROCEDURE brk_proc_consume() LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT msg_offset FROM topics.poll('g', 'brk_proc', 'm', 10) LOOP
        IF r.msg_offset = 3 THEN
            RAISE EXCEPTION 'processing of message % failed', r.msg_offset;
        END IF;
        INSERT INTO brk_proc_done VALUES (r.msg_offset);
        COMMIT;
    END LOOP;
END
$$;

CALL brk_proc_consume();
SELECT msg_offset FROM brk_proc_done ORDER BY 1;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';

-- one message per transaction: each COMMIT moves the position past the
-- message it processed, and the failure at offset 3 leaves 3-9
CREATE PROCEDURE brk_proc_consume_each() LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    LOOP
        SELECT msg_offset INTO r FROM topics.poll('g', 'brk_proc', 'm', 1);
        EXIT WHEN NOT FOUND;
        IF r.msg_offset = 3 THEN
            RAISE EXCEPTION 'processing of message % failed', r.msg_offset;
        END IF;
        INSERT INTO brk_proc_done VALUES (r.msg_offset);
        COMMIT;
    END LOOP;
END
$$;
CALL brk_proc_consume_each();
SELECT msg_offset FROM brk_proc_done ORDER BY 1;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';
-- every message is either done or comes again
SELECT msg_offset FROM topics.poll('g', 'brk_proc', 'm', 10);

DROP PROCEDURE brk_proc_consume(), brk_proc_consume_each();
DROP TABLE brk_proc_done;
SELECT topics.drop_topic('brk_proc');
