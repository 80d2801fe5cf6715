-- pg_topics: the one member of group "g<client + 1>" long-polls topic "gq":
-- up to 1000 messages, waiting up to 200 ms for 100 of them (Kafka's
-- fetch.min.bytes and fetch.max.wait.ms; run with one client per group;
-- --scale, groups).
SELECT count(*) FROM topics.poll('g' || (:client_id + 1), 'gq', 'm', 1000, '200 ms', 100);
