--
-- A produce that runs inside another produce: an index a superuser added
-- to a topic's root, on an expression that produces to a second topic.
-- Each produce call works in a memory context kept by the backend; the
-- inner one must get its own, or it would free the outer one's rows
-- half-way through.  An error inside leaves the next produce working.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT topic FROM topics.create_topic('nest_outer');
SELECT topic FROM topics.create_topic('nest_side');

-- declared IMMUTABLE, which it is not: only so that it may index
CREATE FUNCTION nest_echo(v bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v = 'bad'::bytea THEN
        RAISE EXCEPTION 'refused: %', convert_from(v, 'UTF8');
    END IF;
    PERFORM topics.produce('nest_side', v);
    RETURN v;
END
$$;
CREATE INDEX nest_outer_echo ON topics_data.nest_outer (nest_echo(value));

SELECT partition, msg_offset
  FROM topics.produce_batch('nest_outer', ARRAY['a', 'b', 'c']);
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('nest_outer', 0, 0);
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('nest_side', 0, 0);

-- an error in the inner produce fails the outer one, and leaves nothing
SELECT msg_offset FROM topics.produce_batch('nest_outer', ARRAY['d', 'bad']);
SELECT msg_offset FROM topics.produce('nest_outer', 'e');
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('nest_outer', 0, 0);
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('nest_side', 0, 0);

-- the backend keeps a megabyte for produce calls
SELECT total_bytes / 1024 AS kb FROM pg_backend_memory_contexts
 WHERE name = 'pg_topics produce';
-- a batch of large messages (over that first megabyte) in between: the
-- next call gets a larger first block (at most 8 MB), kept from then on
SELECT count(*) FROM topics.produce_batch('nest_side',
    ARRAY(SELECT repeat('x', 4000) FROM generate_series(1, 1000)));
SELECT msg_offset FROM topics.produce('nest_outer', 'f');
SELECT total_bytes / 1024 AS kb FROM pg_backend_memory_contexts
 WHERE name = 'pg_topics produce';
SELECT count(*), sum(length(value)) FROM topics.fetch('nest_side', 0, 0, 2000);

DROP INDEX topics_data.nest_outer_echo;
DROP FUNCTION nest_echo(bytea);
SELECT topics.drop_topic('nest_outer');
SELECT topics.drop_topic('nest_side');
