/*-------------------------------------------------------------------------
 *
 * topic_cache.c
 *	  Per-backend cache of topic metadata, so that produce and fetch read
 *	  no catalog table on their hot path.
 *
 * The cache is filled with SPI under the latest snapshot (so that a
 * segment created a moment ago by a worker is seen whatever the caller's
 * isolation level), and marked stale by relcache invalidations of a
 * topic's root or partition tables: creating a topic, adding a partition
 * or a segment, and dropping any of them all change those tables'
 * partition descriptors.  A stale entry is rebuilt the next time a caller
 * opens the topic; the old copy is only freed at the next topic_open, when
 * no caller holds pointers into it any more.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/subtrans.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/twophase.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "log/topic.h"
#include "preload.h"

static HTAB *TopicCache = NULL;
static List *retired_contexts = NIL;

/*
 * topic_cache_inval marks stale every topic whose root or partition table
 * was invalidated (all of them when relid is InvalidOid).
 */
static void
topic_cache_inval(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	Topic	   *topic;

	if (TopicCache == NULL)
		return;
	hash_seq_init(&status, TopicCache);
	while ((topic = hash_seq_search(&status)) != NULL)
	{
		int			i;

		if (!topic->valid)
			continue;
		if (relid == InvalidOid || relid == topic->relid)
		{
			topic->valid = false;
			continue;
		}
		for (i = 0; i < topic->npartitions; i++)
			if (topic->partitions[i].relid == relid)
			{
				topic->valid = false;
				break;
			}
	}
}

static void
topic_cache_init(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(Topic);
	ctl.hcxt = CacheMemoryContext;
	TopicCache = hash_create("pg_topics topic cache", 64, &ctl,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	CacheRegisterRelcacheCallback(topic_cache_inval, (Datum) 0);
}

/*
 * spi_latest runs a read-only query under the latest snapshot, so that it
 * sees catalog rows committed after the caller's transaction snapshot.
 * Caller is connected to SPI.
 */
static void
spi_latest(const char *sql, int nargs, Oid *types, Datum *values)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);
	int			rc;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	rc = SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(),
							  InvalidSnapshot, true, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed for \"%s\": %s", sql,
			 SPI_result_code_string(rc));
}

static int64
spi_int64(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

static int32
spi_int32(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  col, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

/*
 * topic_load fills entry from the catalog; returns false when no topic of
 * that name exists.
 */
static bool
topic_load(Topic *entry, const char *name)
{
	Oid			argtypes[1];
	Datum		args[1];
	MemoryContext cxt;
	int			i;
	bool		isnull;

	SPI_connect();

	argtypes[0] = TEXTOID;
	args[0] = CStringGetTextDatum(name);
	spi_latest("SELECT topic_id, relid::pg_catalog.oid, "
			   "CASE mode WHEN 'stream' THEN 0 WHEN 'store' THEN 1 ELSE 2 END, "
			   "partitions, "
			   "COALESCE((config OPERATOR(pg_catalog.->>) 'segment.messages')::pg_catalog.int8, 0), "
			   "COALESCE((config OPERATOR(pg_catalog.->>) 'segment.bytes')::pg_catalog.int8, 0) "
			   "FROM topics.topic WHERE name OPERATOR(pg_catalog.=) $1",
			   1, argtypes, args);
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}

	cxt = AllocSetContextCreate(CacheMemoryContext, "pg_topics topic",
								ALLOCSET_SMALL_SIZES);
	MemoryContextCopyAndSetIdentifier(cxt, name);

	entry->topic_id = spi_int32(0, 1);
	entry->relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 2,
												  &isnull));
	entry->mode = (TopicMode) spi_int32(0, 3);
	entry->npartitions = spi_int32(0, 4);
	entry->segment_messages = spi_int64(0, 5);
	entry->segment_bytes = spi_int64(0, 6);
	entry->cxt = cxt;
	entry->partitions = MemoryContextAllocZero(cxt, sizeof(TopicPartition) *
											   Max(entry->npartitions, 1));

	argtypes[0] = INT4OID;
	args[0] = Int32GetDatum(entry->topic_id);
	spi_latest("SELECT partition, relid::pg_catalog.oid FROM topics.partition "
			   "WHERE topic_id OPERATOR(pg_catalog.=) $1",
			   1, argtypes, args);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		int			p = spi_int32(i, 1);

		if (p < 0 || p >= entry->npartitions)
			elog(ERROR, "topic \"%s\" has a stray partition %d", name, p);
		entry->partitions[p].relid =
			DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
										   SPI_tuptable->tupdesc, 2, &isnull));
	}

	spi_latest("SELECT partition, base_offset, end_offset, relid::pg_catalog.oid, "
			   "pg_catalog.count(*) OVER (PARTITION BY partition) "
			   "FROM topics.segment WHERE topic_id OPERATOR(pg_catalog.=) $1 "
			   "ORDER BY partition, base_offset",
			   1, argtypes, args);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		int			p = spi_int32(i, 1);
		TopicPartition *part;
		TopicSegment *seg;

		if (p < 0 || p >= entry->npartitions)
			elog(ERROR, "topic \"%s\" has a segment of stray partition %d",
				 name, p);
		part = &entry->partitions[p];
		if (part->segments == NULL)
		{
			part->segments = MemoryContextAlloc(cxt, sizeof(TopicSegment) *
												spi_int64(i, 5));
			part->nsegments = 0;
		}
		seg = &part->segments[part->nsegments++];
		seg->base = spi_int64(i, 2);
		seg->end = spi_int64(i, 3);
		seg->relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
													SPI_tuptable->tupdesc, 4,
													&isnull));
	}

	SPI_finish();

	for (i = 0; i < entry->npartitions; i++)
		if (entry->partitions[i].relid == InvalidOid ||
			entry->partitions[i].segments == NULL)
			elog(ERROR, "topic \"%s\" has no table for partition %d", name, i);

	entry->valid = true;
	return true;
}

/*
 * topic_lookup returns the cached topic, loading it when it is missing or
 * stale, or raises 42704 when no such topic exists.
 */
static Topic *
topic_lookup(const char *name)
{
	Topic	   *entry;
	bool		found;
	char		key[NAMEDATALEN];

	if (TopicCache == NULL)
		topic_cache_init();

	memset(key, 0, sizeof(key));
	strlcpy(key, name, NAMEDATALEN);
	entry = hash_search(TopicCache, key, HASH_ENTER, &found);
	if (found && entry->valid)
		return entry;

	if (found && entry->cxt != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(CacheMemoryContext);

		retired_contexts = lappend(retired_contexts, entry->cxt);
		MemoryContextSwitchTo(old);
		entry->cxt = NULL;
	}
	entry->valid = false;
	entry->npartitions = 0;
	entry->partitions = NULL;
	if (!found)
		entry->next_partition = (uint32) MyProcPid;

	if (!topic_load(entry, name))
	{
		hash_search(TopicCache, key, HASH_REMOVE, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" does not exist", name),
				 errhint("Create it with topics.create_topic(), or check topics.topics for its name.")));
	}
	return entry;
}

/*
 * topic_open returns the topic of that name with its root table locked in
 * lockmode, which keeps it from being dropped until the transaction ends.
 * Locking processes pending invalidations, so the loop ends with an entry
 * that is current as of the lock.
 */
Topic *
topic_open(const char *name, LOCKMODE lockmode)
{
	pg_topics_check_loaded();

	/* no caller holds pointers into retired copies between calls */
	if (retired_contexts != NIL)
	{
		ListCell   *lc;

		foreach(lc, retired_contexts)
			MemoryContextDelete(lfirst(lc));
		list_free(retired_contexts);
		retired_contexts = NIL;
	}

	for (;;)
	{
		Topic	   *topic = topic_lookup(name);

		LockRelationOid(topic->relid, lockmode);
		if (topic->valid &&
			SearchSysCacheExists1(RELOID, ObjectIdGetDatum(topic->relid)))
			return topic;
		UnlockRelationOid(topic->relid, lockmode);
		topic->valid = false;
	}
}

/*
 * topic_reload rebuilds a topic whose segments changed under the caller,
 * and returns the new copy; the old one stays readable until the next
 * topic_open.
 */
Topic *
topic_reload(Topic *topic)
{
	char		name[NAMEDATALEN];

	AcceptInvalidationMessages();
	strlcpy(name, topic->name, NAMEDATALEN);
	topic->valid = false;
	return topic_lookup(name);
}

/*
 * topic_check_partition raises 22023 unless partition is one of the
 * topic's.
 */
void
topic_check_partition(Topic *topic, int partition)
{
	if (partition < 0 || partition >= topic->npartitions)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition %d of topic \"%s\" does not exist",
						partition, topic->name),
				 errdetail("Topic \"%s\" has %d partitions, numbered from 0.",
						   topic->name, topic->npartitions)));
}

/*
 * topic_check_privilege raises 42501 unless the current user holds mode
 * (ACL_INSERT to produce, ACL_SELECT to read) on the topic's root table.
 */
void
topic_check_privilege(Topic *topic, AclMode mode)
{
	if (pg_class_aclcheck(topic->relid, GetUserId(), mode) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for topic \"%s\"", topic->name),
				 errdetail("%s needs the %s privilege on table %s.",
						   mode == ACL_INSERT ? "Producing" : "Reading",
						   mode == ACL_INSERT ? "INSERT" : "SELECT",
						   quote_qualified_identifier(TOPICS_DATA_SCHEMA,
													  topic->name)),
				 errhint("The topic's owner can run GRANT %s ON %s TO the role.",
						 mode == ACL_INSERT ? "INSERT" : "SELECT",
						 quote_qualified_identifier(TOPICS_DATA_SCHEMA,
													topic->name))));
}

/*
 * segment_offset_index returns the OID of a segment's index on msg_offset.
 */
Oid
segment_offset_index(Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			result = InvalidOid;

	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		Form_pg_index idx;

		if (!HeapTupleIsValid(tup))
			continue;
		idx = (Form_pg_index) GETSTRUCT(tup);
		if (idx->indisunique && idx->indnkeyatts == 1 &&
			idx->indkey.values[0] == Anum_message_offset)
			result = indexoid;
		ReleaseSysCache(tup);
		if (OidIsValid(result))
			break;
	}
	list_free(indexes);
	if (!OidIsValid(result))
		elog(ERROR, "segment \"%s\" has no unique index on msg_offset",
			 RelationGetRelationName(rel));
	return result;
}

/*
 * segment_max_offset returns the highest offset physically present in a
 * segment, committed or not, or -1 when it holds none.
 *
 * The index gives the highest offset with an index entry.  A crash can
 * leave rows whose heap insert reached the WAL but whose index entry did
 * not (their transaction never committed, and no reader can have skipped
 * them, or its commit would have flushed that WAL too); they sit at the
 * end of the heap, so the heap is read on from the row the index gave.
 */
static int64
segment_max_offset(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	Relation	index = index_open(segment_offset_index(rel), AccessShareLock);
	IndexScanDesc scan;
	TableScanDesc tail;
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	ItemPointerData from;
	ItemPointerData to;
	int64		result = -1;
	bool		isnull;

	/* SnapshotAny: an aborted offset must not be handed out again */
	ItemPointerSet(&from, 0, FirstOffsetNumber);
	scan = index_beginscan(rel, index, SnapshotAny, 0, 0);
	index_rescan(scan, NULL, 0, NULL, 0);
	if (index_getnext_slot(scan, BackwardScanDirection, slot))
	{
		result = DatumGetInt64(slot_getattr(slot, Anum_message_offset, &isnull));
		from = slot->tts_tid;
	}
	index_endscan(scan);

	ItemPointerSet(&to, MaxBlockNumber, MaxOffsetNumber);
	tail = table_beginscan_tidrange(rel, SnapshotAny, &from, &to);
	while (table_scan_getnextslot_tidrange(tail, ForwardScanDirection, slot))
		result = Max(result, DatumGetInt64(slot_getattr(slot, Anum_message_offset,
														&isnull)));
	table_endscan(tail);

	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	return result;
}

static int
prepared_cmp(const ListCell *a, const ListCell *b)
{
	const PreparedProducer *pa = lfirst(a);
	const PreparedProducer *pb = lfirst(b);

	return (pa->first_offset > pb->first_offset) -
		(pa->first_offset < pb->first_offset);
}

/*
 * prepared_in_database tells whether a prepared transaction of this
 * database exists; only then must a partition be scanned for the offsets
 * such transactions hold.
 */
static bool
prepared_in_database(void)
{
	bool		result;

	if (max_prepared_xacts == 0)
		return false;
	SPI_connect();
	if (SPI_execute("SELECT 1 FROM pg_catalog.pg_prepared_xacts "
					"WHERE database OPERATOR(pg_catalog.=) pg_catalog.current_database()",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not list prepared transactions");
	result = SPI_processed > 0;
	SPI_finish();
	return result;
}

/*
 * scan_prepared adds to *prepared the lowest offset held in a segment by
 * each transaction still in progress.  Called before the partition hands
 * out any offset, so every such transaction is a prepared one.
 */
static void
scan_prepared(Oid relid, List **prepared)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TableScanDesc scan = table_beginscan(rel, SnapshotAny, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		shouldfree;
		HeapTuple	tuple = ExecFetchSlotHeapTuple(slot, false, &shouldfree);
		TransactionId xmin = HeapTupleHeaderGetXmin(tuple->t_data);
		bool		isnull;
		int64		off;
		ListCell   *lc;
		PreparedProducer *pp = NULL;

		if (!TransactionIdIsNormal(xmin) || !TransactionIdIsInProgress(xmin))
			continue;
		xmin = SubTransGetTopmostTransaction(xmin);
		off = DatumGetInt64(slot_getattr(slot, Anum_message_offset, &isnull));
		foreach(lc, *prepared)
		{
			if (((PreparedProducer *) lfirst(lc))->xid == xmin)
				pp = lfirst(lc);
		}
		if (pp == NULL)
		{
			pp = palloc(sizeof(PreparedProducer));
			pp->xid = xmin;
			pp->first_offset = off;
			*prepared = lappend(*prepared, pp);
		}
		else if (off < pp->first_offset)
			pp->first_offset = off;
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * partition_scan_log_end rebuilds a partition's log end from storage: one
 * past the highest offset physically present, or the base of the oldest
 * segment when all are empty.  It also lists, in offset order, the
 * prepared transactions that hold offsets of the partition.
 */
int64
partition_scan_log_end(TopicPartition *part, List **prepared)
{
	int			i;
	int64		log_end = part->segments[0].base;

	for (i = part->nsegments - 1; i >= 0; i--)
	{
		int64		max = segment_max_offset(part->segments[i].relid);

		if (max >= 0)
		{
			log_end = max + 1;
			break;
		}
	}

	*prepared = NIL;
	if (prepared_in_database())
	{
		for (i = 0; i < part->nsegments; i++)
			scan_prepared(part->segments[i].relid, prepared);
		list_sort(*prepared, prepared_cmp);
	}
	return log_end;
}

/*
 * topic_partition_state returns the initialized shared state of a
 * partition, rebuilding its counter from storage on first use since the
 * server started.
 */
PartitionState *
topic_partition_state(Topic *topic, int partition)
{
	TopicPartition *part = &topic->partitions[partition];
	PartitionState *state = part->state;

	if (state == NULL)
	{
		state = partition_state_find(part->relid, true);
		part->state = state;
	}
	if (!state->initialized)
	{
		List	   *prepared;
		int64		log_end = partition_scan_log_end(part, &prepared);

		partition_state_init(state, part->relid, log_end, prepared);
	}
	/* set once, to the same value by every backend: no lock needed */
	if (state->topic_state == NULL)
		state->topic_state = partition == 0 ? state :
			topic_partition_state(topic, 0);
	return state;
}

/*
 * topic_find_segment returns the segment holding offset, or NULL when the
 * cached chain ends before it.
 */
const TopicSegment *
topic_find_segment(Topic *topic, int partition, int64 offset)
{
	TopicPartition *part = &topic->partitions[partition];
	int			lo = 0;
	int			hi = part->nsegments - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		TopicSegment *seg = &part->segments[mid];

		if (offset < seg->base)
			hi = mid - 1;
		else if (offset >= seg->end)
			lo = mid + 1;
		else
			return seg;
	}
	return NULL;
}
