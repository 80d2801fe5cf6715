--
-- pg_topics.segment_cache_size bounds the segment tables whose descriptions
-- (relcache entries) a backend keeps; past it, those used longest ago are
-- dropped and built again when used.  Produce, fetch and a cursor that
-- holds a segment open work across the drops.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

SELECT topic FROM topics.create_topic('sc', 4, config => '{"segment.messages": 3}');
SET pg_topics.segment_cache_size = 1;
SELECT count(*) FROM topics.produce_batch('sc',
    ARRAY(SELECT 'v' || i FROM generate_series(0, 39) i),
    ARRAY(SELECT 'k' || i FROM generate_series(0, 39) i));
SELECT partition, count(*), min(msg_offset), max(msg_offset)
  FROM topics.fetch('sc', 0, 0, 100) GROUP BY partition
UNION ALL
SELECT partition, count(*), min(msg_offset), max(msg_offset)
  FROM topics.fetch('sc', 3, 0, 100) GROUP BY partition;
-- the descriptions kept: the index of one segment at most
SELECT count(*) <= 1 AS bounded FROM pg_backend_memory_contexts
 WHERE name = 'index info' AND ident LIKE 'sc$%';
-- a cursor's segment stays usable while produce drops descriptions
BEGIN;
DECLARE c CURSOR FOR SELECT msg_offset, convert_from(value, 'UTF8') AS v
  FROM topics.fetch('sc', 1, 0, 100);
FETCH 2 FROM c;
SELECT count(*) FROM topics.produce_batch('sc',
    ARRAY(SELECT 'w' || i FROM generate_series(0, 19) i),
    ARRAY(SELECT 'k' || i FROM generate_series(0, 19) i));
FETCH ALL FROM c;
COMMIT;
-- with room for every segment, every description stays
SET pg_topics.segment_cache_size = 1000;
SELECT count(*) FROM topics.fetch('sc', 2, 0, 100);
SELECT count(*) FROM topics.fetch('sc', 0, 0, 100);
SELECT count(*) > 1 AS kept FROM pg_backend_memory_contexts
 WHERE name = 'index info' AND ident LIKE 'sc$%';
RESET pg_topics.segment_cache_size;
SELECT topics.drop_topic('sc');

-- The topic cache gives up the copy of a topic that was dropped (at the end
-- of the transaction that sees the drop): a session that creates, uses and
-- drops many topics does not keep them all.
SELECT format('SELECT topics.create_topic(%L, 2)', 'mem' || i),
       format('SELECT FROM topics.produce(%L, %L)', 'mem' || i, 'x'),
       format('SELECT topics.drop_topic(%L)', 'mem' || i)
  FROM generate_series(1, 8) i \gexec
SELECT count(*) <= 1 AS released FROM pg_backend_memory_contexts
 WHERE name = 'pg_topics topic' AND ident LIKE 'mem%';

-- topics_internal.segment_size measures a segment for the roles that may
-- read its topic, and takes only topic names: a cut table name (a long
-- topic's tables are named by its first 42 characters and a hash) would
-- name another topic's tables.
SELECT topic FROM topics.create_topic(repeat('s', 60));
SELECT count(*) FROM topics.produce(repeat('s', 60), 'x');
SELECT topics_internal.segment_size(repeat('s', 60), 0, 0) > 0 AS measured;
SELECT topics_internal.segment_size('no_such_topic', 0, 0) IS NULL AS no_topic;
CREATE ROLE regress_snoop;
SET ROLE regress_snoop;
SELECT topics_internal.segment_size(repeat('s', 60), 0, 0);
SELECT topics_internal.segment_size(left(topics_internal.table_name(repeat('s', 60), 0, 0),
                                         -4), 0, 0);
RESET ROLE;
DROP ROLE regress_snoop;
SELECT topics.drop_topic(repeat('s', 60));


-- pg_topics.topic_cache_size bounds the topics a backend keeps: past it,
-- those opened longest ago are given up at the end of the transaction
SET pg_topics.topic_cache_size = 2;
SELECT count(*) FROM generate_series(1, 5) i, LATERAL topics.create_topic('lru' || i);
SELECT count(*) FROM generate_series(1, 5) i, LATERAL topics.produce('lru' || i, 'x');
SELECT count(*) FROM topics.produce('lru5', 'y');
SELECT count(*) <= 2 AS bounded FROM pg_backend_memory_contexts
 WHERE name = 'pg_topics topic' AND ident LIKE 'lru%';
-- a topic given up is loaded again when used
SELECT partition, msg_offset, convert_from(value, 'UTF8') FROM topics.fetch('lru1', 0, 0);
RESET pg_topics.topic_cache_size;
SELECT count(*) FROM generate_series(1, 5) i, LATERAL topics.drop_topic('lru' || i);
