-- PgQ baseline: the same 1000 messages (100 B data, the key in ev_extra1)
-- through pgq.insert_event.  The 7-argument form is the one the 3-argument
-- form calls, so calling it directly only saves PgQ work; the arrays are
-- text, which saves PgQ the convert_to calls.
SELECT count(pgq.insert_event('q', 't', u.v, u.k, NULL, NULL, NULL))
  FROM unnest(ARRAY(SELECT lpad(i::text, 100, 'v') FROM generate_series(1, 1000) AS i),
              ARRAY(SELECT 'k' || i FROM generate_series(1, 1000) AS i)) AS u(v, k);
