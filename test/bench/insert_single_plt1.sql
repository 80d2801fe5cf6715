-- Plain SQL: one keyed 100 B row per transaction into table "plt1", list
-- partitioned into 1 table with an index on id (run with 8 clients beside
-- produce_single_topics1; --scale, topics).
\set i random(1, 1000000000)
INSERT INTO plt1 VALUES (1, convert_to('k' || :i::text, 'UTF8'),
                         convert_to(lpad(:i::text, 100, 'v'), 'UTF8'), :i);
