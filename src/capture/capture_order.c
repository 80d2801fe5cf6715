/*-------------------------------------------------------------------------
 *
 * capture_order.c
 *	  Events of statements nested in a statement on the same captured
 *	  table, held back until the enclosing statement has published its own.
 *
 * Statement triggers fire when their statement ends, and a statement run
 * from within another (by a row trigger of the table) ends first: an AFTER INSERT row trigger that updates the
 * inserted row would publish the update before the insert, and a consumer
 * would rebuild the row as inserted.  So a capture has BEFORE statement
 * triggers too, which note each statement of the captured tree as open,
 * with its command id; a statement that ends while one of the tree that
 * began at an earlier command is still open keeps its events here, and
 * the outermost one publishes its own, then those kept, in the order
 * kept.  Changes rolled back to a savepoint take their kept
 * events with them.  Events still kept when the transaction commits (an
 * AFTER trigger disabled by hand) are published then.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"

#include "capture/capture.h"
#include "log/topic.h"

/* A statement of a captured tree that has begun and not ended. */
typedef struct OpenStatement
{
	Oid			captured;
	CommandId	cid;			/* a statement run from within it has a
								 * later one; a part of the same query, the
								 * same */
	SubTransactionId subxid;
} OpenStatement;

/* The events of one statement, kept. */
typedef struct KeptEvents
{
	Oid			captured;
	SubTransactionId subxid;
	char	   *topic;
	int			n;
	ProduceMessage *msgs;
} KeptEvents;

static List *open_statements = NIL;
static List *kept = NIL;
static MemoryContext order_cxt = NULL;
static bool callbacks_registered = false;

static void
forget_all(void)
{
	open_statements = NIL;
	kept = NIL;
	order_cxt = NULL;			/* a child of TopTransactionContext: gone */
}

static void
order_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			/* what no enclosing statement published */
			while (kept != NIL)
				capture_produce_kept(((KeptEvents *) linitial(kept))->captured);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			forget_all();
			break;
	}
}

static void
order_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, open_statements)
			if (((OpenStatement *) lfirst(lc))->subxid == mySubid)
				((OpenStatement *) lfirst(lc))->subxid = parentSubid;
		foreach(lc, kept)
			if (((KeptEvents *) lfirst(lc))->subxid == mySubid)
				((KeptEvents *) lfirst(lc))->subxid = parentSubid;
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, open_statements)
			if (((OpenStatement *) lfirst(lc))->subxid == mySubid)
				open_statements = foreach_delete_current(open_statements, lc);
		foreach(lc, kept)
			if (((KeptEvents *) lfirst(lc))->subxid == mySubid)
				kept = foreach_delete_current(kept, lc);
	}
}

static MemoryContext
order_memory(void)
{
	if (!callbacks_registered)
	{
		RegisterXactCallback(order_xact_callback, NULL);
		RegisterSubXactCallback(order_subxact_callback, NULL);
		callbacks_registered = true;
	}
	if (order_cxt == NULL)
		order_cxt = AllocSetContextCreate(TopTransactionContext,
										  "pg_topics capture order",
										  ALLOCSET_DEFAULT_SIZES);
	return order_cxt;
}

/*
 * capture_statement_begin notes a statement of a captured tree as open.
 */
void
capture_statement_begin(Oid captured)
{
	MemoryContext old = MemoryContextSwitchTo(order_memory());
	OpenStatement *st = palloc(sizeof(OpenStatement));

	st->captured = captured;
	st->cid = GetCurrentCommandId(false);
	st->subxid = GetCurrentSubTransactionId();
	open_statements = lappend(open_statements, st);
	MemoryContextSwitchTo(old);
}

/*
 * capture_statement_end notes that a statement of a captured tree ended,
 * and tells whether it ran from within another of the tree, still open:
 * then its events are kept.  The parts of one query (a writable CTE) are
 * published as their triggers fire, in an order PostgreSQL chooses.
 */
bool
capture_statement_end(Oid captured)
{
	CommandId	cid = InvalidCommandId;
	ListCell   *lc;
	int			i;

	for (i = list_length(open_statements) - 1; i >= 0; i--)
	{
		OpenStatement *st = list_nth(open_statements, i);

		if (st->captured == captured)
		{
			cid = st->cid;
			open_statements = list_delete_nth_cell(open_statements, i);
			break;
		}
	}
	if (cid == InvalidCommandId)
		return false;
	foreach(lc, open_statements)
	{
		OpenStatement *st = lfirst(lc);

		if (st->captured == captured && st->cid < cid)
			return true;
	}
	return false;
}

static bytea *
copy_bytes(bytea *b)
{
	bytea	   *copy;

	if (b == NULL)
		return NULL;
	copy = palloc(VARSIZE(b));
	memcpy(copy, b, VARSIZE(b));
	return copy;
}

/*
 * capture_keep keeps n events of a statement, copied.
 */
void
capture_keep(Oid captured, const char *topic, ProduceMessage *msgs, int n)
{
	MemoryContext old = MemoryContextSwitchTo(order_memory());
	KeptEvents *k = palloc(sizeof(KeptEvents));
	int			i;

	k->captured = captured;
	k->subxid = GetCurrentSubTransactionId();
	k->topic = pstrdup(topic);
	k->n = n;
	k->msgs = palloc(sizeof(ProduceMessage) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		k->msgs[i] = msgs[i];
		k->msgs[i].key = copy_bytes(msgs[i].key);
		k->msgs[i].value = copy_bytes(msgs[i].value);
		if (msgs[i].headers)
			k->msgs[i].headers = PointerGetDatum(copy_bytes(DatumGetByteaP(msgs[i].headers)));
	}
	kept = lappend(kept, k);
	MemoryContextSwitchTo(old);
}

/*
 * capture_produce_kept produces the events kept for a captured tree, in
 * the order kept.
 */
void
capture_produce_kept(Oid captured)
{
	ListCell   *lc;

	foreach(lc, kept)
	{
		KeptEvents *k = lfirst(lc);
		Topic	   *topic;
		int			done;

		if (k->captured != captured)
			continue;
		kept = foreach_delete_current(kept, lc);
		topic = topic_open(k->topic, RowExclusiveLock);
		for (done = 0; done < k->n; done += CAPTURE_FLUSH_EVENTS)
			produce_messages(topic, k->msgs + done,
							 Min(CAPTURE_FLUSH_EVENTS, k->n - done), true);
	}
}
