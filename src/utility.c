/*-------------------------------------------------------------------------
 *
 * utility.c
 *	  What pg_topics does around utility commands (ProcessUtility_hook).
 *
 * Before a command: the guard refuses DDL on the tables of topics_data
 * (log/topic_tables.c), and the launcher stops the worker of a database
 * that the command needs to itself.  After it: COMMIT PREPARED and
 * ROLLBACK PREPARED wake the readers that the prepared transaction held
 * back, and give back the queue messages it held; a dropped extension takes its partitions' shared state with it at
 * commit, and schema topics too, which CREATE EXTENSION made for it, when
 * nothing else is left in it; and the launcher hears of commands that
 * concern its workers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_namespace.h"
#include "commands/extension.h"
#include "tcop/utility.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "log/partition.h"
#include "log/topic_tables.h"
#include "pg_topics.h"
#include "preload.h"
#include "queue/delivery.h"
#include "utility.h"
#include "workers/launcher.h"

/* Whether this database had pg_topics before the current DROP command. */
static bool had_extension = false;

/*
 * drops_extension tells whether a command may drop the extension: DROP
 * EXTENSION, DROP SCHEMA ... CASCADE, DROP OWNED.
 */
static bool
drops_extension(Node *parsetree)
{
	return IsA(parsetree, DropStmt) || IsA(parsetree, DropOwnedStmt);
}

/*
 * namespace_is_empty tells whether nothing depends on a schema any more.
 */
static bool
namespace_is_empty(Oid nspid)
{
	Relation	depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyData keys[2];
	SysScanDesc scan;
	bool		empty;

	ScanKeyInit(&keys[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(NamespaceRelationId));
	ScanKeyInit(&keys[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(nspid));
	scan = systable_beginscan(depend, DependReferenceIndexId, true, NULL,
							  2, keys);
	empty = !HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(depend, AccessShareLock);
	return empty;
}

/*
 * extension_dropped releases what the extension leaves behind once it is
 * gone: its partitions' shared state (at commit) and schema topics, when
 * empty.
 */
static void
extension_dropped(void)
{
	Oid			nspid = get_namespace_oid(TOPICS_SCHEMA, true);

	partition_forget_database_at_commit();
	if (OidIsValid(nspid) && namespace_is_empty(nspid))
	{
		ObjectAddress schema;

		ObjectAddressSet(schema, NamespaceRelationId, nspid);
		performDeletion(&schema, DROP_RESTRICT, 0);
	}
}

/*
 * pg_topics_utility_before runs before a utility command.
 */
void
pg_topics_utility_before(PlannedStmt *pstmt)
{
	Node	   *parsetree = pstmt->utilityStmt;

	topic_tables_guard(parsetree);
	if (drops_extension(parsetree))
		had_extension = OidIsValid(get_extension_oid("pg_topics", true));
	launcher_utility_before(parsetree);
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
		{
			partition_wake_prepared();
			delivery_prepared_ended();
		}
	}
	if (drops_extension(parsetree) && had_extension &&
		!OidIsValid(get_extension_oid("pg_topics", true)))
		extension_dropped();
	launcher_utility_after(parsetree);
}
