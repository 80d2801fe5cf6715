/* sql/pg_topics--0.1--0.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_topics UPDATE TO '0.2'" to load this file. \quit

-- 0.2 hardens the log.
--
-- * The catalog is keyed by names, the same on every node: no ids from
--   sequences, no regclass values.  A topic's tables are named after it
--   (topics_internal.table_name), and a persisted record per partition
--   (topics.partition: log start and stable offset; topics.high_water: the
--   durable high-water mark of offsets) is an ordinary row keyed by topic
--   and partition.
-- * Topic tables belong to the owner of schema topics_data, not to the
--   role that created the topic: nobody else may change their shape.  The
--   creator becomes the topic's owner in topics.topic and gets SELECT and
--   INSERT on the root table WITH GRANT OPTION, to hand on.  INSERT is the
--   produce privilege; a direct INSERT is refused by a trigger.
-- * Schema topics_data is no longer writable by users: EXECUTE on
--   topics.create_topic is the privilege to create topics.
-- * Consumer groups have an owner role: only roles with its privileges may
--   join, poll, commit, seek, heartbeat or leave.
-- * Internal functions move to schema topics_internal; the catalog tables
--   are read through the views of schema topics.
--
-- A fresh install runs pg_topics--0.1.sql and then this script, so both
-- roads end with the same objects.

CREATE SCHEMA topics_internal;
COMMENT ON SCHEMA topics_internal IS 'pg_topics internals: functions the API calls, not meant to be called directly';
GRANT USAGE ON SCHEMA topics_internal TO PUBLIC;

-- Views and functions that read the old catalog go first.
DROP VIEW topics.group_lag, topics.group_members, topics.groups,
    topics.partitions, topics.topics;
DROP FUNCTION topics.partition_info(text);
DROP FUNCTION topics._last_seen(integer);
DROP FUNCTION topics._join(integer, text, text, interval, text, text);
DROP FUNCTION topics._leave(integer[]);
DROP FUNCTION topics._rebalance(integer);
DROP FUNCTION topics._expire_members();

-- The internal functions the API inlines move out of the user's way; fetch
-- no longer needs one (see topics.fetch below).
DROP FUNCTION topics._fetch(text, integer, bigint, integer, interval);
ALTER FUNCTION topics._poll(text, text, text, integer, interval)
    SET SCHEMA topics_internal;
ALTER FUNCTION topics._take(text, text, integer, bigint)
    SET SCHEMA topics_internal;
ALTER FUNCTION topics._assign(text, integer, integer, integer[])
    SET SCHEMA topics_internal;

-- table_name is the name of a topic's table: the root (partition NULL), a
-- partition's table or a segment.  Every node derives the same names.
CREATE FUNCTION topics_internal.table_name(topic text, partition integer DEFAULT NULL,
                                           base_offset bigint DEFAULT NULL)
RETURNS text
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'pg_topics_table_name';
COMMENT ON FUNCTION topics_internal.table_name(text, integer, bigint) IS
    'Internal: the name in schema topics_data of a topic''s root table, partition table or segment';

-- refuse_direct_write is the statement trigger of every topic's root table:
-- messages are written by topics.produce, which takes offsets from the
-- partition's counter and holds back readers until it commits.  INSERT on
-- the root table is the privilege to produce; the trigger refuses it as a
-- statement of its own, for every role.  (pg_dump and pg_restore copy the
-- data of each segment table, whose rows need no trigger.)
CREATE FUNCTION topics_internal.refuse_direct_write()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'cannot % topic "%" directly', pg_catalog.lower(TG_OP), TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Messages are written only by topics.produce() and topics.produce_batch(), which give them their offsets.',
              HINT = 'Call topics.produce() or topics.produce_batch(); INSERT on the topic''s table is the privilege to do so.';
END
$$;
COMMENT ON FUNCTION topics_internal.refuse_direct_write() IS
    'Internal: trigger that refuses direct writes to a topic''s table';

CREATE FUNCTION topics_internal._expire_members()
RETURNS integer
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pg_topics__expire_members';
COMMENT ON FUNCTION topics_internal._expire_members() IS
    'Internal: remove members silent for longer than their session timeout (run by the worker)';

CREATE FUNCTION topics_internal._last_seen(topic text, group_name text, member text)
RETURNS timestamptz
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics__last_seen_0_2';
COMMENT ON FUNCTION topics_internal._last_seen(text, text, text) IS
    'Internal: when this server last saw a member';

-- The old catalog moves aside, out of the extension, until it is copied.
CREATE SCHEMA topics_0_1;
ALTER TABLE topics.topic SET SCHEMA topics_0_1;
ALTER TABLE topics.partition SET SCHEMA topics_0_1;
ALTER TABLE topics.segment SET SCHEMA topics_0_1;
ALTER TABLE topics.consumer_group SET SCHEMA topics_0_1;
ALTER TABLE topics.group_member SET SCHEMA topics_0_1;
ALTER TABLE topics.group_assignment SET SCHEMA topics_0_1;
ALTER TABLE topics.committed_offset SET SCHEMA topics_0_1;
ALTER EXTENSION pg_topics DROP TABLE topics_0_1.topic;
ALTER EXTENSION pg_topics DROP TABLE topics_0_1.partition;
ALTER EXTENSION pg_topics DROP TABLE topics_0_1.segment;
ALTER EXTENSION pg_topics DROP TABLE topics_0_1.consumer_group;
ALTER EXTENSION pg_topics DROP TABLE topics_0_1.group_member;
ALTER EXTENSION pg_topics DROP TABLE topics_0_1.group_assignment;
ALTER EXTENSION pg_topics DROP TABLE topics_0_1.committed_offset;
ALTER EXTENSION pg_topics DROP SEQUENCE topics_0_1.topic_topic_id_seq;
ALTER EXTENSION pg_topics DROP SEQUENCE topics_0_1.consumer_group_group_id_seq;
ALTER EXTENSION pg_topics DROP SEQUENCE topics_0_1.group_member_member_id_seq;

-- The catalog.  Names are text in the "C" collation: compared byte by
-- byte, the same on every node and cheap to look up from C.

CREATE TABLE topics.topic (
    name        text COLLATE "C" PRIMARY KEY,
    mode        text NOT NULL CHECK (mode IN ('stream', 'store', 'queue')),
    partitions  integer NOT NULL CHECK (partitions > 0),
    config      jsonb NOT NULL DEFAULT '{}',
    owner       regrole NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE topics.topic IS 'One row per topic, with the role that owns it';

-- The persisted record of a partition, published to replicas: where its
-- log starts, and the stable offset, below which every transaction that
-- produced has ended (the per-database worker advances it).
CREATE TABLE topics.partition (
    topic         text COLLATE "C" NOT NULL REFERENCES topics.topic ON DELETE CASCADE,
    partition     integer NOT NULL CHECK (partition >= 0),
    log_start     bigint NOT NULL DEFAULT 0,
    stable_offset bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, partition)
);
COMMENT ON TABLE topics.partition IS 'One row per partition: log start and stable offset';

-- The durable high-water mark of a partition's offsets: no offset at or
-- above it has been handed out.  Producers raise it ahead of the counter
-- and overwrite the row in place, as a sequence logs ahead, so it is never
-- updated by a transaction (which could lose an overwrite).
CREATE TABLE topics.high_water (
    topic       text COLLATE "C" NOT NULL,
    partition   integer NOT NULL,
    high_water  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, partition),
    FOREIGN KEY (topic, partition) REFERENCES topics.partition ON DELETE CASCADE
);
COMMENT ON TABLE topics.high_water IS 'Per partition, an offset above every offset handed out (written in place)';

CREATE TABLE topics.segment (
    topic       text COLLATE "C" NOT NULL,
    partition   integer NOT NULL,
    base_offset bigint NOT NULL,
    end_offset  bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (topic, partition, base_offset),
    FOREIGN KEY (topic, partition) REFERENCES topics.partition ON DELETE CASCADE,
    CHECK (end_offset > base_offset)
);
COMMENT ON TABLE topics.segment IS 'One row per segment table of this node: the offsets [base_offset, end_offset) of a partition';

CREATE TABLE topics.consumer_group (
    topic             text COLLATE "C" NOT NULL REFERENCES topics.topic ON DELETE CASCADE,
    name              text COLLATE "C" NOT NULL,
    owner             regrole,
    strategy          text NOT NULL CHECK (strategy IN ('range', 'roundrobin', 'sticky')),
    auto_offset_reset text NOT NULL CHECK (auto_offset_reset IN ('earliest', 'latest', 'none')),
    generation        integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (topic, name)
);
COMMENT ON TABLE topics.consumer_group IS 'One row per consumer group of a topic, with the role it belongs to (NULL: made before 0.2, claimed by the next join)';

CREATE TABLE topics.group_member (
    topic            text COLLATE "C" NOT NULL,
    group_name       text COLLATE "C" NOT NULL,
    member           text COLLATE "C" NOT NULL,
    generation       integer NOT NULL,
    session_timeout  interval NOT NULL,
    joined_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (topic, group_name, member),
    FOREIGN KEY (topic, group_name) REFERENCES topics.consumer_group ON DELETE CASCADE
);
COMMENT ON TABLE topics.group_member IS 'Members of consumer groups, with the generation each last joined at';

CREATE TABLE topics.group_assignment (
    topic       text COLLATE "C" NOT NULL,
    group_name  text COLLATE "C" NOT NULL,
    partition   integer NOT NULL,
    member      text COLLATE "C",
    PRIMARY KEY (topic, group_name, partition),
    FOREIGN KEY (topic, group_name) REFERENCES topics.consumer_group ON DELETE CASCADE,
    FOREIGN KEY (topic, group_name, member) REFERENCES topics.group_member
        ON DELETE SET NULL (member)
);
COMMENT ON TABLE topics.group_assignment IS 'The member that owns each partition, as of the group''s generation';

CREATE TABLE topics.committed_offset (
    topic         text COLLATE "C" NOT NULL,
    group_name    text COLLATE "C" NOT NULL,
    partition     integer NOT NULL,
    committed     bigint,
    committed_at  timestamptz,
    PRIMARY KEY (topic, group_name, partition),
    FOREIGN KEY (topic, group_name) REFERENCES topics.consumer_group ON DELETE CASCADE
);
COMMENT ON TABLE topics.committed_offset IS 'Per group and partition, the next offset to read (NULL: none committed yet)';

SELECT pg_catalog.pg_extension_config_dump('topics.topic', '');
SELECT pg_catalog.pg_extension_config_dump('topics.partition', '');
SELECT pg_catalog.pg_extension_config_dump('topics.high_water', '');
SELECT pg_catalog.pg_extension_config_dump('topics.segment', '');
SELECT pg_catalog.pg_extension_config_dump('topics.consumer_group', '');
SELECT pg_catalog.pg_extension_config_dump('topics.group_member', '');
SELECT pg_catalog.pg_extension_config_dump('topics.group_assignment', '');
SELECT pg_catalog.pg_extension_config_dump('topics.committed_offset', '');

-- The catalog is read through the views below, which show each role only
-- the topics and groups it may see.
REVOKE ALL ON topics.topic, topics.partition, topics.high_water, topics.segment,
    topics.consumer_group, topics.group_member, topics.group_assignment,
    topics.committed_offset FROM PUBLIC;

-- Copy the old catalog.
INSERT INTO topics.topic (name, mode, partitions, config, owner, created_at)
SELECT t.name, t.mode, t.partitions, t.config, c.relowner::pg_catalog.regrole, t.created_at
  FROM topics_0_1.topic t
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.relid::pg_catalog.oid;

INSERT INTO topics.partition (topic, partition, log_start)
SELECT t.name, p.partition,
       (SELECT pg_catalog.min(s.base_offset) FROM topics_0_1.segment s
         WHERE s.topic_id OPERATOR(pg_catalog.=) p.topic_id
           AND s.partition OPERATOR(pg_catalog.=) p.partition)
  FROM topics_0_1.partition p
  JOIN topics_0_1.topic t ON t.topic_id OPERATOR(pg_catalog.=) p.topic_id;

-- 0.1 rebuilt its counters from the rows present, which could hand out
-- again offsets that a group had read past: start the mark above every
-- committed position.  The counter itself resumes above both the mark and
-- the highest offset stored.
INSERT INTO topics.high_water (topic, partition, high_water)
SELECT t.name, p.partition,
       COALESCE((SELECT pg_catalog.max(o.committed) FROM topics_0_1.committed_offset o
                   JOIN topics_0_1.consumer_group g ON g.group_id OPERATOR(pg_catalog.=) o.group_id
                  WHERE g.topic_id OPERATOR(pg_catalog.=) p.topic_id
                    AND o.partition OPERATOR(pg_catalog.=) p.partition), 0)
  FROM topics_0_1.partition p
  JOIN topics_0_1.topic t ON t.topic_id OPERATOR(pg_catalog.=) p.topic_id;

INSERT INTO topics.segment (topic, partition, base_offset, end_offset, created_at)
SELECT t.name, s.partition, s.base_offset, s.end_offset, s.created_at
  FROM topics_0_1.segment s
  JOIN topics_0_1.topic t ON t.topic_id OPERATOR(pg_catalog.=) s.topic_id;

INSERT INTO topics.consumer_group (topic, name, owner, strategy, auto_offset_reset,
                                   generation, created_at)
SELECT t.name, g.name, NULL, g.strategy, g.auto_offset_reset, g.generation, g.created_at
  FROM topics_0_1.consumer_group g
  JOIN topics_0_1.topic t ON t.topic_id OPERATOR(pg_catalog.=) g.topic_id;

INSERT INTO topics.group_member (topic, group_name, member, generation,
                                 session_timeout, joined_at)
SELECT t.name, g.name, m.member, m.generation, m.session_timeout, m.joined_at
  FROM topics_0_1.group_member m
  JOIN topics_0_1.consumer_group g ON g.group_id OPERATOR(pg_catalog.=) m.group_id
  JOIN topics_0_1.topic t ON t.topic_id OPERATOR(pg_catalog.=) g.topic_id;

INSERT INTO topics.group_assignment (topic, group_name, partition, member)
SELECT t.name, g.name, a.partition, m.member
  FROM topics_0_1.group_assignment a
  JOIN topics_0_1.consumer_group g ON g.group_id OPERATOR(pg_catalog.=) a.group_id
  JOIN topics_0_1.topic t ON t.topic_id OPERATOR(pg_catalog.=) g.topic_id
  LEFT JOIN topics_0_1.group_member m ON m.member_id OPERATOR(pg_catalog.=) a.member_id;

INSERT INTO topics.committed_offset (topic, group_name, partition, committed, committed_at)
SELECT t.name, g.name, o.partition, o.committed, o.committed_at
  FROM topics_0_1.committed_offset o
  JOIN topics_0_1.consumer_group g ON g.group_id OPERATOR(pg_catalog.=) o.group_id
  JOIN topics_0_1.topic t ON t.topic_id OPERATOR(pg_catalog.=) g.topic_id;

-- The topics' tables take their 0.2 names and owner; the former owner of
-- each topic keeps reading and producing, and may grant both on.  Every
-- root table gets the trigger that refuses direct writes.
DO $$
DECLARE
    data_owner pg_catalog.oid := (SELECT n.nspowner FROM pg_catalog.pg_namespace n
                                   WHERE n.nspname OPERATOR(pg_catalog.=) 'topics_data');
    create_topic pg_catalog.oid :=
        'topics.create_topic(text, integer, text, jsonb)'::pg_catalog.regprocedure;
    create_topic_init_privs pg_catalog.aclitem[];
    r record;
BEGIN
    FOR r IN
        SELECT t.relid::pg_catalog.oid AS relid, t.name, NULL::integer AS partition,
               NULL::bigint AS base_offset
          FROM topics_0_1.topic t
        UNION ALL
        SELECT p.relid::pg_catalog.oid, t.name, p.partition, NULL
          FROM topics_0_1.partition p
          JOIN topics_0_1.topic t ON t.topic_id OPERATOR(pg_catalog.=) p.topic_id
        UNION ALL
        SELECT s.relid::pg_catalog.oid, t.name, s.partition, s.base_offset
          FROM topics_0_1.segment s
          JOIN topics_0_1.topic t ON t.topic_id OPERATOR(pg_catalog.=) s.topic_id
    LOOP
        IF r.partition IS NOT NULL THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s RENAME TO %I',
                                      r.relid::pg_catalog.regclass,
                                      topics_internal.table_name(r.name, r.partition,
                                                                 r.base_offset));
        END IF;
        EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %s', r.relid::pg_catalog.regclass,
                                  data_owner::pg_catalog.regrole);
    END LOOP;
    FOR r IN SELECT t.name, t.owner FROM topics.topic t
    LOOP
        IF r.owner::pg_catalog.oid OPERATOR(pg_catalog.<>) data_owner THEN
            EXECUTE pg_catalog.format('GRANT SELECT, INSERT ON topics_data.%I TO %s WITH GRANT OPTION',
                                      r.name, r.owner);
        END IF;
        EXECUTE pg_catalog.format('CREATE TRIGGER refuse_direct_write BEFORE INSERT OR UPDATE OR DELETE '
                                  'ON topics_data.%I FOR EACH STATEMENT '
                                  'EXECUTE FUNCTION topics_internal.refuse_direct_write()', r.name);
    END LOOP;

    -- CREATE on topics_data let a role create topics; EXECUTE on
    -- create_topic does now, and nobody but its owner creates tables there.
    REVOKE EXECUTE ON FUNCTION topics.create_topic(text, integer, text, jsonb) FROM PUBLIC;
    create_topic_init_privs := (SELECT i.initprivs FROM pg_catalog.pg_init_privs i
                                 WHERE i.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                   AND i.objoid OPERATOR(pg_catalog.=) create_topic
                                   AND i.objsubid OPERATOR(pg_catalog.=) 0);
    FOR r IN
        SELECT a.grantee
          FROM pg_catalog.pg_namespace n,
               LATERAL pg_catalog.aclexplode(n.nspacl) a
         WHERE n.nspname OPERATOR(pg_catalog.=) 'topics_data'
           AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
           AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
    LOOP
        IF r.grantee OPERATOR(pg_catalog.=) 0 THEN
            REVOKE CREATE ON SCHEMA topics_data FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION topics.create_topic(text, integer, text, jsonb) TO PUBLIC;
        ELSE
            EXECUTE pg_catalog.format('REVOKE CREATE ON SCHEMA topics_data FROM %s',
                                      r.grantee::pg_catalog.regrole);
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION topics.create_topic(text, integer, text, jsonb) TO %s',
                                      r.grantee::pg_catalog.regrole);
        END IF;
    END LOOP;

    -- A GRANT inside ALTER EXTENSION is recorded as the object's initial
    -- privilege, which pg_dump leaves out: the grants above are the users',
    -- not the extension's, so that a dump keeps them.  Topic tables are no
    -- members of the extension and have no initial privileges.
    UPDATE pg_catalog.pg_init_privs i SET initprivs = create_topic_init_privs
     WHERE i.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
       AND i.objoid OPERATOR(pg_catalog.=) create_topic
       AND i.objsubid OPERATOR(pg_catalog.=) 0;
    DELETE FROM pg_catalog.pg_init_privs i
     USING pg_catalog.pg_class c
     WHERE i.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND i.objoid OPERATOR(pg_catalog.=) c.oid
       AND c.relnamespace OPERATOR(pg_catalog.=) 'topics_data'::pg_catalog.regnamespace;
END
$$;

DROP SCHEMA topics_0_1 CASCADE;

-- Monitoring

CREATE FUNCTION topics.partition_info(
    topic text,
    OUT partition integer, OUT log_start bigint, OUT lso bigint,
    OUT log_end bigint, OUT high_water bigint, OUT stable_offset bigint,
    OUT segments integer, OUT oldest_producer_pid integer,
    OUT oldest_producer_xid xid, OUT oldest_producer_since timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_partition_info_0_2';
COMMENT ON FUNCTION topics.partition_info(text) IS
    'Offsets and oldest open producer of each partition of a topic; needs SELECT on the topic';

-- can_read tells whether the current role may read a topic: SELECT on its
-- root table.  The views show a topic's details only then.
CREATE FUNCTION topics_internal.can_read(topic text)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT pg_catalog.has_table_privilege(c.oid, 'SELECT')
  FROM pg_catalog.pg_class c
 WHERE c.relname OPERATOR(pg_catalog.=) topic
   AND c.relnamespace OPERATOR(pg_catalog.=) 'topics_data'::pg_catalog.regnamespace
$$;
COMMENT ON FUNCTION topics_internal.can_read(text) IS
    'Internal: whether the current role has SELECT on a topic';

-- can_use_group tells whether the current role may use a consumer group:
-- read its topic, and have the privileges of the group's owner.
CREATE FUNCTION topics_internal.can_use_group(topic text, owner regrole)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT COALESCE(topics_internal.can_read(topic), false)
   AND (owner IS NULL OR pg_catalog.pg_has_role(owner, 'USAGE'))
$$;
COMMENT ON FUNCTION topics_internal.can_use_group(text, regrole) IS
    'Internal: whether the current role may use a consumer group';

CREATE VIEW topics.topics WITH (security_barrier) AS
SELECT t.name,
       t.mode,
       t.partitions,
       t.config,
       t.owner,
       pg_catalog.to_regclass(pg_catalog.quote_ident('topics_data') OPERATOR(pg_catalog.||) '.'
                              OPERATOR(pg_catalog.||) pg_catalog.quote_ident(t.name)) AS root_table,
       t.created_at
  FROM topics.topic t
 WHERE topics_internal.can_read(t.name)
    OR pg_catalog.pg_has_role(t.owner, 'USAGE')
    OR pg_catalog.has_table_privilege(pg_catalog.quote_ident('topics_data') OPERATOR(pg_catalog.||) '.'
                                      OPERATOR(pg_catalog.||) pg_catalog.quote_ident(t.name), 'INSERT');
COMMENT ON VIEW topics.topics IS 'Topics the current role may read, produce to or owns';
COMMENT ON COLUMN topics.topics.name IS 'Topic name';
COMMENT ON COLUMN topics.topics.mode IS 'stream, store or queue';
COMMENT ON COLUMN topics.topics.partitions IS 'Number of partitions';
COMMENT ON COLUMN topics.topics.config IS 'Topic settings (segment.messages, segment.bytes)';
COMMENT ON COLUMN topics.topics.owner IS 'Role that owns the topic: it may drop it, add partitions and grant access';
COMMENT ON COLUMN topics.topics.root_table IS 'The table that holds all the topic''s messages (read it with plain SQL)';
COMMENT ON COLUMN topics.topics.created_at IS 'When the topic was created';

CREATE VIEW topics.partitions WITH (security_barrier) AS
SELECT t.name AS topic,
       i.partition,
       i.log_start,
       i.lso,
       i.log_end,
       i.high_water,
       i.stable_offset,
       i.segments,
       (SELECT pg_catalog.sum(pg_catalog.pg_total_relation_size(
                   pg_catalog.to_regclass(pg_catalog.quote_ident('topics_data') OPERATOR(pg_catalog.||) '.'
                       OPERATOR(pg_catalog.||) pg_catalog.quote_ident(
                           topics_internal.table_name(s.topic, s.partition, s.base_offset)))))::bigint
          FROM topics.segment s
         WHERE s.topic OPERATOR(pg_catalog.=) t.name
           AND s.partition OPERATOR(pg_catalog.=) i.partition) AS size_bytes,
       i.oldest_producer_pid,
       i.oldest_producer_xid,
       pg_catalog.now() OPERATOR(pg_catalog.-) i.oldest_producer_since AS oldest_producer_age
  FROM topics.topic t,
       LATERAL topics.partition_info(t.name) i
 WHERE topics_internal.can_read(t.name);
COMMENT ON VIEW topics.partitions IS
    'Per partition of the topics the current role may read: log start, last stable offset, log end, size and the oldest open producer holding the LSO back';
COMMENT ON COLUMN topics.partitions.topic IS 'Topic name';
COMMENT ON COLUMN topics.partitions.partition IS 'Partition number, from 0';
COMMENT ON COLUMN topics.partitions.log_start IS 'First offset still stored';
COMMENT ON COLUMN topics.partitions.lso IS 'Last stable offset: readers see every committed message below it and none at or above it';
COMMENT ON COLUMN topics.partitions.log_end IS 'The next offset the partition hands out';
COMMENT ON COLUMN topics.partitions.high_water IS 'Durable high-water mark: no offset at or above it was ever handed out';
COMMENT ON COLUMN topics.partitions.stable_offset IS 'The last stable offset as last persisted (what a standby reads below)';
COMMENT ON COLUMN topics.partitions.segments IS 'Number of segment tables';
COMMENT ON COLUMN topics.partitions.size_bytes IS 'Size of the segment tables with their indexes';
COMMENT ON COLUMN topics.partitions.oldest_producer_pid IS 'Backend of the oldest open transaction that produced here (NULL: none, or a prepared transaction)';
COMMENT ON COLUMN topics.partitions.oldest_producer_xid IS 'Transaction id of the oldest open producer';
COMMENT ON COLUMN topics.partitions.oldest_producer_age IS 'How long the oldest open producer has held the LSO back';

CREATE VIEW topics.segments WITH (security_barrier) AS
SELECT s.topic,
       s.partition,
       s.base_offset,
       s.end_offset,
       pg_catalog.to_regclass(pg_catalog.quote_ident('topics_data') OPERATOR(pg_catalog.||) '.'
           OPERATOR(pg_catalog.||) pg_catalog.quote_ident(
               topics_internal.table_name(s.topic, s.partition, s.base_offset))) AS segment_table,
       s.created_at
  FROM topics.segment s
 WHERE topics_internal.can_read(s.topic);
COMMENT ON VIEW topics.segments IS 'Segment tables of the topics the current role may read, with their offset ranges';
COMMENT ON COLUMN topics.segments.topic IS 'Topic name';
COMMENT ON COLUMN topics.segments.partition IS 'Partition number';
COMMENT ON COLUMN topics.segments.base_offset IS 'First offset the segment holds';
COMMENT ON COLUMN topics.segments.end_offset IS 'The segment holds offsets below this one';
COMMENT ON COLUMN topics.segments.segment_table IS 'The segment''s table';
COMMENT ON COLUMN topics.segments.created_at IS 'When the segment was created';

CREATE VIEW topics.groups WITH (security_barrier) AS
SELECT g.name AS group_name,
       g.topic,
       g.owner,
       g.strategy,
       g.auto_offset_reset,
       g.generation,
       (SELECT pg_catalog.count(*) FROM topics.group_member m
         WHERE m.topic OPERATOR(pg_catalog.=) g.topic
           AND m.group_name OPERATOR(pg_catalog.=) g.name) AS members,
       g.created_at
  FROM topics.consumer_group g
 WHERE topics_internal.can_use_group(g.topic, g.owner);
COMMENT ON VIEW topics.groups IS 'Consumer groups the current role may use, with their strategy and generation';
COMMENT ON COLUMN topics.groups.group_name IS 'Group name';
COMMENT ON COLUMN topics.groups.topic IS 'Topic the group reads';
COMMENT ON COLUMN topics.groups.owner IS 'Role the group belongs to: roles with its privileges may use the group';
COMMENT ON COLUMN topics.groups.strategy IS 'Partition assignment strategy: range, roundrobin or sticky';
COMMENT ON COLUMN topics.groups.auto_offset_reset IS 'Where a member starts without a position: earliest, latest or none';
COMMENT ON COLUMN topics.groups.generation IS 'Bumped by every rebalance';
COMMENT ON COLUMN topics.groups.members IS 'Number of members';
COMMENT ON COLUMN topics.groups.created_at IS 'When the group was created';

CREATE VIEW topics.group_members WITH (security_barrier) AS
SELECT g.name AS group_name,
       g.topic,
       m.member,
       m.generation,
       m.generation OPERATOR(pg_catalog.=) g.generation AS current,
       ARRAY(SELECT a.partition FROM topics.group_assignment a
              WHERE a.topic OPERATOR(pg_catalog.=) g.topic
                AND a.group_name OPERATOR(pg_catalog.=) g.name
                AND a.member OPERATOR(pg_catalog.=) m.member
              ORDER BY a.partition) AS partitions,
       topics_internal._last_seen(g.topic, g.name, m.member) AS last_seen,
       m.session_timeout,
       m.joined_at
  FROM topics.group_member m
  JOIN topics.consumer_group g
    ON g.topic OPERATOR(pg_catalog.=) m.topic
   AND g.name OPERATOR(pg_catalog.=) m.group_name
 WHERE topics_internal.can_use_group(g.topic, g.owner);
COMMENT ON VIEW topics.group_members IS
    'Members of the consumer groups the current role may use: generation, partitions, when last seen';
COMMENT ON COLUMN topics.group_members.group_name IS 'Group name';
COMMENT ON COLUMN topics.group_members.topic IS 'Topic the group reads';
COMMENT ON COLUMN topics.group_members.member IS 'Member name';
COMMENT ON COLUMN topics.group_members.generation IS 'Generation the member last joined at';
COMMENT ON COLUMN topics.group_members.current IS 'False when the member must join again after a rebalance';
COMMENT ON COLUMN topics.group_members.partitions IS 'Partitions assigned to the member';
COMMENT ON COLUMN topics.group_members.last_seen IS 'When this server last saw the member (poll, heartbeat or join)';
COMMENT ON COLUMN topics.group_members.session_timeout IS 'The member is removed after this long without being seen';
COMMENT ON COLUMN topics.group_members.joined_at IS 'When the member first joined';

CREATE VIEW topics.group_lag WITH (security_barrier) AS
SELECT g.name AS group_name,
       g.topic,
       i.partition,
       c.committed,
       i.lso,
       i.log_end,
       CASE WHEN c.committed IS NOT NULL
            THEN GREATEST(i.lso OPERATOR(pg_catalog.-) c.committed, 0) END AS lag,
       a.member
  FROM topics.consumer_group g
  CROSS JOIN LATERAL topics.partition_info(g.topic) i
  LEFT JOIN topics.committed_offset c
    ON c.topic OPERATOR(pg_catalog.=) g.topic
   AND c.group_name OPERATOR(pg_catalog.=) g.name
   AND c.partition OPERATOR(pg_catalog.=) i.partition
  LEFT JOIN topics.group_assignment a
    ON a.topic OPERATOR(pg_catalog.=) g.topic
   AND a.group_name OPERATOR(pg_catalog.=) g.name
   AND a.partition OPERATOR(pg_catalog.=) i.partition
 WHERE topics_internal.can_use_group(g.topic, g.owner);
COMMENT ON VIEW topics.group_lag IS
    'Per group the current role may use and partition: committed offset, LSO and lag, from the catalog and shared memory only';
COMMENT ON COLUMN topics.group_lag.group_name IS 'Group name';
COMMENT ON COLUMN topics.group_lag.topic IS 'Topic the group reads';
COMMENT ON COLUMN topics.group_lag.partition IS 'Partition number';
COMMENT ON COLUMN topics.group_lag.committed IS 'The group''s position: the next offset it reads (NULL: none yet)';
COMMENT ON COLUMN topics.group_lag.lso IS 'The partition''s last stable offset';
COMMENT ON COLUMN topics.group_lag.log_end IS 'The partition''s log end';
COMMENT ON COLUMN topics.group_lag.lag IS 'Offsets between the position and the LSO (rolled-back gaps included)';
COMMENT ON COLUMN topics.group_lag.member IS 'Member the partition is assigned to';

GRANT SELECT ON topics.topics, topics.partitions, topics.segments, topics.groups,
    topics.group_members, topics.group_lag TO PUBLIC;

-- Consumer groups, keyed by topic and group name.

-- _rebalance assigns the partitions of a group to its members (ordered by
-- name, as Kafka orders member ids) and bumps the generation.  Caller holds
-- the group row locked.
CREATE FUNCTION topics_internal._rebalance(p_topic text, p_group text)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g        topics.consumer_group;
    n        integer;
    members  text[];
    previous integer[];
    owner    integer[];
BEGIN
    SELECT * INTO STRICT g FROM topics.consumer_group cg
     WHERE cg.topic OPERATOR(pg_catalog.=) p_topic AND cg.name OPERATOR(pg_catalog.=) p_group;
    SELECT t.partitions INTO STRICT n FROM topics.topic t WHERE t.name OPERATOR(pg_catalog.=) p_topic;

    -- every partition has a position row and an assignment row.  Rows that
    -- exist are filtered out first: ON CONFLICT alone would wait for a poll
    -- in progress, which writes its position row when it claims it.
    INSERT INTO topics.committed_offset (topic, group_name, partition)
    SELECT p_topic, p_group, p FROM generate_series(0, n - 1) p
     WHERE NOT EXISTS (SELECT FROM topics.committed_offset c
                        WHERE c.topic OPERATOR(pg_catalog.=) p_topic
                          AND c.group_name OPERATOR(pg_catalog.=) p_group
                          AND c.partition OPERATOR(pg_catalog.=) p)
    ON CONFLICT DO NOTHING;
    INSERT INTO topics.group_assignment (topic, group_name, partition)
    SELECT p_topic, p_group, p FROM generate_series(0, n - 1) p
    ON CONFLICT DO NOTHING;

    members := ARRAY(SELECT m.member FROM topics.group_member m
                      WHERE m.topic OPERATOR(pg_catalog.=) p_topic
                        AND m.group_name OPERATOR(pg_catalog.=) p_group
                      ORDER BY m.member);
    previous := ARRAY(SELECT coalesce(array_position(members, a.member), 0)
                        FROM topics.group_assignment a
                       WHERE a.topic OPERATOR(pg_catalog.=) p_topic
                         AND a.group_name OPERATOR(pg_catalog.=) p_group
                       ORDER BY a.partition);
    owner := topics_internal._assign(g.strategy, cardinality(members), n, previous);

    UPDATE topics.group_assignment a
       SET member = CASE WHEN owner[a.partition + 1] OPERATOR(pg_catalog.>) 0
                         THEN members[owner[a.partition + 1]] END
     WHERE a.topic OPERATOR(pg_catalog.=) p_topic
       AND a.group_name OPERATOR(pg_catalog.=) p_group
       AND a.member IS DISTINCT FROM
           CASE WHEN owner[a.partition + 1] OPERATOR(pg_catalog.>) 0
                THEN members[owner[a.partition + 1]] END;

    UPDATE topics.consumer_group cg SET generation = cg.generation OPERATOR(pg_catalog.+) 1
     WHERE cg.topic OPERATOR(pg_catalog.=) p_topic AND cg.name OPERATOR(pg_catalog.=) p_group;
    RETURN g.generation OPERATOR(pg_catalog.+) 1;
END
$$;
COMMENT ON FUNCTION topics_internal._rebalance(text, text) IS
    'Internal: reassign a group''s partitions and bump its generation';

-- _join adds or re-syncs a member; the C entry point topics.join checks
-- privileges and calls this as the extension's owner.  A group made before
-- 0.2 has no owner: the role that joins it next claims it.
CREATE FUNCTION topics_internal._join(p_topic text, p_group text, p_member text,
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
COMMENT ON FUNCTION topics_internal._join(text, text, text, interval, text, text, regrole) IS
    'Internal: add a member to a group (rebalancing) or re-sync a known one';

-- _leave removes members of one group and rebalances it; returns how many
-- it removed.
CREATE FUNCTION topics_internal._leave(p_topic text, p_group text, p_members text[])
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    PERFORM 1 FROM topics.consumer_group cg
     WHERE cg.topic OPERATOR(pg_catalog.=) p_topic AND cg.name OPERATOR(pg_catalog.=) p_group
       FOR UPDATE;
    DELETE FROM topics.group_member gm
     WHERE gm.topic OPERATOR(pg_catalog.=) p_topic
       AND gm.group_name OPERATOR(pg_catalog.=) p_group
       AND gm.member OPERATOR(pg_catalog.=) ANY (p_members);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n OPERATOR(pg_catalog.>) 0 THEN
        PERFORM topics_internal._rebalance(p_topic, p_group);
    END IF;
    RETURN n;
END
$$;
COMMENT ON FUNCTION topics_internal._leave(text, text, text[]) IS
    'Internal: remove members of a group and rebalance it';

-- fetch is C: called in a query's FROM clause, a custom scan streams its
-- rows to the caller as it reads them (no tuplestore, no SQL body to inline
-- at each plan).  poll calls its internal functions in the new schema, and
-- stays SQL, so that the planner inlines its row filter into the caller's
-- query.
CREATE OR REPLACE FUNCTION topics.fetch(
    topic text, partition integer, from_offset bigint,
    max_messages integer DEFAULT 100, max_wait interval DEFAULT '0')
RETURNS TABLE (topic text, partition integer, msg_offset bigint,
               "timestamp" timestamptz, key bytea, value bytea, headers jsonb)
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_fetch';

CREATE OR REPLACE FUNCTION topics.poll(
    group_name text, topic text, member_name text,
    max_messages integer DEFAULT 100, max_wait interval DEFAULT '0')
RETURNS TABLE (topic text, partition integer, msg_offset bigint,
               "timestamp" timestamptz, key bytea, value bytea, headers jsonb)
LANGUAGE sql STABLE PARALLEL UNSAFE
AS $$
SELECT $2, r.partition, r.msg_offset, r."timestamp", r.key, r.value, r.headers
  FROM topics_internal._poll($1, $2, $3, $4, $5) r
 WHERE topics_internal._take($1, $2, r.partition, r.msg_offset)
$$;

-- produce_batch for drivers that send arrays without a type (node-postgres
-- sends '{a,b}' of type unknown).  Against the bytea[], text[] and jsonb[]
-- overloads, all arrays, PostgreSQL cannot choose (42725); an overload
-- whose values are text, a string type, is the one it prefers for an
-- unknown argument, so untyped calls land here and only they: typed arrays
-- have no implicit cast to text.  It reads the values as text[].
CREATE FUNCTION topics.produce_batch(
    topic text, "values" text, keys text[] DEFAULT NULL,
    partition integer DEFAULT NULL, headers jsonb[] DEFAULT NULL,
    "timestamp" timestamptz DEFAULT NULL)
RETURNS SETOF topics.produced
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_produce_batch_untyped';
COMMENT ON FUNCTION topics.produce_batch(text, text, text[], integer, jsonb[], timestamptz) IS
    'Append one text message per element of an array passed without a type (a driver''s parameter)';
GRANT EXECUTE ON FUNCTION topics.produce_batch(text, text, text[], integer, jsonb[], timestamptz) TO PUBLIC;

-- Privileges of the new and moved functions: the internal ones that write
-- the catalog run only as the owner.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA topics_internal FROM PUBLIC;
GRANT EXECUTE ON FUNCTION topics_internal._poll(text, text, text, integer, interval),
    topics_internal._take(text, text, integer, bigint),
    topics_internal._last_seen(text, text, text),
    topics_internal.can_read(text),
    topics_internal.can_use_group(text, regrole),
    topics_internal.table_name(text, integer, bigint) TO PUBLIC;
GRANT EXECUTE ON FUNCTION topics.partition_info(text) TO PUBLIC;

COMMENT ON FUNCTION topics.create_topic(text, integer, text, jsonb) IS
    'Create a topic with its partitions, owned by the calling role; needs EXECUTE on this function';
