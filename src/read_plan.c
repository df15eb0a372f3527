/*-------------------------------------------------------------------------
 *
 * read_plan.c
 *		  The read plan of a scan: which driver reads it and over what,
 *		  decided in this one place, once per scan or rescan, from the
 *		  evaluated conditions, the table options and the catalogue entry
 *		  of the resource.  The scan keeps the record; EXPLAIN prints it.
 *
 * The catalogue names each API's driver (an entity listing, an analytics
 * details query).  An analytics family may also offer a lookup by id and
 * async jobs: ids pushed down read through the lookup, and long ranges
 * (table option mode) through jobs, unless the scan must come back sorted
 * (job results are unordered).  In mode 'auto' a plan may have two legs:
 * jobs up to the date their data is complete, the details query after it.
 * Nothing here tests a resource's name.  The one request made here is
 * mode 'auto''s question for that date, when a scan starts.
 *
 * Also here: the refusal of a scan that would read an analytics family's
 * whole history (no bounds on its interval column).  No I/O.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "gc_fdw.h"
#include "utils/builtins.h"
#include "utils/rel.h"

/*
 * id_column_name
 *		The column of the scanned table that reads the API's id list field,
 *		for hints; "id" when none does.
 */
static const char *
id_column_name(GcScan *scan)
{
	const GcPushableDef *p;
	TupleDesc	tupdesc = RelationGetDescr(scan->rel);
	int			i;

	for (p = scan->api->pushables; p && p->field; p++)
	{
		if (p->kind != GC_PUSH_IDS)
			continue;
		for (i = 0; i < tupdesc->natts; i++)
			if (!TupleDescAttr(tupdesc, i)->attisdropped &&
				gc_key_reads(gc_get_column_key(RelationGetRelid(scan->rel), i + 1,
											   scan->res),
							 scan->res, p->level, p->field))
				return NameStr(TupleDescAttr(tupdesc, i)->attname);
	}
	return "id";
}

/*
 * check_interval
 *		A read by interval needs both bounds: without them it would read the
 *		organization's whole history.
 */
static void
check_interval(GcScan *scan, bool have_lo, bool have_hi)
{
	const GcApiDef *api = scan->api;
	const char *relname = RelationGetRelationName(scan->rel);
	const char *col = quote_identifier(scan->interval_column);

	if (scan->interval_column[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("foreign table \"%s\" has no timestamptz column reading the JSON key \"%s\"",
						relname, api->interval_field),
				 errdetail("Genesys Cloud %s are read by interval, taken from bounds on that column.",
						   api->family),
				 errhint("ALTER FOREIGN TABLE %s ADD COLUMN %s timestamptz;",
						 quote_identifier(relname), api->interval_column)));
	if (have_lo && have_hi)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("a scan of foreign table \"%s\" needs %s bound on %s", relname,
					!have_lo && !have_hi ? "a lower and an upper" :
					!have_lo ? "a lower" : "an upper", col),
			 errdetail("Genesys Cloud %s are read by interval; an unbounded scan would read the organization's whole history.",
					   api->family),
			 api->lookup_path ?
			 errhint("Add a condition such as WHERE %s >= now() - interval '1 day' AND %s < now(), or look %s up with %s = ... or IN (...).",
					 col, col, api->noun, quote_identifier(id_column_name(scan))) :
			 api->interval_end_field ?
			 errhint("Add a condition such as WHERE %s >= now() - interval '1 day' AND %s < now(); for the records in progress at a time t: WHERE %s <= t AND (end_time > t OR end_time IS NULL).",
					 col, col, col) :
			 errhint("Add a condition such as WHERE %s >= now() - interval '1 day' AND %s < now().",
					 col, col)));
}

/* Whether the plan's conditions include an id list */
static bool
conds_have_ids(List *conds)
{
	ListCell   *lc;

	foreach(lc, conds)
		if (((GcPushedCond *) lfirst(lc))->kind == GC_PUSH_IDS)
			return true;
	return false;
}

/*
 * The estimates behind mode 'auto' (docs/pushdown.md, "Long ranges"): what
 * a page of either API costs and how long a job takes, against the rate
 * limit every request of the OAuth client draws on.
 */
#define GC_EST_SECS_PER_REQUEST 0.3 /* a details or results page */
#define GC_EST_REQUESTS_PER_SEC 5.0 /* Genesys Cloud's default: 300 a minute */
#define GC_EST_JOB_SECS 15.0		/* a job, from submission to FULFILLED */

/*
 * jobs_worth
 *		Whether reading [lo, hi) through jobs (a job's wait per 31 days, then
 *		pages of 1000) is estimated to take less time than the details
 *		query (pages of page_size, concurrency at a time, within the rate
 *		limit), for as many top objects a day as rows_per_day says (or the
 *		catalogue's default).  *estimate gets the figures, for EXPLAIN.
 */
static bool
jobs_worth(GcScan *scan, TimestampTz lo, TimestampTz hi, char **estimate)
{
	double		days = (double) (hi - lo) / USECS_PER_DAY;
	double		per_day = scan->opts.rows_per_day > 0 ?
		scan->opts.rows_per_day / scan->res->rows_per_top : scan->api->default_rows;
	double		n = days * per_day;
	double		pages = ceil(n / scan->opts.page_size) + ceil(days / GC_MAX_WINDOW_DAYS);
	double		query_secs = Max(pages / GC_EST_REQUESTS_PER_SEC,
								 pages * GC_EST_SECS_PER_REQUEST / Max(scan->opts.concurrency, 1));
	double		jobs_secs = ceil(days / GC_MAX_JOB_WINDOW_DAYS) * GC_EST_JOB_SECS +
		ceil(n / GC_JOB_PAGE_SIZE) * GC_EST_SECS_PER_REQUEST;

	*estimate = psprintf("%.0f %s: about %.0f s through jobs, %.0f s through the query",
						 n, scan->api->noun, jobs_secs, query_secs);
	return jobs_secs < query_secs;
}

/*
 * choose_driver
 *		The driver of the read, and how the choice reads in EXPLAIN (mode,
 *		for families with more than one way to read an interval).  Mode
 *		'auto' reads a range long enough (jobs_min_days) and large enough
 *		to be worth a job's wait through jobs, up to the date before which
 *		the jobs' data is complete (asked when the scan starts), and the
 *		rest through the details query: every object once, none missing.
 */
static const GcDriver *
choose_driver(GcScan *scan, GcReadPlan *plan, bool starting)
{
	const GcApiDef *api = scan->api;
	const GcTableOptions *o = &scan->opts;
	bool		have_ids = plan->evaluated ? scan->spec.have_ids : conds_have_ids(scan->conds);
	bool		sorted = scan->order != GC_ORDER_NONE;
	TimestampTz min_span = (TimestampTz) o->jobs_min_days * USECS_PER_DAY;
	TimestampTz split;
	char	   *estimate;

	if (api->jobs_path == NULL)
		return (have_ids && api->lookup_path) ? &gc_lookup_driver : api->driver;

	if ((have_ids && api->lookup_path) || sorted || o->mode == GC_READ_QUERY)
	{
		plan->mode = "query";
		return (have_ids && api->lookup_path) ? &gc_lookup_driver : api->driver;
	}
	if (o->mode == GC_READ_JOBS)
	{
		plan->mode = "jobs";
		return &gc_jobs_driver;
	}
	if (!plan->evaluated)
	{
		plan->mode = psprintf("auto (jobs for %d days or more)", o->jobs_min_days);
		return api->driver;
	}
	if (plan->hi - plan->lo < min_span || !jobs_worth(scan, plan->lo, plan->hi, &estimate))
	{
		plan->mode = "query";
		return api->driver;
	}
	if (!starting)
	{
		plan->mode = psprintf("auto: jobs up to the date their data is complete (asked when the scan starts), the details query after it; %s",
							  estimate);
		return &gc_jobs_driver;
	}

	/* the part whose data the jobs API has complete, if worth a job */
	plan->availability = gc_jobs_availability(scan);
	split = Min(plan->hi, plan->availability);
	if (split - plan->lo < min_span || !jobs_worth(scan, plan->lo, split, &estimate))
	{
		plan->mode = "query";
		return api->driver;
	}
	if (split >= plan->hi)
	{
		plan->mode = "jobs";
		return &gc_jobs_driver;
	}
	plan->mode = psprintf("auto: jobs for %s/%s (%s), the details query after it",
						  gc_format_timestamp(plan->lo, false),
						  gc_format_timestamp(split, true), estimate);
	plan->hi = split;
	plan->then_driver = api->driver;
	return &gc_jobs_driver;
}

/*
 * describe_legs
 *		Have the drivers fill in what they read and how; with a second leg,
 *		its own page size and windows are kept for when it starts, and the
 *		request says both.
 */
static void
describe_legs(GcScan *scan, GcReadPlan *plan)
{
	GcReadPlan	then;

	plan->driver->describe(scan, plan);
	if (plan->then_driver == NULL)
		return;
	then = *plan;
	then.driver = plan->then_driver;
	then.driver->describe(scan, &then);
	plan->then_page_size = then.page_size;
	plan->then_ahead = then.ahead;
	plan->then_window_days = then.window_days;
	plan->split = plan->hi;
	plan->request = psprintf("%s; then %s", plan->request, then.request);
}

/*
 * gc_read_plan_decide
 *		Decide scan->plan.  evaluated says whether scan->spec holds the
 *		conditions' values (always when starting; under plain EXPLAIN only
 *		when they are constants).  starting: the scan is about to read, so
 *		a missing interval bound is an error rather than an unknown.
 */
void
gc_read_plan_decide(GcScan *scan, bool evaluated, bool starting)
{
	GcReadPlan *plan = &scan->plan;
	GcRequestSpec *spec = &scan->spec;
	const GcApiDef *api = scan->api;
	bool		have_ids = evaluated ? spec->have_ids : conds_have_ids(scan->conds);
	bool		have_lo;
	TimestampTz lo;

	memset(plan, 0, sizeof(GcReadPlan));
	plan->ids = -1;
	plan->descending = scan->order == GC_ORDER_DESC;
	plan->empty = evaluated && spec->empty;

	/*
	 * A lower bound on a record's end and none on its start: the records
	 * overlapping [end bound, upper bound), which the API's interval reads.
	 */
	plan->overlap = evaluated && api->interval_end_field && spec->have_end_lo &&
		!spec->have_lo;
	lo = plan->overlap ? spec->end_lo : spec->lo;
	have_lo = spec->have_lo || plan->overlap;

	/*
	 * Overlap with an upper bound on the start at or before the end bound
	 * ("in progress at t": start_time <= t AND end_time > t, or start_time
	 * < t): those records overlap the millisecond at the end bound, since
	 * they start before it and end after it.  The conditions are checked
	 * again locally, so reading that millisecond returns exactly them.
	 */
	if (plan->overlap && spec->have_hi && lo >= spec->hi)
		spec->hi = lo + 1000;

	/* a read by interval needs both bounds: refused, or unknown yet */
	if (evaluated && !plan->empty && api->interval_field &&
		!(have_ids && api->lookup_path))
	{
		if (starting)
		{
			check_interval(scan, have_lo, spec->have_hi);
			if (lo >= spec->hi)
				plan->empty = true;
		}
		else if (!(have_lo && spec->have_hi) || lo >= spec->hi)
			evaluated = false;
	}
	plan->evaluated = evaluated;
	if (evaluated && have_lo && spec->have_hi)
	{
		plan->lo = plan->from = lo;
		plan->hi = plan->to = spec->hi;
	}
	if (evaluated && !plan->empty && spec->have_ids)
		plan->ids = list_length(spec->ids);
	plan->driver = choose_driver(scan, plan, starting && !plan->empty);
	describe_legs(scan, plan);
}
