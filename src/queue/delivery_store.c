/*-------------------------------------------------------------------------
 *
 * delivery_store.c
 *	  The delivery state of queue partitions on disk: topics.queue_partition
 *	  and topics.queue_delivery, loaded into the windows and written in
 *	  place.
 *
 * Both tables get their rows with the partition and are never updated by
 * a transaction: every change overwrites a row in place (one WAL record,
 * as a sequence is written), so that they keep their size whatever
 * snapshot is held open, and VACUUM has nothing to do in them.  A slot's
 * row names the transaction whose change it holds (xid); the commit log
 * decides whether the change counts, as it decides whether a heap tuple
 * does.  A change is written before its transaction's commit record, so
 * the record's durability covers it, and a write of the start follows the
 * commits of everything below it in the WAL.
 *
 * A slot's row is reused for the offset one window above.  Before it is,
 * the start written in topics.queue_partition passes the old offset, so
 * that a crash cannot make a done message look undelivered.
 *
 * A restored dump (or a pg_upgrade) brings rows written by another server
 * or in another database (system_id, database_oid), copied as they were
 * when the dump read them, not as of its snapshot: see load_slot for how
 * a load makes them safe.  A row keeps the id of the transaction that made
 * its state, settled or not, for that.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "queue/delivery_store.h"
#include "relids.h"

#define Anum_qp_topic			1
#define Anum_qp_partition		2
#define Anum_qp_start			3
#define Anum_qp_dead_lettered	4
#define Anum_qp_system_id		5
#define Anum_qp_receipt_mark	6
#define Anum_qp_database		7
#define Anum_qp_created_by		8
#define Natts_qp				8

/*
 * The pending column of a row whose change counted: its xid names the
 * transaction that made its state (a dump tells by it whether the state
 * is older than the dump's snapshot).
 */
#define PENDING_SETTLED			(-1)

/* Receipts the mark runs ahead of the need. */
#define RECEIPTS_AHEAD			4096

/*
 * Receipts a restored window skips: the database it was dumped from may
 * have handed out receipts after the dump read the mark.
 */
#define RESTORED_RECEIPTS_SKIPPED	(INT64CONST(1) << 32)

#define Anum_qd_topic			1
#define Anum_qd_partition		2
#define Anum_qd_slot			3
#define Anum_qd_offset			4
#define Anum_qd_state			5
#define Anum_qd_at				6
#define Anum_qd_deliveries		7
#define Anum_qd_receipt			8
#define Anum_qd_xid				9
#define Anum_qd_pending			10
#define Anum_qd_pending_at		11
#define Natts_qd				11

/*
 * store_damaged raises 55000 for a queue partition whose rows are not as
 * pg_topics made them.
 */
static void
store_damaged(const char *topic, int partition, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the delivery state of partition %d of queue \"%s\" is damaged",
					partition, topic),
			 errdetail("%s", what),
			 errhint("The catalog of pg_topics changes only through its functions.")));
}

/*
 * find_row returns a copy of the row of rel (by its primary key index)
 * whose key is the topic, the partition and, unless slot is negative, the
 * slot; or NULL.
 */
static HeapTuple
find_row(Relation rel, Oid index, const char *topic, int partition, int slot)
{
	ScanKeyData keys[3];
	SysScanDesc scan;
	HeapTuple	tup;

	pgt_key_name(&keys[0], 1, topic);
	pgt_key_int4(&keys[1], 2, partition);
	if (slot >= 0)
		pgt_key_int4(&keys[2], 3, slot);
	scan = systable_beginscan(rel, index, true, SnapshotSelf,
							  slot >= 0 ? 3 : 2, keys);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		tup = heap_copytuple(tup);
	systable_endscan(scan);
	return tup;
}

/*
 * write_partition_row overwrites the row of w's partition with its start,
 * its count of dead letters, this server's id and its receipt mark.
 * Caller holds write_lock.
 */
static void
write_partition_row(QueueWindow *w, Relation rel, int64 start,
					int64 dead_lettered, int64 receipt_mark)
{
	HeapTuple	tup = find_row(rel, pgt_relid(PGT_QUEUE_PARTITION_PKEY),
							   w->topic, w->partition, -1);
	Datum		values[Natts_qp] = {0};
	bool		nulls[Natts_qp] = {false};
	bool		replace[Natts_qp] = {false};
	HeapTuple	newtup;

	Assert(LWLockHeldByMeInMode(&w->write_lock, LW_EXCLUSIVE));
	if (tup == NULL)
		store_damaged(w->topic, w->partition,
					  "Its row of topics.queue_partition is missing.");
	values[Anum_qp_start - 1] = Int64GetDatum(start);
	values[Anum_qp_dead_lettered - 1] = Int64GetDatum(dead_lettered);
	values[Anum_qp_system_id - 1] = Int64GetDatum((int64) GetSystemIdentifier());
	values[Anum_qp_receipt_mark - 1] = Int64GetDatum(receipt_mark);
	replace[Anum_qp_receipt_mark - 1] = true;
	values[Anum_qp_database - 1] = ObjectIdGetDatum(MyDatabaseId);
	replace[Anum_qp_database - 1] = true;
	/* the row is this database's own from now on */
	values[Anum_qp_created_by - 1] =
		TransactionIdGetDatum(HeapTupleHeaderGetRawXmin(tup->t_data));
	replace[Anum_qp_created_by - 1] = true;
	replace[Anum_qp_start - 1] = true;
	replace[Anum_qp_dead_lettered - 1] = true;
	replace[Anum_qp_system_id - 1] = true;
	newtup = heap_modify_tuple(tup, RelationGetDescr(rel), values, nulls, replace);
	heap_inplace_update(rel, newtup);
	heap_freetuple(newtup);
	heap_freetuple(tup);
}

/*
 * write_slot_row overwrites the row of slot k of w's partition with a copy
 * of a slot.  Caller holds write_lock.
 *
 * The row lies where the load found it, as long as the table keeps its
 * file: rows are only ever overwritten in place, and only a rewrite of the
 * whole table (VACUUM FULL, CLUSTER) moves them, which gives it a new
 * file (rows_file_check).  Then each row is looked up by its key again.
 * Caller holds write_lock: shared is enough, as no one else writes the
 * row of a slot while a change of this transaction is pending on it.
 */
static void
write_slot_row(QueueWindow *w, Relation rel, int k, const DeliverySlot *slot)
{
	Datum		values[Natts_qd] = {0};
	bool		nulls[Natts_qd] = {false};
	bool		replace[Natts_qd] = {false};
	HeapTuple	tup = NULL;
	HeapTuple	newtup;
	int			i;

	Assert(LWLockHeldByMe(&w->write_lock));
	Assert(RelFileNodeEquals(rel->rd_node, w->rows_file));
	values[Anum_qd_offset - 1] = Int64GetDatum(slot->offset);
	values[Anum_qd_state - 1] = Int16GetDatum(slot->state);
	values[Anum_qd_at - 1] = TimestampTzGetDatum(slot->at);
	values[Anum_qd_deliveries - 1] = Int32GetDatum(slot->deliveries);
	values[Anum_qd_receipt - 1] = Int64GetDatum(slot->receipt);
	if (FullTransactionIdIsValid(slot->xid))
	{
		values[Anum_qd_xid - 1] = FullTransactionIdGetDatum(slot->xid);
		values[Anum_qd_pending - 1] = Int16GetDatum(slot->pending);
	}
	else
	{
		values[Anum_qd_xid - 1] = FullTransactionIdGetDatum(slot->made_by);
		values[Anum_qd_pending - 1] = Int16GetDatum(PENDING_SETTLED);
	}
	values[Anum_qd_pending_at - 1] = TimestampTzGetDatum(slot->pending_at);

	if (ItemPointerIsValid(&w->rows[k]))
	{
		/* the key columns as they are: the tuple is the same length */
		values[Anum_qd_topic - 1] = CStringGetTextDatum(w->topic);
		values[Anum_qd_partition - 1] = Int32GetDatum(w->partition);
		values[Anum_qd_slot - 1] = Int32GetDatum(k);
		newtup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
		newtup->t_self = w->rows[k];
	}
	else
	{
		tup = find_row(rel, pgt_relid(PGT_QUEUE_DELIVERY_PKEY),
					   w->topic, w->partition, k);
		if (tup == NULL)
			store_damaged(w->topic, w->partition,
						  psprintf("Its row of topics.queue_delivery for slot %d is missing.", k));
		/* (a writer in shared mode may set it too, to the same place) */
		w->rows[k] = tup->t_self;
		for (i = Anum_qd_offset; i <= Natts_qd; i++)
			replace[i - 1] = true;
		newtup = heap_modify_tuple(tup, RelationGetDescr(rel), values, nulls, replace);
		heap_freetuple(tup);
	}
	heap_inplace_update(rel, newtup);
	heap_freetuple(newtup);
}

/*
 * rows_file_check forgets where a window's rows lie if topics.queue_delivery
 * has a new file (VACUUM FULL, CLUSTER rewrote it).  Caller holds
 * write_lock exclusively.
 */
static void
rows_file_check(QueueWindow *w, Relation rel)
{
	int			i;

	Assert(LWLockHeldByMeInMode(&w->write_lock, LW_EXCLUSIVE));
	if (RelFileNodeEquals(rel->rd_node, w->rows_file))
		return;
	for (i = 0; i < QUEUE_WINDOW_MAX; i++)
		ItemPointerSetInvalid(&w->rows[i]);
	w->rows_file = rel->rd_node;
}

/*
 * delivery_store_write writes the slots of the given offsets of w to their
 * rows, moving the written start first where a row is reused.  ready, if
 * not NULL, makes the caller's last changes to the slots just before they
 * are copied, under the same lock.  Caller holds no window lock.
 */
void
delivery_store_write(QueueWindow *w, const int64 *offsets, int n,
					 DeliveryStoreReady ready, void *arg)
{
	Relation	slots_rel;
	Relation	part_rel;
	DeliverySlot *copies = palloc(sizeof(DeliverySlot) * n);
	int64		top = -1;
	int64		start;
	int64		dead_lettered;
	LWLockMode	mode;
	int			i;

	for (i = 0; i < n; i++)
		top = Max(top, offsets[i]);
	part_rel = table_open(pgt_relid(PGT_QUEUE_PARTITION), RowExclusiveLock);
	slots_rel = table_open(pgt_relid(PGT_QUEUE_DELIVERY), RowExclusiveLock);

	/*
	 * Consumers of a partition write their slots' rows side by side; the
	 * start, and the places of the rows after a rewrite, one at a time.
	 */
	mode = LW_SHARED;
	for (;;)
	{
		LWLockAcquire(&w->write_lock, mode);
		if (mode == LW_EXCLUSIVE ||
			(top - w->size < w->start_written &&
			 RelFileNodeEquals(slots_rel->rd_node, w->rows_file)))
			break;
		LWLockRelease(&w->write_lock);
		mode = LW_EXCLUSIVE;
	}

	/*
	 * A row written with a transaction's id is rewritten by the worker once
	 * the transaction ended (delivery_store_settle, which waits for
	 * write_lock).
	 */
	LWLockAcquire(&w->lock, LW_EXCLUSIVE);
	if (ready != NULL)
		ready(w, arg);
	for (i = 0; i < n; i++)
	{
		DeliverySlot *slot = window_slot(w, offsets[i]);

		copies[i] = *slot;
		if (slot->offset == offsets[i] && FullTransactionIdIsValid(slot->xid))
			slot->row_stale = true;
	}
	start = w->start;
	dead_lettered = w->dead_lettered;
	LWLockRelease(&w->lock);

	if (mode == LW_EXCLUSIVE)
	{
		rows_file_check(w, slots_rel);
		if (top - w->size >= w->start_written)
		{
			write_partition_row(w, part_rel, start, dead_lettered, w->receipt_mark);
			w->start_written = start;
			w->dead_lettered_written = dead_lettered;
		}
	}
	for (i = 0; i < n; i++)
		if (copies[i].offset == offsets[i])
			write_slot_row(w, slots_rel, (int) (offsets[i] % w->size), &copies[i]);
	table_close(slots_rel, RowExclusiveLock);
	table_close(part_rel, RowExclusiveLock);
	LWLockRelease(&w->write_lock);
	pfree(copies);
}

/*
 * delivery_store_settle writes a window's start where it moved on, and
 * rewrites the rows that still name a transaction that ended, so that no
 * row keeps a transaction id the commit log may forget, and those that miss
 * a delivery a rollback counted, so that a message whose consumers keep
 * failing ends as a dead letter across a restart too; returns the start as
 * written.  The database worker runs it every round, after moving the
 * start (delivery_advance_start).
 */
int64
delivery_store_settle(QueueWindow *w)
{
	Relation	slots_rel;
	Relation	part_rel;
	DeliverySlot *copies = palloc(sizeof(DeliverySlot) * QUEUE_WINDOW_MAX);
	int			n = 0;
	int64		start;
	int64		dead_lettered;
	int64		o;
	int			i;

	LWLockAcquire(&w->write_lock, LW_EXCLUSIVE);
	LWLockAcquire(&w->lock, LW_EXCLUSIVE);
	start = w->start;
	dead_lettered = w->dead_lettered;
	for (o = w->start; o < w->frontier && o < w->start + w->size; o++)
	{
		DeliverySlot *slot = window_slot(w, o);

		if (slot->row_stale && !FullTransactionIdIsValid(slot->xid) &&
			slot->reserver == 0)
			copies[n++] = *slot;
	}
	LWLockRelease(&w->lock);

	part_rel = table_open(pgt_relid(PGT_QUEUE_PARTITION), RowExclusiveLock);
	slots_rel = table_open(pgt_relid(PGT_QUEUE_DELIVERY), RowExclusiveLock);
	rows_file_check(w, slots_rel);
	if (start != w->start_written || dead_lettered != w->dead_lettered_written)
	{
		write_partition_row(w, part_rel, start, dead_lettered, w->receipt_mark);
		w->start_written = start;
		w->dead_lettered_written = dead_lettered;
	}
	for (i = 0; i < n; i++)
		write_slot_row(w, slots_rel, (int) (copies[i].offset % w->size), &copies[i]);
	table_close(slots_rel, RowExclusiveLock);
	table_close(part_rel, RowExclusiveLock);

	LWLockAcquire(&w->lock, LW_EXCLUSIVE);
	for (i = 0; i < n; i++)
	{
		DeliverySlot *slot = window_slot(w, copies[i].offset);

		/*
		 * a change made meanwhile is written by its own transaction; a
		 * delivery a rollback counted meanwhile, next round
		 */
		if (slot->offset == copies[i].offset &&
			!FullTransactionIdIsValid(slot->xid) &&
			slot->deliveries == copies[i].deliveries &&
			slot->receipt == copies[i].receipt)
			slot->row_stale = false;
	}
	LWLockRelease(&w->lock);
	LWLockRelease(&w->write_lock);
	pfree(copies);
	return start;
}

/*
 * delivery_store_mark_receipts makes room for need more receipts below the
 * mark, raising it well ahead when short: the row is overwritten and the
 * record flushed before any receipt beyond the old mark is handed out, so
 * that after a crash no delivery id comes again.  Caller holds no window
 * lock.
 */
void
delivery_store_mark_receipts(QueueWindow *w, int need)
{
	Relation	part_rel;
	int64		mark;

	LWLockAcquire(&w->lock, LW_SHARED);
	mark = w->next_receipt + need + 1;
	LWLockRelease(&w->lock);
	if (mark < w->receipt_mark)
		return;

	LWLockAcquire(&w->write_lock, LW_EXCLUSIVE);
	if (mark >= w->receipt_mark)
	{
		part_rel = table_open(pgt_relid(PGT_QUEUE_PARTITION), RowExclusiveLock);
		write_partition_row(w, part_rel, w->start_written,
							w->dead_lettered_written, mark + RECEIPTS_AHEAD);
		table_close(part_rel, RowExclusiveLock);
		XLogFlush(XactLastRecEnd);
		LWLockAcquire(&w->lock, LW_EXCLUSIVE);
		w->receipt_mark = mark + RECEIPTS_AHEAD;
		LWLockRelease(&w->lock);
	}
	LWLockRelease(&w->write_lock);
}

/*
 * How a window's rows were written: by this server in this database, or
 * restored from a dump (or carried over by pg_upgrade), and then what the
 * database worker last recorded before the dump: the window's start, and
 * a transaction id below which every transaction had ended (both in
 * topics.partition, written by transactions, so that a dump reads them as
 * of its snapshot).
 */
typedef struct LoadOrigin
{
	bool		restored;
	bool		other_server;	/* the xids are another server's */
	FullTransactionId horizon;
	int64		start;
} LoadOrigin;

/*
 * load_slot fills a slot from its row and resolves the change it names.
 *
 * A restored row may have been written after the dump's snapshot (the
 * delivery tables are overwritten in place, so a dump copies them as they
 * are when it reads them): a state made by a transaction at or above the
 * horizon may be newer than the rest of the dump, and the offset counts as
 * never delivered.  Older changes are kept; one still pending counts if
 * the server's commit log says it committed, and not at all if the xids
 * are another server's.  Either way a message may come again, none is
 * lost.  Sets *rewrite when the row must be written again.
 */
static void
load_slot(DeliverySlot *slot, HeapTuple tup, TupleDesc desc,
		  const LoadOrigin *origin, bool *rewrite)
{
	bool		isnull;
	FullTransactionId xid;
	int16		pending;

	slot->state = DatumGetInt16(heap_getattr(tup, Anum_qd_state, desc, &isnull));
	slot->at = DatumGetTimestampTz(heap_getattr(tup, Anum_qd_at, desc, &isnull));
	slot->deliveries = DatumGetInt32(heap_getattr(tup, Anum_qd_deliveries, desc, &isnull));
	slot->receipt = DatumGetInt64(heap_getattr(tup, Anum_qd_receipt, desc, &isnull));
	pending = DatumGetInt16(heap_getattr(tup, Anum_qd_pending, desc, &isnull));
	slot->pending_at = DatumGetTimestampTz(heap_getattr(tup, Anum_qd_pending_at, desc, &isnull));
	xid = DatumGetFullTransactionId(heap_getattr(tup, Anum_qd_xid, desc, &isnull));
	slot->xid = InvalidFullTransactionId;
	slot->made_by = InvalidFullTransactionId;
	slot->row_stale = false;
	slot->receipt_pending = false;
	slot->prev_receipt = 0;
	if (slot->state > DELIVERY_DONE || pending > DELIVERY_DONE ||
		pending < PENDING_SETTLED)
	{
		slot->state = DELIVERY_AVAILABLE;
		pending = PENDING_SETTLED;
	}
	slot->pending = Max(pending, 0);
	if (!FullTransactionIdIsValid(xid))
		return;
	if (origin->restored &&
		FullTransactionIdFollowsOrEquals(xid, origin->horizon))
	{
		slot->state = DELIVERY_NEW;
		slot->at = DT_NOBEGIN;
		*rewrite = true;
		return;
	}
	if (pending == PENDING_SETTLED)
	{
		slot->made_by = xid;
		return;
	}
	if (origin->other_server ||
		FullTransactionIdFollowsOrEquals(xid, ReadNextFullTransactionId()))
	{
		*rewrite = true;
		return;
	}
	slot->row_stale = true;
	if (TransactionIdIsInProgress(XidFromFullTransactionId(xid)))
	{
		/*
		 * a prepared transaction: it survives restarts.  The receipt its
		 * lease replaced is gone: a rollback voids both.
		 */
		slot->xid = xid;
		slot->prepared = true;
		if (slot->pending == DELIVERY_LEASED)
		{
			slot->prev_receipt = 0;
			slot->receipt_pending = true;
		}
		return;
	}
	if (TransactionIdDidCommit(XidFromFullTransactionId(xid)))
	{
		slot->state = slot->pending;
		slot->at = slot->pending_at;
		slot->made_by = xid;
	}
	else if (slot->pending == DELIVERY_LEASED)
		slot->receipt = 0;		/* the lease's id is void, and the one it
								 * replaced is gone */
}

/*
 * read_origin fills what the worker last recorded of a restored queue
 * partition in topics.partition.
 */
static void
read_origin(const char *topic, int partition, LoadOrigin *origin)
{
	Relation	rel = table_open(pgt_relid(PGT_PARTITION), AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		isnull;

	pgt_key_name(&keys[0], 1, topic);
	pgt_key_int4(&keys[1], 2, partition);
	scan = systable_beginscan(rel, pgt_relid(PGT_PARTITION_PKEY), true,
							  snapshot, 2, keys);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		store_damaged(topic, partition, "Its row of topics.partition is missing.");
	origin->start = DatumGetInt64(heap_getattr(tup, get_attnum(RelationGetRelid(rel), "queue_start"),
											   desc, &isnull));
	origin->horizon = DatumGetFullTransactionId(heap_getattr(tup, get_attnum(RelationGetRelid(rel), "queue_horizon"),
															 desc, &isnull));
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
}

/*
 * delivery_store_load loads a window from its rows, unless another backend
 * did.  Its size is the partition's count of slot rows.
 */
void
delivery_store_load(QueueWindow *w, const char *topic, int partition, int size)
{
	Relation	part_rel;
	Relation	slots_rel;
	TupleDesc	desc;
	HeapTuple	tup;
	ScanKeyData keys[2];
	SysScanDesc scan;
	bool		isnull;
	int64		start;
	int64		dead_lettered;
	LoadOrigin	origin = {false, false, InvalidFullTransactionId, 0};
	bool		rewrite = false;
	int64		max_receipt = 0;
	int64		receipt_mark;
	DeliverySlot *slots;
	int			nrows = 0;
	int			k;

	LWLockAcquire(&w->write_lock, LW_EXCLUSIVE);
	if (w->loaded)
	{
		LWLockRelease(&w->write_lock);
		return;
	}
	strlcpy(w->topic, topic, NAMEDATALEN);
	w->partition = partition;

	part_rel = table_open(pgt_relid(PGT_QUEUE_PARTITION), RowExclusiveLock);
	slots_rel = table_open(pgt_relid(PGT_QUEUE_DELIVERY), RowExclusiveLock);
	tup = find_row(part_rel, pgt_relid(PGT_QUEUE_PARTITION_PKEY), topic,
				   partition, -1);
	if (tup == NULL)
		store_damaged(topic, partition,
					  "Its row of topics.queue_partition is missing.");
	desc = RelationGetDescr(part_rel);
	start = DatumGetInt64(heap_getattr(tup, Anum_qp_start, desc, &isnull));
	dead_lettered = DatumGetInt64(heap_getattr(tup, Anum_qp_dead_lettered, desc, &isnull));
	origin.other_server =
		DatumGetInt64(heap_getattr(tup, Anum_qp_system_id, desc, &isnull)) !=
		(int64) GetSystemIdentifier();
	/* (a restore makes the row anew, even into the database it came from) */
	origin.restored = origin.other_server ||
		DatumGetObjectId(heap_getattr(tup, Anum_qp_database, desc, &isnull)) !=
		MyDatabaseId ||
		HeapTupleHeaderGetRawXmin(tup->t_data) !=
		DatumGetTransactionId(heap_getattr(tup, Anum_qp_created_by, desc, &isnull));
	receipt_mark = DatumGetInt64(heap_getattr(tup, Anum_qp_receipt_mark, desc, &isnull));
	heap_freetuple(tup);
	if (origin.restored)
	{
		/* the start as of the dump's snapshot, or before it */
		read_origin(topic, partition, &origin);
		start = origin.start;
	}

	slots = palloc0(sizeof(DeliverySlot) * QUEUE_WINDOW_MAX);
	for (k = 0; k < QUEUE_WINDOW_MAX; k++)
	{
		slots[k].offset = -1;
		ItemPointerSetInvalid(&w->rows[k]);
	}
	w->rows_file = slots_rel->rd_node;
	desc = RelationGetDescr(slots_rel);
	pgt_key_name(&keys[0], 1, topic);
	pgt_key_int4(&keys[1], 2, partition);
	scan = systable_beginscan(slots_rel, pgt_relid(PGT_QUEUE_DELIVERY_PKEY),
							  true, SnapshotSelf, 2, keys);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		int32		slot = DatumGetInt32(heap_getattr(tup, Anum_qd_slot, desc, &isnull));
		int64		offset = DatumGetInt64(heap_getattr(tup, Anum_qd_offset, desc, &isnull));

		max_receipt = Max(max_receipt,
						  DatumGetInt64(heap_getattr(tup, Anum_qd_receipt, desc, &isnull)));
		if (slot < 0 || slot >= QUEUE_WINDOW_MAX)
			store_damaged(topic, partition,
						  psprintf("A row of topics.queue_delivery has slot %d.", slot));
		nrows++;
		w->rows[slot] = tup->t_self;
		if (offset < start || offset >= start + QUEUE_WINDOW_MAX)
			continue;
		slots[slot].offset = offset;
		load_slot(&slots[slot], tup, desc, &origin, &rewrite);
	}
	systable_endscan(scan);
	if (nrows == 0 || nrows > QUEUE_WINDOW_MAX)
		store_damaged(topic, partition,
					  psprintf("It has %d rows in topics.queue_delivery.", nrows));
	size = nrows;

	LWLockAcquire(&w->lock, LW_EXCLUSIVE);
	w->size = size;
	w->start = start;
	w->start_written = start;
	w->frontier = start;
	w->scan_from = start;
	/* every receipt handed out lies below the mark */
	w->next_receipt = Max(max_receipt, receipt_mark) +
		(origin.restored ? RESTORED_RECEIPTS_SKIPPED : 0);
	w->receipt_mark = w->next_receipt;
	w->dead_lettered = dead_lettered;
	w->dead_lettered_written = dead_lettered;
	w->done_total = 0;
	w->rate_at = GetCurrentTimestamp();
	w->rate = 0;
	w->rate_done = 0;
	for (k = 0; k < size; k++)
	{
		DeliverySlot *slot = &slots[k];

		/* a row of an offset beyond the window's size is free */
		if (slot->offset >= 0 && slot->offset % size != k)
			slot->offset = -1;
		w->slots[k] = *slot;
		w->slots[k].known = false;
		w->slots[k].reserver = 0;
	}
	LWLockRelease(&w->lock);

	/* what load_slot dropped goes for good, before the rows are this server's */
	if (rewrite || origin.restored)
	{
		for (k = 0; k < size; k++)
			if (w->slots[k].offset >= 0)
				write_slot_row(w, slots_rel, k, &w->slots[k]);
	}
	if (origin.restored)
		write_partition_row(w, part_rel, start, dead_lettered, w->receipt_mark);
	table_close(slots_rel, RowExclusiveLock);
	table_close(part_rel, RowExclusiveLock);
	pfree(slots);
	w->loaded = true;
	LWLockRelease(&w->write_lock);
}

/*
 * delivery_store_add_partitions gives the partitions [from, to) of a topic,
 * if it is a queue, their rows: each window has the topic's
 * delivery.window slots.  Called by the log as it adds partitions, after
 * their rows of topics.partition, connected to SPI as the owner of
 * pg_topics's catalog.
 */
void
delivery_store_add_partitions(const char *topic, int from, int to)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, INT4OID};
	Datum		args[3];

	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(from);
	args[2] = Int32GetDatum(to - 1);
	if (SPI_execute_with_args("INSERT INTO topics.queue_partition "
							  "(topic, partition, system_id, database_oid, receipt_mark) "
							  "SELECT $1, p, pg_catalog.int8(s.system_identifier), "
							  "(SELECT d.oid FROM pg_catalog.pg_database d "
							  "WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()), "
							  "pg_catalog.hashtextextended($1 OPERATOR(pg_catalog.||) '$' "
							  "OPERATOR(pg_catalog.||) p, 0) OPERATOR(pg_catalog.&) 274877906943 "
							  "FROM pg_catalog.generate_series($2, $3) p, "
							  "pg_catalog.pg_control_system() s "
							  "WHERE EXISTS (SELECT FROM topics.topic t "
							  "WHERE t.name OPERATOR(pg_catalog.=) $1 "
							  "AND t.mode OPERATOR(pg_catalog.=) 'queue')",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_INSERT ||
		SPI_execute_with_args("INSERT INTO topics.queue_delivery (topic, partition, slot) "
							  "SELECT q.topic, q.partition, s "
							  "FROM topics.queue_partition q "
							  "JOIN topics.topic t ON t.name OPERATOR(pg_catalog.=) q.topic, "
							  "LATERAL pg_catalog.generate_series(0, COALESCE("
							  "(t.config OPERATOR(pg_catalog.->>) 'delivery.window')::integer, "
							  CppAsString2(QUEUE_WINDOW_MAX) ") - 1) s "
							  "WHERE q.topic OPERATOR(pg_catalog.=) $1 "
							  "AND q.partition OPERATOR(pg_catalog.>=) $2 "
							  "AND q.partition OPERATOR(pg_catalog.<=) $3",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not add the delivery windows of topic \"%s\"", topic);
}
