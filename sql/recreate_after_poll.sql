--
-- A transaction that polled a topic, dropped it and made it again (or the
-- whole extension) keeps what it did to the new one.
--
-- The transaction's ledger (positions.c) knows groups by topic and group
-- name, and their positions by partition, with the row version it holds.
-- After drop_topic and create_topic of the same name and a join of the same
-- group, a seek finds the old topic's position in the ledger
-- (position_register keeps the entry it has), moves it, and at commit
-- positions_flush finds that row version deleted and writes nothing: the
-- seek returned 0 and is lost, the group starts at the log end
-- (auto_offset_reset latest), and the messages produced after the commit
-- are skipped.  Expected: the seek is kept, and the poll hands out a, b, c.
--
-- After DROP EXTENSION and CREATE EXTENSION, the flush fetches the old row
-- version from the new, empty committed_offset table: the COMMIT fails with
-- XX001 "could not read block 0".  Expected: the COMMIT succeeds.
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT * FROM topics.create_topic('brk_again');
SELECT count(*) FROM topics.produce_batch('brk_again', ARRAY['x', 'y', 'z']);
SELECT member FROM topics.join('g', 'brk_again', 'm', auto_offset_reset => 'earliest');

BEGIN;
SELECT msg_offset FROM topics.poll('g', 'brk_again', 'm', 2);
SELECT topics.drop_topic('brk_again');
SELECT * FROM topics.create_topic('brk_again');
SELECT member FROM topics.join('g', 'brk_again', 'm', auto_offset_reset => 'latest');
SELECT topics.seek('g', 'brk_again', 0, 0);
COMMIT;
SELECT committed FROM topics.group_lag WHERE topic = 'brk_again';
SELECT count(*) FROM topics.produce_batch('brk_again', ARRAY['a', 'b', 'c']);
SELECT convert_from(value, 'UTF8') FROM topics.poll('g', 'brk_again', 'm', 10);
SELECT topics.drop_topic('brk_again');

-- poll, DROP EXTENSION, CREATE EXTENSION (in a database of its own)
\set regress_db :DBNAME
CREATE DATABASE regress_break_again;
\c regress_break_again
\set VERBOSITY sqlstate
CREATE EXTENSION pg_topics;
SELECT * FROM topics.create_topic('brk_again');
SELECT count(*) FROM topics.produce_batch('brk_again', ARRAY['a', 'b', 'c']);
SELECT member FROM topics.join('g', 'brk_again', 'm', auto_offset_reset => 'earliest');
BEGIN;
SELECT count(*) FROM topics.poll('g', 'brk_again', 'm', 2);
SET client_min_messages = warning;
DROP EXTENSION pg_topics CASCADE;
CREATE EXTENSION pg_topics;
RESET client_min_messages;
COMMIT;
SELECT count(*) AS topics_left FROM topics.topics;
\c :regress_db
DROP DATABASE regress_break_again;
