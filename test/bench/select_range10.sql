-- Reference for the scaling of a queue read: a plain SELECT of the 10 rows
-- of a random key range of the SKIP LOCKED table (whose rows are the
-- queue's messages), read-only: what any query that returns as many rows
-- gets from more clients on this machine.
\set x random(1, :rows)
SELECT id, payload FROM skq WHERE id BETWEEN :x AND :x + 9;
