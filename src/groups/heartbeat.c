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
 * A member is known by a 64-bit hash of its topic, group and member names
 * (member_key): the catalog names members, and two members whose names
 * hash alike would only share a heartbeat.  Entries go when a member
 * leaves or expires, when members are found gone (heartbeat_retain, run by
 * the worker and by a join that finds the table full: a topic or group
 * was dropped), and with their database.  A member that cannot get an
 * entry, because the table is full of live members, cannot join
 * (heartbeat_reserve); one that lost it across a restart to a smaller
 * table is counted as expired, and rejoins.
 *
 * Locking protocol: HeartbeatShared->lock (the second lock of the
 * "pg_topics" named tranche) protects the member hash.  It is never held
 * with another lock, but for the join windows' spinlock and ProcArrayLock,
 * taken inside it by heartbeat_retain (join_window_may_add).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "utils/hsearch.h"

#include "groups/heartbeat.h"
#include "groups/join_window.h"
#include "guc.h"

/* A heartbeat seen this recently is kept, member or not (see heartbeat_retain). */
#define RETAIN_GRACE_MS		(10 * 1000)

typedef struct MemberKey
{
	Oid			dbid;
	uint64		member;			/* member_key() of topic, group, member */
} MemberKey;

typedef struct MemberEntry
{
	MemberKey	key;			/* hash key: must be first */
	TimestampTz last_seen;
	TimestampTz written;		/* last set; heartbeat_retain's grace counts
								 * from here, as last_seen may be made old */
	bool		in_window;		/* made old by a join through window: */
	JoinSeat	window;			/* that window, which may still add it */
	TransactionId adder;		/* and its adder then, if known */
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
							   HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/*
 * member_key returns the key of a member's heartbeat.
 */
uint64
member_key(const char *topic, const char *group, const char *member)
{
	StringInfoData buf;
	uint64		key;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, topic, strlen(topic) + 1);
	appendBinaryStringInfo(&buf, group, strlen(group) + 1);
	appendBinaryStringInfo(&buf, member, strlen(member));
	key = DatumGetUInt64(hash_any_extended((unsigned char *) buf.data,
										   buf.len, 0));
	pfree(buf.data);
	return key;
}

/*
 * entry_key sets the hash key of a member of this database, padding
 * zeroed: the key is hashed and compared as bytes.  (Not returned by
 * value, which need not copy the padding.)
 */
static void
entry_key(MemberKey *key, uint64 member)
{
	memset(key, 0, sizeof(*key));
	key->dbid = MyDatabaseId;
	key->member = member;
}

/*
 * touch records that a member was seen now, and returns false when the
 * table is full.
 */
static bool
touch(uint64 member)
{
	MemberKey	key;
	MemberEntry *entry;

	entry_key(&key, member);
	LWLockAcquire(HeartbeatShared->lock, LW_EXCLUSIVE);
	entry = hash_search(MemberHash, &key, HASH_ENTER_NULL, NULL);
	if (entry != NULL)
	{
		entry->last_seen = entry->written = GetCurrentTimestamp();
		entry->in_window = false;
	}
	LWLockRelease(HeartbeatShared->lock);
	return entry != NULL;
}

/*
 * member_touch records that a member was seen now.  A member without an
 * entry in a full table stays unseen, and is expired by the worker.
 */
void
member_touch(uint64 member)
{
	(void) touch(member);
}

/*
 * heartbeat_try_reserve records that a joining member was seen now, and
 * returns false when the table has no room for it.
 */
bool
heartbeat_try_reserve(uint64 member)
{
	return touch(member);
}

/*
 * heartbeat_reserve records that a joining member was seen now, raising
 * 53000 when the table has no room for it.
 */
void
heartbeat_reserve(uint64 member)
{
	if (!touch(member))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too many consumer group members"),
				 errdetail("Shared memory tracks the heartbeats of at most %d members, in all databases.",
						   pg_topics_max_members),
				 errhint("Increase \"pg_topics.max_members\" and restart the server.")));
}

/*
 * member_last_seen returns when a member was last seen, counting one not
 * seen since the server started as seen now, or 0 when it cannot be
 * tracked (the table is full).
 */
TimestampTz
member_last_seen(uint64 member)
{
	TimestampTz result = member_seen_at(member);

	if (result == 0 && touch(member))
		result = GetCurrentTimestamp();
	return result;
}

/*
 * member_seen_at returns when a member was last seen, or 0 when not since
 * the server started.
 */
TimestampTz
member_seen_at(uint64 member)
{
	MemberKey	key;
	MemberEntry *entry;
	TimestampTz result;

	entry_key(&key, member);
	LWLockAcquire(HeartbeatShared->lock, LW_SHARED);
	entry = hash_search(MemberHash, &key, HASH_FIND, NULL);
	result = entry ? entry->last_seen : 0;
	LWLockRelease(HeartbeatShared->lock);
	return result;
}

/*
 * member_seen_long_ago makes a member's heartbeat as old as can be, so
 * that the worker's next round expires it, unless it is seen meanwhile.
 * The member joined through the window of seat, whose adder may still add
 * it: the entry is kept until it cannot any more (see heartbeat_retain).
 */
void
member_seen_long_ago(uint64 member, const JoinSeat *seat)
{
	MemberKey	key;
	MemberEntry *entry;
	TransactionId adder = join_window_adder(seat);

	entry_key(&key, member);
	LWLockAcquire(HeartbeatShared->lock, LW_EXCLUSIVE);
	entry = hash_search(MemberHash, &key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		entry->last_seen = 1;
		entry->written = GetCurrentTimestamp();
		entry->in_window = true;
		entry->window = *seat;
		entry->adder = adder;
	}
	LWLockRelease(HeartbeatShared->lock);
}

/*
 * member_forget drops a member's heartbeat.
 */
void
member_forget(uint64 member)
{
	MemberKey	key;

	entry_key(&key, member);
	LWLockAcquire(HeartbeatShared->lock, LW_EXCLUSIVE);
	hash_search(MemberHash, &key, HASH_REMOVE, NULL);
	LWLockRelease(HeartbeatShared->lock);
}

static int
key_cmp(const void *a, const void *b)
{
	uint64		ka = *(const uint64 *) a;
	uint64		kb = *(const uint64 *) b;

	return (ka > kb) - (ka < kb);
}

/*
 * heartbeat_retain drops the heartbeats of this database's members other
 * than the n given: members of groups and topics that were dropped.  Not
 * those written in the last RETAIN_GRACE_MS: a member whose join has not
 * committed yet is not among the n, nor is one made old by the rollback of
 * its join while its window may still add it: the window is open, or
 * its adder still runs (without its entry, the worker would count it as
 * seen now once added).  members is sorted in place.
 */
void
heartbeat_retain(uint64 *members, int n)
{
	HASH_SEQ_STATUS status;
	MemberEntry *entry;
	TimestampTz now = GetCurrentTimestamp();

	qsort(members, n, sizeof(uint64), key_cmp);
	LWLockAcquire(HeartbeatShared->lock, LW_EXCLUSIVE);
	hash_seq_init(&status, MemberHash);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (entry->key.dbid == MyDatabaseId &&
			TimestampDifferenceExceeds(entry->written, now, RETAIN_GRACE_MS) &&
			bsearch(&entry->key.member, members, n, sizeof(uint64),
					key_cmp) == NULL &&
			!(entry->in_window &&
			  join_window_may_add(&entry->window, entry->adder)))
			hash_search(MemberHash, &entry->key, HASH_REMOVE, NULL);
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
