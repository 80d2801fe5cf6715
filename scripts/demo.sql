-- pg_topics demo: a Kafka-style topic inside PostgreSQL, read by a consumer group.
-- Run by scripts/demo.sh with psql -e (which echoes each statement), after it
-- has done CREATE EXTENSION pg_topics and CREATE EXTENSION dblink (the long poll
-- in step 6 is woken by a producer in a second session, opened with dblink).
-- Safe to rerun: it starts by dropping what it made.
\set ON_ERROR_STOP on
\pset null '(null)'

-- Drop what a previous run made, quietly (dropping the topic drops its groups).
\set ECHO none
SET client_min_messages = warning;
DO $$
BEGIN
    PERFORM topics.drop_topic(name) FROM topics.topics WHERE name = 'orders';
    DROP TABLE IF EXISTS processed_orders;
END
$$;
RESET client_min_messages;
\set ECHO queries

\echo
\echo '=== 1. Create topic "orders" with 3 partitions'
SELECT * FROM topics.create_topic('orders', 3);

\echo
\echo '=== 2. Produce. The key picks the partition: customer-7''s orders always land in the same one.'
\echo '       A message can be text or JSON; produce_batch sends many in one call.'
SELECT * FROM topics.produce('orders', 'order 1001: 2 coffees'::text, 'customer-7');
SELECT * FROM topics.produce('orders', 'order 1002: 1 tea'::text, 'customer-7');
SELECT * FROM topics.produce('orders', '{"order": 1003, "items": ["bagel", "juice"], "total": 7.5}'::jsonb, 'customer-42');
SELECT * FROM topics.produce_batch('orders',
    ARRAY['order 1004: 1 muffin', 'order 1005: 3 teas', 'order 1006: 1 cake']::text[],
    ARRAY['customer-8', 'customer-7', 'customer-5']::text[]);

\echo
\echo '=== 3. Fetch: read every partition from offset 0 (stateless: nothing remembers what was read)'
SELECT m.partition, m.msg_offset,
       convert_from(m.key, 'UTF8') AS key,
       convert_from(m.value, 'UTF8') AS value
FROM generate_series(0, 2) AS p(partition)
CROSS JOIN LATERAL topics.fetch('orders', p.partition, 0) AS m
ORDER BY m.partition, m.msg_offset;

\echo
\echo '=== 4. A consumer group "billing" remembers its position in each partition.'
\echo '       worker-1 joins; auto_offset_reset => earliest: start at the oldest message.'
SELECT * FROM topics.join('billing', 'orders', 'worker-1', auto_offset_reset => 'earliest');
\echo
\echo '--- the group has no position yet (committed is null): everything below the LSO is to read'
\echo '--- (lso, the last stable offset: readers see the committed messages below it)'
SELECT partition, committed, lso, lag, member
FROM topics.group_lag WHERE group_name = 'billing' ORDER BY partition;

\echo
\echo '--- poll inside a transaction, together with the consumer''s own write: the position moves'
\echo '--- at COMMIT, with the INSERT; had it rolled back, the next poll would return the same messages'
CREATE TABLE processed_orders (
    partition  integer,
    msg_offset bigint,
    customer   text,
    body       text,
    PRIMARY KEY (partition, msg_offset)
);
BEGIN;
INSERT INTO processed_orders
SELECT partition, msg_offset, convert_from(key, 'UTF8'), convert_from(value, 'UTF8')
FROM topics.poll('billing', 'orders', 'worker-1');
COMMIT;
SELECT * FROM processed_orders ORDER BY partition, msg_offset;
\echo
\echo '--- the position (committed: the next offset to read) is now the LSO: no lag'
SELECT partition, committed, lso, lag, member
FROM topics.group_lag WHERE group_name = 'billing' ORDER BY partition;
\echo
\echo '--- polling again returns nothing new'
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
FROM topics.poll('billing', 'orders', 'worker-1');

\echo
\echo '=== 5. A cursor over poll moves the position only past the rows it FETCHes.'
\echo '       customer-7 orders 5 more (all in its partition):'
SELECT * FROM topics.produce_batch('orders',
    ARRAY['order 1007: 1 espresso', 'order 1008: 2 scones', 'order 1009: 1 latte',
          'order 1010: 4 cookies', 'order 1011: 1 chai']::text[],
    ARRAY['customer-7', 'customer-7', 'customer-7', 'customer-7', 'customer-7']::text[]);
BEGIN;
DECLARE c CURSOR FOR
    SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
    FROM topics.poll('billing', 'orders', 'worker-1');
FETCH 2 FROM c;
COMMIT;
\echo
\echo '--- the position moved past exactly those 2: 3 left (lag 3)'
SELECT partition, committed, lso, lag
FROM topics.group_lag WHERE group_name = 'billing' ORDER BY partition;
\echo
\echo '--- and the next poll starts right after them'
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
FROM topics.poll('billing', 'orders', 'worker-1');

\echo
\echo '=== 6. A long poll is woken by a producer''s COMMIT.'
\echo '       A second session (opened with dblink) produces an order but does not commit yet:'
SELECT dblink_connect('producer',
    format('host=%s port=%s dbname=%s user=%s', current_setting('unix_socket_directories'),
           current_setting('port'), current_database(), current_user));
SELECT dblink_exec('producer', 'BEGIN');
SELECT * FROM dblink('producer',
    $$SELECT * FROM topics.produce('orders', 'order 1012: 1 hot chocolate'::text, 'customer-42')$$)
    AS produced(partition integer, msg_offset bigint);
\echo
\echo '--- uncommitted, it holds the partition''s LSO below log_end: no reader sees it yet'
SELECT partition, lso, log_end, oldest_producer_pid IS NOT NULL AS open_producer
FROM topics.partitions WHERE topic = 'orders' ORDER BY partition;
\echo
\echo '--- the producer will COMMIT 1 second from now, in the background; meanwhile this'
\echo '--- session polls with max_wait => 10 s, and gets the order as soon as it commits'
SELECT dblink_send_query('producer', 'SELECT pg_sleep(1); COMMIT');
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value,
       round(extract(epoch FROM clock_timestamp() - statement_timestamp())::numeric, 1) AS waited_seconds
FROM topics.poll('billing', 'orders', 'worker-1', max_wait => '10 s');
SELECT dblink_disconnect('producer');

\echo
\echo '=== 7. Offsets per partition: log_start (oldest offset kept), lso (readers see below it),'
\echo '       log_end (the next offset handed out)'
SELECT partition, log_start, lso, log_end
FROM topics.partitions WHERE topic = 'orders' ORDER BY partition;
