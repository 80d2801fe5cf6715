/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Shared memory of pg_topics: each part asks for its own, and this
 *	  file adds them up at start-up and attaches every part.
 *
 * Sizes are fixed at start-up by pg_topics.max_partitions,
 * pg_topics.max_open_producers and pg_topics.max_members, so running out
 * is a clear error (53000) rather than a slow leak.
 *
 * The "pg_topics" named LWLock tranche has one lock per part that needs a
 * lock of its own: the first guards the partition hash (log/partition.c),
 * the second the member heartbeats (groups/heartbeat.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "groups/heartbeat.h"
#include "groups/join_window.h"
#include "log/partition.h"
#include "log/segment_maker.h"
#include "preload.h"
#include "queue/delivery.h"
#include "shmem.h"
#include "workers/worker_state.h"

/*
 * pg_topics_shmem_request reserves our shared memory and the lock tranche;
 * called from shmem_request_hook.
 */
void
pg_topics_shmem_request(void)
{
	Size		size = partition_shmem_size();

	size = add_size(size, heartbeat_shmem_size());
	size = add_size(size, worker_state_shmem_size());
	size = add_size(size, segment_maker_shmem_size());
	size = add_size(size, join_window_shmem_size());
	size = add_size(size, delivery_shmem_size());
	RequestAddinShmemSpace(size);
	RequestNamedLWLockTranche("pg_topics", 3);
}

/*
 * pg_topics_shmem_startup attaches to (and in the postmaster, creates) the
 * shared state of every part; called from shmem_startup_hook.
 */
void
pg_topics_shmem_startup(void)
{
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	partition_shmem_startup();
	heartbeat_shmem_startup();
	worker_state_shmem_startup();
	segment_maker_shmem_startup();
	join_window_shmem_startup();
	delivery_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
	pg_topics_mark_loaded();
}
