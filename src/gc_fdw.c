/*-------------------------------------------------------------------------
 *
 * gc_fdw.c
 *		  Foreign data wrapper handler and callbacks for Genesys Cloud CX:
 *		  planning (size, paths, plan), scanning (begin, iterate, rescan,
 *		  end) and EXPLAIN.
 *
 * The scanner pages through the API one page at a time: each page is
 * fetched and parsed into batch_cxt, which is reset before the next page,
 * and each row is converted in temp_cxt, reset per row, so memory stays
 * flat however many rows a scan returns.  HTTP, authentication, option
 * parsing, request building and JSON conversion live in their own files.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "foreign/fdwapi.h"
#include "gc_fdw.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/lsyscache.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(gc_fdw_handler);

/* The API's longest interval for a details query without filters */
#define GC_MAX_WINDOW_DAYS 7

/* Planner estimates until statistics options exist */
#define GC_DEFAULT_USERS_ROWS 1000.0
#define GC_DEFAULT_CONVERSATIONS_PER_DAY 1000.0
#define GC_STARTUP_COST 100.0
#define GC_COST_PER_PAGE 50.0

/* Planner state kept in baserel->fdw_private */
typedef struct GcRelInfo
{
	GcTableOptions table_opts;
	AttrNumber	start_attno;	/* column reading conversationStart */
	AttrNumber	state_attno;	/* column reading state (users) */
	List	   *bounds;			/* GcPushedCond of conversation_start */
	List	   *state_conds;	/* GcPushedCond of state = value */
} GcRelInfo;

/*
 * Indexes of ForeignScan.fdw_private.  fdw_exprs holds the bound values
 * followed by the state values, in the same order as the kinds list.
 */
enum GcFdwScanPrivateIndex
{
	GcPrivBoundKinds,			/* Integer list: GcBoundKind per bound */
	GcPrivStateCount,			/* Integer: number of state values */
	GcPrivAttrsUsed,			/* Integer list of attnums the query needs */
	GcPrivExplain,				/* String list: pushed clauses as SQL */
	GcPrivStartColumn			/* String: column reading conversationStart */
};

/* Execution state of one foreign scan */
typedef struct GcScanState
{
	Relation	rel;
	GcConnection *conn;
	GcTableOptions table_opts;
	GcColumnMap *map;
	const char *array_key;		/* "entities" or "conversations" */

	char	   *start_column;	/* column bounding the interval, "" if none */
	List	   *bound_kinds;	/* GcBoundKind per bound expr */
	List	   *bound_states;	/* ExprState per bound */
	List	   *state_states;	/* ExprState per state value */

	MemoryContext window_cxt;	/* per interval window: dedup table */
	MemoryContext batch_cxt;	/* per page: body and parsed JSON */
	MemoryContext temp_cxt;		/* per row */

	bool		started;
	bool		finished;

	/* users */
	char	   *state_filter;	/* NULL = all states */
	bool		want_last_login;

	/* conversations: the interval [scan_start, scan_end) split in windows */
	TimestampTz scan_start;
	TimestampTz scan_end;
	TimestampTz win_start;
	TimestampTz win_end;
	int			windows;
	int64		window_rows;	/* rows received in this window */
	HTAB	   *seen_ids;		/* conversation ids seen in this window */

	/* current page */
	int			page_number;
	GcPage	   *page;
	int			page_rows;		/* top-level objects in the page */
	GcRowCursor *cursor;		/* rows of the page, in batch_cxt */
	bool		in_top;			/* cursor is inside an accepted top object */
	bool		last_page;		/* no page follows in this window/listing */

	GcScanStats stats;
} GcScanState;

typedef struct GcSeenId
{
	char		id[64];
} GcSeenId;

/*
 * key_reads
 *		Whether a column key reads field of the top-level object (user or
 *		conversation), written either relative to a top-level row ("state")
 *		or scoped from a nested row ("conversation:conversationStart").
 */
static bool
key_reads(const char *key, const GcResourceDef *res, const char *field)
{
	const char *top = res->kind == GC_RESOURCE_USERS ? "user:" : "conversation:";

	if (strncmp(key, top, strlen(top)) == 0)
		return strcmp(key + strlen(top), field) == 0;
	return (res->level == GC_LEVEL_USER || res->level == GC_LEVEL_CONVERSATION) &&
		strcmp(key, field) == 0;
}

/*
 * find_key_attno
 *		The first non-dropped column of rel that reads the top-level field
 *		(and has the required type, when one is given).
 */
static AttrNumber
find_key_attno(Relation rel, const GcResourceDef *res, const char *field,
			   Oid required_type)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);

		if (attr->attisdropped ||
			(OidIsValid(required_type) && attr->atttypid != required_type))
			continue;
		if (key_reads(gc_get_column_key(RelationGetRelid(rel), i + 1, res), res, field))
			return i + 1;
	}
	return InvalidAttrNumber;
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
	if (c->consttype == TIMESTAMPTZOID)
		*value = DatumGetTimestampTz(c->constvalue);
	else if (c->consttype == TIMESTAMPOID)
		*value = DatumGetTimestampTz(DirectFunctionCall1(timestamp_timestamptz,
														 c->constvalue));
	else if (c->consttype == DATEOID)
		*value = DatumGetTimestampTz(DirectFunctionCall1(date_timestamptz,
														 c->constvalue));
	else
		return false;
	return true;
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
	const GcResourceDef *res;

	gc_get_table_options(GetForeignTable(foreigntableid), &info->table_opts);
	res = info->table_opts.resource;
	if (res->kind == GC_RESOURCE_CONVERSATIONS)
		info->start_attno = find_key_attno(rel, res, "conversationStart",
										   TIMESTAMPTZOID);
	if (res->kind == GC_RESOURCE_USERS)
		info->state_attno = find_key_attno(rel, res, "state", InvalidOid);
	table_close(rel, NoLock);

	gc_classify_conditions(root, baserel, info->start_attno, info->state_attno,
						   &info->bounds, &info->state_conds);
	baserel->fdw_private = info;

	if (res->kind == GC_RESOURCE_USERS)
		baserel->rows = info->state_conds ? GC_DEFAULT_USERS_ROWS / 2 : GC_DEFAULT_USERS_ROWS;
	else
	{
		/* estimate from the interval when both ends are constants */
		TimestampTz lo = 0;
		TimestampTz hi = 0;
		bool		have_lo = false;
		bool		have_hi = false;
		double		days = 1.0;
		ListCell   *lc;

		foreach(lc, info->bounds)
		{
			GcPushedCond *cond = lfirst(lc);
			TimestampTz v;

			if (!const_timestamptz(cond->expr, &v))
				continue;
			if (cond->kind != GC_BOUND_UPPER && cond->kind != GC_BOUND_UPPER_STRICT)
			{
				lo = have_lo ? Max(lo, v) : v;
				have_lo = true;
			}
			if (cond->kind != GC_BOUND_LOWER && cond->kind != GC_BOUND_LOWER_STRICT)
			{
				hi = have_hi ? Min(hi, v) : v;
				have_hi = true;
			}
		}
		if (have_lo && have_hi)
			days = Max((double) (hi - lo) / USECS_PER_DAY, 1.0 / 24);
		baserel->rows = Max(days * (info->table_opts.rows_per_day > 0 ?
									info->table_opts.rows_per_day :
									GC_DEFAULT_CONVERSATIONS_PER_DAY * res->rows_per_top),
							1.0);
	}

	/*
	 * The interval already accounts for the bounds: only the other quals
	 * narrow the estimate further.
	 */
	{
		List	   *other_quals = NIL;
		ListCell   *lc;
		ListCell   *lb;

		foreach(lc, baserel->baserestrictinfo)
		{
			RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
			bool		is_bound = false;

			foreach(lb, info->bounds)
				if (((GcPushedCond *) lfirst(lb))->clause == ri->clause)
					is_bound = true;
			if (!is_bound)
				other_quals = lappend(other_quals, ri);
		}
		baserel->rows = clamp_row_est(baserel->rows *
									  clauselist_selectivity(root, other_quals, 0,
															 JOIN_INNER, NULL));
	}
}

/*
 * gcGetForeignPaths
 *		One path: a paged scan of the whole (narrowed) listing.
 */
static void
gcGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	GcRelInfo  *info = baserel->fdw_private;
	double		fetched = Max(baserel->rows, 1.0);
	double		pages = ceil(fetched / info->table_opts.page_size);
	Cost		total;

	total = GC_STARTUP_COST + pages * GC_COST_PER_PAGE +
		fetched * (cpu_tuple_cost * 10);
	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 GC_STARTUP_COST, total,
									 NIL, NULL, NULL, NIL));
}

/*
 * deparse_clause
 *		SQL text of a pushed clause for EXPLAIN.
 */
static char *
deparse_clause(PlannerInfo *root, RelOptInfo *baserel, Expr *clause)
{
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	List	   *context = deparse_context_for(get_rel_name(rte->relid), rte->relid);
	Node	   *copy = copyObject((Node *) clause);

	/* the deparse context holds one relation: renumber the copy's Vars */
	ChangeVarNodes(copy, baserel->relid, 1, 0);
	return deparse_expression(copy, context, false, false);
}

/*
 * gcGetForeignPlan
 *		Every restriction stays a local qual (the API is only asked for a
 *		superset); the bound and state values travel in fdw_exprs so the
 *		executor can evaluate them once.
 */
static ForeignScan *
gcGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses,
				 Plan *outer_plan)
{
	GcRelInfo  *info = baserel->fdw_private;
	List	   *fdw_exprs = NIL;
	List	   *kinds = NIL;
	List	   *explain = NIL;
	List	   *attrs = NIL;
	Bitmapset  *attrs_used = NULL;
	ListCell   *lc;
	int			i;

	foreach(lc, info->bounds)
	{
		GcPushedCond *cond = lfirst(lc);

		fdw_exprs = lappend(fdw_exprs, cond->expr);
		kinds = lappend_int(kinds, cond->kind);
		explain = lappend(explain, makeString(deparse_clause(root, baserel, cond->clause)));
	}
	foreach(lc, info->state_conds)
	{
		GcPushedCond *cond = lfirst(lc);

		fdw_exprs = lappend(fdw_exprs, cond->expr);
		explain = lappend(explain, makeString(deparse_clause(root, baserel, cond->clause)));
	}

	/* columns the query reads, so unused ones are not converted */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs_used);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause,
					   baserel->relid, &attrs_used);
	i = -1;
	while ((i = bms_next_member(attrs_used, i)) >= 0)
		attrs = lappend_int(attrs, i + FirstLowInvalidHeapAttributeNumber);

	scan_clauses = extract_actual_clauses(scan_clauses, false);

	return make_foreignscan(tlist, scan_clauses, baserel->relid, fdw_exprs,
							list_make5(kinds,
									   makeInteger(list_length(info->state_conds)),
									   attrs, explain,
									   makeString(info->start_attno != InvalidAttrNumber ?
												  get_attname(foreigntableid, info->start_attno, false) :
												  pstrdup(""))),
							NIL, NIL, outer_plan);
}

/*
 * gcBeginForeignScan
 *		Set up the scan's memory contexts and column conversions.  Nothing
 *		is sent to the API until the first row is asked for, and nothing at
 *		all under plain EXPLAIN.
 */
static void
gcBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	GcScanState *st = palloc0(sizeof(GcScanState));
	List	   *private = fsplan->fdw_private;
	List	   *kinds = list_nth(private, GcPrivBoundKinds);
	int			nstates = intVal(list_nth(private, GcPrivStateCount));
	List	   *attrs = list_nth(private, GcPrivAttrsUsed);
	Bitmapset  *attrs_used = NULL;
	ForeignTable *table;
	RangeTblEntry *rte;
	ListCell   *lc;
	int			i;

	node->fdw_state = st;
	st->rel = node->ss.ss_currentRelation;
	table = GetForeignTable(RelationGetRelid(st->rel));
	gc_get_table_options(table, &st->table_opts);
	st->array_key = st->table_opts.resource->kind == GC_RESOURCE_USERS
		? "entities" : "conversations";

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	/* the user whose mapping is used: the view owner's under a view */
	rte = exec_rt_fetch(fsplan->scan.scanrelid, estate);
	st->conn = gc_get_connection(table, OidIsValid(rte->checkAsUser) ?
								 rte->checkAsUser : GetUserId());

	foreach(lc, attrs)
	{
		int			attno = lfirst_int(lc);

		attrs_used = bms_add_member(attrs_used, attno - FirstLowInvalidHeapAttributeNumber);
	}
	st->map = gc_column_map_create(st->rel, st->table_opts.resource, attrs_used);
	st->want_last_login = gc_column_map_uses_key(st->map, "dateLastLogin");

	st->bound_kinds = kinds;
	st->start_column = strVal(list_nth(private, GcPrivStartColumn));
	i = 0;
	foreach(lc, fsplan->fdw_exprs)
	{
		ExprState  *es = ExecInitExpr((Expr *) lfirst(lc), (PlanState *) node);

		if (i < list_length(kinds))
			st->bound_states = lappend(st->bound_states, es);
		else if (i < list_length(kinds) + nstates)
			st->state_states = lappend(st->state_states, es);
		i++;
	}

	st->window_cxt = AllocSetContextCreate(estate->es_query_cxt,
										   "gc_fdw window", ALLOCSET_DEFAULT_SIZES);
	st->batch_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "gc_fdw page", ALLOCSET_DEFAULT_SIZES);
	st->temp_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "gc_fdw row", ALLOCSET_SMALL_SIZES);
}

/*
 * eval_timestamptz
 *		Evaluate a bound value as timestamptz; false when it is NULL.
 *		date and timestamp values convert as the cross-type comparison
 *		operators do (in the session time zone).
 */
static bool
eval_timestamptz(ExprState *es, ExprContext *econtext, TimestampTz *value)
{
	bool		isnull;
	Datum		d = ExecEvalExpr(es, econtext, &isnull);
	Oid			type = exprType((Node *) es->expr);

	if (isnull)
		return false;
	if (type == TIMESTAMPOID)
		d = DirectFunctionCall1(timestamp_timestamptz, d);
	else if (type == DATEOID)
		d = DirectFunctionCall1(date_timestamptz, d);
	*value = DatumGetTimestampTz(d);
	return true;
}

/*
 * start_conversations_scan
 *		Evaluate the conversation_start bounds into [scan_start, scan_end).
 *		Refuses to run without both bounds: that would read the whole history.
 */
static void
start_conversations_scan(ForeignScanState *node, GcScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	bool		have_lo = false;
	bool		have_hi = false;
	TimestampTz lo = 0;
	TimestampTz hi = 0;
	ListCell   *lk;
	ListCell   *le;

	forboth(lk, st->bound_kinds, le, st->bound_states)
	{
		GcBoundKind kind = lfirst_int(lk);
		TimestampTz v;
		TimestampTz v_end;

		if (!eval_timestamptz(lfirst(le), econtext, &v))
		{
			/* comparison with NULL: no row can qualify */
			st->finished = true;
			return;
		}
		if (TIMESTAMP_NOT_FINITE(v))
		{
			/*
			 * "> -infinity" or "< infinity" bounds nothing (the bound stays
			 * missing); any other infinite bound excludes every row.
			 */
			bool		is_lower = (kind == GC_BOUND_LOWER || kind == GC_BOUND_LOWER_STRICT);
			bool		is_upper = (kind == GC_BOUND_UPPER || kind == GC_BOUND_UPPER_STRICT);

			if (!((TIMESTAMP_IS_NOBEGIN(v) && is_lower) ||
				  (TIMESTAMP_IS_NOEND(v) && is_upper)))
				st->finished = true;
			continue;
		}
		v_end = v + 1;			/* exclusive end covering v itself */
		switch (kind)
		{
			case GC_BOUND_LOWER:
			case GC_BOUND_LOWER_STRICT:
				lo = have_lo ? Max(lo, v) : v;
				have_lo = true;
				break;
			case GC_BOUND_UPPER:
				hi = have_hi ? Min(hi, v_end) : v_end;
				have_hi = true;
				break;
			case GC_BOUND_UPPER_STRICT:
				hi = have_hi ? Min(hi, v) : v;
				have_hi = true;
				break;
			case GC_BOUND_EQUAL:
				lo = have_lo ? Max(lo, v) : v;
				hi = have_hi ? Min(hi, v_end) : v_end;
				have_lo = have_hi = true;
				break;
		}
	}
	if (st->finished)
		return;

	if (st->start_column[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("foreign table \"%s\" has no timestamptz column reading the JSON key \"conversationStart\"",
						RelationGetRelationName(st->rel)),
				 errdetail("Genesys Cloud conversation details are read by interval, taken from bounds on that column."),
				 errhint("ALTER FOREIGN TABLE %s ADD COLUMN conversation_start timestamptz;",
						 quote_identifier(RelationGetRelationName(st->rel)))));
	if (!have_lo || !have_hi)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("a scan of foreign table \"%s\" needs %s bound on %s",
						RelationGetRelationName(st->rel),
						!have_lo && !have_hi ? "a lower and an upper" :
						!have_lo ? "a lower" : "an upper",
						quote_identifier(st->start_column)),
				 errdetail("Genesys Cloud conversation details are read by interval; an unbounded scan would read the organization's whole history."),
				 errhint("Add a condition such as WHERE %s >= now() - interval '1 day' AND %s < now().",
						 quote_identifier(st->start_column),
						 quote_identifier(st->start_column))));

	if (lo >= hi)
	{
		st->finished = true;
		return;
	}
	st->scan_start = lo;
	st->scan_end = hi;
	st->win_end = lo;			/* the first window starts here */
}

/*
 * next_window
 *		Advance to the next interval window: at most GC_MAX_WINDOW_DAYS long
 *		and, past the first, starting at UTC midnight, so windows partition
 *		the scan interval and each conversation belongs to exactly one of them.
 */
static bool
next_window(GcScanState *st)
{
	TimestampTz day_start;
	HASHCTL		ctl;

	if (st->win_end >= st->scan_end)
		return false;
	st->win_start = st->win_end;
	day_start = st->win_start - (st->win_start % USECS_PER_DAY +
								 (st->win_start % USECS_PER_DAY < 0 ? USECS_PER_DAY : 0));
	st->win_end = Min(st->scan_end, day_start + GC_MAX_WINDOW_DAYS * USECS_PER_DAY);
	st->windows++;
	st->window_rows = 0;
	st->page_number = 0;
	st->last_page = false;

	MemoryContextReset(st->window_cxt);
	ctl.keysize = sizeof(((GcSeenId *) NULL)->id);
	ctl.entrysize = sizeof(GcSeenId);
	ctl.hcxt = st->window_cxt;
	st->seen_ids = hash_create("gc_fdw seen conversation ids", 1024, &ctl,
							   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	return true;
}

/*
 * is_last_page
 *		Whether the page just parsed ends the listing (users) or the window
 *		(conversations), without trusting the requested page size: the API
 *		may return fewer rows per page than asked for.
 *
 *		users: the listing says so itself, by having no nextUri; an empty
 *		page also ends it.  A 200 without an entities array is not a
 *		listing at all, and is an error rather than a silent end.
 *
 *		conversations: a page past the end has no conversations; a short
 *		page ends the window only once the window has returned totalHits
 *		rows (totalHits is approximate: when in doubt, ask once more).
 */
static bool
is_last_page(GcScanState *st)
{
	char	   *total;

	if (st->table_opts.resource->kind == GC_RESOURCE_USERS)
	{
		if (!gc_page_has_key(st->page, "entities"))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_REPLY_HANDLE),
					 errmsg("Genesys Cloud answered GET /api/v2/users (page %d) without a user listing",
							st->page_number),
					 errdetail("The response has no \"entities\" array."),
					 errhint("A proxy between PostgreSQL and Genesys Cloud may be rewriting responses.")));
		return st->page_rows == 0 || !gc_page_has_key(st->page, "nextUri");
	}

	if (st->page_rows == 0)
		return true;
	if (st->page_rows >= st->table_opts.page_size)
		return false;
	total = gc_page_string(st->page, "totalHits");
	return total != NULL && st->window_rows >= strtoll(total, NULL, 10);
}

/*
 * fetch_next_page
 *		Fetch and parse the next page into batch_cxt, moving to the next
 *		window when the current one is done.  False when the scan is over.
 */
static bool
fetch_next_page(GcScanState *st)
{
	const GcResourceDef *res = st->table_opts.resource;
	MemoryContext oldcxt;
	StringInfoData req;
	GcHttpResponse resp;

	for (;;)
	{
		if (res->kind == GC_RESOURCE_CONVERSATIONS &&
			(st->windows == 0 || st->last_page))
		{
			if (!next_window(st))
				return false;
		}
		else if (st->last_page)
			return false;

		MemoryContextReset(st->batch_cxt);
		st->page = NULL;
		st->cursor = NULL;
		oldcxt = MemoryContextSwitchTo(st->batch_cxt);
		st->page_number++;
		initStringInfo(&req);
		if (res->kind == GC_RESOURCE_USERS)
		{
			gc_build_users_query(&req, st->state_filter, st->table_opts.page_size,
								 st->page_number, st->want_last_login);
			gc_api_call(st->conn, "GET", req.data, NULL, &st->stats, &resp);
		}
		else
		{
			gc_build_details_query(&req, st->win_start, st->win_end,
								   st->table_opts.page_size, st->page_number);
			gc_api_call(st->conn, res->method, res->path, req.data,
						&st->stats, &resp);
		}
		st->page = gc_page_parse(st->batch_cxt, resp.body, resp.body_len,
								 psprintf("%s %s (page %d)", res->method,
										  res->path, st->page_number));
		MemoryContextSwitchTo(oldcxt);

		st->page_rows = gc_page_row_count(st->page, st->array_key);
		oldcxt = MemoryContextSwitchTo(st->batch_cxt);
		st->cursor = gc_cursor_create(st->page, st->array_key,
									  st->table_opts.resource->level);
		MemoryContextSwitchTo(oldcxt);
		st->stats.pages++;
		st->stats.rows_received += st->page_rows;
		st->window_rows += st->page_rows;
		st->last_page = is_last_page(st);
		if (st->page_rows > 0)
			return true;
	}
}

/*
 * accept_conversation
 *		Whether the cursor's current conversation belongs to the current
 *		window (the API returns whole UTC days) and was not already returned
 *		by it (pages shift under live traffic).  Conversations outside the
 *		window are another window's or outside the scan interval altogether.
 *		A rejected conversation's participants, sessions, segments and
 *		metrics are skipped with it.
 */
static bool
accept_conversation(GcScanState *st)
{
	char	   *start = gc_cursor_top_string(st->cursor, "conversationStart");
	char	   *id = gc_cursor_top_string(st->cursor, "conversationId");
	bool		found;

	if (start)
	{
		TimestampTz ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																 CStringGetDatum(start),
																 ObjectIdGetDatum(InvalidOid),
																 Int32GetDatum(-1)));

		if (ts < st->win_start || ts >= st->win_end)
			return false;
	}
	if (id && strlen(id) < sizeof(((GcSeenId *) NULL)->id))
	{
		hash_search(st->seen_ids, id, HASH_ENTER, &found);
		if (found)
		{
			st->stats.duplicates++;
			return false;
		}
	}
	return true;
}

/*
 * start_scan
 *		Evaluate the pushed values (once per scan or rescan).
 */
static void
start_scan(ForeignScanState *node, GcScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext oldcxt;
	ListCell   *lc;

	st->started = true;
	st->finished = false;
	st->windows = 0;
	st->page_number = 0;
	st->last_page = false;
	st->page = NULL;
	st->page_rows = 0;
	st->cursor = NULL;
	st->in_top = false;
	st->state_filter = NULL;

	oldcxt = MemoryContextSwitchTo(st->window_cxt);
	if (st->table_opts.resource->kind == GC_RESOURCE_CONVERSATIONS)
		start_conversations_scan(node, st);
	MemoryContextSwitchTo(oldcxt);

	foreach(lc, st->state_states)
	{
		bool		isnull;
		Datum		d = ExecEvalExpr(lfirst(lc), econtext, &isnull);
		char	   *state;

		if (isnull)
		{
			st->finished = true;
			break;
		}
		state = TextDatumGetCString(d);
		/* only the states the API knows narrow the request */
		if (strcmp(state, "active") == 0 || strcmp(state, "inactive") == 0 ||
			strcmp(state, "deleted") == 0)
			st->state_filter = MemoryContextStrdup(node->ss.ps.state->es_query_cxt, state);
	}
}

/*
 * gcIterateForeignScan
 *		Return the next row, fetching the next page when the current one is
 *		used up.
 */
static TupleTableSlot *
gcIterateForeignScan(ForeignScanState *node)
{
	GcScanState *st = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext oldcxt;

	ExecClearTuple(slot);
	if (!st->started)
		start_scan(node, st);
	if (st->finished)
		return slot;

	for (;;)
	{
		MemoryContextReset(st->temp_cxt);
		oldcxt = MemoryContextSwitchTo(st->temp_cxt);

		if (!st->in_top)
		{
			/* next top-level object (user or conversation), or next page */
			if (st->cursor == NULL || !gc_cursor_next_top(st->cursor))
			{
				MemoryContextSwitchTo(oldcxt);
				st->cursor = NULL;
				if (!fetch_next_page(st))
				{
					st->finished = true;
					MemoryContextReset(st->batch_cxt);
					return slot;
				}
				continue;
			}
			if (st->table_opts.resource->kind == GC_RESOURCE_CONVERSATIONS &&
				!accept_conversation(st))
			{
				MemoryContextSwitchTo(oldcxt);
				continue;
			}
			st->in_top = true;
		}

		/* next row under it: itself, or its nested participants, ... */
		if (!gc_cursor_next_row(st->cursor))
		{
			st->in_top = false;
			MemoryContextSwitchTo(oldcxt);
			continue;
		}
		gc_cursor_values(st->cursor, st->map, slot->tts_values, slot->tts_isnull);
		MemoryContextSwitchTo(oldcxt);
		return ExecStoreVirtualTuple(slot);
	}
}

/*
 * gcReScanForeignScan
 *		Start over: the pushed values may have changed (parameters).
 */
static void
gcReScanForeignScan(ForeignScanState *node)
{
	GcScanState *st = node->fdw_state;

	st->started = false;
	MemoryContextReset(st->batch_cxt);
	MemoryContextReset(st->temp_cxt);
	MemoryContextReset(st->window_cxt);
	st->seen_ids = NULL;
	st->page = NULL;
	st->cursor = NULL;
	st->in_top = false;
}

/*
 * gcEndForeignScan
 *		Free the page (json-c memory) now rather than at query end.
 */
static void
gcEndForeignScan(ForeignScanState *node)
{
	GcScanState *st = node->fdw_state;

	if (st == NULL || st->batch_cxt == NULL)
		return;
	MemoryContextDelete(st->batch_cxt);
	MemoryContextDelete(st->temp_cxt);
	MemoryContextDelete(st->window_cxt);
	st->batch_cxt = st->temp_cxt = st->window_cxt = NULL;
}

/*
 * gcExplainForeignScan
 *		The request the scan sends and, under ANALYZE, what it cost.
 */
static void
gcExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	GcScanState *st = node->fdw_state;
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	List	   *explain = list_nth(fsplan->fdw_private, GcPrivExplain);
	const GcResourceDef *res = st->table_opts.resource;
	ListCell   *lc;

	ExplainPropertyText("Genesys Request",
						psprintf("%s %s", res->method, res->path), es);
	ExplainPropertyInteger("Page Size", NULL, st->table_opts.page_size, es);
	if (es->verbose)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		foreach(lc, explain)
			appendStringInfo(&buf, "%s%s", buf.len ? " AND " : "", strVal(lfirst(lc)));
		if (res->kind == GC_RESOURCE_CONVERSATIONS)
			ExplainPropertyText("Genesys Interval From", buf.len ? buf.data : "(none)", es);
		else
			ExplainPropertyText("Genesys State From", buf.len ? buf.data : "(none: state=any)", es);
	}

	if (es->analyze && st->conn)
	{
		if (res->kind == GC_RESOURCE_CONVERSATIONS)
			ExplainPropertyInteger("Interval Windows", NULL, st->windows, es);
		else
			ExplainPropertyText("Genesys State Sent",
								st->state_filter ? st->state_filter : "any", es);
		ExplainPropertyInteger("API Requests", NULL, st->stats.requests, es);
		ExplainPropertyInteger("Pages", NULL, st->stats.pages, es);
		ExplainPropertyInteger("Rows Received", NULL, st->stats.rows_received, es);
		ExplainPropertyInteger("Duplicates Dropped", NULL, st->stats.duplicates, es);
		ExplainPropertyInteger("Retries", NULL, st->stats.retries, es);
		ExplainPropertyInteger("Rate Limit Waits", NULL, st->stats.waits_429, es);
		ExplainPropertyFloat("Rate Limit Wait Time", "s", st->stats.wait_429_secs, 1, es);
		ExplainPropertyFloat("Retry Backoff Time", "s", st->stats.backoff_secs, 1, es);
		ExplainPropertyInteger("Token Requests", NULL, st->stats.token_requests, es);
		ExplainPropertyInteger("Re-authentications", NULL, st->stats.reauths, es);
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
	routine->BeginForeignScan = gcBeginForeignScan;
	routine->IterateForeignScan = gcIterateForeignScan;
	routine->ReScanForeignScan = gcReScanForeignScan;
	routine->EndForeignScan = gcEndForeignScan;
	routine->ExplainForeignScan = gcExplainForeignScan;
	routine->ImportForeignSchema = gcImportForeignSchema;

	PG_RETURN_POINTER(routine);
}

/*
 * _PG_init
 *		Library load: global libcurl setup and the token cache's syscache
 *		callbacks.
 */
void
_PG_init(void)
{
	gc_http_init();
	gc_auth_init();
}
