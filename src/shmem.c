/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Shared memory of pg_topics: a hash of partition states and a pool of
 *	  open-producer slots.
 *
 * Sizes are fixed at start-up by pg_topics.max_partitions and
 * pg_topics.max_open_producers, so running out is a clear error (53000)
 * rather than a slow leak.
 *
 * Locking protocol:
 *	- PgTopicsShared->hash_lock (the first lock of the "pg_topics" named
 *	  tranche; group_state.c has the second) protects
 *	  the partition hash: shared to look up, exclusive to add or remove.
 *	- PartitionState.lock protects every field of one partition, and the
 *	  links of the producer slots chained on it.  It is never held together
 *	  with another partition's lock.  When both are held, hash_lock is
 *	  taken first (partition_state_foreach).
 *	- PgTopicsShared->slot_mutex (a spinlock) protects the free list of
 *	  producer slots only; it may be taken while a partition lock is held.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"

#include "group_state.h"
#include "pg_topics.h"
#include "partition_state.h"

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
 * shmem_size returns the bytes pg_topics asks for at start-up.
 */
static Size
shmem_size(void)
{
	Size		size;

	size = offsetof(PgTopicsSharedState, slots);
	size = add_size(size, mul_size(pg_topics_max_open_producers,
								   sizeof(ProducerSlot)));
	size = add_size(size, hash_estimate_size(pg_topics_max_partitions,
											 sizeof(PartitionState)));
	size = add_size(size, group_state_shmem_size());
	return size;
}

/*
 * pg_topics_shmem_request reserves our shared memory and the lock tranche;
 * called from shmem_request_hook.
 */
void
pg_topics_shmem_request(void)
{
	RequestAddinShmemSpace(shmem_size());
	RequestNamedLWLockTranche("pg_topics", 2);
}

/*
 * pg_topics_shmem_startup attaches to (and in the postmaster, creates) the
 * shared state; called from shmem_startup_hook.
 */
void
pg_topics_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);

	PgTopicsShared = ShmemInitStruct("pg_topics",
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
	PartitionHash = ShmemInitHash("pg_topics partitions",
								  pg_topics_max_partitions,
								  pg_topics_max_partitions,
								  &info, HASH_ELEM | HASH_BLOBS);

	group_state_shmem_startup();

	LWLockRelease(AddinShmemInitLock);

	LWLockRegisterTranche(PgTopicsShared->partition_tranche,
						  "pg_topics partition");
}

/*
 * pg_topics_shmem_ready tells whether the library was preloaded, so that
 * our shared memory exists.
 */
bool
pg_topics_shmem_ready(void)
{
	return PgTopicsShared != NULL;
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
