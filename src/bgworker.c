/*-------------------------------------------------------------------------
 *
 * bgworker.c
 *	  What every background worker of pg_topics that connects to a
 *	  database is registered with.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "bgworker.h"

/*
 * pg_topics_database_worker fills worker for a dynamic background worker
 * that runs function of this library, connects to a database once recovery
 * has finished and is never restarted, with its type and name.
 */
void
pg_topics_database_worker(BackgroundWorker *worker, const char *function,
						  const char *type, const char *name)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker->bgw_library_name, "pg_topics", BGW_MAXLEN);
	strlcpy(worker->bgw_function_name, function, BGW_MAXLEN);
	strlcpy(worker->bgw_type, type, BGW_MAXLEN);
	strlcpy(worker->bgw_name, name, BGW_MAXLEN);
}
