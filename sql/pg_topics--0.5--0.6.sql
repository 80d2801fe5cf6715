/* sql/pg_topics--0.5--0.6.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_topics UPDATE TO '0.6'" to load this file. \quit

-- 0.6 adds change data capture: a table's INSERT, UPDATE, DELETE (and
-- TRUNCATE, when asked) become events of a topic, produced by statement
-- triggers in the transaction that made the change.

-- One row per captured table.  The table is a regclass, so that pg_dump
-- writes its name and a restore finds it again; the columns are names, as
-- a restored table may number them differently.  The options are stored
-- complete, with their defaults, as topics.capture() checked them.
CREATE TABLE topics.capture (
    relid       pg_catalog.regclass PRIMARY KEY,
    topic       text COLLATE "C" NOT NULL REFERENCES topics.topic,
    key_columns name[] NOT NULL,
    options     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    snapshot_at timestamptz
);
CREATE INDEX capture_topic ON topics.capture (topic);
COMMENT ON TABLE topics.capture IS
    'Tables whose changes are published to a topic (see topics.capture())';
SELECT pg_catalog.pg_extension_config_dump('topics.capture', '');
REVOKE ALL ON topics.capture FROM PUBLIC;
GRANT SELECT ON topics.capture TO PUBLIC;

CREATE FUNCTION topics_internal.capture_trigger()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'pg_topics_capture_trigger';
COMMENT ON FUNCTION topics_internal.capture_trigger() IS
    'Statement trigger of a captured table: produces its changes as events';

CREATE FUNCTION topics.capture(
    relation regclass,
    topic text,
    key_columns text[] DEFAULT NULL,
    options jsonb DEFAULT '{}')
RETURNS void
LANGUAGE C
AS 'MODULE_PATHNAME', 'pg_topics_capture';
COMMENT ON FUNCTION topics.capture(regclass, text, text[], jsonb) IS
    'Publishes the table''s changes to a topic, in the transactions that make them';

CREATE FUNCTION topics.uncapture(relation regclass)
RETURNS void
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'pg_topics_uncapture';
COMMENT ON FUNCTION topics.uncapture(regclass) IS
    'Stops publishing the table''s changes';

CREATE FUNCTION topics.snapshot(relation regclass)
RETURNS bigint
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'pg_topics_snapshot';
COMMENT ON FUNCTION topics.snapshot(regclass) IS
    'Produces the captured table''s current rows as read (r) events, and returns how many';

CREATE VIEW topics.captures AS
SELECT n.nspname AS schema_name,
       c.relname AS table_name,
       cap.relid,
       cap.topic,
       cap.key_columns,
       ARRAY(SELECT pg_catalog.jsonb_array_elements_text(cap.options OPERATOR(pg_catalog.->) 'ops')) AS ops,
       cap.options OPERATOR(pg_catalog.->>) 'format' AS format,
       cap.options OPERATOR(pg_catalog.->>) 'filter' AS filter,
       cap.options,
       cap.created_at,
       cap.snapshot_at,
       -- every trigger that capture made is there, on every table of the
       -- tree, and fires
       NOT EXISTS (
         SELECT FROM (SELECT cap.relid::pg_catalog.oid
                      UNION
                      SELECT p.relid::pg_catalog.oid
                        FROM pg_catalog.pg_partition_tree(cap.relid) p) t(relid),
                     pg_catalog.jsonb_array_elements_text(cap.options OPERATOR(pg_catalog.->) 'ops') o(op)
          WHERE (o.op OPERATOR(pg_catalog.<>) 'truncate'
                 OR t.relid OPERATOR(pg_catalog.=) cap.relid::pg_catalog.oid)
            AND NOT EXISTS (
                  SELECT FROM pg_catalog.pg_trigger g
                   WHERE g.tgrelid OPERATOR(pg_catalog.=) t.relid
                     AND g.tgname OPERATOR(pg_catalog.=) ('pg_topics_capture_' OPERATOR(pg_catalog.||) o.op)
                     AND g.tgenabled OPERATOR(pg_catalog.=) ANY ('{O,A}'::"char"[]))) AS active
  FROM topics.capture cap
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) cap.relid
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace;
COMMENT ON VIEW topics.captures IS
    'Captured tables: their topic, key columns and options, and whether their triggers are all there';
GRANT SELECT ON topics.captures TO PUBLIC;

-- After DDL on a captured table, on a table of its partition tree, or on
-- a table that inherits it: refuse a change that takes a column the
-- capture names, or that makes a tree capture cannot follow; give new
-- partitions the triggers; record what a capture trigger just made
-- depends on.  It runs as the user of the DDL.
CREATE FUNCTION topics_internal.capture_ddl_end()
RETURNS event_trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'pg_topics_capture_ddl_end';

-- A dropped table takes its capture with it.  Security definer: the user
-- who drops a table may not write topics.capture.
CREATE FUNCTION topics_internal.capture_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM topics.capture cap
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objsubid OPERATOR(pg_catalog.=) 0
       AND d.objid OPERATOR(pg_catalog.=) cap.relid::pg_catalog.oid;
END;
$$;

CREATE EVENT TRIGGER pg_topics_capture_ddl_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'ALTER FOREIGN TABLE',
                 'CREATE FOREIGN TABLE', 'ALTER VIEW', 'ALTER MATERIALIZED VIEW',
                 'CREATE SCHEMA', 'CREATE TRIGGER')
    EXECUTE FUNCTION topics_internal.capture_ddl_end();
CREATE EVENT TRIGGER pg_topics_capture_sql_drop ON sql_drop
    EXECUTE FUNCTION topics_internal.capture_sql_drop();

REVOKE ALL ON FUNCTION topics.capture(regclass, text, text[], jsonb),
    topics.uncapture(regclass), topics.snapshot(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION topics.capture(regclass, text, text[], jsonb),
    topics.uncapture(regclass), topics.snapshot(regclass) TO PUBLIC;
-- The triggers are made by topics.capture(), as the owner of pg_topics's
-- tables: no other role may make one that calls the trigger function.
REVOKE ALL ON FUNCTION topics_internal.capture_trigger(),
    topics_internal.capture_sql_drop(), topics_internal.capture_ddl_end() FROM PUBLIC;
