-- pg_topics: member "m<client>" joins group :g of topic "ms" at a random
-- moment within a second, and logs when its join began and ended (--scale,
-- members: members_64_settle_s).
\set d random(0, 999)
\sleep :d ms
INSERT INTO settle_log
SELECT :g, 'm' || :client_id, 1, statement_timestamp(), clock_timestamp(), generation
  FROM topics.join(:g, 'ms', 'm' || :client_id, session_timeout => '1 hour');
