/*-------------------------------------------------------------------------
 *
 * partition.h
 *	  A partition's log: its offsets, its last stable offset (LSO), the
 *	  wait point of its readers and its persisted record.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_PARTITION_H
#define PG_TOPICS_PARTITION_H

#include "utils/timestamp.h"

/* The shared state of one partition; only partition.c looks inside. */
typedef struct PartitionState PartitionState;

/* One segment table: the offsets [base, end) of one partition. */
typedef struct LogSegment
{
	int64		base;
	int64		end;
	Oid			relid;
} LogSegment;

/* What a reader learns of a partition in one look. */
typedef struct PartitionBounds
{
	int64		lso;
	int64		log_end;
	int			oldest_pid;		/* 0 when no producer holds the LSO */
	TransactionId oldest_xid;
	TimestampTz oldest_since;
} PartitionBounds;

/* The persisted record of a partition (topics.partition, topics.high_water). */
typedef struct PartitionRecord
{
	int64		log_start;
	int64		stable_offset;
	int64		high_water;
} PartitionRecord;

extern Size partition_shmem_size(void);
extern void partition_shmem_startup(void);
extern void partition_init(void);

extern PartitionState *partition_open(const char *topic, int partition,
									  Oid relid, int nsegments,
									  const LogSegment *segments,
									  PartitionState *first);
extern int64 partition_reserve(PartitionState *state, int64 count);
extern bool partition_skip_to(PartitionState *state, int64 offset);
extern void partition_bounds(PartitionState *state, PartitionBounds *bounds);
extern int64 partition_log_end(PartitionState *state);
extern int64 partition_resume_offset(PartitionState *state);
extern bool partition_wait(PartitionState *state, int64 from_offset,
						   TimestampTz deadline, PartitionBounds *bounds);
extern void partition_wait_for(PartitionState *state);
extern void partition_wait_arm(int64 want);
extern void partition_wait_sleep(int64 ready, long timeout_ms);
extern void partition_wait_done(void);
extern void partition_wake_some(PartitionState *state, int n);
extern void partition_share_waits(PartitionState *state);

typedef void (*PartitionForgetHook) (Oid dbid, Oid relid);
extern void partition_set_forget_hook(PartitionForgetHook hook);
extern uint32 partition_rebalances(PartitionState *state);
extern void partition_rebalanced_at_commit(const char *topic);

extern void partition_read_record(const char *topic, int partition,
								  PartitionRecord *record);
extern void partition_standby_bounds(const char *topic, int partition,
									 PartitionBounds *bounds);

extern bool partition_segment_wanted(PartitionState *state, int64 end);
extern void partition_segment_unwanted(PartitionState *state);

extern void partition_forget_at_commit(Oid relid);
extern void partition_forget_database_at_commit(void);
extern bool partition_extension_dropped_here(void);
extern void partition_forget_database(Oid dbid);
extern void partition_wake_prepared(void);
extern void partition_maintain(void);

#endif							/* PG_TOPICS_PARTITION_H */
