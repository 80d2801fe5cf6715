-- Baseline: one 100 B row per transaction into a plain table whose bigint
-- primary key comes from an identity column (a sequence), as plain SQL with
-- several writers must do it.
\set i random(1, 1000000000)
INSERT INTO plain2(ts, key, value)
VALUES (now(),
        convert_to('k' || :i::text, 'UTF8'),
        convert_to(lpad(:i::text, 100, 'v'), 'UTF8'));
