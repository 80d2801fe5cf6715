-- pg_topics: member m of consumer group g polls the next 1000 messages of
-- the 1-partition topic "pt" (auto_offset_reset earliest).  Autocommit: the
-- group's position moves past the rows handed out and commits with the
-- statement.  The run script seeks the group back to 0 before each round.
SELECT msg_offset, "timestamp", key, value FROM topics.poll('g', 'pt', 'm', 1000);
