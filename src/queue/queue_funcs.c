/*-------------------------------------------------------------------------
 *
 * queue_funcs.c
 *	  SQL-callable functions of queue topics: consume, receive, ack, nack,
 *	  extend, and the delivery state for topics.queue_stats.
 *
 * Taking a queue's messages (consume, receive) and settling a delivery
 * (ack, nack, extend) take SELECT on the topic, as reading it does: a
 * queue's readers are its consumers (Kafka's READ on a topic lets a share
 * group consume it).  A message a reader moves to the dead-letter topic
 * goes there as the queue's doing, without INSERT on that topic.  Every
 * call changes the delivery state, so none runs in a read-only
 * transaction or on a standby; queue_info shows nothing to a role that
 * may not read the topic.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "args.h"
#include "log/fetch.h"
#include "queue/delivery_query.h"
#include "queue/queue_config.h"
#include "queue/queue_read.h"

PG_FUNCTION_INFO_V1(pg_topics__consume);
PG_FUNCTION_INFO_V1(pg_topics__deliver);
PG_FUNCTION_INFO_V1(pg_topics_ack);
PG_FUNCTION_INFO_V1(pg_topics_nack);
PG_FUNCTION_INFO_V1(pg_topics_extend);
PG_FUNCTION_INFO_V1(pg_topics_queue_info);

/* The most messages one consume or receive takes. */
#define MAX_QUEUE_QTY	QUEUE_WINDOW_MAX

/*
 * interval_ms_checked returns an interval argument in milliseconds, and
 * raises 22023 when it is negative; what names it.
 */
static int64
interval_ms_checked(Interval *span, const char *what)
{
	int64		ms = pg_topics_interval_ms(span);

	if (ms < 0 || span->month < 0 || span->day < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", what)));
	return ms;
}

/*
 * open_queue opens the queue topic named by a text argument for a call,
 * checking SELECT on it.
 */
static Topic *
open_queue(text *name, const char *call)
{
	Topic	   *topic;

	PreventCommandIfReadOnly(call);
	PreventCommandDuringRecovery(call);
	topic = topic_open(topic_name_from_text(name), AccessShareLock);
	topic_check_privilege(topic, ACL_SELECT);
	queue_check_topic(topic, call);
	return topic;
}

/*
 * topics_internal._consume(topic, qty, max_wait, lease, vt) reserves up to
 * qty messages no one holds for the calling query and returns them; with
 * lease (a receive), with a delivery id.  topics_internal._deliver takes
 * them as the query hands them on.
 */
Datum
pg_topics__consume(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Topic	   *topic;
	int32		qty;
	int64		wait_ms;
	bool		lease;
	int64		lease_ms = 0;
	Tuplestorestate *store;
	DeliveryQuery *q;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic, qty and max_wait must not be null")));
	lease = PG_GETARG_BOOL(3);
	topic = open_queue(PG_GETARG_TEXT_PP(0),
					   lease ? "topics.receive()" : "topics.consume()");
	qty = PG_GETARG_INT32(1);
	if (qty < 1 || qty > MAX_QUEUE_QTY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid qty %d", qty),
				 errdetail("A call takes from 1 to %d messages.", MAX_QUEUE_QTY)));
	wait_ms = pg_topics_wait_ms(PG_GETARG_INTERVAL_P(2));
	if (lease)
	{
		QueueConfig cfg;

		queue_config_read(topic, &cfg);
		lease_ms = PG_ARGISNULL(4) ? cfg.visibility_timeout_ms :
			interval_ms_checked(PG_GETARG_INTERVAL_P(4), "vt");
	}

	store = fetch_store_begin(fcinfo);
	q = delivery_query_begin(rsinfo->econtext->ecxt_per_query_memory,
							 topic->name, lease, lease_ms);
	(void) queue_read(topic, q, qty, pg_topics_deadline(wait_ms), store,
					  rsinfo->setDesc);
	return (Datum) 0;
}

/*
 * topics_internal._deliver(topic, partition, msg_offset) takes a message
 * that _consume reserved for the calling query, and returns true: consume
 * and receive call it as a row filter that lets every row through.
 */
Datum
pg_topics__deliver(PG_FUNCTION_ARGS)
{
	DeliveryQuery *q = fcinfo->flinfo->fn_extra;
	int32		partition;
	int64		offset;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("arguments of topics_internal._deliver() must not be null")));
	partition = PG_GETARG_INT32(1);
	offset = PG_GETARG_INT64(2);

	/* the read that handed the row out: the last one, most often */
	if (q == NULL || !delivery_query_holds(q, partition, offset))
	{
		char	   *topic = text_to_cstring(PG_GETARG_TEXT_PP(0));

		q = delivery_query_find(fcinfo->flinfo->fn_mcxt, topic, partition,
								offset);
		if (q == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("message %lld of partition %d of queue \"%s\" was not handed out by this query",
							(long long) offset, partition, topic),
					 errhint("Take queue messages with topics.consume() or topics.receive().")));
		fcinfo->flinfo->fn_extra = q;
	}
	delivery_take(q, partition, offset);
	PG_RETURN_BOOL(true);
}

typedef enum SettleKind
{
	SETTLE_ACK,
	SETTLE_NACK,
	SETTLE_EXTEND
} SettleKind;

static const char *const settle_call[] = {
	"topics.ack()", "topics.nack()", "topics.extend()"
};

/*
 * settle_find returns the slot of a window holding receipt, or NULL.
 * Caller holds the window lock.
 */
static DeliverySlot *
settle_find(QueueWindow *w, int64 receipt)
{
	int64		o;

	for (o = w->start; o < w->frontier && o < w->start + w->size; o++)
	{
		DeliverySlot *slot = window_slot(w, o);

		if (slot->receipt == receipt && slot->deliveries > 0)
			return slot;
	}
	return NULL;
}

/*
 * settle_one makes an ack, nack or extend of one delivery pending on this
 * transaction; until is when a nack makes the message visible again, or
 * when an extended lease ends.
 */
static void
settle_one(Topic *topic, SettleKind kind, int64 id, TimestampTz until,
		   FullTransactionId xid)
{
	int			partition = (int) (id >> DELIVERY_RECEIPT_BITS);
	int64		receipt = id & DELIVERY_RECEIPT_MASK;
	TimestampTz now = GetCurrentTimestamp();
	QueueWindow *w;
	DeliverySlot *slot;
	const char *problem = NULL;

	if (id <= 0 || partition >= topic->npartitions ||
		topic_partition_pending(topic, partition))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown delivery id %lld of queue \"%s\"",
						(long long) id, topic->name),
				 errhint("Delivery ids come from topics.receive().")));
	w = delivery_window(topic, partition);
	/* after a restart, the window meets its messages first */
	queue_window_meet(topic, w, partition);
	LWLockAcquire(&w->lock, LW_EXCLUSIVE);
	slot = settle_find(w, receipt);
	if (slot != NULL)
		delivery_settle(w, slot, now);
	if (slot == NULL)
		problem = "It is not in flight: it was acknowledged, or it was never received.";
	else if (FullTransactionIdIsValid(slot->xid) &&
			 !FullTransactionIdEquals(slot->xid, xid))
		problem = "Another transaction is receiving or settling it now.";
	else if (FullTransactionIdIsValid(slot->xid) &&
			 slot->pending == DELIVERY_DONE)
		problem = "This transaction acknowledged it already.";
	else if (!FullTransactionIdIsValid(slot->xid) &&
			 slot->state == DELIVERY_DONE)
		problem = "It was acknowledged already.";
	else if (!FullTransactionIdIsValid(slot->xid) &&
			 slot->state != DELIVERY_LEASED && kind != SETTLE_ACK)
		problem = "Its visibility timeout ran out: it may be delivered again.";
	else if (slot->reserver != 0)
		problem = "It was delivered again after its visibility timeout.";
	if (problem != NULL)
	{
		LWLockRelease(&w->lock);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s cannot settle delivery %lld of queue \"%s\"",
						settle_call[kind], (long long) id, topic->name),
				 errdetail("%s", problem)));
	}
	delivery_begin_change(w, slot, xid);
	slot->dead_letter = false;
	switch (kind)
	{
		case SETTLE_ACK:
			slot->pending = DELIVERY_DONE;
			break;
		case SETTLE_NACK:
			slot->pending = DELIVERY_AVAILABLE;
			slot->pending_at = until;
			break;
		case SETTLE_EXTEND:
			slot->pending = DELIVERY_LEASED;
			slot->pending_at = until;
			break;
	}
	LWLockRelease(&w->lock);
}

static int
datum_int64_cmp(const void *a, const void *b)
{
	int64		x = DatumGetInt64(*(const Datum *) a);
	int64		y = DatumGetInt64(*(const Datum *) b);

	return x < y ? -1 : x > y;
}

/*
 * settle runs an ack, nack or extend on each id of an array (once, if it
 * is there several times); returns how many it settled.
 */
static int32
settle(FunctionCallInfo fcinfo, SettleKind kind, TimestampTz until)
{
	Topic	   *topic;
	ArrayType  *ids;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	int32		settled = 0;
	FullTransactionId xid;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic and ids of %s must not be null", settle_call[kind])));
	topic = open_queue(PG_GETARG_TEXT_PP(0), settle_call[kind]);
	ids = PG_GETARG_ARRAYTYPE_P(1);
	deconstruct_array(ids, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("delivery ids must not be null")));
	/* each id once */
	qsort(elems, n, sizeof(Datum), datum_int64_cmp);
	xid = delivery_my_xid();
	/* a message received in this transaction is settled as leased */
	delivery_enter_takes();
	for (i = 0; i < n; i++)
	{
		if (i > 0 && DatumGetInt64(elems[i]) == DatumGetInt64(elems[i - 1]))
			continue;
		settle_one(topic, kind, DatumGetInt64(elems[i]), until, xid);
		settled++;
	}
	return settled;
}

/*
 * topics.ack(topic, ids) acknowledges received messages: done when the
 * transaction commits.
 */
Datum
pg_topics_ack(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(settle(fcinfo, SETTLE_ACK, 0));
}

/*
 * topics.nack(topic, ids, delay) gives received messages back, visible
 * again after delay once the transaction commits.
 */
Datum
pg_topics_nack(PG_FUNCTION_ARGS)
{
	int64		delay_ms = PG_ARGISNULL(2) ? 0 :
		interval_ms_checked(PG_GETARG_INTERVAL_P(2), "delay");

	PG_RETURN_INT32(settle(fcinfo, SETTLE_NACK, pg_topics_deadline(delay_ms)));
}

/*
 * topics.extend(topic, ids, vt) makes the leases of received messages end
 * vt from now.
 */
Datum
pg_topics_extend(PG_FUNCTION_ARGS)
{
	int64		vt_ms;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("vt of topics.extend() must not be null")));
	vt_ms = interval_ms_checked(PG_GETARG_INTERVAL_P(2), "vt");
	PG_RETURN_INT32(settle(fcinfo, SETTLE_EXTEND, pg_topics_deadline(vt_ms)));
}

/*
 * topics_internal.queue_info(topic) returns the delivery state of each
 * partition of a queue, from its window: the offsets below the LSO that are
 * not done (depth), those free now (visible), held (in flight), and
 * waiting for their time (delayed); dead letters; the timestamp of the
 * oldest message not done; and the rate at which messages are done.  It
 * reads the window, and of the messages only those the window had not met
 * yet (at most a window's) and the oldest one.  Beyond the window, depth
 * counts offsets: rolled-back ones there count until a read reaches them.
 */
Datum
pg_topics_queue_info(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Topic	   *topic;
	Tuplestorestate *store;
	int			p;

	topic = topic_open(topic_name_from_text(PG_GETARG_TEXT_PP(0)),
					   AccessShareLock);
	store = fetch_store_begin(fcinfo);
	if (topic->mode != TOPIC_MODE_QUEUE || RecoveryInProgress() ||
		pg_class_aclcheck(topic->relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return (Datum) 0;
	for (p = 0; p < topic->npartitions; p++)
	{
		PartitionBounds bounds;
		QueueWindow *w;
		Datum		values[11];
		bool		nulls[11] = {false};
		int64		depth;
		int64		in_flight = 0;
		int64		delayed = 0;
		int64		done = 0;
		int64		o;
		TimestampTz now = GetCurrentTimestamp();
		TimestampTz oldest = 0;
		bool		have_oldest = false;
		double		rate;
		uint64		total;

		if (topic_partition_pending(topic, p))
			continue;
		/* a view must not fail for want of room: shown once there is */
		w = delivery_window_if_room(topic, p, true);
		if (w == NULL)
			continue;
		queue_window_meet(topic, w, p);
		topic_bounds(topic, p, &bounds);
		LWLockAcquire(&w->lock, LW_EXCLUSIVE);
		delivery_advance_start(w);
		for (o = w->start; o < w->frontier; o++)
		{
			DeliverySlot *slot = window_slot(w, o);

			delivery_settle(w, slot, now);
			if (FullTransactionIdIsValid(slot->xid) || slot->reserver != 0 ||
				slot->state == DELIVERY_LEASED)
				in_flight++;
			else if (slot->state == DELIVERY_DONE)
				done++;
			else if (slot->at > now)
				delayed++;
		}
		depth = Max(bounds.lso - w->start - done, 0);
		/* the rate over the last minute, as a moving average */
		total = w->done_total;
		if (TimestampDifferenceExceeds(w->rate_at, now, 1000))
		{
			double		secs = (double) (now - w->rate_at) / USECS_PER_SEC;
			double		recent = (double) (total - w->rate_done) / secs;
			double		weight = Min(secs / 60.0, 1.0);

			w->rate = w->rate * (1.0 - weight) + recent * weight;
			w->rate_at = now;
			w->rate_done = total;
		}
		rate = w->rate;
		values[0] = Int32GetDatum(p);
		values[1] = Int64GetDatum(w->start);
		values[7] = Int64GetDatum(w->dead_lettered);
		LWLockRelease(&w->lock);

		if (w->start < bounds.lso)
		{
			FetchReader *reader = fetch_reader_begin(topic, p, w->start,
													 bounds.lso, 1);
			Datum		mv[Natts_message];
			bool		mn[Natts_message];

			if (fetch_reader_values(reader, mv, mn))
			{
				oldest = DatumGetTimestampTz(mv[Anum_message_timestamp - 1]);
				have_oldest = true;
			}
			fetch_reader_end(reader);
		}
		values[2] = Int64GetDatum(bounds.lso);
		values[3] = Int64GetDatum(depth);
		values[4] = Int64GetDatum(Max(depth - in_flight - delayed, 0));
		values[5] = Int64GetDatum(in_flight);
		values[6] = Int64GetDatum(delayed);
		values[8] = TimestampTzGetDatum(oldest);
		nulls[8] = !have_oldest;
		values[9] = Int64GetDatum((int64) total);
		values[10] = Float8GetDatum(rate);
		tuplestore_putvalues(store, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
