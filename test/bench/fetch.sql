-- pg_topics: read 1000 messages from a random offset of the 200k-message
-- topic "f" (1 partition), handing them to the client as a consumer does.
-- :maxo is set by the run script.
\set o random(0, :maxo)
SELECT msg_offset, "timestamp", key, value FROM topics.fetch('f', 0, :o, 1000);
