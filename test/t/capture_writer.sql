-- pgbench script of 067_capture.pl: one writing transaction on the captured
-- table src, of random work: an upsert, changes under a savepoint that is
-- rolled back one time in three, a multi-row update, a delete, a key
-- change (to a new id from a sequence, so that it cannot collide), large
-- values stored out of line; one transaction in ten rolls back.
\set id random(1, 2000)
\set id2 random(1, 2000)
\set r random(1, 10)
\set s random(1, 3)
BEGIN;
INSERT INTO src (id, v, n, doc) VALUES (:id, md5(random()::text), :r, jsonb_build_object('r', :r, 'a', ARRAY[:id, :id2]))
    ON CONFLICT (id) DO UPDATE SET v = excluded.v, n = src.n + 1, doc = excluded.doc;
SAVEPOINT s;
UPDATE src SET n = n + 1,
       big = CASE WHEN :r <= 2 THEN repeat(md5(random()::text), 100 + :r * 50) ELSE big END
 WHERE id = :id2;
DELETE FROM src WHERE id = :id2 + 7 AND :r = 5;
\if :s = 1
ROLLBACK TO SAVEPOINT s;
\endif
UPDATE src SET n = n + 1 WHERE id BETWEEN :id AND :id + 10 AND :r = 4;
UPDATE src SET id = nextval('src_moved') WHERE id = :id2 AND :r = 6;
DELETE FROM src WHERE id = :id AND :r = 7;
\if :r = 10
ROLLBACK;
\else
COMMIT;
\endif
