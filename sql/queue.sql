-- Queue mode: competing consumers over a topic's log
\set VERBOSITY terse

-- settings are checked at create
SELECT topics.create_topic('q_bad', 1, 'queue', '{"delivery.window": 5000}');
SELECT topics.create_topic('q_bad', 1, 'queue', '{"fifo": "row"}');
SELECT topics.create_topic('q_bad', 1, 'queue', '{"max.deliveries": 0}');
SELECT topics.create_topic('q_bad', 1, 'queue', '{"visibility.timeout.ms": "x"}');
SELECT topics.create_topic('q_bad', 1, 'queue', '{"dead.letter.topic": "q_bad"}');
SELECT topics.create_topic('q_bad', 1, 'queue', '{"dead.letter.topic": "no spaces"}');
SELECT topics.create_topic('q_bad', 1, 'stream', '{"max.deliveries": 3}');
SELECT count(*) FROM topics.topics WHERE name LIKE 'q_bad%';

-- a queue comes with its dead-letter topic, a stream
SELECT * FROM topics.create_topic('q', 2, 'queue',
                                  '{"max.deliveries": 5, "delivery.window": 16}');
SELECT name, mode, partitions FROM topics.topics WHERE name LIKE 'q%' ORDER BY name;
SELECT topic, count(*) FROM topics.queue_delivery GROUP BY topic;

-- send, then consume: gone when the transaction commits
SELECT partition, msg_offset FROM topics.send('q', '{"n": 1}', key => 'a');
SELECT count(*) FROM topics.send_batch('q', ARRAY['{"n": 2}', '{"n": 3}', '{"n": 4}']::jsonb[],
                                       ARRAY['a', 'a', 'a']);
SELECT convert_from(value, 'UTF8') AS value FROM topics.consume('q', 1);
SELECT partition, depth, visible, in_flight FROM topics.queue_stats WHERE topic = 'q' ORDER BY 1;

-- a rollback gives the messages back at once
BEGIN;
SELECT count(*) FROM topics.consume('q', 10);
SELECT sum(in_flight), sum(visible) FROM topics.queue_stats WHERE topic = 'q';
ROLLBACK;
SELECT sum(in_flight), sum(visible) FROM topics.queue_stats WHERE topic = 'q';

-- so does a rollback to a savepoint, of what was taken after it only
BEGIN;
SELECT count(*) FROM topics.consume('q', 1);
SAVEPOINT s;
SELECT count(*) FROM topics.consume('q', 1);
ROLLBACK TO SAVEPOINT s;
SELECT sum(in_flight), sum(visible) FROM topics.queue_stats WHERE topic = 'q';
COMMIT;
SELECT sum(depth), sum(in_flight), sum(visible) FROM topics.queue_stats WHERE topic = 'q';

-- a cursor takes only the rows it fetched
SELECT count(*) FROM generate_series(5, 8) i, topics.send('q', to_jsonb(i), key => 'a');
BEGIN;
DECLARE c CURSOR FOR SELECT partition, msg_offset FROM topics.consume('q', 5);
FETCH 1 FROM c;
SELECT partition, in_flight AS reserved FROM topics.queue_stats WHERE topic = 'q' ORDER BY 1;
CLOSE c;
SELECT partition, in_flight AS taken FROM topics.queue_stats WHERE topic = 'q' ORDER BY 1;
COMMIT;
SELECT sum(depth) FROM topics.queue_stats WHERE topic = 'q';

-- INSERT ... SELECT: the consumer's own write commits with the take
CREATE TABLE done (v jsonb);
INSERT INTO done SELECT convert_from(value, 'UTF8')::jsonb FROM topics.consume('q', 2);
SELECT count(*) FROM done;
SELECT sum(depth) FROM topics.queue_stats WHERE topic = 'q';

-- a prepared transaction holds its messages; ROLLBACK PREPARED gives them back
BEGIN;
SELECT count(*) FROM topics.consume('q', 10);
PREPARE TRANSACTION 'q1';
SELECT count(*) FROM topics.consume('q', 10);
ROLLBACK PREPARED 'q1';
SELECT count(*) FROM topics.consume('q', 10);
SELECT sum(depth) FROM topics.queue_stats WHERE topic = 'q';

-- receive: a lease with a delivery id; ack, nack, extend
SELECT count(*) FROM generate_series(1, 3) i, topics.send('q', to_jsonb(i), key => 'a');
CREATE TEMP TABLE got AS
SELECT delivery_id, deliveries FROM topics.receive('q', '1 min', 3);
SELECT count(*), min(deliveries) FROM got;
SELECT topics.ack('q', (SELECT min(delivery_id) FROM got));
\set VERBOSITY sqlstate
SELECT topics.ack('q', (SELECT min(delivery_id) FROM got));
\set VERBOSITY terse
SELECT topics.extend('q', ARRAY(SELECT delivery_id FROM got ORDER BY 1 OFFSET 1), '2 min');
SELECT topics.nack('q', ARRAY(SELECT delivery_id FROM got ORDER BY 1 OFFSET 2));
SELECT sum(depth), sum(in_flight), sum(visible) FROM topics.queue_stats WHERE topic = 'q';
-- an ack in a transaction that rolls back does not count
BEGIN;
SELECT topics.ack('q', ARRAY(SELECT delivery_id FROM got ORDER BY 1 OFFSET 1 LIMIT 1));
ROLLBACK;
SELECT topics.ack('q', ARRAY(SELECT delivery_id FROM got ORDER BY 1 OFFSET 1 LIMIT 1));
-- the nacked message comes back, counted
SELECT deliveries FROM topics.receive('q', '1 min', 5);
DROP TABLE got;

-- bad input
\set VERBOSITY sqlstate
SELECT topics.ack('q', 999);
\set VERBOSITY terse
SELECT topics.ack('q', -1);
SELECT topics.ack('q', ARRAY[NULL::bigint]);
SELECT * FROM topics.receive('q', '-1 s');
SELECT topics.nack('q', ARRAY[1::bigint], '-1 s');
SELECT * FROM topics.consume('q', 0);
SELECT * FROM topics.consume('q', 100000);
SELECT * FROM topics.consume('nosuch', 1);
SELECT * FROM topics.send('q', '{}', delay => '-1 s');
SELECT * FROM topics.send('q', '{}', delay => '1 s', not_before => now());

-- a stream refuses queue calls, a queue refuses groups
SELECT topics.create_topic('s_plain', 1);
SELECT * FROM topics.consume('s_plain', 1);
SELECT topics.ack('s_plain', 1);
SELECT * FROM topics.join('g', 'q');
SELECT * FROM topics.poll('g', 'q', 'm');

-- the visibility timeout: an unacked message comes back, until
-- max.deliveries sends it to the dead-letter topic
SELECT topics.create_topic('vt', 1, 'queue', '{"max.deliveries": 2}');
SELECT partition FROM topics.send('vt', '{"job": 1}', headers => '{"h": "1"}');
SELECT deliveries FROM topics.receive('vt', '10 ms', 1);
SELECT pg_sleep(0.05);
SELECT deliveries FROM topics.receive('vt', '10 ms', 1);
SELECT pg_sleep(0.05);
SELECT count(*) FROM topics.receive('vt', '10 ms', 1);
SELECT depth, dead_lettered FROM topics.queue_stats WHERE topic = 'vt';
SELECT convert_from(value, 'UTF8') AS value, headers
  FROM topics.fetch('vt.dead_letter', 0, 0);
-- redrive sends it back, once
SELECT topics.redrive('vt.dead_letter');
SELECT topics.redrive('vt.dead_letter');
SELECT convert_from(value, 'UTF8') AS value, headers, deliveries
  FROM topics.receive('vt', '1 min', 1);

-- a delayed message is not received before its time, nor does it hold
-- back the messages behind it
SELECT topics.create_topic('later', 1, 'queue');
SELECT partition FROM topics.send('later', '"late"', delay => '300 ms');
SELECT partition FROM topics.send('later', '"now"');
SELECT convert_from(value, 'UTF8') AS value FROM topics.consume('later', 5);
SELECT delayed FROM topics.queue_stats WHERE topic = 'later';
SELECT convert_from(value, 'UTF8') AS value FROM topics.consume('later', 5, max_wait => '5 s');

-- fifo = key: no later message of a key while one is in flight
SELECT topics.create_topic('byk', 1, 'queue', '{"fifo": "key"}');
SELECT count(*)
  FROM (VALUES (1, 'a'), (2, 'a'), (3, 'b'), (4, 'b'), (5, 'c')) v(i, k),
       topics.send('byk', to_jsonb(i), key => k);
BEGIN;
SELECT convert_from(key, 'UTF8') AS key, convert_from(value, 'UTF8') AS value
  FROM topics.consume('byk', 10);
SELECT count(*) FROM topics.receive('byk', '1 min', 10);
ROLLBACK;
SELECT convert_from(key, 'UTF8') AS key, convert_from(value, 'UTF8') AS value
  FROM topics.consume('byk', 10);
SELECT convert_from(key, 'UTF8') AS key, convert_from(value, 'UTF8') AS value
  FROM topics.consume('byk', 10);

-- what a review broke once
-- a scroll cursor that moves back over rows a rollback to a savepoint gave
-- back does not hand them out again
SELECT topics.create_topic('sc', 1, 'queue');
SELECT count(*) FROM topics.produce_batch('sc', ARRAY['a', 'b', 'c']);
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT msg_offset FROM topics.consume('sc', 3);
SAVEPOINT s;
FETCH 1 FROM c;
ROLLBACK TO SAVEPOINT s;
FETCH ABSOLUTE 1 FROM c;
ROLLBACK;
-- nor when another query of the transaction took them again meanwhile
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT msg_offset FROM topics.consume('sc', 3);
SAVEPOINT s;
FETCH 1 FROM c;
ROLLBACK TO SAVEPOINT s;
SELECT msg_offset FROM topics.consume('sc', 1);
FETCH ABSOLUTE 1 FROM c;
ROLLBACK;
-- a rolled-back receive's id settles nothing; an id twice in one call
-- settles once; a rolled-back consume counts as a delivery
BEGIN;
SELECT delivery_id AS rolled_back_id FROM topics.receive('sc', '1 min') \gset
ROLLBACK;
\set VERBOSITY sqlstate
SELECT topics.ack('sc', :rolled_back_id);
\set VERBOSITY terse
CREATE TEMP TABLE rid AS SELECT delivery_id FROM topics.receive('sc', '1 min') WHERE false;
BEGIN;
INSERT INTO rid SELECT delivery_id FROM topics.receive('sc', '1 min');
SAVEPOINT s;
SELECT count(*) FROM topics.receive('sc', '1 min', 2);
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT topics.ack('sc', ARRAY[(SELECT delivery_id FROM rid), (SELECT delivery_id FROM rid)]);
SELECT msg_offset, deliveries FROM topics.receive('sc', '1 min', 3);
DROP TABLE rid;
-- LATERAL: a read per outer row
SELECT count(*) FROM topics.produce_batch('sc', ARRAY['d', 'e', 'f', 'g']);
SELECT g, count(*) FROM generate_series(1, 2) g, LATERAL topics.consume('sc', g) GROUP BY g ORDER BY g;
-- queue_info shows nothing to a role that may not read the topic
CREATE ROLE queue_stranger;
SET ROLE queue_stranger;
SELECT count(*) FROM topics_internal.queue_info('sc');
RESET ROLE;
DROP ROLE queue_stranger;
-- a queue whose dead-letter topic is gone goes on delivering, with a warning
SELECT topics.create_topic('nodl', 1, 'queue', '{"max.deliveries": 1}');
SELECT topics.drop_topic('nodl.dead_letter');
SELECT count(*) FROM topics.produce('nodl', 'x'::text);
BEGIN;
SELECT count(*) FROM topics.consume('nodl');
ROLLBACK;
SELECT convert_from(value, 'UTF8') AS value FROM topics.consume('nodl');
-- the worker moves a delayed message off the head of a full window, and
-- only a delayed one; in a fifo = key queue, not one with a key; its time
-- is written in ISO 8601 whatever the DateStyle
SET datestyle = 'SQL, DMY';
SELECT topics.create_topic('full', 1, 'queue', '{"delivery.window": 2}');
SELECT topics.create_topic('fullk', 1, 'queue', '{"delivery.window": 2, "fifo": "key"}');
SELECT count(*) FROM topics.send('full', '"late"', delay => '3 days');
SELECT count(*) FROM topics.send('fullk', '"late"', key => 'k', delay => '3 days');
SELECT count(*) FROM generate_series(1, 4) i, topics.send('full', to_jsonb(i));
SELECT count(*) FROM generate_series(1, 4) i, topics.send('fullk', to_jsonb(i));
SELECT convert_from(value, 'UTF8') AS value FROM topics.consume('full', 5);
SELECT convert_from(value, 'UTF8') AS value FROM topics.consume('fullk', 5);
SELECT pg_sleep(2.5);
SELECT convert_from(value, 'UTF8') AS value FROM topics.consume('full', 5);
SELECT convert_from(value, 'UTF8') AS value FROM topics.consume('fullk', 5);
SELECT topic, log_end FROM topics.partitions WHERE topic IN ('full', 'fullk') ORDER BY 1;
SELECT msg_offset, headers->>'pg_topics.not_before' ~ '^\d{4}-\d\d-\d\dT' AS iso
  FROM topics.fetch('full', 0, 5);
RESET datestyle;

-- VACUUM FULL moves the delivery state's rows: each window writes its own
-- rows still
SELECT topics.create_topic('vf' || i, 1, 'queue', '{"delivery.window": 4}')
  FROM generate_series(1, 3) i;
SELECT count(*) FROM generate_series(1, 3) i,
       topics.produce_batch('vf' || i, ARRAY['a', 'b', 'c', 'd', 'e', 'f']);
SELECT count(*) FROM topics.consume('vf2', 4);
SELECT count(*) FROM topics.consume('vf3', 1);
SELECT topics.drop_topic('vf1');
VACUUM FULL topics.queue_delivery;
SELECT count(*) FROM topics.consume('vf2', 2);
SELECT count(*) FROM topics.consume('vf3', 3);
SELECT topic, partition, slot FROM topics.queue_delivery
 GROUP BY 1, 2, 3 HAVING count(*) > 1;
SELECT topic, string_agg(msg_offset::text, ',' ORDER BY msg_offset) AS offsets
  FROM topics.queue_delivery WHERE topic IN ('vf2', 'vf3') AND msg_offset >= 0
 GROUP BY topic ORDER BY topic;

-- a read that dead-letters some of what it reserved takes more from the
-- same partition, up to qty
SELECT * FROM topics.create_topic('dlp', 1, 'queue', '{"max.deliveries": 1}');
SELECT count(*) FROM topics.produce_batch('dlp', ARRAY['a', 'b', 'c', 'd', 'e', 'f']);
BEGIN;
SELECT msg_offset FROM topics.consume('dlp', 1);
ROLLBACK;
SELECT msg_offset, convert_from(value, 'UTF8') AS value FROM topics.consume('dlp', 3);
SELECT count(*) AS dead_letters FROM topics.fetch('dlp.dead_letter', 0, 0, 10);

-- ROLLBACK PREPARED gives a message back at once, while a transaction
-- below it holds the window's start, and COMMIT PREPARED of a receive
-- leaves a lease that runs out
SELECT * FROM topics.create_topic('pq', 1, 'queue');
SELECT count(*) FROM topics.produce_batch('pq', ARRAY['a', 'b', 'c', 'd', 'e']);
BEGIN;
SELECT msg_offset FROM topics.consume('pq', 1);
PREPARE TRANSACTION 'pq_hold';
BEGIN;
SELECT msg_offset FROM topics.consume('pq', 1);
PREPARE TRANSACTION 'pq_back';
SELECT msg_offset FROM topics.consume('pq', 1);
ROLLBACK PREPARED 'pq_back';
SELECT msg_offset FROM topics.consume('pq', 5);
SELECT msg_offset FROM topics.produce('pq', 'f'::text);
BEGIN;
SELECT msg_offset FROM topics.receive('pq', '10 ms', 1);
PREPARE TRANSACTION 'pq_lease';
SELECT msg_offset FROM topics.consume('pq', 5);
COMMIT PREPARED 'pq_lease';
SELECT pg_sleep(0.05);
SELECT msg_offset FROM topics.consume('pq', 5);
ROLLBACK PREPARED 'pq_hold';
SELECT msg_offset FROM topics.consume('pq', 5);

-- the delivery id of a receive that ROLLBACK PREPARED undid settles nothing
SELECT msg_offset FROM topics.produce('pq', 'g'::text);
BEGIN;
SELECT delivery_id AS pq_void FROM topics.receive('pq', '1 min', 1) \gset
PREPARE TRANSACTION 'pq_void';
ROLLBACK PREPARED 'pq_void';
SELECT topics.ack('pq', ARRAY[:pq_void]::bigint[]);
SELECT msg_offset FROM topics.consume('pq', 5);

-- a read whose own dead letters fill the window returns at once, rather
-- than wait for room that only its commit makes
SELECT * FROM topics.create_topic('dlw', 1, 'queue',
                                  '{"max.deliveries": 1, "delivery.window": 2}');
SELECT count(*) FROM topics.produce_batch('dlw', ARRAY['a', 'b', 'c', 'd']);
BEGIN;
SELECT count(*) FROM topics.consume('dlw', 2);
ROLLBACK;
BEGIN;
SET LOCAL statement_timeout = '5 s';
SELECT count(*) FROM topics.consume('dlw', 1, max_wait => '60 s');
COMMIT;
SELECT msg_offset, convert_from(value, 'UTF8') AS value FROM topics.consume('dlw', 5);

-- a procedure's loop over consume or receive must not commit or roll back
-- inside it: the loop's cursor would be read to its end, taking every row
-- before the loop processed it
CREATE TABLE pc_done (o bigint);
SELECT * FROM topics.create_topic('pc', 1, 'queue');
SELECT count(*) FROM topics.produce_batch('pc', ARRAY['a', 'b', 'c', 'd', 'e']);
CREATE PROCEDURE pc_commit() LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT msg_offset FROM topics.consume('pc', 5) LOOP
    INSERT INTO pc_done VALUES (r.msg_offset);
    COMMIT;
  END LOOP;
END $$;
CALL pc_commit();
CREATE PROCEDURE pc_rollback() LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT msg_offset FROM topics.receive('pc', '1 min', 5) LOOP
    IF r.msg_offset = 0 THEN
      ROLLBACK;
    ELSE
      INSERT INTO pc_done VALUES (r.msg_offset);
    END IF;
  END LOOP;
END $$;
CALL pc_rollback();
-- nothing was taken or done: every message is there for the next reader
SELECT count(*) AS done FROM pc_done;
SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset) FROM topics.consume('pc', 10);
DROP PROCEDURE pc_commit();
DROP PROCEDURE pc_rollback();
DROP TABLE pc_done;

-- the stats in a query that could run in parallel
SET force_parallel_mode = on;
SELECT count(*) > 0 FROM topics.queue_stats;
RESET force_parallel_mode;

-- consuming never updates or deletes a message row, and the delivery
-- state is written in place: no dead tuples anywhere
SELECT pg_stat_force_next_flush();
SELECT sum(n_dead_tup) AS message_dead, sum(n_tup_upd + n_tup_del) AS message_changed
  FROM pg_stat_user_tables WHERE schemaname = 'topics_data' AND relname LIKE 'q$%';
SELECT n_dead_tup, n_tup_upd, n_tup_del FROM pg_stat_user_tables
 WHERE schemaname = 'topics' AND relname IN ('queue_delivery', 'queue_partition')
 ORDER BY relname;

SELECT topics.drop_topic(name) FROM topics.topics ORDER BY name;
DROP TABLE done;
