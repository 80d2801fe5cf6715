/*-------------------------------------------------------------------------
 *
 * fetch.c
 *	  Reading a partition: committed messages below its last stable offset
 *	  (LSO), in offset order.
 *
 * Readers (fetch_reader.c) hand the rows out one at a time: a FROM-clause
 * call of topics.fetch streams them (fetch_scan.c); the set-returning
 * functions store them first.
 *
 * topics.fetch is C and adds the topic's name in front of each message;
 * topics.poll is SQL, inlined into the caller's query, around a C function
 * that returns messages as stored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/fmgroids.h"
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
 * fetch_partition_rows appends to store up to max committed messages of a
 * partition with offsets in [from, below), and returns how many.  Caller
 * has read the partition's LSO, which below must not exceed, just before.
 * The store holds rows of the stored shape, so each message is copied
 * once, as it lies in the buffer, without taking it apart.
 */
int
fetch_partition_rows(Topic *topic, int partition, int64 from, int64 below,
					 int max, Tuplestorestate *store)
{
	FetchReader *reader = fetch_reader_begin(topic, partition, from, below,
											 max);
	HeapTuple	tuple;
	int			found = 0;

	while (fetch_reader_next(reader, &tuple))
	{
		tuplestore_puttuple(store, tuple);
		found++;
	}
	fetch_reader_end(reader);
	return found;
}

/*
 * fetch_messages returns a reader of up to max_messages committed messages
 * of a partition, from from_offset on, after waiting until deadline for
 * the first one; or NULL when none came.
 */
FetchReader *
fetch_messages(Topic *topic, int partition, int64 from_offset,
			   int max_messages, TimestampTz deadline)
{
	PartitionBounds look;

	/* as Kafka's consumers reset to the earliest offset, without a round trip */
	from_offset = Max(from_offset, topic_log_start(topic, partition));
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
	{
		/* a partition not made yet has no state to wait on: sleep it out */
		if (topic_partition_pending(topic, partition))
		{
			while (GetCurrentTimestamp() < deadline)
			{
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
																 deadline),
								 PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
			}
			return NULL;
		}
		partition_wait(topic_partition_state(topic, partition), from_offset,
					   deadline, &look);
	}
	if (look.lso <= from_offset)
		return NULL;
	return fetch_reader_begin(topic, partition, from_offset, look.lso,
							  max_messages);
}

/*
 * fetch_offset_for_time sets *offset to the earliest offset whose timestamp
 * is at or after ts, as Kafka's ListOffsets does, and returns false when
 * no committed message is that recent.  It scans the partition in offset
 * order, from its log start: timestamps are the producer's and need not
 * grow with offsets.
 */
bool
fetch_offset_for_time(Topic *topic, int partition, TimestampTz ts,
					  int64 *offset)
{
	TopicPartition *part;
	PartitionBounds look;
	Snapshot	snapshot;
	bool		found = false;
	int64		from;
	int			i;

	topic_bounds(topic, partition, &look);
	part = &topic->partitions[partition];
	if (part->nsegments == 0)
		return false;
	if (part->segments[part->nsegments - 1].end < look.lso)
	{
		topic = topic_reload(topic, partition);
		part = &topic->partitions[partition];
	}

	from = topic_log_start(topic, partition);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	for (i = 0; i < part->nsegments && !found; i++)
	{
		const LogSegment *seg = &part->segments[i];
		Oid			relid;
		Relation	rel;
		Relation	index;
		TupleTableSlot *slot;
		IndexScanDesc scan;
		ScanKeyData keys[2];

		if (seg->base >= look.lso)
			break;
		if (seg->end <= from)
			continue;
		/* one dropped since this backend's copy of the topic lay below the log start */
		relid = topic_table_relid(topic->name, partition, seg->base);
		rel = OidIsValid(relid) ? try_table_open(relid, AccessShareLock) : NULL;
		if (rel == NULL)
			continue;
		topic_table_check(rel, topic->name);
		index = index_open(segment_offset_index(rel), AccessShareLock);
		slot = table_slot_create(rel, NULL);
		ScanKeyInit(&keys[0], 1, BTGreaterEqualStrategyNumber, F_INT8GE,
					Int64GetDatum(from));
		ScanKeyInit(&keys[1], 1, BTLessStrategyNumber, F_INT8LT,
					Int64GetDatum(look.lso));
		scan = index_beginscan(rel, index, snapshot, 2, 0);
		index_rescan(scan, keys, 2, NULL, 0);
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
