-- pgbench script of 011_crash_exactly_once.pl: one producing transaction to
-- the 4-partition topic s.  produce_step(kind, n) produces one message
-- (keyed or not) or a batch of n (keyed or not), records every offset it was
-- handed on the ledger node at once (dblink), and records the messages in
-- table ledger in this transaction.  One transaction in three also produces
-- inside a savepoint that it rolls back; one in five rolls back entirely.
-- The pause holds the transaction's offsets open for a while.
\set k1 random(1, 4)
\set n1 random(1, 8)
\set k2 random(1, 4)
\set n2 random(1, 8)
\set k3 random(1, 4)
\set n3 random(1, 8)
\set sp random(1, 3)
\set pause random(0, 3)
\set r random(1, 5)
BEGIN;
SELECT produce_step(:k1, :n1);
\if :sp = 1
SAVEPOINT s;
SELECT produce_step(:k2, :n2);
ROLLBACK TO SAVEPOINT s;
\endif
\sleep :pause ms
SELECT produce_step(:k3, :n3);
\if :r = 1
ROLLBACK;
\else
COMMIT;
\endif
