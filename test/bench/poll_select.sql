-- Baseline: the same 1000 rows (ids = offsets) of a plain table holding the
-- same messages, by an indexed range scan from a position kept in a
-- one-row table, which the same statement moves forward (its UPDATE locks
-- the row, as poll locks its position row): one statement, autocommit,
-- same columns to the client.  The scalar subqueries make the position an
-- index condition (a join with the CTE is planned as a full scan).
WITH p AS (UPDATE poll_position SET pos = pos + 1000 RETURNING pos - 1000 AS pos)
SELECT id, ts, key, value
  FROM pplain
 WHERE id >= (SELECT pos FROM p) AND id < (SELECT pos FROM p) + 1000
 ORDER BY id;
