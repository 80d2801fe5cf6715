--
-- Between installing the 0.2 library and ALTER EXTENSION pg_topics UPDATE,
-- every function fails with 55000 and the hint to update.
--
-- README (Upgrading): "Until then, pg_topics's functions fail with
-- SQLSTATE 55000 and that hint."  create_topic does; most others reach
-- the 0.1 catalog with 0.2 queries and fail with 42703 'column "owner"
-- does not exist', the internal query as context, and no hint.
--
\set VERBOSITY sqlstate
\set regress_db :DBNAME
CREATE DATABASE regress_break_old;
\c regress_break_old
\set VERBOSITY sqlstate
CREATE EXTENSION pg_topics VERSION '0.1';
SELECT * FROM topics.create_topic('x', 1);
SELECT * FROM topics.produce('x', 'a'::text);
SELECT * FROM topics.produce_batch('x', ARRAY['a']);
SELECT * FROM topics.fetch('x', 0, 0);
SELECT topics.offset_for_time('x', 0, now());
SELECT * FROM topics.join('g', 'x', 'm');
SELECT * FROM topics.poll('g', 'x', 'm');
SELECT topics.commit('g', 'x', 0, 0);
SELECT topics.seek('g', 'x', 0, 0);
SELECT topics.heartbeat('g', 'x', 'm');
SELECT topics.leave('g', 'x', 'm');
SELECT topics.add_partitions('x', 1);
SELECT topics.drop_topic('x');
\c :regress_db
DROP DATABASE regress_break_old;

--
-- The same between installing the 0.3 library and updating a 0.2
-- installation: 0.3 reads columns that 0.2 lacks.
--
CREATE DATABASE regress_break_old;
\c regress_break_old
\set VERBOSITY sqlstate
CREATE EXTENSION pg_topics VERSION '0.2';
SELECT * FROM topics.create_topic('x', 1);
SELECT * FROM topics.produce('x', 'a'::text);
SELECT * FROM topics.produce_batch('x', ARRAY['a']);
SELECT * FROM topics.fetch('x', 0, 0);
SELECT topics.offset_for_time('x', 0, now());
SELECT * FROM topics.join('g', 'x', 'm');
SELECT * FROM topics.poll('g', 'x', 'm');
SELECT topics.commit('g', 'x', 0, 0);
SELECT topics.seek('g', 'x', 0, 0);
SELECT topics.heartbeat('g', 'x', 'm');
SELECT topics.leave('g', 'x', 'm');
SELECT topics.add_partitions('x', 1);
SELECT topics.drop_topic('x');
SELECT count(*) FROM topics.partitions;
\c :regress_db
DROP DATABASE regress_break_old;
