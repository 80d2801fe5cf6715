-- Baseline: the same 1000 rows (same ids as the offsets) by an indexed range
-- scan of a plain table holding the same 200k rows, handed to the client.
\set o random(0, :maxo)
SELECT id, ts, key, value FROM fplain
 WHERE id >= :o AND id < :o + 1000 ORDER BY id;
