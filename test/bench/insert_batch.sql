-- Baseline: the same two arrays, built the same way, unnested into a plain
-- table with a bigint primary key.  Ids are max(id)+1.. (one index probe),
-- which is exact with the single client this script runs with and is the
-- cheapest id generation plain SQL has: a strict baseline.
INSERT INTO plain(id, ts, key, value)
SELECT s.m + u.n, now(), u.k, u.v
  FROM (SELECT coalesce(max(id), 0) AS m FROM plain) AS s,
       unnest(ARRAY(SELECT convert_to(lpad(i::text, 100, 'v'), 'UTF8') FROM generate_series(1, 1000) AS i),
              ARRAY(SELECT convert_to('k' || i, 'UTF8') FROM generate_series(1, 1000) AS i))
         WITH ORDINALITY AS u(v, k, n);
