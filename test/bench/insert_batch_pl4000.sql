-- Plain SQL: the same 1000 rows inserted into table "pl4000", hash partitioned
-- on the key into 4000 partition(s), each with an index on id: the cost
-- PostgreSQL itself pays for writing to that many tables (--scale).
INSERT INTO pl4000 SELECT convert_to('k' || (random() * 1e9)::int, 'UTF8'),
       convert_to(lpad(i::text, 100, 'v'), 'UTF8'), i
  FROM generate_series(1, 1000) AS i;
