-- The hand-written outbox: the same row into a table whose AFTER ... FOR
-- EACH ROW trigger inserts the row as JSON into an outbox table.
\set i random(1, 1000000000)
INSERT INTO cdc_outboxed (customer, amount, status, note)
VALUES ('customer ' || :i, :i % 10000 / 100.0, 'new', lpad(:i::text, 40, 'n'));
