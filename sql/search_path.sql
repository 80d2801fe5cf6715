--
-- search_path: with a schema of user objects before pg_catalog, pg_topics
-- runs none of them, whatever it calls
--
\set VERBOSITY terse
CREATE EXTENSION IF NOT EXISTS pg_topics;

-- Operators and functions that shadow pg_catalog's for the types pg_topics
-- works with; each reports that user code ran.
CREATE SCHEMA regress_trap;
CREATE FUNCTION regress_trap.caught(text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'user code ran: %', $1; END $$;
CREATE FUNCTION regress_trap.eq_text(text, text) RETURNS boolean
LANGUAGE sql AS $$ SELECT regress_trap.caught('text = text') $$;
CREATE FUNCTION regress_trap.eq_int4(integer, integer) RETURNS boolean
LANGUAGE sql AS $$ SELECT regress_trap.caught('integer = integer') $$;
CREATE FUNCTION regress_trap.eq_int8(bigint, bigint) RETURNS boolean
LANGUAGE sql AS $$ SELECT regress_trap.caught('bigint = bigint') $$;
CREATE FUNCTION regress_trap.lt_int8(bigint, bigint) RETURNS boolean
LANGUAGE sql AS $$ SELECT regress_trap.caught('bigint < bigint') $$;
CREATE FUNCTION regress_trap.gt_int4(integer, integer) RETURNS boolean
LANGUAGE sql AS $$ SELECT regress_trap.caught('integer > integer') $$;
CREATE FUNCTION regress_trap.eq_oid(oid, oid) RETURNS boolean
LANGUAGE sql AS $$ SELECT regress_trap.caught('oid = oid') $$;
CREATE FUNCTION regress_trap.get_text(jsonb, text) RETURNS text
LANGUAGE sql AS $$ SELECT regress_trap.caught('jsonb ->> text')::text $$;
CREATE FUNCTION regress_trap.cat(text, text) RETURNS text
LANGUAGE sql AS $$ SELECT regress_trap.caught('text || text')::text $$;
CREATE OPERATOR regress_trap.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_trap.eq_text);
CREATE OPERATOR regress_trap.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = regress_trap.eq_int4);
CREATE OPERATOR regress_trap.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = regress_trap.eq_int8);
CREATE OPERATOR regress_trap.< (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = regress_trap.lt_int8);
CREATE OPERATOR regress_trap.> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = regress_trap.gt_int4);
CREATE OPERATOR regress_trap.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = regress_trap.eq_oid);
CREATE OPERATOR regress_trap.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = regress_trap.get_text);
CREATE OPERATOR regress_trap.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_trap.cat);
CREATE FUNCTION regress_trap.now() RETURNS timestamptz
LANGUAGE sql AS $$ SELECT regress_trap.caught('now()')::text::timestamptz $$;
CREATE FUNCTION regress_trap.count(anyelement) RETURNS bigint
LANGUAGE sql AS $$ SELECT regress_trap.caught('count()')::text::bigint $$;

-- the traps work
SET search_path = regress_trap, pg_catalog;
SELECT 'a' = 'a';
SELECT 1 > 0;
RESET search_path;

-- Everything pg_topics offers, with the traps first on the search_path
SET search_path = regress_trap, pg_catalog;
SELECT * FROM topics.create_topic('sp', 2, 'stream', '{"segment.messages": 4}');
SELECT * FROM topics.produce('sp', 'v'::bytea, 'k'::bytea);
SELECT * FROM topics.produce('sp', 'v'::text, 'k'::text, headers => '{"h": 1}');
SELECT * FROM topics.produce('sp', '{"a": 1}'::jsonb, 'k'::text, partition => 1);
SELECT count(*) FROM topics.produce_batch('sp', ARRAY['1', '2', '3', '4', '5', '6']::text[],
                                          partition => 0);
SELECT count(*) FROM topics.produce_batch('sp', ARRAY['\x01'::bytea], ARRAY['k'::bytea]);
SELECT count(*) FROM topics.produce_batch('sp', ARRAY['{}'::jsonb], partition => 1);
SELECT count(*) FROM topics.fetch('sp', 0, 0);
SELECT topics.offset_for_time('sp', 0, '-infinity');
SELECT member FROM topics.join('g', 'sp', 'm', auto_offset_reset => 'earliest');
SELECT count(*) FROM topics.poll('g', 'sp', 'm');
BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset FROM topics.poll('g', 'sp', 'm');
FETCH 1 FROM c;
COMMIT;
SELECT topics.commit('g', 'sp', 0, 1);
SELECT topics.seek('g', 'sp', 0, 0);
SELECT topics.seek('g', 'sp', 0, '-infinity'::timestamptz);
SELECT generation FROM topics.heartbeat('g', 'sp', 'm');
SELECT topics.add_partitions('sp', 1);
SELECT member, partitions FROM topics.join('g', 'sp', 'm');
SELECT count(*) FROM topics.topics;
SELECT count(*) FROM topics.partitions;
SELECT count(*) FROM topics.segments;
SELECT count(*) FROM topics.groups;
SELECT count(*) FROM topics.group_members;
SELECT count(*) FROM topics.group_lag;
SELECT count(*) FROM topics.partition_info('sp');
SELECT topics.murmur2('k'), topics.partition_for_key('k', 3);
SELECT topics.leave('g', 'sp', 'm');
SELECT topics.drop_topic('sp');
RESET search_path;

DROP SCHEMA regress_trap CASCADE;
