/*-------------------------------------------------------------------------
 *
 * pre_commit_writer.c
 *	  A test library: at the pre-commit of every transaction it runs the
 *	  statement in pre_commit_writer.sql, if any.
 *
 * Loaded before pg_topics in shared_preload_libraries, its transaction
 * callback runs after pg_topics' at commit, as a library such as Citus
 * does that writes its own catalog there (test/t/061_position_commit.pl).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static char *statement = NULL;

static void
pre_commit_write(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_PRE_COMMIT || statement == NULL ||
		statement[0] == '\0')
		return;
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute(statement, false, 0) < 0)
		elog(ERROR, "pre_commit_writer: could not run \"%s\"", statement);
	PopActiveSnapshot();
	SPI_finish();
}

void
_PG_init(void)
{
	DefineCustomStringVariable("pre_commit_writer.sql",
							   "Statement run at the pre-commit of every transaction.",
							   NULL, &statement, "", PGC_USERSET, 0,
							   NULL, NULL, NULL);
	RegisterXactCallback(pre_commit_write, NULL);
}
