/*-------------------------------------------------------------------------
 *
 * partition.c
 *	  A partition's log, in one place: the shared state of each partition,
 *	  taking offsets, the last stable offset (LSO), waiting and waking, the
 *	  rebuild after a restart, and the persisted record of the partition.
 *	  Everything else asks this file where a partition stands.
 *
 * Offsets.  A producing transaction takes offsets from the partition's
 * counter and, in the same critical section, registers the lowest offset
 * it holds there together with its top-level xid.  The LSO is the lowest
 * registered offset whose transaction is still in progress, or the counter
 * when there is none.  A reader looks at the LSO first and only then takes
 * its snapshot: every offset below the LSO belongs to a transaction that
 * had ended before the snapshot, so the reader sees all of those that
 * committed and nothing else, and no later commit can add a message below
 * the offsets it read.
 *
 * Registrations are removed by the owning backend at commit or abort, from
 * an XactCallback that runs after the transaction left the proc array, so
 * the LSO never passes an offset whose transaction is still running.  A
 * prepared transaction keeps its registrations without an owner (pid 0);
 * they are pruned once TransactionIdIsInProgress says it has ended, and
 * COMMIT PREPARED / ROLLBACK PREPARED wake the readers (utility.c).
 *
 * Durable high-water mark.  No offset is handed out twice, also across a
 * crash: rows of rolled-back transactions are removed by VACUUM and rows
 * that never reached disk are lost, so the highest row present does not
 * tell which offsets were handed out.  topics.high_water holds, per
 * partition, an offset above every offset handed out.  A producer that
 * needs offsets beyond it raises it, writes the row in place (as a
 * sequence logs ahead: one WAL record, no new row version) and flushes that
 * record before it takes them.  The mark is raised HIGH_WATER_AHEAD
 * offsets (or four batches) beyond the need, and raised again, without a
 * flush, once producers pass half of that: their own commits then flush
 * it, so that a producer rarely waits for a flush of its own.  At start-up
 * the counter resumes from the mark (or the highest offset stored, if
 * that is higher, as after an upgrade from 0.1).
 *
 * The persisted record.  topics.partition holds, per partition, the log
 * start and the stable offset: an LSO that the per-database worker
 * persists (partition_maintain), in a transaction of its own that commits
 * after everything below it ended.  A physical standby reads below it
 * (partition_standby_bounds), as logical replicas will.  A prepared
 * transaction holds offsets at or above the stable offset persisted
 * before it ended, so the rebuild looks for prepared transactions' rows
 * from there on only.  Rows are keyed by topic name and partition, the
 * same on every node.
 *
 * A partition's shared state is keyed by its database and the OID of its
 * partition table, which identifies this incarnation of the partition: a
 * topic dropped and created again gets new tables.  It lives until the
 * transaction that drops the table commits (partition_forget_at_commit,
 * aware of subtransactions), the extension or the database is dropped, or
 * the worker finds the table gone (partition_maintain).  No state is kept
 * on a standby: its readers use the persisted record.
 *
 * Locking protocol:
 *	- PartitionShared->hash_lock (the first lock of the "pg_topics" named
 *	  tranche) protects the hash of partition states: shared to look up,
 *	  exclusive to add or remove an entry.
 *	- PartitionState.lock protects every field of one partition and the
 *	  links of the producer slots chained on it.  It is held for short
 *	  critical sections only, never with another partition's lock; when
 *	  the hash lock is held too, the hash lock is taken first.  The xid of
 *	  a producer is assigned before the lock is taken, since assigning one
 *	  may write WAL.
 *	- PartitionState.extend_lock serializes the writers of the partition's
 *	  high-water mark.  It is taken after the lock on table
 *	  topics.high_water and before PartitionState.lock, and held across the
 *	  in-place write of the row, never across a flush.
 *	- PartitionShared->slot_mutex (a spinlock) protects the free list of
 *	  producer slots only; it may be taken with a partition lock held.
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
#include "access/transam.h"
#include "access/twophase.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_bitutils.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "guc.h"
#include "log/partition.h"
#include "log/topic_tables.h"
#include "pg_topics.h"
#include "relids.h"

/* The high-water mark runs at least this many offsets ahead of the need. */
#define HIGH_WATER_AHEAD		1024

/* Columns of topics.partition and topics.high_water. */
#define Anum_partition_topic		1
#define Anum_partition_partition	2
#define Anum_partition_log_start	3
#define Anum_partition_stable		4
#define Anum_high_water_topic		1
#define Anum_high_water_partition	2
#define Anum_high_water_value		3

typedef struct PartitionStateKey
{
	Oid			dbid;
	Oid			relid;			/* the partition's table */
} PartitionStateKey;

struct PartitionState
{
	PartitionStateKey key;		/* hash key: must be first */
	LWLock		lock;			/* protects every field below */
	LWLock		extend_lock;	/* serializes writers of the mark */
	bool		initialized;	/* rebuilt from storage? */
	char		topic[NAMEDATALEN];
	int32		partition;
	int64		next_offset;	/* the log end: next offset to hand out */
	int64		resumed_at;		/* next_offset when rebuilt */
	int64		high_water;		/* the mark as flushed */
	int64		high_water_written; /* the mark as written, maybe unflushed */
	XLogRecPtr	high_water_lsn; /* end of the record that wrote it */
	int32		producers_head; /* open producers, oldest first, or -1 */
	int32		producers_tail;
	int64		segment_requested_end;	/* pre-creation asked up to here */
	ConditionVariable wait_cv;	/* fetches waiting for the LSO to move */
	PartitionState *topic_state;	/* partition 0 of the same topic */
	pg_atomic_uint32 rebalances;	/* of partition 0: the topic's groups'
									 * rebalances, counted as they commit */
	pg_atomic_uint64 lso_told;	/* the LSO its waiting polls were told of */
	bool		share_waits;	/* a queue's: a commit wakes a reader per
								 * message, not every reader */
	pg_atomic_uint32 wake_next; /* where the next shared wake starts */

	/*
	 * The polls waiting for this partition (among others), a bit per
	 * pgprocno below MaxBackends: a commit sets the latches of those alone.
	 */
	pg_atomic_uint64 waiters[FLEXIBLE_ARRAY_MEMBER];
};

/*
 * An open producer of one partition: the lowest offset a transaction took
 * in it.  Slots live in one shared pool, linked per partition in offset
 * order; pid 0 marks a prepared transaction, which no backend owns.
 */
typedef struct ProducerSlot
{
	TransactionId xid;			/* top-level xid */
	int			pid;
	TimestampTz since;
	int64		first_offset;
	int32		prev;
	int32		next;
} ProducerSlot;

typedef struct PartitionSharedState
{
	LWLock	   *hash_lock;
	int			partition_tranche;	/* tranche of the partitions' locks */
	slock_t		slot_mutex;
	int32		free_head;		/* free producer slots, or -1 */
	int32		nslots;
	ProducerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} PartitionSharedState;

static PartitionSharedState *PartitionShared = NULL;

/*
 * Per pgprocno, how many more messages the poll of that backend waits for
 * (an int32): each commit that moves the LSO of a partition it waits for
 * takes the messages it made readable off, and wakes it at 0 or below.
 */
static pg_atomic_uint32 *PollNeed = NULL;
static HTAB *PartitionHash = NULL;

/* A partition the current top-level transaction produced into. */
typedef struct XactProducer
{
	PartitionState *state;
	int32		slot;
} XactProducer;

/*
 * Registrations of the current transaction.  The array lives in
 * TopMemoryContext because it must outlive every transaction context until
 * the xact callback has unlinked the slots; it is reused, not freed.
 */
static XactProducer *xact_producers = NULL;
static int	n_xact_producers = 0;
static int	max_xact_producers = 0;

/*
 * Partition tables dropped by this transaction, each with the
 * subtransaction that dropped it, in TopTransactionContext: their states
 * go when the transaction commits, unless the subtransaction rolls back.
 */
typedef struct DroppedPartition
{
	Oid			relid;
	SubTransactionId subid;
} DroppedPartition;

static List *dropped_partitions = NIL;

/* The subtransaction that dropped the extension, if any. */
static SubTransactionId dropped_extension = InvalidSubTransactionId;

/* The partitions this backend's poll waits for (partition_wait_for). */
static List *my_waits = NIL;

/*
 * The topics whose polls are woken when the transaction commits, in
 * TopTransactionContext (partition_rebalanced_at_commit).
 */
static List *wake_at_commit = NIL;

/*
 * The stable offsets the worker persisted, by partition table, so that a
 * round writes only those that moved.  In TopMemoryContext, for the
 * worker's life; a round that fails (its job is skipped, the worker goes
 * on) rolls back what it wrote, so the map goes with it
 * (partition_xact_callback) rather than hold values no row has.
 */
typedef struct PersistedStable
{
	Oid			relid;			/* hash key */
	int64		stable_offset;
} PersistedStable;

static HTAB *persisted_stable = NULL;

/* Whether the current transaction changed persisted_stable. */
static bool persisted_here = false;

/* A prepared transaction found holding offsets at start-up. */
typedef struct PreparedProducer
{
	TransactionId xid;
	int64		first_offset;
} PreparedProducer;

static void unlink_slot(PartitionState *state, int32 index);

/*
 * waiter_words returns how many words of bits a partition's waiters take.
 */
static int
waiter_words(void)
{
	return (MaxBackends + 63) / 64;
}

/*
 * state_size returns the size of a partition's shared state.
 */
static Size
state_size(void)
{
	return add_size(offsetof(PartitionState, waiters),
					mul_size(waiter_words(), sizeof(pg_atomic_uint64)));
}

/*
 * partition_shmem_size returns the shared memory of the partition states
 * and the producer slots.
 */
Size
partition_shmem_size(void)
{
	Size		size;

	size = offsetof(PartitionSharedState, slots);
	size = add_size(size, mul_size(pg_topics_max_open_producers,
								   sizeof(ProducerSlot)));
	size = add_size(size, hash_estimate_size(pg_topics_max_partitions,
											 state_size()));
	size = add_size(size, mul_size(MaxBackends, sizeof(pg_atomic_uint32)));
	return size;
}

/*
 * partition_shmem_startup attaches to (and in the postmaster, creates) the
 * shared state of the partitions.  Caller holds AddinShmemInitLock.
 */
void
partition_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	PartitionShared = ShmemInitStruct("pg_topics partitions",
									  offsetof(PartitionSharedState, slots) +
									  mul_size(pg_topics_max_open_producers,
											   sizeof(ProducerSlot)),
									  &found);
	if (!found)
	{
		int			i;

		PartitionShared->hash_lock = &(GetNamedLWLockTranche("pg_topics"))->lock;
		PartitionShared->partition_tranche = LWLockNewTrancheId();
		SpinLockInit(&PartitionShared->slot_mutex);
		PartitionShared->nslots = pg_topics_max_open_producers;
		for (i = 0; i < pg_topics_max_open_producers; i++)
			PartitionShared->slots[i].next =
				(i + 1 < pg_topics_max_open_producers) ? i + 1 : -1;
		PartitionShared->free_head = pg_topics_max_open_producers > 0 ? 0 : -1;
	}

	PollNeed = ShmemInitStruct("pg_topics poll needs",
							   mul_size(MaxBackends, sizeof(pg_atomic_uint32)),
							   &found);
	if (!found)
	{
		int			i;

		for (i = 0; i < MaxBackends; i++)
			pg_atomic_init_u32(&PollNeed[i], 0);
	}

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PartitionStateKey);
	info.entrysize = state_size();
	PartitionHash = ShmemInitHash("pg_topics partition states",
								  pg_topics_max_partitions,
								  pg_topics_max_partitions,
								  &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);

	LWLockRegisterTranche(PartitionShared->partition_tranche,
						  "pg_topics partition");
}

/*
 * state_find returns the shared state of a partition table of this
 * database, adding an uninitialized one when create is true (NULL when it
 * is absent and create is false).  Entries never move.
 */
static PartitionState *
state_find(Oid relid, bool create)
{
	PartitionStateKey key;
	PartitionState *state;
	bool		found;
	int			w;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;

	LWLockAcquire(PartitionShared->hash_lock, LW_SHARED);
	state = hash_search(PartitionHash, &key, HASH_FIND, NULL);
	LWLockRelease(PartitionShared->hash_lock);
	if (state != NULL || !create)
		return state;

	LWLockAcquire(PartitionShared->hash_lock, LW_EXCLUSIVE);
	state = hash_search(PartitionHash, &key, HASH_ENTER_NULL, &found);
	if (state != NULL && !found)
	{
		LWLockInitialize(&state->lock, PartitionShared->partition_tranche);
		LWLockInitialize(&state->extend_lock, PartitionShared->partition_tranche);
		state->initialized = false;
		state->topic[0] = '\0';
		state->partition = -1;
		state->next_offset = 0;
		state->high_water = 0;
		state->high_water_written = 0;
		state->high_water_lsn = InvalidXLogRecPtr;
		state->producers_head = -1;
		state->producers_tail = -1;
		state->segment_requested_end = 0;
		ConditionVariableInit(&state->wait_cv);
		state->topic_state = NULL;
		pg_atomic_init_u32(&state->rebalances, 0);
		pg_atomic_init_u64(&state->lso_told, 0);
		state->share_waits = false;
		pg_atomic_init_u32(&state->wake_next, 0);
		for (w = 0; w < waiter_words(); w++)
			pg_atomic_init_u64(&state->waiters[w], 0);
	}
	LWLockRelease(PartitionShared->hash_lock);

	if (state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too many partitions in use"),
				 errdetail("The shared state holds at most %d partitions.",
						   pg_topics_max_partitions),
				 errhint("Increase \"pg_topics.max_partitions\" and restart the server.")));
	return state;
}

static PartitionForgetHook forget_hook = NULL;

/*
 * partition_set_forget_hook names a function called with the database and
 * table of each partition state removed; called from _PG_init.
 */
void
partition_set_forget_hook(PartitionForgetHook hook)
{
	forget_hook = hook;
}

/*
 * state_remove removes a state from the hash, with the producer slots
 * chained on it.  Caller holds the hash lock exclusively and guarantees
 * that no backend can reach the state any more.
 */
static void
state_remove(PartitionState *state)
{
	if (forget_hook != NULL)
		forget_hook(state->key.dbid, state->key.relid);
	Assert(LWLockHeldByMeInMode(PartitionShared->hash_lock, LW_EXCLUSIVE));

	LWLockAcquire(&state->lock, LW_EXCLUSIVE);
	while (state->producers_head >= 0)
		unlink_slot(state, state->producers_head);
	LWLockRelease(&state->lock);
	hash_search(PartitionHash, &state->key, HASH_REMOVE, NULL);
}

/*
 * producer_slot returns the slot at index; the caller holds the lock of the
 * partition the slot is chained on.
 */
static ProducerSlot *
producer_slot(int32 index)
{
	Assert(index >= 0 && index < PartitionShared->nslots);
	return &PartitionShared->slots[index];
}

/*
 * unlink_slot takes a slot off its partition's list and returns it to the
 * free list.  Caller holds the partition lock exclusively.
 */
static void
unlink_slot(PartitionState *state, int32 index)
{
	ProducerSlot *slot = producer_slot(index);

	Assert(LWLockHeldByMeInMode(&state->lock, LW_EXCLUSIVE));

	if (slot->prev >= 0)
		producer_slot(slot->prev)->next = slot->next;
	else
		state->producers_head = slot->next;
	if (slot->next >= 0)
		producer_slot(slot->next)->prev = slot->prev;
	else
		state->producers_tail = slot->prev;

	SpinLockAcquire(&PartitionShared->slot_mutex);
	slot->next = PartitionShared->free_head;
	PartitionShared->free_head = index;
	SpinLockRelease(&PartitionShared->slot_mutex);
}

/*
 * link_slot appends a registration and returns its slot, or -1 when no
 * slot is free.  Caller holds the partition lock exclusively, and
 * first_offset is not below any registered offset, so the list stays in
 * offset order.
 */
static int32
link_slot(PartitionState *state, TransactionId xid, int pid,
		  int64 first_offset)
{
	int32		index;
	ProducerSlot *slot;

	Assert(LWLockHeldByMeInMode(&state->lock, LW_EXCLUSIVE));

	SpinLockAcquire(&PartitionShared->slot_mutex);
	index = PartitionShared->free_head;
	if (index >= 0)
		PartitionShared->free_head = PartitionShared->slots[index].next;
	SpinLockRelease(&PartitionShared->slot_mutex);
	if (index < 0)
		return -1;

	slot = producer_slot(index);
	slot->xid = xid;
	slot->pid = pid;
	slot->since = GetCurrentTimestamp();
	slot->first_offset = first_offset;
	slot->next = -1;
	slot->prev = state->producers_tail;
	if (state->producers_tail >= 0)
		producer_slot(state->producers_tail)->next = index;
	else
		state->producers_head = index;
	state->producers_tail = index;
	return index;
}

/*
 * no_producer_slot raises 53000: every producer slot is taken.
 */
static void
no_producer_slot(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
			 errmsg("too many open producers"),
			 errdetail("All %d producer slots are held by open transactions.",
					   pg_topics_max_open_producers),
			 errhint("Increase \"pg_topics.max_open_producers\" and restart the server.")));
}

/*
 * prune_prepared frees the slots of prepared transactions that have ended
 * and returns whether there were any.  Caller holds the partition lock
 * exclusively.
 */
static bool
prune_prepared(PartitionState *state)
{
	int32		index = state->producers_head;
	bool		pruned = false;

	while (index >= 0)
	{
		ProducerSlot *slot = producer_slot(index);
		int32		next = slot->next;

		if (slot->pid == 0 && !TransactionIdIsInProgress(slot->xid))
		{
			unlink_slot(state, index);
			pruned = true;
		}
		index = next;
	}
	return pruned;
}

/*
 * wake_waiters sets the latches of the polls waiting for a partition: of
 * every one with all (a rebalance), else of those for which the messages
 * that the partition's LSO passed since the last look make enough.  A
 * commit that moves no LSO wakes nobody; a poll that waits for a batch
 * sleeps through the commits before it.
 */
static void
wake_waiters(PartitionState *state, bool all)
{
	int			w;
	bool		any = false;
	int64		made = 0;

	for (w = 0; w < waiter_words() && !any; w++)
		any = pg_atomic_read_u64(&state->waiters[w]) != 0;
	if (!any)
		return;
	if (!all)
	{
		PartitionBounds bounds;
		uint64		told = pg_atomic_read_u64(&state->lso_told);

		partition_bounds(state, &bounds);
		while ((uint64) bounds.lso > told &&
			   !pg_atomic_compare_exchange_u64(&state->lso_told, &told,
											   (uint64) bounds.lso))
			;
		if ((uint64) bounds.lso <= told)
			return;
		made = Min(bounds.lso - (int64) told, PG_INT32_MAX);
	}

	if (state->share_waits && !all)
	{
		partition_wake_some(state, (int) Min(made, PG_INT32_MAX));
		return;
	}
	for (w = 0; w < waiter_words(); w++)
	{
		uint64		bits = pg_atomic_read_u64(&state->waiters[w]);

		while (bits != 0)
		{
			int			procno = w * 64 + pg_rightmost_one_pos64(bits);

			if (all ||
				(int32) pg_atomic_sub_fetch_u32(&PollNeed[procno], (uint32) made) <= 0)
				SetLatch(&ProcGlobal->allProcs[procno].procLatch);
			bits &= bits - 1;
		}
	}
}

/*
 * partition_wake_some wakes up to n of the readers waiting for a partition
 * whose waits are shared (a queue's), from another one each time, and
 * takes them off its waiters: each message made free goes to one reader,
 * and the next wake goes to others.  A woken reader registers again
 * before it sleeps again.
 */
void
partition_wake_some(PartitionState *state, int n)
{
	int			words = waiter_words();
	int			first = (int) (pg_atomic_fetch_add_u32(&state->wake_next, 1) %
							   (uint32) words);
	int			i;

	for (i = 0; i < words && n > 0; i++)
	{
		int			w = (first + i) % words;
		uint64		bits = pg_atomic_read_u64(&state->waiters[w]);

		while (bits != 0 && n > 0)
		{
			int			bit = pg_rightmost_one_pos64(bits);
			uint64		mask = UINT64CONST(1) << bit;

			bits &= bits - 1;
			if ((pg_atomic_fetch_and_u64(&state->waiters[w], ~mask) & mask) == 0)
				continue;		/* another wake took it */
			SetLatch(&ProcGlobal->allProcs[w * 64 + bit].procLatch);
			n--;
		}
	}
}

/*
 * partition_share_waits makes a partition's waits shared: a queue's
 * readers compete for its messages, so a commit wakes one per message.
 */
void
partition_share_waits(PartitionState *state)
{
	state->share_waits = true;
}

/*
 * broadcast wakes the readers of a partition: its fetches, and the polls
 * waiting for it.
 */
static void
broadcast(PartitionState *state)
{
	ConditionVariableBroadcast(&state->wait_cv);
	wake_waiters(state, false);
}

/*
 * record_missing raises 55000 for a partition whose row in table is gone.
 */
static void
record_missing(const char *table, const char *topic, int partition)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("partition %d of topic \"%s\" has no row in %s.%s",
					partition, topic, TOPICS_SCHEMA, table),
			 errhint("The catalog of pg_topics changes only through its functions; drop the topic with topics.drop_topic().")));
}

/*
 * record_value reads one bigint column of a partition's row in table rel
 * (by its primary key index), under snapshot.
 */
static int64
record_value(PgtRelation rel, PgtRelation index, AttrNumber attno,
			 Snapshot snapshot, const char *topic, int partition)
{
	Relation	r = table_open(pgt_relid(rel), AccessShareLock);
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		isnull;
	int64		value;

	pgt_key_name(&keys[0], 1, topic);
	pgt_key_int4(&keys[1], 2, partition);
	scan = systable_beginscan(r, pgt_relid(index), true, snapshot, 2, keys);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		record_missing(RelationGetRelationName(r), topic, partition);
	value = DatumGetInt64(heap_getattr(tup, attno, RelationGetDescr(r),
									   &isnull));
	systable_endscan(scan);
	table_close(r, AccessShareLock);
	return value;
}

/*
 * partition_read_record reads the persisted record of a partition, as the
 * current transaction would see it with the latest snapshot (its own
 * changes included).
 */
void
partition_read_record(const char *topic, int partition,
					  PartitionRecord *record)
{
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());

	record->log_start = record_value(PGT_PARTITION, PGT_PARTITION_PKEY,
									 Anum_partition_log_start, snapshot,
									 topic, partition);
	record->stable_offset = record_value(PGT_PARTITION, PGT_PARTITION_PKEY,
										 Anum_partition_stable, snapshot,
										 topic, partition);
	UnregisterSnapshot(snapshot);

	/* the mark is overwritten in place: read the one live row version */
	record->high_water = record_value(PGT_HIGH_WATER, PGT_HIGH_WATER_PKEY,
									  Anum_high_water_value, SnapshotSelf,
									  topic, partition);
}

/*
 * partition_standby_bounds fills bounds for a read on a standby, which
 * keeps no shared state: the stable offset the primary persisted, below
 * which every transaction that produced had ended when it was persisted,
 * and its high-water mark as the log end.
 */
void
partition_standby_bounds(const char *topic, int partition,
						 PartitionBounds *bounds)
{
	PartitionRecord record;

	partition_read_record(topic, partition, &record);
	memset(bounds, 0, sizeof(*bounds));
	bounds->lso = record.stable_offset;
	bounds->log_end = Max(record.high_water, record.stable_offset);
}

/*
 * segment_max_offset returns the highest offset physically present in a
 * segment, committed or not, or -1 when it holds none.
 *
 * The index gives the highest offset with an index entry.  A crash can
 * leave rows whose heap insert reached the WAL but whose index entry did
 * not (their transaction never committed); they sit at the end of the
 * heap, so the heap is read on from the row the index gave.
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

/*
 * prepared_in_database tells whether a prepared transaction of this
 * database exists; only then must a partition be searched for the offsets
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
 * scan_prepared returns, in offset order, the lowest offset that each
 * transaction still in progress holds in the segments, from offset from
 * on.  Called before the partition hands out any offset since the server
 * started, so every such transaction is a prepared one; and each holds
 * offsets at or above the stable offset last persisted, so the search
 * starts there and goes through the index.
 */
static List *
scan_prepared(const char *topic, int partition, int nsegments,
			  const LogSegment *segments, int64 from)
{
	List	   *result = NIL;
	int			i;

	for (i = 0; i < nsegments; i++)
	{
		Relation	rel;
		Relation	index;
		IndexScanDesc scan;
		TupleTableSlot *slot;
		ScanKeyData key;

		if (segments[i].end <= from)
			continue;
		rel = table_open(segment_relid(topic, partition, &segments[i]),
						 AccessShareLock);
		index = index_open(segment_offset_index(rel), AccessShareLock);
		slot = table_slot_create(rel, NULL);
		ScanKeyInit(&key, 1, BTGreaterEqualStrategyNumber, F_INT8GE,
					Int64GetDatum(from));
		scan = index_beginscan(rel, index, SnapshotAny, 1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			bool		shouldfree;
			HeapTuple	tuple = ExecFetchSlotHeapTuple(slot, false, &shouldfree);
			TransactionId xmin = HeapTupleHeaderGetXmin(tuple->t_data);
			bool		isnull;
			ListCell   *lc;
			bool		known = false;

			if (!TransactionIdIsNormal(xmin) || !TransactionIdIsInProgress(xmin))
				continue;
			xmin = SubTransGetTopmostTransaction(xmin);
			foreach(lc, result)
				known |= ((PreparedProducer *) lfirst(lc))->xid == xmin;
			if (!known)
			{
				/* the scan runs in offset order: the first row is the lowest */
				PreparedProducer *pp = palloc(sizeof(PreparedProducer));

				pp->xid = xmin;
				pp->first_offset = DatumGetInt64(slot_getattr(slot, Anum_message_offset,
															  &isnull));
				result = lappend(result, pp);
			}
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		index_close(index, AccessShareLock);
		table_close(rel, AccessShareLock);
	}
	return result;
}

/*
 * rebuild initializes the state of a partition from storage, unless
 * another backend did so first: the counter resumes at the durable
 * high-water mark (or past the highest offset stored, if that is higher),
 * and the prepared transactions that hold offsets are registered again.
 */
static void
rebuild(PartitionState *state, const char *topic, int partition,
		int nsegments, const LogSegment *segments)
{
	PartitionRecord record;
	int64		log_end;
	List	   *prepared = NIL;
	ListCell   *lc;
	int			i;

	partition_read_record(topic, partition, &record);
	log_end = Max(record.high_water, segments[0].base);
	for (i = nsegments - 1; i >= 0; i--)
	{
		int64		max = segment_max_offset(segment_relid(topic, partition,
														   &segments[i]));

		if (max >= 0)
		{
			log_end = Max(log_end, max + 1);
			break;
		}
	}
	if (prepared_in_database())
		prepared = scan_prepared(topic, partition, nsegments, segments,
								 record.stable_offset);

	LWLockAcquire(&state->lock, LW_EXCLUSIVE);
	if (!state->initialized)
	{
		strlcpy(state->topic, topic, NAMEDATALEN);
		state->partition = partition;
		state->next_offset = log_end;
		state->resumed_at = log_end;
		/* the row was read from a page that recovery or a flush wrote */
		state->high_water = record.high_water;
		state->high_water_written = record.high_water;
		state->high_water_lsn = InvalidXLogRecPtr;
		foreach(lc, prepared)
		{
			PreparedProducer *pp = lfirst(lc);

			if (link_slot(state, pp->xid, 0, pp->first_offset) < 0)
			{
				while (state->producers_head >= 0)
					unlink_slot(state, state->producers_head);
				LWLockRelease(&state->lock);
				no_producer_slot();
			}
		}
		state->initialized = true;
	}
	LWLockRelease(&state->lock);
}

/*
 * partition_open returns the shared state of partition number partition of
 * a topic, whose table is relid and whose segments are given in offset
 * order, rebuilding it from storage on first use since the server started.
 * first is the state of the topic's partition 0 (NULL for partition 0
 * itself), whose readers wait for any partition of the topic.  Not on a
 * standby, which keeps no shared state.
 */
PartitionState *
partition_open(const char *topic, int partition, Oid relid, int nsegments,
			   const LogSegment *segments, PartitionState *first)
{
	PartitionState *state;

	if (RecoveryInProgress())
		elog(ERROR, "partition states are not kept during recovery");
	state = state_find(relid, true);
	if (!state->initialized)
		rebuild(state, topic, partition, nsegments, segments);
	/* set once, to the same value by every backend: no lock needed */
	if (state->topic_state == NULL)
		state->topic_state = first ? first : state;
	return state;
}

/*
 * write_row overwrites the mark of a partition with value, in place, and
 * returns the end of the WAL record that did it.  Caller holds the
 * partition's extend_lock and a lock on rel, topics.high_water.
 *
 * The row is never updated by a transaction (only inserted and deleted
 * with its topic, under a lock that excludes producers), so overwriting it
 * cannot race with an update that would copy the old value into a new
 * version; and an overwrite survives the rollback of the producer's
 * transaction, as it must.
 */
static XLogRecPtr
write_row(Relation rel, PartitionState *state, int64 value)
{
	TupleDesc	desc = RelationGetDescr(rel);
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	HeapTuple	newtup;
	Datum		values[Anum_high_water_value] = {0};
	bool		nulls[Anum_high_water_value] = {false};
	bool		replace[Anum_high_water_value] = {false};

	Assert(LWLockHeldByMeInMode(&state->extend_lock, LW_EXCLUSIVE));

	pgt_key_name(&keys[0], Anum_high_water_topic, state->topic);
	pgt_key_int4(&keys[1], Anum_high_water_partition, state->partition);
	scan = systable_beginscan(rel, pgt_relid(PGT_HIGH_WATER_PKEY), true,
							  SnapshotSelf, 2, keys);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		record_missing(RelationGetRelationName(rel), state->topic,
					   state->partition);
	values[Anum_high_water_value - 1] = Int64GetDatum(value);
	replace[Anum_high_water_value - 1] = true;
	newtup = heap_modify_tuple(tup, desc, values, nulls, replace);
	systable_endscan(scan);

	heap_inplace_update(rel, newtup);
	heap_freetuple(newtup);
	return XactLastRecEnd;
}

/*
 * write_mark makes the mark of a partition written at least up to below,
 * writing target when it is not, and sets *written and *lsn to the mark
 * written and the end of its record.  Caller holds the partition's
 * extend_lock and a lock on rel, topics.high_water.
 */
static void
write_mark(Relation rel, PartitionState *state, int64 below, int64 target,
		   int64 *written, XLogRecPtr *lsn)
{
	LWLockAcquire(&state->lock, LW_SHARED);
	*written = state->high_water_written;
	*lsn = state->high_water_lsn;
	LWLockRelease(&state->lock);
	if (*written >= below)
		return;
	*lsn = write_row(rel, state, target);
	*written = target;
	LWLockAcquire(&state->lock, LW_EXCLUSIVE);
	state->high_water_written = target;
	state->high_water_lsn = *lsn;
	LWLockRelease(&state->lock);
}

/*
 * raise_high_water makes sure the mark of a partition is at least need,
 * flushed: it writes target when the mark written is below need, then
 * waits for the flush of the record that wrote the mark.
 */
static void
raise_high_water(PartitionState *state, int64 need, int64 target)
{
	Relation	rel = table_open(pgt_relid(PGT_HIGH_WATER), RowExclusiveLock);
	int64		written;
	XLogRecPtr	lsn;

	LWLockAcquire(&state->extend_lock, LW_EXCLUSIVE);
	write_mark(rel, state, need, target, &written, &lsn);
	LWLockRelease(&state->extend_lock);

	if (!XLogRecPtrIsInvalid(lsn))
		XLogFlush(lsn);
	LWLockAcquire(&state->lock, LW_EXCLUSIVE);
	state->high_water = Max(state->high_water, written);
	LWLockRelease(&state->lock);
	table_close(rel, RowExclusiveLock);
}

/*
 * raise_high_water_ahead writes the mark of a partition up to target, not
 * flushed, unless another backend is writing it already.
 */
static void
raise_high_water_ahead(PartitionState *state, int64 target)
{
	Relation	rel = table_open(pgt_relid(PGT_HIGH_WATER), RowExclusiveLock);
	int64		written;
	XLogRecPtr	lsn;

	if (LWLockConditionalAcquire(&state->extend_lock, LW_EXCLUSIVE))
	{
		write_mark(rel, state, target, target, &written, &lsn);
		LWLockRelease(&state->extend_lock);
	}
	table_close(rel, RowExclusiveLock);
}

/*
 * xact_producer_find returns this transaction's registration in a
 * partition, or NULL.
 */
static XactProducer *
xact_producer_find(PartitionState *state)
{
	int			i;

	for (i = n_xact_producers - 1; i >= 0; i--)
		if (xact_producers[i].state == state)
			return &xact_producers[i];
	return NULL;
}

/*
 * partition_reserve hands out count consecutive offsets of a partition to
 * the current transaction and returns the first.  The transaction is
 * registered as an open producer of the partition until it ends, and the
 * offsets lie below a high-water mark that is on disk.
 */
int64
partition_reserve(PartitionState *state, int64 count)
{
	TransactionId xid = GetTopTransactionId();
	XactProducer *reg = xact_producer_find(state);
	int64		ahead = Max(HIGH_WATER_AHEAD, 4 * count);
	int64		first;
	int64		end;
	bool		write_ahead;

	Assert(state->initialized && count > 0);

	/* make room first: nothing may fail once the slot is linked */
	if (reg == NULL && n_xact_producers == max_xact_producers)
	{
		int			newmax = Max(8, max_xact_producers * 2);

		if (xact_producers == NULL)
			xact_producers = MemoryContextAlloc(TopMemoryContext,
												newmax * sizeof(XactProducer));
		else
			xact_producers = repalloc(xact_producers,
									  newmax * sizeof(XactProducer));
		max_xact_producers = newmax;
	}

	for (;;)
	{
		LWLockAcquire(&state->lock, LW_EXCLUSIVE);
		first = state->next_offset;
		end = first + count;
		if (end > state->high_water && end <= state->high_water_written &&
			state->high_water_lsn <= GetFlushRecPtr(NULL))
			state->high_water = state->high_water_written;
		if (end <= state->high_water)
			break;
		LWLockRelease(&state->lock);

		/* no offset is held while waiting, so no reader is held back */
		raise_high_water(state, end, end + ahead);
	}

	if (reg == NULL)
	{
		int32		index;

		if (state->producers_head >= 0)
			prune_prepared(state);
		index = link_slot(state, xid, MyProcPid, first);
		if (index < 0)
		{
			LWLockRelease(&state->lock);
			no_producer_slot();
		}
		reg = &xact_producers[n_xact_producers++];
		reg->state = state;
		reg->slot = index;
	}
	state->next_offset = end;
	write_ahead = end + ahead / 2 > state->high_water_written;
	LWLockRelease(&state->lock);

	if (write_ahead)
		raise_high_water_ahead(state, end + ahead);
	return first;
}

/*
 * partition_skip_to moves the log end of a partition up to offset, unless
 * it is there already, and returns whether it moved: the offsets skipped
 * are a gap, as a rolled-back producer leaves, so that the next message
 * goes to the segment that begins at offset (a segment rolled over by
 * age).  No offset at or above the new log end was handed out: the
 * durable high-water mark covers it first.
 */
bool
partition_skip_to(PartitionState *state, int64 offset)
{
	for (;;)
	{
		LWLockAcquire(&state->lock, LW_EXCLUSIVE);
		if (state->next_offset >= offset)
		{
			LWLockRelease(&state->lock);
			return false;
		}
		if (offset <= state->high_water)
			break;
		LWLockRelease(&state->lock);
		raise_high_water(state, offset, offset + HIGH_WATER_AHEAD);
	}
	state->next_offset = offset;
	LWLockRelease(&state->lock);
	return true;
}

/*
 * partition_bounds fills bounds with the partition's LSO, log end and
 * oldest open producer.  A reader must take its snapshot after this
 * returns.
 */
void
partition_bounds(PartitionState *state, PartitionBounds *bounds)
{
	int32		index;

	LWLockAcquire(&state->lock, LW_SHARED);
	Assert(state->initialized);
	bounds->log_end = state->next_offset;
	bounds->lso = state->next_offset;
	bounds->oldest_pid = 0;
	bounds->oldest_xid = InvalidTransactionId;
	bounds->oldest_since = 0;
	for (index = state->producers_head; index >= 0;
		 index = producer_slot(index)->next)
	{
		ProducerSlot *slot = producer_slot(index);

		if (TransactionIdIsInProgress(slot->xid))
		{
			bounds->lso = slot->first_offset;
			bounds->oldest_pid = slot->pid;
			bounds->oldest_xid = slot->xid;
			bounds->oldest_since = slot->since;
			break;
		}
	}
	LWLockRelease(&state->lock);
}

/*
 * partition_log_end returns the next offset the partition hands out.
 */
int64
partition_log_end(PartitionState *state)
{
	int64		result;

	LWLockAcquire(&state->lock, LW_SHARED);
	result = state->next_offset;
	LWLockRelease(&state->lock);
	return result;
}

/*
 * partition_resume_offset returns the offset the partition resumed at when
 * the server started (or the topic was created): no row will ever be
 * written below it that is not there already, so a new segment need not
 * cover the offsets between the last segment and it.
 */
int64
partition_resume_offset(PartitionState *state)
{
	int64		result;

	LWLockAcquire(&state->lock, LW_SHARED);
	result = state->resumed_at;
	LWLockRelease(&state->lock);
	return result;
}

/*
 * partition_wait waits until the LSO passes from_offset or the deadline
 * comes, and returns whether it passed; bounds holds the last look.
 * Commits and aborts of producers wake it, so it never polls.
 */
bool
partition_wait(PartitionState *state, int64 from_offset,
			   TimestampTz deadline, PartitionBounds *bounds)
{
	bool		passed = false;

	partition_bounds(state, bounds);
	if (bounds->lso > from_offset)
		return true;

	ConditionVariablePrepareToSleep(&state->wait_cv);
	for (;;)
	{
		TimestampTz now;

		partition_bounds(state, bounds);
		if (bounds->lso > from_offset)
		{
			passed = true;
			break;
		}
		now = GetCurrentTimestamp();
		if (now >= deadline)
			break;
		ConditionVariableTimedSleep(&state->wait_cv,
									TimestampDifferenceMilliseconds(now, deadline),
									PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	return passed;
}

/*
 * partition_wait_for registers this backend as a poll waiting for a
 * partition, until partition_wait_done: a commit that moves the partition,
 * or a rebalance of its topic's groups, sets its latch.  The caller looks
 * at the partitions again after registering and before it sleeps, so that
 * no wake-up is lost; it sleeps on its latch (partition_wait_sleep).
 */
void
partition_wait_for(PartitionState *state)
{
	int			procno = MyProc->pgprocno;
	MemoryContext old;

	/* a process beyond the bits (none that runs SQL) wakes by its timeout */
	if (procno >= MaxBackends)
		return;
	pg_atomic_fetch_or_u64(&state->waiters[procno / 64],
						   UINT64CONST(1) << (procno % 64));
	old = MemoryContextSwitchTo(TopMemoryContext);
	my_waits = list_append_unique_ptr(my_waits, state);
	MemoryContextSwitchTo(old);
}

/*
 * partition_wait_arm sets how many messages the poll waits for, before it
 * looks at its partitions: the commits from then on count off theirs.
 */
void
partition_wait_arm(int64 want)
{
	if (MyProc->pgprocno < MaxBackends)
		pg_atomic_write_u32(&PollNeed[MyProc->pgprocno],
							(uint32) Min(Max(want, 1), PG_INT32_MAX));
}

/*
 * partition_wait_sleep counts off the ready messages the poll's look found
 * after partition_wait_arm, and sleeps until commits make the rest
 * readable (a rebalance wakes it in any case), or timeout_ms pass.  A
 * commit between the arming and the look counts twice: the poll wakes
 * early, never late.
 */
void
partition_wait_sleep(int64 ready, long timeout_ms)
{
	if (MyProc->pgprocno < MaxBackends &&
		(int32) pg_atomic_sub_fetch_u32(&PollNeed[MyProc->pgprocno],
										(uint32) Min(Max(ready, 0), PG_INT32_MAX)) <= 0)
	{
		CHECK_FOR_INTERRUPTS();
		return;
	}
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 Max(timeout_ms, 0), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/*
 * partition_wait_done ends this backend's waits (also at transaction end,
 * for a poll that an error ended).
 */
void
partition_wait_done(void)
{
	int			procno = MyProc->pgprocno;
	ListCell   *lc;

	foreach(lc, my_waits)
	{
		PartitionState *state = lfirst(lc);

		pg_atomic_fetch_and_u64(&state->waiters[procno / 64],
								~(UINT64CONST(1) << (procno % 64)));
	}
	list_free(my_waits);
	my_waits = NIL;
}

/*
 * partition_rebalances returns how many rebalances of the groups of the
 * topic whose partition 0 is state committed since the server started.
 */
uint32
partition_rebalances(PartitionState *state)
{
	return pg_atomic_read_u32(&state->rebalances);
}

/*
 * partition_rebalanced_at_commit has the polls waiting for the partitions
 * of a topic of this database woken when the transaction commits, which
 * rebalanced groups of the topic, and the rebalance counted (see
 * partition_rebalances): their members look whether they still are.
 */
void
partition_rebalanced_at_commit(const char *topic)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

	wake_at_commit = lappend(wake_at_commit, pstrdup(topic));
	MemoryContextSwitchTo(old);
}

/*
 * wake_rebalanced wakes the polls of the topics rebalanced by the
 * transaction that just committed: a look at every partition state, as
 * rare as rebalances are.
 */
static void
wake_rebalanced(void)
{
	HASH_SEQ_STATUS status;
	PartitionState *state;

	LWLockAcquire(PartitionShared->hash_lock, LW_SHARED);
	hash_seq_init(&status, PartitionHash);
	while ((state = hash_seq_search(&status)) != NULL)
	{
		ListCell   *lc;

		if (state->key.dbid != MyDatabaseId || !state->initialized)
			continue;
		foreach(lc, wake_at_commit)
		{
			if (strcmp(state->topic, lfirst(lc)) != 0)
				continue;
			if (state->partition == 0)
				pg_atomic_fetch_add_u32(&state->rebalances, 1);
			wake_waiters(state, true);
			break;
		}
	}
	LWLockRelease(PartitionShared->hash_lock);
}

/*
 * partition_segment_wanted tells whether a segment ending at end should be
 * asked for now: true for the first producer to pass the middle of the
 * last segment.
 */
bool
partition_segment_wanted(PartitionState *state, int64 end)
{
	bool		want = false;

	LWLockAcquire(&state->lock, LW_EXCLUSIVE);
	if (state->segment_requested_end < end + 1)
	{
		state->segment_requested_end = end + 1;
		want = true;
	}
	LWLockRelease(&state->lock);
	return want;
}

/*
 * partition_segment_unwanted forgets that a segment was asked for, when
 * the request could not be made: a later producer asks again.
 */
void
partition_segment_unwanted(PartitionState *state)
{
	LWLockAcquire(&state->lock, LW_EXCLUSIVE);
	state->segment_requested_end = 0;
	LWLockRelease(&state->lock);
}

/*
 * partition_forget_at_commit arranges for the shared state of a dropped
 * partition table to be released if the dropping (sub)transaction
 * commits.
 */
void
partition_forget_at_commit(Oid relid)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	DroppedPartition *dp = palloc(sizeof(DroppedPartition));

	dp->relid = relid;
	dp->subid = GetCurrentSubTransactionId();
	dropped_partitions = lappend(dropped_partitions, dp);
	MemoryContextSwitchTo(old);
}

/*
 * partition_forget_database_at_commit arranges for the states of every
 * partition of this database to be released if the (sub)transaction that
 * dropped the extension commits.
 */
void
partition_forget_database_at_commit(void)
{
	if (dropped_extension == InvalidSubTransactionId)
		dropped_extension = GetCurrentSubTransactionId();
}

/*
 * partition_extension_dropped_here tells whether the current transaction
 * has dropped the extension (in a subtransaction that did not roll back).
 */
bool
partition_extension_dropped_here(void)
{
	return dropped_extension != InvalidSubTransactionId;
}

/*
 * partition_forget_database removes the state of every partition of a
 * database, with the producer slots chained on them: the database was
 * dropped (no backend is connected to it), or so was the extension in it
 * (no backend can open one of its topics again).
 */
void
partition_forget_database(Oid dbid)
{
	HASH_SEQ_STATUS status;
	PartitionState *state;

	LWLockAcquire(PartitionShared->hash_lock, LW_EXCLUSIVE);
	hash_seq_init(&status, PartitionHash);
	while ((state = hash_seq_search(&status)) != NULL)
		if (state->key.dbid == dbid)
			state_remove(state);
	LWLockRelease(PartitionShared->hash_lock);
}

/*
 * release_dropped frees the states of the partitions dropped by the
 * transaction that just committed.
 */
static void
release_dropped(void)
{
	ListCell   *lc;

	LWLockAcquire(PartitionShared->hash_lock, LW_EXCLUSIVE);
	foreach(lc, dropped_partitions)
	{
		DroppedPartition *dp = lfirst(lc);
		PartitionStateKey key;
		PartitionState *state;

		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		key.relid = dp->relid;
		state = hash_search(PartitionHash, &key, HASH_FIND, NULL);
		if (state != NULL)
			state_remove(state);
	}
	LWLockRelease(PartitionShared->hash_lock);
}

/*
 * partition_xact_callback ends this backend's registrations with its
 * transaction and wakes the readers of the partitions it wrote.
 */
static void
partition_xact_callback(XactEvent event, void *arg)
{
	int			i;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			for (i = 0; i < n_xact_producers; i++)
			{
				PartitionState *state = xact_producers[i].state;

				LWLockAcquire(&state->lock, LW_EXCLUSIVE);
				unlink_slot(state, xact_producers[i].slot);
				LWLockRelease(&state->lock);
				broadcast(state);
			}
			n_xact_producers = 0;
			if (my_waits != NIL)
				partition_wait_done();
			if (event == XACT_EVENT_COMMIT)
			{
				if (wake_at_commit != NIL)
					wake_rebalanced();
				if (dropped_extension != InvalidSubTransactionId)
					partition_forget_database(MyDatabaseId);
				else if (dropped_partitions != NIL)
					release_dropped();
			}
			dropped_partitions = NIL;
			dropped_extension = InvalidSubTransactionId;
			wake_at_commit = NIL;
			if (persisted_here && event != XACT_EVENT_COMMIT)
			{
				hash_destroy(persisted_stable);
				persisted_stable = NULL;
			}
			persisted_here = false;
			break;

		case XACT_EVENT_PREPARE:
			/* the prepared transaction keeps holding the LSO, unowned */
			for (i = 0; i < n_xact_producers; i++)
			{
				PartitionState *state = xact_producers[i].state;

				LWLockAcquire(&state->lock, LW_EXCLUSIVE);
				producer_slot(xact_producers[i].slot)->pid = 0;
				LWLockRelease(&state->lock);
			}
			n_xact_producers = 0;
			if (my_waits != NIL)
				partition_wait_done();
			/* a dropped table's state is found gone by partition_maintain */
			dropped_partitions = NIL;
			dropped_extension = InvalidSubTransactionId;
			/* the polls of a group it rebalances see it at their next look */
			wake_at_commit = NIL;
			break;

		default:
			break;
	}
}

/*
 * partition_subxact_callback keeps the drops of a subtransaction that
 * commits, as its parent's, and forgets those of one that rolls back.
 */
static void
partition_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	/* a poll that an error ended waits no more */
	if (event == SUBXACT_EVENT_ABORT_SUB && my_waits != NIL)
		partition_wait_done();
	foreach(lc, dropped_partitions)
	{
		DroppedPartition *dp = lfirst(lc);

		if (dp->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			dp->subid = parentSubid;
		else
			dropped_partitions = foreach_delete_current(dropped_partitions, lc);
	}
	if (dropped_extension == mySubid)
		dropped_extension = event == SUBXACT_EVENT_COMMIT_SUB ?
			parentSubid : InvalidSubTransactionId;
}

/*
 * wake_if_prepared_ended prunes a partition's ended prepared transactions
 * and wakes its readers if there were any.
 */
static void
wake_if_prepared_ended(PartitionState *state)
{
	bool		ended;

	LWLockAcquire(&state->lock, LW_EXCLUSIVE);
	ended = prune_prepared(state);
	LWLockRelease(&state->lock);
	if (ended)
		broadcast(state);
}

/*
 * partition_wake_prepared unlinks the registrations of prepared
 * transactions that have ended and wakes the readers of their partitions.
 * Called after COMMIT PREPARED and ROLLBACK PREPARED, whose commit or
 * abort runs no callback of the backend that produced.
 */
void
partition_wake_prepared(void)
{
	HASH_SEQ_STATUS status;
	PartitionState *state;

	/* the hash lock, then each partition's: the lock order */
	LWLockAcquire(PartitionShared->hash_lock, LW_SHARED);
	hash_seq_init(&status, PartitionHash);
	while ((state = hash_seq_search(&status)) != NULL)
		if (state->key.dbid == MyDatabaseId && state->initialized &&
			state->producers_head >= 0)
			wake_if_prepared_ended(state);
	LWLockRelease(PartitionShared->hash_lock);
}

/* A partition of this database, as partition_maintain sees it. */
typedef struct MaintainedPartition
{
	Oid			relid;
	bool		initialized;
	char		topic[NAMEDATALEN];
	int32		partition;
	int64		lso;
} MaintainedPartition;

/*
 * persist_stable writes the LSO of a partition as its stable offset, unless
 * the row holds that or more, and seals the segments it passed: their size
 * is added to the partition's sealed size, so that topics.partitions
 * measures only the segments above (no producer writes below the LSO any
 * more).  Caller is connected to SPI.
 */
/* The segments of partition p that the stable offset $3 seals. */
#define SEALING \
	"FROM topics.segment s " \
	"WHERE s.topic OPERATOR(pg_catalog.=) p.topic " \
	"AND s.partition OPERATOR(pg_catalog.=) p.partition " \
	"AND s.base_offset OPERATOR(pg_catalog.>=) p.sealed_end " \
	"AND s.end_offset OPERATOR(pg_catalog.<=) $3"

static void
persist_stable(MaintainedPartition *mp)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, INT8OID};
	Datum		args[3];
	PersistedStable *ps;
	bool		found;

	if (persisted_stable == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(PersistedStable);
		ctl.hcxt = TopMemoryContext;
		persisted_stable = hash_create("pg_topics persisted stable offsets",
									   64, &ctl,
									   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	ps = hash_search(persisted_stable, &mp->relid, HASH_ENTER, &found);
	if (!found)
		ps->stable_offset = -1;
	if (ps->stable_offset >= mp->lso)
		return;
	persisted_here = true;
	/*
	 * Nothing to write below 0: the UPDATE would match no row.  Saves a
	 * planned statement per partition the makers add while a wide topic
	 * is being created.
	 */
	if (mp->lso <= 0)
	{
		ps->stable_offset = mp->lso;
		return;
	}

	/* a topic being dropped is left alone (see topic_lock_unless_busy) */
	if (!topic_lock_unless_busy(mp->topic))
		return;

	args[0] = CStringGetTextDatum(mp->topic);
	args[1] = Int32GetDatum(mp->partition);
	args[2] = Int64GetDatum(mp->lso);
	if (SPI_execute_with_args("UPDATE topics.partition p SET stable_offset = $3, "
							  "sealed_end = GREATEST(p.sealed_end, COALESCE("
							  " (SELECT pg_catalog.max(s.end_offset) " SEALING "), 0)), "
							  "sealed_bytes = p.sealed_bytes OPERATOR(pg_catalog.+) COALESCE("
							  " (SELECT pg_catalog.sum(topics_internal.segment_size("
							  "   s.topic, s.partition, s.base_offset))::pg_catalog.int8 "
							  SEALING "), 0) "
							  "WHERE p.topic OPERATOR(pg_catalog.=) $1 "
							  "AND p.partition OPERATOR(pg_catalog.=) $2 "
							  "AND p.stable_offset OPERATOR(pg_catalog.<) $3 "
							  /* a row an open delete_records holds waits for a later round */
							  "AND p.ctid OPERATOR(pg_catalog.=) (SELECT l.ctid FROM topics.partition l "
							  "WHERE l.topic OPERATOR(pg_catalog.=) $1 "
							  "AND l.partition OPERATOR(pg_catalog.=) $2 "
							  "FOR NO KEY UPDATE SKIP LOCKED)",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not persist the stable offset of partition %d of topic \"%s\"",
			 mp->partition, mp->topic);
	if (SPI_processed > 0)
		ps->stable_offset = mp->lso;
}

/*
 * has_open_producer tells whether a transaction still in progress holds a
 * producer slot of a partition: partition_bounds then names the oldest.
 * An uninitialized state has no slots.  Caller holds the hash lock.
 */
static bool
has_open_producer(PartitionState *state)
{
	PartitionBounds bounds;

	if (!state->initialized)
		return false;
	partition_bounds(state, &bounds);
	return TransactionIdIsValid(bounds.oldest_xid);
}

/*
 * forget_if_gone removes the state of a partition whose table was dropped
 * without its state being released (DROP EXTENSION in a prepared
 * transaction, say).  A table that another transaction is creating is
 * locked by it, and left alone.  So is a state that a transaction still
 * open produced to: the table may have gone with a savepoint rolled back,
 * which releases its lock, while the transaction's slot stays chained on
 * the state until it ends, and unlinks it then.
 */
static void
forget_if_gone(Oid relid)
{
	PartitionStateKey key;
	PartitionState *state;

	if (!ConditionalLockRelationOid(relid, AccessShareLock))
		return;
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
	{
		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		key.relid = relid;
		LWLockAcquire(PartitionShared->hash_lock, LW_EXCLUSIVE);
		state = hash_search(PartitionHash, &key, HASH_FIND, NULL);
		if (state != NULL && !has_open_producer(state))
			state_remove(state);
		LWLockRelease(PartitionShared->hash_lock);
		if (persisted_stable != NULL)
			hash_search(persisted_stable, &relid, HASH_REMOVE, NULL);
	}
	UnlockRelationOid(relid, AccessShareLock);
}

/*
 * partition_maintain runs the log's share of a database worker's round,
 * inside the worker's transaction: it persists the stable offset of every
 * partition whose LSO moved, and forgets the states of tables that are
 * gone.
 */
void
partition_maintain(void)
{
	HASH_SEQ_STATUS status;
	PartitionState *state;
	MaintainedPartition *parts;
	int			nparts = 0;
	int			max = 64;
	int			i;

	parts = palloc(sizeof(MaintainedPartition) * max);
	LWLockAcquire(PartitionShared->hash_lock, LW_SHARED);
	hash_seq_init(&status, PartitionHash);
	while ((state = hash_seq_search(&status)) != NULL)
	{
		MaintainedPartition *mp;

		if (state->key.dbid != MyDatabaseId)
			continue;
		if (nparts == max)
		{
			max *= 2;
			parts = repalloc(parts, sizeof(MaintainedPartition) * max);
		}
		mp = &parts[nparts++];
		mp->relid = state->key.relid;
		mp->initialized = state->initialized;
		if (mp->initialized)
		{
			PartitionBounds bounds;

			partition_bounds(state, &bounds);
			strlcpy(mp->topic, state->topic, NAMEDATALEN);
			mp->partition = state->partition;
			mp->lso = bounds.lso;
		}
	}
	LWLockRelease(PartitionShared->hash_lock);

	SPI_connect();
	for (i = 0; i < nparts; i++)
	{
		forget_if_gone(parts[i].relid);
		if (parts[i].initialized &&
			SearchSysCacheExists1(RELOID, ObjectIdGetDatum(parts[i].relid)))
			persist_stable(&parts[i]);
	}
	SPI_finish();
	pfree(parts);
}

/*
 * partition_init installs the transaction callbacks; called from _PG_init
 * while the library is preloaded, so that every backend inherits them.
 */
void
partition_init(void)
{
	RegisterXactCallback(partition_xact_callback, NULL);
	RegisterSubXactCallback(partition_subxact_callback, NULL);
}
