/*-------------------------------------------------------------------------
 *
 * capture_trigger.c
 *	  The statement trigger of a captured table, and topics.snapshot().
 *
 * The trigger fires once per statement, AFTER it, and reads the
 * statement's rows from its transition tables: a 100,000-row UPDATE is
 * one trigger call and a hundred produce batches, not 100,000 calls.  Its
 * events are produced in the statement's transaction, so they commit with
 * the change or not at all, and a failure to produce fails the statement.
 *
 * topics.snapshot() reads the table under a SHARE lock, which waits for
 * the transactions writing it and holds off new writers until it commits.
 * Each writer's events are produced before it commits, so they all come
 * before the snapshot's read events, and every later change after them:
 * replayed in offset order, a key's events rebuild the table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_inherits.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

#include "capture/capture.h"
#include "capture/capture_setup.h"
#include "log/topic_tables.h"
#include "preload.h"

PG_FUNCTION_INFO_V1(pg_topics_capture_trigger);
PG_FUNCTION_INFO_V1(pg_topics_snapshot);

/*
 * transition_slot starts a read of a transition table, with a read
 * pointer of its own: other AFTER triggers of the statement share it.
 */
static TupleTableSlot *
transition_slot(Tuplestorestate *rows, Relation rel)
{
	int			ptr = tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND);

	tuplestore_select_read_pointer(rows, ptr);
	tuplestore_rescan(rows);
	return MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
}

static void
missing_transition_table(const char *trigger)
{
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("trigger \"%s\" has no transition table", trigger),
			 errhint("Use topics.capture() to set capture up; it makes the triggers.")));
}

/*
 * capture_updates adds the events of an UPDATE: its deletes and updates,
 * then its creates (see capture_batch_update).  The transition tables
 * hold an UPDATE's old and new rows in pairs, but for a row that moved to
 * another partition whose trigger then skipped the insert: its old row has
 * no new one.  Such a statement is published as the deletes of its old
 * rows, then the creates of its new ones.
 */
static void
capture_updates(CaptureBatch *batch, TriggerData *td, TupleTableSlot *before,
				TupleTableSlot *after)
{
	Tuplestorestate *olds = td->tg_oldtable;
	Tuplestorestate *news = td->tg_newtable;
	int64		n = tuplestore_tuple_count(news);
	bool	   *creates;
	int64		i;

	if (tuplestore_tuple_count(olds) != n)
	{
		while (tuplestore_gettupleslot(olds, true, false, before))
		{
			CHECK_FOR_INTERRUPTS();
			capture_batch_change(batch, CAPTURE_DELETE, before, NULL);
		}
		while (tuplestore_gettupleslot(news, true, false, after))
		{
			CHECK_FOR_INTERRUPTS();
			capture_batch_change(batch, CAPTURE_CREATE, NULL, after);
		}
		return;
	}
	creates = palloc0(sizeof(bool) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!tuplestore_gettupleslot(news, true, false, after) ||
			!tuplestore_gettupleslot(olds, true, false, before))
			elog(ERROR, "transition tables of %lld rows ended early", (long long) n);
		creates[i] = capture_batch_update(batch, before, after);
	}
	tuplestore_rescan(news);
	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!tuplestore_gettupleslot(news, true, false, after))
			elog(ERROR, "transition table of %lld rows ended early", (long long) n);
		if (creates[i])
			capture_batch_change(batch, CAPTURE_CREATE, NULL, after);
	}
	pfree(creates);
}

Datum
pg_topics_capture_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TriggerEvent event;
	CaptureRel *cr;
	CaptureBatch *batch;
	CaptureOp	op;
	TupleTableSlot *before = NULL;
	TupleTableSlot *after = NULL;
	CaptureEnd	end;
	CommandId	cid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("topics_internal.capture_trigger() was not called by a trigger")));
	event = td->tg_event;
	if (!TRIGGER_FIRED_FOR_STATEMENT(event) || TRIGGER_FIRED_INSTEAD(event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("topics_internal.capture_trigger() must fire for each statement"),
				 errhint("Use topics.capture() to set capture up; it makes the triggers.")));
	pg_topics_check_loaded();

	/* a table no longer captured (a detached partition) publishes nothing */
	cr = capture_rel(td->tg_relation);
	if (!cr->captured)
		return PointerGetDatum(NULL);
	if (TRIGGER_FIRED_BY_INSERT(event))
		op = CAPTURE_CREATE;
	else if (TRIGGER_FIRED_BY_UPDATE(event))
		op = CAPTURE_UPDATE;
	else if (TRIGGER_FIRED_BY_DELETE(event))
		op = CAPTURE_DELETE;
	else
		op = CAPTURE_TRUNCATE;
	if (!cr->opts.ops[op])
		return PointerGetDatum(NULL);

	/* one trigger per op and time, the one topics.capture() made */
	if (strcmp(td->tg_trigger->tgname,
			   TRIGGER_FIRED_BEFORE(event) ? capture_before_names[op] :
			   capture_trigger_names[op]) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" of table \"%s\" was not made by topics.capture()",
						td->tg_trigger->tgname, RelationGetRelationName(td->tg_relation)),
				 errhint("Drop it: topics.capture() makes the triggers that capture needs.")));

	if (TRIGGER_FIRED_BEFORE(event))
	{
		capture_statement_begin(cr->captured_relid, op == CAPTURE_TRUNCATE);
		return PointerGetDatum(NULL);
	}
	end = capture_statement_end(cr->captured_relid, &cid);

	if (op != CAPTURE_TRUNCATE && op != CAPTURE_DELETE)
	{
		if (td->tg_newtable == NULL)
			missing_transition_table(td->tg_trigger->tgname);
		after = transition_slot(td->tg_newtable, td->tg_relation);
	}
	if (op == CAPTURE_UPDATE || op == CAPTURE_DELETE)
	{
		if (td->tg_oldtable == NULL)
			missing_transition_table(td->tg_trigger->tgname);
		before = transition_slot(td->tg_oldtable, td->tg_relation);
	}

	batch = capture_batch_begin(cr, false, end, cid);
	if (op == CAPTURE_TRUNCATE)
		capture_batch_change(batch, op, NULL, NULL);
	else if (op == CAPTURE_UPDATE)
		capture_updates(batch, td, before, after);
	else
	{
		Tuplestorestate *rows = op == CAPTURE_CREATE ? td->tg_newtable : td->tg_oldtable;
		TupleTableSlot *slot = op == CAPTURE_CREATE ? after : before;

		while (tuplestore_gettupleslot(rows, true, false, slot))
		{
			CHECK_FOR_INTERRUPTS();
			capture_batch_change(batch, op, before, after);
		}
	}
	capture_batch_end(batch);
	if (before)
		ExecDropSingleTupleTableSlot(before);
	if (after)
		ExecDropSingleTupleTableSlot(after);
	return PointerGetDatum(NULL);
}

/*
 * snapshot_table produces the rows of one table of the captured tree that
 * holds them, as read events.
 */
static int64
snapshot_table(Oid relid, Snapshot snap)
{
	Relation	rel = table_open(relid, NoLock);
	CaptureRel *cr = capture_rel(rel);
	CaptureBatch *batch = capture_batch_begin(cr, true, CAPTURE_PUBLISH,
											  InvalidCommandId);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	TableScanDesc scan = table_beginscan(rel, snap, 0, NULL);
	int64		produced;

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		CHECK_FOR_INTERRUPTS();
		capture_batch_change(batch, CAPTURE_READ, NULL, slot);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	produced = capture_batch_end(batch);
	table_close(rel, NoLock);
	return produced;
}

/*
 * topics.snapshot(relation) produces the captured table's rows as read
 * events, and returns how many.
 */
Datum
pg_topics_snapshot(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel;
	CaptureRel *cr;
	List	   *tables;
	ListCell   *lc;
	Snapshot	snap;
	int64		produced = 0;

	pg_topics_check_loaded();
	PreventCommandIfReadOnly("topics.snapshot()");
	PreventCommandDuringRecovery("topics.snapshot()");

	rel = capture_open_owned(relid, ShareLock);
	cr = capture_rel(rel);
	if (!cr->captured || cr->captured_relid != relid)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s is not captured",
						quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												   RelationGetRelationName(rel))),
				 cr->captured ?
				 errdetail("It is a partition of captured table %s.",
						   quote_qualified_identifier(cr->schema, cr->table)) :
				 errhint("Set capture up first with topics.capture().")));

	/*
	 * The SHARE locks wait for every writer, and the latest snapshot, taken
	 * after them, sees what they committed, in any isolation level.
	 */
	tables = find_all_inheritors(relid, ShareLock, NULL);
	snap = RegisterSnapshot(GetLatestSnapshot());
	foreach(lc, tables)
	{
		Oid			table = lfirst_oid(lc);

		if (RELKIND_HAS_STORAGE(get_rel_relkind(table)))
			produced += snapshot_table(table, snap);
	}
	UnregisterSnapshot(snap);
	capture_snapshot_done(relid);
	table_close(rel, NoLock);
	PG_RETURN_INT64(produced);
}
