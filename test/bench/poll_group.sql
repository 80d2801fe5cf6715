-- pg_topics: the one member of group "g<client + 1>" long-polls topic "gq":
-- up to 1000 messages, waiting up to 1 s for 500 of them (Kafka's
-- fetch.min.bytes and fetch.max.wait.ms: about 50 kB of these 100 B
-- messages; run with one client per group; --scale, groups).  The group's
-- name is bound as a parameter, as a client passes it: an expression in
-- its place would make PostgreSQL plan the poll anew for each call.
SELECT 'g' || (:client_id + 1) AS g \gset
SELECT count(*) FROM topics.poll(:g, 'gq', 'm', 1000, '1 s', 500);
