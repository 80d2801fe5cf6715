--
-- The views of schema topics do not show other roles' topics and groups
-- to a function in the caller's own WHERE clause.
--
-- README: "The catalog tables of schema topics are readable by their owner
-- only; the views of schema topics show each role the topics it may read
-- (or produce to) and the groups it may use."  The views filter with
-- topics_internal.can_read / can_use_group, but they are not
-- security_barrier views: the planner may run a cheaper condition of the
-- caller's query first, on every catalog row.  A role that can read no
-- topic thus lists every topic's name, owner and config, every segment
-- and every consumer group through a function that raises a NOTICE.
-- Expected: the function never sees a row the view does not show.
--
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

CREATE ROLE regress_leak_owner;
CREATE ROLE regress_leak_spy;
GRANT EXECUTE ON FUNCTION topics.create_topic(text, integer, text, jsonb) TO regress_leak_owner;
SET ROLE regress_leak_owner;
SELECT * FROM topics.create_topic('brk_secret', 1, 'stream', '{"segment.messages": 1000}');
SELECT member FROM topics.join('secret_group', 'brk_secret', 'secret_member');
RESET ROLE;

CREATE SCHEMA regress_leak AUTHORIZATION regress_leak_spy;
SET ROLE regress_leak_spy;
CREATE FUNCTION regress_leak.peek(VARIADIC text[]) RETURNS boolean
LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
    RAISE NOTICE 'seen: %', $1;
    RETURN false;
END
$$;
-- the spy may read no topic: the views show it nothing
SELECT count(*) FROM topics.topics WHERE name = 'brk_secret';
SELECT count(*) FROM topics.groups WHERE topic = 'brk_secret';
-- and nothing reaches its function (no NOTICE)
SELECT name FROM topics.topics
 WHERE name = 'brk_secret' AND regress_leak.peek(name, owner::text, config::text);
SELECT topic FROM topics.segments
 WHERE topic = 'brk_secret' AND regress_leak.peek(topic, segment_table::text);
SELECT group_name FROM topics.groups
 WHERE topic = 'brk_secret' AND regress_leak.peek(group_name, topic, owner::text);
SELECT member FROM topics.group_members
 WHERE topic = 'brk_secret' AND regress_leak.peek(member);
SELECT partition FROM topics.group_lag
 WHERE topic = 'brk_secret' AND regress_leak.peek(group_name, member);
SELECT partition FROM topics.partitions
 WHERE topic = 'brk_secret' AND regress_leak.peek(topic, lso::text);
RESET ROLE;

DROP SCHEMA regress_leak CASCADE;
SET ROLE regress_leak_owner;
SELECT topics.drop_topic('brk_secret');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION topics.create_topic(text, integer, text, jsonb) FROM regress_leak_owner;
DROP ROLE regress_leak_owner;
DROP ROLE regress_leak_spy;
