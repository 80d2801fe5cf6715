/*-------------------------------------------------------------------------
 *
 * offsets.c
 *	  Offsets that no consumer can skip: the next-offset counter and the
 *	  last stable offset (LSO) of each partition.
 *
 * A producing transaction takes offsets with a fetch-add on the partition's
 * counter and, in the same critical section, registers the lowest offset it
 * holds in that partition together with its top-level xid.  The LSO is the
 * lowest registered offset whose xid is still in progress, or the counter
 * when there is none.  A reader reads the LSO first and only then takes its
 * snapshot: every offset below the LSO belongs to a transaction that had
 * ended before the snapshot, so the reader sees all of those committed and
 * none of the rest.
 *
 * Registrations are removed by the owning backend at commit or abort, from
 * an XactCallback that runs after the transaction left the proc array, so
 * there is no moment at which a reader could see the LSO move past an
 * offset whose transaction is still running.  A prepared transaction keeps
 * its registrations without an owner (pid 0); they are pruned lazily once
 * TransactionIdIsInProgress says it has ended.
 *
 * Locking protocol: PartitionState.lock, exclusive to take offsets or to
 * link and unlink registrations, shared to compute the LSO.  The xid is
 * assigned before the lock is taken, since assigning one may write WAL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/twophase.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "log/partition.h"

static void unlink_slot(PartitionState *state, int32 index);

typedef struct PgTopicsSharedState
{
	LWLock	   *hash_lock;
	int			partition_tranche;	/* tranche of PartitionState.lock */
	slock_t		slot_mutex;
	int32		free_head;		/* free producer slots, or -1 */
	int32		nslots;
	ProducerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} PgTopicsSharedState;

static PgTopicsSharedState *PgTopicsShared = NULL;
static HTAB *PartitionHash = NULL;

/*
 * partition_shmem_size returns the shared memory of the partition states
 * and the producer slots.
 */
Size
partition_shmem_size(void)
{
	Size		size;

	size = offsetof(PgTopicsSharedState, slots);
	size = add_size(size, mul_size(pg_topics_max_open_producers,
								   sizeof(ProducerSlot)));
	size = add_size(size, hash_estimate_size(pg_topics_max_partitions,
											 sizeof(PartitionState)));
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

	PgTopicsShared = ShmemInitStruct("pg_topics partitions",
									 offsetof(PgTopicsSharedState, slots) +
									 mul_size(pg_topics_max_open_producers,
											  sizeof(ProducerSlot)),
									 &found);
	if (!found)
	{
		int			i;

		PgTopicsShared->hash_lock = &(GetNamedLWLockTranche("pg_topics"))->lock;
		PgTopicsShared->partition_tranche = LWLockNewTrancheId();
		SpinLockInit(&PgTopicsShared->slot_mutex);
		PgTopicsShared->nslots = pg_topics_max_open_producers;
		for (i = 0; i < pg_topics_max_open_producers; i++)
			PgTopicsShared->slots[i].next =
				(i + 1 < pg_topics_max_open_producers) ? i + 1 : -1;
		PgTopicsShared->free_head = pg_topics_max_open_producers > 0 ? 0 : -1;
	}

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PartitionStateKey);
	info.entrysize = sizeof(PartitionState);
	PartitionHash = ShmemInitHash("pg_topics partition states",
								  pg_topics_max_partitions,
								  pg_topics_max_partitions,
								  &info, HASH_ELEM | HASH_BLOBS);

	LWLockRegisterTranche(PgTopicsShared->partition_tranche,
						  "pg_topics partition");
}

/*
 * partition_state_find returns the shared state of a partition of this
 * database, adding an uninitialized one when create is true (NULL when it
 * is absent and create is false).  Entries never move, so the pointer
 * stays valid until the partition's table is dropped.
 */
PartitionState *
partition_state_find(Oid relid, bool create)
{
	PartitionStateKey key;
	PartitionState *state;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;

	LWLockAcquire(PgTopicsShared->hash_lock, LW_SHARED);
	state = hash_search(PartitionHash, &key, HASH_FIND, NULL);
	LWLockRelease(PgTopicsShared->hash_lock);
	if (state != NULL || !create)
		return state;

	LWLockAcquire(PgTopicsShared->hash_lock, LW_EXCLUSIVE);
	state = hash_search(PartitionHash, &key, HASH_ENTER_NULL, &found);
	if (state != NULL && !found)
	{
		LWLockInitialize(&state->lock, PgTopicsShared->partition_tranche);
		state->initialized = false;
		state->next_offset = 0;
		state->producers_head = -1;
		state->producers_tail = -1;
		state->segment_requested_end = 0;
		ConditionVariableInit(&state->wait_cv);
		ConditionVariableInit(&state->topic_cv);
		state->topic_state = NULL;
	}
	LWLockRelease(PgTopicsShared->hash_lock);

	if (state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too many partitions in use"),
				 errdetail("The shared state holds at most %d partitions.",
						   pg_topics_max_partitions),
				 errhint("Increase \"pg_topics.max_partitions\" and restart the server.")));
	return state;
}

/*
 * partition_state_forget removes a dropped partition's state.  Caller
 * guarantees that the partition's table is gone, so no backend can reach
 * the entry again.
 */
void
partition_state_forget(Oid dbid, Oid relid)
{
	PartitionStateKey key;

	memset(&key, 0, sizeof(key));
	key.dbid = dbid;
	key.relid = relid;

	LWLockAcquire(PgTopicsShared->hash_lock, LW_EXCLUSIVE);
	hash_search(PartitionHash, &key, HASH_REMOVE, NULL);
	LWLockRelease(PgTopicsShared->hash_lock);
}

/*
 * partition_forget_database removes the states of every partition of a
 * database that no longer exists (DROP DATABASE), with the producer slots
 * chained on them.  No backend is connected to that database, so none
 * holds a pointer into these states.
 */
void
partition_forget_database(Oid dbid)
{
	HASH_SEQ_STATUS status;
	PartitionState *state;

	LWLockAcquire(PgTopicsShared->hash_lock, LW_EXCLUSIVE);
	hash_seq_init(&status, PartitionHash);
	while ((state = hash_seq_search(&status)) != NULL)
	{
		if (state->key.dbid != dbid)
			continue;
		LWLockAcquire(&state->lock, LW_EXCLUSIVE);
		while (state->producers_head >= 0)
			unlink_slot(state, state->producers_head);
		LWLockRelease(&state->lock);
		hash_search(PartitionHash, &state->key, HASH_REMOVE, NULL);
	}
	LWLockRelease(PgTopicsShared->hash_lock);
}

/*
 * partition_maintain runs the log's share of a database worker's round,
 * inside the worker's transaction.
 */
void
partition_maintain(void)
{
}

/*
 * partition_state_foreach calls fn on every partition state of this
 * database.  fn may take the partition's lock; the hash lock is held
 * shared throughout, which is allowed by the lock order (hash, then
 * partition), so fn must not add or remove partitions.
 */
void
partition_state_foreach(void (*fn) (PartitionState *state))
{
	HASH_SEQ_STATUS status;
	PartitionState *state;

	LWLockAcquire(PgTopicsShared->hash_lock, LW_SHARED);
	hash_seq_init(&status, PartitionHash);
	while ((state = hash_seq_search(&status)) != NULL)
	{
		if (state->key.dbid == MyDatabaseId && state->initialized)
			fn(state);
	}
	LWLockRelease(PgTopicsShared->hash_lock);
}

/*
 * producer_slot returns the slot at index; the caller holds the lock of the
 * partition the slot is chained on.
 */
ProducerSlot *
producer_slot(int32 index)
{
	Assert(index >= 0 && index < PgTopicsShared->nslots);
	return &PgTopicsShared->slots[index];
}

/*
 * producer_slot_alloc takes a free slot, or returns -1 when none is left.
 */
int32
producer_slot_alloc(void)
{
	int32		index;

	SpinLockAcquire(&PgTopicsShared->slot_mutex);
	index = PgTopicsShared->free_head;
	if (index >= 0)
		PgTopicsShared->free_head = PgTopicsShared->slots[index].next;
	SpinLockRelease(&PgTopicsShared->slot_mutex);
	return index;
}

/*
 * producer_slot_free returns a slot, already unlinked, to the free list.
 */
void
producer_slot_free(int32 index)
{
	SpinLockAcquire(&PgTopicsShared->slot_mutex);
	PgTopicsShared->slots[index].next = PgTopicsShared->free_head;
	PgTopicsShared->free_head = index;
	SpinLockRelease(&PgTopicsShared->slot_mutex);
}

/* A partition the current top-level transaction produced into. */
typedef struct XactProducer
{
	PartitionState *state;
	PartitionStateKey key;
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

/* Partition tables dropped by this transaction: forget them at commit. */
static List *dropped_partitions = NIL;

/*
 * partition_broadcast wakes the readers of a partition, and those waiting
 * for any partition of its topic.
 */
static void
partition_broadcast(PartitionState *state)
{
	ConditionVariableBroadcast(&state->wait_cv);
	if (state->topic_state != NULL)
		ConditionVariableBroadcast(&state->topic_state->topic_cv);
}

/*
 * unlink_slot takes a slot off its partition's list and frees it.  Caller
 * holds the partition lock exclusively.
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
	producer_slot_free(index);
}

/*
 * link_slot appends a registration.  Caller holds the partition lock
 * exclusively, and first_offset is not below any registered offset, so the
 * list stays in offset order.
 */
static int32
link_slot(PartitionState *state, TransactionId xid, int pid,
		  int64 first_offset)
{
	int32		index = producer_slot_alloc();
	ProducerSlot *slot;

	Assert(LWLockHeldByMeInMode(&state->lock, LW_EXCLUSIVE));

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
 * prune_prepared frees the slots of prepared transactions that have ended.
 * Caller holds the partition lock exclusively.
 */
static void
prune_prepared(PartitionState *state)
{
	int32		index = state->producers_head;

	while (index >= 0)
	{
		ProducerSlot *slot = producer_slot(index);
		int32		next = slot->next;

		if (slot->pid == 0 && !TransactionIdIsInProgress(slot->xid))
			unlink_slot(state, index);
		index = next;
	}
}

/*
 * wake_if_prepared_ended prunes a partition's ended prepared transactions
 * and wakes its readers if there were any.
 */
static void
wake_if_prepared_ended(PartitionState *state)
{
	int32		index;
	bool		ended = false;

	LWLockAcquire(&state->lock, LW_EXCLUSIVE);
	for (index = state->producers_head; index >= 0;
		 index = producer_slot(index)->next)
	{
		ProducerSlot *slot = producer_slot(index);

		if (slot->pid == 0 && !TransactionIdIsInProgress(slot->xid))
			ended = true;
	}
	if (ended)
		prune_prepared(state);
	LWLockRelease(&state->lock);
	if (ended)
		partition_broadcast(state);
}

/*
 * partition_state_init sets the counter of a partition rebuilt from storage,
 * and re-registers the prepared transactions found holding offsets in it,
 * unless another backend did so first.
 */
void
partition_state_init(PartitionState *state, Oid relid, int64 log_end,
					 List *prepared)
{
	ListCell   *lc;

	LWLockAcquire(&state->lock, LW_EXCLUSIVE);
	if (!state->initialized)
	{
		state->next_offset = log_end;
		/* prepared is sorted by first_offset, as the list must be */
		foreach(lc, prepared)
		{
			PreparedProducer *pp = lfirst(lc);

			if (link_slot(state, pp->xid, 0, pp->first_offset) < 0)
			{
				LWLockRelease(&state->lock);
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("too many open producers"),
						 errhint("Increase \"pg_topics.max_open_producers\" and restart the server.")));
			}
		}
		state->initialized = true;
	}
	LWLockRelease(&state->lock);
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
 * partition_take_offsets hands out count consecutive offsets of an
 * initialized partition to the current transaction and returns the first.
 * The transaction is registered as an open producer of the partition until
 * it ends.
 */
int64
partition_take_offsets(PartitionState *state, int64 count)
{
	TransactionId xid = GetTopTransactionId();
	XactProducer *reg = xact_producer_find(state);
	int64		first;

	Assert(state->initialized);

	if (reg == NULL)
	{
		/* make room first: nothing may fail once the slot is linked */
		if (n_xact_producers == max_xact_producers)
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
	}

	LWLockAcquire(&state->lock, LW_EXCLUSIVE);
	first = state->next_offset;
	if (reg == NULL)
	{
		int32		index;

		if (state->producers_head >= 0)
			prune_prepared(state);
		index = link_slot(state, xid, MyProcPid, first);
		if (index < 0)
		{
			LWLockRelease(&state->lock);
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("too many open producers"),
					 errdetail("All %d producer slots are held by open transactions.",
							   pg_topics_max_open_producers),
					 errhint("Increase \"pg_topics.max_open_producers\" and restart the server.")));
		}
		reg = &xact_producers[n_xact_producers++];
		reg->state = state;
		reg->key = state->key;
		reg->slot = index;
	}
	state->next_offset += count;
	LWLockRelease(&state->lock);

	return first;
}

/*
 * partition_look fills snap with the partition's LSO, log end and oldest
 * open producer.  The caller must take its snapshot after this returns.
 */
void
partition_look(PartitionState *state, PartitionSnapshot *snap)
{
	int32		index;

	LWLockAcquire(&state->lock, LW_SHARED);
	Assert(state->initialized);
	snap->log_end = state->next_offset;
	snap->lso = state->next_offset;
	snap->oldest_pid = 0;
	snap->oldest_xid = InvalidTransactionId;
	snap->oldest_since = 0;
	for (index = state->producers_head; index >= 0;
		 index = producer_slot(index)->next)
	{
		ProducerSlot *slot = producer_slot(index);

		if (TransactionIdIsInProgress(slot->xid))
		{
			snap->lso = slot->first_offset;
			snap->oldest_pid = slot->pid;
			snap->oldest_xid = slot->xid;
			snap->oldest_since = slot->since;
			break;
		}
	}
	LWLockRelease(&state->lock);
}

/*
 * partition_wait waits until the LSO passes from_offset or the deadline
 * comes, and returns whether it passed; snap holds the last look.  Commits
 * and aborts of producers wake it, so it never polls.
 */
bool
partition_wait(PartitionState *state, int64 from_offset,
			   TimestampTz deadline, PartitionSnapshot *snap)
{
	bool		passed = false;

	partition_look(state, snap);
	if (snap->lso > from_offset)
		return true;

	ConditionVariablePrepareToSleep(&state->wait_cv);
	for (;;)
	{
		TimestampTz now;

		partition_look(state, snap);
		if (snap->lso > from_offset)
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
 * partition_forget_at_commit arranges for the shared state of a dropped
 * partition table to be released if the dropping transaction commits.
 */
void
partition_forget_at_commit(Oid relid)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

	dropped_partitions = lappend_oid(dropped_partitions, relid);
	MemoryContextSwitchTo(old);
}

/*
 * release_dropped frees the producer slots and the shared state of the
 * partitions dropped by the transaction that just committed.
 */
static void
release_dropped(void)
{
	ListCell   *lc;

	foreach(lc, dropped_partitions)
	{
		PartitionState *state = partition_state_find(lfirst_oid(lc), false);

		if (state == NULL)
			continue;
		LWLockAcquire(&state->lock, LW_EXCLUSIVE);
		while (state->producers_head >= 0)
			unlink_slot(state, state->producers_head);
		LWLockRelease(&state->lock);
		partition_state_forget(MyDatabaseId, lfirst_oid(lc));
	}
}

/*
 * producers_xact_callback ends this backend's registrations with its
 * transaction and wakes the readers of the partitions it wrote.
 */
static void
producers_xact_callback(XactEvent event, void *arg)
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
				partition_broadcast(state);
			}
			n_xact_producers = 0;
			if (event == XACT_EVENT_COMMIT && dropped_partitions != NIL)
				release_dropped();
			dropped_partitions = NIL;
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
			dropped_partitions = NIL;
			break;

		default:
			break;
	}
}

/*
 * partition_wake_prepared unlinks the registrations of prepared
 * transactions that have ended and wakes the readers of their partitions.
 * Called after COMMIT PREPARED and ROLLBACK PREPARED, whose commit or abort
 * runs no callback of the backend that produced.
 */
void
partition_wake_prepared(void)
{
	partition_state_foreach(wake_if_prepared_ended);
}

/*
 * partition_init installs the transaction callback; called from _PG_init
 * while the library is preloaded, so that every backend inherits it.
 */
void
partition_init(void)
{
	RegisterXactCallback(producers_xact_callback, NULL);
}
