--
-- Consumer groups: join, leave, assignment strategies, poll, commit, seek,
-- auto_offset_reset, and the group views
--
-- After each expected error, \echo :SQLSTATE prints its SQLSTATE.
--
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_topics;
RESET client_min_messages;

-- the members of a group, with their generation and partitions
CREATE FUNCTION members_of(g text)
RETURNS TABLE (member text, generation int, current bool, partitions int[])
LANGUAGE sql AS $$
  SELECT member, generation, current, partitions
    FROM topics.group_members WHERE group_name = g
   ORDER BY member COLLATE "C"
$$;

--
-- Range assignment: contiguous ranges, the first members get one more
--
SELECT * FROM topics.create_topic('gr', 5);
-- the first join creates the group (default strategy range, latest) and
-- gets every partition at generation 1
SELECT * FROM topics.join('grange', 'gr', 'm1');
SELECT group_name, topic, strategy, auto_offset_reset, generation, members,
       created_at IS NOT NULL AS t
  FROM topics.groups WHERE group_name = 'grange';
-- a new member rebalances: generation 2
SELECT * FROM topics.join('grange', 'gr', 'm2');
-- m1 keeps generation 1 until it joins again: it is not current
SELECT * FROM members_of('grange');
-- a known member re-syncs to the current generation: no rebalance
SELECT * FROM topics.join('grange', 'gr', 'm1');
SELECT * FROM topics.join('grange', 'gr', 'm1');
SELECT * FROM members_of('grange');
SELECT generation, members FROM topics.groups WHERE group_name = 'grange';
-- a third member: 2 + 2 + 1
SELECT * FROM topics.join('grange', 'gr', 'm3');
SELECT * FROM topics.join('grange', 'gr', 'm1');
SELECT * FROM topics.join('grange', 'gr', 'm2');
SELECT * FROM members_of('grange');
-- leaving rebalances (generation 4); leaving again is a no-op
SELECT topics.leave('grange', 'gr', 'm2');
SELECT topics.leave('grange', 'gr', 'm2');
SELECT generation, members FROM topics.groups WHERE group_name = 'grange';
SELECT * FROM members_of('grange');
SELECT * FROM topics.join('grange', 'gr', 'm1');
SELECT * FROM topics.join('grange', 'gr', 'm3');
SELECT * FROM members_of('grange');
-- heartbeat: the generation, and whether the member must join again
SELECT * FROM topics.heartbeat('grange', 'gr', 'm1');
SELECT * FROM topics.join('grange', 'gr', 'm4');
SELECT * FROM topics.heartbeat('grange', 'gr', 'm1');
SELECT * FROM topics.heartbeat('grange', 'gr', 'm4');
-- a member without a partition: 5 partitions among 6 members
SELECT member, generation, partitions FROM topics.join('grange', 'gr', 'm2');
SELECT member, generation, partitions FROM topics.join('grange', 'gr', 'm5');
SELECT member, generation, partitions FROM topics.join('grange', 'gr', 'm6');
SELECT * FROM members_of('grange');
SELECT * FROM topics.poll('grange', 'gr', 'm6');
-- with max_wait it waits that long too, then returns nothing
SELECT count(*) AS messages,
       clock_timestamp() - statement_timestamp() >= interval '100 ms' AS waited
  FROM topics.poll('grange', 'gr', 'm6', 100, '100 ms');
-- a NULL member name gets a generated one
SELECT member LIKE 'member-%' AS generated, generation
  FROM topics.join('grange', 'gr', NULL);
SELECT topics.leave('grange', 'gr', member)
  FROM topics.group_members WHERE group_name = 'grange' AND member LIKE 'member-%';
SELECT topics.drop_topic('gr');
-- the groups of a dropped topic are gone
SELECT count(*) FROM topics.consumer_group;
SELECT count(*) FROM topics.group_member;

--
-- Round robin assignment: partition p goes to member p % n
--
SELECT * FROM topics.create_topic('grr', 5);
SELECT * FROM topics.join('grobin', 'grr', 'm1', strategy => 'roundrobin');
SELECT * FROM topics.join('grobin', 'grr', 'm2');
SELECT * FROM members_of('grobin');
SELECT * FROM topics.join('grobin', 'grr', 'm3', strategy => 'roundrobin');
SELECT * FROM members_of('grobin');
SELECT topics.leave('grobin', 'grr', 'm1');
SELECT * FROM members_of('grobin');
SELECT group_name, strategy, generation, members
  FROM topics.groups WHERE group_name = 'grobin';
SELECT topics.drop_topic('grr');

--
-- Sticky assignment: balanced, and a rebalance moves as few partitions as
-- it can: every member that stays keeps a subset of what it had
--
SELECT * FROM topics.create_topic('gs', 6);
SELECT * FROM topics.join('gsticky', 'gs', 'm1', strategy => 'sticky');
CREATE TABLE before AS SELECT member, partitions FROM members_of('gsticky');
SELECT * FROM topics.join('gsticky', 'gs', 'm2', strategy => 'sticky');
SELECT * FROM members_of('gsticky');
-- m1 kept a subset; only the 3 partitions m2 needs moved
SELECT b.member, m.partitions <@ b.partitions AS kept_subset,
       cardinality(b.partitions) - cardinality(m.partitions) AS gave_away
  FROM before b JOIN members_of('gsticky') m USING (member)
 ORDER BY b.member COLLATE "C";
TRUNCATE before;
INSERT INTO before SELECT member, partitions FROM members_of('gsticky');
SELECT * FROM topics.join('gsticky', 'gs', 'm3');
SELECT * FROM members_of('gsticky');
-- m1 and m2 kept subsets; each gave one partition to m3
SELECT b.member, m.partitions <@ b.partitions AS kept_subset,
       cardinality(b.partitions) - cardinality(m.partitions) AS gave_away
  FROM before b JOIN members_of('gsticky') m USING (member)
 ORDER BY b.member COLLATE "C";
-- a leave hands out only the leaver's partitions: the others keep theirs
TRUNCATE before;
INSERT INTO before SELECT member, partitions FROM members_of('gsticky');
SELECT topics.leave('gsticky', 'gs', 'm2');
SELECT * FROM members_of('gsticky');
SELECT b.member, b.partitions <@ m.partitions AS kept_all,
       cardinality(m.partitions) AS holds
  FROM before b JOIN members_of('gsticky') m USING (member)
 ORDER BY b.member COLLATE "C";
-- every partition has exactly one owner
SELECT array_agg(p ORDER BY p) AS all_partitions
  FROM members_of('gsticky'), unnest(partitions) p;
DROP TABLE before;
SELECT topics.drop_topic('gs');

--
-- add_partitions rebalances every group of the topic
--
SELECT * FROM topics.create_topic('ga', 4);
SELECT member, generation, partitions FROM topics.join('garange', 'ga', 'a');
SELECT member, generation, partitions FROM topics.join('garange', 'ga', 'b');
SELECT member, generation, partitions FROM topics.join('garange', 'ga', 'a');
SELECT member, generation, partitions
  FROM topics.join('gasticky', 'ga', 'a', strategy => 'sticky');
SELECT member, generation, partitions FROM topics.join('gasticky', 'ga', 'b');
SELECT member, generation, partitions FROM topics.join('gasticky', 'ga', 'a');
SELECT topics.add_partitions('ga', 2);
-- generation bumped: both members must join again
SELECT group_name, generation FROM topics.groups
 WHERE topic = 'ga' ORDER BY group_name COLLATE "C";
SELECT * FROM members_of('garange');
-- sticky: the old partitions stay, the new ones are shared out
SELECT * FROM members_of('gasticky');
SELECT * FROM topics.join('garange', 'ga', 'a');
SELECT * FROM topics.join('gasticky', 'ga', 'b');
-- every partition has a position row and an assignment row
SELECT c.group_name, count(*) AS positions FROM topics.committed_offset c
 WHERE c.topic = 'ga'
 GROUP BY c.group_name ORDER BY c.group_name COLLATE "C";
SELECT group_name, partition, committed, lso, log_end, lag, member
  FROM topics.group_lag WHERE group_name = 'garange' ORDER BY partition;
SELECT topics.drop_topic('ga');

--
-- Poll: the member's own partitions, in offset order, moving the position
--
SELECT * FROM topics.create_topic('gp', 3);
SELECT count(*) AS produced FROM generate_series(0, 3) i,
       LATERAL topics.produce('gp', 'p0-' || i, partition => 0);
SELECT count(*) AS produced FROM generate_series(0, 2) i,
       LATERAL topics.produce('gp', 'p1-' || i, partition => 1);
SELECT count(*) AS produced FROM generate_series(0, 1) i,
       LATERAL topics.produce('gp', 'p2-' || i, partition => 2);
SELECT member, partitions
  FROM topics.join('gpoll', 'gp', 'c1', auto_offset_reset => 'earliest');
SELECT member, partitions FROM topics.join('gpoll', 'gp', 'c2');
SELECT member, partitions FROM topics.join('gpoll', 'gp', 'c1');
-- every column of a polled message
SELECT topic, partition, msg_offset, "timestamp" IS NOT NULL AS t, key,
       convert_from(value, 'UTF8') AS value, headers
  FROM topics.poll('gpoll', 'gp', 'c2', 1);
-- c1 reads partitions 0 and 1, each in offset order
WITH p AS (
  SELECT row_number() OVER () AS n, partition, msg_offset,
         convert_from(value, 'UTF8') AS value
    FROM topics.poll('gpoll', 'gp', 'c1'))
SELECT partition, array_agg(msg_offset ORDER BY n) AS offsets,
       array_agg(value ORDER BY n) AS "values"
  FROM p GROUP BY partition ORDER BY partition;
-- the positions moved: c1 has read everything, c2 one message
SELECT partition, committed, lso, log_end, lag, member
  FROM topics.group_lag WHERE group_name = 'gpoll' ORDER BY partition;
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gpoll', 'gp', 'c2') ORDER BY partition, msg_offset;
-- nothing new
SELECT * FROM topics.poll('gpoll', 'gp', 'c1');
SELECT * FROM topics.poll('gpoll', 'gp', 'c2');
-- new messages: each member gets those of its own partitions only
SELECT count(*) AS produced FROM generate_series(4, 5) i,
       LATERAL topics.produce('gp', 'p0-' || i, partition => 0);
SELECT count(*) AS produced FROM generate_series(2, 3) i,
       LATERAL topics.produce('gp', 'p2-' || i, partition => 2);
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gpoll', 'gp', 'c1') ORDER BY partition, msg_offset;
-- max_messages
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gpoll', 'gp', 'c2', 1);
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gpoll', 'gp', 'c2', 1);
SELECT * FROM topics.poll('gpoll', 'gp', 'c2', 1);
SELECT partition, committed, lso, log_end, lag, member
  FROM topics.group_lag WHERE group_name = 'gpoll' ORDER BY partition;

-- a poll in a rolled back transaction: the same messages come again
SELECT count(*) AS produced FROM generate_series(6, 7) i,
       LATERAL topics.produce('gp', 'p0-' || i, partition => 0);
SELECT * FROM topics.produce('gp', 'p1-3', partition => 1);
BEGIN;
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gpoll', 'gp', 'c1') ORDER BY partition, msg_offset;
-- within the transaction they are consumed
SELECT * FROM topics.poll('gpoll', 'gp', 'c1');
ROLLBACK;
SELECT partition, committed, lag
  FROM topics.group_lag WHERE group_name = 'gpoll' AND member = 'c1'
 ORDER BY partition;
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gpoll', 'gp', 'c1') ORDER BY partition, msg_offset;
SELECT partition, committed, lag
  FROM topics.group_lag WHERE group_name = 'gpoll' AND member = 'c1'
 ORDER BY partition;

-- rolled back offsets are gaps that poll skips
BEGIN;
SELECT * FROM topics.produce('gp', 'rolled back', partition => 0);
SELECT * FROM topics.produce('gp', 'rolled back', partition => 0);
ROLLBACK;
-- only the gap below the LSO: nothing to read, the position passes it
SELECT * FROM topics.poll('gpoll', 'gp', 'c1');
SELECT partition, committed, lso, log_end, lag
  FROM topics.group_lag WHERE group_name = 'gpoll' AND partition = 0;
BEGIN;
SELECT * FROM topics.produce('gp', 'rolled back', partition => 0);
ROLLBACK;
SELECT * FROM topics.produce('gp', 'p0-11', partition => 0);
-- a gap, then a message: the poll returns the message
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gpoll', 'gp', 'c1');
SELECT partition, committed, lso, log_end, lag
  FROM topics.group_lag WHERE group_name = 'gpoll' AND partition = 0;

-- an open producer holds the LSO: its messages, and those after, wait
BEGIN;
SELECT * FROM topics.produce('gp', 'open', partition => 0);
SELECT * FROM topics.poll('gpoll', 'gp', 'c1');
COMMIT;
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gpoll', 'gp', 'c1');

-- max_wait with nothing to read waits that long, then returns nothing
SELECT clock_timestamp() AS before_wait \gset
SELECT * FROM topics.poll('gpoll', 'gp', 'c1', 100, '10 ms');
SELECT clock_timestamp() - :'before_wait' >= interval '10 ms' AS waited;
-- with messages to read, max_wait does not wait
SELECT * FROM topics.produce('gp', 'p1-4', partition => 1);
SELECT clock_timestamp() AS before_wait \gset
SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gpoll', 'gp', 'c1', 100, '1 hour');
SELECT clock_timestamp() - :'before_wait' < interval '30 min' AS no_wait;

-- the views
SELECT group_name, topic, strategy, auto_offset_reset, generation, members,
       created_at IS NOT NULL AS t
  FROM topics.groups WHERE group_name = 'gpoll';
SELECT group_name, topic, member, generation, current, partitions,
       last_seen IS NOT NULL AS seen, session_timeout,
       joined_at IS NOT NULL AS t
  FROM topics.group_members WHERE group_name = 'gpoll'
 ORDER BY member COLLATE "C";
SELECT group_name, topic, partition, committed, lso, log_end, lag, member
  FROM topics.group_lag WHERE group_name = 'gpoll' ORDER BY partition;
SELECT partition, committed, committed_at IS NOT NULL AS t
  FROM topics.committed_offset c
 WHERE c.group_name = 'gpoll' ORDER BY partition;
SELECT topics.drop_topic('gp');

--
-- Poll in cursors, with LIMIT, and in savepoints: the position moves past
-- the rows handed out only
--
SELECT * FROM topics.create_topic('gc');
SELECT count(*) AS produced FROM generate_series(0, 19) i,
       LATERAL topics.produce('gc', 'c' || i, partition => 0,
                              "timestamp" => '2020-01-01 00:00:00+00'::timestamptz
                                             + i * interval '1 minute');
SELECT member, partitions
  FROM topics.join('gcur', 'gc', 'c', auto_offset_reset => 'earliest');
BEGIN;
DECLARE cur CURSOR FOR
  SELECT partition, msg_offset, convert_from(value, 'UTF8') AS value
    FROM topics.poll('gcur', 'gc', 'c');
FETCH 2 FROM cur;
FETCH 1 FROM cur;
COMMIT;
-- moved by exactly 3
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
-- LIMIT 2 moves by 2
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gcur', 'gc', 'c') LIMIT 2;
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
-- rows that the query's own WHERE drops are passed too: of the next three
-- (c5, c6, c7) one matches, and the position moves past all three
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gcur', 'gc', 'c', 3) WHERE value = convert_to('c6', 'UTF8');
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
SELECT topics.seek('gcur', 'gc', 0, 5::bigint);
-- a cursor that fetches nothing moves nothing
BEGIN;
DECLARE cur CURSOR FOR SELECT msg_offset FROM topics.poll('gcur', 'gc', 'c');
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
-- ROLLBACK TO SAVEPOINT undoes the moves made since, keeps those before
BEGIN;
SELECT msg_offset FROM topics.poll('gcur', 'gc', 'c', 1);
SAVEPOINT s;
SELECT msg_offset FROM topics.poll('gcur', 'gc', 'c', 2);
ROLLBACK TO SAVEPOINT s;
SELECT msg_offset FROM topics.poll('gcur', 'gc', 'c', 1);
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
-- the first poll of the transaction inside the rolled back savepoint
BEGIN;
SAVEPOINT s;
SELECT msg_offset FROM topics.poll('gcur', 'gc', 'c', 2);
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
-- a released savepoint keeps its moves
BEGIN;
SAVEPOINT s;
SELECT msg_offset FROM topics.poll('gcur', 'gc', 'c', 2);
RELEASE SAVEPOINT s;
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';

-- exactly-once: the results and the position commit together
CREATE TABLE results (partition int, msg_offset bigint, value text);
BEGIN;
INSERT INTO results
  SELECT partition, msg_offset, convert_from(value, 'UTF8')
    FROM topics.poll('gcur', 'gc', 'c', 3);
COMMIT;
SELECT * FROM results ORDER BY msg_offset;
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
-- rolled back: no rows and no move
BEGIN;
INSERT INTO results
  SELECT partition, msg_offset, convert_from(value, 'UTF8')
    FROM topics.poll('gcur', 'gc', 'c', 3);
SELECT count(*) FROM results;
ROLLBACK;
SELECT count(*) FROM results;
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
-- a failed statement aborts the transaction: no rows and no move either
BEGIN;
INSERT INTO results
  SELECT partition, msg_offset, convert_from(value, 'UTF8')
    FROM topics.poll('gcur', 'gc', 'c', 3);
SELECT 1 / 0;
COMMIT;
SELECT count(*) FROM results;
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
-- the same messages again: each lands exactly once
INSERT INTO results
  SELECT partition, msg_offset, convert_from(value, 'UTF8')
    FROM topics.poll('gcur', 'gc', 'c', 3);
SELECT * FROM results ORDER BY msg_offset;
SELECT count(*) AS rows, count(DISTINCT msg_offset) AS distinct_offsets
  FROM results;
DROP TABLE results;

-- commit() with a member, and without one, also as the first call of a
-- session that has not polled
\c -
SELECT topics.commit('gcur', 'gc', 0, 2, 'c');
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
SELECT msg_offset FROM topics.poll('gcur', 'gc', 'c', 1);
SELECT topics.commit('gcur', 'gc', 0, 15);
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
SELECT msg_offset FROM topics.poll('gcur', 'gc', 'c', 1);
-- commit() in a rolled back transaction changes nothing
BEGIN;
SELECT topics.commit('gcur', 'gc', 0, 1, 'c');
ROLLBACK;
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
-- the last commit() of a transaction wins, also over its polls
BEGIN;
SELECT topics.commit('gcur', 'gc', 0, 3, 'c');
SELECT msg_offset FROM topics.poll('gcur', 'gc', 'c', 1);
SELECT topics.commit('gcur', 'gc', 0, 10, 'c');
COMMIT;
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
-- commit to the log end
SELECT topics.commit('gcur', 'gc', 0, 20);
SELECT * FROM topics.poll('gcur', 'gc', 'c');
SELECT committed, lso, log_end, lag
  FROM topics.group_lag WHERE group_name = 'gcur';
-- a position row that went missing (only a superuser can delete one) is
-- written again by the next commit()
DELETE FROM topics.committed_offset c WHERE c.group_name = 'gcur';
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
SELECT topics.commit('gcur', 'gc', 0, 5);
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
-- a prepared transaction keeps its position lock (an advisory lock of
-- class 29808 on group and partition) until COMMIT PREPARED writes its
-- position
BEGIN;
SELECT msg_offset FROM topics.poll('gcur', 'gc', 'c', 2);
PREPARE TRANSACTION 'gpoll';
SELECT objid AS partition, objsubid, mode, pid IS NULL AS prepared
  FROM pg_locks WHERE locktype = 'advisory';
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
COMMIT PREPARED 'gpoll';
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
SELECT count(*) AS advisory_locks FROM pg_locks WHERE locktype = 'advisory';

-- seek by offset, and by timestamp (the first message at or after it, or
-- the LSO if none), also as the first call of a session
\c -
SELECT topics.seek('gcur', 'gc', 0, 4);
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
SELECT msg_offset FROM topics.poll('gcur', 'gc', 'c', 1);
SELECT topics.seek('gcur', 'gc', 0, '2020-01-01 00:07:00+00'::timestamptz);
SELECT msg_offset, "timestamp" AT TIME ZONE 'UTC' AS ts
  FROM topics.poll('gcur', 'gc', 'c', 1);
SELECT topics.seek('gcur', 'gc', 0, '2020-01-01 00:07:30+00'::timestamptz);
SELECT topics.seek('gcur', 'gc', 0, '-infinity'::timestamptz);
SELECT topics.seek('gcur', 'gc', 0, '2021-01-01 00:00:00+00'::timestamptz);
SELECT * FROM topics.poll('gcur', 'gc', 'c');
\c -
SELECT topics.seek('gcur', 'gc', 0, '2020-01-01 00:03:00+00'::timestamptz);
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
SELECT topics.seek('gcur', 'gc', 0, 20);
-- seek in a rolled back transaction changes nothing
BEGIN;
SELECT topics.seek('gcur', 'gc', 0, 0);
ROLLBACK;
SELECT committed FROM topics.group_lag WHERE group_name = 'gcur';
SELECT topics.drop_topic('gc');

--
-- auto_offset_reset: where a group without a position starts
--
SELECT * FROM topics.create_topic('go');
SELECT count(*) AS produced FROM generate_series(0, 2) i,
       LATERAL topics.produce('go', 'o' || i);
-- earliest: from the log start
SELECT member, partitions FROM topics.join('gearly', 'go', 'c', auto_offset_reset => 'earliest');
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gearly', 'go', 'c');
-- latest (the default): from the LSO; the poll persists that position, so
-- a message produced next is read
SELECT member, partitions FROM topics.join('glate', 'go', 'c');
SELECT auto_offset_reset FROM topics.groups WHERE group_name = 'glate';
SELECT committed FROM topics.group_lag WHERE group_name = 'glate';
SELECT * FROM topics.poll('glate', 'go', 'c');
SELECT committed FROM topics.group_lag WHERE group_name = 'glate';
SELECT * FROM topics.produce('go', 'o3');
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('glate', 'go', 'c');
-- none: an error until a position is set
SELECT member, partitions FROM topics.join('gnone', 'go', 'c', auto_offset_reset => 'none');
SELECT * FROM topics.poll('gnone', 'go', 'c');
\echo :SQLSTATE
SELECT topics.seek('gnone', 'go', 0, 2);
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gnone', 'go', 'c');
-- auto_offset_reset given on join updates the group's
SELECT member, partitions FROM topics.join('gnone2', 'go', 'c', auto_offset_reset => 'none');
SELECT * FROM topics.poll('gnone2', 'go', 'c');
\echo :SQLSTATE
SELECT member, generation FROM topics.join('gnone2', 'go', 'c', auto_offset_reset => 'earliest');
SELECT auto_offset_reset FROM topics.groups WHERE group_name = 'gnone2';
SELECT msg_offset FROM topics.poll('gnone2', 'go', 'c');
-- without one it stays
SELECT member, generation FROM topics.join('gnone2', 'go', 'c');
SELECT auto_offset_reset FROM topics.groups WHERE group_name = 'gnone2';
SELECT group_name, auto_offset_reset, generation FROM topics.groups
 WHERE topic = 'go' ORDER BY group_name COLLATE "C";
SELECT topics.drop_topic('go');

--
-- Privileges: joining, polling, committing and seeking need SELECT on the
-- topic (privileges.sql tests who may use a group)
--
CREATE ROLE regress_group_reader;
CREATE ROLE regress_group_nobody;
SELECT * FROM topics.create_topic('gpriv');
SELECT * FROM topics.produce('gpriv', 'secret');
GRANT SELECT ON topics_data.gpriv TO regress_group_reader;
SET ROLE regress_group_reader;
SELECT member FROM topics.join('gprivg', 'gpriv', 'su', auto_offset_reset => 'earliest');
RESET ROLE;
SET ROLE regress_group_nobody;
SELECT * FROM topics.join('gprivg', 'gpriv', 'x');
\echo :SQLSTATE
SELECT * FROM topics.poll('gprivg', 'gpriv', 'su');
\echo :SQLSTATE
SELECT topics.commit('gprivg', 'gpriv', 0, 0);
\echo :SQLSTATE
SELECT topics.seek('gprivg', 'gpriv', 0, 0);
\echo :SQLSTATE
SELECT topics.seek('gprivg', 'gpriv', 0, now());
\echo :SQLSTATE
SELECT * FROM topics.heartbeat('gprivg', 'gpriv', 'su');
\echo :SQLSTATE
SELECT topics.leave('gprivg', 'gpriv', 'su');
\echo :SQLSTATE
-- the views show nothing of a topic the role cannot read
SELECT group_name, members FROM topics.groups WHERE group_name = 'gprivg';
UPDATE topics.committed_offset SET committed = 0;
\echo :SQLSTATE
RESET ROLE;
-- with SELECT a role may join, poll and commit its group
SET ROLE regress_group_reader;
SELECT member, generation, partitions FROM topics.join('gprivg', 'gpriv', 'su');
SELECT msg_offset, convert_from(value, 'UTF8') AS value
  FROM topics.poll('gprivg', 'gpriv', 'su');
SELECT topics.commit('gprivg', 'gpriv', 0, 0, 'su');
SELECT topics.seek('gprivg', 'gpriv', 0, 1);
SELECT member, generation, partitions FROM topics.join('gprivg', 'gpriv', 'r');
SELECT topics.leave('gprivg', 'gpriv', 'r');
SELECT group_name, members FROM topics.groups WHERE group_name = 'gprivg';
RESET ROLE;
SELECT committed FROM topics.group_lag WHERE group_name = 'gprivg';
SELECT topics.drop_topic('gpriv');
DROP ROLE regress_group_reader;
DROP ROLE regress_group_nobody;

--
-- Invalid input
--
SELECT * FROM topics.create_topic('gi', 2);
SELECT * FROM topics.produce('gi', 'i0', partition => 0);
SELECT member, generation, partitions
  FROM topics.join('ginv', 'gi', 'a', strategy => 'range');
SELECT member, generation, partitions FROM topics.join('ginv', 'gi', 'b');

-- Invalid input: unknown topic, group or member
SELECT * FROM topics.join('ginv', 'nosuch', 'a');
\echo :SQLSTATE
SELECT * FROM topics.poll('nosuch', 'gi', 'a');
\echo :SQLSTATE
SELECT * FROM topics.poll('ginv', 'gi', 'nosuch');
\echo :SQLSTATE
SELECT * FROM topics.poll('ginv', 'nosuch', 'a');
\echo :SQLSTATE
SELECT topics.commit('nosuch', 'gi', 0, 0);
\echo :SQLSTATE
SELECT topics.commit('ginv', 'gi', 0, 0, 'nosuch');
\echo :SQLSTATE
SELECT topics.seek('nosuch', 'gi', 0, 0);
\echo :SQLSTATE
SELECT topics.seek('nosuch', 'gi', 0, now());
\echo :SQLSTATE
SELECT * FROM topics.heartbeat('ginv', 'gi', 'nosuch');
\echo :SQLSTATE
SELECT * FROM topics.heartbeat('nosuch', 'gi', 'a');
\echo :SQLSTATE
SELECT topics.leave('nosuch', 'gi', 'a');
\echo :SQLSTATE
SELECT topics.leave('ginv', 'gi', 'nosuch');

-- Invalid input: a member of an older generation may not poll or commit
-- until it joins again
SELECT * FROM members_of('ginv');
SELECT * FROM topics.poll('ginv', 'gi', 'a');
\echo :SQLSTATE
SELECT topics.commit('ginv', 'gi', 0, 1, 'a');
\echo :SQLSTATE
SELECT member, generation, partitions FROM topics.join('ginv', 'gi', 'a');
SELECT partition, msg_offset FROM topics.poll('ginv', 'gi', 'a');
SELECT topics.commit('ginv', 'gi', 0, 1, 'a');

-- Invalid input: a commit for a partition the member does not own
SELECT topics.commit('ginv', 'gi', 1, 0, 'a');
\echo :SQLSTATE
SELECT topics.commit('ginv', 'gi', 0, 0, 'b');
\echo :SQLSTATE

-- Invalid input: strategy, auto_offset_reset, session_timeout, names
SELECT * FROM topics.join('ginv', 'gi', 'a', strategy => 'sticky');
\echo :SQLSTATE
SELECT * FROM topics.join('ginv', 'gi', 'c', strategy => 'roundrobin');
\echo :SQLSTATE
SELECT * FROM topics.join('ginv2', 'gi', 'a', strategy => 'cooperative');
\echo :SQLSTATE
SELECT * FROM topics.join('ginv2', 'gi', 'a', strategy => '');
\echo :SQLSTATE
SELECT * FROM topics.join('ginv2', 'gi', 'a', auto_offset_reset => 'smallest');
\echo :SQLSTATE
SELECT * FROM topics.join('ginv', 'gi', 'a', auto_offset_reset => 'Earliest');
\echo :SQLSTATE
SELECT * FROM topics.join('ginv2', 'gi', 'a', session_timeout => '99 ms');
\echo :SQLSTATE
SELECT * FROM topics.join('ginv2', 'gi', 'a', session_timeout => '1 hour 1 ms');
\echo :SQLSTATE
SELECT * FROM topics.join('ginv2', 'gi', 'a', session_timeout => '-1 s');
\echo :SQLSTATE
SELECT * FROM topics.join('ginv2', 'gi', 'a', session_timeout => '1 day');
\echo :SQLSTATE
SELECT * FROM topics.join('', 'gi', 'a');
\echo :SQLSTATE
SELECT * FROM topics.join('ginv', 'gi', '');
\echo :SQLSTATE
-- none of these created a group or a member
SELECT group_name, strategy, auto_offset_reset, generation, members
  FROM topics.groups WHERE topic = 'gi';
-- the limits are allowed (rolled back: a member with a 100 ms timeout
-- would soon be expired by the worker)
BEGIN;
SELECT member, generation FROM topics.join('ginv', 'gi', 'c', session_timeout => '100 ms');
SELECT member, generation FROM topics.join('ginv', 'gi', 'd', session_timeout => '1 hour');
SELECT member, session_timeout FROM topics.group_members
 WHERE group_name = 'ginv' ORDER BY member COLLATE "C";
ROLLBACK;

-- Invalid input: max_messages (above 1000000 is 22003, out of range) and
-- max_wait
SELECT * FROM topics.poll('ginv', 'gi', 'a', 0);
\echo :SQLSTATE
SELECT * FROM topics.poll('ginv', 'gi', 'a', -1);
\echo :SQLSTATE
SELECT * FROM topics.poll('ginv', 'gi', 'a', 1000001);
\echo :SQLSTATE
SELECT * FROM topics.poll('ginv', 'gi', 'a', 2000000);
\echo :SQLSTATE
SELECT * FROM topics.poll('ginv', 'gi', 'a', 100, '-1 ms');
\echo :SQLSTATE
SELECT * FROM topics.poll('ginv', 'gi', 'a', 100, '-1 day');
\echo :SQLSTATE

-- Invalid input: offsets outside the log (the log end is allowed), and
-- partitions out of range
SELECT log_end FROM topics.partitions WHERE topic = 'gi' AND partition = 0;
SELECT topics.commit('ginv', 'gi', 0, 2, 'a');
\echo :SQLSTATE
SELECT topics.commit('ginv', 'gi', 0, 2);
\echo :SQLSTATE
SELECT topics.commit('ginv', 'gi', 0, -1);
\echo :SQLSTATE
SELECT topics.seek('ginv', 'gi', 0, 2);
\echo :SQLSTATE
SELECT topics.seek('ginv', 'gi', 0, -1);
\echo :SQLSTATE
SELECT topics.seek('ginv', 'gi', 0, 9223372036854775807);
\echo :SQLSTATE
SELECT topics.commit('ginv', 'gi', 2, 0);
\echo :SQLSTATE
SELECT topics.seek('ginv', 'gi', -1, 0);
\echo :SQLSTATE
SELECT topics.seek('ginv', 'gi', 2, now());
\echo :SQLSTATE
-- none of these moved a position
SELECT partition, committed FROM topics.group_lag
 WHERE group_name = 'ginv' ORDER BY partition;

-- Invalid input: NULL arguments
SELECT * FROM topics.join(NULL, 'gi', 'a');
\echo :SQLSTATE
SELECT * FROM topics.join('ginv', NULL, 'a');
\echo :SQLSTATE
SELECT * FROM topics.join('ginv', 'gi', 'a', NULL);
\echo :SQLSTATE
SELECT * FROM topics.poll(NULL, 'gi', 'a');
\echo :SQLSTATE
SELECT * FROM topics.poll('ginv', NULL, 'a');
\echo :SQLSTATE
SELECT * FROM topics.poll('ginv', 'gi', NULL);
\echo :SQLSTATE
SELECT * FROM topics.poll('ginv', 'gi', 'a', NULL);
\echo :SQLSTATE
SELECT * FROM topics.poll('ginv', 'gi', 'a', 100, NULL);
\echo :SQLSTATE
SELECT topics.commit(NULL, 'gi', 0, 0);
\echo :SQLSTATE
SELECT topics.commit('ginv', NULL, 0, 0);
\echo :SQLSTATE
SELECT topics.commit('ginv', 'gi', NULL, 0);
\echo :SQLSTATE
SELECT topics.commit('ginv', 'gi', 0, NULL);
\echo :SQLSTATE
SELECT topics.seek('ginv', 'gi', 0, NULL::bigint);
\echo :SQLSTATE
SELECT topics.seek('ginv', 'gi', NULL, 0);
\echo :SQLSTATE
SELECT topics.seek('ginv', 'gi', 0, NULL::timestamptz);
\echo :SQLSTATE
SELECT topics.seek(NULL, 'gi', 0, 0);
\echo :SQLSTATE
SELECT topics.leave('ginv', 'gi', NULL);
\echo :SQLSTATE
SELECT topics.leave(NULL, 'gi', 'a');
\echo :SQLSTATE
SELECT * FROM topics.heartbeat('ginv', 'gi', NULL);
\echo :SQLSTATE
SELECT * FROM topics.heartbeat('ginv', NULL, 'a');
\echo :SQLSTATE

-- topics._take() is internal: outside the query of a poll it has nothing
-- to move
SELECT topics_internal._take('ginv', 'gi', 0, 0);
\echo :SQLSTATE
SELECT topics_internal._take(NULL, 'gi', 0, 0);
\echo :SQLSTATE

-- after all these errors the group is as it was
SELECT group_name, strategy, auto_offset_reset, generation, members
  FROM topics.groups WHERE topic = 'gi';
SELECT * FROM members_of('ginv');
SELECT topics.drop_topic('gi');

-- min_messages (Kafka's fetch.min.bytes, in messages): at least 1; a
-- poll that finds fewer waits up to max_wait, then returns what there is
SELECT topics.create_topic('gmin', 2);
SELECT member FROM topics.join('gm', 'gmin', 'm', auto_offset_reset => 'earliest');
SELECT count(*) FROM topics.produce_batch('gmin', ARRAY['a', 'b'], partition => 0);
SELECT count(*) FROM topics.produce_batch('gmin', ARRAY['c'], partition => 1);
SELECT count(*) FROM topics.poll('gm', 'gmin', 'm', 10, '0', min_messages => 0);
\echo :SQLSTATE
SELECT count(*) FROM topics.poll('gm', 'gmin', 'm', 10, '0', min_messages => 11);
\echo :SQLSTATE
SELECT count(*) FROM topics.poll('gm', 'gmin', 'm', 10, '0', min_messages => NULL);
\echo :SQLSTATE
SELECT count(*) AS polled,
       clock_timestamp() - statement_timestamp() >= interval '150 ms' AS waited
  FROM topics.poll('gm', 'gmin', 'm', 10, '200 ms', min_messages => 5);
SELECT count(*) FROM topics.produce_batch('gmin', ARRAY['d', 'e'], partition => 1);
SELECT count(*) AS polled,
       clock_timestamp() - statement_timestamp() < interval '10 s' AS at_once
  FROM topics.poll('gm', 'gmin', 'm', 10, '60 s', min_messages => 2);
SELECT topics.drop_topic('gmin');

DROP FUNCTION members_of(text);
SELECT count(*) AS groups FROM topics.consumer_group;
SELECT count(*) AS members FROM topics.group_member;
SELECT count(*) AS topics FROM topics.topic;
