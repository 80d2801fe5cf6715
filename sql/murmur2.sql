--
-- Routing: Kafka's murmur2 and default partitioner
--
-- The reference vectors of Kafka's UtilsTest (DESIGN.md section 4): murmur2
-- as a signed int32, and the partition of 12 that Kafka's default
-- partitioner picks, (murmur2 & 0x7fffffff) % 12.  The empty key's
-- partition (9 = 275646681 % 12) is computed, not one of Kafka's vectors.
--
-- After each expected error, \echo :SQLSTATE prints its SQLSTATE.
--
\set VERBOSITY terse

CREATE TEMP TABLE kafka_vectors (s text, hash integer, partition12 integer);
INSERT INTO kafka_vectors VALUES
    ('21', -973932308, 0),
    ('foobar', -790332482, 6),
    ('a-little-bit-long-string', -985981536, 8),
    ('a-little-bit-longer-string', -1486304829, 11),
    ('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971, 5),
    ('abc', 479470107, 3),
    ('', 275646681, 9);

-- murmur2: the value, and whether it is Kafka's
SELECT s, topics.murmur2(convert_to(s, 'UTF8')) AS murmur2,
       topics.murmur2(convert_to(s, 'UTF8')) = hash AS ok
  FROM kafka_vectors
 ORDER BY s COLLATE "C";

-- partition_for_key with 12 partitions
SELECT s, topics.partition_for_key(convert_to(s, 'UTF8'), 12) AS partition,
       topics.partition_for_key(convert_to(s, 'UTF8'), 12) = partition12 AS ok
  FROM kafka_vectors
 ORDER BY s COLLATE "C";

-- toPositive is h & 0x7fffffff, not abs(h): for every vector, the partition
-- is that of the masked hash, for several partition counts
SELECT s, bool_and(topics.partition_for_key(convert_to(s, 'UTF8'), n) =
                   ((hash::bigint & 2147483647) % n)::integer) AS ok
  FROM kafka_vectors, generate_series(1, 20) n
 GROUP BY s
 ORDER BY s COLLATE "C";
-- a hash where abs() and the mask differ: -790332482 ("foobar")
SELECT abs(-790332482) % 12 AS abs_partition,
       (-790332482::bigint & 2147483647) % 12 AS masked_partition;

-- one partition: every key goes to 0
SELECT count(*) FILTER (WHERE topics.partition_for_key(convert_to(s, 'UTF8'), 1) = 0) AS zero
  FROM kafka_vectors;

-- the bytes are hashed as given: the text overloads hash UTF-8
SELECT topics.murmur2('\x616263'::bytea) = 479470107 AS ok;
SELECT topics.murmur2(convert_to('grüße', 'UTF8')) = topics.murmur2('\x6772c3bcc39f65'::bytea) AS ok;

-- produce with these keys to a 12-partition topic lands on those partitions
-- (the empty key is a key, hashed like any other; a NULL key is no key)
SELECT * FROM topics.create_topic('m12', 12);
SELECT v.s, p.partition, p.partition = v.partition12 AS ok
  FROM kafka_vectors v, LATERAL topics.produce('m12', 'v', v.s) p
 ORDER BY v.s COLLATE "C";
-- the bytea overload routes the same way
SELECT v.s, p.partition = v.partition12 AS ok
  FROM kafka_vectors v,
       LATERAL topics.produce('m12', '\x00'::bytea, convert_to(v.s, 'UTF8')) p
 ORDER BY v.s COLLATE "C";
-- and so do batches
SELECT b.ordinality, v.s, b.partition, b.partition = v.partition12 AS ok
  FROM (SELECT array_agg(s ORDER BY s COLLATE "C") AS keys FROM kafka_vectors) k,
       LATERAL topics.produce_batch('m12', k.keys, k.keys) WITH ORDINALITY b,
       LATERAL (SELECT * FROM kafka_vectors WHERE s = k.keys[b.ordinality]) v
 ORDER BY b.ordinality;
SELECT partition, log_end FROM topics.partitions
 WHERE topic = 'm12' AND log_end > 0
 ORDER BY partition;
SELECT topics.drop_topic('m12');

-- Invalid input: partition count
SELECT topics.partition_for_key('\x00'::bytea, 0);
\echo :SQLSTATE
SELECT topics.partition_for_key('\x00'::bytea, -1);
\echo :SQLSTATE
-- NULL in, NULL out (the functions are strict)
SELECT topics.murmur2(NULL) IS NULL AS null_hash,
       topics.partition_for_key(NULL, 12) IS NULL AS null_partition,
       topics.partition_for_key('\x00'::bytea, NULL) IS NULL AS null_count;

DROP TABLE kafka_vectors;
