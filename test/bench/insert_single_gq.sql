-- plain SQL: one 100 B row per transaction into table plain_gq, numbered by
-- a sequence (run with 8 clients; --scale, groups: the plain side of
-- produce_single_gq.sql).
\set i random(1, 1000000000)
INSERT INTO plain_gq (v) VALUES (convert_to(lpad(:i::text, 100, 'v'), 'UTF8'));
