-- plain SQL: reader "client + 1" reads up to 1000 rows of table plain_gq
-- past its position and moves the position past them, in one statement;
-- when it found fewer than 500 it sleeps 100 ms before it looks again
-- (run with one client per reader; --scale, groups: the plain side of
-- poll_group.sql, which waits for 500 on a latch instead).  Plain SQL
-- cannot know whether a row below the last one it read is still to
-- commit: it may skip one, which pg_topics' LSO does not.
WITH r AS (SELECT id, v FROM plain_gq
            WHERE id > (SELECT pos FROM plain_gpos WHERE g = :client_id + 1)
            ORDER BY id LIMIT 1000),
     m AS (SELECT count(*) AS n, max(id) AS last, sum(length(v)) AS bytes FROM r),
     u AS (UPDATE plain_gpos SET pos = m.last FROM m
            WHERE g = :client_id + 1 AND m.n > 0 RETURNING 1)
SELECT n FROM m, (SELECT count(*) FROM u) moved \gset
\if :n < 500
\sleep 100 ms
\endif
