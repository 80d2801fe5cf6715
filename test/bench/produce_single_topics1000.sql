-- pg_topics: one keyed 100 B message per transaction into one of the 1000
-- topics "tt1" to "tt1000", at random (run with 8 clients; --scale, topics).
\set i random(1, 1000000000)
\set t random(1, 1000)
SELECT * FROM topics.produce('tt' || :t,
    convert_to(lpad(:i::text, 100, 'v'), 'UTF8'),
    convert_to('k' || :i::text, 'UTF8'));
