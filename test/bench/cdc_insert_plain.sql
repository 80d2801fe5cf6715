-- Baseline of the cdc group: one order row per statement into a table with
-- no capture.
\set i random(1, 1000000000)
INSERT INTO cdc_plain (customer, amount, status, note)
VALUES ('customer ' || :i, :i % 10000 / 100.0, 'new', lpad(:i::text, 40, 'n'));
