--
-- A topic table changed by hand is refused (55000), never written so that
-- it breaks its own constraints.
--
-- README, Limitations: a superuser "may still change the tables by hand;
-- pg_topics then refuses with 55000".  topic_table_check compares column
-- names, types and dropped columns only.  A NOT NULL set on key (or a
-- CHECK constraint) is not seen, and produce (table_tuple_insert without
-- the executor) stores a row that violates it.  The table then lies to
-- plain SQL: the planner trusts NOT NULL, so "key IS NULL" finds nothing
-- although the row's key is NULL.  Expected: produce refuses with 55000
-- (or enforces the constraint, 23502/23514); no row violates a
-- constraint of its table.
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT * FROM topics.create_topic('brk_shape');
ALTER TABLE topics_data.brk_shape ALTER COLUMN key SET NOT NULL;
SELECT msg_offset FROM topics.produce('brk_shape', 'no key'::text);
\echo :SQLSTATE
-- no stored row breaks the constraint
SELECT count(*) FROM topics_data.brk_shape WHERE key IS NULL;
SELECT count(*) FROM topics_data.brk_shape WHERE coalesce(length(key), -1) = -1;
ALTER TABLE topics_data.brk_shape ALTER COLUMN key DROP NOT NULL;

ALTER TABLE topics_data.brk_shape ADD CONSTRAINT value_given CHECK (value IS NOT NULL);
SELECT msg_offset FROM topics.produce('brk_shape', NULL::text);
\echo :SQLSTATE
SELECT count(*) FROM topics_data.brk_shape WHERE value IS NULL;

SELECT topics.drop_topic('brk_shape');

-- An index on an expression of the group positions: pg_topics writes the
-- index entries of a moved position itself, and refuses (55000) an index
-- whose entries it cannot make; the position stays where it was.
SELECT topic FROM topics.create_topic('brk_idx');
SELECT count(*) FROM generate_series(1, 3) i, LATERAL topics.produce('brk_idx', 'm' || i);
SELECT partitions FROM topics.join('brk_g', 'brk_idx', 'm', auto_offset_reset => 'earliest');
SELECT msg_offset FROM topics.poll('brk_g', 'brk_idx', 'm', 1);
CREATE INDEX brk_expr ON topics.committed_offset ((committed + 1));
SELECT msg_offset FROM topics.poll('brk_g', 'brk_idx', 'm', 1);
\echo :SQLSTATE
DROP INDEX topics.brk_expr;
SELECT msg_offset FROM topics.poll('brk_g', 'brk_idx', 'm', 1);
SELECT topics.drop_topic('brk_idx');
