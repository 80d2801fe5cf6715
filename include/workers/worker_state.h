/*-------------------------------------------------------------------------
 *
 * worker_state.h
 *	  Shared memory of the launcher and the per-database workers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKER_STATE_H
#define WORKER_STATE_H

#include "storage/latch.h"
#include "utils/timestamp.h"

extern Size worker_state_shmem_size(void);
extern void worker_state_shmem_startup(void);

/* Worker slots, one per database with a running worker. */
extern int	worker_slot_claim(Oid dbid);
extern void worker_slot_release(int slot);
extern bool worker_slot_running(Oid dbid, pid_t *pid);
extern void worker_slot_set_pid(int slot, pid_t pid);
extern bool worker_slots_may_start(Oid dbid, TimestampTz now);
extern void worker_slots_hold_off(Oid dbid, TimestampTz until);
extern void launcher_set_latch(Latch *latch);
extern void launcher_wake(void);

#endif							/* WORKER_STATE_H */
