/* sql/pg_topics--0.2--0.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_topics UPDATE TO '0.3'" to load this file. \quit

-- 0.3 scales: the cost of a partition's work does not grow with its
-- number of segments, partitions, topics, groups or members.
--
-- * A partition keeps the size of its sealed segments (those wholly below
--   the stable offset, which no producer writes to any more), added up by
--   the database worker as the stable offset passes them: topics.partitions
--   adds the size of the few segments above to it instead of measuring
--   every segment table.
--
-- A fresh install runs pg_topics--0.1.sql and then the update scripts, so
-- both roads end with the same objects.

ALTER TABLE topics.partition
    ADD COLUMN sealed_end bigint NOT NULL DEFAULT 0,
    ADD COLUMN sealed_bytes bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN topics.partition.sealed_end IS
    'The segments below this offset are sealed: their size is in sealed_bytes';
COMMENT ON COLUMN topics.partition.sealed_bytes IS
    'Size of the sealed segments when they were sealed, with their indexes';

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
           (SELECT pg_catalog.sum(pg_catalog.pg_total_relation_size(
                       pg_catalog.to_regclass(pg_catalog.quote_ident('topics_data') OPERATOR(pg_catalog.||) '.'
                           OPERATOR(pg_catalog.||) pg_catalog.quote_ident(
                               topics_internal.table_name(s.topic, s.partition, s.base_offset)))))::bigint
              FROM topics.segment s
             WHERE s.topic OPERATOR(pg_catalog.=) t.name
               AND s.partition OPERATOR(pg_catalog.=) i.partition
               AND s.base_offset OPERATOR(pg_catalog.>=) p.sealed_end), 0) AS size_bytes,
       i.oldest_producer_pid,
       i.oldest_producer_xid,
       pg_catalog.now() OPERATOR(pg_catalog.-) i.oldest_producer_since AS oldest_producer_age
  FROM topics.topic t
       CROSS JOIN LATERAL topics.partition_info(t.name) i
       JOIN topics.partition p
         ON p.topic OPERATOR(pg_catalog.=) t.name
        AND p.partition OPERATOR(pg_catalog.=) i.partition
 WHERE topics_internal.can_read(t.name);
COMMENT ON COLUMN topics.partitions.size_bytes IS
    'Size of the segment tables with their indexes (sealed segments as they were when sealed)';
