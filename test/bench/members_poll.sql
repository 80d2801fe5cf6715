-- pg_topics: members m01 to m63 of group lg64 long-poll their own
-- partitions of topic lt64, which nobody writes to, while longpoll.c
-- measures member m00's wake-ups (--scale, members:
-- members_64_wake_p50_over_1).
SELECT count(*) FROM topics.poll('lg64', 'lt64', 'm' || lpad((:client_id + 1)::text, 2, '0'), 10, '10 s');
