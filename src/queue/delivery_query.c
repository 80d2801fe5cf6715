/*-------------------------------------------------------------------------
 *
 * delivery_query.c
 *	  The messages a query's consume or receive reserved, and their takes.
 *
 * topics.consume() and topics.receive() are SQL functions that the planner
 * inlines into the caller's query:
 *
 *		SELECT ... FROM topics_internal._consume(...) r
 *		 WHERE topics_internal._deliver(topic, r.partition, r.msg_offset)
 *
 * _consume reserves the slots of the messages it returns for the query (by
 * the query's memory, which its functions share), and _deliver, a filter
 * evaluated as the scan hands each row on, takes it: a cursor takes only
 * the rows it FETCHed, a plain SELECT every row it read.  A reservation
 * keeps other consumers off a message while the query may still hand it
 * out; it ends with the query's memory, or with the transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/memutils.h"

#include "queue/delivery_query.h"
#include "taking_loop.h"

/* The queries of this transaction that reserved messages. */
static dlist_head my_queries = DLIST_STATIC_INIT(my_queries);

/*
 * query_release gives back the reservations of a query that it did not
 * take, and wakes a waiting consumer for each.
 */
static void
query_release(DeliveryQuery *q)
{
	int32		me = MyProc->pgprocno + 1;
	int			i;

	if (q->ended)
		return;
	q->ended = true;
	dlist_delete(&q->node);
	for (i = 0; i < q->n; i++)
	{
		DeliveryReservation *r = &q->rows[i];
		DeliverySlot *slot;
		bool		freed = false;

		if (r->taken)
			continue;
		LWLockAcquire(&r->w->lock, LW_EXCLUSIVE);
		slot = window_slot(r->w, r->offset);
		if (slot->offset == r->offset && slot->reserver == me)
		{
			slot->reserver = 0;
			window_freed(r->w, r->offset);
			freed = true;
		}
		LWLockRelease(&r->w->lock);
		if (freed)
			delivery_wake(r->w, 1);
	}
}

static void
query_memory_gone(void *arg)
{
	query_release((DeliveryQuery *) arg);
}

/*
 * delivery_query_begin returns the reservations of the query whose memory
 * is query_cxt, for a consume (or, with lease, a receive of topic whose
 * leases last lease_ms from when the read finds the messages).
 */
DeliveryQuery *
delivery_query_begin(MemoryContext query_cxt, const char *topic, bool lease,
					 int64 lease_ms)
{
	DeliveryQuery *q = MemoryContextAllocZero(query_cxt, sizeof(DeliveryQuery));

	q->query_cxt = query_cxt;
	strlcpy(q->topic, topic, NAMEDATALEN);
	q->lease = lease;
	q->lease_ms = lease_ms;
	q->max = 16;
	q->rows = MemoryContextAlloc(query_cxt, sizeof(DeliveryReservation) * q->max);
	q->callback.func = query_memory_gone;
	q->callback.arg = q;
	MemoryContextRegisterResetCallback(query_cxt, &q->callback);
	dlist_push_tail(&my_queries, &q->node);
	return q;
}

/*
 * query_row returns the reservation of a message in q, or NULL.
 */
static DeliveryReservation *
query_row(DeliveryQuery *q, int partition, int64 offset)
{
	int			i;

	if (q->next < q->n && q->rows[q->next].partition == partition &&
		q->rows[q->next].offset == offset)
		return &q->rows[q->next];
	for (i = 0; i < q->n; i++)
		if (q->rows[i].partition == partition && q->rows[i].offset == offset)
			return &q->rows[i];
	return NULL;
}

/*
 * delivery_query_find returns the reservations of topic by the query whose
 * memory is query_cxt that hold a message, or NULL.  A query may read a
 * queue several times (a LATERAL call, once per outer row): the newest
 * read is looked at first.
 */
DeliveryQuery *
delivery_query_find(MemoryContext query_cxt, const char *topic,
					int partition, int64 offset)
{
	dlist_iter	iter;

	dlist_reverse_foreach(iter, &my_queries)
	{
		DeliveryQuery *q = dlist_container(DeliveryQuery, node, iter.cur);

		if (q->query_cxt == query_cxt && strcmp(q->topic, topic) == 0 &&
			query_row(q, partition, offset) != NULL)
			return q;
	}
	return NULL;
}

/*
 * delivery_query_holds returns whether q reserved a message.
 */
bool
delivery_query_holds(DeliveryQuery *q, int partition, int64 offset)
{
	return !q->ended && query_row(q, partition, offset) != NULL;
}

/*
 * delivery_query_room makes room in q for n more reservations, so that the
 * reservations made next stay where they are (callers keep pointers to
 * them) and none fails while a window is locked.
 */
void
delivery_query_room(DeliveryQuery *q, int n)
{
	if (q->n + n <= q->max)
		return;
	q->max = Max(q->max * 2, q->n + n);
	q->rows = repalloc(q->rows, sizeof(DeliveryReservation) * q->max);
}

/*
 * delivery_reserve reserves a slot for the query and returns its
 * reservation, or NULL when a receive ran out of receipts
 * (delivery_store_mark_receipts makes more).  Caller holds the window
 * lock exclusively, checked that no one holds the slot, and made room
 * (delivery_query_room).
 */
DeliveryReservation *
delivery_reserve(DeliveryQuery *q, QueueWindow *w, int partition,
				 DeliverySlot *slot)
{
	DeliveryReservation *r;

	Assert(LWLockHeldByMeInMode(&w->lock, LW_EXCLUSIVE));
	Assert(q->n < q->max);
	/* a receipt beyond the flushed mark could be handed out again */
	if (q->lease && w->next_receipt + 1 >= w->receipt_mark)
		return NULL;
	r = &q->rows[q->n++];
	r->w = w;
	r->partition = partition;
	r->offset = slot->offset;
	r->receipt = q->lease ? ++w->next_receipt : 0;
	r->lease_until = q->lease_until;
	r->taken = false;
	r->use = USE_HAND_OUT;
	slot->reserver = MyProc->pgprocno + 1;
	return r;
}

/*
 * delivery_take takes a message the query reserved, as a change pending on
 * this transaction: done once it commits, or, for a receive, leased (a
 * message dead-lettered or deferred is done, and not delivered).  A
 * message the query took already is left as it is (a cursor that moves
 * back hands a row out again).
 */
void
delivery_take(DeliveryQuery *q, int partition, int64 offset)
{
	DeliveryReservation *r = query_row(q, partition, offset);

	if (r == NULL || q->ended)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("message %lld of partition %d of topic \"%s\" was not handed out by this query",
						(long long) offset, partition, q->topic),
				 errhint("Take queue messages with topics.consume() or topics.receive().")));
	q->next = (r - q->rows) + 1;
	if (r->taken)
	{
		/*
		 * A cursor moved back over the row.  It is the query's still, unless
		 * a rollback to a savepoint gave it back: then another consumer, or
		 * another query of this transaction, may hold it now.
		 */
		if (!delivery_take_held(r->op))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("message %lld of partition %d of queue \"%s\" was given back",
							(long long) offset, partition, q->topic),
					 errdetail("A rollback to a savepoint gave back what the query took after it."),
					 errhint("Read the queue again with a new topics.consume() or topics.receive().")));
		return;
	}

	/* the commit needs the id; taken now, it does not make the commit wait */
	(void) delivery_my_xid();
	if (r->use != USE_HAND_OUT)
		r->op = delivery_record_take(r->w, offset, DELIVERY_DONE, 0, 0,
									 r->use == USE_DEAD_LETTER, false);
	else
		r->op = delivery_record_take(r->w, offset,
									 q->lease ? DELIVERY_LEASED : DELIVERY_DONE,
									 r->lease_until,
									 q->lease ? r->receipt : 0, false, true);
	r->taken = true;
	taking_loop_note(q->lease ? TAKING_RECEIVE : TAKING_CONSUME);
}

/*
 * queries_end gives back what the queries of this transaction reserved and
 * did not take, as the transaction ends.
 */
static void
queries_end(XactEvent event, void *arg)
{
	dlist_mutable_iter iter;

	if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PARALLEL_PRE_COMMIT &&
		event != XACT_EVENT_PRE_PREPARE && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_ABORT)
		return;
	dlist_foreach_modify(iter, &my_queries)
		query_release(dlist_container(DeliveryQuery, node, iter.cur));
	dlist_init(&my_queries);
}

/*
 * delivery_query_init installs the transaction callback; called from
 * _PG_init.
 */
void
delivery_query_init(void)
{
	RegisterXactCallback(queries_end, NULL);
}
