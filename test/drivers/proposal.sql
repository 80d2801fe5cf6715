-- Prototype, not a release script: load after CREATE EXTENSION pg_topics, as
-- a superuser, in a scratch database.  Two changes to the SQL surface that let
-- drivers (node-postgres, psycopg2) call produce and produce_batch with
-- untyped parameters.  See test/drivers/README.md for the evidence.

-- A. produce_batch with an untyped array (recommended).
--
-- node-postgres sends every array as a text literal of type unknown ('{a,b}';
-- a Buffer element as \x6869).  Against the bytea[], text[] and jsonb[]
-- overloads, all of category A (array), PostgreSQL cannot choose: 42725.  An
-- overload whose "values" is plain text is the only one of the string
-- category, which PostgreSQL prefers for an unknown argument, so untyped
-- calls land here, and only they: a typed array (text[], bytea[], jsonb[],
-- psycopg2's ARRAY[...]) has no implicit cast to text and keeps its overload.
-- It reads the literal as text[].  An element in bytea's hex form is what
-- node-postgres makes of a Buffer: refused with a hint naming the cast, rather
-- than stored as the characters \x6869.
CREATE FUNCTION topics.produce_batch(
    topic text, "values" text, keys text[] DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb[] DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL)
RETURNS SETOF topics.produced
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $$
DECLARE
    vals text[] := "values"::text[];
BEGIN
    IF EXISTS (SELECT FROM unnest(vals || keys) e
                WHERE e ~ '^\\x([0-9A-Fa-f]{2})+$') THEN
        RAISE EXCEPTION 'untyped array of produce_batch has an element in bytea''s hex form'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Cast binary values and keys: topics.produce_batch($1, $2::bytea[], $3::bytea[]); text is $2::text[], JSON $2::jsonb[].';
    END IF;
    RETURN QUERY SELECT * FROM topics.produce_batch(topic, vals, keys, partition,
                                                     headers, "timestamp");
END
$$;
COMMENT ON FUNCTION topics.produce_batch(text, text, text[], integer, jsonb[], timestamptz) IS
    'Untyped arrays (driver parameters): read as text[]';
