-- Prototype, not a release script (optional, larger): a node-postgres Buffer
-- passed untyped to topics.produce.  node-postgres sends a Buffer in binary
-- format and a string in text format, both with type unknown; PostgreSQL picks
-- the text overload (string category) and text's binary input rejects bytes
-- that are not UTF-8 (22021).  topics.payload is a type whose text input is the
-- string itself (textin) and whose binary input is the raw bytes (bytearecv);
-- it replaces text in the text overload of produce.  Load after proposal.sql.
CREATE TYPE topics.payload;
CREATE FUNCTION topics.payload_in(cstring) RETURNS topics.payload
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textin';
CREATE FUNCTION topics.payload_out(topics.payload) RETURNS cstring
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'byteaout';
CREATE FUNCTION topics.payload_recv(internal) RETURNS topics.payload
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'bytearecv';
CREATE FUNCTION topics.payload_send(topics.payload) RETURNS bytea
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'byteasend';
CREATE TYPE topics.payload (
    INPUT = topics.payload_in, OUTPUT = topics.payload_out,
    RECEIVE = topics.payload_recv, SEND = topics.payload_send,
    LIKE = bytea, CATEGORY = 'S');
CREATE CAST (text AS topics.payload) WITHOUT FUNCTION AS IMPLICIT;
CREATE CAST (varchar AS topics.payload) WITHOUT FUNCTION AS IMPLICIT;

ALTER EXTENSION pg_topics DROP FUNCTION
    topics.produce(text, text, text, integer, jsonb, timestamptz);
DROP FUNCTION topics.produce(text, text, text, integer, jsonb, timestamptz);
CREATE FUNCTION topics.produce(
    topic text, value topics.payload, key topics.payload DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL)
RETURNS topics.produced
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS '$libdir/pg_topics', 'pg_topics_produce_text';

-- The key of the jsonb overload becomes topics.payload too: with text there,
-- an untyped call with a key finds no candidate that is of the string
-- category and preferred at every position, and is ambiguous again (42725).
ALTER EXTENSION pg_topics DROP FUNCTION
    topics.produce(text, jsonb, text, integer, jsonb, timestamptz);
DROP FUNCTION topics.produce(text, jsonb, text, integer, jsonb, timestamptz);
CREATE FUNCTION topics.produce(
    topic text, value jsonb, key topics.payload DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL)
RETURNS topics.produced
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS '$libdir/pg_topics', 'pg_topics_produce_jsonb';
