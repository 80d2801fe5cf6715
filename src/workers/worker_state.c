/*-------------------------------------------------------------------------
 *
 * worker_state.c
 *	  Shared memory of the launcher and the per-database workers: one slot
 *	  per running worker, the databases the launcher must leave alone for
 *	  a while, and the launcher's latch.
 *
 * Locking protocol: WorkerShared->mutex (a spinlock) protects every field.
 * It is never held with another lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "workers/worker_state.h"

typedef struct WorkerSlot
{
	bool		in_use;
	Oid			dbid;
	pid_t		pid;
} WorkerSlot;

/* A database the launcher must leave alone until a given time. */
typedef struct WorkerHold
{
	Oid			dbid;
	TimestampTz until;
} WorkerHold;

#define WORKER_HOLDS	64

typedef struct WorkerSharedState
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	int			nslots;
	WorkerHold	holds[WORKER_HOLDS];
	WorkerSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} WorkerSharedState;

static WorkerSharedState *WorkerShared = NULL;

/*
 * worker_state_shmem_size returns the shared memory this file needs.
 */
Size
worker_state_shmem_size(void)
{
	return add_size(offsetof(WorkerSharedState, slots),
					mul_size(max_worker_processes, sizeof(WorkerSlot)));
}

/*
 * worker_state_shmem_startup attaches to, or creates, the shared state.
 * Caller holds AddinShmemInitLock.
 */
void
worker_state_shmem_startup(void)
{
	bool		found;

	WorkerShared = ShmemInitStruct("pg_topics workers",
								   worker_state_shmem_size(), &found);
	if (!found)
	{
		memset(WorkerShared, 0, worker_state_shmem_size());
		SpinLockInit(&WorkerShared->mutex);
		WorkerShared->nslots = max_worker_processes;
	}
}

/*
 * worker_slot_claim reserves a slot for the worker of a database and
 * returns its index, or -1 when the database has one or none is free.
 */
int
worker_slot_claim(Oid dbid)
{
	int			i;
	int			result = -1;

	SpinLockAcquire(&WorkerShared->mutex);
	for (i = 0; i < WorkerShared->nslots; i++)
		if (WorkerShared->slots[i].in_use && WorkerShared->slots[i].dbid == dbid)
		{
			SpinLockRelease(&WorkerShared->mutex);
			return -1;
		}
	for (i = 0; i < WorkerShared->nslots; i++)
		if (!WorkerShared->slots[i].in_use)
		{
			WorkerShared->slots[i].in_use = true;
			WorkerShared->slots[i].dbid = dbid;
			WorkerShared->slots[i].pid = 0;
			result = i;
			break;
		}
	SpinLockRelease(&WorkerShared->mutex);
	return result;
}

void
worker_slot_release(int slot)
{
	SpinLockAcquire(&WorkerShared->mutex);
	WorkerShared->slots[slot].in_use = false;
	WorkerShared->slots[slot].pid = 0;
	SpinLockRelease(&WorkerShared->mutex);
}

void
worker_slot_set_pid(int slot, pid_t pid)
{
	SpinLockAcquire(&WorkerShared->mutex);
	WorkerShared->slots[slot].pid = pid;
	SpinLockRelease(&WorkerShared->mutex);
}

/*
 * worker_slot_running tells whether a database has a worker slot in use,
 * and its pid (0 while it starts).
 */
bool
worker_slot_running(Oid dbid, pid_t *pid)
{
	int			i;
	bool		result = false;

	SpinLockAcquire(&WorkerShared->mutex);
	for (i = 0; i < WorkerShared->nslots; i++)
		if (WorkerShared->slots[i].in_use && WorkerShared->slots[i].dbid == dbid)
		{
			result = true;
			if (pid)
				*pid = WorkerShared->slots[i].pid;
			break;
		}
	SpinLockRelease(&WorkerShared->mutex);
	return result;
}

/*
 * worker_slots_hold_off keeps the launcher from starting a worker for a
 * database until a time (0 lifts the hold): the database lacks the
 * extension, or is being dropped.
 */
void
worker_slots_hold_off(Oid dbid, TimestampTz until)
{
	int			i;
	int			free_hold = -1;
	int			oldest = 0;

	SpinLockAcquire(&WorkerShared->mutex);
	for (i = 0; i < WORKER_HOLDS; i++)
	{
		WorkerHold *h = &WorkerShared->holds[i];

		if (h->dbid == dbid)
		{
			h->until = until;
			SpinLockRelease(&WorkerShared->mutex);
			return;
		}
		if (h->dbid == InvalidOid && free_hold < 0)
			free_hold = i;
		if (h->until < WorkerShared->holds[oldest].until)
			oldest = i;
	}
	if (until != 0)
	{
		/* with every hold taken, the one ending first gives way */
		i = free_hold >= 0 ? free_hold : oldest;
		WorkerShared->holds[i].dbid = dbid;
		WorkerShared->holds[i].until = until;
	}
	SpinLockRelease(&WorkerShared->mutex);
}

/*
 * worker_slots_may_start tells whether no hold keeps the launcher from
 * starting a worker for a database at time now.
 */
bool
worker_slots_may_start(Oid dbid, TimestampTz now)
{
	int			i;
	bool		result = true;

	SpinLockAcquire(&WorkerShared->mutex);
	for (i = 0; i < WORKER_HOLDS; i++)
		if (WorkerShared->holds[i].dbid == dbid &&
			WorkerShared->holds[i].until > now)
			result = false;
	SpinLockRelease(&WorkerShared->mutex);
	return result;
}

void
launcher_set_latch(Latch *latch)
{
	SpinLockAcquire(&WorkerShared->mutex);
	WorkerShared->launcher_latch = latch;
	SpinLockRelease(&WorkerShared->mutex);
}

/*
 * launcher_wake makes the launcher look at the databases now.
 */
void
launcher_wake(void)
{
	Latch	   *latch;

	SpinLockAcquire(&WorkerShared->mutex);
	latch = WorkerShared->launcher_latch;
	SpinLockRelease(&WorkerShared->mutex);
	if (latch)
		SetLatch(latch);
}
