/*-------------------------------------------------------------------------
 *
 * capture_setup.c
 *	  topics.capture(), topics.uncapture(), and the check that DDL on a
 *	  captured table runs (topics_internal.capture_check()).
 *
 * Capture is a row of topics.capture and, on the table and each of its
 * partitions, one AFTER ... FOR EACH STATEMENT trigger per published
 * operation, with transition tables.  Every table of the tree has them:
 * a statement fires the statement triggers of the table it names only,
 * so one that writes a partition directly is captured by the partition's.
 * TRUNCATE is the exception: truncating the captured table truncates its
 * partitions, whose triggers would publish it again.
 *
 * The triggers are made with CREATE TRIGGER as the caller, who owns the
 * table; the catalog row is written as the owner of pg_topics' tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "catalog/dependency.h"
#include "catalog/pg_trigger.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "capture/capture.h"
#include "capture/capture_setup.h"
#include "log/topic.h"
#include "log/topic_tables.h"
#include "pg_topics.h"
#include "preload.h"

PG_FUNCTION_INFO_V1(pg_topics_capture);
PG_FUNCTION_INFO_V1(pg_topics_uncapture);
PG_FUNCTION_INFO_V1(pg_topics_capture_ddl_end);

/* The triggers of a capture, per operation that has one. */
const char *const capture_trigger_names[] = {
	[CAPTURE_CREATE] = "pg_topics_capture_insert",
	[CAPTURE_UPDATE] = "pg_topics_capture_update",
	[CAPTURE_DELETE] = "pg_topics_capture_delete",
	[CAPTURE_TRUNCATE] = "pg_topics_capture_truncate",
};
static const char *const op_words[] = {
	[CAPTURE_CREATE] = "INSERT",
	[CAPTURE_UPDATE] = "UPDATE",
	[CAPTURE_DELETE] = "DELETE",
	[CAPTURE_TRUNCATE] = "TRUNCATE",
};
const char *const capture_before_names[] = {
	[CAPTURE_CREATE] = "pg_topics_capture_before_insert",
	[CAPTURE_UPDATE] = "pg_topics_capture_before_update",
	[CAPTURE_DELETE] = "pg_topics_capture_before_delete",
	[CAPTURE_TRUNCATE] = "pg_topics_capture_before_truncate",
};
static const char *const trigger_events[] = {
	[CAPTURE_CREATE] = "INSERT ON %s REFERENCING NEW TABLE AS pg_topics_new",
	[CAPTURE_UPDATE] = "UPDATE ON %s REFERENCING OLD TABLE AS pg_topics_old NEW TABLE AS pg_topics_new",
	[CAPTURE_DELETE] = "DELETE ON %s REFERENCING OLD TABLE AS pg_topics_old",
	[CAPTURE_TRUNCATE] = "TRUNCATE ON %s",
};

static char *
qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/*
 * capture_open_owned opens a table that the current user owns, raising
 * 42501 for another's before taking the lock.
 */
Relation
capture_open_owned(Oid relid, LOCKMODE lockmode)
{
	Relation	rel;

	if (!OidIsValid(get_rel_relkind(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
	rel = relation_open(relid, lockmode);
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel)),
				 errdetail("Only tables and partitioned tables can be captured.")));
	return rel;
}

static bool
has_trigger(Relation rel, const char *name)
{
	int			i;

	if (rel->trigdesc == NULL)
		return false;
	for (i = 0; i < rel->trigdesc->numtriggers; i++)
		if (strcmp(rel->trigdesc->triggers[i].tgname, name) == 0)
			return true;
	return false;
}

/*
 * check_capturable raises an error for a table of a captured tree that
 * capture cannot follow: a table of an inheritance tree (whose children
 * are written apart from it; partitions are captured), a foreign table
 * (no transition tables), an unlogged table (a crash empties it, and
 * keeps its events).
 */
static void
check_capturable(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);

	if ((!rel->rd_rel->relispartition && has_superclass(relid)) ||
		(rel->rd_rel->relkind == RELKIND_RELATION &&
		 find_inheritance_children(relid, NoLock) != NIL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot capture table %s: it is in an inheritance tree",
						qualified_name(relid)),
				 errdetail("Capture follows partitioned tables, not tables that inherit one another."),
				 errhint("Capture each table of the tree on its own, or make it a partitioned table.")));
	if (rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot capture foreign table %s", qualified_name(relid)),
				 errdetail("Its changes are not made in this database.")));
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_UNLOGGED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot capture unlogged table %s", qualified_name(relid)),
				 errdetail("A crash empties an unlogged table, and would keep its events.")));
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot capture temporary table \"%s\"",
						RelationGetRelationName(rel))));
}

/*
 * trigger_depends records that a trigger of a capture depends on the
 * columns its capture names (key columns, "columns") and on what its
 * filter uses, as a trigger's WHEN clause does: dropping one, or changing
 * its type, is refused (2BP01), or with CASCADE takes the trigger along.
 */
static void
trigger_depends(Relation rel, Oid owner, Oid trigger, List *keynames,
				CaptureOptions *opts)
{
	Oid			table = RelationGetRelid(rel);
	ObjectAddress trig;
	List	   *names = list_concat_copy(keynames, opts->columns);
	ListCell   *lc;

	ObjectAddressSet(trig, TriggerRelationId, trigger);
	foreach(lc, names)
	{
		AttrNumber	att = get_attnum(table, lfirst(lc));
		ObjectAddress col;

		if (att <= 0)
			continue;
		ObjectAddressSubSet(col, RelationRelationId, table, att);
		recordDependencyOn(&trig, &col, DEPENDENCY_NORMAL);
	}
	if (opts->filter)
		recordDependencyOnSingleRelExpr(&trig,
										(Node *) capture_filter_expr(rel, owner, opts->filter, false),
										table, DEPENDENCY_NORMAL, DEPENDENCY_NORMAL,
										false);
}

/*
 * set_triggers gives every table of the captured tree the triggers of the
 * operations published, and takes the others away; with only_missing, it
 * only adds those a table lacks (new partitions).  The triggers are made
 * as the owner of pg_topics's tables, which is all that runs as that
 * owner: the trigger function is not for other roles to use.  Their
 * dependencies are recorded by the event trigger that follows (see
 * record_dependencies), as the table's owner.
 */
static void
set_triggers(Oid relid, CaptureOptions *opts, bool only_missing)
{
	List	   *tables = find_all_inheritors(relid, ShareRowExclusiveLock, NULL);
	ListCell   *lc;

	foreach(lc, tables)
	{
		Oid			table = lfirst_oid(lc);
		char	   *name = qualified_name(table);
		Relation	rel = table_open(table, NoLock);
		List	   *sql = NIL;
		ListCell   *stmt;
		AsOwner		admin;
		int			op;

		if (opts != NULL)
			check_capturable(rel);
		for (op = CAPTURE_CREATE; op <= CAPTURE_TRUNCATE; op++)
		{
			bool		wanted = (opts != NULL && opts->ops[op] &&
								  (op != CAPTURE_TRUNCATE || table == relid));
			bool		there = has_trigger(rel, capture_trigger_names[op]);

			bool		before_there = has_trigger(rel, capture_before_names[op]);

			if (only_missing && (there || !wanted))
				continue;
			if (there)
				sql = lappend(sql, psprintf("DROP TRIGGER %s ON %s",
											capture_trigger_names[op], name));
			if (before_there)
				sql = lappend(sql, psprintf("DROP TRIGGER %s ON %s",
											capture_before_names[op], name));
			if (wanted)
			{
				sql = lappend(sql, psprintf("CREATE TRIGGER %s AFTER %s FOR EACH STATEMENT "
											"EXECUTE FUNCTION topics_internal.capture_trigger()",
											capture_trigger_names[op],
											psprintf(trigger_events[op], name)));
				sql = lappend(sql, psprintf("CREATE TRIGGER %s BEFORE %s ON %s FOR EACH STATEMENT "
											"EXECUTE FUNCTION topics_internal.capture_trigger()",
											capture_before_names[op], op_words[op], name));
			}
		}
		table_close(rel, NoLock);
		if (sql == NIL)
			continue;
		as_owner_begin(&admin);
		foreach(stmt, sql)
			spi_exec_args(lfirst(stmt), 0, NULL, NULL, SPI_OK_UTILITY);
		as_owner_end(&admin);
	}
}

/*
 * check_not_nested raises 55000 when a table above or below relid in its
 * partition tree is captured: its rows would be published twice.
 */
static void
check_not_nested(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	List	   *others = list_delete_first(find_all_inheritors(relid, NoLock, NULL));
	ListCell   *lc;
	char	   *topic;
	List	   *keys;
	Jsonb	   *options;

	if (rel->rd_rel->relispartition)
		others = list_concat(others, get_partition_ancestors(relid));
	foreach(lc, others)
		if (capture_row(lfirst_oid(lc), &topic, &keys, &options))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table %s is in the partition tree of captured table %s",
							qualified_name(relid), qualified_name(lfirst_oid(lc))),
					 errdetail("Its changes would be published twice."),
					 errhint("Capture the partitioned table, or each of its partitions, not both.")));
}

/*
 * check_columns raises 42703 for a name that is no column of rel, and
 * 42701 for one given twice.
 */
static void
check_columns(Relation rel, List *names, const char *what)
{
	ListCell   *lc;

	foreach(lc, names)
	{
		ListCell   *other;

		if (get_attnum(RelationGetRelid(rel), lfirst(lc)) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							(char *) lfirst(lc), RelationGetRelationName(rel)),
					 errdetail("It is named in %s.", what)));
		for_each_cell(other, names, lnext(names, lc))
			if (strcmp(lfirst(lc), lfirst(other)) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column \"%s\" is named twice in %s",
								(char *) lfirst(lc), what)));
	}
}

static void
append_names(StringInfo s, const char *option, List *names)
{
	ListCell   *lc;

	appendStringInfo(s, ", \"%s\": [", option);
	foreach(lc, names)
	{
		if (lc != list_head(names))
			appendStringInfoString(s, ", ");
		escape_json(s, lfirst(lc));
	}
	appendStringInfoChar(s, ']');
}

/*
 * options_jsonb writes the options complete, as topics.capture stores
 * them.
 */
static Datum
options_jsonb(CaptureOptions *opts)
{
	static const char *const ops[] = {"insert", "update", "delete", "truncate"};
	StringInfoData s;
	List	   *published = NIL;
	int			op;

	for (op = CAPTURE_CREATE; op <= CAPTURE_TRUNCATE; op++)
		if (opts->ops[op])
			published = lappend(published, (char *) ops[op]);
	initStringInfo(&s);
	appendStringInfo(&s, "{\"format\": \"%s\", \"before\": %s, \"tombstones\": %s",
					 opts->debezium ? "debezium" : "json",
					 opts->before ? "true" : "false",
					 opts->tombstones ? "true" : "false");
	append_names(&s, "ops", published);
	if (opts->columns != NIL)
		append_names(&s, "columns", opts->columns);
	if (opts->exclude != NIL)
		append_names(&s, "exclude_columns", opts->exclude);
	appendStringInfoString(&s, ", \"filter\": ");
	if (opts->filter)
		escape_json(&s, opts->filter);
	else
		appendStringInfoString(&s, "null");
	appendStringInfoChar(&s, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data));
}

static Datum
names_array(List *names)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(names), 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, names)
	{
		Name		n = palloc0(NAMEDATALEN);

		namestrcpy(n, lfirst(lc));
		elems[i++] = NameGetDatum(n);
	}
	return PointerGetDatum(construct_array(elems, i, NAMEOID, NAMEDATALEN,
										   false, TYPALIGN_CHAR));
}

static List *
text_array_list(ArrayType *arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	List	   *result = NIL;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key_columns must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("key_columns must not contain nulls")));
		result = lappend(result, TextDatumGetCString(elems[i]));
	}
	return result;
}

/*
 * topics.capture(relation, topic, key_columns, options) publishes the
 * table's changes to the topic; called again, it replaces the capture.
 */
Datum
pg_topics_capture(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *name;
	Relation	rel;
	Topic	   *topic;
	CaptureOptions opts;
	List	   *keynames = NIL;
	Oid			owner;
	int			partitions;
	AsOwner		admin;
	Oid			argtypes[4] = {OIDOID, TEXTOID, NAMEARRAYOID, JSONBOID};
	Datum		args[4];

	pg_topics_check_loaded();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the table and the topic must not be null")));
	PreventCommandIfReadOnly("topics.capture()");
	relid = PG_GETARG_OID(0);
	name = topic_name_from_text(PG_GETARG_TEXT_PP(1));
	capture_options_parse(PG_ARGISNULL(3) ?
						  DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"))) :
						  PG_GETARG_JSONB_P(3), &opts);

	rel = capture_open_owned(relid, ShareRowExclusiveLock);
	check_capturable(rel);
	if (RelationGetNamespace(rel) == get_namespace_oid(TOPICS_SCHEMA, true) ||
		RelationGetNamespace(rel) == get_namespace_oid(TOPICS_DATA_SCHEMA, true))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot capture table %s: it belongs to pg_topics",
						qualified_name(relid))));
	/*
	 * The tree locked from the top, as DDL does, before looking for a
	 * capture in it: one made meanwhile is then seen.
	 */
	if (rel->rd_rel->relispartition)
	{
		List	   *ancestors = get_partition_ancestors(relid);
		int			i;

		for (i = list_length(ancestors) - 1; i >= 0; i--)
			LockRelationOid(list_nth_oid(ancestors, i), ShareRowExclusiveLock);
	}
	(void) find_all_inheritors(relid, ShareRowExclusiveLock, NULL);
	check_not_nested(rel);

	if (!topic_lookup_row(name, &owner, &partitions))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" does not exist", name),
				 errhint("Create it first with topics.create_topic().")));
	topic = topic_open(name, AccessShareLock);
	if (pg_class_aclcheck(topic->relid, rel->rd_rel->relowner, ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for topic \"%s\"", name),
				 errdetail("The changes of table %s are produced as its owner, %s, who needs the INSERT privilege on table %s.",
						   qualified_name(relid),
						   GetUserNameFromId(rel->rd_rel->relowner, false),
						   quote_qualified_identifier(TOPICS_DATA_SCHEMA, name))));

	/* the key: the columns given, else the primary key's, else none */
	if (!PG_ARGISNULL(2))
	{
		keynames = text_array_list(PG_GETARG_ARRAYTYPE_P(2));
		check_columns(rel, keynames, "key_columns");
	}
	else
	{
		ListCell   *lc;

		foreach(lc, capture_key_of(rel, NIL))
			keynames = lappend(keynames,
							   get_attname(relid, lfirst_int(lc), false));
	}
	if (keynames == NIL && topic->cfg.cleanup_compact)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic \"%s\" is compacted: its events need a key", name),
				 errdetail("Table %s has no primary key, and no key_columns were given.",
						   qualified_name(relid)),
				 errhint("Pass key_columns, or add a primary key.")));
	check_columns(rel, opts.columns, "the option \"columns\"");
	check_columns(rel, opts.exclude, "the option \"exclude_columns\"");
	if (opts.filter)
		(void) capture_filter_expr(rel, rel->rd_rel->relowner, opts.filter, false);

	args[0] = ObjectIdGetDatum(relid);
	args[1] = CStringGetTextDatum(name);
	args[2] = names_array(keynames);
	args[3] = options_jsonb(&opts);
	as_owner_begin(&admin);
	spi_exec_args("INSERT INTO topics.capture (relid, topic, key_columns, options) "
			"VALUES ($1, $2, $3, $4) ON CONFLICT (relid) DO UPDATE "
			"SET topic = excluded.topic, key_columns = excluded.key_columns, "
			"options = excluded.options",
			4, argtypes, args, SPI_OK_INSERT);
	as_owner_end(&admin);

	/* the row first: the event trigger after CREATE TRIGGER reads it */
	CommandCounterIncrement();
	set_triggers(relid, &opts, false);
	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}

/*
 * topics.uncapture(relation) stops publishing the table's changes.
 */
Datum
pg_topics_uncapture(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel;
	char	   *topic;
	List	   *keys;
	Jsonb	   *options;
	AsOwner		admin;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];

	pg_topics_check_loaded();
	PreventCommandIfReadOnly("topics.uncapture()");
	rel = capture_open_owned(relid, ShareRowExclusiveLock);
	if (!capture_row(relid, &topic, &keys, &options))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s is not captured", qualified_name(relid)),
				 errhint("topics.captures lists the captured tables.")));
	set_triggers(relid, NULL, false);
	args[0] = ObjectIdGetDatum(relid);
	as_owner_begin(&admin);
	spi_exec_args("DELETE FROM topics.capture WHERE relid OPERATOR(pg_catalog.=) $1",
			1, argtypes, args, SPI_OK_DELETE);
	as_owner_end(&admin);
	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}

/*
 * capture_snapshot_done records when the captured table was last read by
 * topics.snapshot().
 */
void
capture_snapshot_done(Oid relid)
{
	AsOwner		admin;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];

	args[0] = ObjectIdGetDatum(relid);
	as_owner_begin(&admin);
	spi_exec_args("UPDATE topics.capture SET snapshot_at = pg_catalog.now() "
			"WHERE relid OPERATOR(pg_catalog.=) $1",
			1, argtypes, args, SPI_OK_UPDATE);
	as_owner_end(&admin);
}

/*
 * missing_column raises 2BP01 for a column that a capture names and DDL
 * took away (dropped or renamed): the DDL fails, as dropping a column of
 * a publication's column list does.
 */
static void
check_still_there(Relation rel, List *names, const char *what)
{
	ListCell   *lc;

	foreach(lc, names)
		if (get_attnum(RelationGetRelid(rel), lfirst(lc)) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("column \"%s\" of captured table %s is one of its capture's %s",
							(char *) lfirst(lc), qualified_name(RelationGetRelid(rel)), what),
					 errdetail("Capture needs it: the table's changes would no longer be published."),
					 errhint("Change the capture in the same transaction: topics.uncapture() before the change and topics.capture() after it.")));
}

/*
 * filter_still_parses raises 2BP01 when DDL took what a capture's filter
 * names (a renamed column: a dropped one, or a dropped function, the
 * triggers' dependencies refuse).
 */
static void
filter_still_parses(Relation rel, const char *filter)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		(void) capture_filter_expr(rel, rel->rd_rel->relowner, filter, false);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("the filter of the capture of table %s no longer reads: %s",
						qualified_name(RelationGetRelid(rel)), edata->message),
				 errdetail("The filter is \"%s\".", filter),
				 errhint("Change the capture in the same transaction: topics.uncapture() before the change and topics.capture() after it.")));
	}
	PG_END_TRY();
}

/*
 * capture_check checks a captured table after DDL on it or on a table of
 * its partition tree: the columns its capture names are still there, its
 * filter still reads, capture can still follow every table of the tree;
 * and, when the DDL made or attached partitions, gives them the triggers.
 */
static void
capture_check(Oid relid, bool partitions_added)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	char	   *topic;
	List	   *keys;
	Jsonb	   *options;
	CaptureOptions opts;
	ListCell   *lc;

	if (capture_row(relid, &topic, &keys, &options))
	{
		capture_options_parse(options, &opts);
		check_still_there(rel, keys, "key columns");
		check_still_there(rel, opts.columns, "columns");
		if (opts.filter)
			filter_still_parses(rel, opts.filter);
		foreach(lc, find_all_inheritors(relid, AccessShareLock, NULL))
		{
			Relation	table = relation_open(lfirst_oid(lc), NoLock);

			check_capturable(table);
			relation_close(table, NoLock);
		}
		check_not_nested(rel);
		if (partitions_added)
			set_triggers(relid, &opts, true);
	}
	relation_close(rel, NoLock);
}

/*
 * adds_partitions tells whether a command makes or attaches partitions.
 * Only those get triggers here: the other commands that end with a table
 * of the tree lacking some are pg_restore's, whose dump makes them next.
 */
static bool
adds_partitions(Node *parsetree)
{
	ListCell   *lc;

	if (IsA(parsetree, CreateSchemaStmt))
	{
		foreach(lc, ((CreateSchemaStmt *) parsetree)->schemaElts)
			if (adds_partitions(lfirst(lc)))
				return true;
		return false;
	}
	if (IsA(parsetree, CreateStmt))
		return ((CreateStmt *) parsetree)->partbound != NULL;
	if (IsA(parsetree, CreateForeignTableStmt))
		return ((CreateForeignTableStmt *) parsetree)->base.partbound != NULL;
	if (!IsA(parsetree, AlterTableStmt))
		return false;
	foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
		if (((AlterTableCmd *) lfirst(lc))->subtype == AT_AttachPartition)
			return true;
	return false;
}

/*
 * record_dependencies records the dependencies of a capture trigger just
 * made: by topics.capture(), or by pg_restore, whose dump holds the
 * triggers but not what they depend on.
 */
static void
record_dependencies(Oid table, Oid trigger)
{
	char	   *topic;
	List	   *keys;
	Jsonb	   *options;
	CaptureOptions opts;
	Relation	rel;

	Oid			captured = captured_of(table, &topic, &keys, &options);

	if (!OidIsValid(captured))
		return;
	capture_options_parse(options, &opts);
	rel = table_open(table, AccessShareLock);
	trigger_depends(rel, rel_owner(captured), trigger, keys, &opts);
	table_close(rel, NoLock);
}

/* oids of the rows of a query's first column (and second, when pairs) */
static List *
spi_oids(int column)
{
	List	   *result = NIL;
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		result = lappend_oid(result,
							 DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc,
															column, &isnull)));
	}
	return result;
}

/*
 * topics_internal.capture_ddl_end(), the event trigger at the end of DDL
 * on tables: capture_check for every captured table that the command
 * concerned, itself or through a partition or an inheritance child; and
 * the dependencies of the capture triggers it made.  It runs as the user
 * of the DDL; a command that concerns no captured table costs a query.
 * The catalog is read under the latest snapshot: a capture made after the
 * snapshot of a REPEATABLE READ transaction counts.
 */
Datum
pg_topics_capture_ddl_end(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata = (EventTriggerData *) fcinfo->context;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext spi;
	List	   *captured;
	List	   *trigger_tables;
	List	   *triggers;
	ListCell   *lc;
	ListCell   *lc2;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("topics_internal.capture_ddl_end() was not called by an event trigger")));
	SPI_connect();
	spi = CurrentMemoryContext;
	spi_select_latest("SELECT DISTINCT cap.relid::pg_catalog.oid"
					  "  FROM pg_catalog.pg_event_trigger_ddl_commands() d"
					  "  CROSS JOIN LATERAL"
					  "       (SELECT d.objid"
					  "        UNION ALL"
					  "        SELECT a.relid::pg_catalog.oid"
					  "          FROM pg_catalog.pg_partition_ancestors(d.objid) a"
					  "        UNION ALL"
					  "        SELECT i.inhparent FROM pg_catalog.pg_inherits i"
					  "         WHERE i.inhrelid OPERATOR(pg_catalog.=) d.objid) r(relid)"
					  "  JOIN topics.capture cap"
					  "    ON cap.relid::pg_catalog.oid OPERATOR(pg_catalog.=) r.relid"
					  " WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass",
					  0, NULL, NULL);
	MemoryContextSwitchTo(cxt);
	captured = spi_oids(1);
	MemoryContextSwitchTo(spi);
	spi_select_latest("SELECT t.tgrelid, t.oid"
					  "  FROM pg_catalog.pg_event_trigger_ddl_commands() d"
					  "  JOIN pg_catalog.pg_trigger t ON t.oid OPERATOR(pg_catalog.=) d.objid"
					  " WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_trigger'::pg_catalog.regclass"
					  "   AND d.command_tag OPERATOR(pg_catalog.=) 'CREATE TRIGGER'"
					  "   AND t.tgname OPERATOR(pg_catalog.=) ANY (ARRAY['pg_topics_capture_insert',"
					  "       'pg_topics_capture_update', 'pg_topics_capture_delete',"
					  "       'pg_topics_capture_truncate', 'pg_topics_capture_before_insert',"
					  "       'pg_topics_capture_before_update', 'pg_topics_capture_before_delete',"
					  "       'pg_topics_capture_before_truncate']"
					  "       ::pg_catalog.name[])",
					  0, NULL, NULL);
	MemoryContextSwitchTo(cxt);
	trigger_tables = spi_oids(1);
	triggers = spi_oids(2);
	MemoryContextSwitchTo(spi);
	SPI_finish();

	foreach(lc, captured)
		capture_check(lfirst_oid(lc), adds_partitions(trigdata->parsetree));
	forboth(lc, trigger_tables, lc2, triggers)
		record_dependencies(lfirst_oid(lc), lfirst_oid(lc2));
	PG_RETURN_VOID();
}
