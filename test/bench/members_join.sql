-- pg_topics: member "m<client>" joins group :g of topic "ms" at a random
-- moment within a second (--scale, groups: members_64_settle_s).
\set d random(0, 999)
\sleep :d ms
SELECT generation FROM topics.join(:g, 'ms', 'm' || :client_id, session_timeout => '1 hour');
