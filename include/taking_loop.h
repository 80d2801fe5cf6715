/*-------------------------------------------------------------------------
 *
 * taking_loop.h
 *	  A procedure's loop over rows that a query takes as it hands them out
 *	  (topics.poll, topics.consume, topics.receive) must not commit or roll
 *	  back inside it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TAKING_LOOP_H
#define TAKING_LOOP_H

/* What took the rows: the call a loop's error names. */
typedef enum TakingCall
{
	TAKING_POLL,
	TAKING_CONSUME,
	TAKING_RECEIVE
} TakingCall;

extern void taking_loop_note(TakingCall call);
extern void taking_loop_init(void);

#endif							/* TAKING_LOOP_H */
