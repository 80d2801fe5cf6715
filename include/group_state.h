/*-------------------------------------------------------------------------
 *
 * group_state.h
 *	  Shared memory of consumer groups: when each member was last seen,
 *	  and the slots of the per-database workers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GROUP_STATE_H
#define GROUP_STATE_H

#include "storage/latch.h"
#include "utils/timestamp.h"

extern int	pg_topics_max_members;

extern Size group_state_shmem_size(void);
extern void group_state_shmem_startup(void);

extern void member_touch(int32 member_id);
extern TimestampTz member_last_seen(int32 member_id);
extern TimestampTz member_seen_at(int32 member_id);
extern void member_forget(int32 member_id);

/* Worker slots, one per database with a running worker. */
extern int	worker_slot_claim(Oid dbid);
extern void worker_slot_release(int slot);
extern bool worker_slot_running(Oid dbid, pid_t *pid);
extern void worker_slot_set_pid(int slot, pid_t pid);
extern bool worker_slots_may_start(Oid dbid, TimestampTz now);
extern void worker_slots_hold_off(Oid dbid, TimestampTz until);
extern void launcher_set_latch(Latch *latch);
extern void launcher_wake(void);

#endif							/* GROUP_STATE_H */
