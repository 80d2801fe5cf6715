/*-------------------------------------------------------------------------
 *
 * fetch_scan.c
 *	  Streaming topics.fetch in a query's FROM clause: a custom scan that
 *	  hands each message out as it reads it.
 *
 * A function scan would call topics.fetch once and store every row in a
 * tuplestore before handing out the first: a copy of each message, and
 * for a read of a thousand messages about 7 % of the query's time.  This
 * scan takes its place where it can: the call's arguments are evaluated at
 * the first row, as the function would have them, and the rows then go out
 * one by one as the reader finds them, their values pointing into the
 * buffer the reader keeps pinned until the next row.
 *
 * The function scan stays where streaming would change what the query
 * sees, or where the scan would need more than it is: a LATERAL call
 * (arguments from other rows), WITH ORDINALITY, a reference to the whole
 * row, or a query that locks or modifies rows (EvalPlanQual rechecks a
 * scan by its relation, which a streamed call does not have).
 * A rescan with the same arguments (no parameter of theirs changed) hands
 * out the same rows again, as the function scan's tuplestore would, without
 * waiting again; new arguments read anew.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "log/fetch.h"
#include "pg_topics.h"

typedef struct FetchScanState
{
	CustomScanState css;
	List	   *args;			/* ExprStates of the call's arguments */
	Bitmapset  *arg_params;		/* the PARAM_EXEC ids they depend on */
	bool		started;		/* arguments evaluated, reader begun */
	Datum		topic;			/* the first argument, the rows' first column */
	FetchReader *reader;		/* NULL when there is nothing to read */
	Oid			funcid;			/* topics.fetch */
	Tuplestorestate *called;	/* the rows of the function, when called */
	TupleTableSlot *called_slot;	/* one of them */
	MemoryContext read_cxt;		/* what one start of the read allocates */
} FetchScanState;

static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;

/* topics.fetch, looked up once and forgotten on changes of pg_proc */
static Oid	fetch_function = InvalidOid;
static bool fetch_function_known = false;
static bool fetch_function_inval_registered = false;

static Plan *fetch_plan_path(PlannerInfo *root, RelOptInfo *rel,
							 CustomPath *best_path, List *tlist,
							 List *clauses, List *custom_plans);
static Node *fetch_create_state(CustomScan *cscan);
static void fetch_scan_begin(CustomScanState *node, EState *estate,
							 int eflags);
static TupleTableSlot *fetch_scan_exec(CustomScanState *node);
static void fetch_scan_end(CustomScanState *node);
static void fetch_scan_rescan(CustomScanState *node);

static const CustomPathMethods fetch_path_methods = {
	.CustomName = "TopicFetch",
	.PlanCustomPath = fetch_plan_path,
};

static const CustomScanMethods fetch_scan_methods = {
	.CustomName = "TopicFetch",
	.CreateCustomScanState = fetch_create_state,
};

static const CustomExecMethods fetch_exec_methods = {
	.CustomName = "TopicFetch",
	.BeginCustomScan = fetch_scan_begin,
	.ExecCustomScan = fetch_scan_exec,
	.EndCustomScan = fetch_scan_end,
	.ReScanCustomScan = fetch_scan_rescan,
};

static void
fetch_function_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	fetch_function_known = false;
}

static Oid
fetch_function_oid(void)
{
	if (!fetch_function_inval_registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, fetch_function_inval, (Datum) 0);
		fetch_function_inval_registered = true;
	}
	if (!fetch_function_known)
	{
		Oid			argtypes[FETCH_NARGS] = {TEXTOID, INT4OID, INT8OID,
		INT4OID, INTERVALOID};
		Oid			nspid;
		HeapTuple	tuple;

		/*
		 * By the catalog alone: this runs for every query's function in FROM,
		 * and must not fail for a role that may not see the schema. Only the
		 * C function of this library counts: 0.1's was SQL.
		 */
		fetch_function = InvalidOid;
		nspid = get_namespace_oid("topics", true);
		tuple = SearchSysCache3(PROCNAMEARGSNSP, CStringGetDatum("fetch"),
								PointerGetDatum(buildoidvector(argtypes,
															   FETCH_NARGS)),
								ObjectIdGetDatum(nspid));
		if (HeapTupleIsValid(tuple))
		{
			Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tuple);
			bool		srcnull;
			bool		binnull;
			bool		confignull;
			Datum		src = SysCacheGetAttr(PROCOID, tuple,
											  Anum_pg_proc_prosrc, &srcnull);
			Datum		bin = SysCacheGetAttr(PROCOID, tuple,
											  Anum_pg_proc_probin, &binnull);

			/*
			 * A SECURITY DEFINER, SET or STRICT clause added by hand is kept
			 * by calling the function, which the scan does not.
			 */
			(void) SysCacheGetAttr(PROCOID, tuple, Anum_pg_proc_proconfig,
								   &confignull);
			if (proc->prolang == ClanguageId && !srcnull && !binnull &&
				!proc->prosecdef && confignull && !proc->proisstrict &&
				strcmp(TextDatumGetCString(src), FETCH_FUNCTION_SYMBOL) == 0 &&
				strcmp(TextDatumGetCString(bin), "$libdir/pg_topics") == 0)
			{
				/* the topic, then a message as stored */
				TupleDesc	desc = build_function_result_tupdesc_t(tuple);

				if (desc != NULL && desc->natts == 1 + Natts_message)
					fetch_function = proc->oid;
			}
			ReleaseSysCache(tuple);
		}
		fetch_function_known = true;
	}
	return fetch_function;
}

/*
 * fetch_call_in_from returns the call of topics.fetch that rel
 * scans, when a streaming scan may take the function scan's place.
 */
static FuncExpr *
fetch_call_in_from(PlannerInfo *root, RelOptInfo *rel, RangeTblEntry *rte)
{
	RangeTblFunction *rtfunc;
	FuncExpr   *call;
	Bitmapset  *attrs = NULL;
	ListCell   *lc;

	if (rte->rtekind != RTE_FUNCTION || rte->funcordinality ||
		list_length(rte->functions) != 1 ||
		rel->reloptkind != RELOPT_BASEREL ||
		!bms_is_empty(rel->lateral_relids) ||
		root->parse->commandType != CMD_SELECT || root->rowMarks != NIL)
		return NULL;
	rtfunc = linitial_node(RangeTblFunction, rte->functions);
	if (!IsA(rtfunc->funcexpr, FuncExpr))
		return NULL;
	call = (FuncExpr *) rtfunc->funcexpr;
	if (!OidIsValid(fetch_function_oid()) || call->funcid != fetch_function ||
		list_length(call->args) != FETCH_NARGS)
		return NULL;
	/* a module's fmgr hook (sepgsql's) sees only calls of the function */
	if (FmgrHookIsNeeded(call->funcid))
		return NULL;

	/* the row as one value is formed by the function scan */
	pull_varattnos((Node *) rel->reltarget->exprs, rel->relid, &attrs);
	foreach(lc, rel->baserestrictinfo)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause,
					   rel->relid, &attrs);
	if (bms_is_member(InvalidAttrNumber - FirstLowInvalidHeapAttributeNumber,
					  attrs))
		return NULL;
	return call;
}

static void
fetch_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti,
					   RangeTblEntry *rte)
{
	CustomPath *path;
	ListCell   *lc;
	Path	   *function_scan = NULL;
	FuncExpr   *call;

	if (prev_set_rel_pathlist_hook)
		prev_set_rel_pathlist_hook(root, rel, rti, rte);
	call = fetch_call_in_from(root, rel, rte);
	if (call == NULL)
		return;
	foreach(lc, rel->pathlist)
	{
		Path	   *p = (Path *) lfirst(lc);

		if (p->pathtype == T_FunctionScan && p->param_info == NULL)
			function_scan = p;
	}
	if (function_scan == NULL)
		return;

	/*
	 * The same rows as the function scan, without its tuplestore: the first
	 * row comes at once, and the rest cheaper.
	 */
	path = makeNode(CustomPath);
	path->path.pathtype = T_CustomScan;
	path->path.parent = rel;
	path->path.pathtarget = rel->reltarget;
	path->path.param_info = NULL;
	path->path.parallel_aware = false;
	path->path.parallel_safe = false;
	path->path.rows = function_scan->rows;
	path->path.startup_cost = 0;
	path->path.total_cost = function_scan->total_cost -
		function_scan->rows * cpu_operator_cost;
	path->path.pathkeys = NIL;
	path->flags = CUSTOMPATH_SUPPORT_PROJECTION;
	path->custom_private = list_make1(call);
	path->methods = &fetch_path_methods;
	add_path(rel, &path->path);
}

static Plan *
fetch_plan_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
				List *tlist, List *clauses, List *custom_plans)
{
	FuncExpr   *call = linitial_node(FuncExpr, best_path->custom_private);
	CustomScan *scan = makeNode(CustomScan);
	TupleDesc	desc;
	List	   *scan_tlist = NIL;

	(void) get_expr_result_type((Node *) call, NULL, &desc);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		scan_tlist = lappend(scan_tlist,
							 makeTargetEntry((Expr *) makeVar(rel->relid, i + 1,
															  att->atttypid,
															  att->atttypmod,
															  att->attcollation,
															  0),
											 i + 1, NULL, false));
	}

	/*
	 * There is no relation to open: the scan's rows are described by
	 * custom_scan_tlist, and the plan's Vars of rel refer to it.
	 */
	scan->scan.scanrelid = 0;
	scan->scan.plan.targetlist = tlist;
	scan->scan.plan.qual = extract_actual_clauses(clauses, false);
	scan->custom_scan_tlist = scan_tlist;
	scan->custom_exprs = copyObject(call->args);
	scan->custom_private = list_make1_oid(call->funcid);
	scan->flags = best_path->flags;
	scan->methods = &fetch_scan_methods;
	/* a cached plan goes when the function does */
	record_plan_function_dependency(root, call->funcid);
	return &scan->scan.plan;
}

static Node *
fetch_create_state(CustomScan *cscan)
{
	FetchScanState *state = palloc0(sizeof(FetchScanState));

	NodeSetTag(state, T_CustomScanState);
	state->css.methods = &fetch_exec_methods;
	return (Node *) state;
}

typedef struct ArgParams
{
	PlannedStmt *stmt;
	Bitmapset  *ids;
} ArgParams;

/*
 * arg_params_walker adds to context->ids the executor parameters an
 * expression depends on, those of its subplans included, as the planner
 * finds the parameters of a function scan's call (finalize_primnode).
 */
static bool
arg_params_walker(Node *node, ArgParams *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXEC)
		context->ids = bms_add_member(context->ids, ((Param *) node)->paramid);
	else if (IsA(node, SubPlan))
	{
		Plan	   *plan = list_nth(context->stmt->subplans,
									((SubPlan *) node)->plan_id - 1);

		context->ids = bms_add_members(context->ids, plan->extParam);
	}
	return expression_tree_walker(node, arg_params_walker, (void *) context);
}

static void
fetch_scan_begin(CustomScanState *node, EState *estate, int eflags)
{
	FetchScanState *state = (FetchScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	Oid			funcid = linitial_oid(cscan->custom_private);
	AclResult	aclresult;
	ArgParams	params;

	/* as a function scan checks the function it calls */
	aclresult = pg_proc_aclcheck(funcid, GetUserId(), ACL_EXECUTE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(funcid));
	InvokeFunctionExecuteHook(funcid);

	state->funcid = funcid;
	state->called_slot =
		ExecInitExtraTupleSlot(estate,
							   node->ss.ss_ScanTupleSlot->tts_tupleDescriptor,
							   &TTSOpsMinimalTuple);
	state->args = ExecInitExprList(cscan->custom_exprs, &node->ss.ps);
	params.stmt = estate->es_plannedstmt;
	params.ids = NULL;
	(void) arg_params_walker((Node *) cscan->custom_exprs, &params);
	state->arg_params = params.ids;
	state->read_cxt = AllocSetContextCreate(estate->es_query_cxt,
											"TopicFetch read",
											ALLOCSET_SMALL_SIZES);
}

/*
 * fetch_scan_call calls topics.fetch through fmgr, which runs the hooks of
 * modules, and keeps its rows.  The planner leaves a call that a module's
 * hook wants to the function scan; this is for a plan made before the hook
 * wanted it (a generic plan kept across a policy change of sepgsql).
 */
static void
fetch_scan_call(FetchScanState *state, Datum *args, bool *nulls)
{
	LOCAL_FCINFO(fcinfo, FETCH_NARGS);
	FmgrInfo	flinfo;
	ReturnSetInfo rsinfo = {0};

	fmgr_info(state->funcid, &flinfo);
	rsinfo.type = T_ReturnSetInfo;
	rsinfo.econtext = state->css.ss.ps.ps_ExprContext;
	rsinfo.expectedDesc = state->css.ss.ss_ScanTupleSlot->tts_tupleDescriptor;
	rsinfo.allowedModes = SFRM_Materialize;
	rsinfo.returnMode = SFRM_Materialize;
	InitFunctionCallInfoData(*fcinfo, &flinfo, FETCH_NARGS, InvalidOid, NULL,
							 (Node *) &rsinfo);
	for (int i = 0; i < FETCH_NARGS; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = nulls[i];
	}
	(void) FunctionCallInvoke(fcinfo);
	state->called = rsinfo.setResult;
}

/*
 * fetch_scan_start evaluates the call's arguments and begins the read,
 * waiting as the call asks.
 */
static void
fetch_scan_start(FetchScanState *state)
{
	ExprContext *econtext = state->css.ss.ps.ps_ExprContext;
	Datum		args[FETCH_NARGS];
	bool		nulls[FETCH_NARGS];
	MemoryContext old;
	ListCell   *lc;
	int			i = 0;

	old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	foreach(lc, state->args)
	{
		args[i] = ExecEvalExpr((ExprState *) lfirst(lc), econtext, &nulls[i]);
		i++;
	}
	MemoryContextSwitchTo(state->read_cxt);
	if (FmgrHookIsNeeded(state->funcid))
		fetch_scan_call(state, args, nulls);
	else
	{
		state->reader = fetch_call(args, nulls);
		state->topic = PointerGetDatum(PG_DETOAST_DATUM_COPY(args[0]));
	}
	MemoryContextSwitchTo(old);
	state->started = true;
}

static TupleTableSlot *
fetch_scan_next(ScanState *ss)
{
	FetchScanState *state = (FetchScanState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;

	if (!state->started)
		fetch_scan_start(state);
	ExecClearTuple(slot);
	if (state->called != NULL)
	{
		TupleTableSlot *row = state->called_slot;

		if (!tuplestore_gettupleslot(state->called, true, false, row))
			return slot;
		slot_getallattrs(row);
		memcpy(slot->tts_values, row->tts_values,
			   sizeof(Datum) * row->tts_nvalid);
		memcpy(slot->tts_isnull, row->tts_isnull,
			   sizeof(bool) * row->tts_nvalid);
		return ExecStoreVirtualTuple(slot);
	}
	if (state->reader == NULL ||
		!fetch_reader_values(state->reader, slot->tts_values + 1,
							 slot->tts_isnull + 1))
		return slot;
	slot->tts_values[0] = state->topic;
	slot->tts_isnull[0] = false;
	return ExecStoreVirtualTuple(slot);
}

/* EvalPlanQual never runs this scan (see the top of the file) */
static bool
fetch_scan_recheck(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
fetch_scan_exec(CustomScanState *node)
{
	return ExecScan(&node->ss, fetch_scan_next, fetch_scan_recheck);
}

static void
fetch_scan_stop(FetchScanState *state)
{
	ExecClearTuple(state->css.ss.ss_ScanTupleSlot);
	ExecClearTuple(state->called_slot);
	if (state->reader != NULL)
		fetch_reader_end(state->reader);
	state->reader = NULL;
	if (state->called != NULL)
		tuplestore_end(state->called);
	state->called = NULL;
	state->started = false;
	MemoryContextReset(state->read_cxt);
}

static void
fetch_scan_end(CustomScanState *node)
{
	fetch_scan_stop((FetchScanState *) node);
}

static void
fetch_scan_rescan(CustomScanState *node)
{
	FetchScanState *state = (FetchScanState *) node;

	ExecClearTuple(node->ss.ss_ScanTupleSlot);
	if (bms_overlap(node->ss.ps.chgParam, state->arg_params))
		fetch_scan_stop(state);
	else if (state->reader != NULL)
		fetch_reader_rewind(state->reader);
	else if (state->called != NULL)
		tuplestore_rescan(state->called);
}

/*
 * fetch_scan_init installs the planner hook; _PG_init calls it while the
 * postmaster loads the library.
 */
void
fetch_scan_init(void)
{
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = fetch_set_rel_pathlist;
	RegisterCustomScanMethods(&fetch_scan_methods);
}
