-- pg_topics: the same row into a table whose changes topics.capture()
-- publishes to topic cdc_t (a statement trigger with a transition table).
\set i random(1, 1000000000)
INSERT INTO cdc_captured (customer, amount, status, note)
VALUES ('customer ' || :i, :i % 10000 / 100.0, 'new', lpad(:i::text, 40, 'n'));
