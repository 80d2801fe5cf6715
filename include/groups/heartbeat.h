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

#include "groups/join_window.h"

extern Size heartbeat_shmem_size(void);
extern void heartbeat_shmem_startup(void);

extern uint64 member_key(const char *topic, const char *group,
						 const char *member);
extern void member_touch(uint64 member);
extern bool heartbeat_try_reserve(uint64 member);
extern void heartbeat_reserve(uint64 member);
extern TimestampTz member_last_seen(uint64 member);
extern TimestampTz member_seen_at(uint64 member);
extern void member_forget(uint64 member);
extern void member_seen_long_ago(uint64 member, const JoinSeat *seat);
extern void heartbeat_retain(uint64 *members, int n);
extern void heartbeat_forget_database(Oid dbid);

#endif							/* HEARTBEAT_H */
