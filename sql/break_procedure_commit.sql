--
-- A procedure that polls in a FOR loop and COMMITs after each message
-- consumes each message once: a failure at message 3 leaves 3-9 to the
-- next poll.
--
-- A COMMIT inside a PL/pgSQL FOR loop makes the loop's cursor holdable,
-- and PostgreSQL persists it by reading it to its end before the first
-- COMMIT: topics_internal._take then moves the position past every row
-- the poll read, and that first COMMIT stores it.  When the loop body
-- fails later (here at offset 3), the rows after it were never processed,
-- yet the group's position is already past them: 3-9 are lost.  README:
-- "a consumer that does its work in the same transaction consumes each
-- message exactly once".  Expected: after the failure the position is 3
-- (what the committed iterations took) and the next poll hands out 3-9
-- (or the COMMIT inside the loop is refused with a clear error, and
-- nothing is lost either).
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
-- every message is either done or comes again
SELECT msg_offset FROM topics.poll('g', 'brk_proc', 'm', 10);

DROP PROCEDURE brk_proc_consume();
DROP TABLE brk_proc_done;
SELECT topics.drop_topic('brk_proc');
