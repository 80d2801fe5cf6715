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
 * under a share lock (readers go on); once the new heaps of every
 * partition of the topic are built, their files take the place of the
 * segments' under exclusive locks taken without waiting, the indexes
 * rebuilt, so that those locks last for the swaps and the commit that
 * follows.  The segment keeps its OID, so the segment lists of backends
 * stay valid, and a reader sees the whole old segment or the whole new
 * one: one that holds the segment locked (a cursor) keeps the compaction
 * off until a later run.  It all commits or rolls back with the job's
 * subtransaction: a crash leaves the segment as it was.
 *
 * A heap rewrite ignores snapshots, so the messages that supersede others
 * must be seen by every snapshot first (settled): a REPEATABLE READ reader
 * of the topic's tables, or a dump, that began before them still finds the
 * messages they supersede.
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
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/cluster.h"
#include "commands/tablecmds.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/backend_status.h"
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
 * partition_table returns the quoted name of a partition's table, through
 * which SQL reads its segments.
 */
static char *
partition_table(const char *topic, int partition)
{
	return quote_qualified_identifier(TOPICS_DATA_SCHEMA,
									  topic_table_name(topic, partition, -1));
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
							   partition_table(topic, partition)),
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

/* A segment rewritten into a new heap, waiting for the swap. */
typedef struct BuiltSegment
{
	Oid			relid;
	Oid			new_relid;
	TransactionId frozen;
	MultiXactId minmulti;
	char		persistence;
	int64		before;			/* bytes of the segment as it was */
	bool		sealed;			/* counted in the partition's sealed size */
} BuiltSegment;

/* A partition's compaction, its new heaps waiting for their swaps. */
typedef struct PartitionPass
{
	char		topic[NAMEDATALEN];
	int			partition;
	int64		clean_end;		/* compacted_end once every swap is done */
	bool		whole;			/* every segment up to clean_end was built */
	List	   *built;			/* BuiltSegments, oldest first */
} PartitionPass;

/* The passes of the topic being compacted (compaction_begin, _finish). */
static List *passes = NIL;

/* How long a patient compaction job waits for older snapshots, in all. */
#define PATIENCE_MS		10000
static TimestampTz patience_until = 0;

/* One segment to compact. */
typedef struct SegmentCompaction
{
	const char *topic;
	int			partition;
	int64		base;
	bool		sealed;
	HTAB	   *latest;
	TimestampTz tombstone_cutoff;	/* tombstones older than this go */
	PartitionPass *pass;
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
	Datum		datum = slot_getattr(slot, Anum_message_key, &isnull);
	bytea	   *key;
	int64		offset;
	LatestOffset *entry;
	KeyBytes	k;

	if (isnull)
		return true;
	/* a long key is compressed or out of line: compare its bytes */
	key = DatumGetByteaPP(datum);
	offset = DatumGetInt64(slot_getattr(slot, Anum_message_offset, &isnull));
	k.data = VARDATA_ANY(key);
	k.len = VARSIZE_ANY_EXHDR(key);
	entry = hash_search(sc->latest, &k, HASH_FIND, NULL);
	if ((Pointer) key != DatumGetPointer(datum))
		pfree(key);
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
 * compact_segment builds the new heap of one segment, with the rows it
 * keeps, unless it keeps them all, and adds it to its pass; arg is its
 * SegmentCompaction.  The segment stays locked in share mode, against
 * writers (there are none) and against other compactions, not readers.  A
 * segment someone holds raises ERRCODE_LOCK_NOT_AVAILABLE.
 */
static void
compact_segment(void *arg)
{
	SegmentCompaction *sc = (SegmentCompaction *) arg;
	Oid			relid = topic_table_relid(sc->topic, sc->partition, sc->base);
	Relation	rel;
	Relation	new_rel;
	RewriteState rw;
	BuiltSegment *b;

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
	b = palloc(sizeof(BuiltSegment));
	b->relid = relid;
	b->before = relation_bytes(rel);
	b->frozen = rel->rd_rel->relfrozenxid;
	b->minmulti = rel->rd_rel->relminmxid;
	b->persistence = rel->rd_rel->relpersistence;
	b->sealed = sc->sealed;
	b->new_relid = make_new_heap(relid, rel->rd_rel->reltablespace, rel->rd_rel->relam,
								 b->persistence, NoLock);
	new_rel = table_open(b->new_relid, AccessExclusiveLock);
	rw = begin_heap_rewrite(rel, new_rel, GetOldestNonRemovableTransactionId(rel),
							b->frozen, b->minmulti);
	(void) scan_segment(sc, rel, rw);
	end_heap_rewrite(rw);
	table_close(new_rel, NoLock);
	table_close(rel, NoLock);
	sc->pass->built = lappend(sc->pass->built, b);
}

/*
 * job_snapshot_sees tells whether the worker's snapshot, its job's, sees
 * every message of a partition in [from, below) that the latest snapshot
 * sees.  The worker holds no other.
 */
static bool
job_snapshot_sees(Topic *topic, int partition, int64 from, int64 below)
{
	const char *sql = psprintf("SELECT pg_catalog.count(*) FROM %s "
							   "WHERE msg_offset OPERATOR(pg_catalog.>=) $1 "
							   "AND msg_offset OPERATOR(pg_catalog.<) $2",
							   partition_table(topic->name, partition));
	Datum		args[2] = {Int64GetDatum(from), Int64GetDatum(below)};
	Snapshot	job = GetOldestSnapshot();
	SPIPlanPtr	plan;
	bool		isnull;
	int64		seen;

	if (job == NULL)
		return true;
	plan = SPI_prepare(sql, 2, (Oid[]) {INT8OID, INT8OID});
	if (plan == NULL ||
		SPI_execute_snapshot(plan, args, NULL, job, InvalidSnapshot, true,
							 false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not count the messages of topic \"%s\"", topic->name);
	seen = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									   1, &isnull));
	SPI_freeplan(plan);
	spi_select_latest(sql, 2, (Oid[]) {INT8OID, INT8OID}, args);
	return seen == DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * others_see tells whether the snapshots of the other backends that may
 * read the topic's tables (of this database, and walsenders, which hold
 * a standby's with hot_standby_feedback) and of the replication slots all
 * see transaction xid ended: their xmin lies above it.  Autovacuum's are
 * left out: what it reads it reads for statistics.
 */
static bool
others_see(TransactionId xid)
{
	TransactionId slot_xmin;
	TransactionId catalog_xmin;
	int			n;
	int			i;

	ProcArrayGetReplicationSlotXmin(&slot_xmin, &catalog_xmin);
	if (TransactionIdIsValid(slot_xmin) && !TransactionIdPrecedes(xid, slot_xmin))
		return false;
	pgstat_clear_backend_activity_snapshot();
	n = pgstat_fetch_stat_numbackends();
	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *b = pgstat_fetch_stat_local_beentry(i);
		PgBackendStatus *status = &b->backendStatus;

		if (status->st_procpid == MyProcPid ||
			status->st_backendType == B_AUTOVAC_WORKER ||
			(status->st_databaseid != MyDatabaseId &&
			 status->st_backendType != B_WAL_SENDER))
			continue;
		if (TransactionIdIsValid(b->backend_xmin) &&
			!TransactionIdPrecedes(xid, b->backend_xmin))
			return false;
	}
	return true;
}

/*
 * settled tells whether every snapshot sees the messages of a partition in
 * [from, below) committed: only then may the messages they supersede go,
 * since a heap rewrite ignores snapshots, and a snapshot older than a
 * superseding message (a REPEATABLE READ reader of the topic's tables, a
 * cursor, a dump, a standby's) would otherwise find neither.  As CREATE
 * INDEX CONCURRENTLY waits for older snapshots, it waits for those whose
 * xmin does not lie above the youngest of those messages: the other
 * backends' (others_see), and this one's.  With patience (run_maintenance),
 * it waits for the others until the job's deadline, 10 seconds after it
 * began (compaction_begin); the worker tries again at its next round.
 */
static bool
settled(Topic *topic, int partition, int64 from, int64 below, bool patient)
{
	TransactionId youngest;
	bool		isnull;
	bool		ok;

	spi_select_latest(psprintf("SELECT xmin FROM %s "
							   "WHERE msg_offset OPERATOR(pg_catalog.>=) $1 "
							   "AND msg_offset OPERATOR(pg_catalog.<) $2 "
							   "ORDER BY pg_catalog.age(xmin) LIMIT 1",
							   partition_table(topic->name, partition)),
					  2, (Oid[]) {INT8OID, INT8OID},
					  (Datum[]) {Int64GetDatum(from), Int64GetDatum(below)});
	if (SPI_processed == 0)
		return true;
	youngest = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1, &isnull));
	if (!TransactionIdIsNormal(youngest))
		return true;
	/*
	 * This backend's own, which it cannot wait for.  A user's session may
	 * hold an older snapshot in a cursor, which cannot be told from its
	 * statement's: its call leaves the messages to a later one.  The
	 * worker's one snapshot may have an xmin as low only because an
	 * unrelated transaction was running when it was taken: what it sees
	 * tells.
	 */
	if (TransactionIdIsValid(MyProc->xmin) &&
		!TransactionIdPrecedes(youngest, MyProc->xmin) &&
		(patient || !job_snapshot_sees(topic, partition, from, below)))
		return false;
	for (;;)
	{
		ok = others_see(youngest);
		if (ok || !patient || GetCurrentTimestamp() >= patience_until)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return ok;
}

/*
 * compaction_run builds the new heaps of a partition of a compacted topic,
 * which compaction_finish swaps in, and returns 0 (what it compacted is
 * counted by compaction_finish); patient, it waits a moment for snapshots
 * older than the newest messages (see settled).  Caller runs as the owner
 * of the topic's tables, connected to SPI, with the topic open.
 */
int
compaction_run(Topic *topic, int partition, TimestampTz now, bool patient,
			   int64 *bytes)
{
	const TopicConfig *cfg = &topic->cfg;
	MemoryContext cxt = CurrentMemoryContext;
	PartitionBounds bounds;
	SPITupleTable *tuptable;
	uint64		n;
	uint64		i;
	int64		compacted_end;
	int64		clean_end = -1;
	TimestampTz lag_cutoff;
	SegmentCompaction sc;
	PartitionPass *pass;
	bool		unused_null;
	char	   *error;

	if (!cfg->cleanup_compact || topic_partition_pending(topic, partition))
		return 0;
	topic_bounds(topic, partition, &bounds);
	lag_cutoff = time_before(now, cfg->min_compaction_lag_ms);

	segments_from_log_start(topic->name, partition, false);
	n = SPI_processed;
	tuptable = SPI_tuptable;
	if (n < 2)
		return 0;

	/* the segments it may compact: sealed, old enough, not the last one */
	for (i = 0; i + 1 < n; i++)
	{
		bool		isnull;
		bool		unmeasured;
		int64		base = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc,
														   SEGMENT_BASE, &isnull));
		int64		end = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc,
														  SEGMENT_END, &isnull));
		Datum		newest = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc,
										   SEGMENT_NEWEST, &unmeasured);

		if (end > bounds.lso ||
			(unmeasured ? segment_newest_timestamp(topic->name, partition, base) :
			 DatumGetTimestampTz(newest)) >= lag_cutoff)
			break;
		clean_end = end;
	}
	compacted_end = DatumGetInt64(SPI_getbinval(tuptable->vals[0], tuptable->tupdesc,
												SEGMENT_COMPACTED, &unused_null));
	if (clean_end <= compacted_end ||
		!settled(topic, partition, compacted_end, clean_end, patient))
		return 0;

	pass = palloc0(sizeof(PartitionPass));
	strlcpy(pass->topic, topic->name, NAMEDATALEN);
	pass->partition = partition;
	pass->clean_end = clean_end;
	pass->whole = true;
	passes = lappend(passes, pass);
	sc.topic = topic->name;
	sc.partition = partition;
	sc.pass = pass;
	sc.latest = latest_offsets(topic->name, partition, compacted_end, clean_end, cxt);
	sc.tombstone_cutoff = time_before(now, cfg->delete_retention_ms);

	/* oldest first: a tombstone goes only once the older values went */
	for (i = 0; i + 1 < n; i++)
	{
		bool		isnull;
		int64		end = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc,
												  SEGMENT_END, &isnull));

		if (end > clean_end)
			break;
		sc.base = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc,
											  SEGMENT_BASE, &isnull));
		sc.sealed = DatumGetBool(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc,
											   SEGMENT_SEALED, &isnull));

		/*
		 * A segment that could not be compacted ends the pass, which the next
		 * run starts over: a tombstone after it must not go while the values
		 * it deletes may still be there.
		 */
		if (!subxact_run(compact_segment, &sc,
						 psprintf("could not compact partition %d of topic \"%s\"",
								  partition, topic->name), &error) ||
			error != NULL)
		{
			pass->whole = false;
			break;
		}
	}
	return 0;
}

/*
 * compaction_begin forgets the passes of an earlier compaction that ended
 * before its swaps (an error rolled them back), and sets the deadline of
 * its patience.
 */
void
compaction_begin(void)
{
	passes = NIL;
	patience_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), PATIENCE_MS);
}

/*
 * drop_new_heap drops a new heap that will not be swapped in.
 */
static void
drop_new_heap(BuiltSegment *b)
{
	ObjectAddress object;

	object.classId = RelationRelationId;
	object.objectId = b->new_relid;
	object.objectSubId = 0;
	performDeletion(&object, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
}

/*
 * compaction_finish swaps the new heaps of a topic's compaction in, each
 * under an exclusive lock taken without waiting, all at the end, so that
 * the locks are held for the swaps alone and the commit that follows
 * them; records how far each partition was compacted, and returns how
 * many segments it swapped, adding the bytes freed to *bytes.  A segment
 * someone reads now ends its partition's pass there: the new heaps of the
 * segments from it on are dropped.  Caller is connected to SPI.
 */
int
compaction_finish(int64 *bytes)
{
	ListCell   *lc;
	int			swapped = 0;

	foreach(lc, passes)
	{
		PartitionPass *pass = lfirst(lc);
		ListCell   *lb;
		int64		sealed_freed = 0;
		bool		whole = pass->whole;

		foreach(lb, pass->built)
		{
			BuiltSegment *b = lfirst(lb);
			Relation	rel;
			int64		freed;

			if (!whole || !ConditionalLockRelationOid(b->relid, AccessExclusiveLock))
			{
				whole = false;
				drop_new_heap(b);
				continue;
			}
			finish_heap_swap(b->relid, b->new_relid, false, false, false, true,
							 b->frozen, b->minmulti, b->persistence);
			rel = table_open(b->relid, NoLock);
			freed = b->before - relation_bytes(rel);
			table_close(rel, NoLock);
			*bytes += freed;
			if (b->sealed)
				sealed_freed += freed;
			swapped++;
		}
		if (SPI_execute_with_args("UPDATE topics.partition SET "
								  "compacted_end = CASE WHEN $3 THEN GREATEST(compacted_end, $4) "
								  "ELSE compacted_end END, "
								  "sealed_bytes = GREATEST(sealed_bytes OPERATOR(pg_catalog.-) $5, 0) "
								  "WHERE topic OPERATOR(pg_catalog.=) $1 "
								  "AND partition OPERATOR(pg_catalog.=) $2",
								  5, (Oid[]) {TEXTOID, INT4OID, BOOLOID, INT8OID, INT8OID},
								  (Datum[]) {CStringGetTextDatum(pass->topic),
									  Int32GetDatum(pass->partition), BoolGetDatum(whole),
									  Int64GetDatum(pass->clean_end), Int64GetDatum(sealed_freed)},
								  NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not record the compaction of topic \"%s\"", pass->topic);
	}
	passes = NIL;
	return swapped;
}
