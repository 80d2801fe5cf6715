/*-------------------------------------------------------------------------
 *
 * segment_maker.c
 *	  The background worker that adds segments to the partitions of one
 *	  database, each in a short transaction of its own, the queue of
 *	  requests through which producers ask it to, and their wait.
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
 * maker, which the next producer that finds none starts.  A request whose
 * producer gave up (its deadline, pg_topics.segment_create_timeout after
 * it asked, passed) may be dropped from the queue to make room.
 *
 * One request must not hold up the others: the maker serves a request one
 * transaction (at most 64 segments or partitions) at a time, then puts it
 * back at the end of the queue if it needs more, and waits for a lock
 * (another session's on the partition, a drop_topic queued on the root)
 * at most MAKER_LOCK_SLICE_MS at a time before it turns to the next
 * request.
 *
 * A database runs up to pg_topics.makers_per_database makers, which take
 * requests from the queue side by side: a second one starts when requests
 * wait that no idle maker of the database could take.  Making the tables
 * of a wide topic is the work that needs them: the partitions to make are
 * asked for in as many ranges (queue_partitions), which the makers make in
 * parallel.
 *
 * Makers must not take the background worker slots that other databases'
 * makers, the maintenance workers and parallel queries need: at most
 * makers_allowed() run at once, and a maker with nothing to do exits at
 * once, rather than after MAKER_LINGER_MS, when a producer of another
 * database could not start one; so does a busy maker between two
 * transactions, unless it is its database's last.
 *
 * Commands that need a database to themselves (DROP DATABASE) stop its
 * maker as they stop its maintenance worker (launcher.c), and drop its
 * queued requests.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bgworker.h"
#include "guc.h"
#include "log/segment.h"
#include "log/segment_maker.h"
#include "log/topic_admin.h"

/* Requests the queue holds, for every database together. */
#define MAKER_REQUESTS		64

/* Makers running at once, in all databases. */
#define MAKERS				16

/* How long a maker with nothing to do stays. */
#define MAKER_LINGER_MS		2000

/* How often a producer that waits looks whether its maker is still there. */
#define MAKER_CHECK_MS		100

/* A maker not running this long after it was started never will. */
#define MAKER_START_MS		10000

/* How long a maker waits for a lock before it serves another request. */
#define MAKER_LOCK_SLICE_MS	100

/* How long a request whose lock was busy waits before it is tried again. */
#define MAKER_RETRY_MS		20

/* A maker exits at once when idle if a maker was wanted this recently. */
#define MAKER_WANTED_MS		1000

typedef enum RequestState
{
	REQUEST_FREE,
	REQUEST_QUEUED,
	REQUEST_TAKEN,				/* a maker works on it */
	REQUEST_DONE,
	REQUEST_FAILED,
	REQUEST_EXPIRED				/* a lock stayed busy until its deadline */
} RequestState;

typedef struct MakerRequest
{
	RequestState state;
	uint64		ticket;			/* tells a reused slot from the one asked for */
	uint64		turn;			/* place in the queue: served lowest first */
	TimestampTz not_before;		/* not tried again before (its lock was busy) */
	TimestampTz deadline;		/* its producer gives up then */
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
	uint64		next_turn;
	TimestampTz wanted;			/* when a producer last could not start one */
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
 * find_maker returns a maker slot of a database (InvalidOid: a free one),
 * or -1.  Caller holds the mutex.
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
 * count_makers returns how many makers a database has, running or
 * starting (InvalidOid: in all databases).  Caller holds the mutex.
 */
static int
count_makers(Oid dbid)
{
	int			n = 0;
	int			i;

	for (i = 0; i < MAKERS; i++)
		if (OidIsValid(dbid) ? Shared->makers[i].dbid == dbid :
			OidIsValid(Shared->makers[i].dbid))
			n++;
	return n;
}

/*
 * running_makers sets latches to those of this database's makers that run
 * (a maker sets its latch as it starts), but for slot except, and returns
 * how many.  Caller holds the mutex.
 */
static int
running_makers(Latch **latches, int except)
{
	int			n = 0;
	int			i;

	for (i = 0; i < MAKERS; i++)
		if (i != except && Shared->makers[i].dbid == MyDatabaseId &&
			Shared->makers[i].latch)
			latches[n++] = Shared->makers[i].latch;
	return n;
}

/*
 * count_requests returns how many requests of a database are in state.
 * Caller holds the mutex.
 */
static int
count_requests(Oid dbid, RequestState state)
{
	int			n = 0;
	int			i;

	for (i = 0; i < MAKER_REQUESTS; i++)
		if (Shared->requests[i].state == state &&
			Shared->requests[i].req.dbid == dbid)
			n++;
	return n;
}

/*
 * makers_allowed returns how many makers may run at once: half of the
 * background worker slots that the maintenance workers leave.
 */
static int
makers_allowed(void)
{
	return Min(MAKERS, Max(1, (max_worker_processes - pg_topics_max_workers) / 2));
}

/*
 * start_maker makes sure a maker of this database runs, and wakes its
 * makers: starts one when none runs or is starting, or when requests
 * wait that its idle makers cannot all take and it may run another.
 * Returns false when none runs and none could start (too many makers run,
 * or no background worker slot is free), and then asks the idle makers of
 * other databases to exit.
 */
static bool
start_maker(void)
{
	BackgroundWorker worker;
	char		name[BGW_MAXLEN];
	TimestampTz now = GetCurrentTimestamp();
	Latch	   *latches[MAKERS];
	int			nlatches;
	int			slot = -1;
	int			mine;
	int			i;

	SpinLockAcquire(&Shared->mutex);
	mine = count_makers(MyDatabaseId);
	nlatches = running_makers(latches, -1);
	if (mine == 0 ||
		(mine < pg_topics_makers_per_database &&
		 count_requests(MyDatabaseId, REQUEST_QUEUED) >
		 mine - count_requests(MyDatabaseId, REQUEST_TAKEN)))
	{
		if (count_makers(InvalidOid) < makers_allowed())
			slot = find_maker(InvalidOid);
		if (slot >= 0)
		{
			Shared->makers[slot].dbid = MyDatabaseId;
			Shared->makers[slot].pid = 0;
			Shared->makers[slot].latch = NULL;
			Shared->makers[slot].claimed = now;
		}
		else if (mine == 0)
			Shared->wanted = now;
	}
	SpinLockRelease(&Shared->mutex);
	for (i = 0; i < nlatches; i++)
		SetLatch(latches[i]);
	if (slot < 0)
		return mine > 0;

	snprintf(name, sizeof(name), "pg_topics segment maker %u", MyDatabaseId);
	pg_topics_database_worker(&worker, "pg_topics_segment_maker_main",
							  "pg_topics segment", name);
	worker.bgw_main_arg = Int32GetDatum(slot);
	memcpy(worker.bgw_extra, &MyDatabaseId, sizeof(Oid));
	if (RegisterDynamicBackgroundWorker(&worker, NULL))
		return true;

	SpinLockAcquire(&Shared->mutex);
	Shared->makers[slot].dbid = InvalidOid;
	if (mine == 0)
		Shared->wanted = now;
	SpinLockRelease(&Shared->mutex);
	return mine > 0;
}

/*
 * maker_gone tells whether the makers of this database are gone, or never
 * came: their slots are free, or were claimed MAKER_START_MS ago by makers
 * that never ran (those slots are then freed).
 */
static bool
maker_gone(void)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		gone = true;
	int			i;

	SpinLockAcquire(&Shared->mutex);
	for (i = 0; i < MAKERS; i++)
	{
		Maker	   *m = &Shared->makers[i];

		if (m->dbid != MyDatabaseId)
			continue;
		if (m->pid == 0 &&
			TimestampDifferenceExceeds(m->claimed, now, MAKER_START_MS))
			m->dbid = InvalidOid;
		else
			gone = false;
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
 * starts the maker if none runs.  With wait, it returns once a maker has
 * served the request (or failed to: the caller then finds no new
 * segment), or when timeout_ms pass first.
 *
 * A request that is over stays in its slot until the slot is needed: a
 * producer that waits for it finds it there, or finds the slot reused,
 * and either way knows that it is over, and a producer that stops waiting
 * (a cancel, or FATAL) leaves nothing behind to clean up.
 */
static MakerOutcome
segment_maker_request(const SegmentRequest *req, bool wait, int timeout_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz deadline = TimestampTzPlusMilliseconds(now, timeout_ms);
	int			i;
	int			mine = -1;
	bool		shared;
	uint64		ticket = 0;

	SpinLockAcquire(&Shared->mutex);
	for (i = 0; i < MAKER_REQUESTS && mine < 0; i++)
	{
		MakerRequest *r = &Shared->requests[i];

		if ((r->state == REQUEST_QUEUED || r->state == REQUEST_TAKEN) &&
			r->req.work == req->work &&
			r->req.dbid == req->dbid && r->req.partition == req->partition &&
			r->req.target >= req->target &&
			r->req.lo == req->lo && r->req.to == req->to &&
			strcmp(r->req.topic, req->topic) == 0)
			mine = i;
	}
	shared = mine >= 0;
	for (i = 0; i < MAKER_REQUESTS && mine < 0; i++)
		if (Shared->requests[i].state == REQUEST_FREE)
			mine = i;
	for (i = 0; i < MAKER_REQUESTS && mine < 0; i++)
		if (Shared->requests[i].state == REQUEST_DONE ||
			Shared->requests[i].state == REQUEST_FAILED ||
			Shared->requests[i].state == REQUEST_EXPIRED)
			mine = i;
	/* a request nobody waits for any more makes room */
	for (i = 0; i < MAKER_REQUESTS && mine < 0; i++)
		if (Shared->requests[i].state == REQUEST_QUEUED &&
			Shared->requests[i].deadline < now)
			mine = i;
	if (mine >= 0 && !shared)
	{
		MakerRequest *r = &Shared->requests[mine];

		r->state = REQUEST_QUEUED;
		r->ticket = Shared->next_ticket++;
		r->turn = Shared->next_turn++;
		r->not_before = 0;
		r->deadline = deadline;
		r->taker = 0;
		r->req = *req;
	}
	if (mine >= 0)
	{
		ticket = Shared->requests[mine].ticket;
		Shared->requests[mine].deadline = Max(Shared->requests[mine].deadline,
											  deadline);
	}
	SpinLockRelease(&Shared->mutex);
	if (mine < 0 || !start_maker())
		return MAKER_UNAVAILABLE;
	if (!wait)
		return MAKER_ASKED;

	for (;;)
	{
		bool		over;
		bool		expired;
		int			rc;

		/* the maker's broadcast sets our latch; we wait on it ourselves */
		ConditionVariablePrepareToSleep(&Shared->done);
		SpinLockAcquire(&Shared->mutex);
		over = request_over(mine, ticket);
		expired = Shared->requests[mine].ticket == ticket &&
			Shared->requests[mine].state == REQUEST_EXPIRED;
		SpinLockRelease(&Shared->mutex);
		if (expired || (!over && GetCurrentTimestamp() >= deadline))
		{
			ConditionVariableCancelSleep();
			return MAKER_TIMED_OUT;
		}
		if (over)
			break;

		/* a maker that exited leaves queued requests to the next one */
		if (maker_gone())
			(void) start_maker();
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
	return MAKER_ASKED;
}

/*
 * segment_maker_stop asks the makers of a database to exit, drops the
 * database's queued requests (the command that calls this needs the
 * database to itself: no producer is there to wait for them), and tells
 * whether a maker is still there.
 */
bool
segment_maker_stop(Oid dbid)
{
	pid_t		pids[MAKERS];
	int			npids = 0;
	bool		there;
	int			i;

	SpinLockAcquire(&Shared->mutex);
	there = count_makers(dbid) > 0;
	for (i = 0; i < MAKERS; i++)
		if (Shared->makers[i].dbid == dbid && Shared->makers[i].pid != 0)
			pids[npids++] = Shared->makers[i].pid;
	for (i = 0; i < MAKER_REQUESTS; i++)
		if (Shared->requests[i].state == REQUEST_QUEUED &&
			Shared->requests[i].req.dbid == dbid)
			Shared->requests[i].state = REQUEST_FREE;
	SpinLockRelease(&Shared->mutex);
	for (i = 0; i < npids; i++)
		(void) kill(pids[i], SIGTERM);
	return there;
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
 * take_request takes the queued request of this database that is first in
 * turn and not resting after a busy lock, into req, and returns its slot;
 * or returns -1, and sets *rest_ms to how long the next resting one
 * rests (-1: none queued).  With none queued at all, and exit, it frees
 * this maker's slot while it holds the mutex, so that no producer queues
 * a request that nobody would serve.
 */
static int
take_request(SegmentRequest *req, bool exit, long *rest_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz soonest = 0;
	int			first = -1;
	int			i;

	SpinLockAcquire(&Shared->mutex);
	for (i = 0; i < MAKER_REQUESTS; i++)
	{
		MakerRequest *r = &Shared->requests[i];

		if (r->state != REQUEST_QUEUED || r->req.dbid != MyDatabaseId)
			continue;
		if (r->not_before > now)
		{
			if (soonest == 0 || r->not_before < soonest)
				soonest = r->not_before;
			continue;
		}
		if (first < 0 || r->turn < Shared->requests[first].turn)
			first = i;
	}
	if (first >= 0)
	{
		Shared->requests[first].state = REQUEST_TAKEN;
		Shared->requests[first].taker = MyProcPid;
		*req = Shared->requests[first].req;
	}
	else if (soonest == 0 && exit)
		free_maker_slot();
	SpinLockRelease(&Shared->mutex);
	*rest_ms = soonest == 0 ? -1 :
		Max(1, TimestampDifferenceMilliseconds(now, soonest));
	return first;
}

/*
 * requeue puts request i back at the end of the queue, to be tried again
 * after rest_ms, with the partitions below from made, unless its producer
 * gave up meanwhile; returns false then.
 */
static bool
requeue(int i, long rest_ms, int from)
{
	TimestampTz now = GetCurrentTimestamp();
	MakerRequest *r = &Shared->requests[i];
	bool		queued;

	SpinLockAcquire(&Shared->mutex);
	queued = r->deadline > now;
	if (queued)
	{
		r->state = REQUEST_QUEUED;
		r->turn = Shared->next_turn++;
		r->not_before = TimestampTzPlusMilliseconds(now, rest_ms);
		r->taker = 0;
		r->req.from = from;
	}
	SpinLockRelease(&Shared->mutex);
	return queued;
}

/*
 * serve runs one transaction of request i (see segment_extend): records
 * that it is done or failed, or puts it back at the end of the queue when
 * it needs more segments, or when a lock it needs stayed busy for
 * MAKER_LOCK_SLICE_MS (then it rests MAKER_RETRY_MS), so that one request
 * never holds up the others for long.
 */
static void
serve(int i, SegmentRequest *req)
{
	MemoryContext cxt = CurrentMemoryContext;
	RequestState outcome = REQUEST_DONE;
	long		rest_ms = -1;
	bool		done = true;
	int			from = req->from;

	pgstat_report_activity(STATE_RUNNING,
						   req->work == MAKE_SEGMENTS ? "adding segments" :
						   req->work == MAKE_PARTITIONS ? "making partitions" :
						   "dropping the tables of a dropped topic");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		if (req->work == MAKE_SEGMENTS)
			done = segment_extend(req);
		else if (req->work == MAKE_PARTITIONS && req->partition >= 0)
			topic_make_partition(req->topic, req->partition);
		else if (req->work == MAKE_PARTITIONS)
			done = topic_make_partitions(req->topic, &from, req->to,
										 topic_partitions_per_transaction());
		else
			done = topic_drop_tables(req->topic);
		PopActiveSnapshot();
		CommitTransactionCommand();
		if (!done)
			rest_ms = 0;
		req->from = from;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		outcome = REQUEST_FAILED;
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
		{
			rest_ms = MAKER_RETRY_MS;
			outcome = REQUEST_EXPIRED;
		}
		else
		{
			/* the producer says to look here */
			edata->elevel = LOG;
			ThrowErrorData(edata);
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);

	if (rest_ms >= 0 && requeue(i, rest_ms, req->from))
		return;
	SpinLockAcquire(&Shared->mutex);
	Shared->requests[i].state = outcome;
	SpinLockRelease(&Shared->mutex);
	ConditionVariableBroadcast(&Shared->done);
}

/*
 * wanted_lately tells whether a producer of another database could not
 * start a maker a moment before now.  Caller holds the mutex.
 */
static bool
wanted_lately(TimestampTz now)
{
	return Shared->wanted != 0 &&
		!TimestampDifferenceExceeds(Shared->wanted, now, MAKER_WANTED_MS);
}

/*
 * maker_yields frees this maker's slot and returns true when this database
 * has another maker running, which takes on this one's requests, and
 * either a producer of another database could not start a maker a moment
 * ago or the database runs more makers than pg_topics.makers_per_database
 * now allows (it was lowered).  Only makers that run count: one claimed
 * but not started may never start.  Under the mutex, so that of two makers
 * told to go by a lower setting, only one goes; the ones that stay are
 * woken, as this one's request may just have gone back to the queue.
 */
static bool
maker_yields(void)
{
	TimestampTz now = GetCurrentTimestamp();
	Latch	   *latches[MAKERS];
	int			others;
	bool		yields;
	int			i;

	SpinLockAcquire(&Shared->mutex);
	others = running_makers(latches, my_maker);
	yields = others > 0 &&
		(wanted_lately(now) || others + 1 > pg_topics_makers_per_database);
	if (yields)
		free_maker_slot();
	SpinLockRelease(&Shared->mutex);
	if (yields)
		for (i = 0; i < others; i++)
			SetLatch(latches[i]);
	return yields;
}

/*
 * maker_wanted tells whether a producer of another database could not
 * start a maker a moment ago.
 */
static bool
maker_wanted(void)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		wanted;

	SpinLockAcquire(&Shared->mutex);
	wanted = wanted_lately(now);
	SpinLockRelease(&Shared->mutex);
	return wanted;
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
	/* a lower pg_topics.makers_per_database sends the extra makers away */
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	/*
	 * A producer connected before its database stopped taking connections
	 * still needs its segments.
	 */
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid,
											  BGWORKER_BYPASS_ALLOWCONN);

	/* a lock that stays busy makes the maker turn to other requests */
	snprintf(timeout, sizeof(timeout), "%d", MAKER_LOCK_SLICE_MS);
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
		long		rest_ms;
		bool		exit;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		idle_ms = TimestampDifferenceMilliseconds(idle_since,
												  GetCurrentTimestamp());
		exit = idle_ms >= MAKER_LINGER_MS || maker_wanted();
		i = take_request(&req, exit, &rest_ms);
		if (i >= 0)
		{
			old = MemoryContextSwitchTo(cxt);
			serve(i, &req);
			MemoryContextSwitchTo(old);
			MemoryContextReset(cxt);
			idle_since = GetCurrentTimestamp();
			if (maker_yields())
				break;
			continue;
		}
		if (exit && rest_ms < 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 rest_ms >= 0 ? rest_ms : MAKER_LINGER_MS - idle_ms,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}

/*
 * segment_request asks the segment maker of this database to extend the
 * chain of a partition until it covers offset target.  With wait_ms above
 * 0, it returns once the maker has served the request (the caller then
 * reloads the topic), or wait_ms passed; with 0, at once (the request
 * stays pg_topics.segment_create_timeout in the queue at most).
 */
MakerOutcome
segment_request(Topic *topic, int partition, int64 target, int wait_ms)
{
	SegmentRequest req;

	memset(&req, 0, sizeof(req));
	req.work = topic_partition_pending(topic, partition) ?
		MAKE_PARTITIONS : MAKE_SEGMENTS;
	req.dbid = MyDatabaseId;
	strlcpy(req.topic, topic->name, NAMEDATALEN);
	req.partition = partition;
	req.target = target;
	req.log_end = req.resume = -1;
	if (req.work == MAKE_SEGMENTS && topic->partitions[partition].state != NULL)
	{
		/* the maker need not load the topic to learn them */
		req.log_end = partition_log_end(topic->partitions[partition].state);
		req.resume = partition_resume_offset(topic->partitions[partition].state);
	}
	return segment_maker_request(&req, wait_ms > 0,
								 wait_ms > 0 ? wait_ms : pg_topics_segment_create_timeout);
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
	MakerOutcome outcome;

	strlcpy(name, (*topicp)->name, NAMEDATALEN);
	for (;;)
	{
		/* another producer's worker may have added it already */
		*topicp = topic_reload(*topicp, partition);
		seg = topic_find_segment(*topicp, partition, offset);
		if (seg != NULL)
			return seg;

		if (topic_partition_created_here(*topicp, partition))
		{
			if (topic_partition_pending(*topicp, partition))
				topic_make_partition_here(name, partition);
			else
				segment_extend_here(*topicp, partition, target);
			continue;
		}
		outcome = segment_request(*topicp, partition, target,
								  Max(1, TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
																		 deadline)));
		if (outcome == MAKER_TIMED_OUT)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("no segment was added to partition %d of topic \"%s\" within %d ms",
							partition, name, pg_topics_segment_create_timeout),
					 errdetail("The database's segment maker is busy, or waits for a lock on the partition's table."),
					 errhint("See pg_stat_activity for what the maker (backend type \"pg_topics segment\") waits for, or raise \"pg_topics.segment_create_timeout\".")));
		if (outcome == MAKER_ASKED)
		{
			*topicp = topic_reload(*topicp, partition);
			seg = topic_find_segment(*topicp, partition, offset);
			if (seg == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("no segment of topic \"%s\" holds offset %lld of partition %d",
								name, (long long) offset, partition),
						 errdetail("The database's segment maker did not add one."),
						 errhint("See the server log for the maker's error.")));
			return seg;
		}

		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not start a worker to add a segment to topic \"%s\"",
							name),
					 errdetail("Partition %d needs a new segment table, which the database's segment maker (a background worker) creates, and none could start for %d ms: no background worker slot was free, or the makers of other databases held the slots they may have (half of what \"max_worker_processes\" leaves beyond \"pg_topics.max_workers\"), or the makers' queue was full.",
							   partition, pg_topics_segment_create_timeout),
					 errhint("Increase \"max_worker_processes\" and restart the server.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 MAKER_CHECK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * ask names the work of one request that segment_maker_ask queues when the
 * transaction commits.
 */
typedef struct MakerAsk
{
	MakerWork	work;
	char		name[NAMEDATALEN];
	int			partitions;		/* MAKE_PARTITIONS: the topic's, at commit */
} MakerAsk;

static List *asks_at_commit = NIL;	/* of MakerAsk, in TopTransactionContext */
static bool ask_callback_registered = false;

/*
 * queue_work queues work on a topic for the makers of this database, the
 * partitions of [from, to) to make, without waiting (or up to timeout_ms);
 * returns false when the queue was full or no maker could start (the
 * database worker asks again in its next round).
 */
static bool
queue_work(MakerWork work, const char *name, int from, int to, int timeout_ms)
{
	SegmentRequest req;

	memset(&req, 0, sizeof(req));
	req.work = work;
	req.dbid = MyDatabaseId;
	strlcpy(req.topic, name, NAMEDATALEN);
	req.partition = -1;
	req.target = 0;
	req.log_end = req.resume = -1;
	req.lo = req.from = from;
	req.to = to;
	return segment_maker_request(&req, timeout_ms > 0,
								 timeout_ms > 0 ? timeout_ms :
								 pg_topics_segment_create_timeout) == MAKER_ASKED;
}

/*
 * queue_partitions asks the makers of this database to make the partitions
 * of a topic of that many that are not made yet, in as many ranges of
 * whole groups as the database may run makers.  The ranges are the same
 * whoever asks, so that a range asked for twice is queued once.
 */
static void
queue_partitions(const char *name, int partitions)
{
	int			width = topic_make_range_width(partitions,
											   pg_topics_makers_per_database);
	int			from;

	for (from = 0; from < partitions; from += width)
		if (!queue_work(MAKE_PARTITIONS, name, from,
						Min(partitions, from + width), 0))
			break;
}

/*
 * ask_at_commit queues the work asked for in the transaction, once it
 * committed: before, the maker could not see what it is to work on.
 */
static void
ask_at_commit(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (event == XACT_EVENT_COMMIT)
	{
		foreach(lc, asks_at_commit)
		{
			MakerAsk   *ask = lfirst(lc);

			if (ask->work == MAKE_PARTITIONS)
				queue_partitions(ask->name, ask->partitions);
			else
				(void) queue_work(ask->work, ask->name, 0, 0, 0);
		}
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
		asks_at_commit = NIL;
}

/*
 * segment_maker_ask_at_commit asks the makers of this database, once the
 * transaction commits, to make the partitions of topic name (which then
 * has that many) that are not made yet (MAKE_PARTITIONS), or to drop the
 * tables of a dropped topic whose root is now called name (DROP_TABLES).
 * A transaction that is prepared asks nothing: the database worker asks
 * in its next round.
 */
void
segment_maker_ask_at_commit(MakerWork work, const char *name, int partitions)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	MakerAsk   *ask = palloc(sizeof(MakerAsk));

	if (!ask_callback_registered)
	{
		RegisterXactCallback(ask_at_commit, NULL);
		ask_callback_registered = true;
	}
	ask->work = work;
	strlcpy(ask->name, name, NAMEDATALEN);
	ask->partitions = partitions;
	asks_at_commit = lappend(asks_at_commit, ask);
	MemoryContextSwitchTo(old);
}

/*
 * segment_maker_finish asks the makers of this database to finish the work
 * that commands left to it and that no request in the queue stands for
 * (its queue was full, the server restarted, or the transaction was
 * prepared): the partitions not made yet of the topics this backend has
 * cached, and the tables of dropped topics.  The database worker calls it
 * in each round, after topic_maintain cached every topic.
 */
void
segment_maker_finish(void)
{
	List	   *counts;
	List	   *names = topic_unmade(&counts);
	ListCell   *lc;
	ListCell   *lc2;

	forboth(lc, names, lc2, counts)
		queue_partitions(lfirst(lc), lfirst_int(lc2));
	foreach(lc, topic_drops_unfinished())
		(void) queue_work(DROP_TABLES, lfirst(lc), 0, 0, 0);
}

/*
 * segment_maker_wait_dropped waits, up to pg_topics.segment_create_timeout,
 * for the maker to drop the tables of a dropped topic of that name that
 * are still there; a topic of that name cannot be created before.
 */
void
segment_maker_wait_dropped(const char *name)
{
	TimestampTz deadline =
	TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
								pg_topics_segment_create_timeout);
	char	   *dropping = topic_dropping_name(name);
	bool		here;

	while (topic_dropping(name, &here) && !here &&
		   GetCurrentTimestamp() < deadline)
	{
		if (!queue_work(DROP_TABLES, dropping, 0, 0,
						Max(1, TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
															   deadline))))
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 MAKER_CHECK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		AcceptInvalidationMessages();
	}
}
