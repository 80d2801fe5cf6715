-- The hand-written outbox, bulk: one INSERT of 1000 rows, its row trigger fired 1000 times.
\set i random(1, 1000000000)
INSERT INTO cdc_outboxed (customer, amount, status, note)
SELECT 'customer ' || (:i + g), (:i + g) % 10000 / 100.0, 'new', lpad((:i + g)::text, 40, 'n')
  FROM generate_series(1, 1000) g;
