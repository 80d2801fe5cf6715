/*-------------------------------------------------------------------------
 *
 * capture_order.c
 *	  Events of statements nested in a statement on the same captured
 *	  table, held back until the enclosing statement has published its own.
 *
 * Statement triggers fire when their statement ends, and a statement run
 * from within another (by a row trigger of the table) ends first: an AFTER
 * INSERT row trigger that updates the inserted row would publish the
 * update before the insert, and a consumer would rebuild the row as
 * inserted.  So a capture has BEFORE statement
 * triggers too, which note each statement of the captured tree as open,
 * with its command id, and the executor's finish marks a query's
 * statements as having made their changes.  A statement that ends while
 * one of the tree that began at an earlier command and made its changes
 * is still open (it ran from that one's AFTER triggers) keeps its events
 * here; the enclosing statement publishes its own, then those.  One run
 * before the enclosing statement's changes (from a BEFORE trigger)
 * publishes at once.  Changes rolled back to a savepoint take their kept
 * events with them.  Events still kept when the transaction commits (an
 * AFTER trigger disabled by hand) are published then.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/executor.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "capture/capture.h"
#include "log/topic.h"

/* A statement of a captured tree that has begun and not ended. */
typedef struct OpenStatement
{
	Oid			captured;
	CommandId	cid;			/* a statement run from within it has a
								 * later one; a part of the same query, the
								 * same */
	bool		finished;		/* its changes are made: its AFTER triggers
								 * run */
	SubTransactionId subxid;
} OpenStatement;

/* The events of one statement, kept. */
typedef struct KeptEvents
{
	Oid			captured;
	CommandId	cid;
	SubTransactionId subxid;
	char	   *topic;
	int			n;
	ProduceMessage *msgs;
} KeptEvents;

static List *open_statements = NIL;
static List *kept = NIL;
static MemoryContext order_cxt = NULL;
static bool callbacks_registered = false;
static ExecutorFinish_hook_type prev_executor_finish = NULL;

static void produce_kept(Oid captured, CommandId after);

static void
forget_all(void)
{
	open_statements = NIL;
	kept = NIL;
	order_cxt = NULL;			/* a child of TopTransactionContext: gone */
}

/*
 * A query's changes are made when the executor finishes it: what its AFTER
 * triggers run from then on runs after them.
 */
static void
order_executor_finish(QueryDesc *queryDesc)
{
	EState	   *estate = queryDesc->estate;
	ListCell   *lc;

	/*
	 * The data-modifying statements of a WITH that are not done yet, first,
	 * as standard_ExecutorFinish would: their changes are the query's too.
	 * A query that reads only has no command id of its own (0, the first
	 * statement's): it marks nothing.
	 */
	if (estate->es_auxmodifytables != NIL)
	{
		MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
		ScanDirection direction = estate->es_direction;

		estate->es_direction = ForwardScanDirection;
		foreach(lc, estate->es_auxmodifytables)
		{
			PlanState  *ps = (PlanState *) lfirst(lc);

			for (;;)
			{
				TupleTableSlot *slot;

				ResetPerTupleExprContext(estate);
				slot = ExecProcNode(ps);
				if (TupIsNull(slot))
					break;
			}
		}
		estate->es_direction = direction;
		MemoryContextSwitchTo(old);
	}
	/*
	 * The statements of this query began at its command id, or later when
	 * a function of the query made the counter move on before a WITH
	 * statement ran; those of the queries it runs within, before.
	 */
	if (queryDesc->operation != CMD_SELECT || queryDesc->plannedstmt->hasModifyingCTE)
		foreach(lc, open_statements)
		{
			OpenStatement *st = lfirst(lc);

			if (st->cid >= estate->es_output_cid)
				st->finished = true;
		}
	if (prev_executor_finish)
		prev_executor_finish(queryDesc);
	else
		standard_ExecutorFinish(queryDesc);
}

/*
 * capture_order_init installs the executor hook; from _PG_init.
 */
void
capture_order_init(void)
{
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = order_executor_finish;
}

static void
order_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			/* what no enclosing statement published (a trigger disabled) */
			if (kept != NIL)
			{
				PushActiveSnapshot(GetTransactionSnapshot());
				while (kept != NIL)
					produce_kept(((KeptEvents *) linitial(kept))->captured,
								 FirstCommandId);
				PopActiveSnapshot();
			}
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
 * A TRUNCATE has no changes to make before its AFTER triggers that a
 * statement run from it could precede.  Its command id is marked used,
 * so that a statement run from within it gets a later one.
 */
void
capture_statement_begin(Oid captured, bool truncate)
{
	MemoryContext old = MemoryContextSwitchTo(order_memory());
	OpenStatement *st = palloc(sizeof(OpenStatement));

	st->captured = captured;
	st->cid = GetCurrentCommandId(true);
	st->finished = truncate;
	st->subxid = GetCurrentSubTransactionId();
	open_statements = lappend(open_statements, st);
	MemoryContextSwitchTo(old);
}

/*
 * capture_statement_end notes that a statement of a captured tree ended,
 * and returns what to do with its events:
 * - CAPTURE_KEEP: it ran from within another of the tree, after that one
 *   made its changes (from an AFTER trigger): its events wait for that
 *   one's;
 * - CAPTURE_PUBLISH: publish them;
 * - CAPTURE_PUBLISH_ALL: publish them, then those kept for the statements
 *   that ran from within it: it is the last part of its query to end.
 * The parts of one query (the INSERT and UPDATE of an INSERT ... ON
 * CONFLICT, a writable CTE) share a command id.
 */
CaptureEnd
capture_statement_end(Oid captured, CommandId *cid)
{
	ListCell   *lc;
	int			i;
	bool		sibling = false;

	*cid = InvalidCommandId;
	for (i = list_length(open_statements) - 1; i >= 0; i--)
	{
		OpenStatement *st = list_nth(open_statements, i);

		if (st->captured == captured)
		{
			*cid = st->cid;
			open_statements = list_delete_nth_cell(open_statements, i);
			pfree(st);
			break;
		}
	}
	if (*cid == InvalidCommandId)
		return CAPTURE_PUBLISH_ALL;
	foreach(lc, open_statements)
	{
		OpenStatement *st = lfirst(lc);

		if (st->captured != captured)
			continue;
		if (st->cid < *cid && st->finished)
			return CAPTURE_KEEP;
		if (st->cid == *cid)
			sibling = true;
	}
	return sibling ? CAPTURE_PUBLISH : CAPTURE_PUBLISH_ALL;
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
 * capture_keep keeps n events of a statement, copied: before those kept
 * for the statements that ran from within it, which come after it.
 */
void
capture_keep(Oid captured, CommandId cid, const char *topic,
			 ProduceMessage *msgs, int n)
{
	MemoryContext old = MemoryContextSwitchTo(order_memory());
	KeptEvents *k = palloc(sizeof(KeptEvents));
	ListCell   *lc;
	int			pos = list_length(kept);
	int			i;

	k->captured = captured;
	k->cid = cid;
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
	/* mostly the last: a statement ends after those it ran */
	if (kept != NIL && ((KeptEvents *) llast(kept))->cid > cid)
		foreach(lc, kept)
		{
			KeptEvents *other = lfirst(lc);

			if (other->captured == captured && other->cid > cid)
			{
				pos = foreach_current_index(lc);
				break;
			}
		}
	kept = list_insert_nth(kept, pos, k);
	MemoryContextSwitchTo(old);
}

static void
kept_free(KeptEvents *k)
{
	int			i;

	for (i = 0; i < k->n; i++)
	{
		if (k->msgs[i].key)
			pfree(k->msgs[i].key);
		if (k->msgs[i].value)
			pfree(k->msgs[i].value);
		if (k->msgs[i].headers)
			pfree(DatumGetPointer(k->msgs[i].headers));
	}
	pfree(k->msgs);
	pfree(k->topic);
	pfree(k);
}

/*
 * produce_kept produces, in the order kept, the events kept for a
 * captured tree of statements with a command id after the given one.
 */
static void
produce_kept(Oid captured, CommandId after)
{
	List	   *left = NIL;
	List	   *mine = NIL;
	ListCell   *lc;
	Topic	   *topic = NULL;
	MemoryContext old;

	foreach(lc, kept)
	{
		KeptEvents *k = lfirst(lc);

		if (k->captured == captured && k->cid >= after)
			break;
	}
	if (lc == NULL)
		return;

	/* in the order's memory: the list outlives this trigger's call */
	old = MemoryContextSwitchTo(order_memory());
	foreach(lc, kept)
	{
		KeptEvents *k = lfirst(lc);

		if (k->captured == captured && k->cid >= after)
			mine = lappend(mine, k);
		else
			left = lappend(left, k);
	}
	list_free(kept);
	kept = left;
	MemoryContextSwitchTo(old);
	foreach(lc, mine)
	{
		KeptEvents *k = lfirst(lc);
		int			done;

		if (topic == NULL || strcmp(topic->name, k->topic) != 0)
			topic = topic_open(k->topic, RowExclusiveLock);
		for (done = 0; done < k->n; done += CAPTURE_FLUSH_EVENTS)
			produce_messages(topic, k->msgs + done,
							 Min(CAPTURE_FLUSH_EVENTS, k->n - done), true);
		kept_free(k);
	}
	list_free(mine);
}

/*
 * capture_produce_kept produces the events kept for the statements that
 * ran from within one of command id cid.
 */
void
capture_produce_kept(Oid captured, CommandId cid)
{
	if (kept != NIL)
		produce_kept(captured, cid);
}
