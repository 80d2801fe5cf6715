/*-------------------------------------------------------------------------
 *
 * worker_state.c
 *	  Shared memory of the launcher and the per-database workers.
 *
 * Three things live here, all of fixed size, so that nothing grows with
 * the number of databases:
 *
 * - The pool of worker slots, half of max_worker_processes (at least one):
 *	 the launcher never runs more workers than that, whatever
 *	 pg_topics.max_workers says, so that producers always find background
 *	 worker slots for the short-lived workers that add segments.  The
 *	 launcher claims and frees slots; the worker in a slot reports its pid,
 *	 latch, phase, and what its last round found.
 *
 * - A ring of the last WORKER_NOTICES extension notices: a committed
 *	 CREATE or DROP EXTENSION tells the launcher whether its database has
 *	 pg_topics now.  Notices are numbered; a worker's round records the
 *	 number of the last notice handed out before its snapshot, so the
 *	 launcher can tell which of a round's finding and a notice is the newer
 *	 (see launcher.c).  When more notices come between two looks of the
 *	 launcher than the ring holds, the launcher learns that it lost some.
 *
 * - The blocked databases: a backend that drops, renames, moves or copies
 *	 a database blocks it for the rest of its transaction, and the launcher
 *	 starts no worker there meanwhile.  A backend blocks at most one
 *	 database at a time (a later command replaces its block), so
 *	 MaxBackends entries always suffice.
 *
 * Locking protocol: WorkerShared->mutex (a spinlock) protects every field.
 * It is never held with another lock, nor across a system call or a latch
 * operation, and every loop under it is over the slots (a handful) or the
 * current blocks (one per running DROP/RENAME/...).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "workers/worker_state.h"

/* A database that a backend needs to itself until its transaction ends. */
typedef struct DatabaseBlock
{
	Oid			dbid;
	pid_t		pid;
} DatabaseBlock;

typedef struct WorkerSharedState
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	bool		rescan;			/* pg_database changed: look again */
	uint64		notice_seq;		/* number of the last notice */
	ExtensionNotice notices[WORKER_NOTICES];	/* notice n at n % size */
	int			nslots;
	int			nblocks;		/* blocks in use, at the front */
	int			maxblocks;
	WorkerSlot	slots[FLEXIBLE_ARRAY_MEMBER];	/* then the blocks */
} WorkerSharedState;

static WorkerSharedState *WorkerShared = NULL;
static DatabaseBlock *WorkerBlocks = NULL;

/*
 * wstate_nslots returns the size of the pool: half of max_worker_processes,
 * at least one.
 */
static int
wstate_nslots(void)
{
	return Max(1, max_worker_processes / 2);
}

/*
 * worker_state_shmem_size returns the shared memory this file needs.
 * MaxBackends is known by then (shmem_request_hook runs after it is set).
 */
Size
worker_state_shmem_size(void)
{
	Size		size = offsetof(WorkerSharedState, slots);

	size = add_size(size, mul_size(wstate_nslots(), sizeof(WorkerSlot)));
	return add_size(size, mul_size(MaxBackends, sizeof(DatabaseBlock)));
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
		WorkerShared->nslots = wstate_nslots();
		WorkerShared->maxblocks = MaxBackends;
	}
	WorkerBlocks = (DatabaseBlock *) &WorkerShared->slots[WorkerShared->nslots];
}

/*
 * wstate_blocked tells whether a backend blocks a database.  Caller holds
 * the mutex.
 */
static bool
wstate_blocked(Oid dbid)
{
	int			i;

	for (i = 0; i < WorkerShared->nblocks; i++)
		if (WorkerBlocks[i].dbid == dbid)
			return true;
	return false;
}

/*
 * worker_slot_count returns the number of slots in the pool.
 */
int
worker_slot_count(void)
{
	return WorkerShared->nslots;
}

/*
 * worker_slot_claim reserves a free slot for a worker of a database and
 * returns its index and, in *generation, the number that the worker must
 * present to attach.  Returns -1 when the database is blocked or has a
 * worker already, when the launcher has yet to look at a change of
 * pg_database (the database may be gone), or when no slot is free.  Only
 * the launcher calls this.
 */
int
worker_slot_claim(Oid dbid, uint32 *generation)
{
	int			i;
	int			free_slot = -1;

	SpinLockAcquire(&WorkerShared->mutex);
	if (WorkerShared->rescan || wstate_blocked(dbid))
	{
		SpinLockRelease(&WorkerShared->mutex);
		return -1;
	}
	for (i = 0; i < WorkerShared->nslots; i++)
	{
		WorkerSlot *s = &WorkerShared->slots[i];

		if (!s->in_use)
		{
			if (free_slot < 0)
				free_slot = i;
		}
		else if (s->dbid == dbid && s->phase != WORKER_EXITED)
		{
			SpinLockRelease(&WorkerShared->mutex);
			return -1;
		}
	}
	if (free_slot >= 0)
	{
		WorkerSlot *s = &WorkerShared->slots[free_slot];
		uint32		next = s->generation + 1;

		memset(s, 0, sizeof(WorkerSlot));
		s->in_use = true;
		s->generation = next;
		s->dbid = dbid;
		s->phase = WORKER_STARTING;
		*generation = next;
	}
	SpinLockRelease(&WorkerShared->mutex);
	return free_slot;
}

/*
 * worker_slot_free frees a slot.  A worker started for it that has not
 * attached yet will find the generation changed and exit.  Only the
 * launcher calls this.
 */
void
worker_slot_free(int slot)
{
	WorkerSlot *s = &WorkerShared->slots[slot];

	SpinLockAcquire(&WorkerShared->mutex);
	s->in_use = false;
	s->generation++;
	s->pid = 0;
	s->latch = NULL;
	SpinLockRelease(&WorkerShared->mutex);
}

/*
 * worker_slot_read copies a slot.
 */
void
worker_slot_read(int slot, WorkerSlot *copy)
{
	SpinLockAcquire(&WorkerShared->mutex);
	*copy = WorkerShared->slots[slot];
	SpinLockRelease(&WorkerShared->mutex);
}

/*
 * worker_slot_ask_stop asks the worker in a slot to exit once its round,
 * if any, is over.
 */
void
worker_slot_ask_stop(int slot)
{
	WorkerSlot *s = &WorkerShared->slots[slot];
	Latch	   *latch;

	SpinLockAcquire(&WorkerShared->mutex);
	s->stop = true;
	latch = s->latch;
	SpinLockRelease(&WorkerShared->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * worker_notices_read copies the notices posted since number *seen into
 * notices (room for WORKER_NOTICES), oldest first, advances *seen and
 * returns how many it copied.  *lost tells whether older ones were
 * overwritten before this look.
 */
int
worker_notices_read(uint64 *seen, ExtensionNotice *notices, bool *lost)
{
	uint64		seq;
	int			n = 0;

	SpinLockAcquire(&WorkerShared->mutex);
	*lost = WorkerShared->notice_seq - *seen > WORKER_NOTICES;
	if (*lost)
		*seen = WorkerShared->notice_seq - WORKER_NOTICES;
	for (seq = *seen + 1; seq <= WorkerShared->notice_seq; seq++)
		notices[n++] = WorkerShared->notices[seq % WORKER_NOTICES];
	*seen = WorkerShared->notice_seq;
	SpinLockRelease(&WorkerShared->mutex);
	return n;
}

/*
 * worker_rescan_requested tells whether pg_database changed since the
 * last call, and clears the request.  The launcher calls it just before it
 * reads pg_database.
 */
bool
worker_rescan_requested(void)
{
	bool		result;

	SpinLockAcquire(&WorkerShared->mutex);
	result = WorkerShared->rescan;
	WorkerShared->rescan = false;
	SpinLockRelease(&WorkerShared->mutex);
	return result;
}

/*
 * launcher_set_latch publishes the launcher's latch, or NULL when it exits.
 */
void
launcher_set_latch(Latch *latch)
{
	SpinLockAcquire(&WorkerShared->mutex);
	WorkerShared->launcher_latch = latch;
	SpinLockRelease(&WorkerShared->mutex);
}

/*
 * worker_slot_attach records the calling worker in its slot and returns
 * true, or returns false when the slot was given to another worker since
 * (the launcher restarted) or its database was blocked meanwhile; the
 * worker must then exit before it connects.
 */
bool
worker_slot_attach(int slot, uint32 generation)
{
	WorkerSlot *s = &WorkerShared->slots[slot];
	bool		ok = false;

	SpinLockAcquire(&WorkerShared->mutex);
	if (s->in_use && s->generation == generation)
	{
		if (wstate_blocked(s->dbid))
			s->phase = WORKER_EXITED;
		else
		{
			s->pid = MyProcPid;
			s->latch = MyLatch;
			ok = true;
		}
	}
	SpinLockRelease(&WorkerShared->mutex);
	if (!ok)
		launcher_wake();
	return ok;
}

/*
 * worker_slot_round_begin records that a round starts now and returns the
 * number of the last notice posted.  Caller has not taken the round's
 * snapshot yet: whatever those notices said committed before it.
 */
uint64
worker_slot_round_begin(int slot)
{
	WorkerSlot *s = &WorkerShared->slots[slot];
	TimestampTz now = GetCurrentTimestamp();
	uint64		seq;

	SpinLockAcquire(&WorkerShared->mutex);
	s->phase = WORKER_ROUND;
	s->round_start = now;
	seq = WorkerShared->notice_seq;
	SpinLockRelease(&WorkerShared->mutex);
	return seq;
}

/*
 * worker_slot_round_end records the end of a round, whose snapshot saw the
 * notices up to seq, and whether it found the extension.
 */
void
worker_slot_round_end(int slot, uint64 seq, bool has_extension)
{
	WorkerSlot *s = &WorkerShared->slots[slot];

	SpinLockAcquire(&WorkerShared->mutex);
	s->phase = WORKER_NAPPING;
	s->has_verdict = true;
	s->has_extension = has_extension;
	s->verdict_seq = seq;
	SpinLockRelease(&WorkerShared->mutex);
}

/*
 * worker_slot_stop_requested tells whether the worker in a slot was asked
 * to exit.
 */
bool
worker_slot_stop_requested(int slot)
{
	bool		result;

	SpinLockAcquire(&WorkerShared->mutex);
	result = WorkerShared->slots[slot].stop;
	SpinLockRelease(&WorkerShared->mutex);
	return result;
}

/*
 * worker_slot_detach records that the worker in a slot exits, and whether
 * it failed: an error ended it while it started or ran a round, and nobody
 * had asked it to stop.  The launcher frees the slot.
 */
void
worker_slot_detach(int slot, bool error)
{
	WorkerSlot *s = &WorkerShared->slots[slot];

	SpinLockAcquire(&WorkerShared->mutex);
	if (s->pid == MyProcPid)
	{
		s->failed = error && !s->stop && s->phase != WORKER_NAPPING;
		s->phase = WORKER_EXITED;
		s->pid = 0;
		s->latch = NULL;
	}
	SpinLockRelease(&WorkerShared->mutex);
	launcher_wake();
}

/*
 * worker_notice_post tells the launcher whether a database has the
 * extension.  Caller's transaction has committed and is visible to every
 * snapshot taken from now on.
 */
void
worker_notice_post(Oid dbid, bool has_extension)
{
	ExtensionNotice *n;

	SpinLockAcquire(&WorkerShared->mutex);
	WorkerShared->notice_seq++;
	n = &WorkerShared->notices[WorkerShared->notice_seq % WORKER_NOTICES];
	n->seq = WorkerShared->notice_seq;
	n->dbid = dbid;
	n->has_extension = has_extension;
	SpinLockRelease(&WorkerShared->mutex);
	launcher_wake();
}

/*
 * worker_request_rescan tells the launcher that pg_database changed.
 * Until it has looked again it starts no worker, since the database it
 * would start one in may be gone.
 */
void
worker_request_rescan(void)
{
	SpinLockAcquire(&WorkerShared->mutex);
	WorkerShared->rescan = true;
	SpinLockRelease(&WorkerShared->mutex);
	launcher_wake();
}

/*
 * worker_block_database keeps the launcher from starting a worker in a
 * database until worker_unblock; it replaces the caller's previous block.
 */
void
worker_block_database(Oid dbid)
{
	int			i;

	SpinLockAcquire(&WorkerShared->mutex);
	for (i = 0; i < WorkerShared->nblocks; i++)
		if (WorkerBlocks[i].pid == MyProcPid)
			break;
	if (i == WorkerShared->nblocks)
	{
		/* one block per backend: cannot overflow */
		if (i >= WorkerShared->maxblocks)
		{
			SpinLockRelease(&WorkerShared->mutex);
			elog(ERROR, "no room to block database %u", dbid);
		}
		WorkerShared->nblocks++;
	}
	WorkerBlocks[i].dbid = dbid;
	WorkerBlocks[i].pid = MyProcPid;
	SpinLockRelease(&WorkerShared->mutex);
}

/*
 * worker_unblock lifts the caller's block, if any.
 */
void
worker_unblock(void)
{
	int			i;
	bool		found = false;

	SpinLockAcquire(&WorkerShared->mutex);
	for (i = 0; i < WorkerShared->nblocks; i++)
		if (WorkerBlocks[i].pid == MyProcPid)
		{
			WorkerBlocks[i] = WorkerBlocks[--WorkerShared->nblocks];
			found = true;
			break;
		}
	SpinLockRelease(&WorkerShared->mutex);
	if (found)
		launcher_wake();
}

/*
 * worker_database_stop asks the worker of a database to exit now and
 * tells whether one is still there.  A worker between rounds exits when
 * woken; one in a round gets SIGTERM, so that the round ends too.  Caller
 * blocked the database first, so that no new one starts; it calls this
 * again until it returns false.
 */
bool
worker_database_stop(Oid dbid)
{
	pid_t		pid = 0;
	Latch	   *latch = NULL;
	bool		busy = false;
	int			i;

	/* worker_slot_claim lets a database have one worker at a time */
	SpinLockAcquire(&WorkerShared->mutex);
	for (i = 0; i < WorkerShared->nslots; i++)
	{
		WorkerSlot *s = &WorkerShared->slots[i];

		if (!s->in_use || s->dbid != dbid || s->phase == WORKER_EXITED)
			continue;
		busy = true;
		s->stop = true;
		latch = s->latch;
		if (s->phase == WORKER_ROUND)
			pid = s->pid;
		break;
	}
	SpinLockRelease(&WorkerShared->mutex);

	if (latch)
		SetLatch(latch);
	if (pid != 0)
		(void) kill(pid, SIGTERM);
	return busy;
}

/*
 * launcher_wake makes the launcher look at its databases and workers now.
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
