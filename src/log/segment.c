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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "log/segment.h"
#include "log/topic.h"

/* How often a producer looks for a free worker slot. */
#define SEGMENT_SLOT_RETRY_MS	20

/* What the worker is asked to do, passed in bgw_extra. */
typedef struct SegmentRequest
{
	Oid			dbid;
	int32		topic_id;
	int32		partition;
	int64		target;			/* make the chain cover this offset */
} SegmentRequest;

/*
 * partition_table_name returns the name of a partition's table.  '$' cannot
 * appear in a topic name, so these never clash with a topic's root table.
 */
char *
partition_table_name(int32 topic_id, int partition)
{
	return psprintf("t%d$p%d", topic_id, partition);
}

/*
 * spi_exec runs one utility or DML statement built from quoted names and
 * numbers only.  Caller is connected to SPI.
 */
static void
spi_exec(const char *sql)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc < 0)
		elog(ERROR, "SPI_execute failed for \"%s\": %s", sql,
			 SPI_result_code_string(rc));
}

/*
 * segment_create creates the segment [base, end) of a partition, owned by
 * owner, and records it in topics.segment.  Caller is connected to SPI and
 * runs as a role allowed to create tables in topics_data.
 */
void
segment_create(int32 topic_id, int partition, Oid parent, Oid owner,
			   int64 base, int64 end)
{
	char	   *name = psprintf("t%d$p%d$%lld", topic_id, partition,
								(long long) base);
	const char *qname = quote_qualified_identifier(TOPICS_DATA_SCHEMA, name);
	const char *qparent = quote_qualified_identifier(TOPICS_DATA_SCHEMA,
													 get_rel_name(parent));
	Oid			argtypes[5] = {INT4OID, INT4OID, INT8OID, INT8OID, TEXTOID};
	Datum		args[5];
	int			rc;

	spi_exec(psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS)",
					  qname, qparent));
	spi_exec(psprintf("CREATE UNIQUE INDEX ON %s (msg_offset)", qname));
	spi_exec(psprintf("ALTER TABLE %s OWNER TO %s", qname,
					  quote_identifier(GetUserNameFromId(owner, false))));
	spi_exec(psprintf("ALTER TABLE %s ATTACH PARTITION %s "
					  "FOR VALUES FROM (" INT64_FORMAT ") TO (" INT64_FORMAT ")",
					  qparent, qname, base, end));

	args[0] = Int32GetDatum(topic_id);
	args[1] = Int32GetDatum(partition);
	args[2] = Int64GetDatum(base);
	args[3] = Int64GetDatum(end);
	args[4] = CStringGetTextDatum(qname);
	rc = SPI_execute_with_args("INSERT INTO topics.segment "
							   "(topic_id, partition, base_offset, end_offset, relid) "
							   "VALUES ($1, $2, $3, $4, $5::pg_catalog.regclass)",
							   5, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record segment \"%s\"", name);
}

/*
 * segment_span returns how many offsets the next segment of a partition
 * should cover: segment.messages, or fewer when the average message of the
 * partition's last segment says that many would exceed segment.bytes.
 */
int64
segment_span(Topic *topic, TopicPartition *part)
{
	int64		messages = topic->segment_messages > 0 ?
		topic->segment_messages : DEFAULT_SEGMENT_MESSAGES;
	int64		bytes = topic->segment_bytes > 0 ?
		topic->segment_bytes : DEFAULT_SEGMENT_BYTES;
	TopicSegment *last = &part->segments[part->nsegments - 1];
	int64		used;
	int64		size;

	if (part->state == NULL || !part->state->initialized)
		return messages;
	used = Min(part->state->next_offset, last->end) - last->base;
	if (used <= 0)
		return messages;
	{
		Relation	rel = table_open(last->relid, AccessShareLock);

		size = (int64) RelationGetNumberOfBlocks(rel) * BLCKSZ;
		table_close(rel, AccessShareLock);
	}
	if (size <= 0)
		return messages;
	return Max(1, Min(messages, bytes / Max(1, size / used)));
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

	req.dbid = MyDatabaseId;
	req.topic_id = topic->topic_id;
	req.partition = partition;
	req.target = target;
	StaticAssertStmt(sizeof(SegmentRequest) <= BGW_EXTRALEN,
					 "SegmentRequest does not fit in bgw_extra");
	memcpy(worker.bgw_extra, &req, sizeof(req));

	if (!RegisterDynamicBackgroundWorker(&worker, wait ? &handle : NULL))
		return false;
	if (!wait)
		return true;

	if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_POSTMASTER_DIED)
		ereport(FATAL,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("postmaster exited while waiting for a segment worker")));
	WaitForBackgroundWorkerShutdown(handle);
	return true;
}

/*
 * segment_wait_for returns the segment of a partition that holds offset,
 * starting workers to add segments up to target until one does.  While no
 * worker slot is free it waits, since the workers of other producers free
 * theirs within moments, up to pg_topics.segment_create_timeout.  Returns
 * the reloaded topic in *topicp.
 */
const TopicSegment *
segment_wait_for(Topic **topicp, int partition, int64 offset, int64 target)
{
	TimestampTz deadline =
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
									pg_topics_segment_create_timeout);
	const TopicSegment *seg;
	char		name[NAMEDATALEN];

	strlcpy(name, (*topicp)->name, NAMEDATALEN);
	for (;;)
	{
		/* another producer's worker may have added it already */
		*topicp = topic_reload(*topicp);
		seg = topic_find_segment(*topicp, partition, offset);
		if (seg != NULL)
			return seg;

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
 * segment_worker_extend does the worker's work inside its transaction.
 */
static void
segment_worker_extend(SegmentRequest *req)
{
	Oid			argtypes[2] = {INT4OID, INT4OID};
	Datum		args[2];
	Oid			parent;
	Oid			owner;
	Oid			root;
	bool		isnull;
	Topic		topic;
	TopicPartition part;
	TopicSegment last;
	int			rc;

	args[0] = Int32GetDatum(req->topic_id);
	args[1] = Int32GetDatum(req->partition);
	rc = SPI_execute_with_args("SELECT p.relid::pg_catalog.oid, c.relowner, t.relid::pg_catalog.oid, "
							   "COALESCE((t.config OPERATOR(pg_catalog.->>) 'segment.messages')::pg_catalog.int8, 0), "
							   "COALESCE((t.config OPERATOR(pg_catalog.->>) 'segment.bytes')::pg_catalog.int8, 0) "
							   "FROM topics.partition p "
							   "JOIN topics.topic t USING (topic_id) "
							   "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.relid "
							   "WHERE p.topic_id OPERATOR(pg_catalog.=) $1 "
							   "AND p.partition OPERATOR(pg_catalog.=) $2",
							   2, argtypes, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed == 0)
		return;					/* the topic was dropped meanwhile */

	parent = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 2, &isnull));
	memset(&topic, 0, sizeof(topic));
	root = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 3, &isnull));
	topic.segment_messages = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc,
														 4, &isnull));
	topic.segment_bytes = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc,
													  5, &isnull));

	/*
	 * Lock the root before the partition table, as ATTACH PARTITION will and
	 * as drop_topic does, so that a concurrent drop cannot deadlock with us.
	 * Then serialize with other workers of this partition and look again.
	 */
	LockRelationOid(root, AccessShareLock);
	LockRelationOid(parent, ShareUpdateExclusiveLock);

	for (;;)
	{
		int64		span;

		rc = SPI_execute_with_args("SELECT base_offset, end_offset, relid::pg_catalog.oid "
								   "FROM topics.segment "
								   "WHERE topic_id OPERATOR(pg_catalog.=) $1 "
								   "AND partition OPERATOR(pg_catalog.=) $2 "
								   "ORDER BY base_offset DESC LIMIT 1",
								   2, argtypes, args, NULL, false, 1);
		if (rc != SPI_OK_SELECT || SPI_processed == 0)
			return;
		last.base = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 1, &isnull));
		last.end = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2, &isnull));
		last.relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 3, &isnull));
		if (last.end > req->target)
			return;

		part.relid = parent;
		part.state = partition_state_find(parent, false);
		part.nsegments = 1;
		part.segments = &last;
		span = segment_span(&topic, &part);
		segment_create(req->topic_id, req->partition, parent, owner,
					   last.end, last.end + span);
		CommandCounterIncrement();
	}
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
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	segment_worker_extend(&req);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}
