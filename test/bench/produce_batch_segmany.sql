-- pg_topics: 1000 messages (100 B value, short key) in one transaction into
-- topic "segmany", whose partition holds thousands of segments (--scale, segments).
SELECT count(*) FROM topics.produce_batch('segmany',
    ARRAY(SELECT convert_to(lpad(i::text, 100, 'v'), 'UTF8') FROM generate_series(1, 1000) AS i),
    ARRAY(SELECT convert_to('k' || i, 'UTF8') FROM generate_series(1, 1000) AS i));
