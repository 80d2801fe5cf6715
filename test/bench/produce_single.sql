-- pg_topics: one keyed 100 B message per transaction into the 1-partition
-- topic "s" (run with 8 clients).
\set i random(1, 1000000000)
SELECT * FROM topics.produce('s',
    convert_to(lpad(:i::text, 100, 'v'), 'UTF8'),
    convert_to('k' || :i::text, 'UTF8'));
