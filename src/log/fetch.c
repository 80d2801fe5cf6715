/*-------------------------------------------------------------------------
 *
 * fetch.c
 *	  Reading a partition: committed messages below its last stable offset
 *	  (LSO), in offset order.
 *
 * The reader looks at the LSO first and takes a fresh snapshot
 * (GetLatestSnapshot) after that, whatever the caller's isolation level:
 * every offset below the LSO then belongs to a transaction that ended
 * before the snapshot, so the rows seen are exactly the committed ones and
 * no later commit can add a row below the offsets returned.  Segments are
 * read straight from the segment tables rather than through the topic's
 * root, which would plan and lock every segment of every partition: the
 * index on msg_offset finds the first row, and the heap pages that follow
 * give the next ones as long as they lie there in offset order.
 *
 * The C functions return rows of the stored shape; topics.fetch and
 * topics.poll are SQL functions, inlined into the caller's query, that add
 * the topic's name in front.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "log/fetch.h"
#include "log/topic_tables.h"

/*
 * The rows that fetch and poll hand over live in this context rather than
 * in the query's memory.  A query's memory goes back to malloc when it
 * ends, and for a result of a few hundred kilobytes malloc gives it back
 * to the kernel: the next read page-faults on fresh zeroed pages, which
 * costs as much as reading the rows.  This context keeps a block of
 * FETCH_STORE_KEEP bytes for the backend's life, so the rows of a typical
 * read land in memory already mapped and warm.  It is reset when each
 * transaction ends, after every query that read a store has ended (cursors
 * are closed or, WITH HOLD, copied out before the commit callbacks run).
 */
#define FETCH_STORE_KEEP	(1024 * 1024)

static MemoryContext store_context = NULL;

static void
fetch_store_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		MemoryContextReset(store_context);
}

/*
 * fetch_store_begin makes a set-returning function's result a tuplestore
 * of messages (the rows of topics.message), as InitMaterializedSRF does,
 * with the rows kept in the backend's store context, and returns it.
 */
Tuplestorestate *
fetch_store_begin(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	TupleDesc	desc;
	Tuplestorestate *store;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize mode required, but it is not allowed in this context")));
	if (store_context == NULL)
	{
		store_context = AllocSetContextCreate(TopMemoryContext,
											  "pg_topics fetched messages",
											  FETCH_STORE_KEEP,
											  FETCH_STORE_KEEP,
											  ALLOCSET_DEFAULT_MAXSIZE);
		RegisterXactCallback(fetch_store_xact_callback, NULL);
	}

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	MemoryContextSwitchTo(store_context);
	store = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
								  false, work_mem);
	MemoryContextSwitchTo(old);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = desc;
	return store;
}

/*
 * fetch_in_log_order appends to store the messages that follow, in the
 * heap, the row at start, as long as they carry the offsets *next,
 * *next + 1, ... below below, at most max of them, and returns how many it
 * added; *next is left at the first offset not added.  A partition is
 * appended to in offset order, so its rows mostly lie in the heap as they
 * do in the index, and reading the pages in turn costs half as much per row
 * as an index scan.  The first row out of order (a concurrent producer's,
 * or a gap left by a rollback) ends the run: the caller's index scan goes
 * on from *next.  Rows below *next (the start row among them) were handed
 * out already or lie before the read; at most max of them are skipped, and
 * the scan stops max pages past the start (max rows in order fit in them),
 * so that a heap laid out otherwise, or rows rolled back in bulk right
 * after the start, cost at most that many pages before the index goes on.
 */
static int
fetch_in_log_order(Relation rel, Snapshot snapshot, ItemPointer start,
				   int64 *next, int64 below, int max, Tuplestorestate *store)
{
	TupleDesc	desc = RelationGetDescr(rel);
	BlockNumber blkno = ItemPointerGetBlockNumber(start);
	BlockNumber end = (BlockNumber) Min((uint64) blkno + max,
										(uint64) RelationGetNumberOfBlocks(rel));
	OffsetNumber first = ItemPointerGetOffsetNumber(start);
	int			n = 0;
	int			skipped = 0;
	bool		more = true;

	for (; more && blkno < end; blkno++, first = FirstOffsetNumber)
	{
		Buffer		buffer = ReadBuffer(rel, blkno);
		Page		page;
		OffsetNumber off;
		OffsetNumber maxoff;
		bool		all_visible;

		CHECK_FOR_INTERRUPTS();
		heap_page_prune_opt(rel, buffer);
		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buffer);
		maxoff = PageGetMaxOffsetNumber(page);
		/* as heapgetpage: no row of an all-visible page needs a check */
		all_visible = PageIsAllVisible(page) && !snapshot->takenDuringRecovery;
		for (off = first; more && off <= maxoff; off++)
		{
			ItemId		lp = PageGetItemId(page, off);
			HeapTupleData tuple;
			bool		isnull;
			int64		offset;

			if (!ItemIdIsNormal(lp))
				continue;
			tuple.t_data = (HeapTupleHeader) PageGetItem(page, lp);
			tuple.t_len = ItemIdGetLength(lp);
			tuple.t_tableOid = RelationGetRelid(rel);
			ItemPointerSet(&tuple.t_self, blkno, off);
			if (!all_visible &&
				!HeapTupleSatisfiesVisibility(&tuple, snapshot, buffer))
				continue;

			/* the offset lies at a fixed place: no need to take the row apart */
			offset = DatumGetInt64(heap_getattr(&tuple, Anum_message_offset,
												desc, &isnull));
			if (offset < *next && ++skipped <= max)
				continue;
			if (offset != *next)
			{
				more = false;
				break;
			}
			tuplestore_puttuple(store, &tuple);
			(*next)++;
			more = ++n < max && *next < below;
		}
		LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
		ReleaseBuffer(buffer);
	}
	return n;
}

/*
 * fetch_segment appends to store the messages of one segment with offsets
 * in [from, below), at most max of them, and returns how many it added.
 * The index finds the first; the heap pages that follow give the next ones
 * while they come in offset order, and the index the rest.  A serializable
 * transaction reads through the index only: a heap page read whole would
 * also check the rows of producers still in progress past the LSO, and
 * record conflicts with transactions none of whose rows it returns.  The
 * store holds rows of the stored shape, so each message is copied once, as
 * it lies in the buffer, without taking it apart.  The segment stays locked
 * until the transaction ends, so that a TOASTed value can still be read
 * when the caller's query hands the row out.
 */
static int
fetch_segment(Topic *topic, const LogSegment *seg, Snapshot snapshot,
			  int64 from, int64 below, int max, Tuplestorestate *store)
{
	Relation	rel = table_open(seg->relid, AccessShareLock);
	Relation	index;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	ScanKeyData keys[2];
	bool		found;
	int			n = 0;

	topic_table_check(rel, topic->name);
	index = index_open(segment_offset_index(rel), AccessShareLock);
	slot = table_slot_create(rel, NULL);

	/*
	 * Look for the first row alone first: a scan up to below would check
	 * every entry of the first leaf page, where the rows that follow come
	 * cheaper from the heap.  Only when from is a gap is the range scanned.
	 */
	ScanKeyInit(&keys[0], 1, BTGreaterEqualStrategyNumber, F_INT8GE,
				Int64GetDatum(from));
	ScanKeyInit(&keys[1], 1, BTLessStrategyNumber, F_INT8LT,
				Int64GetDatum(from + 1));
	scan = index_beginscan(rel, index, snapshot, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	found = max > 0 && index_getnext_slot(scan, ForwardScanDirection, slot);
	keys[1].sk_argument = Int64GetDatum(below);
	if (max > 0 && !found)
	{
		index_rescan(scan, keys, 2, NULL, 0);
		found = index_getnext_slot(scan, ForwardScanDirection, slot);
	}

	if (found)
	{
		bool		isnull;
		int64		next = DatumGetInt64(slot_getattr(slot, Anum_message_offset,
													  &isnull)) + 1;
		ItemPointerData start = slot->tts_tid;

		tuplestore_puttuple(store, ExecFetchSlotHeapTuple(slot, false, NULL));
		n++;
		if (n < max && next < below && !IsolationIsSerializable())
			n += fetch_in_log_order(rel, snapshot, &start, &next, below,
									max - n, store);
		if (n < max && next < below)
		{
			keys[0].sk_argument = Int64GetDatum(next);
			index_rescan(scan, keys, 2, NULL, 0);
		}
		while (n < max && next < below &&
			   index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			tuplestore_puttuple(store, ExecFetchSlotHeapTuple(slot, false, NULL));
			n++;
		}
	}

	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(rel, NoLock);
	return n;
}

/*
 * fetch_partition_rows appends to store up to max committed messages of a
 * partition with offsets in [from, below), and returns how many.  Caller
 * has read the partition's LSO, which below must not exceed, before this
 * takes its snapshot.
 */
int
fetch_partition_rows(Topic *topic, int partition, int64 from, int64 below,
					 int max, Tuplestorestate *store)
{
	TopicPartition *part = &topic->partitions[partition];
	Snapshot	snapshot;
	int			found = 0;
	int			i;

	/* segments created since the topic was cached hold offsets below the LSO */
	if (part->segments[part->nsegments - 1].end < below)
	{
		topic = topic_reload(topic);
		part = &topic->partitions[partition];
	}

	snapshot = RegisterSnapshot(GetLatestSnapshot());
	for (i = 0; i < part->nsegments && found < max; i++)
	{
		const LogSegment *seg = &part->segments[i];

		if (seg->end <= from)
			continue;
		if (seg->base >= below)
			break;
		found += fetch_segment(topic, seg, snapshot, Max(from, seg->base),
							   Min(below, seg->end), max - found, store);
	}
	UnregisterSnapshot(snapshot);
	return found;
}

/*
 * fetch_messages appends to store up to max_messages committed messages of
 * a partition, from from_offset on, waiting until deadline for the first
 * one.  Returns the partition's LSO as seen by the read.
 */
int64
fetch_messages(Topic *topic, int partition, int64 from_offset,
			   int max_messages, TimestampTz deadline,
			   Tuplestorestate *store)
{
	PartitionBounds look;

	topic_bounds(topic, partition, &look);
	if (from_offset > look.log_end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset %lld is beyond the end of partition %d of topic \"%s\"",
						(long long) from_offset, partition, topic->name),
				 errdetail("The next offset of the partition is %lld.",
						   (long long) look.log_end),
				 errhint("Look up the partition's log end in topics.partitions.")));

	if (look.lso <= from_offset && deadline > GetCurrentTimestamp())
		partition_wait(topic_partition_state(topic, partition), from_offset,
					   deadline, &look);
	if (look.lso > from_offset)
		fetch_partition_rows(topic, partition, from_offset, look.lso,
							 max_messages, store);
	return look.lso;
}

/*
 * fetch_offset_for_time sets *offset to the earliest offset whose timestamp
 * is at or after ts, as Kafka's ListOffsets does, and returns false when
 * no committed message is that recent.  It scans the partition in offset
 * order: timestamps are the producer's and need not grow with offsets.
 */
bool
fetch_offset_for_time(Topic *topic, int partition, TimestampTz ts,
					  int64 *offset)
{
	TopicPartition *part;
	PartitionBounds look;
	Snapshot	snapshot;
	bool		found = false;
	int			i;

	topic_bounds(topic, partition, &look);
	part = &topic->partitions[partition];
	if (part->segments[part->nsegments - 1].end < look.lso)
	{
		topic = topic_reload(topic);
		part = &topic->partitions[partition];
	}

	snapshot = RegisterSnapshot(GetLatestSnapshot());
	for (i = 0; i < part->nsegments && !found; i++)
	{
		const LogSegment *seg = &part->segments[i];
		Relation	rel;
		Relation	index;
		TupleTableSlot *slot;
		IndexScanDesc scan;
		ScanKeyData key;

		if (seg->base >= look.lso)
			break;
		rel = table_open(seg->relid, AccessShareLock);
		topic_table_check(rel, topic->name);
		index = index_open(segment_offset_index(rel), AccessShareLock);
		slot = table_slot_create(rel, NULL);
		ScanKeyInit(&key, 1, BTLessStrategyNumber, F_INT8LT,
					Int64GetDatum(look.lso));
		scan = index_beginscan(rel, index, snapshot, 1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;

			if (DatumGetTimestampTz(slot_getattr(slot, Anum_message_timestamp,
												 &isnull)) >= ts)
			{
				*offset = DatumGetInt64(slot_getattr(slot, Anum_message_offset,
													 &isnull));
				found = true;
				break;
			}
			CHECK_FOR_INTERRUPTS();
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		index_close(index, AccessShareLock);
		table_close(rel, AccessShareLock);
	}
	UnregisterSnapshot(snapshot);
	return found;
}
