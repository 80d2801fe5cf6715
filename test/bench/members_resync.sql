-- pg_topics: member "m<client>" of group :g joins again, as a member that a
-- later rebalance made stale does, and logs it (--scale, members:
-- members_64_settle_s).
INSERT INTO settle_log
SELECT :g, 'm' || :client_id, 2, statement_timestamp(), clock_timestamp(), generation
  FROM topics.join(:g, 'ms', 'm' || :client_id);
