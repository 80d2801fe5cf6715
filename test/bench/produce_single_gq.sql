-- pg_topics: one 100 B message per transaction into topic "gq" of 4
-- partitions (run with 8 clients; --scale, groups).
\set i random(1, 1000000000)
SELECT * FROM topics.produce('gq', convert_to(lpad(:i::text, 100, 'v'), 'UTF8'));
