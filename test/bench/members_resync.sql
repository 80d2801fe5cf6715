-- pg_topics: member "m<client>" of group :g joins again, as a member that a
-- later rebalance made stale does (--scale, groups: members_64_settle_s).
SELECT generation FROM topics.join(:g, 'ms', 'm' || :client_id);
