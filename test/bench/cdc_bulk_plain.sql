-- Baseline of the cdc group, bulk: one INSERT of 1000 order rows, no capture.
\set i random(1, 1000000000)
INSERT INTO cdc_plain (customer, amount, status, note)
SELECT 'customer ' || (:i + g), (:i + g) % 10000 / 100.0, 'new', lpad((:i + g)::text, 40, 'n')
  FROM generate_series(1, 1000) g;
