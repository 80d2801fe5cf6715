/* sql/pg_topics--0.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_topics" to load this file. \quit

-- Schema topics (the extension's schema, from the control file) holds the
-- catalog, views and functions; schema topics_data holds the messages.
CREATE SCHEMA topics_data;
COMMENT ON SCHEMA topics_data IS 'pg_topics message tables: one root table per topic';
GRANT USAGE ON SCHEMA topics TO PUBLIC;
GRANT USAGE ON SCHEMA topics_data TO PUBLIC;

CREATE TABLE topics.topic (
    topic_id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    mode        text NOT NULL CHECK (mode IN ('stream', 'store', 'queue')),
    partitions  integer NOT NULL CHECK (partitions > 0),
    config      jsonb NOT NULL DEFAULT '{}',
    relid       regclass NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE topics.topic IS 'One row per topic';

CREATE TABLE topics.partition (
    topic_id    integer NOT NULL REFERENCES topics.topic ON DELETE CASCADE,
    partition   integer NOT NULL,
    relid       regclass NOT NULL,
    PRIMARY KEY (topic_id, partition)
);
COMMENT ON TABLE topics.partition IS 'One row per partition of a topic, with its table';

CREATE TABLE topics.segment (
    topic_id    integer NOT NULL,
    partition   integer NOT NULL,
    base_offset bigint NOT NULL,
    end_offset  bigint NOT NULL,
    relid       regclass NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (topic_id, partition, base_offset),
    FOREIGN KEY (topic_id, partition) REFERENCES topics.partition ON DELETE CASCADE,
    CHECK (end_offset > base_offset)
);
COMMENT ON TABLE topics.segment IS 'One row per segment table: the offsets [base_offset, end_offset) of a partition';

SELECT pg_catalog.pg_extension_config_dump('topics.topic', '');
SELECT pg_catalog.pg_extension_config_dump('topics.partition', '');
SELECT pg_catalog.pg_extension_config_dump('topics.segment', '');

REVOKE ALL ON topics.topic, topics.partition, topics.segment FROM PUBLIC;
GRANT SELECT ON topics.topic, topics.partition, topics.segment TO PUBLIC;

-- Topics

CREATE FUNCTION topics.create_topic(
    name text,
    partitions integer DEFAULT 1,
    mode text DEFAULT 'stream',
    config jsonb DEFAULT '{}',
    OUT topic text, OUT partitions integer, OUT mode text)
RETURNS record
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pg_topics_create_topic';
COMMENT ON FUNCTION topics.create_topic(text, integer, text, jsonb) IS
    'Create a topic with its partitions; needs CREATE on schema topics_data';

CREATE FUNCTION topics.drop_topic(name text)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pg_topics_drop_topic';
COMMENT ON FUNCTION topics.drop_topic(text) IS
    'Drop a topic and all its messages; owner only';

CREATE FUNCTION topics.add_partitions(name text, count integer)
RETURNS integer
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pg_topics_add_partitions';
COMMENT ON FUNCTION topics.add_partitions(text, integer) IS
    'Add count partitions to a topic and return the new partition count; owner only';

-- Produce.  The hot path is C without SPI and runs no user SQL, so these
-- have no SET clause, which would cost a GUC save and restore per call.

CREATE FUNCTION topics.produce(
    topic text, value bytea, key bytea DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL,
    OUT partition integer, OUT msg_offset bigint)
RETURNS record
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce';
COMMENT ON FUNCTION topics.produce(text, bytea, bytea, integer, jsonb, timestamptz) IS
    'Append one message; returns its partition and offset';

CREATE FUNCTION topics.produce(
    topic text, value text, key text DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL,
    OUT partition integer, OUT msg_offset bigint)
RETURNS record
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce_text';
COMMENT ON FUNCTION topics.produce(text, text, text, integer, jsonb, timestamptz) IS
    'Append one message whose key and value are the UTF-8 bytes of text';

CREATE FUNCTION topics.produce(
    topic text, value jsonb, key text DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL,
    OUT partition integer, OUT msg_offset bigint)
RETURNS record
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce_jsonb';
COMMENT ON FUNCTION topics.produce(text, jsonb, text, integer, jsonb, timestamptz) IS
    'Append one message whose value is the UTF-8 text of a JSON document';

CREATE FUNCTION topics.produce_batch(
    topic text, "values" bytea[], keys bytea[] DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb[] DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL,
    OUT partition integer, OUT msg_offset bigint)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce_batch';
COMMENT ON FUNCTION topics.produce_batch(text, bytea[], bytea[], integer, jsonb[], timestamptz) IS
    'Append one message per array element; returns partition and offset of each, in order';

CREATE FUNCTION topics.produce_batch(
    topic text, "values" text[], keys text[] DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb[] DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL,
    OUT partition integer, OUT msg_offset bigint)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce_batch_text';
COMMENT ON FUNCTION topics.produce_batch(text, text[], text[], integer, jsonb[], timestamptz) IS
    'Append one text message per array element';

CREATE FUNCTION topics.produce_batch(
    topic text, "values" jsonb[], keys text[] DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb[] DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL,
    OUT partition integer, OUT msg_offset bigint)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce_batch_jsonb';
COMMENT ON FUNCTION topics.produce_batch(text, jsonb[], text[], integer, jsonb[], timestamptz) IS
    'Append one JSON message per array element';

-- Read

CREATE FUNCTION topics.fetch(
    topic text, partition integer, from_offset bigint,
    max_messages integer DEFAULT 100, max_wait interval DEFAULT '0',
    OUT topic text, OUT partition integer, OUT msg_offset bigint,
    OUT "timestamp" timestamptz, OUT key bytea, OUT value bytea,
    OUT headers jsonb)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_fetch';
COMMENT ON FUNCTION topics.fetch(text, integer, bigint, integer, interval) IS
    'Read committed messages of a partition from an offset, waiting up to max_wait for the first';

CREATE FUNCTION topics.offset_for_time(topic text, partition integer, ts timestamptz)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_offset_for_time';
COMMENT ON FUNCTION topics.offset_for_time(text, integer, timestamptz) IS
    'Earliest offset of a partition whose timestamp is at or after ts, or NULL';

-- Routing

CREATE FUNCTION topics.murmur2(key bytea)
RETURNS integer
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'pg_topics_murmur2';
COMMENT ON FUNCTION topics.murmur2(bytea) IS
    'Kafka''s murmur2 hash of a key, as a signed 32-bit integer';

CREATE FUNCTION topics.partition_for_key(key bytea, partitions integer)
RETURNS integer
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'pg_topics_partition_for_key';
COMMENT ON FUNCTION topics.partition_for_key(bytea, integer) IS
    'The partition Kafka''s default partitioner picks for a key';

-- Monitoring

CREATE FUNCTION topics.partition_info(
    topic text,
    OUT partition integer, OUT log_start bigint, OUT lso bigint,
    OUT log_end bigint, OUT segments integer, OUT oldest_producer_pid integer,
    OUT oldest_producer_xid xid, OUT oldest_producer_since timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_partition_info';
COMMENT ON FUNCTION topics.partition_info(text) IS
    'Offsets and oldest open producer of each partition of a topic';

CREATE VIEW topics.topics AS
SELECT t.name,
       t.mode,
       t.partitions,
       t.config,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       t.relid AS root_table,
       t.created_at
  FROM topics.topic t
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.relid;
COMMENT ON VIEW topics.topics IS 'Topics, with their owner and root table';

CREATE VIEW topics.partitions AS
SELECT t.name AS topic,
       i.partition,
       i.log_start,
       i.lso,
       i.log_end,
       i.segments,
       (SELECT pg_catalog.sum(pg_catalog.pg_total_relation_size(s.relid))::bigint
          FROM topics.segment s
         WHERE s.topic_id OPERATOR(pg_catalog.=) t.topic_id
           AND s.partition OPERATOR(pg_catalog.=) i.partition) AS size_bytes,
       i.oldest_producer_pid,
       i.oldest_producer_xid,
       pg_catalog.now() OPERATOR(pg_catalog.-) i.oldest_producer_since AS oldest_producer_age
  FROM topics.topic t,
       LATERAL topics.partition_info(t.name) i;
COMMENT ON VIEW topics.partitions IS
    'Per partition: log start, last stable offset, log end, size and the oldest open producer holding the LSO back';

GRANT SELECT ON topics.topics, topics.partitions TO PUBLIC;

-- Every function is revoked from PUBLIC, then granted: privileges on the
-- topics themselves (INSERT to produce, SELECT to read, ownership to drop)
-- and CREATE on topics_data (to create a topic) are checked inside.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA topics FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA topics TO PUBLIC;
