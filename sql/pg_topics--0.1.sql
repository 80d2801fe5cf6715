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

-- Row types of the hot paths: a named composite type costs the executor a
-- type cache lookup, where OUT parameters are parsed again at every call.
CREATE TYPE topics.produced AS (partition integer, msg_offset bigint);
COMMENT ON TYPE topics.produced IS 'Where a produced message landed';
CREATE TYPE topics.message AS (
    partition integer, msg_offset bigint, "timestamp" timestamptz,
    key bytea, value bytea, headers jsonb);
COMMENT ON TYPE topics.message IS 'A message as stored in a partition';

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
    "timestamp" timestamptz DEFAULT NULL)
RETURNS topics.produced
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce';
COMMENT ON FUNCTION topics.produce(text, bytea, bytea, integer, jsonb, timestamptz) IS
    'Append one message; returns its partition and offset';

CREATE FUNCTION topics.produce(
    topic text, value text, key text DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL)
RETURNS topics.produced
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce_text';
COMMENT ON FUNCTION topics.produce(text, text, text, integer, jsonb, timestamptz) IS
    'Append one message whose key and value are the UTF-8 bytes of text';

CREATE FUNCTION topics.produce(
    topic text, value jsonb, key text DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL)
RETURNS topics.produced
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce_jsonb';
COMMENT ON FUNCTION topics.produce(text, jsonb, text, integer, jsonb, timestamptz) IS
    'Append one message whose value is the UTF-8 text of a JSON document';

CREATE FUNCTION topics.produce_batch(
    topic text, "values" bytea[], keys bytea[] DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb[] DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL)
RETURNS SETOF topics.produced
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce_batch';
COMMENT ON FUNCTION topics.produce_batch(text, bytea[], bytea[], integer, jsonb[], timestamptz) IS
    'Append one message per array element; returns partition and offset of each, in order';

CREATE FUNCTION topics.produce_batch(
    topic text, "values" text[], keys text[] DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb[] DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL)
RETURNS SETOF topics.produced
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce_batch_text';
COMMENT ON FUNCTION topics.produce_batch(text, text[], text[], integer, jsonb[], timestamptz) IS
    'Append one text message per array element';

CREATE FUNCTION topics.produce_batch(
    topic text, "values" jsonb[], keys text[] DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb[] DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL)
RETURNS SETOF topics.produced
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce_batch_jsonb';
COMMENT ON FUNCTION topics.produce_batch(text, jsonb[], text[], integer, jsonb[], timestamptz) IS
    'Append one JSON message per array element';

-- Read

CREATE FUNCTION topics._fetch(
    topic text, partition integer, from_offset bigint,
    max_messages integer, max_wait interval)
RETURNS SETOF topics.message
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics__fetch';
COMMENT ON FUNCTION topics._fetch(text, integer, bigint, integer, interval) IS
    'Internal: the messages topics.fetch() returns, as stored';

-- fetch is SQL so that the planner inlines it: the C function then hands
-- over rows as stored, and the topic's name is added by the caller's query.
-- Inlining needs a non-volatile SQL function without a SET clause; the body
-- names everything in full.
CREATE FUNCTION topics.fetch(
    topic text, partition integer, from_offset bigint,
    max_messages integer DEFAULT 100, max_wait interval DEFAULT '0')
RETURNS TABLE (topic text, partition integer, msg_offset bigint,
               "timestamp" timestamptz, key bytea, value bytea, headers jsonb)
LANGUAGE sql STABLE PARALLEL UNSAFE
AS $$
SELECT $1, r.partition, r.msg_offset, r."timestamp", r.key, r.value, r.headers
  FROM topics._fetch($1, $2, $3, $4, $5) r
$$;
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


-- Consumer groups
--
-- A group is named per topic.  Members join and are assigned partitions;
-- each rebalance bumps the group's generation, and a member whose own
-- generation is older must join again before it may poll or commit.
-- Positions live in topics.committed_offset, one row per partition: the
-- next offset the group reads there (NULL: none yet).

CREATE TABLE topics.consumer_group (
    group_id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL,
    topic_id          integer NOT NULL REFERENCES topics.topic ON DELETE CASCADE,
    strategy          text NOT NULL CHECK (strategy IN ('range', 'roundrobin', 'sticky')),
    auto_offset_reset text NOT NULL CHECK (auto_offset_reset IN ('earliest', 'latest', 'none')),
    generation        integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (name, topic_id)
);
COMMENT ON TABLE topics.consumer_group IS 'One row per consumer group of a topic';

CREATE TABLE topics.group_member (
    member_id        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_id         integer NOT NULL REFERENCES topics.consumer_group ON DELETE CASCADE,
    member           text NOT NULL,
    generation       integer NOT NULL,
    session_timeout  interval NOT NULL,
    joined_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (group_id, member)
);
COMMENT ON TABLE topics.group_member IS 'Members of consumer groups, with the generation each last joined at';

CREATE TABLE topics.group_assignment (
    group_id   integer NOT NULL REFERENCES topics.consumer_group ON DELETE CASCADE,
    partition  integer NOT NULL,
    member_id  integer REFERENCES topics.group_member ON DELETE SET NULL,
    PRIMARY KEY (group_id, partition)
);
COMMENT ON TABLE topics.group_assignment IS 'The member that owns each partition, as of the group''s generation';

CREATE TABLE topics.committed_offset (
    group_id      integer NOT NULL REFERENCES topics.consumer_group ON DELETE CASCADE,
    partition     integer NOT NULL,
    committed     bigint,
    committed_at  timestamptz,
    PRIMARY KEY (group_id, partition)
);
COMMENT ON TABLE topics.committed_offset IS 'Per group and partition, the next offset to read (NULL: none committed yet)';

SELECT pg_catalog.pg_extension_config_dump('topics.consumer_group', '');
SELECT pg_catalog.pg_extension_config_dump('topics.group_member', '');
SELECT pg_catalog.pg_extension_config_dump('topics.group_assignment', '');
SELECT pg_catalog.pg_extension_config_dump('topics.committed_offset', '');

REVOKE ALL ON topics.consumer_group, topics.group_member,
    topics.group_assignment, topics.committed_offset FROM PUBLIC;
GRANT SELECT ON topics.consumer_group, topics.group_member,
    topics.group_assignment, topics.committed_offset TO PUBLIC;

-- _assign returns, for n partitions, the index (1-based, into members) of
-- the member that gets each partition; previous holds the former owner of
-- each partition as an index, or 0.
CREATE FUNCTION topics._assign(strategy text, nmembers integer, n integer,
                               previous integer[])
RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result integer[] := array_fill(0, ARRAY[n]);
    quota  integer[] := array_fill(0, ARRAY[nmembers]);
    held   integer[] := array_fill(0, ARRAY[nmembers]);
    p      integer;
    m      integer;
    best   integer;
BEGIN
    IF nmembers = 0 OR n = 0 THEN
        RETURN result;
    END IF;
    IF strategy = 'roundrobin' THEN
        FOR p IN 0 .. n - 1 LOOP
            result[p + 1] := p % nmembers + 1;
        END LOOP;
        RETURN result;
    END IF;

    -- range (and sticky's target): the first n % nmembers members get one more
    FOR m IN 1 .. nmembers LOOP
        quota[m] := n / nmembers + CASE WHEN m <= n % nmembers THEN 1 ELSE 0 END;
    END LOOP;
    IF strategy = 'range' THEN
        p := 0;
        FOR m IN 1 .. nmembers LOOP
            FOR i IN 1 .. quota[m] LOOP
                result[p + 1] := m;
                p := p + 1;
            END LOOP;
        END LOOP;
        RETURN result;
    END IF;

    -- sticky: keep each partition with its former owner while the owner is
    -- under its quota, then hand the rest to the members holding fewest.
    -- Quotas are balanced (they differ by at most one), so which member
    -- gets the larger quota follows who already holds more.
    FOR p IN 1 .. n LOOP
        m := coalesce(previous[p], 0);
        IF m BETWEEN 1 AND nmembers AND held[m] < n / nmembers + 1 THEN
            result[p] := m;
            held[m] := held[m] + 1;
        END IF;
    END LOOP;
    -- at most n % nmembers members may hold one more than n / nmembers
    DECLARE
        extra integer := 0;
    BEGIN
        FOR m IN 1 .. nmembers LOOP
            IF held[m] > n / nmembers THEN
                extra := extra + 1;
                IF extra > n % nmembers THEN
                    FOR p IN REVERSE n .. 1 LOOP
                        IF result[p] = m THEN
                            result[p] := 0;
                            held[m] := held[m] - 1;
                            EXIT;
                        END IF;
                    END LOOP;
                END IF;
            END IF;
        END LOOP;
    END;
    FOR p IN 1 .. n LOOP
        IF result[p] = 0 THEN
            best := 1;
            FOR m IN 2 .. nmembers LOOP
                IF held[m] < held[best] THEN
                    best := m;
                END IF;
            END LOOP;
            result[p] := best;
            held[best] := held[best] + 1;
        END IF;
    END LOOP;
    RETURN result;
END
$$;
COMMENT ON FUNCTION topics._assign(text, integer, integer, integer[]) IS
    'Internal: the range, roundrobin and sticky assignors';

-- _rebalance assigns the partitions of a group to its members (ordered by
-- name, as Kafka orders member ids) and bumps the generation.  Caller holds
-- the group row locked.
CREATE FUNCTION topics._rebalance(p_group_id integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g        topics.consumer_group;
    n        integer;
    members  integer[];
    previous integer[];
    owner    integer[];
BEGIN
    SELECT * INTO STRICT g FROM topics.consumer_group WHERE group_id OPERATOR(pg_catalog.=) p_group_id;
    SELECT t.partitions INTO STRICT n FROM topics.topic t WHERE t.topic_id OPERATOR(pg_catalog.=) g.topic_id;

    -- every partition has a position row and an assignment row.  Rows that
    -- exist are filtered out first: ON CONFLICT alone would wait for a poll
    -- in progress, which writes its position row when it claims it.
    INSERT INTO topics.committed_offset (group_id, partition)
    SELECT p_group_id, p FROM generate_series(0, n - 1) p
     WHERE NOT EXISTS (SELECT FROM topics.committed_offset c
                        WHERE c.group_id OPERATOR(pg_catalog.=) p_group_id
                          AND c.partition OPERATOR(pg_catalog.=) p)
    ON CONFLICT DO NOTHING;
    INSERT INTO topics.group_assignment (group_id, partition)
    SELECT p_group_id, p FROM generate_series(0, n - 1) p
    ON CONFLICT DO NOTHING;

    members := ARRAY(SELECT m.member_id FROM topics.group_member m
                      WHERE m.group_id OPERATOR(pg_catalog.=) p_group_id
                      ORDER BY m.member COLLATE "C");
    previous := ARRAY(SELECT coalesce(array_position(members, a.member_id), 0)
                        FROM topics.group_assignment a
                       WHERE a.group_id OPERATOR(pg_catalog.=) p_group_id
                       ORDER BY a.partition);
    owner := topics._assign(g.strategy, cardinality(members), n, previous);

    UPDATE topics.group_assignment a
       SET member_id = CASE WHEN owner[a.partition + 1] > 0
                            THEN members[owner[a.partition + 1]] END
     WHERE a.group_id OPERATOR(pg_catalog.=) p_group_id
       AND a.member_id IS DISTINCT FROM
           CASE WHEN owner[a.partition + 1] > 0 THEN members[owner[a.partition + 1]] END;

    UPDATE topics.consumer_group SET generation = generation + 1
     WHERE group_id OPERATOR(pg_catalog.=) p_group_id;
    RETURN g.generation + 1;
END
$$;
COMMENT ON FUNCTION topics._rebalance(integer) IS
    'Internal: reassign a group''s partitions and bump its generation';

-- _join adds or re-syncs a member; the C entry point topics.join checks
-- privileges and calls this as the extension's owner.
CREATE FUNCTION topics._join(p_topic_id integer, p_group text, p_member text,
                             p_timeout interval, p_strategy text, p_reset text,
                             OUT member_id integer, OUT member text,
                             OUT generation integer, OUT partitions integer[])
RETURNS record
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g   topics.consumer_group;
    m   topics.group_member;
BEGIN
    INSERT INTO topics.consumer_group AS cg (name, topic_id, strategy, auto_offset_reset)
    VALUES (p_group, p_topic_id, coalesce(p_strategy, 'range'), coalesce(p_reset, 'latest'))
    ON CONFLICT (name, topic_id) DO NOTHING;
    SELECT * INTO STRICT g FROM topics.consumer_group cg
     WHERE cg.name OPERATOR(pg_catalog.=) p_group
       AND cg.topic_id OPERATOR(pg_catalog.=) p_topic_id
       FOR UPDATE;

    IF p_strategy IS NOT NULL AND p_strategy OPERATOR(pg_catalog.<>) g.strategy THEN
        RAISE EXCEPTION 'consumer group "%" uses assignment strategy "%"', p_group, g.strategy
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The member asked for "%s"; all members of a group use one strategy.', p_strategy),
                  HINT = 'Join with the group''s strategy, or use another group name.';
    END IF;
    IF p_reset IS NOT NULL AND p_reset OPERATOR(pg_catalog.<>) g.auto_offset_reset THEN
        UPDATE topics.consumer_group cg SET auto_offset_reset = p_reset
         WHERE cg.group_id OPERATOR(pg_catalog.=) g.group_id;
    END IF;

    SELECT * INTO m FROM topics.group_member gm
     WHERE gm.group_id OPERATOR(pg_catalog.=) g.group_id
       AND gm.member OPERATOR(pg_catalog.=) p_member;
    IF NOT FOUND THEN
        INSERT INTO topics.group_member AS gm (group_id, member, generation, session_timeout)
        VALUES (g.group_id, p_member, g.generation, p_timeout)
        RETURNING * INTO m;
        generation := topics._rebalance(g.group_id);
    ELSE
        -- a known member re-syncs to the current generation: no rebalance
        generation := g.generation;
        IF generation OPERATOR(pg_catalog.=) 0 THEN
            generation := topics._rebalance(g.group_id);
        END IF;
    END IF;
    UPDATE topics.group_member gm
       SET generation = _join.generation, session_timeout = p_timeout
     WHERE gm.member_id OPERATOR(pg_catalog.=) m.member_id;

    member_id := m.member_id;
    member := p_member;
    partitions := ARRAY(SELECT a.partition FROM topics.group_assignment a
                         WHERE a.group_id OPERATOR(pg_catalog.=) g.group_id
                           AND a.member_id OPERATOR(pg_catalog.=) m.member_id
                         ORDER BY a.partition);
END
$$;
COMMENT ON FUNCTION topics._join(integer, text, text, interval, text, text) IS
    'Internal: add a member to a group (rebalancing) or re-sync a known one';

-- _leave removes members (by id) and rebalances their groups.
CREATE FUNCTION topics._leave(p_member_ids integer[])
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gid integer;
    n   integer := 0;
BEGIN
    FOR gid IN
        SELECT DISTINCT cg.group_id FROM topics.consumer_group cg
          JOIN topics.group_member gm USING (group_id)
         WHERE gm.member_id OPERATOR(pg_catalog.=) ANY (p_member_ids)
         ORDER BY 1
    LOOP
        PERFORM 1 FROM topics.consumer_group cg
         WHERE cg.group_id OPERATOR(pg_catalog.=) gid FOR UPDATE;
        DELETE FROM topics.group_member gm
         WHERE gm.group_id OPERATOR(pg_catalog.=) gid
           AND gm.member_id OPERATOR(pg_catalog.=) ANY (p_member_ids);
        PERFORM topics._rebalance(gid);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION topics._leave(integer[]) IS
    'Internal: remove members and rebalance their groups';

-- The group API.  The C entry points check the caller's SELECT privilege on
-- the topic, then run the PL/pgSQL above as the extension's owner.

CREATE FUNCTION topics.join(
    group_name text, topic text, member_name text DEFAULT NULL,
    session_timeout interval DEFAULT '45 s', strategy text DEFAULT NULL,
    auto_offset_reset text DEFAULT NULL,
    OUT member text, OUT generation integer, OUT partitions integer[])
RETURNS record
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pg_topics_join';
COMMENT ON FUNCTION topics.join(text, text, text, interval, text, text) IS
    'Join a consumer group (creating it), or re-sync after a rebalance; returns the member, generation and partitions';

CREATE FUNCTION topics.leave(group_name text, topic text, member_name text)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pg_topics_leave';
COMMENT ON FUNCTION topics.leave(text, text, text) IS
    'Leave a consumer group, which rebalances it';

CREATE FUNCTION topics.heartbeat(group_name text, topic text, member_name text,
    OUT generation integer, OUT rejoin boolean)
RETURNS record
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pg_topics_heartbeat';
COMMENT ON FUNCTION topics.heartbeat(text, text, text) IS
    'Keep a member alive; says whether it must join again after a rebalance';

CREATE FUNCTION topics.commit(group_name text, topic text, partition integer,
    msg_offset bigint, member_name text DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pg_topics_commit';
COMMENT ON FUNCTION topics.commit(text, text, integer, bigint, text) IS
    'Set the group''s position in a partition (the next offset to read) in this transaction';

CREATE FUNCTION topics.seek(group_name text, topic text, partition integer,
    msg_offset bigint)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pg_topics_seek';
COMMENT ON FUNCTION topics.seek(text, text, integer, bigint) IS
    'Move the group''s position in a partition to an offset';

CREATE FUNCTION topics.seek(group_name text, topic text, partition integer,
    ts timestamptz)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pg_topics_seek_time';
COMMENT ON FUNCTION topics.seek(text, text, integer, timestamptz) IS
    'Move the group''s position in a partition to the first message at or after a time';

CREATE FUNCTION topics._poll(
    group_name text, topic text, member_name text, max_messages integer,
    max_wait interval)
RETURNS SETOF topics.message
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics__poll';
COMMENT ON FUNCTION topics._poll(text, text, text, integer, interval) IS
    'Internal: the messages topics.poll() returns';

-- _take is the poll's row filter: it runs once for each row the poll's scan
-- hands out and lets every row through.  Its tiny cost puts it before the
-- caller's own WHERE conditions, which the planner orders cheapest first.
-- Not STRICT: the planner would fold a call with a NULL argument to NULL,
-- a filter that drops every row without calling _poll and its checks.
CREATE FUNCTION topics._take(group_name text, topic text, partition integer,
    msg_offset bigint)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE COST 0.0001
AS 'MODULE_PATHNAME', 'pg_topics__take';
COMMENT ON FUNCTION topics._take(text, text, integer, bigint) IS
    'Internal: move this transaction''s position past a polled message';

-- poll is SQL so that the planner inlines it into the caller's query: then
-- _take runs for each row as the query's scan hands it out, and a cursor
-- moves the position only past the rows it fetched.  As a WHERE condition
-- (not an output column) it leaves the inlined subquery simple enough to be
-- pulled up into the caller's query, which saves a plan node per row.
-- Inlining needs a non-volatile SQL function without a SET clause; the body
-- names everything in full.
CREATE FUNCTION topics.poll(
    group_name text, topic text, member_name text,
    max_messages integer DEFAULT 100, max_wait interval DEFAULT '0')
RETURNS TABLE (topic text, partition integer, msg_offset bigint,
               "timestamp" timestamptz, key bytea, value bytea, headers jsonb)
LANGUAGE sql STABLE PARALLEL UNSAFE
AS $$
SELECT $2, r.partition, r.msg_offset, r."timestamp", r.key, r.value, r.headers
  FROM topics._poll($1, $2, $3, $4, $5) r
 WHERE topics._take($1, $2, r.partition, r.msg_offset)
$$;
COMMENT ON FUNCTION topics.poll(text, text, text, integer, interval) IS
    'Read the next committed messages of a member''s partitions; the group''s position moves with the caller''s transaction';

CREATE FUNCTION topics._expire_members()
RETURNS integer
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pg_topics__expire_members';
COMMENT ON FUNCTION topics._expire_members() IS
    'Internal: remove members silent for longer than their session timeout (run by the worker)';

CREATE FUNCTION topics._last_seen(member_id integer)
RETURNS timestamptz
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics__last_seen';
COMMENT ON FUNCTION topics._last_seen(integer) IS
    'Internal: when this server last saw a member';

CREATE VIEW topics.groups AS
SELECT g.name AS group_name,
       t.name AS topic,
       g.strategy,
       g.auto_offset_reset,
       g.generation,
       (SELECT pg_catalog.count(*) FROM topics.group_member m
         WHERE m.group_id OPERATOR(pg_catalog.=) g.group_id) AS members,
       g.created_at
  FROM topics.consumer_group g
  JOIN topics.topic t USING (topic_id);
COMMENT ON VIEW topics.groups IS 'Consumer groups, with their strategy and generation';

CREATE VIEW topics.group_members AS
SELECT g.name AS group_name,
       t.name AS topic,
       m.member,
       m.generation,
       m.generation OPERATOR(pg_catalog.=) g.generation AS current,
       ARRAY(SELECT a.partition FROM topics.group_assignment a
              WHERE a.group_id OPERATOR(pg_catalog.=) g.group_id
                AND a.member_id OPERATOR(pg_catalog.=) m.member_id
              ORDER BY a.partition) AS partitions,
       topics._last_seen(m.member_id) AS last_seen,
       m.session_timeout,
       m.joined_at
  FROM topics.group_member m
  JOIN topics.consumer_group g USING (group_id)
  JOIN topics.topic t USING (topic_id);
COMMENT ON VIEW topics.group_members IS
    'Members of consumer groups: generation, partitions, when last seen';

CREATE VIEW topics.group_lag AS
SELECT g.name AS group_name,
       t.name AS topic,
       i.partition,
       c.committed,
       i.lso,
       i.log_end,
       CASE WHEN c.committed IS NOT NULL
            THEN GREATEST(i.lso OPERATOR(pg_catalog.-) c.committed, 0) END AS lag,
       m.member
  FROM topics.consumer_group g
  JOIN topics.topic t USING (topic_id)
  CROSS JOIN LATERAL topics.partition_info(t.name) i
  LEFT JOIN topics.committed_offset c
    ON c.group_id OPERATOR(pg_catalog.=) g.group_id
   AND c.partition OPERATOR(pg_catalog.=) i.partition
  LEFT JOIN topics.group_assignment a
    ON a.group_id OPERATOR(pg_catalog.=) g.group_id
   AND a.partition OPERATOR(pg_catalog.=) i.partition
  LEFT JOIN topics.group_member m
    ON m.member_id OPERATOR(pg_catalog.=) a.member_id;
COMMENT ON VIEW topics.group_lag IS
    'Per group and partition: committed offset, LSO and lag, from the catalog and shared memory only';

GRANT SELECT ON topics.groups, topics.group_members, topics.group_lag TO PUBLIC;

-- Every function is revoked from PUBLIC, then granted: privileges on the
-- topics themselves (INSERT to produce, SELECT to read, ownership to drop)
-- and CREATE on topics_data (to create a topic) are checked inside.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA topics FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA topics TO PUBLIC;

-- internal functions that write the group tables run only as the owner
REVOKE EXECUTE ON FUNCTION topics._assign(text, integer, integer, integer[]),
    topics._rebalance(integer),
    topics._join(integer, text, text, interval, text, text),
    topics._leave(integer[]),
    topics._expire_members() FROM PUBLIC;
