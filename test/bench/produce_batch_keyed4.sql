-- pg_topics: the same 1000 keyed messages into the 4-partition topic "k4"
-- (murmur2 routing, about 250 rows per partition).
SELECT count(*) FROM topics.produce_batch('k4',
    ARRAY(SELECT convert_to(lpad(i::text, 100, 'v'), 'UTF8') FROM generate_series(1, 1000) AS i),
    ARRAY(SELECT convert_to('k' || i, 'UTF8') FROM generate_series(1, 1000) AS i));
