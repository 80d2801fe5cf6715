/*-------------------------------------------------------------------------
 *
 * fetch_funcs.c
 *	  SQL-callable functions that read a partition.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "args.h"
#include "log/fetch.h"
#include "log/topic.h"

PG_FUNCTION_INFO_V1(pg_topics__fetch);
PG_FUNCTION_INFO_V1(pg_topics_offset_for_time);


/*
 * topics._fetch(topic, partition, from_offset, max_messages, max_wait)
 * returns up to max_messages committed messages of a partition from
 * from_offset on, as stored, waiting up to max_wait for the first one.
 * topics.fetch wraps it.
 */
Datum
pg_topics__fetch(PG_FUNCTION_ARGS)
{
	Topic	   *topic;
	int32		partition;
	int64		from;
	int32		max;
	int64		wait_ms;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) ||
		PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("arguments of topics.fetch() must not be null")));

	topic = topic_open(topic_name_from_text(PG_GETARG_TEXT_PP(0)),
					   AccessShareLock);
	topic_check_privilege(topic, ACL_SELECT);
	partition = PG_GETARG_INT32(1);
	topic_check_partition(topic, partition);
	from = PG_GETARG_INT64(2);
	max = PG_GETARG_INT32(3);
	wait_ms = pg_topics_wait_ms(PG_GETARG_INTERVAL_P(4));
	if (from < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid offset %lld", (long long) from),
				 errdetail("Offsets start at 0.")));
	pg_topics_check_max_messages(max, "fetch");
	if (wait_ms > 0 && RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a fetch cannot wait on a standby"),
				 errdetail("A standby reads below the stable offset the primary persisted, and no commit there wakes a reader."),
				 errhint("Fetch with max_wait => '0' and call again, or wait on the primary.")));

	fetch_messages(topic, partition, from, max,
				   pg_topics_deadline(wait_ms),
				   fetch_store_begin(fcinfo));
	return (Datum) 0;
}

/*
 * topics.offset_for_time(topic, partition, ts) returns the earliest offset
 * whose timestamp is at or after ts, or NULL when there is none.
 */
Datum
pg_topics_offset_for_time(PG_FUNCTION_ARGS)
{
	Topic	   *topic;
	int32		partition;
	int64		offset;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("arguments of topics.offset_for_time() must not be null")));
	topic = topic_open(topic_name_from_text(PG_GETARG_TEXT_PP(0)),
					   AccessShareLock);
	topic_check_privilege(topic, ACL_SELECT);
	partition = PG_GETARG_INT32(1);
	topic_check_partition(topic, partition);
	if (!fetch_offset_for_time(topic, partition, PG_GETARG_TIMESTAMPTZ(2),
							   &offset))
		PG_RETURN_NULL();
	PG_RETURN_INT64(offset);
}
