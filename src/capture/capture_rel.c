/*-------------------------------------------------------------------------
 *
 * capture_rel.c
 *	  A captured table as its trigger sees it: its capture's row of
 *	  topics.capture, read once and described in the table's own columns.
 *
 * A statement that writes a partition directly fires the partition's
 * trigger, whose rows are in the partition's columns; an entry is kept
 * per table fired on, and names the captured ancestor.  An entry goes
 * stale with an invalidation of its table or of the captured one:
 * topics.capture() and topics.uncapture() replace the triggers of every
 * table concerned, which invalidates them all.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "capture/capture.h"
#include "relids.h"

static HTAB *capture_rels = NULL;

/* Invalidations seen, to tell whether one came during a build. */
static uint64 capture_invals = 0;

/* The columns of topics.capture. */
#define Anum_capture_relid			1
#define Anum_capture_topic			2
#define Anum_capture_key_columns	3
#define Anum_capture_options		4

static const char *const op_names[CAPTURE_NOPS] = {
	"insert", "update", "delete", "truncate", "read"
};

static void
capture_rels_inval(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	CaptureRel *cr;

	capture_invals++;
	hash_seq_init(&seq, capture_rels);
	while ((cr = hash_seq_search(&seq)) != NULL)
		if (relid == InvalidOid || cr->relid == relid ||
			cr->captured_relid == relid)
			cr->valid = false;
}

static void
capture_rels_inval_all(Datum arg, int cacheid, uint32 hashvalue)
{
	capture_rels_inval(arg, InvalidOid);
}

/*
 * options_error raises 22023 for a bad option of topics.capture().
 */
static void
options_error(const char *msg, const char *hint) pg_attribute_noreturn();

static void
options_error(const char *msg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid capture options: %s", msg),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * option_strings returns an option that is an array of strings as a list.
 */
static List *
option_strings(JsonbValue *v, const char *option)
{
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	List	   *result = NIL;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		options_error(psprintf("\"%s\" must be an array of strings", option), NULL);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvString)
			options_error(psprintf("\"%s\" must be an array of strings", option), NULL);
		result = lappend(result, pnstrdup(elem.val.string.val,
										  elem.val.string.len));
	}
	return result;
}

static bool
option_bool(JsonbValue *v, const char *option)
{
	if (v->type != jbvBool)
		options_error(psprintf("\"%s\" must be true or false", option), NULL);
	return v->val.boolean;
}

/*
 * capture_options_parse reads the options of topics.capture(), raising
 * 22023 for any it does not know or whose value is wrong, and fills in
 * the defaults.
 */
void
capture_options_parse(Jsonb *options, CaptureOptions *opts)
{
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		ops_given = false;

	memset(opts, 0, sizeof(*opts));
	opts->before = true;
	opts->ops[CAPTURE_READ] = true;

	if (!JB_ROOT_IS_OBJECT(options) || JB_ROOT_IS_SCALAR(options))
		options_error("they must be a JSON object", NULL);
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if (strcmp(key, "format") == 0)
		{
			if (v.type != jbvString)
				options_error("\"format\" must be \"json\" or \"debezium\"", NULL);
			if (v.val.string.len == 4 && strncmp(v.val.string.val, "json", 4) == 0)
				opts->debezium = false;
			else if (v.val.string.len == 8 &&
					 strncmp(v.val.string.val, "debezium", 8) == 0)
				opts->debezium = true;
			else
				options_error("\"format\" must be \"json\" or \"debezium\"", NULL);
		}
		else if (strcmp(key, "ops") == 0)
		{
			ListCell   *lc;

			ops_given = true;
			foreach(lc, option_strings(&v, "ops"))
			{
				int			op;

				for (op = 0; op < CAPTURE_READ; op++)
					if (strcmp(lfirst(lc), op_names[op]) == 0)
						break;
				if (op == CAPTURE_READ)
					options_error(psprintf("unknown operation \"%s\" in \"ops\"",
										   (char *) lfirst(lc)),
								  "The operations are insert, update, delete and truncate.");
				opts->ops[op] = true;
			}
		}
		else if (strcmp(key, "before") == 0)
			opts->before = option_bool(&v, "before");
		else if (strcmp(key, "tombstones") == 0)
			opts->tombstones = option_bool(&v, "tombstones");
		else if (strcmp(key, "columns") == 0)
		{
			opts->columns = option_strings(&v, "columns");
			if (opts->columns == NIL)
				options_error("\"columns\" must name at least one column",
							  "Leave \"columns\" out to publish every column.");
		}
		else if (strcmp(key, "exclude_columns") == 0)
			opts->exclude = option_strings(&v, "exclude_columns");
		else if (strcmp(key, "filter") == 0)
		{
			if (v.type == jbvNull)
				continue;
			if (v.type != jbvString)
				options_error("\"filter\" must be a string: a boolean expression over the table's columns", NULL);
			opts->filter = pnstrdup(v.val.string.val, v.val.string.len);
		}
		else
			options_error(psprintf("unknown option \"%s\"", key),
						  "The options are format, ops, before, tombstones, columns, exclude_columns and filter.");
	}
	if (!ops_given)
		opts->ops[CAPTURE_CREATE] = opts->ops[CAPTURE_UPDATE] =
			opts->ops[CAPTURE_DELETE] = true;
	if (!opts->ops[CAPTURE_CREATE] && !opts->ops[CAPTURE_UPDATE] &&
		!opts->ops[CAPTURE_DELETE] && !opts->ops[CAPTURE_TRUNCATE])
		options_error("\"ops\" must name at least one operation", NULL);
	if (opts->columns != NIL && opts->exclude != NIL)
		options_error("give \"columns\" or \"exclude_columns\", not both", NULL);
}

/*
 * filter_error raises 22023 for a filter that is not a plain expression
 * over the row.
 */
static void
filter_error(const char *filter, const char *detail) pg_attribute_noreturn();

static void
filter_error(const char *filter, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid capture filter \"%s\"", filter),
			 errdetail("%s", detail),
			 errhint("A filter is a boolean expression over the table's columns, such as \"status <> 'draft'\".")));
}

static bool
has_star(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, ColumnRef) &&
		IsA(llast(((ColumnRef *) node)->fields), A_Star))
		return true;
	return raw_expression_tree_walker(node, has_star, context);
}

static bool
has_system_column(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var) && ((Var *) node)->varattno <= 0)
		return true;
	return expression_tree_walker(node, has_system_column, context);
}

/*
 * filter_error_position reports a position in a filter as one in the
 * filter, not in the statement that ran topics.capture() or the trigger.
 */
static void
filter_error_position(void *arg)
{
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(pos);
		internalerrquery((const char *) arg);
	}
	errcontext("capture filter \"%s\"", (const char *) arg);
}

/*
 * capture_filter_expr parses a capture's filter as an expression over the
 * columns of rel, as a CHECK constraint is, and returns it, planned if
 * asked; owner is the captured table's owner.  The text is parsed as an
 * expression alone, never spliced into a
 * statement, and with a search_path of pg_catalog alone, so that every
 * session that writes the table reads it alike, whatever its search_path:
 * a function or operator of another schema must be named with it.
 */
Expr *
capture_filter_expr(Relation rel, Oid owner, const char *filter, bool plan)
{
	int			guc_level;
	Oid			saved_user;
	int			saved_sec;
	ErrorContextCallback errcb;
	List	   *raw;
	SelectStmt *select;
	ResTarget  *target;
	ParseState *pstate;
	ParseNamespaceItem *nsitem;
	Node	   *expr;

	errcb.callback = filter_error_position;
	errcb.arg = (void *) filter;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	raw = raw_parser(filter, RAW_PARSE_PLPGSQL_EXPR);
	if (list_length(raw) != 1)
		filter_error(filter, "It must be one expression, without FROM, WHERE or other clauses.");
	select = (SelectStmt *) linitial_node(RawStmt, raw)->stmt;
	if (!IsA(select, SelectStmt) ||
		list_length(select->targetList) != 1 ||
		select->distinctClause || select->fromClause || select->whereClause ||
		select->groupClause || select->havingClause || select->windowClause ||
		select->sortClause || select->limitCount || select->limitOffset ||
		select->lockingClause || select->withClause ||
		select->op != SETOP_NONE)
		filter_error(filter, "It must be one expression, without FROM, WHERE or other clauses.");
	target = linitial_node(ResTarget, select->targetList);
	if (target->name != NULL)
		filter_error(filter, "It must be one expression, without a column alias.");
	if (has_star(target->val, NULL))
		filter_error(filter, "It must name the columns it reads: \"*\" is not allowed.");

	/*
	 * As the captured table's owner (not a partition's, which may be
	 * another role), with the restrictions of maintenance commands:
	 * parsing a literal runs its type's input function (a domain's check),
	 * which must never run as whoever happens to parse the filter, such as
	 * the owner of pg_topics's tables when it makes the triggers.
	 */
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(owner,
						   saved_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	pstate = make_parsestate(NULL);
	pstate->p_sourcetext = filter;
	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
										   NULL, false, false);
	addNSItemToQuery(pstate, nsitem, true, true, true);
	expr = transformExpr(pstate, target->val, EXPR_KIND_WHERE);
	expr = coerce_to_boolean(pstate, expr, "capture filter");
	assign_expr_collations(pstate, expr);
	if (pstate->p_hasAggs || pstate->p_hasWindowFuncs || pstate->p_hasTargetSRFs ||
		pstate->p_hasSubLinks || expression_returns_set(expr))
		filter_error(filter, "Aggregates, window functions, set-returning functions and subqueries are not allowed.");
	if (contain_mutable_functions(expr))
		filter_error(filter, "Only immutable functions and operators are allowed: a change must be published or not whoever makes it, whenever.");
	if (has_system_column(expr, NULL))
		filter_error(filter, "System columns are not allowed.");
	free_parsestate(pstate);
	SetUserIdAndSecContext(saved_user, saved_sec);
	AtEOXact_GUC(true, guc_level);
	error_context_stack = errcb.previous;
	return plan ? expression_planner((Expr *) expr) : (Expr *) expr;
}

/*
 * capture_key_of returns the attribute numbers, in rel, of the columns
 * named; NIL names mean the primary key, or no key when there is none.
 * It raises 42703 for a name that is no column of rel.
 */
List *
capture_key_of(Relation rel, List *names)
{
	List	   *keys = NIL;
	ListCell   *lc;

	if (names == NIL)
	{
		/* RelationGetPrimaryKeyIndex() passes over a deferrable one */
		foreach(lc, RelationGetIndexList(rel))
		{
			HeapTuple	tup = SearchSysCache1(INDEXRELID,
											  ObjectIdGetDatum(lfirst_oid(lc)));
			Form_pg_index index;
			int			i;

			if (!HeapTupleIsValid(tup))
				elog(ERROR, "cache lookup failed for index %u", lfirst_oid(lc));
			index = (Form_pg_index) GETSTRUCT(tup);
			if (index->indisprimary)
				for (i = 0; i < index->indnkeyatts; i++)
					keys = lappend_int(keys, index->indkey.values[i]);
			ReleaseSysCache(tup);
		}
		return keys;
	}
	foreach(lc, names)
	{
		AttrNumber	att = get_attnum(RelationGetRelid(rel), lfirst(lc));

		if (att <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							(char *) lfirst(lc), RelationGetRelationName(rel))));
		keys = lappend_int(keys, att);
	}
	return keys;
}

/*
 * capture_row finds the row of topics.capture for relid, and returns its
 * topic, key column names and options; false when there is none.
 */
bool
capture_row(Oid relid, char **topic, List **keys, Jsonb **options)
{
	Relation	catalog = table_open(pgt_relid(PGT_CAPTURE), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found;

	ScanKeyInit(&key, Anum_capture_relid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(catalog, pgt_relid(PGT_CAPTURE_PKEY), true,
							  NULL, 1, &key);
	tup = systable_getnext(scan);
	found = HeapTupleIsValid(tup);
	if (found)
	{
		TupleDesc	desc = RelationGetDescr(catalog);
		bool		isnull;
		Datum		d;
		Datum	   *elems;
		int			n;
		int			i;

		d = heap_getattr(tup, Anum_capture_topic, desc, &isnull);
		*topic = TextDatumGetCString(d);
		d = heap_getattr(tup, Anum_capture_key_columns, desc, &isnull);
		deconstruct_array(DatumGetArrayTypeP(d), NAMEOID, NAMEDATALEN, false,
						  TYPALIGN_CHAR, &elems, NULL, &n);
		*keys = NIL;
		for (i = 0; i < n; i++)
			*keys = lappend(*keys, pstrdup(NameStr(*DatumGetName(elems[i]))));
		d = heap_getattr(tup, Anum_capture_options, desc, &isnull);
		*options = DatumGetJsonbPCopy(d);
	}
	systable_endscan(scan);
	table_close(catalog, AccessShareLock);
	return found;
}

/*
 * op_headers returns the headers of an event: its table and op.
 */
static Datum
op_headers(CaptureRel *cr, CaptureOp op)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"op\": \"%c\", \"schema\": ", CAPTURE_OP_LETTERS[op]);
	escape_json(&s, cr->schema);
	appendStringInfoString(&s, ", \"table\": ");
	escape_json(&s, cr->table);
	appendStringInfoChar(&s, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data));
}

/*
 * value_prefix writes how the value of an event of op starts: in plain
 * JSON, its op and table; in Debezium's envelope, up to its before image.
 */
static char *
value_prefix(CaptureRel *cr, CaptureOp op)
{
	StringInfoData s;

	initStringInfo(&s);
	if (cr->opts.debezium)
		appendStringInfoString(&s, "{\"schema\":null,\"payload\":{\"before\":");
	else
	{
		appendStringInfo(&s, "{\"op\":\"%c\",\"schema\":", CAPTURE_OP_LETTERS[op]);
		json_string(&s, cr->schema, strlen(cr->schema));
		appendStringInfoString(&s, ",\"table\":");
		json_string(&s, cr->table, strlen(cr->table));
		appendStringInfoString(&s, ",\"before\":");
	}
	return s.data;
}

static bool
name_listed(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

/*
 * captured_of returns the captured table of a table, itself or one of its
 * partition ancestors, with its capture's row, or InvalidOid.
 */
Oid
captured_of(Oid relid, char **topic, List **keys, Jsonb **options)
{
	List	   *candidates = list_make1_oid(relid);
	ListCell   *lc;

	if (get_rel_relispartition(relid))
		candidates = list_concat(candidates, get_partition_ancestors(relid));
	foreach(lc, candidates)
		if (capture_row(lfirst_oid(lc), topic, keys, options))
			return lfirst_oid(lc);
	return InvalidOid;
}

Oid
rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * capture_rel_build fills cr, in its own memory, for rel.
 */
static void
capture_rel_build(CaptureRel *cr, Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	ListCell   *lc;
	char	   *topic = NULL;
	List	   *keynames = NIL;
	Jsonb	   *options = NULL;
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *keys;
	int			i;

	cr->captured_relid = captured_of(relid, &topic, &keynames, &options);
	cr->captured = OidIsValid(cr->captured_relid);
	if (!cr->captured)
		return;

	cr->owner = rel_owner(cr->captured_relid);
	cr->schema = get_namespace_name(get_rel_namespace(cr->captured_relid));
	cr->table = get_rel_name(cr->captured_relid);
	cr->topic = topic;
	capture_options_parse(options, &cr->opts);

	cr->natts = desc->natts;
	cr->columns = palloc0(sizeof(ColumnEncoder) * desc->natts);
	cr->in_value = palloc0(sizeof(bool) * desc->natts);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		column_encoder_init(&cr->columns[i], att, cr->cxt);
		cr->in_value[i] = cr->opts.columns != NIL ?
			name_listed(cr->opts.columns, NameStr(att->attname)) :
			!name_listed(cr->opts.exclude, NameStr(att->attname));
	}
	keys = keynames == NIL ? NIL : capture_key_of(rel, keynames);
	cr->nkeys = list_length(keys);
	cr->keys = palloc(sizeof(AttrNumber) * Max(cr->nkeys, 1));
	i = 0;
	foreach(lc, keys)
		cr->keys[i++] = lfirst_int(lc);
	if (cr->opts.filter)
		cr->filter = capture_filter_expr(rel, cr->owner, cr->opts.filter, true);
	for (i = 0; i < CAPTURE_NOPS; i++)
	{
		cr->headers[i] = op_headers(cr, i);
		cr->value_prefix[i] = value_prefix(cr, i);
	}
}

static void
build_error_context(void *arg)
{
	Relation	rel = arg;

	errcontext("reading the capture of table %s",
			   quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										  RelationGetRelationName(rel)));
}

/*
 * capture_rel returns what the capture of rel, or of its captured
 * ancestor, says about rel.
 */
CaptureRel *
capture_rel(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	CaptureRel *cr;
	bool		found;
	MemoryContext cxt;
	MemoryContext old = CurrentMemoryContext;
	uint64		invals = capture_invals;

	if (capture_rels == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CaptureRel);
		capture_rels = hash_create("pg_topics captured tables", 16, &ctl,
								   HASH_ELEM | HASH_BLOBS);
		CacheRegisterRelcacheCallback(capture_rels_inval, (Datum) 0);
		/* a renamed schema renames the tables of events */
		CacheRegisterSyscacheCallback(NAMESPACEOID, capture_rels_inval_all,
									  (Datum) 0);
	}
	cr = hash_search(capture_rels, &relid, HASH_ENTER, &found);
	if (found && cr->valid)
		return cr;
	if (!found)
		cr->pins = 0;

	/*
	 * A batch still producing (an outer statement, when a filter's function
	 * wrote to the table) holds pointers into the old memory: it goes at
	 * the end of the transaction instead.
	 */
	if (found && cr->cxt)
	{
		if (cr->pins > 0)
			MemoryContextSetParent(cr->cxt, TopTransactionContext);
		else
			MemoryContextDelete(cr->cxt);
	}
	cr->valid = false;
	cr->cxt = NULL;
	cr->captured_relid = InvalidOid;

	/* a failed build leaves the entry invalid and its memory freed */
	cxt = AllocSetContextCreate(CacheMemoryContext, "pg_topics capture",
								ALLOCSET_SMALL_SIZES);
	PG_TRY();
	{
		CaptureRel	built;

		ErrorContextCallback errcb;

		memset(&built, 0, sizeof(built));
		built.relid = relid;
		built.cxt = cxt;
		errcb.callback = build_error_context;
		errcb.arg = rel;
		errcb.previous = error_context_stack;
		error_context_stack = &errcb;
		MemoryContextSwitchTo(cxt);
		capture_rel_build(&built, rel);
		error_context_stack = errcb.previous;
		MemoryContextSwitchTo(old);
		/* an invalidation during the build: use it once, build again next */
		built.valid = (invals == capture_invals);
		built.pins = cr->pins;
		*cr = built;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return cr;
}
