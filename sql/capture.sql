-- Change data capture: a table's changes as events of a topic
\set VERBOSITY default

-- the events of a topic in offset order, without the fields that change
-- from run to run (transaction id, times)
CREATE FUNCTION events(t text) RETURNS TABLE (p int, o bigint, k text, v jsonb, h jsonb)
LANGUAGE sql AS $$
  SELECT f.partition, f.msg_offset, convert_from(f.key, 'UTF8'),
         convert_from(f.value, 'UTF8')::jsonb - 'txid' - 'ts_ms'
           #- '{payload,ts_ms}' #- '{payload,source,ts_ms}' #- '{payload,source,txId}',
         f.headers
    FROM topics.topics tt, generate_series(0, tt.partitions - 1) AS part,
         LATERAL topics.fetch(t, part, 0, 10000) f
   WHERE tt.name = t
   ORDER BY f.partition, f.msg_offset
$$;

SELECT topic FROM topics.create_topic('cdc', 1);

-- each operation, with the types a table holds
CREATE DOMAIN positive_amount AS numeric CHECK (VALUE > 0);
CREATE TABLE orders (
    id int PRIMARY KEY,
    customer text,
    amount positive_amount,
    tags text[],
    meta jsonb,
    doc json,
    raw bytea,
    paid boolean,
    placed timestamptz,
    day date,
    ratio float8,
    total numeric GENERATED ALWAYS AS (amount * 2) STORED
);
SELECT topics.capture('orders', 'cdc');
SELECT schema_name, table_name, topic, key_columns, ops, format, filter, active
  FROM topics.captures;
SET timezone = 'UTC';
INSERT INTO orders VALUES
  (1, 'ann', 12.50, '{a,"b c"}', '{"x": [1, 2]}', '{"y":  true}', '\x00ff', true,
   '2026-01-02 03:04:05.678+00', '2026-01-02', 0.1),
  (2, NULL, NULL, '{}', 'null', NULL, NULL, NULL, NULL, NULL, 'Infinity');
UPDATE orders SET amount = 20 WHERE id = 1;
DELETE FROM orders WHERE id = 2;
SELECT o, k, v, h FROM events('cdc');

-- every event's after image reads back as the row
SELECT (jsonb_populate_record(NULL::orders, v->'after')).* FROM events('cdc')
 WHERE v->>'op' = 'u';
SELECT * FROM orders;

-- an UPDATE that changes the key: a delete of the old key and a create of
-- the new one
UPDATE orders SET id = 10 WHERE id = 1;
SELECT o, k, v->>'op' AS op, v->'before'->'id' AS before_id, v->'after'->'id' AS after_id
  FROM events('cdc') WHERE o >= 3;

-- the events commit with the change, or not at all
BEGIN;
INSERT INTO orders (id, customer, amount) VALUES (20, 'rolled back', 1);
ROLLBACK;
BEGIN;
INSERT INTO orders (id, customer, amount) VALUES (21, 'kept', 1);
SAVEPOINT s;
INSERT INTO orders (id, customer, amount) VALUES (22, 'rolled back to savepoint', 1);
ROLLBACK TO SAVEPOINT s;
UPDATE orders SET customer = 'kept, updated' WHERE id = 21;
COMMIT;
SELECT o, k, v->>'op' AS op, v->'after'->>'customer' AS customer
  FROM events('cdc') WHERE o >= 5;

-- one statement, many rows: one trigger call, events in the statement's
-- order
INSERT INTO orders (id, customer, amount) SELECT g, 'bulk', g FROM generate_series(100, 2600) g;
UPDATE orders SET amount = amount + 1 WHERE customer = 'bulk';
SELECT v->>'op' AS op, count(*), min((v->'after'->>'id')::int), max((v->'after'->>'id')::int)
  FROM events('cdc') WHERE o > 7 GROUP BY 1 ORDER BY 1;
DELETE FROM orders WHERE customer = 'bulk';
SELECT count(*) FROM events('cdc') WHERE v->>'op' = 'd' AND v->'before'->>'customer' = 'bulk';

-- MERGE, INSERT ... ON CONFLICT and COPY fire the same triggers
CREATE TABLE m (id int PRIMARY KEY, v text);
SELECT topic FROM topics.create_topic('m_cdc', 1);
SELECT topics.capture('m', 'm_cdc');
INSERT INTO m VALUES (1, 'a');
MERGE INTO m USING (VALUES (1, 'b'), (2, 'c')) s(id, v) ON m.id = s.id
  WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v);
INSERT INTO m VALUES (2, 'x'), (3, 'y') ON CONFLICT (id) DO UPDATE SET v = excluded.v;
COPY m FROM stdin;
9	copied
\.
SELECT o, v->>'op' AS op, v->'after' AS after FROM events('m_cdc');
DROP TABLE m;

-- TOASTed values, out of line: inserted, carried by an UPDATE of another
-- column, deleted
CREATE TABLE docs (id int PRIMARY KEY, body text, note text);
ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
SELECT topic FROM topics.create_topic('docs_cdc', 1);
SELECT topics.capture('docs', 'docs_cdc');
INSERT INTO docs SELECT 1, string_agg(md5(g::text), '') , 'n' FROM generate_series(1, 500) g;
UPDATE docs SET note = 'changed';
DELETE FROM docs;
SELECT v->>'op' AS op, length(v->'before'->>'body') AS before_len,
       length(v->'after'->>'body') AS after_len,
       md5(coalesce(v->'after'->>'body', v->'before'->>'body')) =
         (SELECT md5(string_agg(md5(g::text), '')) FROM generate_series(1, 500) g) AS same
  FROM events('docs_cdc');

-- quoted, mixed-case names, another schema, no primary key: key columns
-- given, or none
CREATE SCHEMA "Sales Data";
CREATE TABLE "Sales Data"."Line ""Items""" ("Order Id" int, "SKU" text, qty int);
SELECT topic FROM topics.create_topic('lines', 1);
SELECT topics.capture('"Sales Data"."Line ""Items"""', 'lines', ARRAY['Order Id', 'SKU']);
INSERT INTO "Sales Data"."Line ""Items""" VALUES (1, 'x-1', 2);
SELECT k, v->>'schema' AS schema, v->>'table' AS "table", h FROM events('lines');
CREATE TABLE keyless (a int, b text);
SELECT topic FROM topics.create_topic('keyless_cdc', 1);
SELECT topics.capture('keyless', 'keyless_cdc');
INSERT INTO keyless VALUES (1, 'one');
SELECT k, v->'after' AS after FROM events('keyless_cdc');
SELECT table_name, key_columns FROM topics.captures ORDER BY table_name COLLATE "C";

-- one row always lands on one partition: its key routes it
SELECT topic FROM topics.create_topic('wide_cdc', 8);
CREATE TABLE accounts (id int PRIMARY KEY, balance int);
SELECT topics.capture('accounts', 'wide_cdc');
INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 50) g;
UPDATE accounts SET balance = balance + 1;
UPDATE accounts SET balance = balance + 1 WHERE id % 2 = 0;
DELETE FROM accounts WHERE id % 3 = 0;
SELECT count(*) AS keys_on_two_partitions FROM
  (SELECT k FROM events('wide_cdc') GROUP BY k HAVING count(DISTINCT p) > 1) x;
SELECT count(*) AS keys_out_of_order FROM
  (SELECT k, array_agg(v->>'op' ORDER BY o) AS ops FROM events('wide_cdc') GROUP BY k) x
 WHERE ops[1] <> 'c' OR (ops @> '{d}' AND ops[array_length(ops, 1)] <> 'd');
SELECT topics.partition_for_key(convert_to('{"id":7}', 'UTF8'), 8) = p AS routed_by_key
  FROM events('wide_cdc') WHERE k = '{"id":7}' LIMIT 1;

-- options: columns, exclude_columns, ops, before, filter, tombstones
CREATE TABLE items (id int PRIMARY KEY, name text, secret text, status text);
SELECT topic FROM topics.create_topic('items_cdc', 1);
SELECT topics.capture('items', 'items_cdc', options => '{"exclude_columns": ["secret"], "ops": ["insert", "delete"], "before": false, "tombstones": true}');
INSERT INTO items VALUES (1, 'pen', 's3cret', 'new');
UPDATE items SET name = 'pencil';
DELETE FROM items;
SELECT o, k, v->>'op' AS op, v->'before' AS before, v->'after' AS after FROM events('items_cdc');
-- called again, capture replaces the options
SELECT topics.capture('items', 'items_cdc', options => '{"columns": ["id", "status"], "filter": "status <> ''draft''"}');
SELECT ops, format, filter FROM topics.captures WHERE table_name = 'items';
INSERT INTO items VALUES (2, 'ink', 'x', 'draft'), (3, 'pad', 'y', 'live');
UPDATE items SET status = 'live' WHERE id = 2;   -- enters the filter: c
UPDATE items SET status = 'draft' WHERE id = 3;  -- leaves it: d
UPDATE items SET name = 'ink!' WHERE id = 2;     -- stays in: u
UPDATE items SET name = 'pad!' WHERE id = 3;     -- stays out: nothing
SELECT o, k, v->>'op' AS op, v->'before' AS before, v->'after' AS after FROM events('items_cdc') WHERE o >= 4;

-- TRUNCATE, when asked for
SELECT topics.capture('items', 'items_cdc', options => '{"ops": ["insert", "truncate"]}');
TRUNCATE items;
SELECT o, k, v->>'op' AS op, h FROM events('items_cdc') WHERE o >= 7;

-- Debezium's envelope
SELECT topic FROM topics.create_topic('dbz', 1);
CREATE TABLE customers (id int PRIMARY KEY, email text);
SELECT topics.capture('customers', 'dbz', options => '{"format": "debezium"}');
INSERT INTO customers VALUES (1, 'a@example.com');
UPDATE customers SET email = 'b@example.com';
DELETE FROM customers;
SELECT k, jsonb_pretty(v) FROM events('dbz') ORDER BY o LIMIT 2;
SELECT v->'payload'->>'op' AS op, v->'payload'->'source'->>'snapshot' AS snapshot
  FROM events('dbz');

-- partitioned tables: through the parent, into a partition directly, a
-- row moving between partitions, and a partition made after capture
CREATE TABLE readings (site int, at int, val text, PRIMARY KEY (site, at)) PARTITION BY LIST (site);
CREATE TABLE readings_1 PARTITION OF readings FOR VALUES IN (1);
CREATE TABLE readings_2 (val text, at int NOT NULL, site int NOT NULL);
ALTER TABLE readings ATTACH PARTITION readings_2 FOR VALUES IN (2);
SELECT topic FROM topics.create_topic('readings_cdc', 1);
SELECT topics.capture('readings', 'readings_cdc');
CREATE TABLE readings_3 PARTITION OF readings FOR VALUES IN (3);
INSERT INTO readings VALUES (1, 1, 'a'), (2, 1, 'b');
INSERT INTO readings_2 VALUES ('c', 2, 2);
INSERT INTO readings_3 VALUES (3, 5, 'd');
UPDATE readings SET site = 3 WHERE site = 1;
SELECT o, k, v->>'op' AS op, v->>'table' AS "table", v->'before' AS before, v->'after' AS after
  FROM events('readings_cdc');
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgname LIKE 'pg_topics_capture%'
   AND tgrelid::regclass::text LIKE 'readings%'
 ORDER BY tgrelid::regclass::text COLLATE "C", tgname COLLATE "C";
SELECT topics.capture('readings_1', 'readings_cdc');
-- a row that moves to another partition, under a key without the
-- partition column: one u event, its old and new rows paired
CREATE TABLE moving (site int, id int, v text) PARTITION BY LIST (site);
CREATE TABLE moving_1 PARTITION OF moving FOR VALUES IN (1);
CREATE TABLE moving_2 PARTITION OF moving FOR VALUES IN (2);
SELECT topics.capture('moving', 'readings_cdc', ARRAY['id']);
INSERT INTO moving SELECT 1, g, 'v' FROM generate_series(1, 4) g;
UPDATE moving SET site = 2, v = 'moved ' || id WHERE id % 2 = 0 OR id = 3;
SELECT k, v->'before'->>'site' AS before_site, v->'after'->>'site' AS after_site,
       v->'after'->>'v' AS after_v, v->'before'->'id' = v->'after'->'id' AS paired
  FROM events('readings_cdc') WHERE v->>'table' = 'moving' AND v->>'op' = 'u' ORDER BY k;
DROP TABLE moving;

-- snapshot: the rows there are now, as r events
CREATE TABLE existing (id int PRIMARY KEY, v text);
INSERT INTO existing SELECT g, 'v' || g FROM generate_series(1, 5) g;
SELECT topic FROM topics.create_topic('existing_cdc', 1);
SELECT topics.capture('existing', 'existing_cdc');
SELECT topics.snapshot('existing');
UPDATE existing SET v = 'changed' WHERE id = 1;
SELECT o, k, v->>'op' AS op, v->'after' AS after FROM events('existing_cdc');
SELECT snapshot_at IS NOT NULL AS snapshotted FROM topics.captures WHERE table_name = 'existing';
SELECT topics.snapshot('readings');
SELECT count(*) FROM events('readings_cdc') WHERE v->>'op' = 'r';

-- schema changes: a column added or dropped keeps capture going; a key
-- column or a listed one cannot go or be renamed; a renamed table goes on
-- under its new name; a dropped table takes its capture with it
ALTER TABLE existing ADD COLUMN extra int DEFAULT 7;
INSERT INTO existing VALUES (6, 'six');
ALTER TABLE existing DROP COLUMN extra;
INSERT INTO existing VALUES (7, 'seven');
ALTER TABLE existing DROP COLUMN id;
ALTER TABLE existing RENAME COLUMN id TO ident;
ALTER TABLE items DROP COLUMN status;
ALTER TABLE existing RENAME TO existing_renamed;
INSERT INTO existing_renamed VALUES (8, 'eight');
SELECT o, v->>'table' AS "table", v->'after' AS after FROM events('existing_cdc') WHERE o >= 6;
BEGIN;
SELECT topics.uncapture('existing_renamed');
ALTER TABLE existing_renamed RENAME COLUMN id TO ident;
SELECT topics.capture('existing_renamed', 'existing_cdc');
COMMIT;
INSERT INTO existing_renamed VALUES (9, 'nine');
SELECT k FROM events('existing_cdc') ORDER BY o DESC LIMIT 1;
DROP TABLE existing_renamed;
SELECT count(*) FROM topics.capture WHERE relid::text LIKE 'existing%';

-- a topic that a table publishes to cannot be dropped
SELECT topics.drop_topic('cdc');

-- errors
SELECT topics.capture('nosuch', 'cdc');
SELECT topics.capture('orders', 'nosuch');
SELECT topics.capture('orders', 'cdc', ARRAY['nosuch']);
SELECT topics.capture('orders', 'cdc', ARRAY['id', 'id']);
SELECT topics.capture('orders', 'cdc', ARRAY['ctid']);
SELECT topics.capture('orders', 'cdc', NULL, '{"format": "avro"}');
SELECT topics.capture('orders', 'cdc', NULL, '{"ops": ["upsert"]}');
SELECT topics.capture('orders', 'cdc', NULL, '{"ops": []}');
SELECT topics.capture('orders', 'cdc', NULL, '{"colums": ["id"]}');
SELECT topics.capture('orders', 'cdc', NULL, '{"columns": ["nosuch"]}');
SELECT topics.capture('orders', 'cdc', NULL, '{"columns": ["id"], "exclude_columns": ["raw"]}');
SELECT topics.capture('orders', 'cdc', NULL, '{"before": "yes"}');
SELECT topics.capture('orders', 'cdc', NULL, '[1]');
SELECT topics.capture('orders', 'cdc', NULL, '{"filter": "nosuch > 1"}');
SELECT topics.capture('orders', 'cdc', NULL, '{"filter": "amount"}');
SELECT topics.capture('orders', 'cdc', NULL, '{"filter": "random() > 0.5"}');
SELECT topics.capture('orders', 'cdc', NULL, '{"filter": "id IN (SELECT 1)"}');
SELECT topics.capture('orders', 'cdc', NULL, '{"filter": "true FROM pg_class"}');
SELECT topics.capture('orders', 'cdc', NULL, '{"filter": "true; DROP TABLE orders"}');
SELECT topics.capture('orders', 'cdc', NULL, '{"filter": "xmin = 1"}');
SELECT topics.capture(NULL, 'cdc');
SELECT topics.capture('pg_class', 'cdc');
SELECT topics.capture('topics.topic', 'cdc');
CREATE VIEW orders_view AS SELECT * FROM orders;
SELECT topics.capture('orders_view', 'cdc');
CREATE TEMP TABLE temp_t (id int PRIMARY KEY);
SELECT topics.capture('temp_t', 'cdc');
SELECT topics.uncapture('keyless');
SELECT topics.uncapture('keyless');
SELECT topics.snapshot('keyless');
SELECT topics.create_topic('compacted', 1, 'stream', '{"cleanup.policy": "compact"}');
SELECT topics.capture('keyless', 'compacted');
-- the trigger function alone
SELECT topics_internal.capture_trigger();
CREATE TABLE rowtrig (id int);
CREATE TRIGGER t AFTER INSERT ON rowtrig FOR EACH ROW EXECUTE FUNCTION topics_internal.capture_trigger();
INSERT INTO rowtrig VALUES (1);

-- a message too large fails the statement, and nothing is published
SELECT topics.create_topic('small', 1, 'stream', '{"max.message.bytes": 300}');
CREATE TABLE notes (id int PRIMARY KEY, body text);
SELECT topics.capture('notes', 'small');
INSERT INTO notes VALUES (1, 'short');
INSERT INTO notes VALUES (2, repeat('x', 400));
SELECT count(*) FROM notes;
SELECT o, k FROM events('small');

-- privileges: only the owner captures; writers need no grant on the
-- topic, as the events go as the table's owner, who needs INSERT on it
CREATE ROLE cdc_owner;
CREATE ROLE cdc_writer;
GRANT USAGE ON SCHEMA public TO cdc_owner, cdc_writer;
GRANT CREATE ON SCHEMA public TO cdc_owner;
SET ROLE cdc_owner;
CREATE TABLE owned (id int PRIMARY KEY, v text);
GRANT INSERT, UPDATE, SELECT ON owned TO cdc_writer;
SELECT topics.capture('owned', 'cdc');
RESET ROLE;
SET ROLE cdc_writer;
SELECT topics.capture('orders', 'cdc');
SELECT topics.uncapture('orders');
SELECT topics.snapshot('orders');
RESET ROLE;
GRANT INSERT ON topics_data.cdc TO cdc_owner;
SET ROLE cdc_owner;
SELECT topics.capture('owned', 'cdc');
RESET ROLE;
SET ROLE cdc_writer;
INSERT INTO owned VALUES (1, 'by the writer');
SELECT * FROM topics.produce('cdc', 'direct'::text);
RESET ROLE;
REVOKE INSERT ON topics_data.cdc FROM cdc_owner;
SET ROLE cdc_writer;
UPDATE owned SET v = 'no longer';
RESET ROLE;
SELECT v->>'table' AS "table", v->'after' AS after FROM events('cdc') WHERE v->>'table' = 'owned';
SET ROLE cdc_owner;
DROP TABLE owned;
RESET ROLE;

-- search_path with a schema of the user's first changes nothing: a
-- look-alike of the trigger function and of now() in public
CREATE FUNCTION public.capture_trigger() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'hijacked'; END $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql
  AS $$ SELECT '1999-01-01'::timestamptz $$;
SET search_path = public, pg_catalog;
SELECT topics.capture('customers', 'dbz', options => '{"format": "debezium"}');
INSERT INTO customers VALUES (5, 'e@example.com');
SELECT topics.snapshot('customers');
ALTER TABLE customers ADD COLUMN note text;
RESET search_path;
SELECT v->'payload'->>'op' AS op, v->'payload'->'after' AS after FROM events('dbz') WHERE o >= 3;
SELECT snapshot_at > '2000-01-01' AS real_time FROM topics.captures WHERE table_name = 'customers';
DROP FUNCTION public.capture_trigger(), public.now();

-- tables that capture cannot follow: an inheritance tree, made before
-- capture or after; an unlogged table
CREATE TABLE inh_parent (id int PRIMARY KEY, v text);
CREATE TABLE inh_child () INHERITS (inh_parent);
SELECT topics.capture('inh_parent', 'cdc');
SELECT topics.capture('inh_child', 'cdc');
DROP TABLE inh_child;
SELECT topics.capture('inh_parent', 'cdc');
CREATE TABLE inh_child () INHERITS (inh_parent);
CREATE TABLE inh_other (id int PRIMARY KEY, v text);
ALTER TABLE inh_other INHERIT inh_parent;
SELECT topics.uncapture('inh_parent');
DROP TABLE inh_parent, inh_other;
CREATE UNLOGGED TABLE unlogged_t (id int PRIMARY KEY);
SELECT topics.capture('unlogged_t', 'cdc');
DROP TABLE unlogged_t;

-- a row that moves to a partition whose trigger skips the insert: the old
-- row has no new one, and the statement is published as deletes, then
-- creates; the replay gives the table
CREATE TABLE skipping (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE skipping_a PARTITION OF skipping FOR VALUES IN ('a');
CREATE TABLE skipping_b PARTITION OF skipping FOR VALUES IN ('b');
CREATE FUNCTION skipper() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN IF NEW.v = 'skip' THEN RETURN NULL; END IF; RETURN NEW; END $$;
CREATE TRIGGER skip BEFORE INSERT ON skipping_b FOR EACH ROW EXECUTE FUNCTION skipper();
SELECT topic FROM topics.create_topic('skipping_cdc', 1);
SELECT topics.capture('skipping', 'skipping_cdc', ARRAY['id']);
INSERT INTO skipping VALUES (11, 'a', 'ok'), (12, 'a', 'skip'), (13, 'a', 'ok');
UPDATE skipping SET region = 'b';
SELECT o, k, v->>'op' AS op, v->'before'->>'region' AS before_region,
       v->'after'->>'region' AS after_region
  FROM events('skipping_cdc') WHERE o >= 3;
SELECT * FROM skipping ORDER BY id;
DROP TABLE skipping;
DROP FUNCTION skipper();

-- a deferrable primary key is the key; a statement that swaps keys
-- deletes each before it creates it again
CREATE TABLE swapped (id int PRIMARY KEY DEFERRABLE, v text);
SELECT topic FROM topics.create_topic('swapped_cdc', 1);
SELECT topics.capture('swapped', 'swapped_cdc');
SELECT key_columns FROM topics.captures WHERE table_name = 'swapped';
INSERT INTO swapped VALUES (1, 'a'), (2, 'b');
UPDATE swapped SET id = 3 - id;
SELECT o, k, v->>'op' AS op, v->'after'->>'v' AS after_v FROM events('swapped_cdc') WHERE o >= 2;
SELECT count(*) AS differ FROM
  ((SELECT id, v FROM swapped)
   EXCEPT
   (SELECT (v->'after'->>'id')::int, v->'after'->>'v'
      FROM (SELECT DISTINCT ON (k) v FROM events('swapped_cdc') ORDER BY k, o DESC) l
     WHERE v->>'op' <> 'd')) d;
DROP TABLE swapped;

-- TRUNCATE goes to every partition of the topic
SELECT topic FROM topics.create_topic('trunc_cdc', 3);
CREATE TABLE trunc_t (id int PRIMARY KEY);
SELECT topics.capture('trunc_t', 'trunc_cdc', options => '{"ops": ["insert", "truncate"]}');
TRUNCATE trunc_t;
SELECT p, o, v->>'op' AS op FROM events('trunc_cdc');
DROP TABLE trunc_t;

-- the filter is read with a search_path of pg_catalog: an operator of
-- public does not stand in for pg_catalog's; a function of another schema
-- is named with it, and cannot be dropped while the filter uses it, nor
-- can a column the filter reads
CREATE TABLE filtered (id int PRIMARY KEY, status text, amount int);
SELECT topic FROM topics.create_topic('filtered_cdc', 1);
SELECT topics.capture('filtered', 'filtered_cdc', options => '{"filter": "status <> ''draft''"}');
CREATE FUNCTION public.always_true(text, text) RETURNS boolean IMMUTABLE LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR public.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = public.always_true);
SET search_path = public, pg_catalog;
INSERT INTO filtered VALUES (1, 'draft', 1), (2, 'live', 2);
RESET search_path;
SELECT k FROM events('filtered_cdc');
DROP OPERATOR public.<> (text, text);
DROP FUNCTION public.always_true(text, text);
CREATE FUNCTION public.big(int) RETURNS boolean IMMUTABLE LANGUAGE sql AS 'SELECT $1 > 10';
SELECT topics.capture('filtered', 'filtered_cdc', options => '{"filter": "big(amount)"}');
SELECT topics.capture('filtered', 'filtered_cdc', options => '{"filter": "public.big(amount)"}');
DROP FUNCTION public.big(int);
ALTER TABLE filtered DROP COLUMN amount;
ALTER TABLE filtered RENAME COLUMN amount TO total;
ALTER TABLE filtered ALTER COLUMN amount TYPE bigint;
INSERT INTO filtered VALUES (3, 'x', 5), (4, 'y', 50);
SELECT k FROM events('filtered_cdc') WHERE o >= 1;
DROP TABLE filtered;
DROP FUNCTION public.big(int);

-- a column dropped with what it depends on (a domain, CASCADE) takes the
-- capture's triggers along: writes go on, unpublished, and topics.captures
-- says so; a column renamed by ALTER VIEW is refused as by ALTER TABLE
CREATE DOMAIN key_domain AS int;
CREATE TABLE dom_keyed (id key_domain PRIMARY KEY, v text);
SELECT topics.capture('dom_keyed', 'cdc');
DROP DOMAIN key_domain CASCADE;
SELECT table_name, active FROM topics.captures WHERE table_name = 'dom_keyed';
INSERT INTO dom_keyed VALUES ('no id');
ALTER VIEW orders RENAME COLUMN id TO ident;
DROP TABLE dom_keyed;

-- the values do not follow the writer's extra_float_digits or
-- bytea_output
CREATE TABLE floats (id int PRIMARY KEY, r real, d double precision, b bytea);
SELECT topic FROM topics.create_topic('floats_cdc', 1);
SELECT topics.capture('floats', 'floats_cdc');
SET extra_float_digits = 0;
SET bytea_output = 'escape';
INSERT INTO floats VALUES (1, 1.0 / 3, 1.0 / 3, '\x00ff'), (2, 'NaN', '-Infinity', '');
RESET extra_float_digits;
RESET bytea_output;
SELECT v->'after' AS after FROM events('floats_cdc');
SELECT count(*) AS differ FROM
  ((SELECT * FROM floats)
   EXCEPT
   (SELECT r.* FROM events('floats_cdc') e, jsonb_populate_record(NULL::floats, e.v->'after') r)) d;
DROP TABLE floats;

-- a renamed schema renames the events' tables, in a session that already
-- wrote the table
CREATE SCHEMA old_name;
CREATE TABLE old_name.t (id int PRIMARY KEY);
SELECT topic FROM topics.create_topic('renamed_cdc', 1);
SELECT topics.capture('old_name.t', 'renamed_cdc');
INSERT INTO old_name.t VALUES (1);
ALTER SCHEMA old_name RENAME TO new_name;
INSERT INTO new_name.t VALUES (2);
SELECT k, v->>'schema' AS schema, h->>'schema' AS header_schema FROM events('renamed_cdc');
DROP SCHEMA new_name CASCADE;

-- the owner of a partition may alter it, though it does not own the
-- captured table; a role with TRIGGER on a captured table cannot make a
-- trigger that calls the trigger function
CREATE ROLE part_owner;
CREATE TABLE parted (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);
SELECT topics.capture('parted', 'cdc');
ALTER TABLE parted_1 OWNER TO part_owner;
GRANT TRIGGER ON parted TO part_owner;
SET ROLE part_owner;
ALTER TABLE parted_1 SET (fillfactor = 50);
CREATE TRIGGER again AFTER INSERT ON parted REFERENCING NEW TABLE AS n
  FOR EACH STATEMENT EXECUTE FUNCTION topics_internal.capture_trigger();
RESET ROLE;
DROP TABLE parted;
DROP ROLE part_owner;

-- the filter is parsed as the table's owner, never as pg_topics's: a
-- literal of the owner's domain runs the domain's check as the owner; a
-- filter of "*" is refused
CREATE ROLE cdc_mallory;
GRANT CREATE ON SCHEMA public TO cdc_mallory;
GRANT INSERT ON topics_data.cdc TO cdc_mallory;
SET ROLE cdc_mallory;
CREATE FUNCTION public.whoami(int) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN RAISE NOTICE 'the check runs as %', current_user; RETURN true; END $$;
CREATE DOMAIN public.watched AS int CHECK (public.whoami(VALUE));
CREATE TABLE mallory_t (id int PRIMARY KEY);
SELECT topics.capture('mallory_t', 'cdc',
         options => '{"filter": "id = ANY (''{1}''::public.watched[])"}');
SELECT topics.capture('mallory_t', 'cdc', options => '{"filter": "*"}');
SELECT topics.capture('mallory_t', 'cdc', options => '{"filter": "mallory_t.*"}');
DROP TABLE mallory_t;
DROP DOMAIN public.watched;
DROP FUNCTION public.whoami(int);
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'cdc_mallory';
REVOKE ALL ON SCHEMA public FROM cdc_mallory;
REVOKE ALL ON topics_data.cdc FROM cdc_mallory;
DROP ROLE cdc_mallory;

-- a captured table cannot be attached to a captured tree; a partition made
-- by CREATE SCHEMA gets the triggers; topics.captures.active says whether
-- every trigger of every table of the tree fires
CREATE TABLE tree (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE tree_1 PARTITION OF tree FOR VALUES FROM (0) TO (100);
CREATE TABLE loose (id int PRIMARY KEY);
SELECT topics.capture('tree', 'cdc');
SELECT topics.capture('loose', 'cdc');
ALTER TABLE tree ATTACH PARTITION loose FOR VALUES FROM (100) TO (200);
CREATE SCHEMA tree_parts CREATE TABLE tree_2 PARTITION OF public.tree FOR VALUES FROM (200) TO (300);
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'tree_parts.tree_2'::regclass;
SELECT active FROM topics.captures WHERE table_name = 'tree';
ALTER TABLE tree_1 DISABLE TRIGGER pg_topics_capture_insert;
SELECT active FROM topics.captures WHERE table_name = 'tree';
ALTER TABLE tree_1 ENABLE REPLICA TRIGGER pg_topics_capture_insert;
SELECT active FROM topics.captures WHERE table_name = 'tree';
ALTER TABLE tree_1 ENABLE ALWAYS TRIGGER pg_topics_capture_insert;
SELECT active FROM topics.captures WHERE table_name = 'tree';
DROP TABLE tree, loose;
DROP SCHEMA tree_parts;

-- a statement run from within another on the same table (by a row
-- trigger of the table) publishes after it, and the parts of a writable
-- CTE as their triggers fire: a consumer rebuilds the rows as they are
CREATE TABLE nested (id int PRIMARY KEY, v text, normalized text);
CREATE FUNCTION norm_upper() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN UPDATE nested SET normalized = upper(NEW.v) WHERE id = NEW.id; RETURN NULL; END $$;
CREATE TRIGGER norm AFTER INSERT ON nested FOR EACH ROW EXECUTE FUNCTION norm_upper();
SELECT topic FROM topics.create_topic('nested_cdc', 1);
SELECT topics.capture('nested', 'nested_cdc');
INSERT INTO nested (id, v) VALUES (1, 'abc'), (2, 'def');
DROP TRIGGER norm ON nested;
WITH gone AS (DELETE FROM nested WHERE id = 1 RETURNING id)
INSERT INTO nested (id, v) SELECT id, 'newer one' FROM gone;
-- a nested statement rolled back to a savepoint takes its events along
CREATE FUNCTION norm_or_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    UPDATE nested SET normalized = 'rolled back' WHERE id = NEW.id;
    RAISE EXCEPTION 'undo';
  EXCEPTION WHEN raise_exception THEN NULL;
  END;
  UPDATE nested SET normalized = lower(NEW.v) WHERE id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER norm AFTER INSERT ON nested FOR EACH ROW EXECUTE FUNCTION norm_or_fail();
INSERT INTO nested (id, v) VALUES (3, 'GHI');
-- a statement run before the enclosing statement's change (by a BEFORE
-- row trigger) publishes before it; INSERT ... ON CONFLICT and MERGE
-- publish the statements their row triggers run after their own
CREATE FUNCTION replace_first() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN DELETE FROM nested WHERE id = NEW.id; RETURN NEW; END $$;
CREATE TRIGGER replace_first BEFORE INSERT ON nested FOR EACH ROW EXECUTE FUNCTION replace_first();
INSERT INTO nested (id, v) VALUES (3, 'replaced');
DROP TRIGGER replace_first ON nested;
DROP FUNCTION replace_first();
INSERT INTO nested (id, v) VALUES (4, 'upserted') ON CONFLICT (id) DO UPDATE SET v = excluded.v;
MERGE INTO nested USING (VALUES (5, 'merged')) m(id, v) ON nested.id = m.id
  WHEN MATCHED THEN UPDATE SET v = m.v WHEN NOT MATCHED THEN INSERT (id, v) VALUES (m.id, m.v);
SELECT o, k, v->>'op' AS op, v->'after'->>'v' AS after_v, v->'after'->>'normalized' AS normalized
  FROM events('nested_cdc');
SELECT count(*) AS differ FROM
  ((SELECT * FROM nested)
   EXCEPT
   (SELECT r.* FROM (SELECT DISTINCT ON (k) v FROM events('nested_cdc') ORDER BY k, o DESC) l,
                    jsonb_populate_record(NULL::nested, l.v->'after') r
     WHERE l.v->>'op' <> 'd')) d;
DROP TABLE nested;
DROP FUNCTION norm_upper(), norm_or_fail();
-- two captured tables whose row triggers write each other: no event of
-- either is lost; a BEFORE row trigger that reads before it writes; an
-- INSERT in a WITH whose row trigger updates the row
CREATE TABLE ping (id int PRIMARY KEY, v text);
CREATE TABLE pong (id int PRIMARY KEY, v text);
SELECT topic FROM topics.create_topic('ping_cdc', 1);
SELECT topic FROM topics.create_topic('pong_cdc', 1);
SELECT topics.capture('ping', 'ping_cdc');
SELECT topics.capture('pong', 'pong_cdc');
CREATE FUNCTION ping_to_pong() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO pong VALUES (NEW.id, 'from ping'); RETURN NULL; END $$;
CREATE FUNCTION pong_to_ping() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN UPDATE ping SET v = 'touched by pong' WHERE id = NEW.id; RETURN NULL; END $$;
CREATE TRIGGER to_pong AFTER INSERT ON ping FOR EACH ROW EXECUTE FUNCTION ping_to_pong();
CREATE TRIGGER to_ping AFTER INSERT ON pong FOR EACH ROW EXECUTE FUNCTION pong_to_ping();
INSERT INTO ping SELECT g, 'a' FROM generate_series(1, 300) g;
SELECT v->>'op' AS op, count(*) FROM events('ping_cdc') GROUP BY 1 ORDER BY 1;
SELECT v->>'op' AS op, count(*) FROM events('pong_cdc') GROUP BY 1 ORDER BY 1;
DROP TABLE ping, pong;
DROP FUNCTION ping_to_pong(), pong_to_ping();
CREATE TABLE lookfirst (id int PRIMARY KEY, v text);
SELECT topic FROM topics.create_topic('lookfirst_cdc', 1);
SELECT topics.capture('lookfirst', 'lookfirst_cdc');
CREATE FUNCTION look_then_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM lookfirst WHERE id = NEW.id) THEN
    DELETE FROM lookfirst WHERE id = NEW.id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER look BEFORE INSERT ON lookfirst FOR EACH ROW EXECUTE FUNCTION look_then_delete();
INSERT INTO lookfirst VALUES (1, 'a');
INSERT INTO lookfirst VALUES (1, 'b');
DROP TRIGGER look ON lookfirst;
CREATE FUNCTION fill() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN UPDATE lookfirst SET v = 'filled' WHERE id = NEW.id; RETURN NULL; END $$;
CREATE TRIGGER fill AFTER INSERT ON lookfirst FOR EACH ROW EXECUTE FUNCTION fill();
WITH x AS (INSERT INTO lookfirst VALUES (2, 'raw')) SELECT 1;
-- a WITH statement whose RETURNING is left unread, on a captured table and
-- on another; one that runs after a function of the query moved the
-- command counter on
WITH x AS (INSERT INTO lookfirst VALUES (6, 'unread') RETURNING id) SELECT 1;
CREATE TEMP TABLE plain_t (x int);
WITH x AS (INSERT INTO plain_t VALUES (1) RETURNING x) SELECT 1;
CREATE FUNCTION bump() RETURNS int LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO plain_t VALUES (2); RETURN 1; END $$;
WITH x AS (INSERT INTO lookfirst VALUES (7, 'bumped')) SELECT bump();
DROP FUNCTION bump();
SELECT o, k, v->>'op' AS op, v->'after'->>'v' AS after_v FROM events('lookfirst_cdc');
DROP TABLE lookfirst;
DROP FUNCTION look_then_delete(), fill();

-- a TRUNCATE publishes before what its AFTER trigger writes
CREATE TABLE seeded (id int PRIMARY KEY, v text);
CREATE FUNCTION seed() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO seeded VALUES (0, 'seed'); RETURN NULL; END $$;
CREATE TRIGGER a_seed AFTER TRUNCATE ON seeded FOR EACH STATEMENT EXECUTE FUNCTION seed();
SELECT topic FROM topics.create_topic('seeded_cdc', 1);
SELECT topics.capture('seeded', 'seeded_cdc', options => '{"ops": ["insert", "update", "delete", "truncate"]}');
INSERT INTO seeded VALUES (1, 'x');
TRUNCATE seeded;
SELECT o, k, v->>'op' AS op FROM events('seeded_cdc');
DROP TABLE seeded;
DROP FUNCTION seed();

-- events kept for a statement whose AFTER trigger was disabled by hand
-- are published when the transaction commits
CREATE TABLE half (id int PRIMARY KEY, v text);
CREATE FUNCTION half_touch() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN UPDATE half SET v = v || '!' WHERE id = NEW.id; RETURN NULL; END $$;
CREATE TRIGGER touch AFTER INSERT ON half FOR EACH ROW EXECUTE FUNCTION half_touch();
SELECT topic FROM topics.create_topic('half_cdc', 4);
SELECT topics.capture('half', 'half_cdc');
ALTER TABLE half DISABLE TRIGGER pg_topics_capture_insert;
BEGIN;
INSERT INTO half VALUES (1, 'a');
COMMIT;
SELECT k, v->>'op' AS op, v->'after'->>'v' AS after_v FROM events('half_cdc');
DROP TABLE half;
DROP FUNCTION half_touch();

-- a partition owned by another role: the filter is still read as the
-- captured table's owner
CREATE ROLE cdc_app;
GRANT CREATE ON SCHEMA public TO cdc_app;
GRANT INSERT ON topics_data.cdc TO cdc_app;
SET ROLE cdc_app;
CREATE FUNCTION public.whoami(int) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN RAISE NOTICE 'the check runs as %', current_user; RETURN true; END $$;
CREATE DOMAIN public.watched AS int CHECK (public.whoami(VALUE));
CREATE TABLE app_t (id int PRIMARY KEY) PARTITION BY RANGE (id);
RESET ROLE;
CREATE TABLE app_t_1 PARTITION OF app_t FOR VALUES FROM (0) TO (100);
SET ROLE cdc_app;
SELECT topics.capture('app_t', 'cdc', options => '{"filter": "id = ANY (''{1}''::public.watched[])"}');
RESET ROLE;
INSERT INTO app_t_1 VALUES (1);
DROP TABLE app_t;
DROP DOMAIN public.watched;
DROP FUNCTION public.whoami(int);
REVOKE ALL ON SCHEMA public FROM cdc_app;
REVOKE ALL ON topics_data.cdc FROM cdc_app;
DROP ROLE cdc_app;

-- uncapture takes the triggers away
SELECT topics.uncapture('readings');
SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pg_topics_capture%'
   AND tgrelid::regclass::text LIKE 'readings%';
INSERT INTO readings VALUES (1, 9, 'not published');
SELECT count(*) FROM events('readings_cdc') WHERE v->'after'->>'val' = 'not published';

DROP VIEW orders_view;
DROP TABLE orders, docs, keyless, accounts, items, customers, readings, notes, rowtrig;
DROP SCHEMA "Sales Data" CASCADE;
SELECT count(*) FROM topics.capture;
REVOKE ALL ON SCHEMA public FROM cdc_owner, cdc_writer;
DROP ROLE cdc_owner, cdc_writer;
DROP DOMAIN positive_amount;
SELECT topics.drop_topic(name) FROM topics.topics
 WHERE name IN ('cdc', 'docs_cdc', 'lines', 'keyless_cdc', 'wide_cdc', 'items_cdc', 'dbz',
                'readings_cdc', 'existing_cdc', 'compacted', 'small', 'm_cdc',
                'skipping_cdc', 'swapped_cdc', 'trunc_cdc', 'filtered_cdc', 'floats_cdc', 'renamed_cdc',
                'nested_cdc', 'seeded_cdc', 'half_cdc', 'ping_cdc', 'pong_cdc', 'lookfirst_cdc');
DROP FUNCTION events(text);
