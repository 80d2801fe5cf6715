-- pg_topics: one keyed 100 B message per transaction into topic "p4000" of
-- 4000 partition(s) (run with 8 clients; --scale, partitions).
\set i random(1, 1000000000)
SELECT * FROM topics.produce('p4000',
    convert_to(lpad(:i::text, 100, 'v'), 'UTF8'),
    convert_to('k' || :i::text, 'UTF8'));
