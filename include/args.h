/*-------------------------------------------------------------------------
 *
 * args.h
 *	  Checks of arguments shared by several SQL functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ARGS_H
#define ARGS_H

#include "datatype/timestamp.h"

/* The most messages one fetch or poll returns. */
#define MAX_MESSAGES_PER_CALL	1000000

extern int64 pg_topics_interval_ms(Interval *span);
extern int64 pg_topics_wait_ms(Interval *span);
extern TimestampTz pg_topics_deadline(int64 wait_ms);
extern void pg_topics_check_max_messages(int max, const char *what);

#endif							/* ARGS_H */
