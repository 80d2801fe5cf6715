/*-------------------------------------------------------------------------
 *
 * segment.c
 *	  The chain of segment tables of a partition, and how it grows.
 *
 * A segment holds a fixed range [base, end) of one partition's offsets,
 * chosen when it is created: segment.messages offsets, or fewer when the
 * partition's recent messages are large, so that a segment holds about
 * segment.bytes.  Bounds never change once set, so growing the chain never
 * locks a segment that producers are writing to.
 *
 * A producer must never create a segment in its own transaction: until it
 * commits, every other producer that reaches the same offsets would wait
 * for it.  So the next segment is created by a dynamic background worker in
 * a short transaction of its own: asked early, without waiting, when a
 * producer passes the middle of the last segment, and waited for only when
 * a producer finds no segment for its offset.  The worker attaches the new
 * table with ATTACH PARTITION, which takes only SHARE UPDATE EXCLUSIVE on
 * the partition table and so never waits for producers or readers.
 *
 * A partition created by the producer's own transaction (with its topic,
 * or by add_partitions) is the exception: no other transaction can see
 * it, so its segments are created in that transaction, where a worker
 * could not see the partition at all.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "log/segment.h"
#include "log/topic.h"
#include "log/topic_tables.h"

/* How often a producer looks for a free worker slot. */
#define SEGMENT_SLOT_RETRY_MS	20

/* What the worker is asked to do, passed in bgw_extra. */
typedef struct SegmentRequest
{
	Oid			dbid;
	char		topic[NAMEDATALEN];
	int32		partition;
	int64		target;			/* make the chain cover this offset */
} SegmentRequest;

/*
 * segment_create creates the segment [base, end) of a partition and
 * records it in topics.segment.  Caller is connected to SPI and runs as
 * the owner of schema topics_data.
 */
void
segment_create(const char *topic, int partition, int64 base, int64 end)
{
	const char *qname = quote_qualified_identifier(TOPICS_DATA_SCHEMA,
												   topic_table_name(topic, partition, base));
	const char *qparent = quote_qualified_identifier(TOPICS_DATA_SCHEMA,
													 topic_table_name(topic, partition, -1));
	Oid			argtypes[4] = {TEXTOID, INT4OID, INT8OID, INT8OID};
	Datum		args[4];
	int			rc;

	topic_tables_exec(psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS)",
							   qname, qparent));
	topic_tables_exec(psprintf("CREATE UNIQUE INDEX ON %s (msg_offset)", qname));
	topic_tables_exec(psprintf("ALTER TABLE %s ATTACH PARTITION %s "
							   "FOR VALUES FROM (" INT64_FORMAT ") TO (" INT64_FORMAT ")",
							   qparent, qname, base, end));

	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(partition);
	args[2] = Int64GetDatum(base);
	args[3] = Int64GetDatum(end);
	rc = SPI_execute_with_args("INSERT INTO topics.segment "
							   "(topic, partition, base_offset, end_offset) "
							   "VALUES ($1, $2, $3, $4)",
							   4, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record segment \"%s\"", qname);
}

/*
 * segment_span returns how many offsets the next segment of a partition
 * should cover: segment.messages, or fewer when the average message of the
 * partition's last segment says that many would exceed segment.bytes.
 * log_end is the partition's log end, or -1 when unknown.
 */
static int64
segment_span(int64 segment_messages, int64 segment_bytes,
			 const LogSegment *last, int64 log_end)
{
	int64		messages = segment_messages > 0 ?
	segment_messages : DEFAULT_SEGMENT_MESSAGES;
	int64		bytes = segment_bytes > 0 ? segment_bytes : DEFAULT_SEGMENT_BYTES;
	int64		used;
	int64		size;
	Relation	rel;

	if (log_end < 0)
		return messages;
	used = Min(log_end, last->end) - last->base;
	if (used <= 0)
		return messages;
	rel = table_open(last->relid, AccessShareLock);
	size = (int64) RelationGetNumberOfBlocks(rel) * BLCKSZ;
	table_close(rel, AccessShareLock);
	if (size <= 0)
		return messages;
	return Max(1, Min(messages, bytes / Max(1, size / used)));
}

/*
 * extend_chain adds segments to a partition until its chain covers offset
 * target.  A new segment starts at the end of the last one, or at resume
 * when that is higher: offsets between them were handed out before the
 * server restarted, or never, and no row will be written there.  Caller is connected to SPI, runs as the owner of schema
 * topics_data, and holds ShareUpdateExclusiveLock on the partition's table,
 * which serializes the extenders of a partition.
 */
static void
extend_chain(const char *topic, int partition, int64 target,
			 int64 segment_messages, int64 segment_bytes, int64 log_end,
			 int64 resume)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		args[2];

	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(partition);
	for (;;)
	{
		LogSegment	last;
		int64		base;
		bool		isnull;
		int			rc;

		rc = SPI_execute_with_args("SELECT base_offset, end_offset "
								   "FROM topics.segment "
								   "WHERE topic OPERATOR(pg_catalog.=) $1 "
								   "AND partition OPERATOR(pg_catalog.=) $2 "
								   "ORDER BY base_offset DESC LIMIT 1",
								   2, argtypes, args, NULL, false, 1);
		if (rc != SPI_OK_SELECT || SPI_processed == 0)
			return;
		last.base = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 1, &isnull));
		last.end = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2, &isnull));
		if (last.end > target)
			return;
		last.relid = topic_table_relid(topic, partition, last.base);
		if (!OidIsValid(last.relid))
			return;
		base = Max(last.end, resume);
		segment_create(topic, partition, base,
					   base + segment_span(segment_messages, segment_bytes,
										   &last, log_end));
		CommandCounterIncrement();
	}
}

/*
 * segment_request starts a worker that extends the chain of a partition
 * until it covers offset target, and returns false when no worker slot is
 * free.  With wait, it returns once the worker has finished (the caller
 * then reloads the topic); without, it returns at once.
 */
bool
segment_request(Topic *topic, int partition, int64 target, bool wait)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	SegmentRequest req;
	pid_t		pid;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strcpy(worker.bgw_library_name, "pg_topics");
	strcpy(worker.bgw_function_name, "pg_topics_segment_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_topics segment %s/%d",
			 topic->name, partition);
	strcpy(worker.bgw_type, "pg_topics segment");
	worker.bgw_notify_pid = wait ? MyProcPid : 0;

	memset(&req, 0, sizeof(req));
	req.dbid = MyDatabaseId;
	strlcpy(req.topic, topic->name, NAMEDATALEN);
	req.partition = partition;
	req.target = target;
	StaticAssertStmt(sizeof(SegmentRequest) <= BGW_EXTRALEN,
					 "SegmentRequest does not fit in bgw_extra");
	memcpy(worker.bgw_extra, &req, sizeof(req));

	if (!RegisterDynamicBackgroundWorker(&worker, wait ? &handle : NULL))
		return false;
	if (!wait)
		return true;

	if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_POSTMASTER_DIED ||
		WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
		ereport(FATAL,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("the server exited while a producer waited for a new segment of topic \"%s\"",
						topic->name)));
	return true;
}

/*
 * extend_here adds the segments of a partition that the current
 * transaction created, in the transaction itself: no worker could see it.
 */
static void
extend_here(Topic *topic, int partition, int64 target)
{
	AsOwner		admin;

	as_owner_begin(&admin);
	extend_chain(topic->name, partition, target, topic->segment_messages,
				 topic->segment_bytes, -1, -1);
	as_owner_end(&admin);
}

/*
 * segment_wait_for returns the segment of a partition that holds offset,
 * starting workers to add segments up to target until one does.  While no
 * worker slot is free it waits, since the workers of other producers free
 * theirs within moments, up to pg_topics.segment_create_timeout.  Returns
 * the reloaded topic in *topicp.
 */
const LogSegment *
segment_wait_for(Topic **topicp, int partition, int64 offset, int64 target)
{
	TimestampTz deadline =
	TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
								pg_topics_segment_create_timeout);
	const LogSegment *seg;
	char		name[NAMEDATALEN];

	strlcpy(name, (*topicp)->name, NAMEDATALEN);
	for (;;)
	{
		/* another producer's worker may have added it already */
		*topicp = topic_reload(*topicp);
		seg = topic_find_segment(*topicp, partition, offset);
		if (seg != NULL)
			return seg;

		if (topic_partition_created_here(*topicp, partition))
		{
			extend_here(*topicp, partition, target);
			continue;
		}
		if (segment_request(*topicp, partition, target, true))
		{
			*topicp = topic_reload(*topicp);
			seg = topic_find_segment(*topicp, partition, offset);
			if (seg == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("no segment of topic \"%s\" holds offset %lld of partition %d",
								name, (long long) offset, partition),
						 errdetail("The worker that adds segments did not add one."),
						 errhint("See the server log for the worker's error.")));
			return seg;
		}

		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not start a worker to add a segment to topic \"%s\"",
							name),
					 errdetail("Partition %d needs a new segment table, which a background worker creates, and no worker slot was free for %d ms.",
							   partition, pg_topics_segment_create_timeout),
					 errhint("Increase \"max_worker_processes\" and restart the server.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 SEGMENT_SLOT_RETRY_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * segment_next_span returns how many offsets the segment after the last of
 * a partition should cover (see segment_span).
 */
int64
segment_next_span(Topic *topic, int partition)
{
	TopicPartition *part = &topic->partitions[partition];

	return segment_span(topic->segment_messages, topic->segment_bytes,
						&part->segments[part->nsegments - 1],
						part->state ? partition_log_end(part->state) : -1);
}

/*
 * segment_worker_extend does the worker's work inside its transaction, as
 * the owner of schema topics_data.
 */
static void
segment_worker_extend(SegmentRequest *req)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	Oid			root;
	Oid			parent;
	bool		isnull;
	int64		segment_messages;
	int64		segment_bytes;
	int64		log_end = -1;
	int64		resume = -1;
	int			rc;
	AsOwner		admin;

	as_owner_begin(&admin);
	args[0] = CStringGetTextDatum(req->topic);
	args[1] = Int32GetDatum(req->partition);
	rc = SPI_execute_with_args("SELECT COALESCE((t.config OPERATOR(pg_catalog.->>) 'segment.messages')::pg_catalog.int8, 0), "
							   "COALESCE((t.config OPERATOR(pg_catalog.->>) 'segment.bytes')::pg_catalog.int8, 0) "
							   "FROM topics.topic t, topics.partition p "
							   "WHERE t.name OPERATOR(pg_catalog.=) $1 "
							   "AND p.topic OPERATOR(pg_catalog.=) t.name "
							   "AND p.partition OPERATOR(pg_catalog.=) $2",
							   2, argtypes, args, NULL, true, 1);
	root = topic_table_relid(req->topic, -1, -1);
	parent = topic_table_relid(req->topic, req->partition, -1);
	if (rc != SPI_OK_SELECT || SPI_processed == 0 ||
		!OidIsValid(root) || !OidIsValid(parent))
	{
		/* the topic was dropped meanwhile */
		as_owner_end(&admin);
		return;
	}
	segment_messages = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1, &isnull));
	segment_bytes = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 2, &isnull));

	/*
	 * Lock the root before the partition table, as ATTACH PARTITION will and
	 * as drop_topic does, so that a concurrent drop cannot deadlock with us.
	 * Then serialize with other workers of this partition and look again.
	 */
	LockRelationOid(root, AccessShareLock);
	LockRelationOid(parent, ShareUpdateExclusiveLock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(parent)))
	{
		as_owner_end(&admin);
		return;
	}
	{
		Topic	   *topic = topic_open(req->topic, AccessShareLock);

		if (req->partition < topic->npartitions)
		{
			PartitionState *state = topic_partition_state(topic, req->partition);

			log_end = partition_log_end(state);
			resume = partition_resume_offset(state);
		}
	}
	extend_chain(req->topic, req->partition, req->target, segment_messages,
				 segment_bytes, log_end, resume);
	as_owner_end(&admin);
}

/*
 * pg_topics_segment_worker_main is the entry point of the segment worker.
 */
void
pg_topics_segment_worker_main(Datum arg)
{
	SegmentRequest req;
	char		timeout[32];

	memcpy(&req, MyBgworkerEntry->bgw_extra, sizeof(req));

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(req.dbid, InvalidOid, 0);

	/* never wait longer than the producer that asked is willing to */
	snprintf(timeout, sizeof(timeout), "%d", pg_topics_segment_create_timeout);
	SetConfigOption("lock_timeout", timeout, PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET,
					PGC_S_OVERRIDE);

	pgstat_report_activity(STATE_RUNNING, "adding a segment");
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	segment_worker_extend(&req);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}
