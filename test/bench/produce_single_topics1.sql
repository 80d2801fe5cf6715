-- pg_topics: one keyed 100 B message per transaction into topic "t1"
-- (run with 8 clients; --scale, topics).
\set i random(1, 1000000000)
SELECT * FROM topics.produce('t1',
    convert_to(lpad(:i::text, 100, 'v'), 'UTF8'),
    convert_to('k' || :i::text, 'UTF8'));
