/* sql/pg_topics--0.3--0.4.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_topics UPDATE TO '0.4'" to load this file. \quit

-- 0.4 adds queue mode: competing consumers over a topic's log, as Kafka's
-- share groups.  A queue read never updates or deletes a message row.  Per
-- partition, a bounded delivery state says what is done and what is in
-- flight: a start offset, below which every message is done, and one row
-- per offset of the window above it.  Both tables are written in place
-- (one WAL record per change, as a sequence is), never by an UPDATE, so
-- that they keep their size whatever snapshot is held open; a change that
-- a transaction makes names the transaction, and counts once it commits.

-- Per queue partition: where its delivery window starts, the messages it
-- sent to the dead-letter topic, the server and database whose transaction
-- ids its rows name (a restored dump names another's), the transaction that
-- made the row (a row restored from a dump was made by another: its xmin
-- tells), and a mark above every
-- receipt (the lower bits of a delivery id) handed out, so that none is
-- handed out twice; it starts at a hash of the topic's name and the
-- partition below 2^38, so that the ids of two queues seldom meet.
CREATE TABLE topics.queue_partition (
    topic          text COLLATE "C" NOT NULL,
    partition      integer NOT NULL,
    start_offset   bigint NOT NULL DEFAULT 0,
    dead_lettered  bigint NOT NULL DEFAULT 0,
    system_id      bigint NOT NULL DEFAULT 0,
    receipt_mark   bigint NOT NULL DEFAULT 0,
    database_oid   oid NOT NULL DEFAULT 0,
    created_by     xid NOT NULL DEFAULT pg_catalog.xid(pg_catalog.pg_current_xact_id()),
    PRIMARY KEY (topic, partition),
    FOREIGN KEY (topic, partition) REFERENCES topics.partition ON DELETE CASCADE
);
COMMENT ON TABLE topics.queue_partition IS
    'Per queue partition: the start of its delivery window (every message below is done); written in place';

-- The delivery window of a queue partition: slot k holds the state of the
-- offset o with o % window = k, for start_offset <= o < start_offset +
-- window (a row of a lower offset is free).  state is the state as of the
-- last commit: 1 available again (after a delivery), 2 leased until
-- visible_at, 3 done; with pending -1, xid is the transaction that made
-- state; else xid, when not 0, is a transaction whose commit turns state
-- into pending (at pending_at).  Rows are made with the partition and only
-- ever overwritten in place.
CREATE TABLE topics.queue_delivery (
    topic       text COLLATE "C" NOT NULL,
    partition   integer NOT NULL,
    slot        integer NOT NULL,
    msg_offset  bigint NOT NULL DEFAULT -1,
    state       smallint NOT NULL DEFAULT 0,
    visible_at  timestamptz NOT NULL DEFAULT '-infinity',
    deliveries  integer NOT NULL DEFAULT 0,
    receipt     bigint NOT NULL DEFAULT 0,
    xid         xid8 NOT NULL DEFAULT '0',
    pending     smallint NOT NULL DEFAULT 0,
    pending_at  timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (topic, partition, slot),
    FOREIGN KEY (topic, partition) REFERENCES topics.queue_partition ON DELETE CASCADE
);
COMMENT ON TABLE topics.queue_delivery IS
    'The delivery window of each queue partition, a row per slot; written in place';

-- What the database worker last recorded of a queue partition, in a
-- transaction (so that a dump reads it as of its snapshot): the start of
-- its window, and an id below which every transaction had ended then.  A
-- restored queue starts there (see delivery_store.c).
ALTER TABLE topics.partition
    ADD COLUMN queue_start bigint NOT NULL DEFAULT 0,
    ADD COLUMN queue_horizon xid8 NOT NULL DEFAULT '0';
COMMENT ON COLUMN topics.partition.queue_start IS
    'A queue partition''s window start as the worker last recorded it';
COMMENT ON COLUMN topics.partition.queue_horizon IS
    'Every transaction below this id had ended when the worker recorded queue_start';

SELECT pg_catalog.pg_extension_config_dump('topics.queue_partition', '');
SELECT pg_catalog.pg_extension_config_dump('topics.queue_delivery', '');
REVOKE ALL ON topics.queue_partition, topics.queue_delivery FROM PUBLIC;

-- The rows of the queue topics made before 0.4, read by consumer groups
-- then as streams: a partition's window starts at the lowest position of
-- its groups (what every group read is done), or at its log start.  The
-- dead-letter topic of such a queue is not made: the first dead letter
-- says to create it.
INSERT INTO topics.queue_partition (topic, partition, system_id, database_oid,
                                    receipt_mark, start_offset)
SELECT p.topic, p.partition,
       (SELECT pg_catalog.int8(s.system_identifier) FROM pg_catalog.pg_control_system() s),
       (SELECT d.oid FROM pg_catalog.pg_database d
         WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()),
       pg_catalog.hashtextextended(p.topic OPERATOR(pg_catalog.||) '$'
                                   OPERATOR(pg_catalog.||) p.partition, 0)
         OPERATOR(pg_catalog.&) 274877906943,
       COALESCE((SELECT pg_catalog.min(c.committed) FROM topics.committed_offset c
                  WHERE c.topic OPERATOR(pg_catalog.=) p.topic
                    AND c.partition OPERATOR(pg_catalog.=) p.partition),
                p.log_start)
  FROM topics.partition p
  JOIN topics.topic t ON t.name OPERATOR(pg_catalog.=) p.topic
 WHERE t.mode OPERATOR(pg_catalog.=) 'queue';
INSERT INTO topics.queue_delivery (topic, partition, slot)
SELECT q.topic, q.partition, s
  FROM topics.queue_partition q,
       pg_catalog.generate_series(0, 1023) s;
UPDATE topics.partition p SET queue_start = q.start_offset
  FROM topics.queue_partition q
 WHERE q.topic OPERATOR(pg_catalog.=) p.topic
   AND q.partition OPERATOR(pg_catalog.=) p.partition;

-- _consume hands out messages that no one else holds, reserved for the
-- query that called it; _deliver, the row filter of consume and receive,
-- takes each row as the query hands it on, so that a cursor takes only the
-- rows it fetched.  consume and receive are STABLE so that the planner
-- inlines them into the caller's query (as topics.poll).
-- (its rows are of a type, not OUT parameters, whose row shape each call
-- would build anew)
CREATE TYPE topics_internal.delivery AS (
    partition integer, msg_offset bigint, "timestamp" timestamptz,
    key bytea, value bytea, headers jsonb,
    delivery_id bigint, deliveries integer);
COMMENT ON TYPE topics_internal.delivery IS
    'Internal: a message as topics_internal._consume() hands it out';
CREATE FUNCTION topics_internal._consume(
    topic text, qty integer, max_wait interval, lease boolean, vt interval)
RETURNS SETOF topics_internal.delivery
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics__consume';
COMMENT ON FUNCTION topics_internal._consume(text, integer, interval, boolean, interval) IS
    'Internal: the messages topics.consume() and topics.receive() return';

CREATE FUNCTION topics_internal._deliver(topic text, partition integer,
                                         msg_offset bigint)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics__deliver';
COMMENT ON FUNCTION topics_internal._deliver(text, integer, bigint) IS
    'Internal: takes a message that topics_internal._consume() reserved for the calling query';

CREATE FUNCTION topics.consume(
    topic text, qty integer DEFAULT 1, max_wait interval DEFAULT '0')
RETURNS TABLE (topic text, partition integer, msg_offset bigint,
               "timestamp" timestamptz, key bytea, value bytea, headers jsonb)
LANGUAGE sql STABLE PARALLEL UNSAFE
AS $$
SELECT $1, r.partition, r.msg_offset, r."timestamp", r.key, r.value, r.headers
  FROM topics_internal._consume($1, $2, $3, false, NULL) r
 WHERE topics_internal._deliver($1, r.partition, r.msg_offset)
$$;
COMMENT ON FUNCTION topics.consume(text, integer, interval) IS
    'Take up to qty messages of a queue that no one else holds, waiting up to max_wait for one; they are gone when the caller''s transaction commits, back when it rolls back';

CREATE FUNCTION topics.receive(
    topic text, vt interval DEFAULT NULL, qty integer DEFAULT 1,
    max_wait interval DEFAULT '0')
RETURNS TABLE (delivery_id bigint, deliveries integer, topic text,
               partition integer, msg_offset bigint, "timestamp" timestamptz,
               key bytea, value bytea, headers jsonb)
LANGUAGE sql STABLE PARALLEL UNSAFE
AS $$
SELECT r.delivery_id, r.deliveries, $1, r.partition, r.msg_offset,
       r."timestamp", r.key, r.value, r.headers
  FROM topics_internal._consume($1, $3, $4, true, $2) r
 WHERE topics_internal._deliver($1, r.partition, r.msg_offset)
$$;
COMMENT ON FUNCTION topics.receive(text, interval, integer, interval) IS
    'Lease up to qty messages of a queue for vt (NULL: the topic''s visibility.timeout.ms); ack, nack or extend them by delivery_id, else they come back after vt';

CREATE FUNCTION topics.ack(topic text, ids bigint[])
RETURNS integer
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_ack';
COMMENT ON FUNCTION topics.ack(text, bigint[]) IS
    'Acknowledge received messages: they are gone when the transaction commits';
CREATE FUNCTION topics.ack(topic text, id bigint)
RETURNS integer
LANGUAGE sql VOLATILE PARALLEL UNSAFE
AS $$ SELECT topics.ack($1, ARRAY[$2]) $$;
COMMENT ON FUNCTION topics.ack(text, bigint) IS
    'Acknowledge one received message';

CREATE FUNCTION topics.nack(topic text, ids bigint[], delay interval DEFAULT '0')
RETURNS integer
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_nack';
COMMENT ON FUNCTION topics.nack(text, bigint[], interval) IS
    'Give received messages back, to be delivered again after delay';

CREATE FUNCTION topics.extend(topic text, ids bigint[], vt interval)
RETURNS integer
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_extend';
COMMENT ON FUNCTION topics.extend(text, bigint[], interval) IS
    'Extend the lease of received messages to vt from now (a heartbeat for long jobs)';

-- send is produce with a delivery time: a header that queue reads honour.
CREATE FUNCTION topics_internal.send_refused(reason text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'invalid delivery time for topics.send()'
          USING ERRCODE = 'invalid_parameter_value', DETAIL = reason;
END
$$;

CREATE FUNCTION topics_internal.not_before(delay interval, not_before timestamptz)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE
         WHEN $1 IS NULL AND $2 IS NULL THEN NULL
         WHEN $1 IS NOT NULL AND $2 IS NOT NULL THEN
           topics_internal.send_refused('give a delay or a not-before time, not both')
         WHEN $1 < '0' THEN
           topics_internal.send_refused('delay must not be negative')
         ELSE pg_catalog.jsonb_build_object('pg_topics.not_before',
                                            COALESCE($2, pg_catalog.now() + $1))
       END
$$;

CREATE FUNCTION topics.send(
    topic text, value jsonb, key text DEFAULT NULL, headers jsonb DEFAULT NULL,
    delay interval DEFAULT NULL, not_before timestamptz DEFAULT NULL)
RETURNS topics.produced
LANGUAGE sql VOLATILE PARALLEL UNSAFE
AS $$
SELECT * FROM topics.produce($1, $2, $3, NULL,
                             CASE WHEN $5 IS NULL AND $6 IS NULL THEN $4
                                  ELSE COALESCE($4, '{}') OPERATOR(pg_catalog.||)
                                       topics_internal.not_before($5, $6) END)
$$;
COMMENT ON FUNCTION topics.send(text, jsonb, text, jsonb, interval, timestamptz) IS
    'Produce one message to a queue, to be delivered after delay or at not_before';

CREATE FUNCTION topics.send_batch(
    topic text, "values" jsonb[], keys text[] DEFAULT NULL,
    delay interval DEFAULT NULL, not_before timestamptz DEFAULT NULL)
RETURNS SETOF topics.produced
LANGUAGE sql VOLATILE PARALLEL UNSAFE
AS $$
SELECT * FROM topics.produce_batch(
    $1, $2, $3, NULL,
    CASE WHEN $4 IS NULL AND $5 IS NULL THEN NULL
         ELSE pg_catalog.array_fill(topics_internal.not_before($4, $5),
                                    ARRAY[pg_catalog.cardinality($2)]) END)
$$;
COMMENT ON FUNCTION topics.send_batch(text, jsonb[], text[], interval, timestamptz) IS
    'Produce messages to a queue in one call, to be delivered after delay or at not_before';

-- The delivery state of each queue partition, from shared memory (it
-- reads with a fresh snapshot and may load a window: not in a parallel
-- query).
CREATE FUNCTION topics_internal.queue_info(topic text)
RETURNS TABLE (partition integer, start_offset bigint, lso bigint,
               depth bigint, visible bigint, in_flight bigint, delayed bigint,
               dead_lettered bigint, oldest_timestamp timestamptz,
               consumed bigint, consume_rate double precision)
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'pg_topics_queue_info';
COMMENT ON FUNCTION topics_internal.queue_info(text) IS
    'Internal: the delivery state of a queue''s partitions';

CREATE VIEW topics.queue_stats WITH (security_barrier) AS
SELECT t.name AS topic,
       i.partition,
       i.start_offset,
       i.lso,
       i.depth,
       i.visible,
       i.in_flight,
       i.delayed,
       i.dead_lettered,
       pg_catalog.now() OPERATOR(pg_catalog.-) i.oldest_timestamp AS oldest_age,
       i.consumed,
       i.consume_rate
  FROM topics.topic t
       CROSS JOIN LATERAL topics_internal.queue_info(t.name) i
 WHERE t.mode OPERATOR(pg_catalog.=) 'queue'
   AND topics_internal.can_read(t.name);
COMMENT ON VIEW topics.queue_stats IS
    'Per queue partition: messages waiting (depth), visible now, in flight, delayed, dead-lettered, the oldest one''s age, and the consume rate (per second, over the last minute)';

-- redrive sends the messages of a dead-letter topic back to the queues
-- they came from, and its position moves in the same transaction, so each
-- goes back once.
CREATE FUNCTION topics.redrive(dead_letter_topic text, max_messages integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
    n integer := 0;
BEGIN
    PERFORM topics.join('pg_topics.redrive', dead_letter_topic, 'redrive',
                        session_timeout => '1 minute', auto_offset_reset => 'earliest');
    FOR m IN SELECT * FROM topics.poll('pg_topics.redrive', dead_letter_topic,
                                       'redrive', max_messages)
    LOOP
        IF m.headers IS NULL OR NOT m.headers ? 'dead_letter.topic' THEN
            CONTINUE;
        END IF;
        PERFORM topics.produce(m.headers->>'dead_letter.topic', m.value, m.key,
                               (m.headers->>'dead_letter.partition')::integer,
                               NULLIF(m.headers - ARRAY['dead_letter.topic',
                                                        'dead_letter.partition',
                                                        'dead_letter.offset',
                                                        'dead_letter.deliveries',
                                                        'dead_letter.reason'],
                                      '{}'::jsonb));
        n := n + 1;
    END LOOP;
    PERFORM topics.leave('pg_topics.redrive', dead_letter_topic, 'redrive');
    RETURN n;
END
$$;
COMMENT ON FUNCTION topics.redrive(text, integer) IS
    'Send up to max_messages dead letters back to the queue partitions they came from; returns how many';

REVOKE ALL ON FUNCTION topics_internal._consume(text, integer, interval, boolean, interval),
    topics_internal._deliver(text, integer, bigint),
    topics_internal.queue_info(text),
    topics_internal.not_before(interval, timestamptz),
    topics_internal.send_refused(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION topics_internal._consume(text, integer, interval, boolean, interval),
    topics_internal._deliver(text, integer, bigint),
    topics_internal.queue_info(text),
    topics_internal.not_before(interval, timestamptz),
    topics_internal.send_refused(text) TO PUBLIC;
