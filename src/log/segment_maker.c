/*-------------------------------------------------------------------------
 *
 * segment_maker.c
 *	  The background worker that adds segments to the partitions of one
 *	  database, each in a short transaction of its own, and the queue of
 *	  requests through which producers ask it to.
 *
 * A worker started for each new segment spent some 50 ms starting and
 * filling its caches before its first statement, which made a producer
 * that filled segments quickly wait for each.  So a maker stays: producers
 * put requests in a queue in shared memory and set its latch, and it
 * serves them one after the other until it has been idle for
 * MAKER_LINGER_MS, then exits.  The first request of a database starts it.
 *
 * A request for a partition that the queue holds already for as far an
 * offset is not queued twice: the producer waits for the one there.  A
 * request the maker could not serve (its transaction failed; the error is
 * in the server log) is marked failed, and the producer that waits for it
 * reports that no segment was added.  A maker that exits marks failed
 * every request it had taken; requests still queued wait for the next
 * maker, which the next producer that finds none starts.
 *
 * Commands that need a database to themselves (DROP DATABASE) stop its
 * maker as they stop its maintenance worker (launcher.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "log/segment.h"
#include "log/segment_maker.h"

/* Requests the queue holds, for every database together. */
#define MAKER_REQUESTS		64

/* Makers running at once (one per database). */
#define MAKERS				16

/* How long a maker with nothing to do stays. */
#define MAKER_LINGER_MS		2000

/* How often a producer that waits looks whether its maker is still there. */
#define MAKER_CHECK_MS		100

/* A maker not running this long after it was started never will. */
#define MAKER_START_MS		10000

typedef enum RequestState
{
	REQUEST_FREE,
	REQUEST_QUEUED,
	REQUEST_TAKEN,				/* a maker works on it */
	REQUEST_DONE,
	REQUEST_FAILED
} RequestState;

typedef struct MakerRequest
{
	RequestState state;
	uint64		ticket;			/* tells a reused slot from the one asked for */
	pid_t		taker;			/* the maker that took it */
	SegmentRequest req;
} MakerRequest;

typedef struct Maker
{
	Oid			dbid;			/* InvalidOid: free */
	pid_t		pid;			/* 0 until it runs */
	Latch	   *latch;
	TimestampTz claimed;		/* when a producer started it */
} Maker;

typedef struct MakerShared
{
	slock_t		mutex;			/* protects everything but done */
	ConditionVariable done;		/* a request was served */
	uint64		next_ticket;
	Maker		makers[MAKERS];
	MakerRequest requests[MAKER_REQUESTS];
} MakerShared;

static MakerShared *Shared = NULL;

/* The maker slot of this process, when it is a maker. */
static int	my_maker = -1;

Size
segment_maker_shmem_size(void)
{
	return sizeof(MakerShared);
}

void
segment_maker_shmem_startup(void)
{
	bool		found;

	Shared = ShmemInitStruct("pg_topics segment makers", sizeof(MakerShared),
							 &found);
	if (!found)
	{
		memset(Shared, 0, sizeof(MakerShared));
		SpinLockInit(&Shared->mutex);
		ConditionVariableInit(&Shared->done);
		Shared->next_ticket = 1;
	}
}

/*
 * find_maker returns the maker slot of a database, or -1.  Caller holds
 * the mutex.
 */
static int
find_maker(Oid dbid)
{
	int			i;

	for (i = 0; i < MAKERS; i++)
		if (Shared->makers[i].dbid == dbid)
			return i;
	return -1;
}

/*
 * start_maker starts the maker of this database, unless one runs or is
 * starting; returns false when none could be (no slot of ours, or no
 * background worker slot free).
 */
static bool
start_maker(void)
{
	BackgroundWorker worker;
	TimestampTz now = GetCurrentTimestamp();
	int			slot;

	SpinLockAcquire(&Shared->mutex);
	slot = find_maker(MyDatabaseId);
	if (slot < 0)
	{
		slot = find_maker(InvalidOid);
		if (slot >= 0)
		{
			Shared->makers[slot].dbid = MyDatabaseId;
			Shared->makers[slot].pid = 0;
			Shared->makers[slot].latch = NULL;
			Shared->makers[slot].claimed = now;
		}
		SpinLockRelease(&Shared->mutex);
		if (slot < 0)
			return false;
	}
	else
	{
		Latch	   *latch = Shared->makers[slot].latch;

		SpinLockRelease(&Shared->mutex);
		if (latch)
			SetLatch(latch);
		return true;
	}

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strcpy(worker.bgw_library_name, "pg_topics");
	strcpy(worker.bgw_function_name, "pg_topics_segment_maker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_topics segment maker %u",
			 MyDatabaseId);
	strcpy(worker.bgw_type, "pg_topics segment");
	worker.bgw_main_arg = Int32GetDatum(slot);
	memcpy(worker.bgw_extra, &MyDatabaseId, sizeof(Oid));
	if (RegisterDynamicBackgroundWorker(&worker, NULL))
		return true;

	SpinLockAcquire(&Shared->mutex);
	Shared->makers[slot].dbid = InvalidOid;
	SpinLockRelease(&Shared->mutex);
	return false;
}

/*
 * maker_gone tells whether the maker of this database is gone, or never
 * came: its slot is free, or was claimed MAKER_START_MS ago by a maker that
 * never ran (the slot is then freed).
 */
static bool
maker_gone(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int			slot;
	bool		gone;

	SpinLockAcquire(&Shared->mutex);
	slot = find_maker(MyDatabaseId);
	gone = slot < 0;
	if (!gone && Shared->makers[slot].pid == 0 &&
		TimestampDifferenceExceeds(Shared->makers[slot].claimed, now,
								   MAKER_START_MS))
	{
		Shared->makers[slot].dbid = InvalidOid;
		gone = true;
	}
	SpinLockRelease(&Shared->mutex);
	return gone;
}

/*
 * request_over tells whether request slot i no longer holds the request
 * with ticket: it was served, failed, or was served and its slot reused.
 * Caller holds the mutex.
 */
static bool
request_over(int i, uint64 ticket)
{
	MakerRequest *r = &Shared->requests[i];

	return r->ticket != ticket ||
		(r->state != REQUEST_QUEUED && r->state != REQUEST_TAKEN);
}

/*
 * segment_maker_request queues req for the maker of this database and
 * starts the maker if none runs.  Returns false when the queue is full or
 * no maker could start.  With wait, it returns once a maker has served
 * the request (or failed to: the caller then finds no new segment), or
 * after timeout_ms without a maker.
 *
 * A request that is over stays in its slot until the slot is needed: a
 * producer that waits for it finds it there, or finds the slot reused,
 * and either way knows that it is over, and a producer that stops waiting
 * (a cancel, or FATAL) leaves nothing behind to clean up.
 */
bool
segment_maker_request(const SegmentRequest *req, bool wait, int timeout_ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_ms);
	int			i;
	int			mine = -1;
	bool		shared;
	uint64		ticket = 0;

	SpinLockAcquire(&Shared->mutex);
	for (i = 0; i < MAKER_REQUESTS && mine < 0; i++)
	{
		MakerRequest *r = &Shared->requests[i];

		if ((r->state == REQUEST_QUEUED || r->state == REQUEST_TAKEN) &&
			r->req.dbid == req->dbid && r->req.partition == req->partition &&
			r->req.target >= req->target &&
			strcmp(r->req.topic, req->topic) == 0)
			mine = i;
	}
	shared = mine >= 0;
	for (i = 0; i < MAKER_REQUESTS && mine < 0; i++)
		if (Shared->requests[i].state == REQUEST_FREE)
			mine = i;
	for (i = 0; i < MAKER_REQUESTS && mine < 0; i++)
		if (Shared->requests[i].state == REQUEST_DONE ||
			Shared->requests[i].state == REQUEST_FAILED)
			mine = i;
	if (mine >= 0 && !shared)
	{
		Shared->requests[mine].state = REQUEST_QUEUED;
		Shared->requests[mine].ticket = Shared->next_ticket++;
		Shared->requests[mine].taker = 0;
		Shared->requests[mine].req = *req;
	}
	if (mine >= 0)
		ticket = Shared->requests[mine].ticket;
	SpinLockRelease(&Shared->mutex);
	if (mine < 0 || !start_maker())
		return false;
	if (!wait)
		return true;

	for (;;)
	{
		bool		over;
		int			rc;

		/* the maker's broadcast sets our latch; we wait on it ourselves */
		ConditionVariablePrepareToSleep(&Shared->done);
		SpinLockAcquire(&Shared->mutex);
		over = request_over(mine, ticket);
		SpinLockRelease(&Shared->mutex);
		if (over)
			break;

		/* a maker that exited leaves queued requests to the next one */
		if (maker_gone() && !start_maker() &&
			GetCurrentTimestamp() >= deadline)
		{
			ConditionVariableCancelSleep();
			return false;
		}
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_POSTMASTER_DEATH,
					   MAKER_CHECK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (rc & WL_POSTMASTER_DEATH)
			ereport(FATAL,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("the server exited while a producer waited for a new segment of topic \"%s\"",
							req->topic)));
		CHECK_FOR_INTERRUPTS();
	}
	ConditionVariableCancelSleep();
	return true;
}

/*
 * segment_maker_stop asks the maker of a database to exit, and tells
 * whether one is still there.
 */
bool
segment_maker_stop(Oid dbid)
{
	int			slot;
	pid_t		pid = 0;

	SpinLockAcquire(&Shared->mutex);
	slot = find_maker(dbid);
	if (slot >= 0)
		pid = Shared->makers[slot].pid;
	SpinLockRelease(&Shared->mutex);
	if (pid != 0)
		(void) kill(pid, SIGTERM);
	return slot >= 0;
}

/*
 * free_maker_slot frees this maker's slot.  Caller holds the mutex.
 */
static void
free_maker_slot(void)
{
	Shared->makers[my_maker].dbid = InvalidOid;
	Shared->makers[my_maker].pid = 0;
	Shared->makers[my_maker].latch = NULL;
}

/*
 * maker_exit frees this maker's slot and fails the requests it had taken;
 * a before_shmem_exit callback, so that it runs after an error too.
 */
static void
maker_exit(int code, Datum arg)
{
	int			i;

	SpinLockAcquire(&Shared->mutex);
	if (Shared->makers[my_maker].pid == MyProcPid)
		free_maker_slot();
	for (i = 0; i < MAKER_REQUESTS; i++)
	{
		MakerRequest *r = &Shared->requests[i];

		if (r->state == REQUEST_TAKEN && r->taker == MyProcPid)
			r->state = REQUEST_FAILED;
	}
	SpinLockRelease(&Shared->mutex);
	ConditionVariableBroadcast(&Shared->done);
}

/*
 * take_request takes the first queued request of this database into req
 * and returns its slot, or -1; with none, and exit, it frees this maker's
 * slot while it holds the mutex, so that no producer queues a request
 * that nobody would serve.
 */
static int
take_request(SegmentRequest *req, bool exit)
{
	int			i;

	SpinLockAcquire(&Shared->mutex);
	for (i = 0; i < MAKER_REQUESTS; i++)
	{
		MakerRequest *r = &Shared->requests[i];

		if (r->state == REQUEST_QUEUED && r->req.dbid == MyDatabaseId)
		{
			r->state = REQUEST_TAKEN;
			r->taker = MyProcPid;
			*req = r->req;
			SpinLockRelease(&Shared->mutex);
			return i;
		}
	}
	if (exit)
		free_maker_slot();
	SpinLockRelease(&Shared->mutex);
	return -1;
}

/*
 * serve runs one request in transactions of its own (see segment_extend),
 * and records whether it succeeded.
 */
static void
serve(int i, SegmentRequest *req)
{
	MemoryContext cxt = CurrentMemoryContext;
	RequestState outcome = REQUEST_DONE;
	bool		done = false;

	pgstat_report_activity(STATE_RUNNING, "adding segments");
	while (!done && outcome == REQUEST_DONE)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		PG_TRY();
		{
			done = segment_extend(req);
			PopActiveSnapshot();
			CommitTransactionCommand();
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			outcome = REQUEST_FAILED;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
		CHECK_FOR_INTERRUPTS();
	}
	pgstat_report_activity(STATE_IDLE, NULL);

	SpinLockAcquire(&Shared->mutex);
	Shared->requests[i].state = outcome;
	SpinLockRelease(&Shared->mutex);
	ConditionVariableBroadcast(&Shared->done);
}

/*
 * pg_topics_segment_maker_main is the entry point of a maker.
 */
void
pg_topics_segment_maker_main(Datum arg)
{
	Oid			dbid;
	char		timeout[32];
	TimestampTz idle_since;
	MemoryContext cxt;

	my_maker = DatumGetInt32(arg);
	memcpy(&dbid, MyBgworkerEntry->bgw_extra, sizeof(Oid));

	SpinLockAcquire(&Shared->mutex);
	if (Shared->makers[my_maker].dbid != dbid ||
		Shared->makers[my_maker].pid != 0)
	{
		/* started too late: the slot was given up (maker_gone) */
		SpinLockRelease(&Shared->mutex);
		proc_exit(0);
	}
	Shared->makers[my_maker].pid = MyProcPid;
	Shared->makers[my_maker].latch = MyLatch;
	SpinLockRelease(&Shared->mutex);
	before_shmem_exit(maker_exit, (Datum) 0);

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);

	/* never wait longer for a lock than the producer that asked will */
	snprintf(timeout, sizeof(timeout), "%d", pg_topics_segment_create_timeout);
	SetConfigOption("lock_timeout", timeout, PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET,
					PGC_S_OVERRIDE);

	cxt = AllocSetContextCreate(TopMemoryContext, "pg_topics segment maker",
								ALLOCSET_DEFAULT_SIZES);
	idle_since = GetCurrentTimestamp();
	for (;;)
	{
		SegmentRequest req;
		int			i;
		long		idle_ms;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		idle_ms = TimestampDifferenceMilliseconds(idle_since,
												  GetCurrentTimestamp());
		i = take_request(&req, idle_ms >= MAKER_LINGER_MS);
		if (i >= 0)
		{
			old = MemoryContextSwitchTo(cxt);
			serve(i, &req);
			MemoryContextSwitchTo(old);
			MemoryContextReset(cxt);
			idle_since = GetCurrentTimestamp();
			continue;
		}
		if (idle_ms >= MAKER_LINGER_MS)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 MAKER_LINGER_MS - idle_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}
