-- pg_topics: one 100 B message per transaction into the 1-partition
-- topic "rm", keyed over 10,000 keys so that compaction has something to
-- do (run with 4 clients; retention group, produce_during_maintenance).
\set i random(1, 1000000000)
\set k random(1, 10000)
SELECT * FROM topics.produce('rm',
    convert_to(lpad(:i::text, 100, 'v'), 'UTF8'),
    convert_to('k' || :k::text, 'UTF8'));
