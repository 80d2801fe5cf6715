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
--   every segment table.  Sizes count rows and index entries (main forks),
--   not the maps VACUUM adds, which would change a sealed size.
--
-- A fresh install runs pg_topics--0.1.sql and then the update scripts, so
-- both roads end with the same objects.

-- segment_size is what a segment holds: the main forks of its table, its
-- indexes and its TOAST table (not the free space and visibility maps,
-- which VACUUM adds later, so that a full segment's size stays put).
CREATE FUNCTION topics_internal.segment_size(topic text, partition integer,
                                             base_offset bigint)
RETURNS bigint
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'pg_topics_segment_size';
COMMENT ON FUNCTION topics_internal.segment_size(text, integer, bigint) IS
    'Internal: bytes of a segment''s table, indexes and TOAST table (main forks); needs SELECT on the topic';
GRANT EXECUTE ON FUNCTION topics_internal.segment_size(text, integer, bigint) TO PUBLIC;

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
           (SELECT pg_catalog.sum(topics_internal.segment_size(s.topic, s.partition, s.base_offset))::bigint
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
    'Bytes of the segment tables, their indexes and TOAST tables (without free space and visibility maps)';

-- Long polls take Kafka's fetch.min.bytes / fetch.max.wait.ms pair, in
-- messages: a poll returns once min_messages messages are there to read,
-- or max_wait passed (then with what there is), so that a busy topic wakes
-- a waiting group once per batch rather than once per commit.  A new
-- argument at the end: the old topics.poll goes, so that a call with five
-- arguments is not ambiguous.
CREATE FUNCTION topics_internal._poll(
    group_name text, topic text, member_name text, max_messages integer,
    max_wait interval, min_messages integer)
RETURNS SETOF topics.message
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics__poll';
COMMENT ON FUNCTION topics_internal._poll(text, text, text, integer, interval, integer) IS
    'Internal: the messages topics.poll() returns';
GRANT EXECUTE ON FUNCTION topics_internal._poll(text, text, text, integer, interval, integer)
    TO PUBLIC;

DROP FUNCTION topics.poll(text, text, text, integer, interval);
CREATE FUNCTION topics.poll(
    group_name text, topic text, member_name text,
    max_messages integer DEFAULT 100, max_wait interval DEFAULT '0',
    min_messages integer DEFAULT 1)
RETURNS TABLE (topic text, partition integer, msg_offset bigint,
               "timestamp" timestamptz, key bytea, value bytea, headers jsonb)
LANGUAGE sql STABLE PARALLEL UNSAFE
AS $$
SELECT $2, r.partition, r.msg_offset, r."timestamp", r.key, r.value, r.headers
  FROM topics_internal._poll($1, $2, $3, $4, $5, $6) r
 WHERE topics_internal._take($1, $2, r.partition, r.msg_offset)
$$;
COMMENT ON FUNCTION topics.poll(text, text, text, integer, interval, integer) IS
    'Read the next committed messages of a member''s partitions, waiting up to max_wait for min_messages of them; the group''s position moves with the caller''s transaction';
DROP FUNCTION topics_internal._poll(text, text, text, integer, interval);

-- _join_members adds the members that joined a group together (the join
-- barrier, join_window.c), with their session timeouts, creating the group
-- if needed, and rebalances it once if it added any: every member of the
-- window calls it after the window closed; the first one to lock the
-- group adds them all.
CREATE FUNCTION topics_internal._join_members(p_topic text, p_group text,
                                              p_members text[], p_timeouts interval[],
                                              p_strategy text, p_reset text,
                                              p_role regrole)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    added integer;
    g     topics.consumer_group;
BEGIN
    INSERT INTO topics.consumer_group AS cg (topic, name, owner, strategy, auto_offset_reset)
    VALUES (p_topic, p_group, p_role, coalesce(p_strategy, 'range'), coalesce(p_reset, 'latest'))
    ON CONFLICT (topic, name) DO NOTHING;
    SELECT * INTO STRICT g FROM topics.consumer_group cg
     WHERE cg.topic OPERATOR(pg_catalog.=) p_topic
       AND cg.name OPERATOR(pg_catalog.=) p_group
       FOR UPDATE;
    -- a group another role made meanwhile: only with its owner's privileges
    IF g.owner IS NOT NULL AND NOT pg_catalog.pg_has_role(p_role, g.owner, 'USAGE') THEN
        RAISE EXCEPTION 'permission denied for consumer group "%" of topic "%"', p_group, p_topic
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The group belongs to role "%s"; only roles with its privileges may use it.', g.owner),
                  HINT = 'Use a role that is a member of the group''s owner, or another group name.';
    END IF;
    INSERT INTO topics.group_member AS gm (topic, group_name, member, generation, session_timeout)
    SELECT p_topic, p_group, u.m, cg.generation, u.t
      FROM ROWS FROM (pg_catalog.unnest(p_members), pg_catalog.unnest(p_timeouts)) AS u(m, t),
           topics.consumer_group cg
     WHERE cg.topic OPERATOR(pg_catalog.=) p_topic
       AND cg.name OPERATOR(pg_catalog.=) p_group
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    IF added OPERATOR(pg_catalog.>) 0 THEN
        PERFORM topics_internal._rebalance(p_topic, p_group);
    END IF;
END
$$;
COMMENT ON FUNCTION topics_internal._join_members(text, text, text[], interval[], text, text, regrole) IS
    'Internal: add the members that joined a group together, in one rebalance';
REVOKE EXECUTE ON FUNCTION topics_internal._join_members(text, text, text[], interval[], text, text, regrole) FROM PUBLIC;

-- _join as in 0.2, with a known member's re-sync under a share lock on the
-- group's row: the members of a join window, and every member after a
-- rebalance, re-sync side by side instead of one after another.  Anything
-- else (a new member, a group to claim or to change) takes the row
-- exclusively, as before; the share lock is taken only once the plain
-- look says a re-sync is all it needs.
CREATE OR REPLACE FUNCTION topics_internal._join(p_topic text, p_group text, p_member text,
                                      p_timeout interval, p_strategy text, p_reset text,
                                      p_role regrole,
                                      OUT member text, OUT generation integer,
                                      OUT partitions integer[])
RETURNS record
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g   topics.consumer_group;
    m   topics.group_member;
BEGIN
    SELECT * INTO g FROM topics.consumer_group cg
     WHERE cg.topic OPERATOR(pg_catalog.=) p_topic
       AND cg.name OPERATOR(pg_catalog.=) p_group;
    IF FOUND AND g.owner IS NOT NULL AND g.generation OPERATOR(pg_catalog.>) 0
       AND (p_reset IS NULL OR p_reset OPERATOR(pg_catalog.=) g.auto_offset_reset)
       AND (p_strategy IS NULL OR p_strategy OPERATOR(pg_catalog.=) g.strategy)
       AND EXISTS (SELECT FROM topics.group_member gm
                    WHERE gm.topic OPERATOR(pg_catalog.=) p_topic
                      AND gm.group_name OPERATOR(pg_catalog.=) p_group
                      AND gm.member OPERATOR(pg_catalog.=) p_member) THEN
        SELECT * INTO STRICT g FROM topics.consumer_group cg
         WHERE cg.topic OPERATOR(pg_catalog.=) p_topic
           AND cg.name OPERATOR(pg_catalog.=) p_group
           FOR SHARE;
        UPDATE topics.group_member gm
           SET generation = g.generation, session_timeout = p_timeout
         WHERE gm.topic OPERATOR(pg_catalog.=) p_topic
           AND gm.group_name OPERATOR(pg_catalog.=) p_group
           AND gm.member OPERATOR(pg_catalog.=) p_member;
        IF FOUND THEN
            member := p_member;
            generation := g.generation;
            partitions := ARRAY(SELECT a.partition FROM topics.group_assignment a
                                 WHERE a.topic OPERATOR(pg_catalog.=) p_topic
                                   AND a.group_name OPERATOR(pg_catalog.=) p_group
                                   AND a.member OPERATOR(pg_catalog.=) p_member
                                 ORDER BY a.partition);
            RETURN;
        END IF;
        -- expired or removed meanwhile: joins anew below
    END IF;

    INSERT INTO topics.consumer_group AS cg (topic, name, owner, strategy, auto_offset_reset)
    VALUES (p_topic, p_group, p_role, coalesce(p_strategy, 'range'), coalesce(p_reset, 'latest'))
    ON CONFLICT (topic, name) DO NOTHING;
    SELECT * INTO STRICT g FROM topics.consumer_group cg
     WHERE cg.topic OPERATOR(pg_catalog.=) p_topic
       AND cg.name OPERATOR(pg_catalog.=) p_group
       FOR UPDATE;

    IF g.owner IS NULL THEN
        UPDATE topics.consumer_group cg SET owner = p_role
         WHERE cg.topic OPERATOR(pg_catalog.=) p_topic AND cg.name OPERATOR(pg_catalog.=) p_group;
    END IF;
    IF p_strategy IS NOT NULL AND p_strategy OPERATOR(pg_catalog.<>) g.strategy THEN
        RAISE EXCEPTION 'consumer group "%" uses assignment strategy "%"', p_group, g.strategy
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The member asked for "%s"; all members of a group use one strategy.', p_strategy),
                  HINT = 'Join with the group''s strategy, or use another group name.';
    END IF;
    IF p_reset IS NOT NULL AND p_reset OPERATOR(pg_catalog.<>) g.auto_offset_reset THEN
        UPDATE topics.consumer_group cg SET auto_offset_reset = p_reset
         WHERE cg.topic OPERATOR(pg_catalog.=) p_topic AND cg.name OPERATOR(pg_catalog.=) p_group;
    END IF;

    SELECT * INTO m FROM topics.group_member gm
     WHERE gm.topic OPERATOR(pg_catalog.=) p_topic
       AND gm.group_name OPERATOR(pg_catalog.=) p_group
       AND gm.member OPERATOR(pg_catalog.=) p_member;
    IF NOT FOUND THEN
        INSERT INTO topics.group_member AS gm (topic, group_name, member, generation, session_timeout)
        VALUES (p_topic, p_group, p_member, g.generation, p_timeout);
        generation := topics_internal._rebalance(p_topic, p_group);
    ELSE
        -- a known member re-syncs to the current generation: no rebalance
        generation := g.generation;
        IF generation OPERATOR(pg_catalog.=) 0 THEN
            generation := topics_internal._rebalance(p_topic, p_group);
        END IF;
    END IF;
    UPDATE topics.group_member gm
       SET generation = _join.generation, session_timeout = p_timeout
     WHERE gm.topic OPERATOR(pg_catalog.=) p_topic
       AND gm.group_name OPERATOR(pg_catalog.=) p_group
       AND gm.member OPERATOR(pg_catalog.=) p_member;

    member := p_member;
    partitions := ARRAY(SELECT a.partition FROM topics.group_assignment a
                         WHERE a.topic OPERATOR(pg_catalog.=) p_topic
                           AND a.group_name OPERATOR(pg_catalog.=) p_group
                           AND a.member OPERATOR(pg_catalog.=) p_member
                         ORDER BY a.partition);
END
$$;

-- 0.2 gave a topic's tables names of up to 63 characters, cutting long
-- topic names to fit; 0.3 up to 62, as PostgreSQL names a table's array
-- type "_" and the table's name, and runs out of such names for tables
-- whose names differ only in their 63rd character (see table_name in
-- src/log/topic_tables.c).  The partition tables and segments named so by
-- 0.2 take their 0.3 names; the roots keep theirs (a topic's name).  Each
-- goes through a name of its own first, with a "$" no topic's name has: a
-- 0.3 name may be the first 62 characters of a 0.2 name not renamed yet,
-- whose array type holds the array type name it would get.  The update
-- locks each table it renames.
DO $$
DECLARE
    renames pg_catalog.text[][] := '{}';
    r record;
    i integer;
BEGIN
    FOR r IN
        SELECT c.oid, n.new_name
          FROM (SELECT p.topic, p.partition, NULL::pg_catalog.int8 AS base_offset
                  FROM topics.partition p
                UNION ALL
                SELECT s.topic, s.partition, s.base_offset
                  FROM topics.segment s) t
         CROSS JOIN LATERAL
               (SELECT '$' OPERATOR(pg_catalog.||) t.partition
                       OPERATOR(pg_catalog.||) COALESCE('$' OPERATOR(pg_catalog.||) t.base_offset, '')
                       AS suffix) x
         CROSS JOIN LATERAL
               (SELECT CASE WHEN pg_catalog.length(t.topic) OPERATOR(pg_catalog.+) pg_catalog.length(x.suffix)
                                 OPERATOR(pg_catalog.<=) 63
                            THEN t.topic OPERATOR(pg_catalog.||) x.suffix
                            ELSE pg_catalog.left(t.topic, 46 OPERATOR(pg_catalog.-) pg_catalog.length(x.suffix))
                                 OPERATOR(pg_catalog.||) '~'
                                 OPERATOR(pg_catalog.||) pg_catalog.left(pg_catalog.encode(
                                        pg_catalog.sha256(pg_catalog.convert_to(t.topic, 'UTF8')), 'hex'), 16)
                                 OPERATOR(pg_catalog.||) x.suffix
                       END AS old_name,
                       topics_internal.table_name(t.topic, t.partition, t.base_offset) AS new_name) n
          JOIN pg_catalog.pg_class c
            ON c.relname OPERATOR(pg_catalog.=) n.old_name
           AND c.relnamespace OPERATOR(pg_catalog.=) 'topics_data'::pg_catalog.regnamespace
         WHERE n.old_name OPERATOR(pg_catalog.<>) n.new_name
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s RENAME TO %I', r.oid::pg_catalog.regclass,
                                  '$renaming$' OPERATOR(pg_catalog.||) r.oid);
        renames := renames OPERATOR(pg_catalog.||)
                   ARRAY[ARRAY['$renaming$' OPERATOR(pg_catalog.||) r.oid, r.new_name]];
    END LOOP;
    FOR i IN 1 .. COALESCE(pg_catalog.array_length(renames, 1), 0) LOOP
        EXECUTE pg_catalog.format('ALTER TABLE topics_data.%I RENAME TO %I',
                                  renames[i][1], renames[i][2]);
    END LOOP;
END
$$;
