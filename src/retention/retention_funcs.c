/*-------------------------------------------------------------------------
 *
 * retention_funcs.c
 *	  SQL-callable functions of retention: Kafka's DeleteRecords, and the
 *	  maintenance jobs run now.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/builtins.h"

#include "log/partition.h"
#include "log/topic.h"
#include "log/topic_admin.h"
#include "log/topic_tables.h"
#include "preload.h"
#include "retention/log_start.h"
#include "retention/maintenance.h"
#include "retention/roll.h"

PG_FUNCTION_INFO_V1(pg_topics_delete_records);
PG_FUNCTION_INFO_V1(pg_topics_run_maintenance);
PG_FUNCTION_INFO_V1(pg_topics_oldest_timestamp);

/*
 * topics.delete_records(topic, partition, before_offset) moves the log
 * start of a partition up to before_offset, or to its last stable offset
 * when before_offset is -1 (Kafka's high watermark), and returns the log
 * start.  Readers are handed nothing below it once the call commits; the
 * segments below it are dropped by the next maintenance.  The owner's
 * call, and the one way to delete from a store topic.
 */
Datum
pg_topics_delete_records(PG_FUNCTION_ARGS)
{
	Topic	   *topic;
	int32		partition;
	int64		before;
	PartitionBounds bounds;
	PartitionRecord record;
	AsOwner		admin;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic, partition and before_offset must not be null")));
	pg_topics_check_loaded();
	PreventCommandIfReadOnly("topics.delete_records()");
	topic = topic_open(topic_name_from_text(PG_GETARG_TEXT_PP(0)),
					   AccessShareLock);
	topic_check_owner(topic->name, topic->owner);
	partition = PG_GETARG_INT32(1);
	topic_check_partition(topic, partition);
	if (topic->mode == TOPIC_MODE_QUEUE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot delete records of queue \"%s\"", topic->name),
				 errdetail("A queue's messages are gone once consumed."),
				 errhint("Consume the messages with topics.consume(), or drop the queue.")));
	before = PG_GETARG_INT64(2);
	topic_bounds(topic, partition, &bounds);
	if (before == -1)
		before = bounds.lso;
	if (before < 0 || before > bounds.lso)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset %lld is out of range for partition %d of topic \"%s\"",
						(long long) before, partition, topic->name),
				 errdetail("Records can be deleted up to the last stable offset, %lld.",
						   (long long) bounds.lso),
				 errhint("Pass -1 to delete every record below the last stable offset.")));
	if (topic_partition_pending(topic, partition))
		PG_RETURN_INT64(0);

	as_owner_begin(&admin);
	log_start_move(topic->name, partition, topic->partitions[partition].relid,
				   before, 0, false);
	as_owner_end(&admin);
	partition_read_record(topic->name, partition, &record);
	PG_RETURN_INT64(record.log_start);
}

/*
 * topics_internal._run_maintenance(topic) runs the maintenance jobs now on
 * a topic its caller owns, or on every topic the caller owns when topic is
 * NULL.
 */
Datum
pg_topics_run_maintenance(PG_FUNCTION_ARGS)
{
	pg_topics_check_loaded();
	PreventCommandIfReadOnly("topics.run_maintenance()");
	if (!PG_ARGISNULL(0))
	{
		Topic	   *topic = topic_open(topic_name_from_text(PG_GETARG_TEXT_PP(0)),
									   AccessShareLock);

		topic_check_owner(topic->name, topic->owner);
		maintenance_run(topic->name);
	}
	else
		maintenance_run(NULL);
	PG_RETURN_VOID();
}

/*
 * topics_internal.oldest_timestamp(topic, partition) returns the timestamp
 * of the first message of a partition from its log start on (NULL: none),
 * found through the index of the segments it lies in: no count, no scan.
 * It needs SELECT on the topic.
 */
Datum
pg_topics_oldest_timestamp(PG_FUNCTION_ARGS)
{
	Topic	   *topic = topic_open(topic_name_from_text(PG_GETARG_TEXT_PP(0)),
								   AccessShareLock);
	int32		partition = PG_GETARG_INT32(1);
	int64		from;
	int			i;

	topic_check_privilege(topic, ACL_SELECT);
	topic_check_partition(topic, partition);
	from = topic_log_start(topic, partition);
	for (i = 0; i < topic->partitions[partition].nsegments; i++)
	{
		const LogSegment *seg = &topic->partitions[partition].segments[i];
		TimestampTz ts;

		if (seg->end > from &&
			segment_first_timestamp(topic, partition, seg, Max(from, seg->base), &ts))
			PG_RETURN_TIMESTAMPTZ(ts);
	}
	PG_RETURN_NULL();
}
