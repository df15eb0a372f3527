/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Executing a gc_fdw foreign scan: evaluating the pushed conditions
 *		  once per scan, walking the request series (interval windows,
 *		  conversation id lookups, users pages), paging, and turning each
 *		  page's objects into rows; plus the EXPLAIN output that needs the
 *		  scan's state.
 *
 * Each page is fetched and parsed into batch_cxt, reset before the next
 * page; each row is converted in temp_cxt, reset per row; the de-dup table
 * lives in window_cxt, reset per window; what the conditions evaluate to
 * lives in scan_cxt, reset per (re)scan.  Nothing that grows with the
 * result outlives a page, bar the de-dup table bounded by the window.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "gc_fdw.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/* The API's longest interval for a details query without / with filters */
#define GC_MAX_WINDOW_DAYS 7
#define GC_MAX_FILTERED_WINDOW_DAYS 31

#define GC_JOBS_API_PATH "/api/v2/analytics/conversations/details/jobs"

/* Longest window of one async job */
#define GC_MAX_JOB_WINDOW_DAYS 31

/* Ids per lookup request (conversations by id, users by id) */
#define GC_IDS_PER_REQUEST 100

/* What the scan sends */
typedef enum GcScanMode
{
	GC_MODE_USERS,				/* GET /api/v2/users pages (per id chunk) */
	GC_MODE_INTERVAL,			/* details query, per interval window */
	GC_MODE_JOBS,				/* async jobs API, one job per window */
	GC_MODE_LOOKUP				/* conversations by id, per id chunk */
} GcScanMode;

/* Execution state of one foreign scan */
typedef struct GcScanState
{
	Relation	rel;
	GcConnection *conn;			/* NULL under plain EXPLAIN */
	GcTableOptions table_opts;
	GcColumnMap *map;
	const char *array_key;		/* "entities" or "conversations" */
	char	   *start_column;	/* column bounding the interval, "" if none */
	bool		descending;		/* ORDER BY conversation_start DESC */
	bool		sorted;			/* an ORDER BY conversation_start path */

	List	   *conds;			/* GcPushedCond */
	List	   *cond_states;	/* ExprState per cond, NULL without value */

	MemoryContext scan_cxt;		/* per (re)scan: evaluated conditions */
	MemoryContext window_cxt;	/* per window: de-dup table */
	MemoryContext batch_cxt;	/* per page: body and parsed JSON */
	MemoryContext ahead_cxt;	/* per window: bodies of pages in flight */
	MemoryContext temp_cxt;		/* per row */

	bool		started;
	bool		finished;
	bool		empty;			/* the conditions exclude every row */
	GcScanMode	mode;

	/* evaluated conditions */
	char	   *state_filter;	/* users: NULL = all states */
	bool		want_last_login;
	List	   *ids;			/* users or conversation ids to look up */
	List	   *conversation_filters;	/* GcFilterClause */
	List	   *segment_filters;	/* GcFilterClause */
	int			max_window_days;

	/* the interval [scan_start, scan_end) and the current window */
	TimestampTz scan_start;
	TimestampTz scan_end;
	TimestampTz win_start;
	TimestampTz win_end;
	int			windows;		/* windows (or id chunks) started */
	List	   *chunk_ids;		/* ids of the current chunk */
	int64		window_rows;	/* rows received in this window */
	HTAB	   *seen_ids;		/* conversation ids seen in this window */
	List	   *pending;		/* halves of split windows still to read */
	HTAB	   *carried_ids;	/* ids a split window returned before it split */
	int			splits;			/* windows split for the API's caps */

	/* jobs mode: the current window's job */
	char	   *job_id;			/* in window_cxt; NULL before submission */
	char	   *job_cursor;		/* next results page, in window_cxt */
	TimestampTz availability;	/* dataAvailabilityDate, 0 if not asked */

	/* current page */
	int			page_number;
	GcPage	   *page;
	int			page_rows;		/* top-level objects in the page */
	GcRowCursor *cursor;		/* rows of the page, in batch_cxt */
	bool		in_top;			/* cursor is inside an accepted top object */
	bool		last_page;		/* no page follows in this window */
	char		prev_first[64];	/* first and last conversation ids of the */
	char		prev_last[64];	/* previous details page of the series */
	bool		refetched;		/* the current page was asked for twice */

	/*
	 * Concurrent paging: once the first page of a request series says how
	 * many pages it holds, up to "concurrency" pages are kept in flight
	 * ahead of the one being read, and read in page order.
	 */
	int			series;			/* bumped whenever page numbers restart */
	int			series_pages;	/* pages of the series (0: unknown) */
	GcApiAhead *ahead[GC_MAX_CONCURRENCY];	/* page n in ahead[n % size] */
	int			ahead_first;	/* pages ahead_first .. ahead_next - 1 */
	int			ahead_next;		/* are in flight (or answered, unread) */
	int			ahead_series;	/* the series they belong to */
	MemoryContextCallback ahead_cb; /* gives them up when ahead_cxt goes */
	int64		ahead_sent;		/* pages requested ahead, for EXPLAIN */
	int64		ahead_unused;	/* ... and never read (LIMIT, split) */

	GcScanStats stats;
	uint64		progress_id;	/* this scan in the gc_fdw.progress view */
} GcScanState;

typedef struct GcSeenId
{
	char		id[64];
} GcSeenId;

static void abandon_ahead(void *arg);

/*
 * gc_scan_begin
 *		Set up the scan's memory contexts, conditions and column
 *		conversions.  Nothing is sent to the API until the first row is
 *		asked for, and nothing at all under plain EXPLAIN.
 */
void
gc_scan_begin(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	GcScanState *st = palloc0(sizeof(GcScanState));
	List	   *private = fsplan->fdw_private;
	Bitmapset  *attrs_used = NULL;
	ForeignTable *table;
	RangeTblEntry *rte;
	ListCell   *lc;

	node->fdw_state = st;
	st->rel = node->ss.ss_currentRelation;
	table = GetForeignTable(RelationGetRelid(st->rel));
	gc_get_table_options(table, &st->table_opts);
	st->array_key = st->table_opts.resource->kind == GC_RESOURCE_USERS
		? "entities" : "conversations";
	st->start_column = strVal(list_nth(private, GcPrivStartColumn));
	st->descending = intVal(list_nth(private, GcPrivDescending)) == 2;
	st->sorted = intVal(list_nth(private, GcPrivDescending)) != 0;
	st->conds = gc_deserialize_conds(list_nth(private, GcPrivConds), fsplan->fdw_exprs);
	foreach(lc, st->conds)
	{
		GcPushedCond *cond = lfirst(lc);

		st->cond_states = lappend(st->cond_states,
								  cond->expr ? ExecInitExpr(cond->expr, (PlanState *) node) : NULL);
	}
	st->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "gc_fdw scan", ALLOCSET_SMALL_SIZES);

	/* the mode the plan implies, refined when the conditions are evaluated */
	st->mode = st->table_opts.resource->kind == GC_RESOURCE_USERS ? GC_MODE_USERS
		: GC_MODE_INTERVAL;
	foreach(lc, st->conds)
		if (((GcPushedCond *) lfirst(lc))->kind == GC_PUSH_CONVERSATION_ID)
			st->mode = GC_MODE_LOOKUP;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	/* the user whose mapping is used: the view owner's under a view */
	rte = exec_rt_fetch(fsplan->scan.scanrelid, estate);
	st->conn = gc_get_connection(table, OidIsValid(rte->checkAsUser) ?
								 rte->checkAsUser : GetUserId());

	foreach(lc, (List *) list_nth(private, GcPrivAttrsUsed))
		attrs_used = bms_add_member(attrs_used,
									lfirst_int(lc) - FirstLowInvalidHeapAttributeNumber);
	st->map = gc_column_map_create(st->rel, st->table_opts.resource, attrs_used);
	st->want_last_login = gc_column_map_uses_key(st->map, "dateLastLogin");

	st->window_cxt = AllocSetContextCreate(estate->es_query_cxt,
										   "gc_fdw window", ALLOCSET_DEFAULT_SIZES);
	st->batch_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "gc_fdw page", ALLOCSET_DEFAULT_SIZES);
	st->temp_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "gc_fdw row", ALLOCSET_SMALL_SIZES);
	st->ahead_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "gc_fdw pages ahead", ALLOCSET_DEFAULT_SIZES);
	st->ahead_cb.func = abandon_ahead;
	st->ahead_cb.arg = st;
	MemoryContextRegisterResetCallback(st->ahead_cxt, &st->ahead_cb);
}

/*
 * value_strings
 *		The text of a condition's value: one string, or one per non-null
 *		array element.  *isnull is set for a NULL scalar (no row can match).
 */
static List *
value_strings(ExprState *es, ExprContext *econtext, GcValueShape shape,
			  bool *isnull)
{
	Datum		d = ExecEvalExpr(es, econtext, isnull);
	Oid			type = exprType((Node *) es->expr);
	Oid			outfunc;
	bool		varlena;
	List	   *out = NIL;

	if (*isnull)
		return NIL;
	if (shape == GC_VALUE_SCALAR)
	{
		getTypeOutputInfo(type, &outfunc, &varlena);
		return list_make1(OidOutputFunctionCall(outfunc, d));
	}
	else
	{
		ArrayType  *arr = DatumGetArrayTypeP(d);
		Oid			elemtype = ARR_ELEMTYPE(arr);
		int16		elemlen;
		bool		elembyval;
		char		elemalign;
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int			i;

		get_typlenbyvalalign(elemtype, &elemlen, &elembyval, &elemalign);
		getTypeOutputInfo(elemtype, &outfunc, &varlena);
		deconstruct_array(arr, elemtype, elemlen, elembyval, elemalign,
						  &elems, &nulls, &n);
		for (i = 0; i < n; i++)
			if (!nulls[i])
				out = lappend(out, OidOutputFunctionCall(outfunc, elems[i]));
	}
	return out;
}

/* Strings of a that are also in b (for two id conditions) */
static List *
intersect_strings(List *a, List *b)
{
	List	   *out = NIL;
	ListCell   *la;
	ListCell   *lb;

	foreach(la, a)
		foreach(lb, b)
			if (strcmp(lfirst(la), lfirst(lb)) == 0)
			{
				out = lappend(out, lfirst(la));
				break;
			}
	return out;
}

/* The list without repeated strings, order kept */
static List *
distinct_strings(List *a)
{
	List	   *out = NIL;
	ListCell   *la;
	ListCell   *lo;

	foreach(la, a)
	{
		bool		seen = false;

		foreach(lo, out)
			if (strcmp(lfirst(la), lfirst(lo)) == 0)
				seen = true;
		if (!seen)
			out = lappend(out, lfirst(la));
	}
	return out;
}

/*
 * evaluate_conditions
 *		Evaluate every pushed condition (once per scan or rescan) into the
 *		request: interval, filters, ids, state.  Returns false when no row
 *		can match (a NULL value, an empty id list, an empty interval).
 *		*have_lo / *have_hi tell which interval ends were found.
 */
static bool
evaluate_conditions(ExprContext *econtext, GcScanState *st, bool *have_lo,
					bool *have_hi)
{
	bool		have_ids = false;
	bool		empty = false;
	ListCell   *lc;
	ListCell   *ls;

	*have_lo = *have_hi = false;
	st->ids = st->conversation_filters = st->segment_filters = NIL;
	st->state_filter = NULL;

	forboth(lc, st->conds, ls, st->cond_states)
	{
		GcPushedCond *cond = lfirst(lc);
		ExprState  *es = lfirst(ls);
		bool		isnull = false;
		List	   *values = NIL;

		if (cond->kind == GC_PUSH_BOUND)
		{
			Datum		d = ExecEvalExpr(es, econtext, &isnull);
			TimestampTz v;
			bool		is_lower = cond->bound == GC_BOUND_LOWER ||
				cond->bound == GC_BOUND_LOWER_STRICT;
			bool		is_upper = cond->bound == GC_BOUND_UPPER ||
				cond->bound == GC_BOUND_UPPER_STRICT;

			if (isnull)
			{
				empty = true;	/* comparison with NULL: no row qualifies */
				continue;
			}
			v = gc_bound_timestamptz(d, exprType((Node *) es->expr));
			if (TIMESTAMP_NOT_FINITE(v))
			{
				/*
				 * "> -infinity" or "< infinity" bounds nothing (the bound
				 * stays missing); any other infinite bound excludes every
				 * row.
				 */
				if (!((TIMESTAMP_IS_NOBEGIN(v) && is_lower) ||
					  (TIMESTAMP_IS_NOEND(v) && is_upper)))
					empty = true;
				continue;
			}
			if (!is_upper)
			{
				st->scan_start = *have_lo ? Max(st->scan_start, v) : v;
				*have_lo = true;
			}
			if (!is_lower)
			{
				/* exclusive end: "<" is v itself, "<=" and "=" include v */
				TimestampTz end = cond->bound == GC_BOUND_UPPER_STRICT ? v : v + 1;

				st->scan_end = *have_hi ? Min(st->scan_end, end) : end;
				*have_hi = true;
			}
			continue;
		}

		if (cond->shape != GC_VALUE_NONE)
		{
			values = value_strings(es, econtext, cond->shape, &isnull);
			if (isnull || (values == NIL && cond->shape == GC_VALUE_ANY))
			{
				empty = true;	/* = NULL, or IN () of nulls: nothing */
				continue;
			}
		}

		switch (cond->kind)
		{
			case GC_PUSH_STATE:
				/* only the states the API knows narrow the request */
				if (strcmp(linitial(values), "active") == 0 ||
					strcmp(linitial(values), "inactive") == 0 ||
					strcmp(linitial(values), "deleted") == 0)
					st->state_filter = linitial(values);
				break;
			case GC_PUSH_USER_ID:
			case GC_PUSH_CONVERSATION_ID:
				st->ids = have_ids ? intersect_strings(st->ids, values) : values;
				have_ids = true;
				if (st->ids == NIL)
					empty = true;
				break;
			case GC_PUSH_CONVERSATION_FILTER:
			case GC_PUSH_SEGMENT_FILTER:
				{
					List	  **target = cond->kind == GC_PUSH_SEGMENT_FILTER
						? &st->segment_filters : &st->conversation_filters;
					ListCell   *lv;

					if (cond->shape == GC_VALUE_ALL)
					{
						/* @> ARRAY[...]: each value is its own clause */
						foreach(lv, values)
						{
							GcFilterClause *fc = palloc0(sizeof(GcFilterClause));

							fc->dimension = cond->dimension;
							fc->op = cond->op;
							fc->values = list_make1(lfirst(lv));
							*target = lappend(*target, fc);
						}
					}
					else
					{
						GcFilterClause *fc = palloc0(sizeof(GcFilterClause));

						fc->dimension = cond->dimension;
						fc->op = cond->op;
						fc->values = values;
						*target = lappend(*target, fc);
					}
				}
				break;
			case GC_PUSH_BOUND:
				break;
		}
	}
	st->ids = distinct_strings(st->ids);

	if (st->table_opts.resource->kind == GC_RESOURCE_USERS)
		st->mode = GC_MODE_USERS;
	else
		st->mode = have_ids ? GC_MODE_LOOKUP : GC_MODE_INTERVAL;
	st->max_window_days = (st->conversation_filters || st->segment_filters)
		? GC_MAX_FILTERED_WINDOW_DAYS : GC_MAX_WINDOW_DAYS;
	return !empty;
}

/*
 * choose_jobs
 *		Whether an interval scan reads through the jobs API: mode 'jobs', or
 *		mode 'auto' with a range of jobs_min_days or more.  Ordered scans
 *		(ORDER BY conversation_start) always use the details query, which
 *		sorts; job results come unordered.
 */
static void
choose_jobs(GcScanState *st)
{
	GcTableOptions *o = &st->table_opts;

	if (st->mode != GC_MODE_INTERVAL || st->descending || st->sorted)
		return;
	if (o->mode == GC_READ_JOBS ||
		(o->mode == GC_READ_AUTO &&
		 st->scan_end - st->scan_start >= (TimestampTz) o->jobs_min_days * USECS_PER_DAY))
	{
		st->mode = GC_MODE_JOBS;
		st->max_window_days = GC_MAX_JOB_WINDOW_DAYS;
	}
}

/*
 * check_availability
 *		Jobs read the data lake, which lags: data after dataAvailabilityDate
 *		may be incomplete.  A range reaching past it gets a WARNING naming
 *		the date, or an ERROR with unavailable_data 'error'; never a silent
 *		partial result.
 */
static void
check_availability(GcScanState *st)
{
	st->availability = gc_jobs_availability(st->conn, &st->stats);
	gc_stats_availability(st->availability);
	if (st->scan_end <= st->availability)
		return;
	ereport(st->table_opts.unavailable_error ? ERROR : WARNING,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("the range read from foreign table \"%s\" reaches past the data the Genesys Cloud jobs API has complete",
					RelationGetRelationName(st->rel)),
			 errdetail("Jobs data is complete up to %s (dataAvailabilityDate); conversations after it may be missing.",
					   gc_format_timestamp(st->availability, false)),
			 errhint("End the range before %s, read recent data with mode 'query', or set unavailable_data '%s'.",
					 gc_format_timestamp(st->availability, false),
					 st->table_opts.unavailable_error ? "warning" : "error")));
}

/*
 * check_interval
 *		An interval scan needs both bounds: without them it would read the
 *		organization's whole history.
 */
static void
check_interval(GcScanState *st, bool have_lo, bool have_hi)
{
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
				 errhint("Add a condition such as WHERE %s >= now() - interval '1 day' AND %s < now(), or look conversations up with conversation_id = ... or IN (...).",
						 quote_identifier(st->start_column),
						 quote_identifier(st->start_column))));
}

/*
 * start_scan
 *		Evaluate the conditions and position before the first window.
 */
static void
start_scan(ForeignScanState *node, GcScanState *st)
{
	MemoryContext oldcxt;
	bool		have_lo;
	bool		have_hi;

	st->started = true;
	st->finished = false;
	st->windows = 0;
	st->page_number = 0;
	st->last_page = false;
	st->page = NULL;
	st->page_rows = 0;
	st->cursor = NULL;
	st->in_top = false;
	st->pending = NIL;
	st->splits = 0;

	MemoryContextReset(st->scan_cxt);
	oldcxt = MemoryContextSwitchTo(st->scan_cxt);
	st->empty = !evaluate_conditions(node->ss.ps.ps_ExprContext, st, &have_lo, &have_hi);
	MemoryContextSwitchTo(oldcxt);
	st->progress_id = gc_progress_scan_begin(st->rel, st->conn->server_name);

	if (st->mode == GC_MODE_INTERVAL)
	{
		if (!st->empty)
			check_interval(st, have_lo, have_hi);
		if (st->scan_start >= st->scan_end)
			st->empty = true;
		/* windows are cut from this end towards the other */
		st->win_start = st->win_end = st->descending ? st->scan_end : st->scan_start;
		choose_jobs(st);
		if (st->mode == GC_MODE_JOBS && !st->empty)
			check_availability(st);
	}
	st->finished = st->empty;
}

/* An empty table of conversation ids in window_cxt */
static HTAB *
new_id_table(GcScanState *st, const char *name)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(((GcSeenId *) NULL)->id);
	ctl.entrysize = sizeof(GcSeenId);
	ctl.hcxt = st->window_cxt;
	return hash_create(name, 1024, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* Whether the scan reads interval windows (details query or jobs) */
static bool
is_interval_mode(GcScanState *st)
{
	return st->mode == GC_MODE_INTERVAL || st->mode == GC_MODE_JOBS;
}

/* UTC midnight at or before ts */
static TimestampTz
utc_day_floor(TimestampTz ts)
{
	TimestampTz rem = ts % USECS_PER_DAY;

	return ts - (rem < 0 ? rem + USECS_PER_DAY : rem);
}

/*
 * next_window
 *		Move to the next request series: the next interval window (at most
 *		max_window_days long, cut at UTC midnights so the windows partition
 *		the interval and each conversation belongs to exactly one), the next
 *		chunk of ids, or the users listing.  False when there is none.
 */
static bool
next_window(GcScanState *st)
{
	if (is_interval_mode(st) && st->pending != NIL)
	{
		/*
		 * The other half of a split window.  Its parent's rows so far stay
		 * in carried_ids, so nothing it returned is returned again.
		 */
		TimestampTz *half = linitial(st->pending);

		st->pending = list_delete_first(st->pending);
		st->win_start = half[0];
		st->win_end = half[1];
		st->job_id = st->job_cursor = NULL;
		st->windows++;
		st->stats.windows++;
		st->window_rows = 0;
		st->page_number = 0;
		st->series++;
		st->series_pages = 0;
		st->last_page = false;
		st->prev_first[0] = st->prev_last[0] = '\0';
		st->refetched = false;
		gc_progress_window(st->progress_id, st->win_start, st->win_end, st->windows);
		return true;
	}
	if (is_interval_mode(st))
	{
		TimestampTz span = (TimestampTz) st->max_window_days * USECS_PER_DAY;

		if (!st->descending)
		{
			if (st->win_end >= st->scan_end)
				return false;
			st->win_start = st->win_end;
			st->win_end = Min(st->scan_end, utc_day_floor(st->win_start) + span);
		}
		else
		{
			if (st->win_start <= st->scan_start)
				return false;
			st->win_end = st->win_start;
			st->win_start = Max(st->scan_start,
								utc_day_floor(st->win_end - 1) + USECS_PER_DAY - span);
		}
	}
	else if (st->ids != NIL || st->mode == GC_MODE_LOOKUP)
	{
		/* the next chunk of ids */
		int			first = st->windows * GC_IDS_PER_REQUEST;

		if (first >= list_length(st->ids))
			return false;
		st->chunk_ids = list_truncate(list_copy_tail(st->ids, first), GC_IDS_PER_REQUEST);
	}
	else if (st->windows > 0)
		return false;			/* the users listing is one series */

	st->windows++;
	st->window_rows = 0;
	st->page_number = 0;
	st->series++;
	st->series_pages = 0;
	st->last_page = false;
	st->prev_first[0] = st->prev_last[0] = '\0';
	st->refetched = false;

	MemoryContextReset(st->window_cxt);
	st->carried_ids = NULL;
	st->job_id = st->job_cursor = NULL;
	st->stats.windows++;
	st->seen_ids = new_id_table(st, "gc_fdw seen conversation ids");
	if (is_interval_mode(st))
		gc_progress_window(st->progress_id, st->win_start, st->win_end, st->windows);
	else
		gc_progress_window(st->progress_id, 0, 0, st->windows);
	return true;
}

/*
 * is_last_page
 *		Whether the page just parsed ends its window, without trusting the
 *		requested page size: the API may return fewer rows than asked for.
 *
 *		users: the listing says so itself, by having no nextUri; an empty
 *		page also ends it.  A 200 without an entities array is not a
 *		listing at all, and is an error rather than a silent end.
 *
 *		lookups: one answer per chunk of ids.
 *
 *		interval windows: a page past the end has no conversations; a short
 *		page ends the window only once the window has returned totalHits
 *		rows (totalHits is approximate: when in doubt, ask once more).
 */
static bool
is_last_page(GcScanState *st)
{
	char	   *total;

	if (st->mode == GC_MODE_USERS)
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
	if (st->mode == GC_MODE_LOOKUP)
		return true;
	if (st->mode == GC_MODE_JOBS)
	{
		/* results pages follow a cursor, absent on the last page */
		char	   *cursor = gc_page_string(st->page, "cursor");

		st->job_cursor = cursor ? MemoryContextStrdup(st->window_cxt, cursor) : NULL;
		if (cursor == NULL)
		{
			gc_job_finish(st->job_id, false);
			st->job_id = NULL;
			return true;
		}
		return false;
	}

	if (st->page_rows == 0)
		return true;
	if (st->page_rows >= st->table_opts.page_size)
		return false;
	total = gc_page_string(st->page, "totalHits");
	return total != NULL && st->window_rows >= strtoll(total, NULL, 10);
}

/*
 * cap_exceeded
 *		Whether an API message says a window holds more results than the API
 *		returns: "Pagination may not exceed 100000 results" (details query),
 *		"... may not exceed 400000 results" (jobs).
 */
static bool
cap_exceeded(const char *message)
{
	return message != NULL && strstr(message, "may not exceed") != NULL;
}

/*
 * window_too_large
 *		Whether a 400 answer says the window is over a result cap or longer
 *		than the API accepts.
 */
static bool
window_too_large(const GcHttpResponse *resp)
{
	return cap_exceeded(resp->body) ||
		(resp->body != NULL && strstr(resp->body, "nterval") != NULL &&
		 strstr(resp->body, "exceed") != NULL);
}

/* Merge the current window's seen ids into carried_ids */
static void
carry_seen_ids(GcScanState *st)
{
	HASH_SEQ_STATUS scan;
	GcSeenId   *entry;
	bool		found;

	if (st->carried_ids == NULL)
		st->carried_ids = new_id_table(st, "gc_fdw carried conversation ids");
	hash_seq_init(&scan, st->seen_ids);
	while ((entry = hash_seq_search(&scan)) != NULL)
		hash_search(st->carried_ids, entry->id, HASH_ENTER, &found);
	hash_destroy(st->seen_ids);
	st->seen_ids = new_id_table(st, "gc_fdw seen conversation ids");
}

/*
 * split_window
 *		Split the current window at a UTC midnight after the API refused it
 *		as too large, and restart with the half read first (the other waits
 *		in pending).  The API matches whole UTC days, so a window of one day
 *		cannot shrink: that is an error, never a truncated result.
 */
static void
split_window(GcScanState *st, const GcHttpResponse *resp)
{
	TimestampTz first_day = utc_day_floor(st->win_start);
	TimestampTz last_day = utc_day_floor(st->win_end - 1);
	TimestampTz mid;
	TimestampTz *later;
	TimestampTz *earlier;
	MemoryContext oldcxt;

	if (first_day == last_day)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Genesys Cloud cannot page through the conversations of %s (UTC) in one query",
						gc_format_timestamp(first_day, false)),
				 errdetail("The API answered: %s; windows are cut at UTC midnights, so a day cannot be split further.",
						   resp->body ? pnstrdup(resp->body, Min(resp->body_len, 300)) : "(no body)"),
				 st->mode == GC_MODE_JOBS
				 ? errhint("Narrow the query with conditions the API filters on (media_type, queue_id, purpose, ...).")
				 : errhint("Narrow the query with conditions the API filters on (media_type, queue_id, purpose, ...), or read that day with the table option mode 'jobs'.")));

	/* a midnight near the middle, strictly inside the window */
	mid = utc_day_floor(st->win_start + (st->win_end - st->win_start) / 2);
	if (mid <= st->win_start)
		mid = first_day + USECS_PER_DAY;

	oldcxt = MemoryContextSwitchTo(st->scan_cxt);
	earlier = palloc(2 * sizeof(TimestampTz));
	later = palloc(2 * sizeof(TimestampTz));
	earlier[0] = st->win_start;
	earlier[1] = mid;
	later[0] = mid;
	later[1] = st->win_end;
	st->pending = lcons(st->descending ? earlier : later, st->pending);
	MemoryContextSwitchTo(oldcxt);

	if (st->descending)
		st->win_start = mid;
	else
		st->win_end = mid;
	carry_seen_ids(st);
	st->splits++;
	st->stats.splits++;
	st->window_rows = 0;
	st->page_number = 0;
	st->series++;
	st->series_pages = 0;
	st->last_page = false;
	elog(DEBUG1, "gc_fdw: window too large for the API, split at %s",
		 gc_format_timestamp(mid, false));
}

/*
 * repeats_previous_page
 *		Whether the page just parsed has the same first and last conversation
 *		as the previous page of its request series; remembers this page's.
 */
static bool
repeats_previous_page(GcScanState *st)
{
	GcRowCursor *cur = gc_cursor_create(st->page, st->array_key, GC_LEVEL_CONVERSATION);
	char	   *first = NULL;
	char	   *last = NULL;
	bool		same;

	while (gc_cursor_next_top(cur))
	{
		last = gc_cursor_top_string(cur, "conversationId");
		if (first == NULL)
			first = last;
	}
	/* page 1 starts a series (a window, or a half of a split one) */
	same = st->page_number > 1 && first && last && st->prev_first[0] != '\0' &&
		strcmp(first, st->prev_first) == 0 && strcmp(last, st->prev_last) == 0;
	strlcpy(st->prev_first, first ? first : "", sizeof(st->prev_first));
	strlcpy(st->prev_last, last ? last : "", sizeof(st->prev_last));
	return same;
}

/*
 * page_request
 *		The request for page page_number of the current series: a users
 *		listing path, or the details query path and body.
 */
static void
page_request(GcScanState *st, int page_number, char **path, char **body)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (st->mode == GC_MODE_USERS)
	{
		gc_build_users_query(&buf, st->state_filter, st->table_opts.page_size,
							 page_number, st->want_last_login, st->chunk_ids);
		*path = buf.data;
		*body = NULL;
	}
	else
	{
		gc_build_details_query(&buf, st->win_start, st->win_end,
							   st->table_opts.page_size, page_number,
							   st->conversation_filters, st->segment_filters,
							   st->descending);
		*path = pstrdup(st->table_opts.resource->path);
		*body = buf.data;
	}
}

/*
 * abandon_ahead
 *		Memory context callback of ahead_cxt: when the requests' memory goes
 *		(reset, end of scan, error), give up the transfers still in flight.
 */
static void
abandon_ahead(void *arg)
{
	gc_api_abandon(arg);
}

/*
 * discard_ahead
 *		Give up the pages requested ahead and not read yet, counting them.
 */
static void
discard_ahead(GcScanState *st)
{
	if (st->ahead_next > st->ahead_first)
		st->ahead_unused += st->ahead_next - st->ahead_first;
	st->ahead_first = st->ahead_next = 0;
	gc_api_abandon(st);
	MemoryContextReset(st->ahead_cxt);
	/* a reset calls and forgets the callback: register it again */
	MemoryContextRegisterResetCallback(st->ahead_cxt, &st->ahead_cb);
}

/*
 * send_ahead
 *		Keep up to "concurrency" pages in flight from page p on, once the
 *		series' first page has said how many it holds: never past its last
 *		page (no request is spent on an empty page) and never more than the
 *		rate-limit budget has left.  While the scan reads page p, the pages
 *		after it are on their way.
 */
static void
send_ahead(GcScanState *st, const char *method, int p)
{
	int			last;
	int			budget;

	if (st->table_opts.concurrency <= 1 || st->series_pages <= 0)
		return;
	last = Min(p + st->table_opts.concurrency - 1, st->series_pages);
	budget = gc_api_budget_left(st->conn);
	while (st->ahead_next <= last)
	{
		MemoryContext oldcxt;
		GcApiAhead *ahead;
		char	   *path;
		char	   *body;

		if (budget >= 0 && st->ahead_next - st->ahead_first >= Max(budget, 1))
			break;
		page_request(st, st->ahead_next, &path, &body);
		/* the request keeps its own copies, in ahead_cxt */
		oldcxt = MemoryContextSwitchTo(st->ahead_cxt);
		ahead = gc_api_send_ahead(st->conn, method, path, body, &st->stats, st);
		MemoryContextSwitchTo(oldcxt);
		pfree(path);
		if (body != NULL)
			pfree(body);
		if (ahead == NULL)
			break;				/* other scans hold the slots: read on */
		st->ahead[st->ahead_next % GC_MAX_CONCURRENCY] = ahead;
		if (st->ahead_next > p)
			st->ahead_sent++;
		st->ahead_next++;
	}
}

/*
 * fetch_page
 *		The answer to page st->page_number of the current series (users or
 *		details query), in the current memory context: collected when it
 *		was sent ahead, else requested now; either way the pages after it
 *		are sent ahead first.  The retry policy (401, 429, 5xx, network)
 *		applies to each page as if it had been requested alone.
 */
static void
fetch_page(GcScanState *st, const char *method, GcHttpResponse *resp,
		   long return_status)
{
	int			p = st->page_number;
	GcApiAhead *first = NULL;
	char	   *path;
	char	   *body;

	/* a page asked again (a repeated page) leaves the pages in flight be */
	bool		asked_again = st->ahead_series == st->series &&
		p < st->ahead_first && st->ahead_next > st->ahead_first;

	if (!asked_again)
	{
		if (st->ahead_series != st->series || p != st->ahead_first)
		{
			discard_ahead(st);
			st->ahead_series = st->series;
			st->ahead_first = st->ahead_next = p;
		}
		send_ahead(st, method, p);
		if (p < st->ahead_next)
			first = st->ahead[p % GC_MAX_CONCURRENCY];
		else
			st->ahead_next = p + 1;
		st->ahead_first = p + 1;
	}
	if (first != NULL)
	{
		gc_api_collect(first, &st->stats, resp, return_status);
		return;
	}
	page_request(st, p, &path, &body);
	gc_api_call_ex(st->conn, method, path, body, &st->stats, resp,
				   return_status);
}

/*
 * note_series_pages
 *		From a series' first page, how many pages the series holds:
 *		totalHits (details query, approximate) or pageCount (users).
 */
static void
note_series_pages(GcScanState *st)
{
	char	   *text = NULL;
	long long	n = 0;

	if (st->page_number != 1)
		return;
	if (st->mode == GC_MODE_INTERVAL)
	{
		text = gc_page_string(st->page, "totalHits");
		if (text != NULL)
			n = (strtoll(text, NULL, 10) + st->table_opts.page_size - 1) /
				st->table_opts.page_size;
	}
	else if (st->mode == GC_MODE_USERS)
	{
		text = gc_page_string(st->page, "pageCount");
		if (text != NULL)
			n = strtoll(text, NULL, 10);
	}
	st->series_pages = (n > 0 && n < INT_MAX) ? (int) n : 0;
}

/*
 * fetch_next_page
 *		Fetch and parse the next page into batch_cxt, moving to the next
 *		window when the current one is done.  False when the scan is over.
 */
static bool
fetch_next_page(GcScanState *st)
{
	bool		shifted;
	const GcResourceDef *res = st->table_opts.resource;
	MemoryContext oldcxt;
	StringInfoData req;
	GcHttpResponse resp;
	const char *what;

	for (;;)
	{
		if (st->windows == 0 || st->last_page)
		{
			if (!next_window(st))
				return false;
		}

		MemoryContextReset(st->batch_cxt);
		st->page = NULL;
		st->cursor = NULL;
		oldcxt = MemoryContextSwitchTo(st->batch_cxt);
		st->page_number++;
		initStringInfo(&req);
		switch (st->mode)
		{
			case GC_MODE_USERS:
				fetch_page(st, "GET", &resp, 0);
				what = psprintf("GET %s (page %d)", res->path, st->page_number);
				break;
			case GC_MODE_LOOKUP:
				gc_build_lookup_path(&req, st->chunk_ids);
				gc_api_call(st->conn, "GET", req.data, NULL, &st->stats, &resp);
				what = "GET /api/v2/analytics/conversations/details";
				break;
			case GC_MODE_JOBS:
				if (st->job_id == NULL)
				{
					char	   *job;
					char	   *failure;

					gc_build_job_body(&req, st->win_start, st->win_end,
									  st->conversation_filters, st->segment_filters);
					job = gc_job_submit(st->conn, req.data, &st->stats, &resp);
					if (job == NULL)
					{
						if (!window_too_large(&resp))
							gc_api_report_error(st->conn, "POST", GC_JOBS_API_PATH, &resp);
						MemoryContextSwitchTo(oldcxt);
						split_window(st, &resp);
						continue;
					}
					failure = gc_job_wait(st->conn, job, st->table_opts.jobs_poll_interval,
										  &st->stats);
					if (failure)
					{
						gc_job_finish(job, true);
						if (cap_exceeded(failure))
						{
							resp.body = failure;
							resp.body_len = strlen(failure);
							MemoryContextSwitchTo(oldcxt);
							split_window(st, &resp);
							continue;
						}
						ereport(ERROR,
								(errcode(ERRCODE_FDW_ERROR),
								 errmsg("Genesys Cloud analytics job %s ended %s", job, failure),
								 errdetail("The job read conversations in %s/%s.",
										   gc_format_timestamp(st->win_start, false),
										   gc_format_timestamp(st->win_end, true)),
								 errhint("Retry the query; if it persists, read the range with mode 'query'.")));
					}
					st->job_id = MemoryContextStrdup(st->window_cxt, job);
					resetStringInfo(&req);
				}
				gc_job_results_path(&req, st->job_id, st->job_cursor);
				gc_api_call(st->conn, "GET", req.data, NULL, &st->stats, &resp);
				what = psprintf("GET %s/%s/results", GC_JOBS_API_PATH, st->job_id);
				break;
			default:
				fetch_page(st, res->method, &resp, 400);
				if (resp.status == 400)
				{
					if (!window_too_large(&resp))
						gc_api_report_error(st->conn, res->method, res->path, &resp);
					MemoryContextSwitchTo(oldcxt);
					split_window(st, &resp);
					continue;
				}
				what = psprintf("%s %s (page %d)", res->method, res->path,
								st->page_number);
				break;
		}
		st->page = gc_page_parse(st->batch_cxt, resp.body, resp.body_len, what);
		st->cursor = gc_cursor_create(st->page, st->array_key, res->level);
		note_series_pages(st);

		/*
		 * A details page identical to the one before it (buggy paging, or
		 * results shifting by a whole page under live traffic) would end the
		 * window early: its rows are all duplicates, yet count towards
		 * totalHits.  Ask for it once more; if it repeats again, the results
		 * shifted: read on, without counting the page towards totalHits, so
		 * the rows it displaced are still fetched from the pages after it.
		 */
		shifted = false;
		if (st->mode == GC_MODE_INTERVAL &&
			gc_page_row_count(st->page, st->array_key) > 0 &&
			repeats_previous_page(st))
		{
			if (!st->refetched)
			{
				MemoryContextSwitchTo(oldcxt);
				elog(DEBUG1, "gc_fdw: %s repeats the previous page; asking for it again", what);
				st->refetched = true;
				st->page_number--;
				continue;
			}
			elog(DEBUG1, "gc_fdw: %s repeats the previous page again; reading on", what);
			shifted = true;
		}
		st->refetched = false;
		MemoryContextSwitchTo(oldcxt);

		st->page_rows = gc_page_row_count(st->page, st->array_key);
		st->stats.pages++;
		st->stats.rows_received += st->page_rows;
		if (shifted)
			st->window_rows -= st->page_rows;	/* added back just below */
		gc_stats_page(st->page_rows);
		gc_progress_page(st->progress_id, st->stats.pages,
						 st->stats.rows_received, st->stats.requests);
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
 *		by it (pages shift under live traffic).  A rejected conversation's
 *		participants, sessions, segments and metrics are skipped with it.
 */
static bool
accept_conversation(GcScanState *st)
{
	char	   *id = gc_cursor_top_string(st->cursor, "conversationId");
	bool		found;

	if (is_interval_mode(st))
	{
		char	   *start = gc_cursor_top_string(st->cursor, "conversationStart");

		if (start)
		{
			TimestampTz ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																	 CStringGetDatum(start),
																	 ObjectIdGetDatum(InvalidOid),
																	 Int32GetDatum(-1)));

			if (ts < st->win_start || ts >= st->win_end)
				return false;
		}
	}
	if (id && strlen(id) < sizeof(((GcSeenId *) NULL)->id))
	{
		found = st->carried_ids != NULL &&
			hash_search(st->carried_ids, id, HASH_FIND, NULL) != NULL;
		if (!found)
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
 * gc_scan_iterate
 *		Return the next row, fetching the next page when the current one is
 *		used up.
 */
TupleTableSlot *
gc_scan_iterate(ForeignScanState *node)
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
					gc_progress_scan_end(st->progress_id);
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
 * gc_scan_rescan
 *		Start over: the pushed values may have changed (parameters).
 */
void
gc_scan_rescan(ForeignScanState *node)
{
	GcScanState *st = node->fdw_state;

	if (st->job_id)
		gc_job_finish(st->job_id, true);
	st->job_id = NULL;
	st->started = false;
	MemoryContextReset(st->batch_cxt);
	MemoryContextReset(st->temp_cxt);
	MemoryContextReset(st->window_cxt);
	discard_ahead(st);
	st->seen_ids = NULL;
	st->page = NULL;
	st->cursor = NULL;
	st->in_top = false;
}

/*
 * gc_scan_end
 *		Free the page (json-c memory) now rather than at query end.
 */
void
gc_scan_end(ForeignScanState *node)
{
	GcScanState *st = node->fdw_state;

	if (st == NULL || st->batch_cxt == NULL)
		return;
	if (st->job_id)
		gc_job_finish(st->job_id, true);	/* LIMIT met before its end */
	st->job_id = NULL;
	gc_progress_scan_end(st->progress_id);
	MemoryContextDelete(st->batch_cxt);
	MemoryContextDelete(st->temp_cxt);
	MemoryContextDelete(st->window_cxt);
	discard_ahead(st);
	MemoryContextDelete(st->ahead_cxt);
	st->batch_cxt = st->temp_cxt = st->window_cxt = st->ahead_cxt = NULL;
}

/* Count of windows next_window() cuts [lo, hi) into */
static int
count_windows(TimestampTz lo, TimestampTz hi, int days, bool descending)
{
	TimestampTz span = (TimestampTz) days * USECS_PER_DAY;
	int			n = 0;

	while (lo < hi)
	{
		if (descending)
			hi = Max(lo, utc_day_floor(hi - 1) + USECS_PER_DAY - span);
		else
			lo = Min(hi, utc_day_floor(lo) + span);
		n++;
	}
	return n;
}

/*
 * gc_scan_explain
 *		What the scan sends: under plain EXPLAIN, evaluated without calling
 *		the API (when the values need no parameters); under ANALYZE, also
 *		what it cost.
 */
void
gc_scan_explain(ForeignScanState *node, ExplainState *es)
{
	GcScanState *st = node->fdw_state;
	const GcResourceDef *res = st->table_opts.resource;
	bool		evaluable = true;
	bool		reads_jobs;
	ListCell   *lc;

	/*
	 * Plain EXPLAIN evaluates the conditions as the scan would when their
	 * values are constants (a value from now() or a parameter would make
	 * the output depend on when or how it runs); EXPLAIN ANALYZE shows
	 * what the scan used.
	 */
	if (!st->started)
	{
		foreach(lc, st->conds)
			if (((GcPushedCond *) lfirst(lc))->expr &&
				!IsA(((GcPushedCond *) lfirst(lc))->expr, Const))
				evaluable = false;
		if (evaluable)
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(st->scan_cxt);
			bool		have_lo;
			bool		have_hi;

			st->empty = !evaluate_conditions(node->ss.ps.ps_ExprContext, st,
											 &have_lo, &have_hi);
			if (st->mode == GC_MODE_INTERVAL && !st->empty &&
				(!(have_lo && have_hi) || st->scan_start >= st->scan_end))
				evaluable = false;
			else
				choose_jobs(st);
			MemoryContextSwitchTo(oldcxt);
		}
	}

	/* reads through jobs: as evaluated, or as the options promise */
	reads_jobs = evaluable ? st->mode == GC_MODE_JOBS
		: (st->mode == GC_MODE_INTERVAL && !st->sorted &&
		   st->table_opts.mode == GC_READ_JOBS);

	if (st->mode == GC_MODE_LOOKUP)
		ExplainPropertyText("Genesys Request",
							"GET /api/v2/analytics/conversations/details?id=...", es);
	else if (reads_jobs)
		ExplainPropertyText("Genesys Request", "POST " GC_JOBS_API_PATH
							", then GET .../{jobId}/results", es);
	else
		ExplainPropertyText("Genesys Request",
							psprintf("%s %s", res->method, res->path), es);
	if (res->kind == GC_RESOURCE_CONVERSATIONS)
		ExplainPropertyText("Genesys Mode",
							st->mode == GC_MODE_LOOKUP || st->sorted ? "query" :
							!evaluable ? (st->table_opts.mode == GC_READ_JOBS ? "jobs" :
										  st->table_opts.mode == GC_READ_QUERY ? "query" :
										  psprintf("auto (jobs for %d days or more)",
												   st->table_opts.jobs_min_days)) :
							st->mode == GC_MODE_JOBS ? "jobs" : "query", es);
	if (reads_jobs)
		ExplainPropertyInteger("Page Size", NULL, 1000, es);
	else if (st->mode != GC_MODE_LOOKUP)
		ExplainPropertyInteger("Page Size", NULL, st->table_opts.page_size, es);
	if (es->verbose && !reads_jobs && st->mode != GC_MODE_LOOKUP)
		ExplainPropertyInteger("Concurrency", NULL, st->table_opts.concurrency, es);

	if (evaluable && st->empty)
		ExplainPropertyText("Genesys Request Sent", "none: the conditions exclude every row", es);
	else if (evaluable)
	{
		if (is_interval_mode(st))
		{
			ExplainPropertyText("Genesys Interval",
								psprintf("%s/%s", gc_format_timestamp(st->scan_start, false),
										 gc_format_timestamp(st->scan_end, true)), es);
			ExplainPropertyText("Interval Windows",
								psprintf("%d of up to %d days%s",
										 count_windows(st->scan_start, st->scan_end,
													   st->max_window_days,
													   st->descending),
										 st->max_window_days,
										 st->descending ? ", newest first" : ""), es);
		}
		else if (st->ids != NIL)
			ExplainPropertyInteger(st->mode == GC_MODE_LOOKUP ? "Conversations Looked Up"
								   : "Users Looked Up", NULL, list_length(st->ids), es);
	}

	if (es->analyze && st->conn)
	{
		if (res->kind == GC_RESOURCE_USERS)
			ExplainPropertyText("Genesys State Sent",
								st->state_filter ? st->state_filter : "any", es);
		/* totals over every loop (rescans), as the request counters */
		ExplainPropertyInteger(is_interval_mode(st) ? "Windows Read" : "Request Series",
							   NULL, st->stats.windows, es);
		if (is_interval_mode(st))
			ExplainPropertyInteger("Windows Split", NULL, st->stats.splits, es);
		if (st->mode == GC_MODE_JOBS)
		{
			ExplainPropertyText("Data Available Until",
								st->availability ? gc_format_timestamp(st->availability, false)
								: "not asked (no request was needed)", es);
			ExplainPropertyInteger("Job Polls", NULL, st->stats.job_polls, es);
			ExplainPropertyFloat("Job Wait Time", "s", st->stats.job_wait_secs, 1, es);
		}
		ExplainPropertyInteger("API Requests", NULL, st->stats.requests, es);
		if (st->ahead_sent > 0)
		{
			/* pages still in flight count too (EXPLAIN runs before the end) */
			int64		unused = st->ahead_unused +
				Max(st->ahead_next - st->ahead_first, 0);

			ExplainPropertyInteger("Pages Requested Ahead", NULL, st->ahead_sent, es);
			ExplainPropertyInteger("Pages Requested Ahead Unused", NULL, unused, es);
		}
		ExplainPropertyInteger("Pages", NULL, st->stats.pages, es);
		ExplainPropertyInteger("Rows Received", NULL, st->stats.rows_received, es);
		ExplainPropertyInteger("Duplicates Dropped", NULL, st->stats.duplicates, es);
		ExplainPropertyInteger("Retries", NULL, st->stats.retries, es);
		ExplainPropertyInteger("Rate Limit Waits", NULL, st->stats.waits_429, es);
		ExplainPropertyFloat("Rate Limit Wait Time", "s", st->stats.wait_429_secs, 1, es);
		/* shown only when it happened, so existing plans read the same */
		if (st->stats.pacing_waits > 0)
		{
			ExplainPropertyInteger("Rate Limit Pacing Waits", NULL, st->stats.pacing_waits, es);
			ExplainPropertyFloat("Rate Limit Pacing Time", "s", st->stats.pacing_secs, 1, es);
		}
		ExplainPropertyFloat("Retry Backoff Time", "s", st->stats.backoff_secs, 1, es);
		ExplainPropertyInteger("Token Requests", NULL, st->stats.token_requests, es);
		ExplainPropertyInteger("Re-authentications", NULL, st->stats.reauths, es);
	}
}
