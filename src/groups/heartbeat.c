/*-------------------------------------------------------------------------
 *
 * heartbeat.c
 *	  When each consumer group member was last seen, in shared memory.
 *
 * Heartbeats live in shared memory, not in a table: every poll is a
 * heartbeat, and writing a row per poll would cost a tuple version and WAL
 * each time.  After a restart the table of members is still there; the
 * worker then counts each member as seen at the moment it first looks, so
 * every member gets one full session timeout to come back.
 *
 * Locking protocol: HeartbeatShared->lock (the second lock of the
 * "pg_topics" named tranche) protects the member hash.  It is never held
 * with another lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"

#include "groups/heartbeat.h"
#include "guc.h"

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

typedef struct HeartbeatSharedState
{
	LWLock	   *lock;
} HeartbeatSharedState;

static HeartbeatSharedState *HeartbeatShared = NULL;
static HTAB *MemberHash = NULL;

/*
 * heartbeat_shmem_size returns the shared memory this file needs.
 */
Size
heartbeat_shmem_size(void)
{
	return add_size(sizeof(HeartbeatSharedState),
					hash_estimate_size(pg_topics_max_members,
									   sizeof(MemberEntry)));
}

/*
 * heartbeat_shmem_startup attaches to, or creates, the shared state.
 * Caller holds AddinShmemInitLock.
 */
void
heartbeat_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	HeartbeatShared = ShmemInitStruct("pg_topics heartbeats",
									  sizeof(HeartbeatSharedState), &found);
	if (!found)
		HeartbeatShared->lock = &(GetNamedLWLockTranche("pg_topics"))[1].lock;

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
	LWLockAcquire(HeartbeatShared->lock, LW_EXCLUSIVE);
	entry = hash_search(MemberHash, &key, HASH_ENTER_NULL, NULL);
	if (entry != NULL)
		entry->last_seen = GetCurrentTimestamp();
	LWLockRelease(HeartbeatShared->lock);
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
	LWLockAcquire(HeartbeatShared->lock, LW_SHARED);
	entry = hash_search(MemberHash, &key, HASH_FIND, NULL);
	result = entry ? entry->last_seen : 0;
	LWLockRelease(HeartbeatShared->lock);
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
	LWLockAcquire(HeartbeatShared->lock, LW_EXCLUSIVE);
	hash_search(MemberHash, &key, HASH_REMOVE, NULL);
	LWLockRelease(HeartbeatShared->lock);
}

/*
 * heartbeat_forget_database drops the heartbeats of every member of a
 * database that no longer exists (DROP DATABASE).
 */
void
heartbeat_forget_database(Oid dbid)
{
	HASH_SEQ_STATUS status;
	MemberEntry *entry;

	LWLockAcquire(HeartbeatShared->lock, LW_EXCLUSIVE);
	hash_seq_init(&status, MemberHash);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (entry->key.dbid == dbid)
			hash_search(MemberHash, &entry->key, HASH_REMOVE, NULL);
	LWLockRelease(HeartbeatShared->lock);
}
