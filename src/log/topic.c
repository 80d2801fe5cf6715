/*-------------------------------------------------------------------------
 *
 * topic.c
 *	  Per-backend cache of topic metadata, so that produce and fetch read
 *	  no catalog table on their hot path.
 *
 * The cache is filled under the latest snapshot (so that a segment created
 * a moment ago by a worker is seen whatever the caller's isolation level),
 * and kept current by relcache invalidations, which change the partition
 * descriptors of a topic's tables: one of the root (adding partitions,
 * dropping the topic) makes the whole entry stale, to be loaded again the
 * next time a caller opens the topic, and the old copy is only freed at the
 * next topic_open, when no caller holds pointers into it any more; one of a
 * partition's table (a segment added) makes only that partition's segment
 * list stale, and it is brought up to date by reading the segments after
 * its last one.  A segment list only grows (drop_topic alone removes
 * segments, with the root), so a roll-over costs the same at ten segments
 * as at ten thousand, and pointers into a list stay valid: a list that
 * outgrows its array gets a new one and the old one is left as it was.
 * An invalidation finds its topic through a map of table OIDs, whatever
 * the number of topics and partitions cached.
 *
 * The catalog names topics and partitions only; the OIDs of a topic's
 * tables are looked up by the names topic_tables.c gives them, so that
 * the catalog is the same on every node.  A table that is missing is a
 * clear error: the catalog and the tables were changed by hand.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "guc.h"
#include "log/topic.h"
#include "log/topic_tables.h"
#include "preload.h"
#include "relids.h"
#include "subxact.h"

/* Columns of topics.topic and topics.segment that the cache reads. */
#define Anum_topic_name				1
#define Anum_topic_mode				2
#define Anum_topic_partitions		3
#define Anum_topic_config			4
#define Anum_topic_owner			5
#define Anum_segment_topic			1
#define Anum_segment_partition		2
#define Anum_segment_base			3
#define Anum_segment_end			4
#define Anum_partition_topic		1
#define Anum_partition_partition	2
#define Anum_partition_log_start	3

/* The table of a topic that an OID names: its root or a partition's. */
typedef struct TableOwner
{
	Oid			relid;			/* hash key */
	char		topic[NAMEDATALEN];
	int			partition;		/* -1 for the root */
} TableOwner;

static HTAB *TopicCache = NULL;
static HTAB *TableOwners = NULL;
static List *retired_contexts = NIL;
static bool stale_topics = false;	/* some entry was invalidated */
static int	nloaded = 0;		/* entries with a copy of their topic */
static uint64 use_tick = 0;		/* counts topic_open calls */
static bool evicting = false;	/* entries were given up for the bound */

static void retire_stale(XactEvent event, void *arg);

/*
 * topic_cache_inval marks stale the topic whose root was invalidated, or
 * the segment list of the partition whose table was (every topic when
 * relid is InvalidOid).
 */
static void
topic_cache_inval(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	Topic	   *topic;
	TableOwner *owner;

	if (TopicCache == NULL)
		return;
	if (relid == InvalidOid)
	{
		hash_seq_init(&status, TopicCache);
		while ((topic = hash_seq_search(&status)) != NULL)
			topic->valid = false;
		stale_topics = true;
		return;
	}
	owner = hash_search(TableOwners, &relid, HASH_FIND, NULL);
	if (owner == NULL)
		return;
	topic = hash_search(TopicCache, owner->topic, HASH_FIND, NULL);
	if (topic == NULL || !topic->valid)
		return;
	if (owner->partition < 0)
	{
		if (topic->relid == relid)
		{
			topic->valid = false;
			stale_topics = true;
		}
	}
	else if (owner->partition < topic->npartitions &&
			 topic->partitions[owner->partition].relid == relid)
	{
		topic->partitions[owner->partition].segments_stale = true;
		topic->segments_stale = true;
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
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(TableOwner);
	ctl.hcxt = CacheMemoryContext;
	TableOwners = hash_create("pg_topics table owners", 256, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterRelcacheCallback(topic_cache_inval, (Datum) 0);
	RegisterXactCallback(retire_stale, NULL);
}

/*
 * own_table maps relid to a topic's root (partition -1) or partition.
 */
static void
own_table(Oid relid, const char *topic, int partition)
{
	TableOwner *owner = hash_search(TableOwners, &relid, HASH_ENTER, NULL);

	strlcpy(owner->topic, topic, NAMEDATALEN);
	owner->partition = partition;
}

/*
 * disown_table removes the map entry of relid if it names a table of topic
 * (an OID can have been used again since, by another topic's table).
 */
static void
disown_table(Oid relid, const char *topic)
{
	TableOwner *owner;

	if (!OidIsValid(relid))
		return;
	owner = hash_search(TableOwners, &relid, HASH_FIND, NULL);
	if (owner != NULL && strcmp(owner->topic, topic) == 0)
		hash_search(TableOwners, &relid, HASH_REMOVE, NULL);
}

/*
 * disown_tables removes the map entries of a topic's tables, as it was
 * cached, before it is loaded again or forgotten.
 */
static void
disown_tables(Topic *topic)
{
	int			p;

	disown_table(topic->relid, topic->name);
	for (p = 0; p < topic->npartitions; p++)
		disown_table(topic->partitions[p].relid, topic->name);
}

static Datum
spi_value(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  col, &isnull);

	return isnull ? (Datum) 0 : d;
}

/*
 * catalog_damaged raises 55000 for a topic whose rows in topics.segment do
 * not fit its partitions: they were changed by hand.
 */
static void
catalog_damaged(const char *topic, int partition, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("topics.segment holds %s partition %d of topic \"%s\"",
					what, partition, topic),
			 errdetail("The catalog of a topic changes only through pg_topics; this one was changed by hand."),
			 errhint("Drop the topic with topics.drop_topic().")));
}

/*
 * segment_append adds the segment [base, end) at the end of a partition's
 * list.  A full list moves to an array twice as large, in the topic's
 * memory: the old array stays as it was for the callers that hold
 * pointers into it, and goes with the topic's memory.
 */
static void
segment_append(Topic *topic, TopicPartition *part, int64 base, int64 end)
{
	LogSegment *seg;

	if (part->nsegments == part->maxsegments)
	{
		int			max = Max(4, part->maxsegments * 2);
		LogSegment *segments = MemoryContextAlloc(topic->cxt,
												  sizeof(LogSegment) * max);

		if (part->nsegments > 0)
			memcpy(segments, part->segments,
				   sizeof(LogSegment) * part->nsegments);
		part->segments = segments;
		part->maxsegments = max;
	}
	seg = &part->segments[part->nsegments++];
	seg->base = base;
	seg->end = end;
	seg->relid = InvalidOid;	/* looked up when first used */
}

/*
 * read_segments appends to a topic's segment lists what topics.segment
 * holds after them, as snapshot sees it: of every partition when partition
 * is -1 (the lists then empty), or of that partition alone, from its last
 * cached segment on, through the index: a partition's list costs as much
 * to bring up to date at ten thousand segments as at ten.
 */
static void
read_segments(Topic *topic, int partition, Snapshot snapshot)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData keys[3];
	int			nkeys = 1;
	HeapTuple	tup;

	pgt_key_name(&keys[0], Anum_segment_topic, topic->name);
	if (partition >= 0)
	{
		TopicPartition *part = &topic->partitions[partition];

		pgt_key_int4(&keys[nkeys++], Anum_segment_partition, partition);
		if (part->nsegments > 0)
			ScanKeyInit(&keys[nkeys++], Anum_segment_base,
						BTGreaterStrategyNumber, F_INT8GT,
						Int64GetDatum(part->segments[part->nsegments - 1].base));
	}
	rel = table_open(pgt_relid(PGT_SEGMENT), AccessShareLock);
	scan = systable_beginscan(rel, pgt_relid(PGT_SEGMENT_PKEY), true,
							  snapshot, nkeys, keys);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		int			p;
		TopicPartition *part;

		p = DatumGetInt32(heap_getattr(tup, Anum_segment_partition, desc,
									   &isnull));
		if (p < 0 || p >= topic->npartitions)
			catalog_damaged(topic->name, p, "a segment of stray");
		part = &topic->partitions[p];
		/* the first segment comes with the partition */
		if (part->nsegments == 0)
			part->created_xid = HeapTupleHeaderGetXmin(tup->t_data);
		segment_append(topic, part,
					   DatumGetInt64(heap_getattr(tup, Anum_segment_base,
												  desc, &isnull)),
					   DatumGetInt64(heap_getattr(tup, Anum_segment_end,
												  desc, &isnull)));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * read_log_starts reads the log start of a topic's partitions, as snapshot
 * sees them: of every partition when partition is -1, else of that one,
 * whose cached segments wholly below the first one the catalog still
 * holds (dropped by retention) then leave its list.  The array is not
 * moved: callers may hold pointers into it.
 */
static void
read_log_starts(Topic *topic, int partition, Snapshot snapshot)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData keys[2];
	int			nkeys = 1;
	HeapTuple	tup;

	pgt_key_name(&keys[0], Anum_partition_topic, topic->name);
	if (partition >= 0)
		pgt_key_int4(&keys[nkeys++], Anum_partition_partition, partition);
	rel = table_open(pgt_relid(PGT_PARTITION), AccessShareLock);
	scan = systable_beginscan(rel, pgt_relid(PGT_PARTITION_PKEY), true,
							  snapshot, nkeys, keys);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		int			p = DatumGetInt32(heap_getattr(tup, Anum_partition_partition,
												   RelationGetDescr(rel), &isnull));

		if (p >= 0 && p < topic->npartitions)
			topic->partitions[p].log_start =
				DatumGetInt64(heap_getattr(tup, Anum_partition_log_start,
										   RelationGetDescr(rel), &isnull));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (partition >= 0)
	{
		TopicPartition *part = &topic->partitions[partition];
		int64		first = -1;

		pgt_key_name(&keys[0], Anum_segment_topic, topic->name);
		pgt_key_int4(&keys[1], Anum_segment_partition, partition);
		rel = table_open(pgt_relid(PGT_SEGMENT), AccessShareLock);
		scan = systable_beginscan(rel, pgt_relid(PGT_SEGMENT_PKEY), true,
								  snapshot, 2, keys);
		tup = systable_getnext(scan);
		if (HeapTupleIsValid(tup))
		{
			bool		isnull;

			first = DatumGetInt64(heap_getattr(tup, Anum_segment_base,
											   RelationGetDescr(rel), &isnull));
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
		while (part->nsegments > 1 && part->segments[0].end <= first)
		{
			part->segments++;
			part->nsegments--;
			part->maxsegments--;
		}
	}
}

/*
 * topic_load fills entry from the catalog, as one snapshot sees it;
 * returns false when no topic of that name exists.  The catalog is read
 * by its indexes, without SPI: a backend that uses a thousand topics
 * loads each of them.  (The 0.2 update made the catalog tables anew, so
 * their columns have the numbers above.)
 */
static bool
topic_load(Topic *entry, const char *name)
{
	MemoryContext cxt;
	char	   *mode;
	Jsonb	   *config;
	int			p;
	Snapshot	snapshot;
	Relation	rel;
	TupleDesc	desc;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		isnull;
	TransactionId row_xmin;

	/*
	 * The tables are looked up under a catalog snapshot taken after the
	 * snapshot the catalog rows are read under: a partition whose segment
	 * rows this sees has a table that the lookup finds, even before the
	 * invalidations of the transaction that made both arrive.
	 */
	InvalidateCatalogSnapshot();
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	rel = table_open(pgt_relid(PGT_TOPIC), AccessShareLock);
	desc = RelationGetDescr(rel);
	pgt_key_name(&key, Anum_topic_name, name);
	scan = systable_beginscan(rel, pgt_relid(PGT_TOPIC_PKEY), true, snapshot,
							  1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
	{
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
		UnregisterSnapshot(snapshot);
		return false;
	}

	cxt = AllocSetContextCreate(CacheMemoryContext, "pg_topics topic",
								ALLOCSET_SMALL_SIZES);
	MemoryContextCopyAndSetIdentifier(cxt, name);
	entry->cxt = cxt;
	nloaded++;

	/* every column read is NOT NULL */
	mode = TextDatumGetCString(heap_getattr(tup, Anum_topic_mode, desc, &isnull));
	entry->mode = topic_mode_from_name(mode);
	entry->npartitions = DatumGetInt32(heap_getattr(tup, Anum_topic_partitions,
													desc, &isnull));
	config = DatumGetJsonbP(heap_getattr(tup, Anum_topic_config, desc, &isnull));
	topic_config_parse(config, entry->mode, &entry->cfg);
	entry->config = MemoryContextAlloc(cxt, VARSIZE(config));
	memcpy(entry->config, config, VARSIZE(config));
	entry->owner = DatumGetObjectId(heap_getattr(tup, Anum_topic_owner, desc,
												 &isnull));
	row_xmin = HeapTupleHeaderGetXmin(tup->t_data);
	entry->partitions = MemoryContextAllocZero(cxt, sizeof(TopicPartition) *
											   Max(entry->npartitions, 1));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	/* the segments as the same snapshot sees them, so no partition is new */
	read_segments(entry, -1, snapshot);
	read_log_starts(entry, -1, snapshot);
	UnregisterSnapshot(snapshot);

	entry->relid = topic_table_relid(name, -1, -1);
	if (!OidIsValid(entry->relid))
		topic_table_missing(name, name);
	own_table(entry->relid, name, -1);
	for (p = 0; p < entry->npartitions; p++)
	{
		TopicPartition *part = &entry->partitions[p];

		/*
		 * A partition without segments is not made yet (topic_admin.c): it
		 * came with the topic's row, or with its last update (add_partitions).
		 * If its table is there, it was made after our snapshot, or its
		 * segments' rows were deleted by hand: a newer snapshot tells.
		 */
		if (part->nsegments == 0 &&
			OidIsValid(topic_table_relid(name, p, -1)))
		{
			Snapshot	newer = RegisterSnapshot(GetLatestSnapshot());

			read_segments(entry, p, newer);
			UnregisterSnapshot(newer);
			if (part->nsegments == 0)
				catalog_damaged(name, p, "no segment of");
		}
		if (part->nsegments == 0)
		{
			part->created_xid = row_xmin;
			continue;
		}
		part->relid = topic_table_relid(name, p, -1);
		if (!OidIsValid(part->relid))
		{
			/*
			 * An earlier lookup, before the partition was made, may have
			 * left a negative cache entry that the invalidations of the
			 * transaction that made it, committed before our snapshot, have
			 * not reached yet.
			 */
			AcceptInvalidationMessages();
			part->relid = topic_table_relid(name, p, -1);
		}
		if (!OidIsValid(part->relid))
			topic_table_missing(name, topic_table_name(name, p, -1));
		own_table(part->relid, name, p);
	}

	entry->valid = true;
	entry->segments_stale = false;
	return true;
}

/*
 * refresh_segments brings the segment lists of a topic's invalidated
 * partitions up to date.
 */
static void
refresh_segments(Topic *topic)
{
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	int			p;

	topic->segments_stale = false;
	for (p = 0; p < topic->npartitions; p++)
	{
		TopicPartition *part = &topic->partitions[p];

		if (!part->segments_stale)
			continue;
		part->segments_stale = false;
		PG_TRY();
		{
			read_segments(topic, p, snapshot);
			read_log_starts(topic, p, snapshot);
		}
		PG_CATCH();
		{
			part->segments_stale = true;
			topic->segments_stale = true;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	UnregisterSnapshot(snapshot);
}

/*
 * retire_copy gives up an entry's copy of its topic: its tables leave the
 * map, and its memory goes when free_retired says that nobody holds
 * pointers into it any more.
 */
static void
retire_copy(Topic *topic)
{
	if (topic->cxt != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(CacheMemoryContext);

		disown_tables(topic);
		retired_contexts = lappend(retired_contexts, topic->cxt);
		nloaded--;
		MemoryContextSwitchTo(old);
	}
	topic->cxt = NULL;
	topic->relid = InvalidOid;
	topic->npartitions = 0;
	topic->partitions = NULL;
}

/*
 * free_retired frees the copies given up; caller knows that nobody holds
 * pointers into them.
 */
static void
free_retired(void)
{
	ListCell   *lc;

	foreach(lc, retired_contexts)
		MemoryContextDelete(lfirst(lc));
	list_free(retired_contexts);
	retired_contexts = NIL;
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
	{
		if (entry->segments_stale)
			refresh_segments(entry);
		return entry;
	}

	if (found)
		retire_copy(entry);
	else
	{
		entry->cxt = NULL;
		entry->relid = InvalidOid;
		entry->npartitions = 0;
		entry->partitions = NULL;
	}
	entry->valid = false;
	if (!found)
		entry->next_partition = (uint32) MyProcPid;

	PG_TRY();
	{
		found = topic_load(entry, name);
	}
	PG_CATCH();
	{
		/* a half-loaded entry is stale, not valid: load it again next time */
		entry->valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (!found)
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
 * retire_stale gives up the memory of every invalidated topic when a
 * transaction ends, when no caller holds pointers into it: a topic that
 * was dropped is not looked up again, and would keep its copy for the life
 * of the backend.  A topic used again is loaded anew.  The entry itself
 * stays (it is a few bytes).
 */
static void
retire_stale(XactEvent event, void *arg)
{
	HASH_SEQ_STATUS status;
	Topic	   *topic;

	if (!stale_topics ||
		(event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		 event != XACT_EVENT_PREPARE))
		return;
	stale_topics = false;
	evicting = false;
	hash_seq_init(&status, TopicCache);
	while ((topic = hash_seq_search(&status)) != NULL)
		if (!topic->valid)
			retire_copy(topic);
	free_retired();
}

/*
 * by_last_use orders cached topics, least recently opened first.
 */
static int
by_last_use(const void *a, const void *b)
{
	uint64		ua = (*(Topic *const *) a)->last_used;
	uint64		ub = (*(Topic *const *) b)->last_used;

	return ua < ub ? -1 : (ua > ub ? 1 : 0);
}

/*
 * evict_oldest gives up the copies of the topics opened longest ago, but
 * keep, down to nine tenths of pg_topics.topic_cache_size: they are marked
 * stale now and released when the transaction ends (retire_stale), when
 * no caller holds pointers into them; a topic opened again is loaded anew.
 */
static void
evict_oldest(Topic *keep)
{
	HASH_SEQ_STATUS status;
	Topic	   *topic;
	Topic	  **loaded = palloc(sizeof(Topic *) * nloaded);
	int			n = 0;
	int			i;
	int			excess = nloaded - pg_topics_topic_cache_size * 9 / 10;

	hash_seq_init(&status, TopicCache);
	while ((topic = hash_seq_search(&status)) != NULL)
		if (topic->valid && topic->cxt != NULL && topic != keep && n < nloaded)
			loaded[n++] = topic;
	qsort(loaded, n, sizeof(Topic *), by_last_use);
	for (i = 0; i < n && i < excess; i++)
		loaded[i]->valid = false;
	pfree(loaded);
	stale_topics = true;
	evicting = true;
}

/*
 * topic_open returns the topic of that name with its root table locked in
 * lockmode, which keeps it from being dropped until the transaction ends.
 * Locking processes pending invalidations: when the topic changed before
 * the lock was granted, it is loaded again.
 */
Topic *
topic_open(const char *name, LOCKMODE lockmode)
{
	Oid			missing = InvalidOid;

	pg_topics_check_loaded();

	/* no caller holds pointers into retired copies between calls */
	free_retired();

	for (;;)
	{
		Topic	   *topic = topic_lookup(name);
		Oid			relid = topic->relid;
		bool		exists;

		LockRelationOid(relid, lockmode);
		exists = SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid));
		if (topic->valid && exists)
		{
			topic->last_used = ++use_tick;
			if (nloaded > pg_topics_topic_cache_size && !evicting)
				evict_oldest(topic);
			return topic;
		}
		UnlockRelationOid(relid, lockmode);
		topic->valid = false;

		/*
		 * A topic changed meanwhile loads anew.  The same root table gone
		 * twice means that the catalog names a table that no longer exists.
		 */
		if (!exists && relid == missing)
			topic_table_missing(name, name);
		missing = exists ? InvalidOid : relid;
	}
}

/*
 * topic_reload brings a topic up to date with the catalog, the segment
 * list of partition above all, which a caller found too short, and returns
 * it (a new copy when the whole topic changed; the old one stays readable
 * until the next topic_open).
 */
Topic *
topic_reload(Topic *topic, int partition)
{
	char		name[NAMEDATALEN];

	AcceptInvalidationMessages();
	strlcpy(name, topic->name, NAMEDATALEN);
	if (topic->valid && partition < topic->npartitions)
	{
		/* a partition made since is looked up with the topic's tables */
		if (topic_partition_pending(topic, partition))
			topic->valid = false;
		else
		{
			topic->partitions[partition].segments_stale = true;
			topic->segments_stale = true;
		}
	}
	return topic_lookup(name);
}

/*
 * topic_partition_created_here tells whether the current transaction
 * created a partition (with its topic, or adding partitions): then no
 * other transaction can see it yet.
 */
bool
topic_partition_created_here(Topic *topic, int partition)
{
	TransactionId xid = topic->partitions[partition].created_xid;

	return TransactionIdIsNormal(xid) &&
		TransactionIdIsCurrentTransactionId(xid);
}

/*
 * topic_partition_pending tells whether a partition is not made yet: it
 * has no table and no segment, holds nothing and has no shared state.
 */
bool
topic_partition_pending(Topic *topic, int partition)
{
	return topic->partitions[partition].nsegments == 0;
}

/*
 * topic_partition_state returns the shared state of a partition, rebuilt
 * from storage on first use since the server started.  Not on a standby.
 */
PartitionState *
topic_partition_state(Topic *topic, int partition)
{
	TopicPartition *part = &topic->partitions[partition];

	if (part->nsegments == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("partition %d of topic \"%s\" is not made yet",
						partition, topic->name),
				 errdetail("The tables of a wide topic's partitions are made in the background after the topic is created.")));
	if (part->state == NULL)
		part->state = partition_open(topic->name, partition, part->relid,
									 part->nsegments, part->segments,
									 partition == 0 ? NULL :
									 topic_partition_state(topic, 0));
	return part->state;
}

/*
 * topic_bounds fills bounds with where a partition stands for a reader: its
 * shared state, or on a standby the stable offset the primary persisted.
 */
void
topic_bounds(Topic *topic, int partition, PartitionBounds *bounds)
{
	if (topic_partition_pending(topic, partition))
	{
		/* nothing was written to a partition not made yet */
		memset(bounds, 0, sizeof(PartitionBounds));
		bounds->oldest_xid = InvalidTransactionId;
	}
	else if (RecoveryInProgress())
		partition_standby_bounds(topic->name, partition, bounds);
	else
		partition_bounds(topic_partition_state(topic, partition), bounds);
}

/*
 * topic_log_start returns the first offset of a partition that readers may
 * be handed: messages below it were deleted (retention, delete_records),
 * or are being dropped with their segments.
 */
int64
topic_log_start(Topic *topic, int partition)
{
	return topic->partitions[partition].log_start;
}

/*
 * topic_find_segment returns the segment holding offset, or NULL when the
 * cached chain ends before it.
 */
const LogSegment *
topic_find_segment(Topic *topic, int partition, int64 offset)
{
	TopicPartition *part = &topic->partitions[partition];
	int			lo = 0;
	int			hi = part->nsegments - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		LogSegment *seg = &part->segments[mid];

		if (offset < seg->base)
			hi = mid - 1;
		else if (offset >= seg->end)
			lo = mid + 1;
		else
			return seg;
	}
	return NULL;
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
 * open_states opens a topic and the shared state of each of its
 * partitions.  arg is the topic's name.
 */
static void
open_states(void *arg)
{
	Topic	   *topic = topic_open((const char *) arg, AccessShareLock);
	int			p;

	for (p = 0; p < topic->npartitions; p++)
		if (!topic_partition_pending(topic, p))
			(void) topic_partition_state(topic, p);
}

/*
 * open_partitions opens a topic and the shared state of each of its
 * partitions, in a subtransaction: a topic whose tables were damaged by
 * hand is reported and skipped, and so is one whose root another
 * transaction locks (see topic_lock_unless_busy), until the next round.
 */
static void
open_partitions(const char *name)
{
	if (!topic_lock_unless_busy(name))
		return;

	/*
	 * A lock that stayed busy ends the round, which lets go of every topic
	 * it holds: going on to wait for others would deadlock (see
	 * topic_lock_unless_busy).
	 */
	if (!subxact_try(open_states, (void *) name,
					 psprintf("could not open topic \"%s\"", name)))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not open topic \"%s\": a lock it needs is busy", name)));
}

/*
 * topic_maintain runs the log's share of a database worker's round, inside
 * the worker's transaction: it opens every partition of every topic, so
 * that the stable offset of each is persisted, touched since the server
 * started or not, then lets partition_maintain persist them and forget
 * the states of tables that are gone.
 */
void
topic_maintain(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *names = NIL;
	ListCell   *lc;
	uint64		i;
	AsOwner		as;

	as_owner_begin(&as);
	spi_select_latest("SELECT name FROM topics.topic ORDER BY name", 0, NULL, NULL);
	for (i = 0; i < SPI_processed; i++)
	{
		/* in the caller's memory: SPI's goes at as_owner_end */
		MemoryContext old = MemoryContextSwitchTo(cxt);

		names = lappend(names, TextDatumGetCString(spi_value(i, 1)));
		MemoryContextSwitchTo(old);
	}
	as_owner_end(&as);

	foreach(lc, names)
		open_partitions(lfirst(lc));
	partition_maintain();
}

/*
 * topic_unmade returns the names of the topics this backend has cached
 * that have partitions not made yet (after topic_maintain, those of the
 * database), and sets *counts to their partition counts.
 */
List *
topic_unmade(List **counts)
{
	HASH_SEQ_STATUS status;
	Topic	   *topic;
	List	   *names = NIL;

	*counts = NIL;
	if (TopicCache == NULL)
		return NIL;
	hash_seq_init(&status, TopicCache);
	while ((topic = hash_seq_search(&status)) != NULL)
	{
		int			p;

		if (!topic->valid)
			continue;
		for (p = 0; p < topic->npartitions; p++)
		{
			if (topic_partition_pending(topic, p))
			{
				names = lappend(names, pstrdup(topic->name));
				*counts = lappend_int(*counts, topic->npartitions);
				break;
			}
		}
	}
	return names;
}

/*
 * topic_lookup_row reads a topic's catalog row as the catalog says now,
 * without locking anything or opening its tables: sets *owner and
 * *partitions and returns true, or returns false when there is no such
 * topic.  A caller that must not queue for a lock it may not hold, or that
 * must work on a topic whose tables are damaged, reads this.
 */
bool
topic_lookup_row(const char *name, Oid *owner, int *partitions)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	bool		found;
	AsOwner		as;

	as_owner_begin(&as);
	args[0] = CStringGetTextDatum(name);
	spi_select_latest("SELECT owner::pg_catalog.oid, partitions FROM topics.topic "
			   "WHERE name OPERATOR(pg_catalog.=) $1",
			   1, argtypes, args);
	found = SPI_processed > 0;
	if (found)
	{
		*owner = DatumGetObjectId(spi_value(0, 1));
		*partitions = DatumGetInt32(spi_value(0, 2));
	}
	as_owner_end(&as);
	return found;
}

/*
 * topic_name_from_text returns a topic name argument as a C string,
 * raising 42602 or 42622 unless it is a legal Kafka topic name that fits
 * a table name: 1 to 63 characters of [A-Za-z0-9._-], not "." or "..".
 */
char *
topic_name_from_text(text *name)
{
	char	   *s = text_to_cstring(name);
	size_t		len = strlen(s);
	const char *c;

	if (len == 0 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid topic name \"%s\"", s),
				 errdetail("A topic name may not be empty, \".\" or \"..\".")));
	if (len > TOPIC_NAME_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("topic name \"%s\" is too long", s),
				 errdetail("A topic name may have at most %d characters.",
						   TOPIC_NAME_MAXLEN)));
	for (c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid topic name \"%s\"", s),
					 errdetail("A topic name may hold only ASCII letters, digits, \".\", \"_\" and \"-\", as in Kafka.")));
	return s;
}
