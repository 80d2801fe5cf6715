/*-------------------------------------------------------------------------
 *
 * args.c
 *	  Checks of arguments shared by several SQL functions: time spans,
 *	  waits and message counts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "datatype/timestamp.h"
#include "utils/timestamp.h"

#include "args.h"

/*
 * interval_us returns an interval in microseconds, counting a month as 30
 * days, as interval arithmetic does, and saturating at the int64 range.
 */
static int64
interval_us(Interval *span)
{
	int64		days = (int64) span->day + (int64) span->month * DAYS_PER_MONTH;
	int64		us;

	if (pg_mul_s64_overflow(days, USECS_PER_DAY, &us) ||
		pg_add_s64_overflow(us, span->time, &us))
		return days < 0 ? PG_INT64_MIN : PG_INT64_MAX;
	return us;
}

/*
 * pg_topics_interval_ms returns an interval in milliseconds, rounded up,
 * so that a positive interval is never 0 ms.
 */
int64
pg_topics_interval_ms(Interval *span)
{
	int64		us = interval_us(span);

	if (us > 0 && us < PG_INT64_MAX - 999)
		return (us + 999) / 1000;
	return us / 1000;
}

/*
 * pg_topics_wait_ms returns a max_wait argument in milliseconds, raising
 * 22023 when it is negative (by any amount, a microsecond too).
 */
int64
pg_topics_wait_ms(Interval *span)
{
	if (interval_us(span) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_wait must not be negative")));
	return pg_topics_interval_ms(span);
}

/*
 * pg_topics_deadline returns the time wait_ms from now, or DT_NOEND (never)
 * when that lies beyond what a timestamp holds.
 */
TimestampTz
pg_topics_deadline(int64 wait_ms)
{
	TimestampTz now = GetCurrentTimestamp();

	if (wait_ms >= (DT_NOEND - now) / 1000)
		return DT_NOEND;
	return TimestampTzPlusMilliseconds(now, wait_ms);
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
