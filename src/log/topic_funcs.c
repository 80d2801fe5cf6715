/*-------------------------------------------------------------------------
 *
 * topic_funcs.c
 *	  SQL-callable functions to manage topics and to look at partitions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "log/murmur2.h"
#include "log/segment_maker.h"
#include "log/topic.h"
#include "log/topic_admin.h"
#include "log/topic_tables.h"
#include "storage/lmgr.h"
#include "preload.h"

PG_FUNCTION_INFO_V1(pg_topics_create_topic);
PG_FUNCTION_INFO_V1(pg_topics_drop_topic);
PG_FUNCTION_INFO_V1(pg_topics_add_partitions);
PG_FUNCTION_INFO_V1(pg_topics_alter_topic);
PG_FUNCTION_INFO_V1(pg_topics_segment_size);
PG_FUNCTION_INFO_V1(pg_topics_partition_info);
PG_FUNCTION_INFO_V1(pg_topics_partition_info_0_2);
PG_FUNCTION_INFO_V1(pg_topics_murmur2);
PG_FUNCTION_INFO_V1(pg_topics_partition_for_key);

/*
 * arg_not_null raises 22004 when a required argument is NULL.
 */
static void
arg_not_null(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
}

/*
 * topics.create_topic(name, partitions, mode, config) creates a topic owned
 * by the caller and returns its name, partition count and mode.
 */
Datum
pg_topics_create_topic(PG_FUNCTION_ARGS)
{
	char	   *name;
	int32		partitions;
	char	   *mode;
	Jsonb	   *config;
	AsOwner		admin;
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	pg_topics_check_loaded();
	arg_not_null(fcinfo, 0, "topic name");
	arg_not_null(fcinfo, 1, "partitions");
	arg_not_null(fcinfo, 2, "mode");
	name = topic_name_from_text(PG_GETARG_TEXT_PP(0));
	partitions = PG_GETARG_INT32(1);
	mode = text_to_cstring(PG_GETARG_TEXT_PP(2));
	config = PG_ARGISNULL(3) ? DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"))) :
		PG_GETARG_JSONB_P(3);

	if (partitions < 1 || partitions > pg_topics_max_partitions)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid partition count %d", partitions),
				 errdetail("A topic has from 1 to \"pg_topics.max_partitions\" (%d) partitions.",
						   pg_topics_max_partitions)));
	topic_check_config(config, mode, name);
	PreventCommandIfReadOnly("topics.create_topic()");

	/* the tables of a wide topic of that name dropped a moment ago */
	segment_maker_wait_dropped(name);

	as_owner_begin(&admin);
	if (!topic_create(&admin, name, partitions, mode, config))
		segment_maker_ask_at_commit(MAKE_PARTITIONS, name, partitions);
	as_owner_end(&admin);

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(partitions);
	values[2] = CStringGetTextDatum(mode);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}

/*
 * topics.drop_topic(name) drops a topic and all its messages.
 */
Datum
pg_topics_drop_topic(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			owner;
	int			partitions;
	Oid			root;
	AsOwner		admin;

	pg_topics_check_loaded();
	arg_not_null(fcinfo, 0, "topic name");
	name = topic_name_from_text(PG_GETARG_TEXT_PP(0));
	PreventCommandIfReadOnly("topics.drop_topic()");

	/*
	 * Check ownership before taking the lock that stops the topic's
	 * producers, so that a role that may not drop it cannot queue that lock
	 * either; then again under the lock.  The topic is not opened: one whose
	 * tables were damaged by hand must still go.
	 */
	if (!topic_lookup_row(name, &owner, &partitions))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" does not exist", name),
				 errhint("Check topics.topics for its name.")));
	topic_check_owner(name, owner);
	root = topic_table_relid(name, -1, -1);
	if (OidIsValid(root))
		LockRelationOid(root, AccessExclusiveLock);
	if (!topic_lookup_row(name, &owner, &partitions))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" does not exist", name)));
	topic_check_owner(name, owner);

	as_owner_begin(&admin);
	if (topic_drop(&admin, name, partitions))
		segment_maker_ask_at_commit(DROP_TABLES, topic_dropping_name(name), 0);
	as_owner_end(&admin);
	PG_RETURN_VOID();
}

/*
 * topics.add_partitions(name, count) adds count partitions and returns the
 * new partition count.
 */
Datum
pg_topics_add_partitions(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			owner;
	int			partitions;
	Topic	   *topic;
	AsOwner		admin;
	int32		count;
	int			total;
	bool		all_made;

	arg_not_null(fcinfo, 0, "topic name");
	arg_not_null(fcinfo, 1, "count");
	name = topic_name_from_text(PG_GETARG_TEXT_PP(0));
	PreventCommandIfReadOnly("topics.add_partitions()");
	if (topic_lookup_row(name, &owner, &partitions))
		topic_check_owner(name, owner);
	topic = topic_open(name, ShareUpdateExclusiveLock);
	count = PG_GETARG_INT32(1);
	if (count < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid partition count %d", count),
				 errdetail("The number of partitions to add must be at least 1.")));
	topic_check_owner(topic->name, topic->owner);

	as_owner_begin(&admin);
	total = topic_add_partitions(&admin, topic, count, &all_made);
	partition_rebalanced_at_commit(topic->name);
	if (!all_made)
		segment_maker_ask_at_commit(MAKE_PARTITIONS, topic->name, total);
	as_owner_end(&admin);

	ereport(NOTICE,
			(errmsg("topic \"%s\" now has %d partitions", topic->name, total),
			 errdetail("Keyed messages produced from now on may go to another partition than earlier messages with the same key.")));
	PG_RETURN_INT32(total);
}

/*
 * topics.alter_topic(name, config) changes the settings of a topic (Kafka's
 * incremental AlterConfigs: a setting given null goes back to the server's
 * default) and returns its config as it now is.  The owner's call.
 */
Datum
pg_topics_alter_topic(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			owner;
	int			partitions;
	Topic	   *topic;
	AsOwner		admin;
	Jsonb	   *config;

	arg_not_null(fcinfo, 0, "topic name");
	arg_not_null(fcinfo, 1, "config");
	name = topic_name_from_text(PG_GETARG_TEXT_PP(0));
	PreventCommandIfReadOnly("topics.alter_topic()");
	if (topic_lookup_row(name, &owner, &partitions))
		topic_check_owner(name, owner);
	/* alters of one topic wait for each other; produce and reads go on */
	topic = topic_open(name, ShareUpdateExclusiveLock);
	topic_check_owner(topic->name, topic->owner);

	as_owner_begin(&admin);
	config = topic_alter(topic, PG_GETARG_JSONB_P(1));
	as_owner_end(&admin);
	PG_RETURN_JSONB_P(config);
}

/*
 * topics.partition_info(topic) returns, per partition, the log start, the
 * last stable offset, the log end, the high-water mark, the persisted
 * stable offset and the oldest open producer.  It needs SELECT on the
 * topic.  On a standby the LSO is the stable offset the primary persisted.
 */
Datum
pg_topics_partition_info_0_2(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Topic	   *topic;
	int			p;

	arg_not_null(fcinfo, 0, "topic name");
	topic = topic_open(topic_name_from_text(PG_GETARG_TEXT_PP(0)),
					   AccessShareLock);
	topic_check_privilege(topic, ACL_SELECT);
	InitMaterializedSRF(fcinfo, 0);

	for (p = 0; p < topic->npartitions; p++)
	{
		PartitionBounds bounds;
		PartitionRecord record;
		Datum		values[10];
		bool		nulls[10] = {false};
		TopicPartition *part = &topic->partitions[p];

		topic_bounds(topic, p, &bounds);
		partition_read_record(topic->name, p, &record);
		values[0] = Int32GetDatum(p);
		/* a partition not made yet has no segment */
		values[1] = Int64GetDatum(part->nsegments == 0 ? 0 :
								  Min(Max(record.log_start, part->segments[0].base),
									  bounds.log_end));
		values[2] = Int64GetDatum(bounds.lso);
		values[3] = Int64GetDatum(bounds.log_end);
		values[4] = Int64GetDatum(record.high_water);
		values[5] = Int64GetDatum(record.stable_offset);
		values[6] = Int32GetDatum(part->nsegments);
		/* a prepared transaction has no backend */
		nulls[7] = (bounds.oldest_pid == 0);
		values[7] = Int32GetDatum(bounds.oldest_pid);
		nulls[8] = nulls[9] = (bounds.oldest_xid == InvalidTransactionId);
		values[8] = TransactionIdGetDatum(bounds.oldest_xid);
		values[9] = TimestampTzGetDatum(bounds.oldest_since);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * pg_topics_partition_info is the C symbol of topics.partition_info() in
 * version 0.1 of the SQL objects, which this library no longer reads.
 */
Datum
pg_topics_partition_info(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the SQL objects of extension pg_topics are older than its library"),
			 errhint("Run ALTER EXTENSION pg_topics UPDATE.")));
	PG_RETURN_NULL();
}

/*
 * topics.murmur2(key) returns Kafka's murmur2 hash of key as a signed
 * int32, as Java computes it.
 */
Datum
pg_topics_murmur2(PG_FUNCTION_ARGS)
{
	bytea	   *key = PG_GETARG_BYTEA_PP(0);

	PG_RETURN_INT32(kafka_murmur2(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)));
}

/*
 * topics.partition_for_key(key, partitions) returns the partition Kafka's
 * default partitioner chooses for key.
 */
Datum
pg_topics_partition_for_key(PG_FUNCTION_ARGS)
{
	bytea	   *key = PG_GETARG_BYTEA_PP(0);
	int32		n = PG_GETARG_INT32(1);

	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid partition count %d", n)));
	PG_RETURN_INT32(kafka_partition_for_key(VARDATA_ANY(key),
											VARSIZE_ANY_EXHDR(key), n));
}

/*
 * topics_internal.segment_size(topic, partition, base_offset) returns the
 * bytes a segment holds (see relation_bytes), or NULL when the topic or
 * the segment has no table; 42501 unless the current role may read the
 * topic, and 42602 for a name that is no topic's (a cut table name would
 * name another topic's tables).  Measuring only what stays the same once a
 * segment is full is what lets the worker record the size of full
 * segments once (topics.partition.sealed_bytes).
 */
Datum
pg_topics_segment_size(PG_FUNCTION_ARGS)
{
	char	   *topic;
	Oid			root;
	Oid			relid;
	Relation	rel;
	int64		size;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	topic = topic_name_from_text(PG_GETARG_TEXT_PP(0));
	root = topic_table_relid(topic, -1, -1);
	if (!OidIsValid(root))
		PG_RETURN_NULL();
	if (pg_class_aclcheck(root, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for topic \"%s\"", topic)));
	relid = topic_table_relid(topic, PG_GETARG_INT32(1), PG_GETARG_INT64(2));
	rel = OidIsValid(relid) ? try_table_open(relid, AccessShareLock) : NULL;
	if (rel == NULL)
		PG_RETURN_NULL();
	size = relation_bytes(rel);
	table_close(rel, AccessShareLock);
	PG_RETURN_INT64(size);
}
