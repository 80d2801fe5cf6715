--
-- A very long max_wait waits; it does not return at once.
--
-- pg_topics_wait_ms saturates an interval's microseconds at the int64
-- range, but the deadline is then computed as now + max_wait, which
-- overflows for a max_wait above about 292,000 years (interval
-- '1000000 years' saturates): the deadline lands in the past and fetch and
-- poll return at once, as if max_wait were 0.  A client that asks to wait
-- "forever" spins instead.  Expected: the read waits (here until
-- statement_timeout cancels it, 57014).
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT * FROM topics.create_topic('brk_wait');
SELECT msg_offset FROM topics.produce('brk_wait', 'm0'::text);
SELECT member FROM topics.join('g', 'brk_wait', 'm');

SET statement_timeout = '1s';
-- the tail is empty: both must wait, and are cancelled
SELECT count(*) FROM topics.fetch('brk_wait', 0, 1, 1, '1000000 years');
\echo :SQLSTATE
SELECT count(*) FROM topics.poll('g', 'brk_wait', 'm', 1, '1000000 years');
\echo :SQLSTATE
-- the largest interval there is
SELECT count(*) FROM topics.fetch('brk_wait', 0, 1, 1, '178000000 years');
\echo :SQLSTATE
RESET statement_timeout;

SELECT topics.drop_topic('brk_wait');
