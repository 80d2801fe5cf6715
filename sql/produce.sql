--
-- Produce: single messages and batches, routing, offsets
--
-- After each expected error, \echo :SQLSTATE prints its SQLSTATE.
--
\set VERBOSITY terse

SELECT * FROM topics.create_topic('p1');
SELECT * FROM topics.create_topic('p3', 3);

-- produce(bytea): key and value are stored as given
SELECT * FROM topics.produce('p1', '\x00ff10'::bytea, '\xdeadbeef'::bytea);
-- produce(text): the UTF-8 bytes of key and value
SELECT * FROM topics.produce('p1', 'hello'::text, 'k1'::text);
SELECT * FROM topics.produce('p1', 'grüße'::text);
-- produce(jsonb): the text of the document
SELECT * FROM topics.produce('p1', '{"b": 2, "a": [1, "x"]}'::jsonb, 'k2');
-- a NULL value (a tombstone) and a NULL key
SELECT * FROM topics.produce('p1', NULL::bytea, '\x6b33'::bytea);
SELECT msg_offset, key, value, headers, "timestamp" IS NOT NULL AS t
  FROM topics.fetch('p1', 0, 0);
SELECT msg_offset, convert_from(key, 'UTF8') AS key,
       convert_from(value, 'UTF8') AS value
  FROM topics.fetch('p1', 0, 1)
 WHERE msg_offset BETWEEN 1 AND 3;
SELECT octet_length(value) FROM topics.fetch('p1', 0, 2, 1);

-- headers are stored with the message
SELECT * FROM topics.produce('p1', 'with headers', headers => '{"trace": "abc", "n": 1}');
SELECT * FROM topics.produce('p1', 'empty headers', headers => '{}');
SELECT msg_offset, convert_from(value, 'UTF8') AS value, headers
  FROM topics.fetch('p1', 0, 5);

-- an explicit timestamp is stored as given; without one it is the time
-- of the call
SELECT * FROM topics.produce('p1', 'old', "timestamp" => '2001-02-03 04:05:06+00');
SELECT msg_offset, "timestamp" AT TIME ZONE 'UTC' AS ts_utc
  FROM topics.fetch('p1', 0, 7);
SELECT count(*) AS recent FROM topics.fetch('p1', 0, 0)
 WHERE msg_offset < 7 AND "timestamp" > now() - interval '1 hour';

-- an explicit partition
SELECT * FROM topics.produce('p3', 'to 2', partition => 2);
SELECT * FROM topics.produce('p3', 'to 2 again'::text, 'key'::text, partition => 2);
SELECT * FROM topics.produce('p3', '"to 0"'::jsonb, partition => 0);
SELECT partition, log_end FROM topics.partitions WHERE topic = 'p3' ORDER BY partition;
SELECT partition, msg_offset, convert_from(key, 'UTF8') AS key,
       convert_from(value, 'UTF8') AS value
  FROM topics.fetch('p3', 2, 0);

-- produce_batch(bytea[]): consecutive offsets, in input order
SELECT * FROM topics.produce_batch('p1', ARRAY['\x01', '\x02', '\x03']::bytea[],
                                   ARRAY['\x0a', NULL, '\x0c']::bytea[]);
-- produce_batch(text[]) with headers
SELECT * FROM topics.produce_batch('p1', ARRAY['t1', 't2'],
                                   headers => ARRAY['{"h": 1}', NULL]::jsonb[]);
-- produce_batch(jsonb[]) with keys
SELECT * FROM topics.produce_batch('p1', ARRAY['{"n": 1}', '[2]', '3']::jsonb[],
                                   ARRAY['a', 'b', 'c']);
SELECT msg_offset, key, value, headers FROM topics.fetch('p1', 0, 8, 3);
SELECT msg_offset, convert_from(key, 'UTF8') AS key,
       convert_from(value, 'UTF8') AS value, headers
  FROM topics.fetch('p1', 0, 11);
-- an empty batch and a NULL batch produce nothing
SELECT * FROM topics.produce_batch('p1', ARRAY[]::text[]);
SELECT * FROM topics.produce_batch('p1', NULL::text[]);
SELECT log_end FROM topics.partitions WHERE topic = 'p1';

-- a batch with keys goes to each key's partition, offsets consecutive per
-- partition and rows in input order
-- (with 4 partitions, '21' goes to 0, 'foobar' to 2 and 'abc' to 3)
SELECT * FROM topics.create_topic('keyed', 4);
WITH input(keys) AS (
    SELECT ARRAY['21', 'foobar', 'abc', '21', 'foobar', 'abc', '21', 'abc'])
SELECT b.ordinality AS i, keys[b.ordinality] AS key, b.partition, b.msg_offset,
       b.partition = topics.partition_for_key(convert_to(keys[b.ordinality], 'UTF8'), 4) AS routed
  FROM input,
       LATERAL topics.produce_batch('keyed',
         ARRAY['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8'], keys)
       WITH ORDINALITY b
 ORDER BY i;
SELECT partition, msg_offset, convert_from(key, 'UTF8') AS key,
       convert_from(value, 'UTF8') AS value
  FROM generate_series(0, 3) p, LATERAL topics.fetch('keyed', p, 0)
 ORDER BY partition, msg_offset;

-- a keyed message lands where partition_for_key says
SELECT k, p.partition = topics.partition_for_key(convert_to(k, 'UTF8'), 4) AS routed
  FROM unnest(ARRAY['alpha', 'beta', 'gamma', 'delta', 'epsilon']) k,
       LATERAL topics.produce('keyed', 'x', k) p
 ORDER BY k COLLATE "C";
SELECT p.partition = topics.partition_for_key('\xcafe'::bytea, 4) AS routed
  FROM topics.produce('keyed', '\x00'::bytea, '\xcafe'::bytea) p;
-- the same key always goes to the same partition
SELECT count(*) AS messages, count(DISTINCT p.partition) AS partitions
  FROM generate_series(1, 5) i, LATERAL topics.produce('keyed', 'x' || i, 'same') p;
SELECT topics.drop_topic('keyed');

-- keyless messages: round robin per call, 6 messages over 3 partitions
SELECT * FROM topics.create_topic('rr', 3);
SELECT count(*) AS produced FROM generate_series(1, 6) i,
       LATERAL topics.produce('rr', 'm' || i) p;
SELECT partition, log_end FROM topics.partitions WHERE topic = 'rr' ORDER BY partition;
-- consecutive keyless calls go to different partitions
SELECT count(DISTINCT p.partition) AS partitions
  FROM generate_series(1, 3) i, LATERAL topics.produce('rr', 'n' || i) p;
SELECT partition, log_end FROM topics.partitions WHERE topic = 'rr' ORDER BY partition;

-- keyless batches: sticky per batch, round robin across batches
SELECT count(DISTINCT partition) AS partitions, count(*) AS messages,
       max(msg_offset) - min(msg_offset) + 1 AS offset_span
  FROM topics.produce_batch('rr', ARRAY['a', 'b', 'c', 'd']);
CREATE TEMP TABLE batch_parts AS
SELECT i AS batch, p.partition, count(*) AS messages
  FROM generate_series(1, 3) i,
       LATERAL topics.produce_batch('rr', ARRAY['x', 'y', 'z', 'w' || i]) p
 GROUP BY i, p.partition;
SELECT count(*) AS rows, count(DISTINCT batch) AS batches,
       count(DISTINCT partition) AS partitions, min(messages), max(messages)
  FROM batch_parts;
DROP TABLE batch_parts;
SELECT sum(log_end) AS messages FROM topics.partitions WHERE topic = 'rr';
-- keyed and keyless messages in one batch: the keyless ones stick together
SELECT count(DISTINCT partition) AS partitions
  FROM topics.produce_batch('rr', ARRAY['1', '2', '3', '4', '5'],
                            ARRAY[NULL, 'k', NULL, NULL, 'k2'])
       WITH ORDINALITY b
 WHERE ordinality IN (1, 3, 4);
-- an explicit partition for the whole batch
SELECT partition, msg_offset - min(msg_offset) OVER () AS rel_offset
  FROM topics.produce_batch('rr', ARRAY['1', '2', '3'], partition => 1);
SELECT topics.drop_topic('rr');

-- Offsets strictly increase, are never reused, and rollback leaves gaps
SELECT * FROM topics.create_topic('gaps');
SELECT msg_offset FROM topics.produce('gaps', 'a');
BEGIN;
SELECT msg_offset FROM topics.produce('gaps', 'rolled back');
SELECT msg_offset FROM topics.produce_batch('gaps', ARRAY['rb1', 'rb2']);
ROLLBACK;
SELECT msg_offset FROM topics.produce('gaps', 'b');
-- SAVEPOINT / ROLLBACK TO leaves a gap too
BEGIN;
SELECT msg_offset FROM topics.produce('gaps', 'c');
SAVEPOINT s;
SELECT msg_offset FROM topics.produce('gaps', 'rolled back to savepoint');
ROLLBACK TO SAVEPOINT s;
SELECT msg_offset FROM topics.produce('gaps', 'd');
COMMIT;
-- a failed statement's offsets are gone as well
BEGIN;
SAVEPOINT s;
SELECT msg_offset FROM topics.produce('gaps', 'e');
SELECT 1 / 0;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT msg_offset FROM topics.produce('gaps', 'f');
SELECT msg_offset, convert_from(value, 'UTF8') AS value FROM topics.fetch('gaps', 0, 0);
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics_data.gaps ORDER BY msg_offset;
SELECT log_start, lso, log_end FROM topics.partitions WHERE topic = 'gaps';
SELECT topics.drop_topic('gaps');

-- Invalid input: partition out of range
SELECT * FROM topics.produce('p3', 'x', partition => 3);
\echo :SQLSTATE
SELECT * FROM topics.produce('p3', 'x', partition => -1);
\echo :SQLSTATE
SELECT * FROM topics.produce_batch('p3', ARRAY['x'], partition => 7);
\echo :SQLSTATE

-- Invalid input: message larger than pg_topics.max_message_bytes
SET pg_topics.max_message_bytes = 10;
SELECT * FROM topics.produce('p1', repeat('x', 10));
SELECT * FROM topics.produce('p1', repeat('x', 11));
\echo :SQLSTATE
-- key, value and headers count together
SELECT * FROM topics.produce('p1', repeat('x', 6), repeat('k', 5));
\echo :SQLSTATE
SELECT * FROM topics.produce('p1', 'x', headers => '{"long": "header"}');
\echo :SQLSTATE
SELECT * FROM topics.produce_batch('p1', ARRAY['ok', repeat('x', 11)]);
\echo :SQLSTATE
RESET pg_topics.max_message_bytes;
-- the failed batch wrote nothing
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.fetch('p1', 0, 16);

-- Invalid input: headers
SELECT * FROM topics.produce('p1', 'x', headers => '[1, 2]');
\echo :SQLSTATE
SELECT * FROM topics.produce('p1', 'x', headers => '"h"');
\echo :SQLSTATE
SELECT * FROM topics.produce('p1', 'x', headers => 'null');
\echo :SQLSTATE
SELECT * FROM topics.produce_batch('p1', ARRAY['x'], headers => ARRAY['1']::jsonb[]);
\echo :SQLSTATE

-- Invalid input: array lengths
SELECT * FROM topics.produce_batch('p1', ARRAY['x', 'y'], ARRAY['k']);
\echo :SQLSTATE
SELECT * FROM topics.produce_batch('p1', ARRAY['x'], ARRAY['k', 'l']);
\echo :SQLSTATE
SELECT * FROM topics.produce_batch('p1', ARRAY['x', 'y'],
                                   headers => ARRAY['{}']::jsonb[]);
\echo :SQLSTATE
SELECT * FROM topics.produce_batch('p1', ARRAY[['x', 'y'], ['z', 'w']]);
\echo :SQLSTATE

-- Invalid input: NULL or unknown topic
SELECT * FROM topics.produce(NULL, 'x');
\echo :SQLSTATE
SELECT * FROM topics.produce_batch(NULL, ARRAY['x']);
\echo :SQLSTATE
SELECT * FROM topics.produce('nosuch', 'x');
\echo :SQLSTATE
SELECT * FROM topics.produce_batch('nosuch', ARRAY['x']);
\echo :SQLSTATE
SELECT * FROM topics.produce('bad name', 'x');
\echo :SQLSTATE

-- nothing was written by the failed calls
SELECT topic, partition, lso, log_end FROM topics.partitions
 ORDER BY topic COLLATE "C", partition;

SELECT topics.drop_topic('p1');
SELECT topics.drop_topic('p3');
SELECT count(*) AS topics FROM topics.topic;

-- Indexes a user adds on the root reach every segment, and produce keeps
-- them right: an expression index and a partial index, across segments.
SELECT * FROM topics.create_topic('ix', 1, 'stream', '{"segment.messages": 4}');
CREATE INDEX ix_md5 ON topics_data.ix (md5(value));
CREATE INDEX ix_key ON topics_data.ix (key) WHERE key IS NOT NULL;
SELECT count(*) FROM topics.produce_batch('ix', ARRAY['a','b','c','d','e','f']::text[],
                                          ARRAY['1','2','3','4','5','6']);
SELECT * FROM topics.produce('ix', 'g'::text);
SET enable_seqscan = off;
SELECT msg_offset FROM topics_data.ix WHERE md5(value) = md5('e');
SELECT msg_offset FROM topics_data.ix WHERE key = '\x33';
SELECT count(*) FROM topics_data.ix WHERE key IS NOT NULL AND key > '\x30';
RESET enable_seqscan;
SELECT topics.drop_topic('ix');
