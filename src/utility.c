/*-------------------------------------------------------------------------
 *
 * utility.c
 *	  What pg_topics does around utility commands (ProcessUtility_hook).
 *
 * After COMMIT PREPARED or ROLLBACK PREPARED it wakes the readers that the
 * prepared transaction held back, and it lets the launcher know of
 * commands that concern its workers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "tcop/utility.h"

#include "log/partition.h"
#include "utility.h"
#include "workers/launcher.h"

/*
 * pg_topics_utility_before runs before a utility command.
 */
void
pg_topics_utility_before(PlannedStmt *pstmt)
{
	launcher_utility_before(pstmt->utilityStmt);
}

/*
 * pg_topics_utility_after runs once a utility command has succeeded.
 */
void
pg_topics_utility_after(PlannedStmt *pstmt)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, TransactionStmt))
	{
		TransactionStmt *stmt = (TransactionStmt *) parsetree;

		if (stmt->kind == TRANS_STMT_COMMIT_PREPARED ||
			stmt->kind == TRANS_STMT_ROLLBACK_PREPARED)
			partition_wake_prepared();
	}
	launcher_utility_after(parsetree);
}
