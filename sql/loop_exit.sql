--
-- A PL/pgSQL FOR loop over poll reads its rows ten at a time: leaving the
-- loop early (EXIT, RETURN) counts the rows it fetched ahead as read, as
-- README says, since they were handed to the loop.  A loop that must stop
-- early reads through an explicit cursor, whose FETCH takes one row at a
-- time, and moves the position only past the rows it processed.
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

-- the loop fetched 0-9 and processed 0-2: the position is 10
SELECT brk_exit_consume(3);
SELECT msg_offset FROM brk_exit_done ORDER BY 1;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';

-- an explicit cursor takes only the rows it FETCHes
SELECT count(*) FROM topics.produce_batch('brk_exit',
    array(SELECT 'n' || i FROM generate_series(0, 9) i));
TRUNCATE brk_exit_done;
CREATE FUNCTION brk_exit_consume_cursor(n integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    c CURSOR FOR SELECT msg_offset FROM topics.poll('g', 'brk_exit', 'm', 10);
    r record;
BEGIN
    OPEN c;
    LOOP
        FETCH c INTO r;
        EXIT WHEN NOT FOUND;
        INSERT INTO brk_exit_done VALUES (r.msg_offset);
        EXIT WHEN r.msg_offset >= 10 + n - 1;
    END LOOP;
    CLOSE c;
END
$$;
SELECT brk_exit_consume_cursor(3);
SELECT msg_offset FROM brk_exit_done ORDER BY 1;
SELECT committed FROM topics.group_lag WHERE group_name = 'g';
-- every message is done or comes again: 10-19, each once
SELECT array_agg(o ORDER BY o) AS delivered
  FROM (SELECT msg_offset FROM brk_exit_done
        UNION ALL
        SELECT msg_offset FROM topics.poll('g', 'brk_exit', 'm', 100)) d(o);

DROP FUNCTION brk_exit_consume(integer), brk_exit_consume_cursor(integer);
DROP TABLE brk_exit_done;
SELECT topics.drop_topic('brk_exit');
