/*-------------------------------------------------------------------------
 *
 * capture_event.c
 *	  Events made of a statement's changes, produced in batches.
 *
 * An event's key is its key columns as a JSON object, written the same
 * way every time, so that one row always routes to one partition and its
 * events keep their order.  Its value is the change: plain JSON, or
 * Debezium's envelope for its consumers.  Its headers name the table and
 * the operation.  Events go to produce_messages() a thousand at a time,
 * the batch path of produce_batch(), in the transaction of the change.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "capture/capture.h"
#include "log/topic.h"
#include "pg_topics.h"

/* Events one row makes, at most: a delete, its tombstone, a create. */
#define CAPTURE_ROW_EVENTS		3

/*
 * The memory of the events of a batch: a thousand events of a few hundred
 * bytes.  A context made and freed per statement gave that memory back to
 * malloc, and the kernel, every time (see produce.c); this one keeps its
 * first block for the life of the backend and is reset after each flush.
 */
#define EVENTS_MEMORY		(512 * 1024)

static MemoryContext events_context = NULL;

/* The transaction nest level of the batch using it, 0 when free. */
static int	events_context_level = 0;

/*
 * A batch that an error ended gives the context back when its
 * (sub)transaction aborts.
 */
static void
events_xact_abort(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		events_context_level = 0;
}

static void
events_subxact_abort(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB &&
		events_context_level >= GetCurrentTransactionNestLevel())
		events_context_level = 0;
}

struct CaptureBatch
{
	CaptureRel *cr;
	Topic	   *topic;
	bool		snapshot;
	CaptureEnd	end;			/* what to do with its events, and with
								 * those kept (capture_order.c) */
	CommandId	cid;			/* of its statement */
	TimestampTz ts;
	char	   *source;			/* Debezium's source block, or the plain
								 * value's trailing fields */
	StringInfoData buf;			/* where keys and values are written */
	ExprState  *filter;
	EState	   *estate;
	MemoryContext events_cxt;	/* the events not produced yet */
	bool		own_cxt;		/* events_cxt is not events_context */
	ProduceMessage *msgs;		/* grown as needed: most statements are
								 * one row */
	int			maxmsgs;
	int			nmsgs;
	int64		produced;
	ErrorContextCallback errcb;
};

static void
batch_error_context(void *arg)
{
	CaptureBatch *batch = arg;

	errcontext("publishing changes of table %s to topic \"%s\"",
			   quote_qualified_identifier(batch->cr->schema, batch->cr->table),
			   batch->cr->topic);
}

/*
 * source_fields writes what every event of the batch says about where it
 * comes from: Debezium's source block, or the plain value's own fields.
 */
static char *
source_fields(CaptureBatch *batch)
{
	CaptureRel *cr = batch->cr;
	StringInfoData s;
	int64		ts_ms = (batch->ts / 1000) +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
	uint64		txid = U64FromFullTransactionId(GetTopFullTransactionId());

	initStringInfo(&s);
	if (cr->opts.debezium)
	{
		appendStringInfoString(&s, "\"source\":{\"version\":\"" CAPTURE_FORMAT_VERSION "\",\"connector\":\"pg_topics\",\"name\":");
		escape_json(&s, cr->topic);
		appendStringInfo(&s, ",\"ts_ms\":" INT64_FORMAT ",\"snapshot\":\"%s\",\"db\":",
						 ts_ms, batch->snapshot ? "true" : "false");
		escape_json(&s, get_database_name(MyDatabaseId));
		appendStringInfoString(&s, ",\"schema\":");
		escape_json(&s, cr->schema);
		appendStringInfoString(&s, ",\"table\":");
		escape_json(&s, cr->table);
		appendStringInfo(&s, ",\"txId\":" UINT64_FORMAT ",\"lsn\":null}"
						 ",\"ts_ms\":" INT64_FORMAT "}}", txid, ts_ms);
	}
	else
		appendStringInfo(&s, ",\"txid\":" UINT64_FORMAT ",\"ts_ms\":" INT64_FORMAT "}",
						 txid, ts_ms);
	return s.data;
}

/*
 * capture_batch_begin opens the captured table's topic for the events of
 * one statement (or one table of a snapshot).  Events are produced as the
 * captured table's owner, who set the capture up: writers of the table
 * need no privilege on the topic.
 */
CaptureBatch *
capture_batch_begin(CaptureRel *cr, bool snapshot, CaptureEnd end,
					CommandId cid)
{
	CaptureBatch *batch = palloc0(sizeof(CaptureBatch));

	cr->pins++;

	batch->maxmsgs = 2 * CAPTURE_ROW_EVENTS;
	batch->msgs = palloc(sizeof(ProduceMessage) * batch->maxmsgs);

	batch->cr = cr;
	batch->snapshot = snapshot;
	batch->end = end;
	batch->cid = cid;
	batch->errcb.callback = batch_error_context;
	batch->errcb.arg = batch;
	batch->errcb.previous = error_context_stack;
	error_context_stack = &batch->errcb;

	batch->topic = topic_open(cr->topic, RowExclusiveLock);
	if (pg_class_aclcheck(batch->topic->relid, cr->owner, ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for topic \"%s\"", cr->topic),
				 errdetail("The changes of table %s are produced as its owner, %s, who needs the INSERT privilege on table %s.",
						   quote_qualified_identifier(cr->schema, cr->table),
						   GetUserNameFromId(cr->owner, false),
						   quote_qualified_identifier(TOPICS_DATA_SCHEMA, cr->topic)),
				 errhint("The topic's owner can run GRANT INSERT ON %s TO %s.",
						 quote_qualified_identifier(TOPICS_DATA_SCHEMA, cr->topic),
						 quote_identifier(GetUserNameFromId(cr->owner, false)))));
	batch->ts = GetCurrentTimestamp();
	batch->source = source_fields(batch);
	initStringInfo(&batch->buf);
	if (cr->filter)
	{
		batch->estate = CreateExecutorState();
		batch->filter = ExecPrepareExpr(cr->filter, batch->estate);
	}
	/* a batch within a batch (a filter's function that writes) has its own */
	batch->own_cxt = events_context_level != 0;
	if (batch->own_cxt)
		batch->events_cxt = AllocSetContextCreate(CurrentMemoryContext,
												  "pg_topics nested capture events",
												  ALLOCSET_DEFAULT_SIZES);
	else
	{
		if (events_context == NULL)
		{
			events_context = AllocSetContextCreate(TopMemoryContext,
												   "pg_topics capture events",
												   EVENTS_MEMORY, EVENTS_MEMORY,
												   ALLOCSET_DEFAULT_MAXSIZE);
			RegisterXactCallback(events_xact_abort, NULL);
			RegisterSubXactCallback(events_subxact_abort, NULL);
		}
		MemoryContextReset(events_context);
		batch->events_cxt = events_context;
		events_context_level = GetCurrentTransactionNestLevel();
	}
	return batch;
}

static bool
passes_filter(CaptureBatch *batch, TupleTableSlot *slot)
{
	ExprContext *econtext;
	Datum		result;
	bool		isnull;

	if (batch->filter == NULL)
		return true;
	econtext = GetPerTupleExprContext(batch->estate);
	econtext->ecxt_scantuple = slot;
	result = ExecEvalExprSwitchContext(batch->filter, econtext, &isnull);
	ResetExprContext(econtext);
	return !isnull && DatumGetBool(result);
}

/*
 * event_bytes returns what batch->buf holds as a bytea of its UTF-8
 * bytes, as produce() stores text.
 */
static bytea *
event_bytes(CaptureBatch *batch)
{
	return produce_utf8_bytes(batch->buf.data, batch->buf.len, NULL);
}

static bytea *
event_key(CaptureBatch *batch, TupleTableSlot *slot)
{
	if (batch->cr->nkeys == 0)
		return NULL;
	resetStringInfo(&batch->buf);
	encode_row(&batch->buf, batch->cr, slot, true);
	return event_bytes(batch);
}

static void
row_image(StringInfo s, CaptureBatch *batch, TupleTableSlot *slot)
{
	if (slot == NULL)
		appendStringInfoString(s, "null");
	else
		encode_row(s, batch->cr, slot, false);
}

static bytea *
event_value(CaptureBatch *batch, CaptureOp op, TupleTableSlot *before,
			TupleTableSlot *after)
{
	StringInfo	s = &batch->buf;

	if (!batch->cr->opts.before)
		before = NULL;
	resetStringInfo(&batch->buf);
	appendStringInfoString(s, batch->cr->value_prefix[op]);
	row_image(s, batch, before);
	appendStringInfoString(s, ",\"after\":");
	row_image(s, batch, after);
	if (batch->cr->opts.debezium)
		appendStringInfo(s, ",\"op\":\"%c\",", CAPTURE_OP_LETTERS[op]);
	appendStringInfoString(s, batch->source);
	return event_bytes(batch);
}

static void
flush(CaptureBatch *batch)
{
	int			i;

	if (batch->nmsgs == 0)
		return;
	for (i = 0; i < batch->nmsgs; i++)
		produce_check_message(batch->topic, &batch->msgs[i]);
	if (batch->end == CAPTURE_KEEP)
		capture_keep(batch->cr->captured_relid, batch->cid, batch->cr->topic,
					 batch->msgs, batch->nmsgs);
	else
		produce_messages(batch->topic, batch->msgs, batch->nmsgs, true);
	batch->produced += batch->nmsgs;
	batch->nmsgs = 0;
	MemoryContextReset(batch->events_cxt);
}

/*
 * next_msg returns room for one more event; capture_batch_change flushes
 * before a row, so a row's events always fit in the largest array.
 */
static ProduceMessage *
next_msg(CaptureBatch *batch)
{
	if (batch->nmsgs == batch->maxmsgs)
	{
		batch->maxmsgs = Min(2 * batch->maxmsgs,
							 CAPTURE_FLUSH_EVENTS + CAPTURE_ROW_EVENTS);
		batch->msgs = repalloc(batch->msgs, sizeof(ProduceMessage) * batch->maxmsgs);
	}
	Assert(batch->nmsgs < batch->maxmsgs);
	return &batch->msgs[batch->nmsgs++];
}

static int
add_event(CaptureBatch *batch, CaptureOp op, bytea *key,
		  TupleTableSlot *before, TupleTableSlot *after)
{
	int			event = batch->nmsgs;
	ProduceMessage *msg;

	msg = next_msg(batch);
	msg->partition = -1;
	msg->key = key;
	msg->value = event_value(batch, op, before, after);
	msg->headers = batch->cr->headers[op];
	msg->timestamp = batch->ts;

	/* Debezium's tombstone, for compaction to forget the key */
	if (op == CAPTURE_DELETE && batch->cr->opts.tombstones && key != NULL)
	{
		msg = next_msg(batch);
		msg->partition = -1;
		msg->key = key;
		msg->value = NULL;
		msg->headers = batch->cr->headers[op];
		msg->timestamp = batch->ts;
	}
	return event;
}

/*
 * begin_row flushes the events made so far, before a row's are made, and
 * switches to the events' memory.
 */
static MemoryContext
begin_row(CaptureBatch *batch)
{
	if (batch->nmsgs >= CAPTURE_FLUSH_EVENTS)
		flush(batch);
	return MemoryContextSwitchTo(batch->events_cxt);
}

/*
 * capture_batch_change adds the event of one inserted (c), deleted (d) or
 * read (r) row, if it passes the filter, or of a TRUNCATE (t), which goes
 * to every partition: each partition's consumers must see it.
 */
void
capture_batch_change(CaptureBatch *batch, CaptureOp op,
					 TupleTableSlot *before, TupleTableSlot *after)
{
	MemoryContext old = begin_row(batch);

	if (op == CAPTURE_TRUNCATE)
	{
		int			p;

		for (p = 0; p < batch->topic->npartitions; p++)
		{
			if (batch->nmsgs >= CAPTURE_FLUSH_EVENTS)
				flush(batch);
			batch->msgs[add_event(batch, op, NULL, NULL, NULL)].partition = p;
		}
	}
	else if (op == CAPTURE_DELETE)
	{
		if (passes_filter(batch, before))
			add_event(batch, op, event_key(batch, before), before, NULL);
	}
	else if (passes_filter(batch, after))
		add_event(batch, op, event_key(batch, after), NULL, after);
	MemoryContextSwitchTo(old);
}

/*
 * capture_batch_update adds the events of one updated row but its creates,
 * and tells whether it has one: the caller adds the creates of a
 * statement after all its deletes, so that a statement that swaps two
 * keys deletes each before creating it again.  The filter decides as a
 * publication's row filter does: an update whose row leaves the filter is
 * a delete, one whose row enters it a create.  An update that changes the
 * key is a delete of the old key and a create of the new one, each on its
 * key's partition.
 */
bool
capture_batch_update(CaptureBatch *batch, TupleTableSlot *before,
					 TupleTableSlot *after)
{
	MemoryContext old = begin_row(batch);
	bool		before_in = passes_filter(batch, before);
	bool		after_in = passes_filter(batch, after);
	bool		create = after_in;

	if (before_in && after_in)
	{
		bytea	   *old_key = event_key(batch, before);
		bytea	   *new_key = event_key(batch, after);

		if (old_key == NULL ||
			(VARSIZE(old_key) == VARSIZE(new_key) &&
			 memcmp(old_key, new_key, VARSIZE(old_key)) == 0))
		{
			add_event(batch, CAPTURE_UPDATE, new_key, before, after);
			create = false;
		}
		else
			add_event(batch, CAPTURE_DELETE, old_key, before, NULL);
	}
	else if (before_in)
		add_event(batch, CAPTURE_DELETE, event_key(batch, before), before, NULL);
	MemoryContextSwitchTo(old);
	return create;
}

/*
 * capture_batch_end produces the events left, and returns how many the
 * batch produced.
 */
int64
capture_batch_end(CaptureBatch *batch)
{
	int64		produced;

	flush(batch);
	/* the events of statements run from within this one come after it */
	if (batch->end == CAPTURE_PUBLISH_ALL)
		capture_produce_kept(batch->cr->captured_relid, batch->cid);
	produced = batch->produced;
	if (batch->estate)
		FreeExecutorState(batch->estate);
	if (batch->own_cxt)
		MemoryContextDelete(batch->events_cxt);
	else
	{
		MemoryContextReset(batch->events_cxt);
		events_context_level = 0;
	}
	error_context_stack = batch->errcb.previous;
	pfree(batch->source);
	pfree(batch->buf.data);
	batch->cr->pins--;
	pfree(batch->msgs);
	pfree(batch);
	return produced;
}
