/*-------------------------------------------------------------------------
 *
 * topic_tables.c
 *	  The tables of a topic in schema topics_data: their names, their
 *	  shape, and the guard that keeps other roles from changing them.
 *
 * Names.  A topic's root table is named after the topic; the table of
 * partition p is "<topic>$<p>" and its segment from offset b is
 * "<topic>$<p>$<b>".  Every node derives the same names from the catalog,
 * which names topics and partitions only.  '$' cannot appear in a topic
 * name, so these never clash with a root table.  When a name would be
 * longer than TABLE_NAME_MAX, the topic part is cut and followed by '~'
 * and a hash of the whole topic name ('~' cannot appear in a topic name
 * either).
 *
 * Shape.  The C code reads and writes these tables by column position.
 * Their owner is the owner of schema topics_data (see topic_admin.c), so
 * only a superuser could change them; still, every table is checked before
 * it is written or read, and a table of another shape is a clear error
 * rather than a crash.
 *
 * Work as the owner.  The tables of topics_data, and the catalog, belong
 * to the owner of schema topics_data: pg_topics creates, changes and
 * writes them as that role (as_owner_begin), for the role that called it.
 *
 * Guard.  Roles other than superusers may not run DDL on the tables of
 * topics_data: they do not own them, and the utility hook refuses with a
 * hint that names the function to use.  pg_topics's own DDL runs through
 * topic_tables_exec, which the guard lets through.  Superusers are let
 * through too: pg_restore recreates these tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/genam.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "access/twophase.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "log/topic_tables.h"
#include "pg_topics.h"
#include "relids.h"

PG_FUNCTION_INFO_V1(pg_topics_table_name);

/* The columns of every message table, in order. */
static const struct
{
	const char *name;
	Oid			type;
	bool		notnull;
}			message_columns[Natts_message] = {
	{"partition", INT4OID, true},
	{"msg_offset", INT8OID, true},
	{"timestamp", TIMESTAMPTZOID, true},
	{"key", BYTEAOID, false},
	{"value", BYTEAOID, false},
	{"headers", JSONBOID, false},
};

/* How deep pg_topics's own DDL is nested (topic_tables_exec). */
static int	own_ddl_depth = 0;

/*
 * name_hash returns the first 64 bits of the SHA-256 of a name: the same
 * on every node, whatever its byte order.
 */
static uint64
name_hash(const char *name, size_t len)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	uint64		result = 0;
	int			i;

	if (ctx == NULL ||
		pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) name, len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute the SHA-256 of a topic name: %s",
			 pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	for (i = 0; i < 8; i++)
		result = (result << 8) | digest[i];
	return result;
}

/*
 * table_name returns the name in topics_data of the table of a topic
 * whose name starts with prefix and ends in suffix.
 */
static char *
table_name(const char *prefix, const char *topic, const char *suffix)
{
	size_t		len = strlen(topic);
	size_t		around = strlen(prefix) + strlen(suffix);

	if (len + around <= TABLE_NAME_MAX)
		return psprintf("%s%s%s", prefix, topic, suffix);

	/*
	 * Cut the topic name, and tell cut names apart by a hash of the whole: 64
	 * bits of SHA-256, so that no one can compute in advance a name whose
	 * tables would take those of another.
	 */
	return psprintf("%s%.*s~%016llx%s", prefix,
					(int) (TABLE_NAME_MAX - 17 - around), topic,
					(unsigned long long) name_hash(topic, len), suffix);
}

/*
 * topic_table_name returns the name in topics_data of a topic's root table
 * (partition -1), of a partition's table (base -1) or of a segment.
 */
char *
topic_table_name(const char *topic, int partition, int64 base)
{
	char		suffix[64];

	if (partition < 0)
		return pstrdup(topic);
	if (base < 0)
		snprintf(suffix, sizeof(suffix), "$%d", partition);
	else
		snprintf(suffix, sizeof(suffix), "$%d$" INT64_FORMAT, partition, base);
	return table_name("", topic, suffix);
}

/*
 * topic_index_name returns the name in topics_data of the unique index on
 * msg_offset of table, a name table_name gave: PostgreSQL's own choice,
 * table_msg_offset_idx, when it fits, else a cut of the table's name and
 * a hash of the whole.  Every index is named so: PostgreSQL would cut a
 * long name to the same stem for every table of a topic, and pick the
 * first number free in what is committed, which two makers at work on
 * the same topic would both pick.
 */
char *
topic_index_name(const char *table)
{
	return table_name("", table, "_msg_offset_idx");
}

/*
 * topic_partition_group_name returns the name in topics_data of the group
 * of partitions of a topic that starts at partition first (see
 * topic_admin.c).
 */
char *
topic_partition_group_name(const char *topic, int first)
{
	char		suffix[64];

	snprintf(suffix, sizeof(suffix), "$pg%d", first);
	return table_name("", topic, suffix);
}

/*
 * topic_group_name returns the name in topics_data of the group of
 * segments of a partition that starts at offset base (see segment.c).
 */
char *
topic_group_name(const char *topic, int partition, int64 base)
{
	char		suffix[64];

	snprintf(suffix, sizeof(suffix), "$%d$g" INT64_FORMAT, partition, base);
	return table_name("", topic, suffix);
}

/*
 * topic_table_of tells whether table is the name in topics_data of a table
 * of topic other than its root (see table_name): the topic's name then
 * "$", or a cut of it then "~", the hash of the whole and "$".
 */
bool
topic_table_of(const char *topic, const char *table)
{
	size_t		len = strlen(topic);
	const char *tilde;
	char		hash[20];

	if (strncmp(table, topic, len) == 0 && table[len] == '$')
		return true;
	tilde = strchr(table, '~');
	if (tilde == NULL || tilde == table ||
		strncmp(table, topic, tilde - table) != 0)
		return false;
	snprintf(hash, sizeof(hash), "~%016llx$",
			 (unsigned long long) name_hash(topic, len));
	return strncmp(tilde, hash, strlen(hash)) == 0;
}

/*
 * topic_dropping_name returns the name in topics_data that the root table
 * of a dropped topic takes while the segment maker drops its tables
 * (topic_admin.c): it starts with TOPIC_DROPPING_PREFIX, which no topic's
 * table does, since topic names hold no "$".
 */
char *
topic_dropping_name(const char *topic)
{
	return table_name(TOPIC_DROPPING_PREFIX, topic, "");
}

/*
 * topic_lock_unless_busy locks the root table of a topic in
 * AccessShareLock unless that means waiting for another transaction, and
 * returns false then; true when it locked it, or when there is no root
 * (the caller's open of the topic reports that).  The database worker's
 * round opens every topic and persists their offsets in one transaction:
 * waiting for one topic while holding the others would deadlock with a
 * transaction that drops several, which locks them in an order of its own
 * (and the user's command would be the one cancelled, as its wait began
 * first).  A topic passed over is taken up in a later round.
 */
bool
topic_lock_unless_busy(const char *topic)
{
	Oid			relid = topic_table_relid(topic, -1, -1);

	if (!OidIsValid(relid))
		return true;
	if (!ConditionalLockRelationOid(relid, AccessShareLock))
		return false;
	/* the lock came after a drop and a new topic of that name */
	if (topic_table_relid(topic, -1, -1) != relid)
	{
		UnlockRelationOid(relid, AccessShareLock);
		return false;
	}
	return true;
}

/*
 * topic_tables_lock_share returns how many locks one transaction of ours
 * may take on a topic's tables: a quarter of what the shared lock table
 * holds, so that wide topics are made, dropped and polled whatever
 * max_locks_per_transaction, while other sessions keep room for theirs.
 */
int64
topic_tables_lock_share(void)
{
	return (int64) max_locks_per_xact * (MaxBackends + max_prepared_xacts) / 4;
}

/*
 * topic_table_relid returns the OID of a topic's table (as for
 * topic_table_name), or InvalidOid when there is none.
 */
Oid
topic_table_relid(const char *topic, int partition, int64 base)
{
	return get_relname_relid(topic_table_name(topic, partition, base),
							 pgt_data_namespace());
}

/*
 * topic_table_missing raises 55000 for a topic whose table is gone.
 */
void
topic_table_missing(const char *topic, const char *table)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("table \"%s.%s\" of topic \"%s\" does not exist",
					TOPICS_DATA_SCHEMA, table, topic),
			 errdetail("The tables of a topic change only through pg_topics; this one was dropped by hand."),
			 errhint("Drop the topic with topics.drop_topic(), or restore its tables.")));
}

/*
 * segment_relid returns the OID of a segment's table, looked up by its
 * name when first asked for and kept in seg (a cache entry: a list of
 * thousands of segments costs nothing to load for the tables it never
 * opens), or raises 55000 when the table is gone.
 */
Oid
segment_relid(const char *topic, int partition, const LogSegment *seg)
{
	if (!OidIsValid(seg->relid))
	{
		Oid			relid = topic_table_relid(topic, partition, seg->base);

		if (!OidIsValid(relid))
			topic_table_missing(topic, topic_table_name(topic, partition,
														seg->base));
		((LogSegment *) seg)->relid = relid;
	}
	return seg->relid;
}

/*
 * topic_table_check raises 55000 unless rel has the columns of a message
 * table, and no constraint beyond theirs: produce writes rows without
 * checking constraints, so a constraint added by hand would be broken.
 * topic names the topic in the message.
 */
void
topic_table_check(Relation rel, const char *topic)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if (desc->constr != NULL && desc->constr->num_check > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" of topic \"%s\" has a CHECK constraint",
						RelationGetRelationName(rel), topic),
				 errdetail("Produce writes rows without checking constraints; a topic table has none."),
				 errhint("Drop the constraint; topic tables change only through pg_topics functions.")));

	if (desc->natts != Natts_message)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" of topic \"%s\" does not have the shape of a topic table",
						RelationGetRelationName(rel), topic),
				 errdetail("It has %d columns, counting dropped ones; a topic table has %d.",
						   desc->natts, Natts_message),
				 errhint("Topic tables change only through pg_topics functions; drop the topic with topics.drop_topic().")));
	for (i = 0; i < Natts_message; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->atttypid != message_columns[i].type ||
			att->attnotnull != message_columns[i].notnull ||
			strcmp(NameStr(att->attname), message_columns[i].name) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s\" of topic \"%s\" does not have the shape of a topic table",
							RelationGetRelationName(rel), topic),
					 errdetail("Column %d should be \"%s\" of type %s%s.", i + 1,
							   message_columns[i].name,
							   format_type_be(message_columns[i].type),
							   message_columns[i].notnull ? ", NOT NULL" : ", nullable"),
					 errhint("Topic tables change only through pg_topics functions; drop the topic with topics.drop_topic().")));
	}
}

/*
 * segment_offset_index returns the OID of a segment's unique index on
 * msg_offset, raising 55000 when it has none.
 */
Oid
segment_offset_index(Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			result = InvalidOid;

	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		Form_pg_index idx;

		if (!HeapTupleIsValid(tup))
			continue;
		idx = (Form_pg_index) GETSTRUCT(tup);
		if (idx->indisunique && idx->indisvalid && idx->indnkeyatts == 1 &&
			idx->indkey.values[0] == Anum_message_offset &&
			heap_attisnull(tup, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL))
			result = indexoid;
		ReleaseSysCache(tup);
		if (OidIsValid(result))
			break;
	}
	list_free(indexes);
	if (!OidIsValid(result))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("segment \"%s\" has no unique index on msg_offset",
						RelationGetRelationName(rel)),
				 errhint("Topic tables change only through pg_topics functions; drop the topic with topics.drop_topic().")));
	return result;
}

/*
 * data_owner returns the owner of schema topics_data, which owns the
 * topics' tables and runs the admin work.
 */
static Oid
data_owner(void)
{
	Oid			nspid = get_namespace_oid(TOPICS_DATA_SCHEMA, false);
	HeapTuple	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * as_owner_begin connects to SPI and switches to the owner of schema
 * topics_data, which owns the topics' tables and writes the catalog, with
 * a search_path of pg_catalog only, whatever the caller's; as_owner_end
 * switches back.  The caller is kept, for the work that is done for it.
 */
void
as_owner_begin(AsOwner *admin)
{
	admin->caller = GetUserId();
	GetUserIdAndSecContext(&admin->saved_user, &admin->saved_sec);
	SPI_connect();
	admin->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	SetUserIdAndSecContext(data_owner(),
						   admin->saved_sec | SECURITY_LOCAL_USERID_CHANGE);
}

void
as_owner_end(AsOwner *admin)
{
	SetUserIdAndSecContext(admin->saved_user, admin->saved_sec);
	AtEOXact_GUC(true, admin->guc_level);
	SPI_finish();
}

/*
 * spi_exec_args runs a statement with parameters and checks its result.
 * Caller is connected to SPI.
 */
void
spi_exec_args(const char *sql, int nargs, Oid *types, Datum *args, int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, args, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "SPI_execute_with_args failed for \"%s\": %s", sql,
			 SPI_result_code_string(rc));
}

/*
 * spi_select_latest runs a read-only query under the latest snapshot, so
 * that it sees rows committed after the caller's transaction snapshot (the
 * catalog, or messages below a last stable offset read from shared memory).
 * Caller is connected to SPI.
 */
void
spi_select_latest(const char *sql, int nargs, Oid *types, Datum *values)
{
	SPIPlanPtr	plan;
	Snapshot	snapshot;
	int			rc;

	pgt_require_catalog();
	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	rc = SPI_execute_snapshot(plan, values, NULL, snapshot,
							  InvalidSnapshot, true, false, 0);
	UnregisterSnapshot(snapshot);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed for \"%s\": %s", sql,
			 SPI_result_code_string(rc));
	SPI_freeplan(plan);
}

/*
 * topic_tables_exec runs one DDL statement of pg_topics's own on the
 * tables of topics_data, which the guard lets through.  The statement is
 * built from quoted names and numbers only.  Caller is connected to SPI.
 */
void
topic_tables_exec(const char *sql)
{
	int			rc;

	own_ddl_depth++;
	PG_TRY();
	{
		rc = SPI_execute(sql, false, 0);
	}
	PG_FINALLY();
	{
		own_ddl_depth--;
	}
	PG_END_TRY();
	if (rc < 0)
		elog(ERROR, "SPI_execute failed for \"%s\": %s", sql,
			 SPI_result_code_string(rc));
}

/*
 * in_topics_data tells whether a relation named by rv lies in topics_data.
 */
static bool
in_topics_data(RangeVar *rv)
{
	Oid			relid;
	Oid			nspid = get_namespace_oid(TOPICS_DATA_SCHEMA, true);

	if (!OidIsValid(nspid))
		return false;
	if (rv->schemaname != NULL)
		return strcmp(rv->schemaname, TOPICS_DATA_SCHEMA) == 0;
	relid = RangeVarGetRelid(rv, NoLock, true);
	return OidIsValid(relid) && get_rel_namespace(relid) == nspid;
}

/*
 * never_written tells whether rv names a plain table with no page: one made
 * and not written to yet, as pg_restore's parallel mode truncates before
 * it loads a table's rows.  The table is locked as TRUNCATE will lock it.
 */
static bool
never_written(RangeVar *rv)
{
	Oid			relid = RangeVarGetRelid(rv, AccessExclusiveLock, true);
	Relation	rel;
	bool		empty;

	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
		return false;
	rel = table_open(relid, NoLock);
	empty = RelationGetNumberOfBlocks(rel) == 0;
	table_close(rel, NoLock);
	return empty;
}

/*
 * is_root_table tells whether a relation named by rv is the root table of
 * a topic: a partitioned table of topics_data that no table contains.
 */
static bool
is_root_table(RangeVar *rv)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);

	return OidIsValid(relid) &&
		get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE &&
		!get_rel_relispartition(relid);
}

/*
 * refuse raises 42501 for DDL on a table of topics_data.
 */
static void
refuse(const char *what, RangeVar *rv)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot %s \"%s\": it belongs to a topic", what,
					rv->relname),
			 errdetail("The tables of schema %s change only through pg_topics.",
					   TOPICS_DATA_SCHEMA),
			 errhint("Use topics.add_partitions() or topics.drop_topic(); GRANT and REVOKE on a topic's table are allowed to its owner.")));
}

/*
 * guard_drop refuses a DROP of a table of topics_data (or of a trigger or
 * rule on one).  An index that a superuser added on a root table may go.
 */
static void
guard_drop(DropStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->objects)
	{
		List	   *names;
		RangeVar   *rv;
		const char *what = "drop";

		switch (stmt->removeType)
		{
			case OBJECT_TABLE:
			case OBJECT_INDEX:
			case OBJECT_VIEW:
			case OBJECT_MATVIEW:
			case OBJECT_SEQUENCE:
			case OBJECT_FOREIGN_TABLE:
				names = lfirst(lc);
				break;
			case OBJECT_TRIGGER:
			case OBJECT_RULE:
			case OBJECT_POLICY:
				names = list_truncate(list_copy(lfirst(lc)),
									  list_length(lfirst(lc)) - 1);
				what = stmt->removeType == OBJECT_TRIGGER ? "drop a trigger of" :
					stmt->removeType == OBJECT_RULE ? "drop a rule of" :
					"drop a policy of";
				break;
			default:
				return;
		}
		rv = makeRangeVarFromNameList(names);
		if (in_topics_data(rv))
			refuse(what, rv);
	}
}

/*
 * guard_alter refuses ALTER TABLE on a table of topics_data, unless it
 * only sets or resets storage parameters (autovacuum settings, say).
 */
static void
guard_alter(AlterTableStmt *stmt)
{
	ListCell   *lc;

	if (!in_topics_data(stmt->relation))
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst(lc);

		if (cmd->subtype != AT_SetRelOptions && cmd->subtype != AT_ResetRelOptions)
			refuse("alter", stmt->relation);
	}
}

/*
 * topic_tables_guard refuses a utility statement of a role other than a
 * superuser that would change a table of topics_data, and a TRUNCATE of
 * one by any role, unless it is pg_topics's own (topic_tables_exec, or the
 * extension's scripts).
 */
void
topic_tables_guard(Node *parsetree)
{
	if (own_ddl_depth > 0)
		return;
	if (creating_extension &&
		CurrentExtensionObject == get_extension_oid("pg_topics", true))
		return;

	/*
	 * Messages leave a topic only through pg_topics: no role deletes them, a
	 * superuser no more than others, and a reader that has not reached a
	 * segment yet would silently miss the rows of one truncated.
	 */
	if (IsA(parsetree, TruncateStmt))
	{
		ListCell   *lc;

		foreach(lc, ((TruncateStmt *) parsetree)->relations)
			if (in_topics_data(lfirst(lc)) && !never_written(lfirst(lc)))
			refuse("truncate", lfirst(lc));
	}
	if (superuser())
		return;

	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
			guard_alter((AlterTableStmt *) parsetree);
			break;
		case T_DropStmt:
			guard_drop((DropStmt *) parsetree);
			break;
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;

				if (stmt->relation && in_topics_data(stmt->relation))
					refuse("rename", stmt->relation);
			}
			break;
		case T_AlterObjectSchemaStmt:
			{
				AlterObjectSchemaStmt *stmt = (AlterObjectSchemaStmt *) parsetree;

				if (stmt->relation && in_topics_data(stmt->relation))
					refuse("move", stmt->relation);
			}
			break;
		case T_IndexStmt:
			{
				IndexStmt  *stmt = (IndexStmt *) parsetree;

				if (in_topics_data(stmt->relation) &&
					!is_root_table(stmt->relation))
					refuse("index", stmt->relation);
			}
			break;
		case T_CreateTrigStmt:
			if (in_topics_data(((CreateTrigStmt *) parsetree)->relation))
				refuse("add a trigger to",
					   ((CreateTrigStmt *) parsetree)->relation);
			break;
		case T_RuleStmt:
			if (in_topics_data(((RuleStmt *) parsetree)->relation))
				refuse("add a rule to", ((RuleStmt *) parsetree)->relation);
			break;
		case T_CreatePolicyStmt:
			if (in_topics_data(((CreatePolicyStmt *) parsetree)->table))
				refuse("add a policy to",
					   ((CreatePolicyStmt *) parsetree)->table);
			break;
		case T_CreateStmt:
			{
				CreateStmt *stmt = (CreateStmt *) parsetree;
				ListCell   *lc;

				if (in_topics_data(stmt->relation))
					refuse("create", stmt->relation);
				foreach(lc, stmt->inhRelations)
					if (in_topics_data(lfirst(lc)))
					refuse("add a table to", lfirst(lc));
			}
			break;
		default:
			break;
	}
}

/*
 * topics_internal.table_name(topic, partition, base_offset) returns the
 * name of a topic's root table (partition NULL), partition table (base
 * NULL) or segment, as pg_topics names them.
 */
Datum
pg_topics_table_name(PG_FUNCTION_ARGS)
{
	char	   *topic;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	topic = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PG_RETURN_TEXT_P(cstring_to_text(topic_table_name(topic,
													  PG_ARGISNULL(1) ? -1 : PG_GETARG_INT32(1),
													  PG_ARGISNULL(2) ? -1 : PG_GETARG_INT64(2))));
}

/*
 * relation_bytes returns the size of the main forks of rel, its indexes
 * and its TOAST table: the rows and their index entries, without the
 * free space and visibility maps, which VACUUM adds later.
 */
int64
relation_bytes(Relation rel)
{
	int64		size = (int64) RelationGetNumberOfBlocks(rel) * BLCKSZ;
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);

		size += (int64) RelationGetNumberOfBlocks(index) * BLCKSZ;
		index_close(index, AccessShareLock);
	}
	if (OidIsValid(rel->rd_rel->reltoastrelid))
	{
		Relation	toast = table_open(rel->rd_rel->reltoastrelid,
									   AccessShareLock);

		size += relation_bytes(toast);
		table_close(toast, AccessShareLock);
	}
	return size;
}
