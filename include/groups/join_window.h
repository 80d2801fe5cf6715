/*-------------------------------------------------------------------------
 *
 * join_window.h
 *	  The join barrier of consumer groups: members that join within
 *	  pg_topics.rebalance_delay of each other are added in one rebalance.
 *
 *-------------------------------------------------------------------------
 */
#ifndef JOIN_WINDOW_H
#define JOIN_WINDOW_H

#include "datatype/timestamp.h"

/* A joiner's place in a window. */
typedef struct JoinSeat
{
	int			slot;
	TimestampTz opened;			/* tells the window from a later one */
} JoinSeat;

extern Size join_window_shmem_size(void);
extern void join_window_shmem_startup(void);
extern uint32 join_window_options(const char *strategy, const char *reset);
extern bool join_window_enter(const char *topic, const char *group,
							  const char *member, int64 timeout_ms,
							  uint32 options, JoinSeat *seat);
extern void join_window_wait(JoinSeat *seat);
extern TransactionId join_window_adder(const JoinSeat *seat);
extern bool join_window_may_add(const JoinSeat *seat, TransactionId adder);
extern bool join_window_claim(JoinSeat *seat);
extern int	join_window_members(JoinSeat *seat, char ***members,
								int64 **timeouts_ms);

#endif							/* JOIN_WINDOW_H */
