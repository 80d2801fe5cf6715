/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The launcher, which shares a small pool of workers (worker.c) among
 *	  the databases that have pg_topics, and what commands tell it.
 *
 * The launcher is a static background worker connected to no database.
 * It keeps, in its own memory, one entry per database of pg_database:
 * whether the database has the extension (unknown, absent or present),
 * when its last round started, and whether a failure holds it off.  It
 * reads pg_database again every LAUNCHER_NAPTIME_MS and right after a
 * command changed it, and drops the entries of the databases that are
 * gone, after freeing what shared memory pg_topics held for them (a
 * backstop: DROP DATABASE itself frees it at commit).  So its memory is
 * proportional to the databases that exist, and nothing fills up.
 *
 * What it knows of the extension comes from three places:
 * - a worker's round, which looks for the extension in its snapshot;
 * - a committed CREATE EXTENSION, DROP EXTENSION, DROP SCHEMA or DROP
 *	 OWNED, whose backend posts, after its commit became visible, whether
 *	 the database has the extension (an extension notice, worker_state.c);
 * - nothing, for a database it has not seen before (after a start, or a
 *	 new database): it is probed once, by starting a worker there whose
 *	 first round finds out.
 * A notice and a round's finding may race: CREATE EXTENSION can commit
 * just after a round took its snapshot.  Notices are numbered, and a round
 * records the number of the last notice posted before its snapshot, whose
 * commit it therefore saw; the launcher keeps the number of what it knows
 * and takes a round's finding only when that is as new.  A database known
 * to lack the extension gets no worker, ever, until a notice says
 * otherwise.  A transaction that creates or drops the extension cannot be
 * prepared (it would commit without a notice, and a drop without
 * releasing the shared memory of the extension's topics).  Should more
 * notices come between two looks than the ring holds, the launcher probes
 * again every database it thought had no extension.
 *
 * Scheduling: at most pg_topics.max_workers workers run at once (and never
 * more than the pool, half of max_worker_processes).  A database is due
 * for a round pg_topics.worker_naptime after its last round started; an
 * unknown one is due at once.  Due databases without a worker get one, the
 * longest due first.  While there are no more databases than the pool,
 * workers stay and run their rounds themselves.  When a due database finds
 * the pool full, the launcher asks a worker whose database has had its
 * round, and is not due again soonest, to exit; so workers take turns,
 * each database gets a round about every (databases / max_workers) times
 * what starting a worker and running a round takes, or every naptime if
 * that is longer.
 *
 * Commands that need a database to themselves (DROP DATABASE, ALTER
 * DATABASE RENAME or SET TABLESPACE, CREATE DATABASE with it as TEMPLATE)
 * block it for the rest of their transaction, so that no worker starts
 * there, and stop its worker first (launcher_utility_before).
 *
 * A worker that failed (an error in a round) is replaced ERROR_HOLD_MS
 * later; one that was stopped or exited between rounds is not held off.
 *
 * Locking protocol: the launcher's database entries are its own memory; the
 * shared state is worker_state.c's, under its spinlock.  The launcher takes
 * no other lock but the AccessShareLock on pg_database while it reads it,
 * and the locks of partition_forget_database and heartbeat_forget_database
 * (never while reading pg_database).
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
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/logicallauncher.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bgworker.h"
#include "groups/heartbeat.h"
#include "guc.h"
#include "log/partition.h"
#include "log/segment_maker.h"
#include "preload.h"
#include "workers/launcher.h"
#include "workers/worker.h"
#include "workers/worker_state.h"

/* pg_database is read again at least this often */
#define LAUNCHER_NAPTIME_MS			10000
/* a worker that failed is replaced after this long */
#define ERROR_HOLD_MS				10000
/* a start refused for want of a slot, or a blocked database, is retried */
#define START_RETRY_MS				1000
/* how long a command waits for a worker to stop */
#define WORKER_STOP_TIMEOUT_MS		10000

typedef enum DbExtension
{
	DB_UNKNOWN,					/* to be probed */
	DB_ABSENT,
	DB_PRESENT
} DbExtension;

/* The launcher's entry for a database of pg_database. */
typedef struct LauncherDb
{
	Oid			dbid;			/* hash key: must be first */
	uint64		scan;			/* the read of pg_database that saw it */
	bool		eligible;		/* allows connections, not a template */
	DbExtension extension;
	uint64		extension_seq;	/* notices up to here are in extension */
	TimestampTz since;			/* first seen */
	TimestampTz last_round;		/* start of its last round, 0 for none */
	TimestampTz hold_until;		/* after a failure */
	int			slot;			/* its worker's slot, or -1 */
} LauncherDb;

/* A worker that may be asked to make room, and when its database is due. */
typedef struct LauncherIdle
{
	int			slot;
	TimestampTz due;
} LauncherIdle;

typedef enum LauncherStart
{
	START_OK,
	START_REFUSED,				/* blocked, or pg_database to be read again */
	START_NO_SLOT				/* no background worker slot free */
} LauncherStart;

/*
 * The launcher's state, in TopMemoryContext since it lives as long as the
 * launcher: the database entries, the handle of the worker in each slot
 * (NULL for a worker started by an earlier launcher), and counters.
 */
static HTAB *launcher_dbs = NULL;
static BackgroundWorkerHandle **launcher_handles = NULL;
static MemoryContext launcher_cxt = NULL;
static uint64 launcher_scans = 0;
static TimestampTz launcher_next_scan = 0;
static uint64 launcher_notices_seen = 0;
static bool launcher_no_slot_logged = false;

/* What this backend's transaction tells the launcher when it ends. */
static bool xact_callback_registered = false;
static bool xact_extension_changed = false;
static bool xact_has_extension = false;
static bool xact_blocked = false;
static bool xact_rescan = false;
static Oid	xact_dropped_db = InvalidOid;

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
 * launcher_pool_size returns how many workers may run at once: never so
 * many that no background worker slot is left for a segment maker beside
 * the workers that run whatever the extension does (the launcher, and
 * PostgreSQL's logical replication launcher).  With max_worker_processes
 * at 4 these took every slot, and no wide topic was ever made.
 */
static int
launcher_pool_size(void)
{
	int			always = 1 + (max_logical_replication_workers > 0 ? 1 : 0);

	return Max(1, Min(Min(pg_topics_max_workers, worker_slot_count()),
					  max_worker_processes - always - 1));
}

/*
 * launcher_db_enter returns the entry of a database, creating it (unknown,
 * not yet seen in pg_database) when there is none.
 */
static LauncherDb *
launcher_db_enter(Oid dbid, TimestampTz now)
{
	LauncherDb *db;
	bool		found;

	db = hash_search(launcher_dbs, &dbid, HASH_ENTER, &found);
	if (!found)
	{
		db->scan = 0;
		db->eligible = false;
		db->extension = DB_UNKNOWN;
		db->extension_seq = 0;
		db->since = now;
		db->last_round = 0;
		db->hold_until = 0;
		db->slot = -1;
	}
	return db;
}

/*
 * launcher_db_due returns when a database without a worker is due for a
 * round (or its probe).
 */
static TimestampTz
launcher_db_due(LauncherDb *db)
{
	TimestampTz due = db->since;

	if (db->extension == DB_PRESENT && db->last_round != 0)
		due = TimestampTzPlusMilliseconds(db->last_round,
										  pg_topics_worker_naptime);
	return Max(due, db->hold_until);
}

/*
 * launcher_forget_database frees the shared memory pg_topics holds for a
 * database that no longer exists.
 */
static void
launcher_forget_database(Oid dbid)
{
	partition_forget_database(dbid);
	heartbeat_forget_database(dbid);
}

/*
 * launcher_scan_databases reads pg_database: new databases get an entry
 * (unknown, to be probed), the others learn whether a worker may connect,
 * and the entries of databases that are gone go, after their shared memory
 * is freed.
 */
static void
launcher_scan_databases(TimestampTz now)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	HASH_SEQ_STATUS status;
	LauncherDb *db;

	launcher_scans++;
	launcher_next_scan = TimestampTzPlusMilliseconds(now, LAUNCHER_NAPTIME_MS);

	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database form = (Form_pg_database) GETSTRUCT(tup);

		db = launcher_db_enter(form->oid, now);
		db->scan = launcher_scans;

		/*
		 * No worker in templates: CREATE DATABASE copies template1 unless
		 * told otherwise, and would find it in use.
		 */
		db->eligible = form->datallowconn && !form->datistemplate &&
			!database_is_invalid_form(form);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	hash_seq_init(&status, launcher_dbs);
	while ((db = hash_seq_search(&status)) != NULL)
	{
		if (db->scan == launcher_scans)
			continue;
		if (db->slot >= 0)
			worker_slot_ask_stop(db->slot);
		launcher_forget_database(db->dbid);
		ereport(DEBUG1,
				(errmsg_internal("pg_topics launcher forgets database %u",
								 db->dbid)));
		/* removing the current entry is allowed during a scan */
		hash_search(launcher_dbs, &db->dbid, HASH_REMOVE, NULL);
	}
}

/*
 * launcher_read_notices applies the extension notices posted since the
 * last look; returns true when one concerns a database not read from
 * pg_database yet.
 */
static bool
launcher_read_notices(TimestampTz now)
{
	ExtensionNotice notices[WORKER_NOTICES];
	bool		lost;
	bool		rescan = false;
	int			n;
	int			i;

	n = worker_notices_read(&launcher_notices_seen, notices, &lost);
	if (lost)
	{
		HASH_SEQ_STATUS status;
		LauncherDb *db;

		/* a CREATE EXTENSION may be among the lost: probe again */
		ereport(LOG,
				(errmsg("pg_topics launcher missed extension notices, probing again the databases without the extension")));
		hash_seq_init(&status, launcher_dbs);
		while ((db = hash_seq_search(&status)) != NULL)
			if (db->extension == DB_ABSENT)
				db->extension = DB_UNKNOWN;
	}
	for (i = 0; i < n; i++)
	{
		LauncherDb *db = launcher_db_enter(notices[i].dbid, now);

		if (db->scan == 0)
			rescan = true;
		if (notices[i].seq > db->extension_seq)
		{
			db->extension = notices[i].has_extension ? DB_PRESENT : DB_ABSENT;
			db->extension_seq = notices[i].seq;
		}
	}
	return rescan;
}

/*
 * launcher_collect_slots takes in what the workers report (their rounds,
 * whether they found the extension), and frees the slots of workers that
 * have exited, holding off the databases of those that failed.
 */
static void
launcher_collect_slots(TimestampTz now)
{
	int			i;

	for (i = 0; i < worker_slot_count(); i++)
	{
		WorkerSlot	s;
		LauncherDb *db;
		bool		exited;
		bool		failed;

		worker_slot_read(i, &s);
		if (!s.in_use)
			continue;
		exited = s.phase == WORKER_EXITED;
		failed = s.failed;

		if (launcher_handles[i] != NULL)
		{
			pid_t		pid;
			bool		stopped = GetBackgroundWorkerPid(launcher_handles[i], &pid) ==
				BGWH_STOPPED;

			/*
			 * A worker that said it exits holds its background worker slot
			 * until the postmaster has seen it go: starting another meanwhile
			 * would take a slot more than the pool, one the segment makers
			 * count on.
			 */
			if (exited && !stopped)
				continue;
			/* it never ran, or died before it could say so */
			if (!exited && stopped)
			{
				worker_slot_read(i, &s);
				exited = true;
				failed = s.phase != WORKER_EXITED || s.failed;
			}
		}
		else if (!exited && s.pid != 0 && kill(s.pid, 0) != 0 &&
				 errno == ESRCH)
		{
			/* started by an earlier launcher, and gone without a word */
			exited = true;
			failed = true;
		}

		db = hash_search(launcher_dbs, &s.dbid, HASH_FIND, NULL);
		if (db != NULL)
		{
			db->slot = exited ? -1 : i;
			if (s.round_start > db->last_round)
				db->last_round = s.round_start;
			if (s.has_verdict && s.verdict_seq >= db->extension_seq)
			{
				db->extension = s.has_extension ? DB_PRESENT : DB_ABSENT;
				db->extension_seq = s.verdict_seq;
			}
			if (exited && failed)
				db->hold_until = TimestampTzPlusMilliseconds(now,
															 ERROR_HOLD_MS);
		}
		if (exited)
		{
			worker_slot_free(i);
			if (launcher_handles[i] != NULL)
				pfree(launcher_handles[i]);
			launcher_handles[i] = NULL;
		}
	}
}

/*
 * launcher_stop_unwanted asks the workers of databases that no longer need
 * one (gone, no longer accepting connections, without the extension) to
 * exit.
 */
static void
launcher_stop_unwanted(void)
{
	int			i;

	for (i = 0; i < worker_slot_count(); i++)
	{
		WorkerSlot	s;
		LauncherDb *db;

		worker_slot_read(i, &s);
		if (!s.in_use || s.phase == WORKER_EXITED || s.stop)
			continue;
		db = hash_search(launcher_dbs, &s.dbid, HASH_FIND, NULL);
		if (db == NULL || !db->eligible || db->extension == DB_ABSENT)
			worker_slot_ask_stop(i);
	}
}

/*
 * launcher_start_worker starts a worker for a database.
 */
static LauncherStart
launcher_start_worker(LauncherDb *db)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	char		name[BGW_MAXLEN];
	WorkerArgs	args;
	MemoryContext old;
	pid_t		pid;
	bool		ok;

	args.dbid = db->dbid;
	args.slot = worker_slot_claim(db->dbid, &args.generation);
	if (args.slot < 0)
		return START_REFUSED;

	snprintf(name, sizeof(name), "pg_topics worker %u", db->dbid);
	pg_topics_database_worker(&worker, "pg_topics_worker_main",
							  "pg_topics worker", name);
	worker.bgw_notify_pid = MyProcPid;
	StaticAssertStmt(sizeof(WorkerArgs) <= BGW_EXTRALEN,
					 "WorkerArgs does not fit in bgw_extra");
	memcpy(worker.bgw_extra, &args, sizeof(args));

	old = MemoryContextSwitchTo(launcher_cxt);
	ok = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		worker_slot_free(args.slot);
		if (!launcher_no_slot_logged)
			ereport(LOG,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not start a pg_topics worker for database %u",
							db->dbid),
					 errdetail("All background worker slots are in use."),
					 errhint("Increase \"max_worker_processes\" and restart the server.")));
		launcher_no_slot_logged = true;
		return START_NO_SLOT;
	}
	launcher_no_slot_logged = false;
	launcher_handles[args.slot] = handle;
	db->slot = args.slot;

	if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_POSTMASTER_DIED)
		proc_exit(1);
	return START_OK;
}

/*
 * launcher_cmp_due orders databases for qsort, the longest due first.
 */
static int
launcher_cmp_due(const void *a, const void *b)
{
	TimestampTz da = launcher_db_due(*(LauncherDb *const *) a);
	TimestampTz db = launcher_db_due(*(LauncherDb *const *) b);

	return da < db ? -1 : da > db ? 1 : 0;
}

/*
 * launcher_cmp_idle orders idle workers for qsort, the one whose database
 * is due again last first.
 */
static int
launcher_cmp_idle(const void *a, const void *b)
{
	TimestampTz da = ((const LauncherIdle *) a)->due;
	TimestampTz db = ((const LauncherIdle *) b)->due;

	return da > db ? -1 : da < db ? 1 : 0;
}

/*
 * launcher_schedule starts workers for the due databases while the pool
 * has room, and asks idle workers to make room for the rest.  Returns how
 * long to wait before looking again.  Caller's memory context is reset
 * after each call.
 */
static long
launcher_schedule(TimestampTz now)
{
	int			nslots = worker_slot_count();
	int			pool = launcher_pool_size();
	LauncherDb **due;
	LauncherIdle *idle;
	int			ndue = 0;
	int			nidle = 0;
	int			running = 0;
	int			stopping = 0;
	int			waiting = 0;
	int			need;
	int			i;
	bool		started = false;
	TimestampTz wake = launcher_next_scan;
	HASH_SEQ_STATUS status;
	LauncherDb *db;

	idle = palloc(sizeof(LauncherIdle) * nslots);
	for (i = 0; i < nslots; i++)
	{
		WorkerSlot	s;

		worker_slot_read(i, &s);
		if (!s.in_use || s.phase == WORKER_EXITED)
			continue;
		running++;
		if (s.stop)
			stopping++;
		else if (s.phase == WORKER_NAPPING)
		{
			TimestampTz next;

			/* it has had its round; if it is due again it runs it itself */
			next = TimestampTzPlusMilliseconds(s.round_start,
											   pg_topics_worker_naptime);
			if (next > now)
			{
				idle[nidle].slot = i;
				idle[nidle].due = next;
				nidle++;
			}
		}
	}

	due = palloc(sizeof(LauncherDb *) * hash_get_num_entries(launcher_dbs));
	hash_seq_init(&status, launcher_dbs);
	while ((db = hash_seq_search(&status)) != NULL)
	{
		TimestampTz at;

		if (db->slot >= 0 || !db->eligible || db->extension == DB_ABSENT)
			continue;
		at = launcher_db_due(db);
		if (at <= now)
			due[ndue++] = db;
		else
			wake = Min(wake, at);
	}
	qsort(due, ndue, sizeof(LauncherDb *), launcher_cmp_due);

	for (i = 0; i < ndue; i++)
	{
		LauncherStart result;

		if (running >= pool)
		{
			waiting = ndue - i;
			break;
		}
		result = launcher_start_worker(due[i]);
		if (result == START_OK)
		{
			running++;
			started = true;
		}
		else
		{
			wake = Min(wake, TimestampTzPlusMilliseconds(now, START_RETRY_MS));
			if (result == START_NO_SLOT)
				break;
		}
	}

	/*
	 * Make room: for the databases left waiting, less the workers already on
	 * their way out, and for any workers beyond a lowered max_workers. The
	 * idle workers whose databases are due again last go first.
	 */
	need = Max(waiting - stopping, running - stopping - pool);
	if (need > 0 && nidle > 0)
	{
		qsort(idle, nidle, sizeof(LauncherIdle), launcher_cmp_idle);
		for (i = 0; i < Min(need, nidle); i++)
			worker_slot_ask_stop(idle[i].slot);
	}

	/*
	 * Waiting for a worker to start may have consumed a wakeup meant for
	 * something else: look again at once.
	 */
	if (started)
		return 0;
	return TimestampDifferenceMilliseconds(now, wake);
}

/*
 * launcher_adopt_slots takes over the slots of the workers that an earlier
 * launcher started: those still running stay; those not yet attached are
 * freed (they will find their slot taken from them and exit).
 */
static void
launcher_adopt_slots(TimestampTz now)
{
	int			i;

	for (i = 0; i < worker_slot_count(); i++)
	{
		WorkerSlot	s;

		worker_slot_read(i, &s);
		if (!s.in_use)
			continue;
		if (s.phase == WORKER_EXITED || s.pid == 0 ||
			(kill(s.pid, 0) != 0 && errno == ESRCH))
			worker_slot_free(i);
		else
			launcher_db_enter(s.dbid, now)->slot = i;
	}
}

/*
 * launcher_exit unpublishes the launcher's latch.
 */
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
	HASHCTL		ctl;
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	launcher_set_latch(MyLatch);
	before_shmem_exit(launcher_exit, (Datum) 0);

	launcher_cxt = AllocSetContextCreate(TopMemoryContext,
										 "pg_topics launcher",
										 ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(LauncherDb);
	ctl.hcxt = launcher_cxt;
	launcher_dbs = hash_create("pg_topics launcher databases", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	launcher_handles = MemoryContextAllocZero(launcher_cxt,
											  sizeof(BackgroundWorkerHandle *) *
											  worker_slot_count());
	launcher_adopt_slots(GetCurrentTimestamp());

	loop_cxt = AllocSetContextCreate(TopMemoryContext,
									 "pg_topics launcher loop",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContext old = MemoryContextSwitchTo(loop_cxt);
		TimestampTz now = GetCurrentTimestamp();
		bool		rescan;
		long		wait_ms;

		pgstat_report_activity(STATE_RUNNING, "scheduling pg_topics workers");
		rescan = launcher_read_notices(now);
		launcher_collect_slots(now);
		if (worker_rescan_requested() || rescan || now >= launcher_next_scan)
			launcher_scan_databases(now);
		MemoryContextSwitchTo(loop_cxt);
		launcher_stop_unwanted();
		wait_ms = launcher_schedule(now);
		pgstat_report_activity(STATE_IDLE, NULL);

		MemoryContextSwitchTo(old);
		MemoryContextReset(loop_cxt);
		worker_nap(Min(wait_ms, LAUNCHER_NAPTIME_MS));
	}
}

/*
 * launcher_extension_created_here tells whether the current transaction
 * created extension pg_topics (its pg_extension row is ours).
 */
static bool
launcher_extension_created_here(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		result = false;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("pg_topics"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		result = TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

/*
 * launcher_xact_reset lifts this backend's block and forgets what its
 * transaction was to tell.
 */
static void
launcher_xact_reset(void)
{
	if (xact_blocked)
		worker_unblock();
	xact_blocked = false;
	xact_extension_changed = false;
	xact_has_extension = false;
	xact_rescan = false;
	xact_dropped_db = InvalidOid;
}

/*
 * launcher_xact_callback tells the launcher, once the transaction has
 * committed and its effects are visible to everyone, what it changed.
 */
static void
launcher_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			/* what commits, whatever subtransactions rolled back */
			if (xact_extension_changed)
				xact_has_extension =
					OidIsValid(get_extension_oid("pg_topics", true));
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (xact_extension_changed && launcher_extension_created_here())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has created extension \"pg_topics\""),
						 errdetail("The pg_topics launcher learns of the extension when the transaction that creates it commits.")));
			if (xact_extension_changed &&
				!OidIsValid(get_extension_oid("pg_topics", true)))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has dropped extension \"pg_topics\""),
						 errdetail("The shared memory of the extension's topics is released when the transaction that drops it commits.")));
			break;
		case XACT_EVENT_COMMIT:
			if (xact_extension_changed)
				worker_notice_post(MyDatabaseId, xact_has_extension);
			/* the members of the extension's groups went with it */
			if (xact_extension_changed && !xact_has_extension)
				heartbeat_forget_database(MyDatabaseId);
			if (OidIsValid(xact_dropped_db))
				launcher_forget_database(xact_dropped_db);

			/* before the block goes, so that no worker starts there */
			if (xact_rescan)
				worker_request_rescan();
			launcher_xact_reset();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			launcher_xact_reset();
			break;
		default:
			break;
	}
}

/*
 * launcher_backend_exit lifts this backend's block should it exit outside
 * a transaction's end.
 */
static void
launcher_backend_exit(int code, Datum arg)
{
	if (xact_blocked)
		worker_unblock();
	xact_blocked = false;
}

/*
 * launcher_track_xact makes sure this backend tells the launcher what its
 * transactions change.
 */
static void
launcher_track_xact(void)
{
	if (xact_callback_registered)
		return;
	RegisterXactCallback(launcher_xact_callback, NULL);
	before_shmem_exit(launcher_backend_exit, (Datum) 0);
	xact_callback_registered = true;
}

/*
 * launcher_stop_worker blocks a database for the rest of the transaction
 * and stops its worker, waiting until it has exited (at most
 * WORKER_STOP_TIMEOUT_MS; the command then fails as it would have).
 */
static void
launcher_stop_worker(const char *dbname)
{
	Oid			dbid = get_database_oid(dbname, true);
	TimestampTz deadline;

	if (!OidIsValid(dbid))
		return;
	launcher_track_xact();
	worker_block_database(dbid);
	xact_blocked = true;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   WORKER_STOP_TIMEOUT_MS);
	while ((worker_database_stop(dbid) | segment_maker_stop(dbid)) &&
		   GetCurrentTimestamp() < deadline)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * launcher_utility_before stops the worker of a database that a command is
 * about to drop, rename, move or copy, since those need the database to
 * themselves, and notes the commands that change pg_database.
 */
void
launcher_utility_before(Node *parsetree)
{
	ListCell   *lc;

	if (!pg_topics_loaded())
		return;

	switch (nodeTag(parsetree))
	{
		case T_DropdbStmt:
			{
				const char *name = ((DropdbStmt *) parsetree)->dbname;

				launcher_track_xact();
				launcher_stop_worker(name);

				/*
				 * DROP DATABASE runs in a transaction of its own, so if it
				 * commits, the database is gone.
				 */
				xact_dropped_db = get_database_oid(name, true);
				xact_rescan = true;
				break;
			}
		case T_RenameStmt:
			if (((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
			{
				launcher_track_xact();
				launcher_stop_worker(((RenameStmt *) parsetree)->subname);
				xact_rescan = true;
			}
			break;
		case T_AlterDatabaseStmt:
			/* ALLOW_CONNECTIONS and IS_TEMPLATE decide where workers go */
			launcher_track_xact();
			xact_rescan = true;
			foreach(lc, ((AlterDatabaseStmt *) parsetree)->options)
			{
				DefElem    *opt = lfirst(lc);

				if (strcmp(opt->defname, "tablespace") == 0)
					launcher_stop_worker(((AlterDatabaseStmt *) parsetree)->dbname);
			}
			break;
		case T_CreatedbStmt:
			launcher_track_xact();
			xact_rescan = true;
			foreach(lc, ((CreatedbStmt *) parsetree)->options)
			{
				DefElem    *opt = lfirst(lc);

				if (strcmp(opt->defname, "template") == 0)
					launcher_stop_worker(defGetString(opt));
			}
			break;
		default:
			break;
	}
}

/*
 * launcher_utility_after notes, once a command succeeded, that it may have
 * created or dropped the extension; the launcher is told at commit.
 */
void
launcher_utility_after(Node *parsetree)
{
	if (!pg_topics_loaded())
		return;

	if (IsA(parsetree, CreateExtensionStmt) ||
		IsA(parsetree, DropOwnedStmt) ||
		(IsA(parsetree, DropStmt) &&
		 (((DropStmt *) parsetree)->removeType == OBJECT_EXTENSION ||
		  ((DropStmt *) parsetree)->removeType == OBJECT_SCHEMA)))
	{
		launcher_track_xact();
		xact_extension_changed = true;
	}
}
