/* sql/pg_topics--0.4--0.5.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_topics UPDATE TO '0.5'" to load this file. \quit

-- 0.5 adds retention: topics' settings under Kafka's names, the database
-- worker's maintenance jobs (retention by time and size, segment
-- roll-over), their log, and Kafka's DeleteRecords.  Every reclamation is
-- by whole segment: no DELETE of a message row, no dead tuple.

-- A stream topic now keeps its messages retention.ms (by default
-- pg_topics.retention_time, 7 days, as Kafka's log.retention.ms): the
-- topics made before kept them for ever, and still do until their owner
-- sets retention.ms.
UPDATE topics.topic
   SET config = config OPERATOR(pg_catalog.||) '{"retention.ms": -1}'::jsonb
 WHERE mode OPERATOR(pg_catalog.=) 'stream'
   AND NOT config OPERATOR(pg_catalog.?) 'retention.ms';

-- The newest timestamp of a segment, measured by the worker once no
-- producer writes to it any more (NULL until then): retention by time
-- drops a segment once its newest message is older than retention.ms, as
-- Kafka does.
ALTER TABLE topics.segment ADD COLUMN max_timestamp timestamptz;
-- the worker looks for the segments it has not measured yet, each round
CREATE INDEX segment_unmeasured ON topics.segment (topic, partition)
 WHERE max_timestamp IS NULL;
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
   AND EXISTS (SELECT FROM topics.topics t
                WHERE t.name OPERATOR(pg_catalog.=) m.topic
                  AND pg_catalog.pg_has_role(t.owner, 'USAGE'))
 ORDER BY m.topic, m.job;
$$;
COMMENT ON FUNCTION topics.run_maintenance(text) IS
    'Run the maintenance jobs now, on one topic (NULL: every topic the caller owns); returns their log';

-- Health: what a topic holds and what holds it back, from the catalog,
-- the statistics and shared memory, never by counting messages.

CREATE FUNCTION topics_internal.oldest_timestamp(topic text, partition integer)
RETURNS timestamptz
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_oldest_timestamp';
COMMENT ON FUNCTION topics_internal.oldest_timestamp(text, integer) IS
    'Internal: the timestamp of a partition''s first message from its log start on; needs SELECT on the topic';
GRANT EXECUTE ON FUNCTION topics_internal.oldest_timestamp(text, integer) TO PUBLIC;

CREATE OR REPLACE VIEW topics.partitions WITH (security_barrier) AS
SELECT t.name AS topic,
       i.partition,
       i.log_start,
       i.lso,
       i.log_end,
       i.high_water,
       i.stable_offset,
       i.segments,
       p.sealed_bytes OPERATOR(pg_catalog.+) COALESCE(
           (SELECT pg_catalog.sum(topics_internal.segment_size(s.topic, s.partition, s.base_offset))::bigint
              FROM topics.segment s
             WHERE s.topic OPERATOR(pg_catalog.=) t.name
               AND s.partition OPERATOR(pg_catalog.=) i.partition
               AND s.base_offset OPERATOR(pg_catalog.>=) p.sealed_end), 0) AS size_bytes,
       i.oldest_producer_pid,
       i.oldest_producer_xid,
       pg_catalog.now() OPERATOR(pg_catalog.-) i.oldest_producer_since AS oldest_producer_age,
       topics_internal.oldest_timestamp(t.name, i.partition) AS oldest_timestamp
  FROM topics.topic t
       CROSS JOIN LATERAL topics.partition_info(t.name) i
       JOIN topics.partition p
         ON p.topic OPERATOR(pg_catalog.=) t.name
        AND p.partition OPERATOR(pg_catalog.=) i.partition
 WHERE topics_internal.can_read(t.name);
COMMENT ON COLUMN topics.partitions.oldest_timestamp IS
    'Timestamp of the first message from the log start on (NULL: none)';

-- The oldest transaction horizon of the server (xmin) and what holds it:
-- a backend, a prepared transaction or a replication slot.  Below it,
-- VACUUM keeps dead rows and pg_topics keeps the segments below a log start.
CREATE FUNCTION topics_internal.xmin_holder(OUT holder text, OUT pid integer,
                                            OUT xmin_age integer, OUT since timestamptz)
RETURNS record
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT h.holder, h.pid, pg_catalog.age(h.x), h.since
  FROM (SELECT 'backend' AS holder, a.pid, COALESCE(a.backend_xid, a.backend_xmin) AS x,
               a.xact_start AS since
          FROM pg_catalog.pg_stat_activity a
         WHERE COALESCE(a.backend_xid, a.backend_xmin) IS NOT NULL
           AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
        UNION ALL
        SELECT 'prepared transaction ' OPERATOR(pg_catalog.||) pg_catalog.quote_literal(x.gid),
               NULL, x.transaction, x.prepared
          FROM pg_catalog.pg_prepared_xacts x
        UNION ALL
        SELECT 'replication slot ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(r.slot_name::text),
               r.active_pid, COALESCE(r.xmin, r.catalog_xmin), NULL
          FROM pg_catalog.pg_replication_slots r
         WHERE COALESCE(r.xmin, r.catalog_xmin) IS NOT NULL) h
 ORDER BY pg_catalog.age(h.x) DESC
 LIMIT 1
$$;
COMMENT ON FUNCTION topics_internal.xmin_holder() IS
    'Internal: the oldest transaction horizon of the server, and what holds it';
GRANT EXECUTE ON FUNCTION topics_internal.xmin_holder() TO PUBLIC;

CREATE VIEW topics.health WITH (security_barrier) AS
SELECT t.name AS topic,
       t.mode,
       s.segments,
       s.live_tuples,
       s.dead_tuples,
       CASE WHEN s.live_tuples OPERATOR(pg_catalog.+) s.dead_tuples OPERATOR(pg_catalog.>) 0
            THEN round(s.dead_tuples::numeric OPERATOR(pg_catalog./)
                       (s.live_tuples OPERATOR(pg_catalog.+) s.dead_tuples), 4) END AS dead_ratio,
       s.reclaimable_segments,
       x.holder AS xmin_holder,
       x.pid AS xmin_holder_pid,
       x.xmin_age,
       pg_catalog.now() OPERATOR(pg_catalog.-) x.since AS xmin_holder_age,
       o.partition AS lso_held_partition,
       o.oldest_producer_pid AS lso_held_by_pid,
       o.oldest_producer_xid AS lso_held_by_xid,
       o.oldest_producer_age AS lso_held_for,
       g.group_name AS slowest_group,
       g.lag AS slowest_group_lag,
       q.oldest_age AS queue_oldest_age,
       q.in_flight AS queue_in_flight
  FROM topics.topic t
  CROSS JOIN LATERAL (
        SELECT pg_catalog.count(*) AS segments,
               COALESCE(pg_catalog.sum(pg_catalog.pg_stat_get_live_tuples(r.oid)), 0)::bigint AS live_tuples,
               COALESCE(pg_catalog.sum(pg_catalog.pg_stat_get_dead_tuples(r.oid)), 0)::bigint AS dead_tuples,
               pg_catalog.count(*) FILTER (WHERE seg.end_offset OPERATOR(pg_catalog.<=) p.log_start) AS reclaimable_segments
          FROM topics.segment seg
          JOIN topics.partition p
            ON p.topic OPERATOR(pg_catalog.=) seg.topic
           AND p.partition OPERATOR(pg_catalog.=) seg.partition
          LEFT JOIN pg_catalog.pg_class r
            ON r.relname OPERATOR(pg_catalog.=) topics_internal.table_name(seg.topic, seg.partition, seg.base_offset)
           AND r.relnamespace OPERATOR(pg_catalog.=) 'topics_data'::pg_catalog.regnamespace
         WHERE seg.topic OPERATOR(pg_catalog.=) t.name) s
  CROSS JOIN LATERAL topics_internal.xmin_holder() x
  LEFT JOIN LATERAL (
        SELECT pp.partition, pp.oldest_producer_pid, pp.oldest_producer_xid, pp.oldest_producer_age
          FROM topics.partitions pp
         WHERE pp.topic OPERATOR(pg_catalog.=) t.name
           AND pp.oldest_producer_xid IS NOT NULL
         ORDER BY pp.oldest_producer_age DESC
         LIMIT 1) o ON true
  LEFT JOIN LATERAL (
        SELECT l.group_name, pg_catalog.sum(l.lag)::bigint AS lag
          FROM topics.group_lag l
         WHERE l.topic OPERATOR(pg_catalog.=) t.name
         GROUP BY l.group_name
         ORDER BY 2 DESC NULLS LAST
         LIMIT 1) g ON true
  LEFT JOIN LATERAL (
        SELECT pg_catalog.max(qs.oldest_age) AS oldest_age, pg_catalog.sum(qs.in_flight)::bigint AS in_flight
          FROM topics.queue_stats qs
         WHERE qs.topic OPERATOR(pg_catalog.=) t.name) q ON t.mode OPERATOR(pg_catalog.=) 'queue'
 WHERE topics_internal.can_read(t.name);
COMMENT ON VIEW topics.health IS
    'Per topic the current role may read: its tables'' dead tuples, the segments waiting to be dropped, the oldest transaction horizon and what holds it, the oldest open producer holding a last stable offset, the slowest consumer group, a queue''s oldest waiting message';
COMMENT ON COLUMN topics.health.dead_tuples IS 'Dead rows in the message tables (rows of rolled-back producers; no steady-state DELETE makes any)';
COMMENT ON COLUMN topics.health.dead_ratio IS 'Dead rows over all rows of the message tables (the statistics'' estimate)';
COMMENT ON COLUMN topics.health.reclaimable_segments IS 'Segments wholly below the log start, waiting to be dropped (once every snapshot sees the log start past them)';
COMMENT ON COLUMN topics.health.xmin_holder IS 'What holds the server''s oldest transaction horizon: a backend, a prepared transaction or a replication slot';
COMMENT ON COLUMN topics.health.xmin_age IS 'Age in transactions of that horizon';
COMMENT ON COLUMN topics.health.lso_held_partition IS 'The partition whose last stable offset the oldest open producer holds back';
COMMENT ON COLUMN topics.health.slowest_group IS 'The consumer group furthest behind the last stable offsets (summed over partitions)';
COMMENT ON COLUMN topics.health.queue_oldest_age IS 'A queue''s oldest waiting message''s age';
GRANT SELECT ON topics.health TO PUBLIC;
