/*-------------------------------------------------------------------------
 *
 * pg_topics.c
 *	  Loading pg_topics: _PG_init and the hooks it registers, nothing else.
 *
 * The library must be listed in shared_preload_libraries (see preload.c).
 * Each part registers what it needs here, while the postmaster loads the
 * library, so that every backend inherits it: shared memory (shmem.c),
 * transaction callbacks (log/partition.c, groups/positions.c,
 * position_commit.c, queue/delivery.c, taking_loop.c), the utility hook
 * (utility.c), the planner hook that streams topics.fetch
 * (log/fetch_scan.c), the executor hook that orders capture's events
 * (capture/capture_order.c) and the launcher (workers/launcher.c).  No file calls back into this one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "tcop/utility.h"

#include "capture/capture.h"
#include "groups/positions.h"
#include "guc.h"
#include "log/fetch.h"
#include "log/partition.h"
#include "position_commit.h"
#include "queue/delivery.h"
#include "queue/delivery_query.h"
#include "queue/queue_topic.h"
#include "shmem.h"
#include "taking_loop.h"
#include "utility.h"
#include "workers/launcher.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;

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

static void
pgt_process_utility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	pg_topics_utility_before(pstmt);
	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context,
								  params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
	pg_topics_utility_after(pstmt);
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

	position_commit_init();
	partition_init();
	capture_order_init();
	delivery_init();
	delivery_query_init();
	queue_topic_init();
	positions_init();
	fetch_scan_init();
	/* last: its check at commit runs before the writes of the others */
	taking_loop_init();
	launcher_register();
}
