-- pg_topics: take 10 messages of queue "qq" (4 partitions) and commit
-- (autocommit): they are gone for good.
SELECT partition, msg_offset, value FROM topics.consume('qq', 10);
