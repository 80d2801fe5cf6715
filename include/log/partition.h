/*-------------------------------------------------------------------------
 *
 * partition_state.h
 *	  The shared-memory state of each partition: the next-offset counter,
 *	  the open producers that hold back the last stable offset (LSO), and
 *	  the wait point of readers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PARTITION_STATE_H
#define PARTITION_STATE_H

#include "nodes/pg_list.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

/*
 * A partition is known by its database and the OID of its partition table
 * (topics_data."t<id>$p<n>"), which identifies this incarnation of the
 * partition: a topic dropped and created again gets new tables.
 */
typedef struct PartitionStateKey
{
	Oid			dbid;
	Oid			relid;
} PartitionStateKey;

typedef struct PartitionState
{
	PartitionStateKey key;			/* hash key: must be first */
	LWLock		lock;			/* protects every field below */
	bool		initialized;	/* next_offset rebuilt from storage? */
	int64		next_offset;	/* the log end: next offset to hand out */
	int32		producers_head; /* open producers, oldest first, or -1 */
	int32		producers_tail;
	int64		segment_requested_end;	/* pre-creation asked up to here */
	ConditionVariable wait_cv;	/* readers waiting for the LSO to move */
	ConditionVariable topic_cv; /* of partition 0 only: any partition moved */
	struct PartitionState *topic_state; /* partition 0 of the same topic */
} PartitionState;

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

/* What a reader learns of a partition in one look. */
typedef struct PartitionSnapshot
{
	int64		lso;
	int64		log_end;
	int			oldest_pid;		/* 0 when no producer holds the LSO */
	TransactionId oldest_xid;
	TimestampTz oldest_since;
} PartitionSnapshot;

extern Size partition_shmem_size(void);
extern void partition_shmem_startup(void);
extern void partition_init(void);
extern void partition_forget_database(Oid dbid);
extern void partition_maintain(void);
extern PartitionState *partition_state_find(Oid relid, bool create);
extern void partition_state_forget(Oid dbid, Oid relid);
extern void partition_state_foreach(void (*fn) (PartitionState *state));
extern ProducerSlot *producer_slot(int32 index);
extern int32 producer_slot_alloc(void);
extern void producer_slot_free(int32 index);

extern void partition_state_init(PartitionState *state, Oid relid,
								 int64 log_end, List *prepared);
extern int64 partition_take_offsets(PartitionState *state, int64 count);
extern void partition_look(PartitionState *state, PartitionSnapshot *snap);
extern bool partition_wait(PartitionState *state, int64 from_offset,
						   TimestampTz deadline, PartitionSnapshot *snap);
extern void partition_forget_at_commit(Oid relid);
extern void partition_wake_prepared(void);

/* A prepared transaction found holding offsets at start-up. */
typedef struct PreparedProducer
{
	TransactionId xid;
	int64		first_offset;
} PreparedProducer;

#endif							/* PARTITION_STATE_H */
