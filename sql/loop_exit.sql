--
-- A PL/pgSQL FOR loop over poll that leaves the loop early (EXIT, RETURN)
-- moves the position only past the rows the loop processed.
--
-- PL/pgSQL fetches a FOR loop's rows ten at a time (procedure_commit says
-- so of COMMIT inside the loop); the rows fetched ahead pass
-- topics_internal._take, so a loop that EXITs after message 2 commits the
-- position 10: messages 3-9 are never delivered to anything.  Expected:
-- the position is 3 (or the loop is refused), and every message is either
-- done or comes again.
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT * FROM topics.create_topic('brk_exit');
SELECT count(*) FROM topics.produce_batch('brk_exit',
    array(SELECT 'm' || i FROM generate_series(0, 9) i));
SELECT member FROM topics.join('g', 'brk_exit', 'm', auto_offset_reset => 'earliest');
CREATE TABLE brk_exit_done (msg_offset bigint);

CREATE FUNCTION brk_exit_consume(n integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT msg_offset FROM topics.poll('g', 'brk_exit', 'm', 10) LOOP
        INSERT INTO brk_exit_done VALUES (r.msg_offset);
        EXIT WHEN r.msg_offset >= n - 1;    -- enough for this round
    END LOOP;
END
$$;

SELECT brk_exit_consume(3);
SELECT msg_offset FROM brk_exit_done ORDER BY 1;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';
-- every message is done or comes again: 0-9, each once
SELECT array_agg(o ORDER BY o) AS delivered
  FROM (SELECT msg_offset FROM brk_exit_done
        UNION ALL
        SELECT msg_offset FROM topics.poll('g', 'brk_exit', 'm', 100)) d(o);

DROP FUNCTION brk_exit_consume(integer);
DROP TABLE brk_exit_done;
SELECT topics.drop_topic('brk_exit');
