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
#include "pg_topics.h"

PG_FUNCTION_INFO_V1(pg_topics_fetch);
PG_FUNCTION_INFO_V1(pg_topics__fetch);
PG_FUNCTION_INFO_V1(pg_topics_offset_for_time);


/*
 * fetch_call checks the arguments of topics.fetch(topic, partition,
 * from_offset, max_messages, max_wait), waits up to max_wait for a first
 * message, and returns a reader of up to max_messages committed messages
 * of the partition from from_offset on, or NULL when there are none.
 */
FetchReader *
fetch_call(const Datum *args, const bool *nulls)
{
	Topic	   *topic;
	int32		partition;
	int64		from;
	int32		max;
	int64		wait_ms;
	int			i;

	for (i = 0; i < FETCH_NARGS; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("arguments of topics.fetch() must not be null")));

	topic = topic_open(topic_name_from_text(DatumGetTextPP(args[0])),
					   AccessShareLock);
	topic_check_privilege(topic, ACL_SELECT);
	partition = DatumGetInt32(args[1]);
	topic_check_partition(topic, partition);
	from = DatumGetInt64(args[2]);
	max = DatumGetInt32(args[3]);
	wait_ms = pg_topics_wait_ms(DatumGetIntervalP(args[4]));
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

	return fetch_messages(topic, partition, from, max,
						  pg_topics_deadline(wait_ms));
}

static void
fetch_args(FunctionCallInfo fcinfo, Datum *args, bool *nulls)
{
	for (int i = 0; i < FETCH_NARGS; i++)
	{
		nulls[i] = PG_ARGISNULL(i);
		args[i] = nulls[i] ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
}

/*
 * topics.fetch(topic, partition, from_offset, max_messages, max_wait)
 * returns what fetch_call reads, with the topic's name in front.  This is
 * the function called in a select list, or LATERAL: in a query's FROM
 * clause, fetch_scan.c streams the same rows instead.
 */
Datum
pg_topics_fetch(PG_FUNCTION_ARGS)
{
	Datum		args[FETCH_NARGS];
	bool		nulls[FETCH_NARGS];
	Datum		values[1 + Natts_message];
	bool		isnull[1 + Natts_message];
	FetchReader *reader;
	Tuplestorestate *store;
	TupleDesc	desc;

	fetch_args(fcinfo, args, nulls);
	store = fetch_store_begin(fcinfo);
	desc = ((ReturnSetInfo *) fcinfo->resultinfo)->setDesc;
	reader = fetch_call(args, nulls);
	if (reader == NULL)
		return (Datum) 0;
	values[0] = PointerGetDatum(PG_GETARG_TEXT_PP(0));
	isnull[0] = false;
	while (fetch_reader_values(reader, values + 1, isnull + 1))
		tuplestore_putvalues(store, desc, values, isnull);
	fetch_reader_end(reader);
	return (Datum) 0;
}

/*
 * topics._fetch(topic, partition, from_offset, max_messages, max_wait) of
 * 0.1 returns the rows of topics.fetch as stored.  0.2 drops it; the
 * library keeps it so that 0.1's script still installs, for an update.
 */
Datum
pg_topics__fetch(PG_FUNCTION_ARGS)
{
	Datum		args[FETCH_NARGS];
	bool		nulls[FETCH_NARGS];
	FetchReader *reader;
	Tuplestorestate *store;
	HeapTuple	tuple;

	fetch_args(fcinfo, args, nulls);
	store = fetch_store_begin(fcinfo);
	reader = fetch_call(args, nulls);
	if (reader == NULL)
		return (Datum) 0;
	while (fetch_reader_next(reader, &tuple))
		tuplestore_puttuple(store, tuple);
	fetch_reader_end(reader);
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
