-- pg_topics: the one member of group "g<client + 1>" long-polls topic "gq":
-- up to 1000 messages, waiting up to 1 s for 500 of them (Kafka's
-- fetch.min.bytes and fetch.max.wait.ms: about 50 kB of these 100 B
-- messages; run with one client per group; --scale, groups).
SELECT count(*) FROM topics.poll('g' || (:client_id + 1), 'gq', 'm', 1000, '1 s', 500);
