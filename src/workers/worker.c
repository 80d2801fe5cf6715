/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The per-database maintenance worker.
 *
 * The launcher (launcher.c) starts a worker in a slot of the pool
 * (worker_state.c) for one database.  The worker runs rounds there, each
 * job in a transaction of its own: it looks for the extension, and if it
 * is there, expires silent consumer group members
 * (topics_internal._expire_members(), which rebalances their groups), runs
 * the log's maintenance (topic_maintain(): the stable offsets of all
 * partitions), maintains queue windows and, every
 * pg_topics.maintenance_interval, the topics' retention, compaction and
 * reclamation (maintenance.c), a transaction per topic.  Rounds start
 * pg_topics.worker_naptime apart.
 *
 * A worker exits when its round finds no extension (the launcher records
 * that, and starts no worker there again until CREATE EXTENSION; this is
 * how a database the launcher has not seen before is probed), when the
 * launcher asks it to (the database no longer needs a worker, or another
 * database is due and the pool is full), and on SIGTERM.  Between rounds
 * it holds no lock and no snapshot, only its connection, which commands
 * that need the database to themselves take away (launcher.c).
 *
 * A job that fails (a lock it could not get within WORKER_LOCK_TIMEOUT,
 * say) is reported and skipped; every job is idempotent, so the next round
 * does it.  A FATAL error ends the worker like any background worker; the
 * slot records whether it failed, so that the launcher waits before it
 * starts the next one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "log/segment_maker.h"
#include "log/topic.h"
#include "queue/queue_maintain.h"
#include "relids.h"
#include "retention/maintenance.h"
#include "retention/retention.h"
#include "workers/worker.h"
#include "workers/worker_state.h"

/*
 * How long a worker waits for a lock.  Below the default deadlock_timeout
 * (1 s): in a deadlock with a user's command, the worker gives up before
 * the command's deadlock check would cancel the command.
 */
#define WORKER_LOCK_TIMEOUT		"200ms"

/*
 * worker_nap waits for the latch or for ms, then handles interrupts and a
 * configuration reload: the one place the launcher and workers sleep.
 */
void
worker_nap(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 Max(ms, 0), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/*
 * worker_exit records in the worker's slot that it exits, and whether an
 * error ended it; a before_shmem_exit callback, so that it runs while the
 * worker is still attached to shared memory, after an error too.
 */
static void
worker_exit(int code, Datum arg)
{
	worker_slot_detach(DatumGetInt32(arg), code != 0);
}

/* One job of a round; it runs in a transaction of its own. */
typedef void (*WorkerJob) (void);

/*
 * expire_members expires the members of this database's groups that were
 * silent for longer than their session timeout.
 */
static void
expire_members(void)
{
	SPI_connect();
	if (SPI_execute("SELECT topics_internal._expire_members()", false, 0) !=
		SPI_OK_SELECT)
		elog(ERROR, "could not expire consumer group members");
	SPI_finish();
}

/*
 * run_job runs one job of a round in a transaction of its own, if the
 * database has the extension, and returns whether it has.  A job that
 * fails is reported and skipped: the next round runs it again.  The worker
 * waits for no lock longer than WORKER_LOCK_TIMEOUT, so that a command that
 * needs the locks it holds (DROP EXTENSION, drop_topic) never ends in a
 * deadlock with it: the worker gives up first.
 */
static bool
run_job(const char *what, WorkerJob job)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		has_extension = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, what);
	PG_TRY();
	{
		has_extension = OidIsValid(get_extension_oid("pg_topics", true));
		if (has_extension && pgt_catalog_is_current())
			job();
		else if (has_extension)
			ereport(DEBUG1,
					(errmsg("pg_topics in database \"%s\" is older than its library",
							get_database_name(MyDatabaseId)),
					 errdetail("The worker waits for ALTER EXTENSION pg_topics UPDATE.")));
		else
			ereport(DEBUG1,
					(errmsg("database \"%s\" has no extension \"pg_topics\"",
							get_database_name(MyDatabaseId)),
					 errdetail("The launcher starts no pg_topics worker there until CREATE EXTENSION pg_topics.")));
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ? DEBUG1 : LOG,
				(errmsg("pg_topics maintenance skipped \"%s\": %s", what,
						edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return has_extension;
}

/*
 * worker_round runs one round, a transaction per job, and returns whether
 * the database has the extension.  Caller's memory context is reset after
 * the round.
 */
static bool
worker_round(int slot)
{
	uint64		seq;
	bool		has_extension;
	TimestampTz started;

	/* before the round's snapshot: see worker_slot_round_begin */
	seq = worker_slot_round_begin(slot);

	has_extension = run_job("expiring consumer group members", expire_members);
	if (has_extension)
		has_extension = run_job("persisting stable offsets", topic_maintain);
	if (has_extension)
		has_extension = run_job("finishing topics", segment_maker_finish);
	if (has_extension)
		has_extension = run_job("maintaining queues", queue_maintain);
	if (has_extension)
		has_extension = run_job("measuring sealed segments", retention_measure_sealed);
	/* a transaction per topic, for at most a naptime in a round */
	started = GetCurrentTimestamp();
	do
	{
		if (has_extension)
			has_extension = run_job("maintaining topics", maintenance_round);
	} while (has_extension && maintenance_pending() &&
			 !TimestampDifferenceExceeds(started, GetCurrentTimestamp(),
										 pg_topics_worker_naptime));

	worker_slot_round_end(slot, seq, has_extension);
	return has_extension;
}

/*
 * pg_topics_worker_main is the entry point of a database's worker.
 */
void
pg_topics_worker_main(Datum arg)
{
	WorkerArgs	args;
	MemoryContext loop_cxt;
	TimestampTz next_round = 0;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);

	/* signals are still blocked: nothing can end us between these two */
	if (!worker_slot_attach(args.slot, args.generation))
		proc_exit(0);
	before_shmem_exit(worker_exit, Int32GetDatum(args.slot));

	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dbid, InvalidOid, 0);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET,
					PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", WORKER_LOCK_TIMEOUT, PGC_SUSET,
					PGC_S_OVERRIDE);

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "pg_topics worker",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContext old;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (worker_slot_stop_requested(args.slot))
			break;

		now = GetCurrentTimestamp();
		if (now < next_round)
		{
			worker_nap(TimestampDifferenceMilliseconds(now, next_round));
			continue;
		}

		old = MemoryContextSwitchTo(loop_cxt);
		if (!worker_round(args.slot))
			break;
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop_cxt);
		next_round = TimestampTzPlusMilliseconds(now,
												 pg_topics_worker_naptime);

		/* the launcher may be waiting for a round to end to rotate us */
		launcher_wake();
	}
	proc_exit(0);
}
