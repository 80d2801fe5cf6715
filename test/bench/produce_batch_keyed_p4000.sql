-- pg_topics: 1000 keyed messages (100 B value, random keys) in one
-- transaction into topic "p4000" of 4000 partition(s) (--scale, partitions).
SELECT count(*) FROM topics.produce_batch('p4000',
    ARRAY(SELECT convert_to(lpad(i::text, 100, 'v'), 'UTF8') FROM generate_series(1, 1000) AS i),
    ARRAY(SELECT convert_to('k' || (random() * 1e9)::int, 'UTF8') FROM generate_series(1, 1000) AS i));
