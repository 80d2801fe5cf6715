/* sql/pg_topics--0.4--0.5.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_topics UPDATE TO '0.5'" to load this file. \quit

-- 0.5 adds retention: topics' settings under Kafka's names, the database
-- worker's maintenance jobs (retention by time and size, segment
-- roll-over), their log, and Kafka's DeleteRecords.  Every reclamation is
-- by whole segment: no DELETE of a message row, no dead tuple.

-- The newest timestamp of a segment, measured once no producer writes to
-- it any more (NULL until then): retention by time drops a segment once
-- its newest message is older than retention.ms, as Kafka does.
ALTER TABLE topics.segment ADD COLUMN max_timestamp timestamptz;
COMMENT ON COLUMN topics.segment.max_timestamp IS
    'Newest timestamp of the segment''s messages, once it is sealed (NULL: not measured yet)';

-- How far compaction went: the messages below compacted_end were
-- compacted, and only those above it can supersede a key again.
ALTER TABLE topics.partition ADD COLUMN compacted_end bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN topics.partition.compacted_end IS
    'Compaction has run on the messages below this offset';

-- The last run of each maintenance job on each topic: what it freed, or
-- the error that stopped it.  State of this node, not dumped.
CREATE TABLE topics.maintenance (
    topic             text COLLATE "C" NOT NULL REFERENCES topics.topic ON DELETE CASCADE,
    job               text COLLATE "C" NOT NULL,
    last_run          timestamptz NOT NULL,
    segments_freed    bigint NOT NULL DEFAULT 0,
    bytes_freed       bigint NOT NULL DEFAULT 0,
    log_start_moves   integer NOT NULL DEFAULT 0,
    detail            text,
    error             text,
    last_error_at     timestamptz,
    PRIMARY KEY (topic, job)
);
COMMENT ON TABLE topics.maintenance IS
    'The last run of each maintenance job on each topic';
REVOKE ALL ON topics.maintenance FROM PUBLIC;

CREATE VIEW topics.maintenance_log WITH (security_barrier) AS
SELECT m.topic, m.job, m.last_run, m.segments_freed, m.bytes_freed,
       m.log_start_moves, m.detail, m.error, m.last_error_at
  FROM topics.maintenance m
 WHERE topics_internal.can_read(m.topic);
COMMENT ON VIEW topics.maintenance_log IS
    'Per topic the current role may read, and per maintenance job (roll, retention, compaction, reclaim): its last run, what it freed, and its last error';
COMMENT ON COLUMN topics.maintenance_log.job IS
    'roll (rolls over segments whose first message is older than segment.ms), retention (moves the log start past expired segments), compaction (keeps the latest message of each key), reclaim (drops the segments below the log start)';
COMMENT ON COLUMN topics.maintenance_log.segments_freed IS 'Segments the last run dropped (roll: rolled over; retention: let go; compaction: rewrote)';
COMMENT ON COLUMN topics.maintenance_log.bytes_freed IS 'Bytes of the segments the last run dropped';
COMMENT ON COLUMN topics.maintenance_log.log_start_moves IS 'Partitions whose log start the last run moved';
COMMENT ON COLUMN topics.maintenance_log.error IS 'The error of the last run that failed (NULL: none since the topic was made)';
GRANT SELECT ON topics.maintenance_log TO PUBLIC;

-- topic_settings fills in the server's defaults: what topics.topics shows.
CREATE FUNCTION topics_internal.topic_settings(mode text, config jsonb)
RETURNS jsonb
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'pg_topics_topic_settings';
COMMENT ON FUNCTION topics_internal.topic_settings(text, jsonb) IS
    'Internal: every setting of a topic, its own or the server''s default, under Kafka''s names';
GRANT EXECUTE ON FUNCTION topics_internal.topic_settings(text, jsonb) TO PUBLIC;

CREATE OR REPLACE VIEW topics.topics WITH (security_barrier) AS
SELECT t.name,
       t.mode,
       t.partitions,
       t.config,
       t.owner,
       pg_catalog.to_regclass(pg_catalog.quote_ident('topics_data') OPERATOR(pg_catalog.||) '.'
                              OPERATOR(pg_catalog.||) pg_catalog.quote_ident(t.name)) AS root_table,
       t.created_at,
       topics_internal.topic_settings(t.mode, t.config) AS settings
  FROM topics.topic t
 WHERE topics_internal.can_read(t.name)
    OR pg_catalog.pg_has_role(t.owner, 'USAGE')
    OR pg_catalog.has_table_privilege(pg_catalog.quote_ident('topics_data') OPERATOR(pg_catalog.||) '.'
                                      OPERATOR(pg_catalog.||) pg_catalog.quote_ident(t.name), 'INSERT');
COMMENT ON COLUMN topics.topics.config IS 'The settings the topic''s owner set (topics.alter_topic changes them)';
COMMENT ON COLUMN topics.topics.settings IS 'Every setting of the topic: its own, or the server''s default';

CREATE FUNCTION topics.alter_topic(name text, config jsonb)
RETURNS jsonb
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_alter_topic';
COMMENT ON FUNCTION topics.alter_topic(text, jsonb) IS
    'Change a topic''s settings (a setting given null goes back to the default); returns its config; the owner''s call';

CREATE FUNCTION topics.delete_records(topic text, partition integer, before_offset bigint)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_delete_records';
COMMENT ON FUNCTION topics.delete_records(text, integer, bigint) IS
    'Kafka''s DeleteRecords: move a partition''s log start up to before_offset (-1: the last stable offset); returns the new log start; the owner''s call';

CREATE FUNCTION topics_internal._run_maintenance(topic text)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_run_maintenance';
COMMENT ON FUNCTION topics_internal._run_maintenance(text) IS
    'Internal: run the maintenance jobs now on a topic the caller owns (NULL: every one)';
GRANT EXECUTE ON FUNCTION topics_internal._run_maintenance(text) TO PUBLIC;

CREATE FUNCTION topics.run_maintenance(topic text DEFAULT NULL)
RETURNS SETOF topics.maintenance_log
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT topics_internal._run_maintenance($1);
SELECT m.* FROM topics.maintenance_log m
 WHERE ($1 IS NULL OR m.topic OPERATOR(pg_catalog.=) $1)
   AND EXISTS (SELECT FROM topics.topic t
                WHERE t.name OPERATOR(pg_catalog.=) m.topic
                  AND pg_catalog.pg_has_role(t.owner, 'USAGE'))
 ORDER BY m.topic, m.job;
$$;
COMMENT ON FUNCTION topics.run_maintenance(text) IS
    'Run the maintenance jobs now, on one topic (NULL: every topic the caller owns); returns their log';
