/*-------------------------------------------------------------------------
 *
 * compaction.c
 *	  Compaction of a topic whose cleanup.policy has "compact": its sealed
 *	  segments keep only the latest message of each key, as Kafka's log
 *	  cleaner does.
 *
 * Kafka's guarantees hold: offsets and order never change (a segment is
 * rewritten with its kept rows in offset order, each with its offset); a
 * reader from the log start sees at least the latest message of every key
 * (the latest one is always kept, and the segment that holds it is never
 * compacted before the segments older than it); a tombstone (a message
 * with a key and no value) removes its key, and goes itself once it is
 * older than delete.retention.ms.  Messages younger than
 * min.compaction.lag.ms, the segments above the last stable offset and a
 * partition's last segment are left alone.
 *
 * Each run takes the part of the partition not compacted yet (from
 * topics.partition.compacted_end to the end of the last segment it may
 * compact), finds the latest offset of each key in it, and rewrites the
 * segments from the log start on that hold a message a later one of the
 * same key supersedes.  A segment is rewritten as CLUSTER rewrites a
 * table: the kept rows go, with their transaction ids, to a new heap built
 * under a share lock (readers go on), whose files then take the place of
 * the segment's under an exclusive lock taken without waiting, its indexes
 * rebuilt.  The segment keeps its OID, so the segment lists of backends
 * stay valid, and a reader sees the whole old segment or the whole new
 * one: one that holds the segment locked (a cursor) keeps the compaction
 * off until a later run.  It all commits or rolls back with the run's
 * subtransaction: a crash leaves the segment as it was.
 *
 * Messages without a key cannot be compacted: a compacted topic refuses
 * them (produce.c), and keeps those it took before it was compacted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/rewriteheap.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "commands/cluster.h"
#include "commands/tablecmds.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "log/topic_tables.h"
#include "pg_topics.h"
#include "retention/compaction.h"
#include "retention/retention.h"
#include "subxact.h"

/* A key's bytes, as the hash of latest offsets holds them. */
typedef struct KeyBytes
{
	const char *data;
	int			len;
} KeyBytes;

typedef struct LatestOffset
{
	KeyBytes	key;			/* hash key: must be first */
	int64		offset;
} LatestOffset;

static uint32
key_hash(const void *key, Size keysize)
{
	const KeyBytes *k = (const KeyBytes *) key;

	return hash_bytes((const unsigned char *) k->data, k->len);
}

static int
key_match(const void *a, const void *b, Size keysize)
{
	const KeyBytes *ka = (const KeyBytes *) a;
	const KeyBytes *kb = (const KeyBytes *) b;

	return !(ka->len == kb->len && memcmp(ka->data, kb->data, ka->len) == 0);
}

/*
 * latest_offsets returns, in cxt, the latest offset of each key among the
 * messages of a partition in [from, below).  Caller runs as the owner of
 * the topic's tables, connected to SPI.
 */
static HTAB *
latest_offsets(const char *topic, int partition, int64 from, int64 below,
			   MemoryContext cxt)
{
	HASHCTL		ctl;
	HTAB	   *latest;
	uint64		i;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(KeyBytes);
	ctl.entrysize = sizeof(LatestOffset);
	ctl.hash = key_hash;
	ctl.match = key_match;
	ctl.hcxt = cxt;
	latest = hash_create("pg_topics latest offsets", 1024, &ctl,
						 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	/* the latest snapshot: it sees every message below the LSO read before */
	spi_select_latest(psprintf("SELECT key, pg_catalog.max(msg_offset) FROM %s "
							   "WHERE msg_offset OPERATOR(pg_catalog.>=) $1 "
							   "AND msg_offset OPERATOR(pg_catalog.<) $2 "
							   "AND key IS NOT NULL GROUP BY key",
							   quote_qualified_identifier(TOPICS_DATA_SCHEMA,
														  topic_table_name(topic, partition, -1))),
					  2, (Oid[]) {INT8OID, INT8OID},
					  (Datum[]) {Int64GetDatum(from), Int64GetDatum(below)});
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		bytea	   *key = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 1, &isnull));
		KeyBytes	k;
		LatestOffset *entry;
		bool		found;

		k.len = VARSIZE_ANY_EXHDR(key);
		k.data = MemoryContextAlloc(cxt, Max(k.len, 1));
		memcpy((char *) k.data, VARDATA_ANY(key), k.len);
		entry = hash_search(latest, &k, HASH_ENTER, &found);
		entry->offset = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													SPI_tuptable->tupdesc, 2, &isnull));
	}
	return latest;
}

/* One segment to compact, and how it went. */
typedef struct SegmentCompaction
{
	const char *topic;
	int			partition;
	int64		base;
	HTAB	   *latest;
	TimestampTz tombstone_cutoff;	/* tombstones older than this go */
	int64		freed;			/* bytes */
	bool		rewritten;
} SegmentCompaction;

/*
 * kept tells whether the row in slot stays: it has no key, or no later
 * message of its key supersedes it; and it is not a tombstone past its
 * time.
 */
static bool
kept(SegmentCompaction *sc, TupleTableSlot *slot)
{
	bool		isnull;
	Datum		key = slot_getattr(slot, Anum_message_key, &isnull);
	int64		offset;
	LatestOffset *entry;
	KeyBytes	k;

	if (isnull)
		return true;
	offset = DatumGetInt64(slot_getattr(slot, Anum_message_offset, &isnull));
	k.data = VARDATA_ANY(DatumGetPointer(key));
	k.len = VARSIZE_ANY_EXHDR(DatumGetPointer(key));
	entry = hash_search(sc->latest, &k, HASH_FIND, NULL);
	if (entry != NULL && entry->offset > offset)
		return false;
	(void) slot_getattr(slot, Anum_message_value, &isnull);
	return !isnull ||
		DatumGetTimestampTz(slot_getattr(slot, Anum_message_timestamp, &isnull)) >=
		sc->tombstone_cutoff;
}

/*
 * scan_segment goes through the rows of a segment that every snapshot
 * sees, in offset order, and returns how many it would drop; with rw, it
 * writes the rows kept there.
 */
static int64
scan_segment(SegmentCompaction *sc, Relation rel, RewriteState rw)
{
	Relation	index = index_open(segment_offset_index(rel), AccessShareLock);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	IndexScanDesc scan = index_beginscan(rel, index, snapshot, 0, 0);
	int64		dropped = 0;

	index_rescan(scan, NULL, 0, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		should_free;
		HeapTuple	tuple;

		CHECK_FOR_INTERRUPTS();
		if (!kept(sc, slot))
		{
			dropped++;
			continue;
		}
		if (rw == NULL)
			continue;
		tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);
		rewrite_heap_tuple(rw, tuple, heap_copytuple(tuple));
		if (should_free)
			heap_freetuple(tuple);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	index_close(index, AccessShareLock);
	return dropped;
}

/*
 * compact_segment rewrites one segment with the rows it keeps, unless it
 * keeps them all.  arg is its SegmentCompaction.  A segment someone reads
 * raises ERRCODE_LOCK_NOT_AVAILABLE, which rolls the work back.
 */
static void
compact_segment(void *arg)
{
	SegmentCompaction *sc = (SegmentCompaction *) arg;
	Oid			relid = topic_table_relid(sc->topic, sc->partition, sc->base);
	Relation	rel;
	Relation	new_rel;
	Oid			new_relid;
	RewriteState rw;
	TransactionId frozen;
	MultiXactId minmulti;
	char		persistence;
	int64		before;

	/* readers go on while the new heap is built; writers there are none */
	if (!OidIsValid(relid) || !ConditionalLockRelationOid(relid, ShareLock))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("segment %lld of partition %d of topic \"%s\" is busy",
						(long long) sc->base, sc->partition, sc->topic)));
	rel = table_open(relid, NoLock);
	/* a cursor of this very session reading it keeps it too */
	CheckTableNotInUse(rel, "compact");
	if (scan_segment(sc, rel, NULL) == 0)
	{
		table_close(rel, NoLock);
		return;
	}
	before = relation_bytes(rel);
	frozen = rel->rd_rel->relfrozenxid;
	minmulti = rel->rd_rel->relminmxid;
	persistence = rel->rd_rel->relpersistence;
	new_relid = make_new_heap(relid, rel->rd_rel->reltablespace, rel->rd_rel->relam,
							  persistence, NoLock);
	new_rel = table_open(new_relid, AccessExclusiveLock);
	rw = begin_heap_rewrite(rel, new_rel, GetOldestNonRemovableTransactionId(rel),
							frozen, minmulti);
	(void) scan_segment(sc, rel, rw);
	end_heap_rewrite(rw);
	table_close(new_rel, NoLock);
	table_close(rel, NoLock);

	/* the swap: short, and only when nobody reads the segment */
	if (!ConditionalLockRelationOid(relid, AccessExclusiveLock))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("segment %lld of partition %d of topic \"%s\" is being read",
						(long long) sc->base, sc->partition, sc->topic)));
	finish_heap_swap(relid, new_relid, false, false, false, true, frozen,
					 minmulti, persistence);
	rel = table_open(relid, NoLock);
	sc->freed = before - relation_bytes(rel);
	table_close(rel, NoLock);
	sc->rewritten = true;
}

/*
 * compaction_run compacts a partition of a compacted topic, and returns
 * how many segments it rewrote, adding the bytes freed to *bytes.  Caller
 * runs as the owner of the topic's tables, connected to SPI, with the
 * topic open.
 */
int
compaction_run(Topic *topic, int partition, TimestampTz now, int64 *bytes)
{
	const TopicConfig *cfg = &topic->cfg;
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[3] = {TEXTOID, INT4OID, INT8OID};
	Datum		args[3];
	PartitionBounds bounds;
	SPITupleTable *tuptable;
	uint64		n;
	uint64		i;
	int64		compacted_end;
	int64		clean_end = -1;
	int64		sealed_freed = 0;
	TimestampTz lag_cutoff;
	SegmentCompaction sc;
	int			rewritten = 0;
	bool		unused_null;
	char	   *error;

	if (!cfg->cleanup_compact || topic_partition_pending(topic, partition))
		return 0;
	topic_bounds(topic, partition, &bounds);
	lag_cutoff = time_before(now, cfg->min_compaction_lag_ms);

	args[0] = CStringGetTextDatum(topic->name);
	args[1] = Int32GetDatum(partition);
	spi_select_latest("SELECT s.base_offset, s.end_offset, s.max_timestamp, "
					  "p.compacted_end, s.base_offset OPERATOR(pg_catalog.<) p.sealed_end "
					  "FROM topics.segment s JOIN topics.partition p "
					  "ON p.topic OPERATOR(pg_catalog.=) s.topic "
					  "AND p.partition OPERATOR(pg_catalog.=) s.partition "
					  "WHERE s.topic OPERATOR(pg_catalog.=) $1 "
					  "AND s.partition OPERATOR(pg_catalog.=) $2 "
					  "AND s.end_offset OPERATOR(pg_catalog.>) p.log_start "
					  "ORDER BY s.base_offset",
					  2, argtypes, args);
	n = SPI_processed;
	tuptable = SPI_tuptable;
	if (n < 2)
		return 0;

	/* the segments it may compact: sealed, old enough, not the last one */
	for (i = 0; i + 1 < n; i++)
	{
		bool		isnull;
		bool		unmeasured;
		int64		base = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 1, &isnull));
		int64		end = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 2, &isnull));
		Datum		newest = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 3, &unmeasured);

		if (end > bounds.lso ||
			(unmeasured ? segment_newest_timestamp(topic->name, partition, base) :
			 DatumGetTimestampTz(newest)) >= lag_cutoff)
			break;
		clean_end = end;
	}
	compacted_end = DatumGetInt64(SPI_getbinval(tuptable->vals[0], tuptable->tupdesc, 4,
												&unused_null));
	if (clean_end <= compacted_end)
		return 0;

	sc.topic = topic->name;
	sc.partition = partition;
	sc.latest = latest_offsets(topic->name, partition, compacted_end, clean_end, cxt);
	sc.tombstone_cutoff = time_before(now, cfg->delete_retention_ms);

	/* oldest first: a tombstone goes only once the older values went */
	for (i = 0; i + 1 < n; i++)
	{
		bool		isnull;
		int64		end = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 2, &isnull));

		if (end > clean_end)
			break;
		sc.base = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 1, &isnull));
		sc.freed = 0;
		sc.rewritten = false;
		/*
		 * A segment that could not be compacted ends the run, which the next
		 * one starts over: a tombstone after it must not go while the values
		 * it deletes may still be there.
		 */
		if (!subxact_run(compact_segment, &sc,
						 psprintf("could not compact partition %d of topic \"%s\"",
								  partition, topic->name), &error) ||
			error != NULL)
			return rewritten;
		if (!sc.rewritten)
			continue;
		rewritten++;
		*bytes += sc.freed;
		if (DatumGetBool(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 5, &isnull)))
			sealed_freed += sc.freed;
	}

	args[2] = Int64GetDatum(clean_end);
	if (SPI_execute_with_args("UPDATE topics.partition SET compacted_end = $3, "
							  "sealed_bytes = GREATEST(sealed_bytes OPERATOR(pg_catalog.-) $4, 0) "
							  "WHERE topic OPERATOR(pg_catalog.=) $1 "
							  "AND partition OPERATOR(pg_catalog.=) $2",
							  4, (Oid[]) {TEXTOID, INT4OID, INT8OID, INT8OID},
							  (Datum[]) {args[0], args[1], args[2], Int64GetDatum(sealed_freed)},
							  NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the compaction of topic \"%s\"", topic->name);
	return rewritten;
}
