/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The launcher, and one worker per database that has pg_topics.
 *
 * The launcher is a static background worker connected to no database.
 * Every LAUNCHER_NAPTIME_MS, or when woken, it lists the databases that
 * accept connections and starts a worker for each one that has none.  A
 * worker that finds no pg_topics in its database exits at once and the
 * launcher leaves that database alone for a while; CREATE EXTENSION lifts
 * the hold and wakes the launcher at commit.  A worker that finds the
 * extension runs the maintenance jobs (today: expiring silent consumer
 * group members, which rebalances their groups) every
 * pg_topics.worker_naptime, each in its own transaction, until the
 * extension is dropped or it is told to stop.
 *
 * A worker stays connected to its database, which would make DROP
 * DATABASE (and RENAME, SET TABLESPACE, or CREATE DATABASE using it as a
 * template) fail: the utility hook stops the database's worker first and
 * holds the launcher off.
 *
 * Errors end a worker (as for any background worker); the launcher starts
 * a new one ERROR_HOLD_MS later.  Every job is idempotent.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "workers/worker_state.h"
#include "workers/launcher.h"
#include "guc.h"
#include "log/topic.h"
#include "preload.h"

#define LAUNCHER_NAPTIME_MS			10000
/* a database without the extension is looked at again after this long */
#define NO_EXTENSION_HOLD_MS		10000
/* a database being dropped is left alone this long */
#define DROP_HOLD_MS				60000
/* other commands that need the database to themselves */
#define UTILITY_HOLD_MS				5000
/* a worker that failed is replaced after this long */
#define ERROR_HOLD_MS				10000
/* how long a command waits for a worker to stop */
#define WORKER_STOP_TIMEOUT_MS		10000

typedef struct WorkerArgs
{
	Oid			dbid;
	int			slot;
} WorkerArgs;

static bool start_at_commit = false;

/*
 * launcher_register registers the launcher; called from _PG_init while the
 * library is preloaded.
 */
void
launcher_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	strcpy(worker.bgw_library_name, "pg_topics");
	strcpy(worker.bgw_function_name, "pg_topics_launcher_main");
	strcpy(worker.bgw_name, "pg_topics launcher");
	strcpy(worker.bgw_type, "pg_topics launcher");
	RegisterBackgroundWorker(&worker);
}

/*
 * list_databases returns the OIDs of the databases that accept
 * connections and are not templates.
 */
static List *
list_databases(void)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext cxt = CurrentMemoryContext;

	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate)
			continue;
		old = MemoryContextSwitchTo(cxt);
		result = lappend_oid(result, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

/*
 * start_worker starts the worker of a database unless it has one.
 */
static void
start_worker(Oid dbid)
{
	BackgroundWorker worker;
	WorkerArgs	args;
	int			slot = worker_slot_claim(dbid);

	if (slot < 0)
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strcpy(worker.bgw_library_name, "pg_topics");
	strcpy(worker.bgw_function_name, "pg_topics_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_topics worker %u", dbid);
	strcpy(worker.bgw_type, "pg_topics worker");
	worker.bgw_notify_pid = MyProcPid;
	args.dbid = dbid;
	args.slot = slot;
	memcpy(worker.bgw_extra, &args, sizeof(args));

	if (!RegisterDynamicBackgroundWorker(&worker, NULL))
	{
		worker_slot_release(slot);
		ereport(LOG,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start the pg_topics worker of database %u", dbid),
				 errhint("Increase \"max_worker_processes\" and restart the server.")));
	}
}

/*
 * nap waits for the latch or for ms, then handles interrupts and a
 * configuration reload: the one place the launcher and workers sleep.
 */
static void
nap(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

static void
launcher_exit(int code, Datum arg)
{
	launcher_set_latch(NULL);
}

/*
 * pg_topics_launcher_main is the launcher's entry point.
 */
void
pg_topics_launcher_main(Datum arg)
{
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	launcher_set_latch(MyLatch);
	before_shmem_exit(launcher_exit, (Datum) 0);

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "pg_topics launcher",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContext old = MemoryContextSwitchTo(loop_cxt);
		TimestampTz now = GetCurrentTimestamp();
		ListCell   *lc;

		pgstat_report_activity(STATE_RUNNING, "starting workers");
		foreach(lc, list_databases())
		{
			Oid			dbid = lfirst_oid(lc);

			if (!worker_slot_running(dbid, NULL) &&
				worker_slots_may_start(dbid, now))
				start_worker(dbid);
		}
		pgstat_report_activity(STATE_IDLE, NULL);
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop_cxt);

		nap(LAUNCHER_NAPTIME_MS);
	}
}

static Oid	worker_dbid = InvalidOid;

/*
 * worker_exit frees the worker's slot.  After an error it also holds the
 * launcher off for a while: the launcher is told at once of a worker's
 * exit, and would otherwise start the next one straight into the same
 * error.
 */
static void
worker_exit(int code, Datum arg)
{
	if (code != 0 && OidIsValid(worker_dbid))
		worker_slots_hold_off(worker_dbid,
							  TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														  ERROR_HOLD_MS));
	worker_slot_release(DatumGetInt32(arg));
}

/*
 * worker_run_jobs runs one round of maintenance in its own transaction and
 * returns false when the database no longer has the extension.
 */
static bool
worker_run_jobs(void)
{
	bool		has_extension;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "expiring consumer group members");

	has_extension = OidIsValid(get_extension_oid("pg_topics", true));
	if (has_extension)
	{
		if (SPI_execute("SELECT topics_internal._expire_members()", false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not expire consumer group members");
		topic_maintain();
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return has_extension;
}

/*
 * pg_topics_worker_main is the entry point of a database's worker.
 */
void
pg_topics_worker_main(Datum arg)
{
	WorkerArgs	args;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	worker_dbid = args.dbid;
	before_shmem_exit(worker_exit, Int32GetDatum(args.slot));
	worker_slot_set_pid(args.slot, MyProcPid);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dbid, InvalidOid, 0);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET,
					PGC_S_OVERRIDE);

	for (;;)
	{
		if (!worker_run_jobs())
		{
			worker_slots_hold_off(args.dbid,
								  TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															  NO_EXTENSION_HOLD_MS));
			proc_exit(0);
		}

		nap(pg_topics_worker_naptime);
	}
}

/*
 * stop_worker holds the launcher off a database for hold_ms and stops the
 * database's worker, waiting until it has exited.
 */
static void
stop_worker(const char *dbname, int hold_ms)
{
	Oid			dbid = get_database_oid(dbname, true);
	TimestampTz deadline;
	pid_t		pid;

	if (!OidIsValid(dbid))
		return;
	worker_slots_hold_off(dbid,
						  TimestampTzPlusMilliseconds(GetCurrentTimestamp(), hold_ms));
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   WORKER_STOP_TIMEOUT_MS);
	while (worker_slot_running(dbid, &pid))
	{
		if (pid != 0)
			kill(pid, SIGTERM);
		if (GetCurrentTimestamp() >= deadline)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * launcher_utility_before stops the worker of a database that a command is
 * about to drop, rename, move or copy, since those need the database to
 * themselves.
 */
void
launcher_utility_before(Node *parsetree)
{
	if (!pg_topics_loaded())
		return;

	if (IsA(parsetree, DropdbStmt))
		stop_worker(((DropdbStmt *) parsetree)->dbname, DROP_HOLD_MS);
	else if (IsA(parsetree, RenameStmt) &&
			 ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
		stop_worker(((RenameStmt *) parsetree)->subname, UTILITY_HOLD_MS);
	else if (IsA(parsetree, AlterDatabaseStmt))
		stop_worker(((AlterDatabaseStmt *) parsetree)->dbname, UTILITY_HOLD_MS);
	else if (IsA(parsetree, CreatedbStmt))
	{
		ListCell   *lc;

		foreach(lc, ((CreatedbStmt *) parsetree)->options)
		{
			DefElem    *opt = lfirst(lc);

			if (strcmp(opt->defname, "template") == 0)
				stop_worker(defGetString(opt), UTILITY_HOLD_MS);
		}
	}
}

static void
launcher_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && start_at_commit)
	{
		worker_slots_hold_off(MyDatabaseId, 0);
		launcher_wake();
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
		start_at_commit = false;
}

/*
 * launcher_utility_after asks the launcher to start this database's worker
 * once a CREATE EXTENSION pg_topics commits.
 */
void
launcher_utility_after(Node *parsetree)
{
	static bool registered = false;

	if (!pg_topics_loaded() || !IsA(parsetree, CreateExtensionStmt) ||
		strcmp(((CreateExtensionStmt *) parsetree)->extname, "pg_topics") != 0)
		return;
	if (!registered)
	{
		RegisterXactCallback(launcher_xact_callback, NULL);
		registered = true;
	}
	start_at_commit = true;
}
