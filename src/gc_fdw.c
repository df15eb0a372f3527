/*-------------------------------------------------------------------------
 *
 * gc_fdw.c
 *		  Foreign data wrapper handler and planning for Genesys Cloud CX:
 *		  row estimates, paths (plain, ordered by the interval column, and
 *		  parameterised lookups of a listing by id), the plan's private
 *		  data, and IMPORT FOREIGN SCHEMA.
 *
 * Which conditions narrow a request is decided in conds.c, from the
 * catalogue's description of each API; executing the scan and EXPLAIN's
 * view of it live in scan.c and the drivers.  Every restriction also stays
 * a local qual: the API is only ever asked for a superset.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "foreign/fdwapi.h"
#include "gc_fdw.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/typcache.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(gc_fdw_handler);

/*
 * Planner costs.  Row estimates come from the catalogue (a listing's size,
 * an interval's objects per day; the table option rows_per_day overrides
 * the latter): a directory of ten pages costs more to list than a handful
 * of joined ids looked up one request each.
 */
#define GC_STARTUP_COST 100.0
#define GC_COST_PER_PAGE 50.0


/*
 * gc_find_field_attno
 *		The first non-dropped column of rel reading field of level (with the
 *		required type when one is given).
 */
AttrNumber
gc_find_field_attno(Relation rel, const GcResourceDef *res, GcLevel level,
				 const char *field, Oid required_type)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);

		if (attr->attisdropped ||
			(OidIsValid(required_type) && attr->atttypid != required_type))
			continue;
		if (gc_key_reads(gc_get_column_key(RelationGetRelid(rel), i + 1, res),
						 res, level, field))
			return i + 1;
	}
	return InvalidAttrNumber;
}

/*
 * const_value_count
 *		How many values a constant condition value holds (1 for a scalar,
 *		the element count of a constant array), or -1 when not constant.
 */
static int
const_value_count(GcPushedCond *cond)
{
	Const	   *c;

	if (cond->expr == NULL || !IsA(cond->expr, Const))
		return -1;
	c = (Const *) cond->expr;
	if (c->constisnull)
		return 0;
	if (cond->shape == GC_VALUE_ANY)
		return ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(c->constvalue)),
							  ARR_DIMS(DatumGetArrayTypeP(c->constvalue)));
	return 1;
}

/*
 * const_timestamptz
 *		If expr is a non-null constant comparable as timestamptz, its value.
 */
static bool
const_timestamptz(Expr *expr, TimestampTz *value)
{
	Const	   *c;

	if (!IsA(expr, Const) || ((Const *) expr)->constisnull)
		return false;
	c = (Const *) expr;
	if (c->consttype != TIMESTAMPTZOID && c->consttype != TIMESTAMPOID &&
		c->consttype != DATEOID)
		return false;
	*value = gc_bound_timestamptz(c->constvalue, c->consttype);
	return true;
}

/*
 * interval_days
 *		The days the constant bounds among the conditions span (at least
 *		an hour's worth), or -1 without both bounds.
 */
static double
interval_days(GcRelInfo *info)
{
	TimestampTz lo = 0;
	TimestampTz hi = 0;
	bool		have_lo = false;
	bool		have_hi = false;
	ListCell   *lc;

	foreach(lc, info->conds)
	{
		GcPushedCond *cond = lfirst(lc);
		TimestampTz v;

		if (cond->kind != GC_PUSH_BOUND || cond->bound == GC_BOUND_END_AFTER ||
			cond->bound == GC_BOUND_END_FROM || !const_timestamptz(cond->expr, &v))
			continue;
		if (cond->bound != GC_BOUND_UPPER && cond->bound != GC_BOUND_UPPER_STRICT)
		{
			lo = have_lo ? Max(lo, v) : v;
			have_lo = true;
		}
		if (cond->bound != GC_BOUND_LOWER && cond->bound != GC_BOUND_LOWER_STRICT)
		{
			hi = have_hi ? Min(hi, v) : v;
			have_hi = true;
		}
	}
	if (!have_lo || !have_hi)
		return -1;
	return Max((double) (hi - lo) / USECS_PER_DAY, 1.0 / 24);
}

/*
 * estimate_rows
 *		Rows a scan returns before the local quals that the request does not
 *		account for: ids looked up, or the interval's days times the top
 *		objects per day and the level's fan-out, or the listing's size.
 */
static double
estimate_rows(GcRelInfo *info)
{
	const GcResourceDef *res = info->table_opts.resource;
	double		ids = -1;
	double		per_day;
	double		days;
	ListCell   *lc;

	foreach(lc, info->conds)
	{
		GcPushedCond *cond = lfirst(lc);

		if (cond->kind == GC_PUSH_IDS)
		{
			int			n = const_value_count(cond);

			ids = n >= 0 ? n : 10;
		}
	}
	if (ids >= 0)
		return ids * res->rows_per_top;
	if (res->api->interval_field == NULL)
		return res->api->default_rows * res->rows_per_top;
	per_day = info->table_opts.rows_per_day > 0 ? info->table_opts.rows_per_day
		: res->api->default_rows * res->rows_per_top;
	days = interval_days(info);
	return days > 0 ? days * per_day : per_day;
}

/*
 * gcGetForeignRelSize
 *		Find the conditions the API can narrow by and estimate the row count.
 */
static void
gcGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	GcRelInfo  *info = palloc0(sizeof(GcRelInfo));
	Relation	rel = table_open(foreigntableid, NoLock);
	ForeignTable *table = GetForeignTable(foreigntableid);
	const GcResourceDef *res;
	List	   *other_quals = NIL;
	ListCell   *lc;

	gc_get_table_options(table, &info->table_opts);
	info->relid = foreigntableid;
	info->serverid = table->serverid;
	res = info->table_opts.resource;
	if (res->api->interval_field)
		info->start_attno = gc_find_field_attno(rel, res, gc_interval_level(res),
											 res->api->interval_field, TIMESTAMPTZOID);
	{
		const GcPushableDef *p;

		/* the column whose joins are worth a parameterised path */
		for (p = res->api->pushables; p && p->field; p++)
			if ((p->shapes & GC_SHAPE_JOIN) && info->id_attno == InvalidAttrNumber)
				info->id_attno = gc_find_field_attno(rel, res, p->level, p->field, UUIDOID);
	}
	table_close(rel, NoLock);

	info->conds = gc_classify_conditions(root, baserel, foreigntableid, res,
										 baserel->baserestrictinfo,
										 info->table_opts.pushdown, NULL);
	baserel->fdw_private = info;

	/*
	 * The request already accounts for the conditions it carries as
	 * interval or ids: only the others narrow the estimate further.
	 */
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		bool		in_request = false;
		ListCell   *lb;

		foreach(lb, info->conds)
		{
			GcPushedCond *cond = lfirst(lb);

			if (cond->clause == ri->clause &&
				(cond->kind == GC_PUSH_BOUND || cond->kind == GC_PUSH_IDS))
				in_request = true;
		}
		if (!in_request)
			other_quals = lappend(other_quals, ri);
	}
	baserel->rows = clamp_row_est(estimate_rows(info) *
								  clauselist_selectivity(root, other_quals, 0,
														 JOIN_INNER, NULL));
}

/* Cost of fetching rows in pages of page_size, plus a first request */
Cost
gc_scan_cost(double rows, int page_size)
{
	return GC_STARTUP_COST + ceil(Max(rows, 1.0) / page_size) * GC_COST_PER_PAGE +
		Max(rows, 1.0) * cpu_tuple_cost * 10;
}

/*
 * id_member
 *		generate_implied_equalities_for_column callback: the equivalence
 *		member that is the table's id column.
 */
static bool
id_member(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
				EquivalenceMember *em, void *arg)
{
	Var		   *var = (Var *) em->em_expr;

	return IsA(var, Var) && (Index) var->varno == rel->relid &&
		var->varattno == *(AttrNumber *) arg;
}

/*
 * add_id_lookup_paths
 *		Parameterised paths for a join on a field the catalogue marks as
 *		worth one (JOIN users u ON u.id = p.user_id; JOIN
 *		user_routing_status r ON r.user_id = u.id): each outer row's value
 *		narrows the request (the id parameter, a user filter) instead of
 *		reading everything.
 */
static void
add_id_lookup_paths(PlannerInfo *root, RelOptInfo *baserel, GcRelInfo *info)
{
	List	   *clauses;
	ListCell   *lc;
	double		days = interval_days(info);

	/* per outer row, a request (or one per interval window) */
	Cost		lookup_cost = GC_STARTUP_COST + GC_COST_PER_PAGE *
		(days > 0 ? ceil(days / GC_MAX_WINDOW_DAYS) : 1);

	clauses = generate_implied_equalities_for_column(root, baserel, id_member,
													 &info->id_attno,
													 baserel->lateral_referencers);
	foreach(lc, baserel->joininfo)
		clauses = lappend(clauses, lfirst(lc));

	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Relids		required_outer;
		ParamPathInfo *ppi;
		List	   *conds;

		if (!join_clause_is_movable_to(ri, baserel))
			continue;
		required_outer = bms_difference(ri->clause_relids, baserel->relids);
		if (bms_is_empty(required_outer))
			continue;
		conds = gc_classify_conditions(root, baserel,
									   planner_rt_fetch(baserel->relid, root)->relid,
									   info->table_opts.resource, list_make1(ri),
									   true, required_outer);
		if (conds == NIL || ((GcPushedCond *) linitial(conds))->pushable == NULL ||
			!(((GcPushedCond *) linitial(conds))->pushable->shapes & GC_SHAPE_JOIN))
			continue;
		ppi = get_baserel_parampathinfo(root, baserel, required_outer);
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, Max(ppi->ppi_rows, 1.0),
										 GC_STARTUP_COST, lookup_cost, NIL,
										 required_outer, NULL, NIL));
	}
}

/*
 * gcGetForeignPaths
 *		A paged scan; the same ordered by conversation_start (the API sorts
 *		and windows are read in order) when the query wants that order; and
 *		id lookups for users joins.
 */
static void
gcGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	GcRelInfo  *info = baserel->fdw_private;
	Cost		total = gc_scan_cost(baserel->rows, info->table_opts.page_size);
	bool		lookup = false;
	ListCell   *lc;

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 GC_STARTUP_COST, total, NIL, NULL, NULL, NIL));

	foreach(lc, info->conds)
		if (((GcPushedCond *) lfirst(lc))->kind == GC_PUSH_IDS &&
			info->table_opts.resource->api->lookup_path)
			lookup = true;

	/* ordered paths where the API sorts: by the field it orders by */
	if (info->table_opts.pushdown && info->start_attno != InvalidAttrNumber && !lookup &&
		info->table_opts.resource->api->order_by != NULL)
	{
		Expr	   *start = (Expr *) makeVar(baserel->relid, info->start_attno,
											 TIMESTAMPTZOID, -1, InvalidOid, 0);
		int			desc;

		TypeCacheEntry *tce = lookup_type_cache(TIMESTAMPTZOID,
												TYPECACHE_LT_OPR | TYPECACHE_GT_OPR);

		for (desc = 0; desc <= 1; desc++)
		{
			List	   *pathkeys = build_expression_pathkey(root, start, NULL,
															desc ? tce->gt_opr : tce->lt_opr,
															baserel->relids, false);

			if (pathkeys != NIL && pathkeys_contained_in(pathkeys, root->query_pathkeys))
				add_path(baserel, (Path *)
						 create_foreignscan_path(root, baserel, NULL, baserel->rows,
												 GC_STARTUP_COST, total, pathkeys,
												 NULL, NULL,
												 list_make1(makeInteger(desc ? GC_ORDER_DESC :
																		GC_ORDER_ASC))));
		}
	}

	if (info->table_opts.pushdown && info->id_attno != InvalidAttrNumber)
		add_id_lookup_paths(root, baserel, info);
}

/*
 * gc_explain_cond
 *		SQL text of a pushed condition for EXPLAIN; a parameterised join
 *		clause is shown as the lookup it drives.
 */
char *
gc_explain_cond(PlannerInfo *root, RelOptInfo *baserel, GcPushedCond *cond)
{
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	List	   *context = deparse_context_for(get_rel_name(rte->relid), rte->relid);
	Node	   *copy = copyObject((Node *) cond->clause);
	GcRelInfo  *info = baserel->fdw_private;
	const char *what = gc_push_target_text(info->table_opts.resource, cond);

	if (!bms_is_subset(pull_varnos(root, copy), baserel->relids))
		return psprintf("%s: each outer row's value (parameterised)", what);

	/* the deparse context holds one relation: renumber the copy's Vars */
	ChangeVarNodes(copy, baserel->relid, 1, 0);
	return psprintf("%s: %s", what, deparse_expression(copy, context, false, false));
}

/* expression_tree_walker callback: whether a node holds a Param */
static bool
param_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
		return true;
	return expression_tree_walker(node, param_walker, context);
}

/*
 * conds_have_params
 *		Whether a condition's value comes from a parameter (an outer query's
 *		row, a LATERAL reference): the scan is then rescanned with values
 *		that may repeat.
 */
static bool
conds_have_params(List *conds)
{
	ListCell   *lc;

	foreach(lc, conds)
		if (param_walker((Node *) ((GcPushedCond *) lfirst(lc))->expr, NULL))
			return true;
	return false;
}

/*
 * gcGetForeignPlan
 *		Every restriction stays a local qual; the conditions that narrow the
 *		request travel in fdw_private, their values in fdw_exprs (so outer
 *		columns of a parameterised path become executor parameters).
 */
static ForeignScan *plan_base_scan(PlannerInfo *root, RelOptInfo *baserel,
								   Oid foreigntableid, ForeignPath *best_path,
								   List *tlist, List *scan_clauses,
								   Plan *outer_plan);

static ForeignScan *
gcGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses,
				 Plan *outer_plan)
{
	if (IS_JOIN_REL(baserel))
		return gc_join_plan(root, baserel, tlist, scan_clauses, outer_plan);
	return plan_base_scan(root, baserel, foreigntableid, best_path, tlist,
						  scan_clauses, outer_plan);
}

/*
 * plan_base_scan
 *		gcGetForeignPlan for a foreign table's own scan.
 */
static ForeignScan *
plan_base_scan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
			   ForeignPath *best_path, List *tlist, List *scan_clauses,
			   Plan *outer_plan)
{
	GcRelInfo  *info = baserel->fdw_private;
	Relids		outer_relids = PATH_REQ_OUTER(&best_path->path);
	List	   *conds;
	List	   *fdw_exprs = NIL;
	List	   *explain = NIL;
	List	   *attrs = NIL;
	List	   *serialized;
	List	   *private;
	Bitmapset  *attrs_used = NULL;
	ListCell   *lc;
	int			i;

	conds = gc_classify_conditions(root, baserel, foreigntableid,
								   info->table_opts.resource, scan_clauses,
								   info->table_opts.pushdown, outer_relids);
	foreach(lc, conds)
		explain = lappend(explain, makeString(gc_explain_cond(root, baserel, lfirst(lc))));

	/* columns the query reads, so unused ones are not converted */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs_used);
	foreach(lc, scan_clauses)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause,
					   baserel->relid, &attrs_used);
	i = -1;
	while ((i = bms_next_member(attrs_used, i)) >= 0)
		attrs = lappend_int(attrs, i + FirstLowInvalidHeapAttributeNumber);

	/*
	 * The private list is built before make_foreignscan: serializing the
	 * conditions appends their values to fdw_exprs, which must be complete
	 * when it is passed (C leaves the order of a call's argument
	 * evaluations unspecified).
	 */
	serialized = gc_serialize_conds(info->table_opts.resource, conds, &fdw_exprs);
	private = NIL;
	private = lappend(private, serialized);		/* GcPrivConds */
	private = lappend(private, attrs);	/* GcPrivAttrsUsed */
	private = lappend(private, explain);	/* GcPrivExplain */
	private = lappend(private,	/* GcPrivIntervalColumn */
					  makeString(info->start_attno != InvalidAttrNumber ?
								 get_attname(foreigntableid, info->start_attno, false) :
								 pstrdup("")));
	private = lappend(private,	/* GcPrivOrder */
					  makeInteger(best_path->fdw_private ?
								  intVal(linitial(best_path->fdw_private)) : GC_ORDER_NONE));
	private = lappend(private,	/* GcPrivParameterized */
					  makeInteger(outer_relids != NULL || conds_have_params(conds) ? 1 : 0));
	Assert(list_length(private) == GcPrivParameterized + 1);	/* no join slots */

	return make_foreignscan(tlist, extract_actual_clauses(scan_clauses, false),
							baserel->relid, fdw_exprs, private,
							NIL, NIL, outer_plan);
}

/*
 * gcExplainForeignScan
 *		The request the scan sends (scan.c) and, under VERBOSE, the
 *		conditions that shape it.
 */
static void
gcExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	List	   *explain = list_nth(fsplan->fdw_private, GcPrivExplain);

	if (fsplan->scan.scanrelid == 0)
		gc_join_explain(node, es);
	gc_scan_explain(node, es);
	if (es->verbose && explain != NIL)
	{
		ListCell   *lc;
		StringInfoData buf;

		initStringInfo(&buf);
		foreach(lc, explain)
			appendStringInfo(&buf, "%s%s", buf.len ? "; " : "", strVal(lfirst(lc)));
		ExplainPropertyText("Genesys Pushed", buf.data, es);
	}
}

/*
 * table_listed
 *		Whether a resource is named in IMPORT FOREIGN SCHEMA's table list.
 */
static bool
table_listed(List *table_list, const char *name)
{
	ListCell   *lc;

	foreach(lc, table_list)
		if (strcmp(((RangeVar *) lfirst(lc))->relname, name) == 0)
			return true;
	return false;
}

/*
 * gcImportForeignSchema
 *		CREATE FOREIGN TABLE statements for the catalogue's tables: remote
 *		schema "genesys" holds them all.  LIMIT TO and EXCEPT must name
 *		tables that exist, so a typo is an error rather than a silent skip.
 */
static List *
gcImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	List	   *commands = NIL;
	StringInfoData names;
	const GcResourceDef *res;
	ListCell   *lc;
	int			i;

	initStringInfo(&names);
	for (i = 0; (res = gc_resource_at(i)) != NULL; i++)
		appendStringInfo(&names, "%s%s", i ? ", " : "", res->name);

	if (strcmp(stmt->remote_schema, "genesys") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("Genesys Cloud has no remote schema \"%s\"", stmt->remote_schema),
				 errdetail("The only remote schema is \"genesys\"; it holds %s.", names.data),
				 errhint("IMPORT FOREIGN SCHEMA genesys FROM SERVER %s INTO %s;",
						 quote_identifier(server->servername),
						 quote_identifier(stmt->local_schema))));

	foreach(lc, stmt->table_list)
	{
		const char *name = ((RangeVar *) lfirst(lc))->relname;

		if (gc_resource_lookup(name) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
					 errmsg("remote schema \"genesys\" has no table \"%s\"", name),
					 errdetail("Its tables are: %s.", names.data)));
	}

	for (i = 0; (res = gc_resource_at(i)) != NULL; i++)
	{
		StringInfoData cmd;
		const GcColumnDef *col;

		if ((stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO &&
			 !table_listed(stmt->table_list, res->name)) ||
			(stmt->list_type == FDW_IMPORT_SCHEMA_EXCEPT &&
			 table_listed(stmt->table_list, res->name)))
			continue;

		initStringInfo(&cmd);
		appendStringInfo(&cmd, "CREATE FOREIGN TABLE %s (\n", quote_identifier(res->name));
		for (col = res->columns; col->name; col++)
			appendStringInfo(&cmd, "  %s %s%s\n", quote_identifier(col->name),
							 col->type, col[1].name ? "," : "");
		appendStringInfo(&cmd, ") SERVER %s OPTIONS (resource %s)",
						 quote_identifier(server->servername),
						 quote_literal_cstr(res->name));
		commands = lappend(commands, cmd.data);
	}
	return commands;
}

/*
 * gc_fdw_handler
 *		The FdwRoutine of gc_fdw.
 */
Datum
gc_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = gcGetForeignRelSize;
	routine->GetForeignPaths = gcGetForeignPaths;
	routine->GetForeignPlan = gcGetForeignPlan;
	routine->GetForeignJoinPaths = gcGetForeignJoinPaths;
	routine->BeginForeignScan = gc_scan_begin;
	routine->IterateForeignScan = gc_scan_iterate;
	routine->ReScanForeignScan = gc_scan_rescan;
	routine->EndForeignScan = gc_scan_end;
	routine->ExplainForeignScan = gcExplainForeignScan;
	routine->ImportForeignSchema = gcImportForeignSchema;
	routine->IsForeignRelUpdatable = gcIsForeignRelUpdatable;
	routine->AddForeignUpdateTargets = gcAddForeignUpdateTargets;
	routine->PlanForeignModify = gcPlanForeignModify;
	routine->BeginForeignModify = gcBeginForeignModify;
	routine->ExecForeignUpdate = gcExecForeignUpdate;
	routine->EndForeignModify = gcEndForeignModify;
	routine->ExplainForeignModify = gcExplainForeignModify;

	PG_RETURN_POINTER(routine);
}

/*
 * _PG_init
 *		Library load: global libcurl setup, the token cache's syscache
 *		callbacks, and the settings (GUCs) each file defines.  The gc_fdw.
 *		prefix is then reserved: a misspelt gc_fdw.* setting is reported
 *		rather than kept as a placeholder.
 */
void
_PG_init(void)
{
	gc_http_init();
	gc_auth_init();
	gc_progress_init();
	gc_modify_init();
	MarkGUCPrefixReserved("gc_fdw");
}
