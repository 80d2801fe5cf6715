-- pg_topics demo: a Kafka-style topic inside PostgreSQL.
-- Run by scripts/demo.sh (which has already done CREATE EXTENSION pg_topics);
-- safe to rerun: it starts by dropping the topic.
\pset null '(null)'

\echo
\echo '=== 1. Create topic "demo" with 3 partitions'
SELECT topics.drop_topic('demo') FROM topics.topics WHERE name = 'demo';
SELECT * FROM topics.create_topic('demo', 3);

\echo
\echo '=== 2. Produce: the key picks the partition, so user-42 always lands in the same one'
SELECT * FROM topics.produce('demo', 'hello'::text, 'user-42'::text);
SELECT * FROM topics.produce('demo', 'again'::text, 'user-42'::text);
SELECT * FROM topics.produce('demo', 'no key here'::text);
SELECT * FROM topics.produce('demo', '{"event": "signup", "user": 7}'::jsonb, 'user-7'::text);
SELECT * FROM topics.produce_batch('demo', ARRAY['a', 'b', 'c']::text[], ARRAY['k1', 'k2', 'k1']::text[]);

\echo
\echo '=== 3. Fetch: read every partition from offset 0'
SELECT m.partition, m.msg_offset,
       convert_from(m.key, 'UTF8') AS key,
       convert_from(m.value, 'UTF8') AS value
FROM generate_series(0, 2) AS p(partition)
CROSS JOIN LATERAL topics.fetch('demo', p.partition, 0, 100) AS m
ORDER BY m.partition, m.msg_offset;

\echo
\echo '=== 4. Offsets per partition'
SELECT topic, partition, log_start, lso, log_end
FROM topics.partitions WHERE topic = 'demo' ORDER BY partition;
