-- pg_topics: lease 10 messages of queue "qr" for 30 s, then acknowledge
-- them in a second transaction, as a worker that processes outside the
-- database does.  The ids pass from one to the other in a session setting
-- (pgbench's \gset variables cannot be prepared before their first use);
-- the baseline passes them the same way.
SELECT set_config('bench.ids',
                  (SELECT coalesce(array_agg(delivery_id), '{}')::text
                     FROM topics.receive('qr', '30 s', 10)), false);
SELECT topics.ack('qr', current_setting('bench.ids')::bigint[]);
