/*-------------------------------------------------------------------------
 *
 * heartbeat.h
 *	  When each consumer group member was last seen, in shared memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef HEARTBEAT_H
#define HEARTBEAT_H

#include "utils/timestamp.h"

extern Size heartbeat_shmem_size(void);
extern void heartbeat_shmem_startup(void);

extern void member_touch(int32 member_id);
extern TimestampTz member_last_seen(int32 member_id);
extern TimestampTz member_seen_at(int32 member_id);
extern void member_forget(int32 member_id);
extern void heartbeat_forget_database(Oid dbid);

#endif							/* HEARTBEAT_H */
