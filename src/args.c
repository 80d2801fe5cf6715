/*-------------------------------------------------------------------------
 *
 * args.c
 *	  Checks of arguments shared by several SQL functions: time spans,
 *	  waits and message counts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "datatype/timestamp.h"

#include "args.h"

/*
 * pg_topics_interval_ms returns an interval in milliseconds, counting a
 * month as 30 days, as interval arithmetic does.
 */
int64
pg_topics_interval_ms(Interval *span)
{
	return span->time / 1000 +
		((int64) span->day * SECS_PER_DAY +
		 (int64) span->month * DAYS_PER_MONTH * SECS_PER_DAY) * 1000;
}

/*
 * pg_topics_wait_ms returns a max_wait argument in milliseconds, raising
 * 22023 when it is negative.
 */
int64
pg_topics_wait_ms(Interval *span)
{
	int64		ms = pg_topics_interval_ms(span);

	if (ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_wait must not be negative")));
	return ms;
}

/*
 * pg_topics_check_max_messages raises 22023 for a max_messages argument
 * below 1 and 22003 for one above MAX_MESSAGES_PER_CALL; what names the
 * call ("fetch", "poll") in the detail.
 */
void
pg_topics_check_max_messages(int max, const char *what)
{
	if (max < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid max_messages %d", max),
				 errdetail("One %s returns from 1 to %d messages.", what,
						   MAX_MESSAGES_PER_CALL)));
	if (max > MAX_MESSAGES_PER_CALL)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("max_messages %d is out of range", max),
				 errdetail("One %s returns from 1 to %d messages.", what,
						   MAX_MESSAGES_PER_CALL),
				 errhint("Call again from where this call stopped to read more.")));
}
