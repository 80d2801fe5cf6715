-- Baseline: pgmq's read and delete: lease the 10 oldest visible rows by
-- moving their visibility time (UPDATE of rows locked FOR UPDATE SKIP
-- LOCKED), then delete them in a second transaction.  The ids pass as in
-- queue_receive_ack.sql.
WITH c AS (SELECT id FROM skr WHERE vt <= clock_timestamp() ORDER BY id LIMIT 10
             FOR UPDATE SKIP LOCKED),
     u AS (UPDATE skr SET vt = clock_timestamp() + interval '30 s', read_ct = read_ct + 1
             FROM c WHERE skr.id = c.id RETURNING skr.id, skr.payload)
SELECT set_config('bench.ids', (SELECT coalesce(array_agg(id), '{}')::text FROM u), false);
DELETE FROM skr WHERE id = ANY (current_setting('bench.ids')::bigint[]);
