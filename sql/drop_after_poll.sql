--
-- A transaction that moved a group's position and then drops the topic
-- (or the extension) commits.
--
-- Positions are written just before commit (positions.c,
-- positions_flush).  When the same transaction has dropped the topic, the
-- position rows are gone (deleted with the group, or with the whole
-- catalog): the flush updates a row its own transaction deleted, and the
-- COMMIT fails with the internal "attempted to update invisible tuple"
-- (or 3F000 schema "topics" does not exist after DROP EXTENSION).  The
-- drop is rolled back with it.  Expected: the COMMIT succeeds and the
-- topic (or the extension) is gone; the dropped group's positions are
-- simply not written.
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT * FROM topics.create_topic('brk_dropx');
SELECT count(*) FROM topics.produce_batch('brk_dropx', ARRAY['a', 'b', 'c']);
SELECT member FROM topics.join('g', 'brk_dropx', 'm', auto_offset_reset => 'earliest');

-- poll, then drop_topic
BEGIN;
SELECT count(*) FROM topics.poll('g', 'brk_dropx', 'm', 2);
SELECT topics.drop_topic('brk_dropx');
COMMIT;
SELECT count(*) AS topic_left FROM topics.topics WHERE name = 'brk_dropx';

-- seek, then drop_topic
SELECT * FROM topics.create_topic('brk_dropy');
SELECT count(*) FROM topics.produce_batch('brk_dropy', ARRAY['a', 'b', 'c']);
SELECT member FROM topics.join('g', 'brk_dropy', 'm');
BEGIN;
SELECT topics.seek('g', 'brk_dropy', 0, 1);
SELECT topics.drop_topic('brk_dropy');
COMMIT;
SELECT count(*) AS topic_left FROM topics.topics WHERE name = 'brk_dropy';

-- poll, then DROP EXTENSION (in a database of its own)
\set regress_db :DBNAME
CREATE DATABASE regress_break_dropx;
\c regress_break_dropx
\set VERBOSITY sqlstate
CREATE EXTENSION pg_topics;
SELECT * FROM topics.create_topic('brk_dropz');
SELECT count(*) FROM topics.produce_batch('brk_dropz', ARRAY['a', 'b', 'c']);
SELECT member FROM topics.join('g', 'brk_dropz', 'm', auto_offset_reset => 'earliest');
BEGIN;
SELECT count(*) FROM topics.poll('g', 'brk_dropz', 'm', 2);
SET client_min_messages = warning;
DROP EXTENSION pg_topics CASCADE;
RESET client_min_messages;
COMMIT;
SELECT count(*) AS extension_left FROM pg_extension WHERE extname = 'pg_topics';
\c :regress_db
DROP DATABASE regress_break_dropx;

-- clean up whatever the failed drops left
SELECT topics.drop_topic(name) FROM topics.topics WHERE name IN ('brk_dropx', 'brk_dropy');
