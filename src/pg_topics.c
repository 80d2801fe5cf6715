/*-------------------------------------------------------------------------
 *
 * pg_topics.c
 *	  Loading pg_topics: settings, shared memory hooks, and the check that
 *	  every SQL entry point makes before touching shared state.
 *
 * The library must be listed in shared_preload_libraries.  When it is not,
 * _PG_init still defines the settings so that CREATE EXTENSION works, and
 * every function that needs shared memory raises 55000 with a hint.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "tcop/utility.h"

#include "group.h"
#include "launcher.h"
#include "pg_topics.h"
#include "partition_state.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
pgt_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	pg_topics_shmem_request();
}

static void
pgt_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	pg_topics_shmem_startup();
}

/*
 * pgt_process_utility wakes the readers held back by a prepared transaction
 * once COMMIT PREPARED or ROLLBACK PREPARED has ended it, and lets the
 * launcher know of commands that concern its workers.
 */
static void
pgt_process_utility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	launcher_utility_before(parsetree);
	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context,
								  params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	if (IsA(parsetree, TransactionStmt))
	{
		TransactionStmt *stmt = (TransactionStmt *) parsetree;

		if (stmt->kind == TRANS_STMT_COMMIT_PREPARED ||
			stmt->kind == TRANS_STMT_ROLLBACK_PREPARED)
			partition_wake_prepared();
	}
	launcher_utility_after(parsetree);
}

void
_PG_init(void)
{
	pg_topics_define_gucs(process_shared_preload_libraries_in_progress);

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgt_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgt_shmem_startup;
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = pgt_process_utility;

	launcher_register();
}

/*
 * pg_topics_loaded tells whether the library was preloaded.
 */
bool
pg_topics_loaded(void)
{
	return pg_topics_shmem_ready();
}

/*
 * pg_topics_check_loaded raises 55000 unless the library was preloaded,
 * and makes sure this backend's transaction callbacks are installed.
 */
void
pg_topics_check_loaded(void)
{
	if (!pg_topics_shmem_ready())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_topics must be loaded via \"shared_preload_libraries\""),
				 errhint("Add pg_topics to \"shared_preload_libraries\" in postgresql.conf and restart the server.")));
	pg_topics_register_xact_callbacks();
	pg_topics_register_consume_callbacks();
}

/*
 * pg_topics_interval_ms returns an interval in milliseconds, counting a
 * month as 30 days, as interval arithmetic does.
 */
int64
pg_topics_interval_ms(Interval *span)
{
	return span->time / 1000 +
		((int64) span->day * SECS_PER_DAY +
		 (int64) span->month * DAYS_PER_MONTH * SECS_PER_DAY) * 1000;
}

/*
 * pg_topics_wait_ms returns a max_wait argument in milliseconds, raising
 * 22023 when it is negative.
 */
int64
pg_topics_wait_ms(Interval *span)
{
	int64		ms = pg_topics_interval_ms(span);

	if (ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_wait must not be negative")));
	return ms;
}

/*
 * pg_topics_check_max_messages raises 22023 for a max_messages argument
 * below 1 and 22003 for one above MAX_MESSAGES_PER_CALL; what names the
 * call ("fetch", "poll") in the detail.
 */
void
pg_topics_check_max_messages(int max, const char *what)
{
	if (max < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid max_messages %d", max),
				 errdetail("One %s returns from 1 to %d messages.", what,
						   MAX_MESSAGES_PER_CALL)));
	if (max > MAX_MESSAGES_PER_CALL)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("max_messages %d is out of range", max),
				 errdetail("One %s returns from 1 to %d messages.", what,
						   MAX_MESSAGES_PER_CALL),
				 errhint("Call again from where this call stopped to read more.")));
}
