-- Plain SQL: one keyed 100 B row per transaction into one of the 1000
-- tables of "plt1000" (list partitions, each with an index on id), at
-- random (run with 8 clients beside produce_single_topics1000; --scale,
-- topics).
\set i random(1, 1000000000)
\set t random(1, 1000)
INSERT INTO plt1000 VALUES (:t, convert_to('k' || :i::text, 'UTF8'),
                            convert_to(lpad(:i::text, 100, 'v'), 'UTF8'), :i);
