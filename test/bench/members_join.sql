-- pg_topics: member "m<client>" joins group :g of topic "ms" at a random
-- moment of the second that starts at :start (Unix time), and logs when its
-- join began and ended (--scale, members: members_64_settle_s).  Its
-- backend first joins a group of its own, as a consumer's long-lived
-- connection has: the first join of a new backend compiles the SQL
-- functions of groups (about 30 ms of CPU).
SET pg_topics.rebalance_delay = 0;
SELECT generation FROM topics.join(:g || '_warm' || :client_id, 'ms', 'w');
RESET pg_topics.rebalance_delay;
\set d random(0, 999)
SELECT pg_sleep(greatest(0, :start + :d / 1000.0 - extract(epoch FROM clock_timestamp())));
INSERT INTO settle_log
SELECT :g, 'm' || :client_id, 1, statement_timestamp(), clock_timestamp(), generation
  FROM topics.join(:g, 'ms', 'm' || :client_id, session_timeout => '1 hour');
