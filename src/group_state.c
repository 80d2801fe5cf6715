/*-------------------------------------------------------------------------
 *
 * group_state.c
 *	  Shared memory of consumer groups and of the per-database workers.
 *
 * Heartbeats live in shared memory, not in a table: every poll is a
 * heartbeat, and writing a row per poll would cost a tuple version and WAL
 * each time.  After a restart the table of members is still there; the
 * worker then counts each member as seen at the moment it first looks, so
 * every member gets one full session timeout to come back.
 *
 * Locking protocol:
 *	- The second lock of the "pg_topics" named tranche (member_lock)
 *	  protects the member hash.  It is never held with another lock.
 *	- GroupShared->slot_mutex (a spinlock) protects the worker slots and
 *	  the launcher's latch pointer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/hsearch.h"

#include "group_state.h"
#include "pg_topics.h"

int			pg_topics_max_members = 4096;

typedef struct MemberKey
{
	Oid			dbid;
	int32		member_id;
} MemberKey;

typedef struct MemberEntry
{
	MemberKey	key;			/* hash key: must be first */
	TimestampTz last_seen;
} MemberEntry;

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

typedef struct GroupSharedState
{
	LWLock	   *member_lock;
	slock_t		slot_mutex;
	Latch	   *launcher_latch;
	int			nslots;
	WorkerHold	holds[WORKER_HOLDS];
	WorkerSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} GroupSharedState;

static GroupSharedState *GroupShared = NULL;
static HTAB *MemberHash = NULL;

static Size
slots_size(void)
{
	return add_size(offsetof(GroupSharedState, slots),
					mul_size(max_worker_processes, sizeof(WorkerSlot)));
}

/*
 * group_state_shmem_size returns the shared memory this file needs.
 */
Size
group_state_shmem_size(void)
{
	return add_size(slots_size(),
					hash_estimate_size(pg_topics_max_members,
									   sizeof(MemberEntry)));
}

/*
 * group_state_shmem_startup attaches to, or creates, the shared state.
 * Caller holds AddinShmemInitLock.
 */
void
group_state_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	GroupShared = ShmemInitStruct("pg_topics groups", slots_size(), &found);
	if (!found)
	{
		memset(GroupShared, 0, slots_size());
		GroupShared->member_lock = &(GetNamedLWLockTranche("pg_topics"))[1].lock;
		SpinLockInit(&GroupShared->slot_mutex);
		GroupShared->nslots = max_worker_processes;
	}

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(MemberKey);
	info.entrysize = sizeof(MemberEntry);
	MemberHash = ShmemInitHash("pg_topics members", pg_topics_max_members,
							   pg_topics_max_members, &info,
							   HASH_ELEM | HASH_BLOBS);
}

/*
 * member_touch records that a member was seen now.  When the hash is full
 * the heartbeat is lost, and the member is only kept alive by the worker
 * counting it as seen when it first looks; a WARNING says so.
 */
void
member_touch(int32 member_id)
{
	MemberKey	key;
	MemberEntry *entry;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.member_id = member_id;
	LWLockAcquire(GroupShared->member_lock, LW_EXCLUSIVE);
	entry = hash_search(MemberHash, &key, HASH_ENTER_NULL, NULL);
	if (entry != NULL)
		entry->last_seen = GetCurrentTimestamp();
	LWLockRelease(GroupShared->member_lock);
	if (entry == NULL)
		ereport(WARNING,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too many consumer group members to track heartbeats"),
				 errhint("Increase \"pg_topics.max_members\" and restart the server.")));
}

/*
 * member_last_seen returns when a member was last seen, counting one not
 * seen since the server started as seen now.
 */
TimestampTz
member_last_seen(int32 member_id)
{
	TimestampTz result = member_seen_at(member_id);

	if (result == 0)
	{
		member_touch(member_id);
		result = GetCurrentTimestamp();
	}
	return result;
}

/*
 * member_seen_at returns when a member was last seen, or 0 when not since
 * the server started.
 */
TimestampTz
member_seen_at(int32 member_id)
{
	MemberKey	key;
	MemberEntry *entry;
	TimestampTz result;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.member_id = member_id;
	LWLockAcquire(GroupShared->member_lock, LW_SHARED);
	entry = hash_search(MemberHash, &key, HASH_FIND, NULL);
	result = entry ? entry->last_seen : 0;
	LWLockRelease(GroupShared->member_lock);
	return result;
}

/*
 * member_forget drops a member's heartbeat.
 */
void
member_forget(int32 member_id)
{
	MemberKey	key;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.member_id = member_id;
	LWLockAcquire(GroupShared->member_lock, LW_EXCLUSIVE);
	hash_search(MemberHash, &key, HASH_REMOVE, NULL);
	LWLockRelease(GroupShared->member_lock);
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

	SpinLockAcquire(&GroupShared->slot_mutex);
	for (i = 0; i < GroupShared->nslots; i++)
		if (GroupShared->slots[i].in_use && GroupShared->slots[i].dbid == dbid)
		{
			SpinLockRelease(&GroupShared->slot_mutex);
			return -1;
		}
	for (i = 0; i < GroupShared->nslots; i++)
		if (!GroupShared->slots[i].in_use)
		{
			GroupShared->slots[i].in_use = true;
			GroupShared->slots[i].dbid = dbid;
			GroupShared->slots[i].pid = 0;
			result = i;
			break;
		}
	SpinLockRelease(&GroupShared->slot_mutex);
	return result;
}

void
worker_slot_release(int slot)
{
	SpinLockAcquire(&GroupShared->slot_mutex);
	GroupShared->slots[slot].in_use = false;
	GroupShared->slots[slot].pid = 0;
	SpinLockRelease(&GroupShared->slot_mutex);
}

void
worker_slot_set_pid(int slot, pid_t pid)
{
	SpinLockAcquire(&GroupShared->slot_mutex);
	GroupShared->slots[slot].pid = pid;
	SpinLockRelease(&GroupShared->slot_mutex);
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

	SpinLockAcquire(&GroupShared->slot_mutex);
	for (i = 0; i < GroupShared->nslots; i++)
		if (GroupShared->slots[i].in_use && GroupShared->slots[i].dbid == dbid)
		{
			result = true;
			if (pid)
				*pid = GroupShared->slots[i].pid;
			break;
		}
	SpinLockRelease(&GroupShared->slot_mutex);
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

	SpinLockAcquire(&GroupShared->slot_mutex);
	for (i = 0; i < WORKER_HOLDS; i++)
	{
		WorkerHold *h = &GroupShared->holds[i];

		if (h->dbid == dbid)
		{
			h->until = until;
			SpinLockRelease(&GroupShared->slot_mutex);
			return;
		}
		if (h->dbid == InvalidOid && free_hold < 0)
			free_hold = i;
		if (h->until < GroupShared->holds[oldest].until)
			oldest = i;
	}
	if (until != 0)
	{
		/* with every hold taken, the one ending first gives way */
		i = free_hold >= 0 ? free_hold : oldest;
		GroupShared->holds[i].dbid = dbid;
		GroupShared->holds[i].until = until;
	}
	SpinLockRelease(&GroupShared->slot_mutex);
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

	SpinLockAcquire(&GroupShared->slot_mutex);
	for (i = 0; i < WORKER_HOLDS; i++)
		if (GroupShared->holds[i].dbid == dbid &&
			GroupShared->holds[i].until > now)
			result = false;
	SpinLockRelease(&GroupShared->slot_mutex);
	return result;
}

void
launcher_set_latch(Latch *latch)
{
	SpinLockAcquire(&GroupShared->slot_mutex);
	GroupShared->launcher_latch = latch;
	SpinLockRelease(&GroupShared->slot_mutex);
}

/*
 * launcher_wake makes the launcher look at the databases now.
 */
void
launcher_wake(void)
{
	Latch	   *latch;

	SpinLockAcquire(&GroupShared->slot_mutex);
	latch = GroupShared->launcher_latch;
	SpinLockRelease(&GroupShared->slot_mutex);
	if (latch)
		SetLatch(latch);
}
