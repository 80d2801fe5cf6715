/*-------------------------------------------------------------------------
 *
 * group_catalog.c
 *	  Reading a consumer group and locking and writing its positions
 *	  straight from the group tables, without SPI: the path every poll
 *	  takes.
 *
 * A poll looks up its member (group, generation, partitions and their
 * committed positions), locks the position of each partition it reads
 * and writes the new positions, when it claims them or at commit.  Through
 * SPI these cost more than reading a thousand messages; here the lookup is
 * four index scans, and a claim an advisory lock, an index scan and a heap
 * update (HOT when the page has room).
 *
 * Reads use the latest snapshot, whatever the caller's isolation level: a
 * rebalance or a position committed during the caller's transaction must
 * be seen, as the lock that a new owner of a partition waits on would be
 * useless if it then read an old position.  (SELECT ... FOR UPDATE would
 * instead raise a serialization failure under REPEATABLE READ.)
 *
 * Membership changes (join, leave, rebalance) stay in PL/pgSQL: they are
 * rare, and they write several tables under the group's row lock.
 *
 * The column numbers below are those of the tables created by the
 * extension's scripts; an upgrade script may add columns at the end only.
 * Names are in the "C" collation (see relids.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/valid.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "groups/group.h"
#include "index_entries.h"
#include "pg_topics.h"
#include "position_commit.h"
#include "relids.h"

/* topics.consumer_group */
#define Anum_group_topic			1
#define Anum_group_name				2
#define Anum_group_owner			3
#define Anum_group_strategy			4
#define Anum_group_reset			5
#define Anum_group_generation		6

/* topics.group_member */
#define Anum_member_topic			1
#define Anum_member_group			2
#define Anum_member_name			3
#define Anum_member_generation		4

/* topics.group_assignment */
#define Anum_assignment_topic		1
#define Anum_assignment_group		2
#define Anum_assignment_partition	3
#define Anum_assignment_member		4

/* topics.committed_offset */
#define Anum_offset_topic			1
#define Anum_offset_group			2
#define Anum_offset_partition		3
#define Anum_offset_committed		4
#define Anum_offset_committed_at	5
#define Natts_offset				5

/*
 * pg_locks shows position locks as advisory locks with objsubid
 * POSITION_LOCK_CLASS, a hash of the topic and group names as classid and
 * the partition as objid.
 */

static int32
gcat_int4(HeapTuple tup, TupleDesc desc, AttrNumber attno, bool *isnull)
{
	Datum		d = heap_getattr(tup, attno, desc, isnull);

	return *isnull ? 0 : DatumGetInt32(d);
}

/*
 * group_lookup fills gm with a group of a topic and, when member is not
 * NULL, that member (is_member false when it is not one), its partitions
 * in ascending order and their committed positions (-1: none).  Returns
 * false when there is no such group.  Reads under the latest snapshot, so
 * a rebalance committed during the caller's transaction is seen.
 */
bool
group_lookup(Topic *topic, const char *group, const char *member,
			 GroupMember *gm)
{
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData keys[3];
	HeapTuple	tup;
	bool		isnull;
	bool		found;
	int			max = 0;

	memset(gm, 0, sizeof(*gm));
	gm->topic = topic->name;
	gm->group = group;

	rel = table_open(pgt_relid(PGT_GROUP), AccessShareLock);
	pgt_key_name(&keys[0], Anum_group_topic, topic->name);
	pgt_key_name(&keys[1], Anum_group_name, group);
	scan = systable_beginscan(rel, pgt_relid(PGT_GROUP_PKEY), true, snapshot,
							  2, keys);
	tup = systable_getnext(scan);
	found = HeapTupleIsValid(tup);
	if (found)
	{
		TupleDesc	desc = RelationGetDescr(rel);
		Datum		d;

		d = heap_getattr(tup, Anum_group_owner, desc, &isnull);
		gm->owner = isnull ? InvalidOid : DatumGetObjectId(d);
		gm->generation = gcat_int4(tup, desc, Anum_group_generation, &isnull);
		d = heap_getattr(tup, Anum_group_reset, desc, &isnull);
		gm->reset = VARDATA_ANY(DatumGetTextPP(d))[0];
		d = heap_getattr(tup, Anum_group_strategy, desc, &isnull);
		gm->strategy = TextDatumGetCString(d);
	}
	systable_endscan(scan);
	table_close(rel, NoLock);
	if (!found || member == NULL)
	{
		UnregisterSnapshot(snapshot);
		return found;
	}

	rel = table_open(pgt_relid(PGT_MEMBER), AccessShareLock);
	pgt_key_name(&keys[0], Anum_member_topic, topic->name);
	pgt_key_name(&keys[1], Anum_member_group, group);
	pgt_key_name(&keys[2], Anum_member_name, member);
	scan = systable_beginscan(rel, pgt_relid(PGT_MEMBER_PKEY), true, snapshot,
							  3, keys);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		gm->is_member = true;
		gm->member_generation = gcat_int4(tup, RelationGetDescr(rel),
										  Anum_member_generation, &isnull);
	}
	systable_endscan(scan);
	table_close(rel, NoLock);
	if (!gm->is_member)
	{
		UnregisterSnapshot(snapshot);
		return true;
	}

	/* the member's partitions, in partition order (the key's) */
	rel = table_open(pgt_relid(PGT_ASSIGNMENT), AccessShareLock);
	pgt_key_name(&keys[0], Anum_assignment_topic, topic->name);
	pgt_key_name(&keys[1], Anum_assignment_group, group);
	scan = systable_beginscan(rel, pgt_relid(PGT_ASSIGNMENT_PKEY), true,
							  snapshot, 2, keys);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		Datum		owner = heap_getattr(tup, Anum_assignment_member, desc, &isnull);

		if (isnull || strcmp(TextDatumGetCString(owner), member) != 0)
			continue;
		if (gm->nassigned == max)
		{
			max = Max(8, max * 2);
			gm->assigned = gm->assigned == NULL ?
				MemoryContextAlloc(CurTransactionContext, sizeof(int) * max) :
				repalloc(gm->assigned, sizeof(int) * max);
		}
		gm->assigned[gm->nassigned++] =
			gcat_int4(tup, desc, Anum_assignment_partition, &isnull);
	}
	systable_endscan(scan);
	table_close(rel, NoLock);
	if (gm->nassigned == 0)
	{
		UnregisterSnapshot(snapshot);
		return true;
	}

	/* their committed positions: both scans come in partition order */
	gm->committed = MemoryContextAlloc(CurTransactionContext,
									   sizeof(int64) * gm->nassigned);
	gm->rows = MemoryContextAlloc(CurTransactionContext,
								  sizeof(ItemPointerData) * gm->nassigned);
	{
		int			i;

		for (i = 0; i < gm->nassigned; i++)
		{
			gm->committed[i] = -1;
			ItemPointerSetInvalid(&gm->rows[i]);
		}
		i = 0;

		rel = table_open(pgt_relid(PGT_OFFSET), AccessShareLock);
		pgt_key_name(&keys[0], Anum_offset_topic, topic->name);
		pgt_key_name(&keys[1], Anum_offset_group, group);
		scan = systable_beginscan(rel, pgt_relid(PGT_OFFSET_PKEY), true,
								  snapshot, 2, keys);
		while (i < gm->nassigned && HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			TupleDesc	desc = RelationGetDescr(rel);
			int32		partition = gcat_int4(tup, desc, Anum_offset_partition,
											  &isnull);
			Datum		d;

			while (i < gm->nassigned && gm->assigned[i] < partition)
				i++;
			if (i == gm->nassigned || gm->assigned[i] != partition)
				continue;
			d = heap_getattr(tup, Anum_offset_committed, desc, &isnull);
			gm->rows[i] = tup->t_self;
			gm->committed[i++] = isnull ? -1 : DatumGetInt64(d);
		}
		systable_endscan(scan);
		table_close(rel, NoLock);
	}
	UnregisterSnapshot(snapshot);
	return true;
}

/*
 * gcat_position_keys sets up the three keys of the position row of a
 * partition.
 */
static void
gcat_position_keys(ScanKey keys, const char *topic, const char *group,
				   int partition)
{
	pgt_key_name(&keys[0], Anum_offset_topic, topic);
	pgt_key_name(&keys[1], Anum_offset_group, group);
	pgt_key_int4(&keys[2], Anum_offset_partition, partition);
}

/*
 * gcat_position_scan starts a scan for the position row of a partition.
 */
static SysScanDesc
gcat_position_scan(Relation rel, Snapshot snapshot, const char *topic,
				   const char *group, int partition)
{
	ScanKeyData keys[3];

	gcat_position_keys(keys, topic, group, partition);
	return systable_beginscan(rel, pgt_relid(PGT_OFFSET_PKEY), true,
							  snapshot, 3, keys);
}

/*
 * gcat_position_seen returns the row version at *seen, pinned in *buffer,
 * when the snapshot sees it and it is the position row of the partition
 * (its line may hold another row since it was read); else NULL.  A
 * version the latest snapshot sees is the one an index scan would find:
 * no committed transaction has replaced it.
 */
static HeapTuple
gcat_position_seen(Relation rel, Snapshot snapshot, ItemPointer seen,
				   const char *topic, const char *group, int partition,
				   HeapTuple fetched, Buffer *buffer)
{
	ScanKeyData keys[3];
	bool		match;

	fetched->t_self = *seen;
	if (!heap_fetch(rel, snapshot, fetched, buffer, false))
		return NULL;
	gcat_position_keys(keys, topic, group, partition);
	HeapKeyTest(fetched, RelationGetDescr(rel), 3, keys, match);
	if (match)
		return fetched;
	ReleaseBuffer(*buffer);
	*buffer = InvalidBuffer;
	return NULL;
}

/*
 * gcat_index_entries makes the index entries of a row version that a
 * non-HOT update created, as CatalogTupleUpdate does (the group tables'
 * indexes are plain ones on columns).
 */
static void
gcat_index_entries(Relation rel, HeapTuple tup)
{
	ResultRelInfo *indexes = CatalogOpenIndexes(rel);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel),
													&TTSOpsHeapTuple);
	int			i;

	ExecStoreHeapTuple(tup, slot, false);
	for (i = 0; i < indexes->ri_NumIndices; i++)
	{
		Relation	index = indexes->ri_IndexRelationDescs[i];
		IndexInfo  *ii = indexes->ri_IndexRelationInfo[i];

		/* one being built concurrently may not take entries yet */
		if (!ii->ii_ReadyForInserts)
			continue;
		if (!index_is_plain(index, ii))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("index \"%s\" of table \"%s\" is not a plain index",
							RelationGetRelationName(index), RelationGetRelationName(rel)),
					 errdetail("pg_topics writes the index entries of its group tables itself, for indexes on columns without a predicate."),
					 errhint("Drop the index; the tables of pg_topics change only through its functions.")));
		index_entry_insert(rel, index, ii, slot, &tup->t_self);
	}
	ExecDropSingleTupleTableSlot(slot);
	CatalogCloseIndexes(indexes);
}

/*
 * gcat_update replaces the position row version otid with one holding
 * value and sets *newtid to the new version.  Returns TM_Ok, or what
 * heap_update says when the row changed since the caller read it (which
 * the position lock rules out but for a group being dropped).
 */
static TM_Result
gcat_update(Relation rel, HeapTuple oldtup, int64 value, ItemPointer newtid)
{
	Datum		values[Natts_offset] = {0};
	bool		nulls[Natts_offset] = {false};
	bool		replace[Natts_offset] = {false};
	HeapTuple	newtup;
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	TM_Result	rc;

	values[Anum_offset_committed - 1] = Int64GetDatum(value);
	replace[Anum_offset_committed - 1] = true;
	values[Anum_offset_committed_at - 1] =
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	replace[Anum_offset_committed_at - 1] = true;
	newtup = heap_modify_tuple(oldtup, RelationGetDescr(rel), values, nulls,
							   replace);
	rc = heap_update(rel, &oldtup->t_self, newtup, GetCurrentCommandId(true),
					 InvalidSnapshot, true, &tmfd, &lockmode);
	if (rc == TM_Ok)
	{
		/* the key does not change: a HOT update needs no index entry */
		if (!HeapTupleIsHeapOnly(newtup))
			gcat_index_entries(rel, newtup);
		*newtid = newtup->t_self;
	}
	heap_freetuple(newtup);
	return rc;
}

/*
 * position_lock_key returns the classid of the position locks of a group:
 * a hash of its topic and group names.  Two groups whose names hash alike
 * share their locks, so one may wait for the other, and no harm follows.
 */
static uint32
position_lock_key(const char *topic, const char *group)
{
	uint32		h = hash_bytes((const unsigned char *) topic, strlen(topic));

	return hash_combine(h, hash_bytes((const unsigned char *) group,
									  strlen(group)));
}

/*
 * group_claim_position takes this transaction's lock on the position of a
 * partition, waiting for a transaction that holds it (the previous owner
 * after a rebalance, or a commit() or seek()), and returns the committed
 * position as that transaction left it, -1 when there is none (no row, or
 * NULL).  When decide is given, it is called with that position, and the
 * row is written with the value it returns when that differs: a poll
 * claims a partition by writing where its read will end, so that when the
 * caller takes every row there is nothing left to write at commit.
 * *written is set to the value the row holds for this transaction (the
 * committed one when there is no row) and *tid to the row version read or
 * written (invalid: no row).  seen, when valid, is the row version the
 * caller's group_lookup read: while it is still the latest, the claim
 * reads it without a search of the index.
 *
 * The lock is a transaction-level advisory lock of our own class on the
 * group and partition (position_lock_key) rather than a row lock: it is released at commit or
 * abort like one (and at the abort of the subtransaction that took it),
 * but needs no transaction id, WAL record or page write.  A long poll
 * locks its positions before it sleeps; were that a row lock, its
 * transaction id would slow down the commit of the very producer that
 * wakes it.  Every writer of a position takes the lock first, so once it
 * is held the latest committed row version is the one to update.
 */
int64
group_claim_position(const char *topic, const char *group, int partition,
					 ItemPointer seen, GroupClaimDecide decide, void *arg,
					 int64 *written, ItemPointer tid)
{
	LOCKTAG		tag;
	Relation	rel;
	Snapshot	snapshot;
	SysScanDesc scan = NULL;
	HeapTupleData fetched;
	Buffer		buffer = InvalidBuffer;
	HeapTuple	tup = NULL;
	int64		committed = -1;
	int64		value;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, position_lock_key(topic, group),
						 (uint32) partition, POSITION_LOCK_CLASS);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	position_writes_begin();
	/* a snapshot taken now sees the commit of the lock's previous holder */
	rel = table_open(pgt_relid(PGT_OFFSET), RowExclusiveLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	if (seen != NULL && ItemPointerIsValid(seen))
		tup = gcat_position_seen(rel, snapshot, seen, topic, group, partition,
								 &fetched, &buffer);
	if (tup == NULL)
	{
		scan = gcat_position_scan(rel, snapshot, topic, group, partition);
		tup = systable_getnext(scan);
	}
	ItemPointerSetInvalid(tid);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_offset_committed,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			committed = DatumGetInt64(d);
	}
	value = decide ? decide(committed, arg) : committed;
	*written = committed;
	if (HeapTupleIsValid(tup))
	{
		*tid = tup->t_self;
		if (value != committed)
		{
			position_commit_moved(committed, value);
			if (gcat_update(rel, tup, value, tid) != TM_Ok)
				elog(ERROR, "position of partition %d changed under its lock",
					 partition);
		}
		*written = value;
	}
	if (scan != NULL)
		systable_endscan(scan);
	if (BufferIsValid(buffer))
		ReleaseBuffer(buffer);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);
	position_writes_end();
	return committed;
}

/*
 * group_position_row_alive tells whether the position row version *tid is
 * still there for this transaction (it has not deleted it).
 */
bool
group_position_row_alive(ItemPointer tid)
{
	Relation	rel = table_open(pgt_relid(PGT_OFFSET), AccessShareLock);
	HeapTupleData tuple;
	Buffer		buffer;
	bool		alive;

	tuple.t_self = *tid;
	alive = heap_fetch(rel, SnapshotSelf, &tuple, &buffer, false);
	if (alive)
		ReleaseBuffer(buffer);
	table_close(rel, AccessShareLock);
	return alive;
}

/*
 * group_write_position replaces the position row version *tid, read or
 * written under this transaction's position lock, by one holding value,
 * sets *tid to the new version and returns true; or returns false when
 * this transaction deleted the row meanwhile (dropping its topic).
 */
bool
group_write_position(ItemPointer tid, int64 value)
{
	Relation	rel;
	HeapTupleData tuple;
	Buffer		buffer;
	TM_Result	rc;

	position_writes_begin();
	rel = table_open(pgt_relid(PGT_OFFSET), RowExclusiveLock);
	tuple.t_self = *tid;
	if (!heap_fetch(rel, SnapshotSelf, &tuple, &buffer, false))
	{
		table_close(rel, NoLock);
		position_writes_end();
		return false;
	}
	rc = gcat_update(rel, &tuple, value, tid);
	ReleaseBuffer(buffer);
	if (rc != TM_Ok)
		elog(ERROR, "could not write a position: status %u", rc);
	table_close(rel, NoLock);
	position_writes_end();
	return true;
}
