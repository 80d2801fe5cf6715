-- pg_topics, bulk: one INSERT of 1000 rows into the captured table.
\set i random(1, 1000000000)
INSERT INTO cdc_captured (customer, amount, status, note)
SELECT 'customer ' || (:i + g), (:i + g) % 10000 / 100.0, 'new', lpad((:i + g)::text, 40, 'n')
  FROM generate_series(1, 1000) g;
