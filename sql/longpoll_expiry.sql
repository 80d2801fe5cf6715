--
-- A member waiting in a long poll is not expired for silence.
--
-- README: "Every poll is also a heartbeat", and a member "not seen (no
-- poll, heartbeat or join)" for longer than its session timeout is
-- removed.  A poll heartbeats once, when it starts (group_check_member);
-- while it waits for a commit (max_wait) it is not seen, so the worker
-- expires a member whose max_wait exceeds its session timeout in the
-- middle of its own poll: the group rebalances and the member's next poll
-- fails (42704, join again).  With the defaults (session_timeout 45 s) a
-- poll with max_wait '60 s' on a quiet topic is enough.  Kafka's consumer
-- keeps heartbeating while it waits in poll.  Here: session timeout 1 s,
-- a poll that waits 3 s on an empty tail (the worker runs every second).
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT * FROM topics.create_topic('brk_lpexp');
SELECT member FROM topics.join('g', 'brk_lpexp', 'waiter', session_timeout => '1 s');
SELECT count(*) FROM topics.poll('g', 'brk_lpexp', 'waiter', 10, '3 s');
-- still a member, and may poll again without joining
SELECT member, current FROM topics.group_members WHERE topic = 'brk_lpexp';
SELECT count(*) FROM topics.poll('g', 'brk_lpexp', 'waiter', 10);
\echo :SQLSTATE

SELECT topics.drop_topic('brk_lpexp');
