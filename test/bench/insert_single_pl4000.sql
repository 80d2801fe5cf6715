-- Plain SQL: one keyed 100 B row per transaction into table "pl4000", hash
-- partitioned on the key into 4000 partitions with an index on id (run with 8
-- clients beside produce_single_keyed_p4000; --scale, partitions).
\set i random(1, 1000000000)
INSERT INTO pl4000 VALUES (convert_to('k' || :i::text, 'UTF8'),
                        convert_to(lpad(:i::text, 100, 'v'), 'UTF8'), :i);
