/*-------------------------------------------------------------------------
 *
 * maintenance.c
 *	  The maintenance jobs of topics, run by the database worker every
 *	  pg_topics.maintenance_interval, or now by topics.run_maintenance():
 *
 *	- roll: the segment a partition writes to rolls over once its first
 *	  message is older than segment.ms (roll.c);
 *	- retention: a stream topic's log start moves past the segments that
 *	  retention.ms and retention.bytes let go (retention.c);
 *	- compaction: a compacted topic's sealed segments keep the latest
 *	  message of each key (compaction.c);
 *	- reclaim: the segments of any topic wholly below a log start that
 *	  every snapshot sees are dropped (reclaim.c): those retention, a
 *	  queue's consumers or topics.delete_records() left behind.
 *
 * Each job of each topic runs in a subtransaction of its own: one that
 * fails is logged and the others go on; a busy lock ends the round's
 * work, which the next round takes up.  Every job is idempotent, and what
 * it did commits with its catalog writes, so a crash loses nothing but
 * the work of the round.  The last run of each job on each topic is kept
 * in topics.maintenance (view topics.maintenance_log), with what it freed
 * and its last error, and reported at DEBUG1.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "log/topic.h"
#include "log/topic_tables.h"
#include "retention/compaction.h"
#include "retention/log_start.h"
#include "retention/maintenance.h"
#include "retention/reclaim.h"
#include "retention/retention.h"
#include "retention/roll.h"
#include "subxact.h"

/*
 * A job's work on one partition of an open topic: it returns how many
 * segments it rolled over, let go, rewrote or dropped, and adds the bytes
 * it freed to *bytes.  Patient (run_maintenance, not the worker), it may
 * wait a moment for what keeps it from its work.  It runs as the owner of
 * the topic's tables, connected to SPI.
 */
typedef int (*PartitionWork) (Topic *topic, int partition, TimestampTz now,
							  bool patient, int64 *bytes);

/* A maintenance job. */
typedef struct Job
{
	const char *name;
	PartitionWork work;
	bool		moves_log_start;	/* what it lets go moves the log start */
	void		(*begin) (void);	/* before the first partition */
	int			(*finish) (int64 *bytes);	/* after the last one: how many
											 * more segments it did */
} Job;

/* One job's run on one topic, and what it did. */
typedef struct JobRun
{
	const char *topic;
	const Job  *job;
	bool		patient;		/* run now by a user, who may wait a moment */
	int			segments;
	int64		bytes;
	int			moves;
} JobRun;

static int
roll_work(Topic *topic, int partition, TimestampTz now, bool patient,
			int64 *bytes)
{
	return roll_segment(topic, partition, now) ? 1 : 0;
}

static int
retention_work(Topic *topic, int partition, TimestampTz now, bool patient,
				int64 *bytes)
{
	return retention_expire(topic, partition, now);
}

static int
reclaim_work(Topic *topic, int partition, TimestampTz now, bool patient,
				int64 *bytes)
{
	return reclaim_segments(topic->name, partition,
							log_start_safe(topic->name, partition, RECORDED_LOG_START),
							bytes);
}

/*
 * run_partitions runs a job on every partition of its topic; arg is its
 * JobRun.
 */
static void
run_partitions(void *arg)
{
	JobRun	   *run = (JobRun *) arg;
	Topic	   *topic = topic_open(run->topic, AccessShareLock);
	TimestampTz now = GetCurrentTimestamp();
	AsOwner		admin;
	int			p;

	as_owner_begin(&admin);
	if (run->job->begin)
		run->job->begin();
	for (p = 0; p < topic->npartitions; p++)
	{
		int			n;

		if (topic_partition_pending(topic, p))
			continue;
		n = run->job->work(topic, p, now, run->patient, &run->bytes);
		run->segments += n;
		run->moves += run->job->moves_log_start && n > 0;
	}
	if (run->job->finish)
		run->segments += run->job->finish(&run->bytes);
	as_owner_end(&admin);
}

/* A job's run and its error, for log_run. */
typedef struct RunRecord
{
	const JobRun *run;
	const char *error;
} RunRecord;

/*
 * log_run records a job's run on a topic in topics.maintenance, with the
 * error that stopped it (NULL: none); arg is its RunRecord.
 */
static void
log_run(void *arg)
{
	const JobRun *run = ((RunRecord *) arg)->run;
	const char *error = ((RunRecord *) arg)->error;
	Oid			argtypes[6] = {TEXTOID, TEXTOID, INT8OID, INT8OID, INT4OID, TEXTOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', error ? ' ' : 'n'};
	AsOwner		admin;

	ereport(DEBUG1,
			(errmsg("pg_topics %s of topic \"%s\": %d segments, %lld bytes, %d log starts moved%s%s",
					run->job->name, run->topic, run->segments, (long long) run->bytes,
					run->moves, error ? ": " : "", error ? error : "")));
	args[0] = CStringGetTextDatum(run->topic);
	args[1] = CStringGetTextDatum(run->job->name);
	args[2] = Int64GetDatum(run->segments);
	args[3] = Int64GetDatum(run->bytes);
	args[4] = Int32GetDatum(run->moves);
	args[5] = error ? CStringGetTextDatum(error) : (Datum) 0;
	as_owner_begin(&admin);
	/* a topic dropped meanwhile has no row to log against */
	if (SPI_execute_with_args("INSERT INTO topics.maintenance AS m (topic, job, last_run, "
							  "segments_freed, bytes_freed, log_start_moves, error, last_error_at) "
							  "SELECT $1, $2, pg_catalog.now(), $3, $4, $5, $6, "
							  "CASE WHEN $6 IS NOT NULL THEN pg_catalog.now() END "
							  "WHERE EXISTS (SELECT FROM topics.topic t "
							  "WHERE t.name OPERATOR(pg_catalog.=) $1) "
							  "ON CONFLICT (topic, job) DO UPDATE SET "
							  "last_run = excluded.last_run, segments_freed = excluded.segments_freed, "
							  "bytes_freed = excluded.bytes_freed, "
							  "log_start_moves = excluded.log_start_moves, "
							  "error = COALESCE(excluded.error, m.error), "
							  "last_error_at = COALESCE(excluded.last_error_at, m.last_error_at)",
							  6, argtypes, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not log the maintenance of topic \"%s\"", run->topic);
	as_owner_end(&admin);
}

/*
 * run_job runs one job on one topic in a subtransaction and logs it;
 * returns false when a lock it needed was busy.
 */
static bool
run_job(const char *topic, const Job *job, bool patient)
{
	JobRun		run = {topic, job, patient, 0, 0, 0};
	RunRecord	record = {&run, NULL};
	char	   *error;
	bool		ok;

	ok = subxact_run(run_partitions, &run,
					 psprintf("could not run %s on topic \"%s\"", job->name, topic),
					 &error);
	if (error != NULL)
		run.segments = run.bytes = run.moves = 0;
	record.error = error;
	/* a user's transaction that holds the topic's log row loses this run's */
	if (ok)
		ok = subxact_try(log_run, &record,
						 psprintf("could not log %s of topic \"%s\"", job->name, topic));
	return ok;
}

/* The jobs, in the order they run on a topic. */
static const Job jobs[] = {
	{"roll", roll_work, false, NULL, NULL},
	{"retention", retention_work, true, NULL, NULL},
	{"compaction", compaction_run, false, compaction_begin, compaction_finish},
	{"reclaim", reclaim_work, false, NULL, NULL},
};

/*
 * maintain_topic runs every job on one topic; returns false when a lock
 * was busy.
 */
static bool
maintain_topic(const char *topic, bool patient)
{
	Oid			owner;
	int			partitions;
	int			i;

	/* one dropped since the pass began has nothing left to maintain */
	if (!topic_lookup_row(topic, &owner, &partitions))
		return true;
	for (i = 0; i < lengthof(jobs); i++)
		if (!run_job(topic, &jobs[i], patient))
			return false;
	return true;
}

/*
 * topic_names returns, in cxt, the names a query of topic names gives.
 * Caller is connected to SPI.
 */
static List *
topic_names(const char *sql, MemoryContext cxt)
{
	List	   *names = NIL;
	uint64		i;

	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list topics");
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		names = lappend(names, SPI_getvalue(SPI_tuptable->vals[i],
											SPI_tuptable->tupdesc, 1));
		MemoryContextSwitchTo(old);
	}
	return names;
}

/*
 * maintenance_run runs the jobs now on one topic, or on every topic the
 * current role owns when topic is NULL.
 */
void
maintenance_run(const char *topic)
{
	List	   *names;
	ListCell   *lc;

	if (topic != NULL)
	{
		maintain_topic(topic, true);
		return;
	}
	SPI_connect();
	names = topic_names("SELECT name FROM topics.topics "
						"WHERE pg_catalog.pg_has_role(owner, 'USAGE') ORDER BY name",
						TopTransactionContext);
	SPI_finish();
	foreach(lc, names)
		maintain_topic(lfirst(lc), true);
}

/* The worker's pass over the topics of its database. */
static TimestampTz last_pass = 0;
static List *left = NIL;		/* topics the pass has still to maintain */

/*
 * maintenance_round is the worker's job: one topic of the pass over every
 * topic of the database that starts every pg_topics.maintenance_interval,
 * so that each topic's work commits on its own and the locks it takes
 * (compaction's swaps, reclamation's drops) are held no longer.  A topic
 * whose lock is busy (a user's transaction holds it) waits for the next
 * pass; the topics after it do not wait for it.
 */
void
maintenance_round(void)
{
	TimestampTz now = GetCurrentTimestamp();
	AsOwner		admin;
	char	   *topic;

	/* the first pass comes an interval after the worker starts, as Kafka's */
	if (last_pass == 0)
		last_pass = now;
	if (left == NIL)
	{
		if (!TimestampDifferenceExceeds(last_pass, now, pg_topics_maintenance_interval))
			return;
		last_pass = now;
		as_owner_begin(&admin);
		left = topic_names("SELECT name FROM topics.topic ORDER BY name",
						   TopMemoryContext);
		as_owner_end(&admin);
		if (left == NIL)
			return;
	}
	/*
	 * A topic whose lock is busy waits for the next pass, the others go on;
	 * it leaves the list first, so that not even an error can hold them up.
	 */
	topic = linitial(left);
	left = list_delete_first(left);
	if (!maintain_topic(topic, false))
		ereport(DEBUG1,
				(errmsg("pg_topics maintenance of topic \"%s\" waits for the next pass: a lock was busy",
						topic)));
	pfree(topic);
}

/*
 * maintenance_pending tells whether the pass has topics left.
 */
bool
maintenance_pending(void)
{
	return left != NIL;
}
