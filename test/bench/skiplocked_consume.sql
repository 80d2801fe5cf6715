-- Baseline: a SKIP LOCKED queue table, as pgmq, pg-boss and River keep
-- one: lock the 10 oldest rows no one holds and delete them, returning
-- them, in one statement (autocommit).
WITH c AS (SELECT id FROM skq ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED)
DELETE FROM skq USING c WHERE skq.id = c.id RETURNING skq.id, skq.payload;
