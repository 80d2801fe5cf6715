-- pg_topics: 1000 messages (100 B value, short key) in one transaction into
-- the 1-partition topic "b".  The value and key arrays are built in the
-- statement exactly as in insert_batch.sql.
SELECT count(*) FROM topics.produce_batch('b',
    ARRAY(SELECT convert_to(lpad(i::text, 100, 'v'), 'UTF8') FROM generate_series(1, 1000) AS i),
    ARRAY(SELECT convert_to('k' || i, 'UTF8') FROM generate_series(1, 1000) AS i));
