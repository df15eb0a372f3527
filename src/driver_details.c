/*-------------------------------------------------------------------------
 *
 * driver_details.c
 *		  The analytics details query driver: POST the API's query for each
 *		  interval window (UTC-aligned, at most 7 days, or 31 with filters),
 *		  page by page, in order; split a window the API refuses as too
 *		  large (the paging cap); keep each object only in the window its
 *		  start falls in and only once (de-duplication); ask again for a
 *		  page that repeats the one before it; read a window again when its
 *		  data moved while it was paged (late arrivals).
 *
 * The windows themselves (cutting, splitting, the ids a window returned)
 * are windows.c's, shared with the jobs driver.  totalHits from a window's
 * first page lets the scan core request the pages after it ahead; it is
 * approximate, so a short page ends the window only once the window has
 * returned totalHits objects.
 *
 * Late arrivals.  Objects inserted before the page being read push later
 * rows forward (the next page repeats a row), objects removed pull them
 * back (rows are skipped past a short page), and either changes totalHits:
 * a pass over a window that shows any of these may have missed objects.
 * The window is then read again, against the ids already returned (a
 * re-read costs requests, never a duplicate), until a pass shows no move,
 * or shows no new object with a steady totalHits (paging that repeats rows
 * without data moving), at most GC_MAX_WINDOW_PASSES times: if it never
 * settles, an error names the window.  An ordered scan cannot read a
 * window again without breaking its order: a changed totalHits there is
 * an error at once.
 *
 * Must not: know which resource it reads (the catalogue's API entry gives
 * the path, the interval field and the filter groups) or do I/O other than
 * through the scan core.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/explain.h"
#include "gc_fdw.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* Longest object id remembered for the repeated-page check */
#define GC_PAGE_ID_MAX 64

/* Reads of one window before its moving data is an error */
#define GC_MAX_WINDOW_PASSES 5

/* The driver's state, in scan_cxt */
typedef struct DetailsRead
{
	GcWindows	windows;
	bool		in_window;		/* a window (or half) is being read */
	int			page_number;
	bool		last_page;		/* no page follows in this window */
	int64		window_rows;	/* objects received in this window */
	char		prev_first[GC_PAGE_ID_MAX]; /* first and last ids of the */
	char		prev_last[GC_PAGE_ID_MAX];	/* previous page of the series */
	bool		refetched;		/* the current page was asked for twice */

	/* the current pass over the window, and what it saw */
	int			pass;			/* 1 for the first read of a window */
	MemoryContext pass_cxt;		/* reset per pass */
	GcIdSet    *pass_ids;		/* ids met in this pass, after the first
								 * (or of records: see restart_series) */
	int64		pass_total;		/* totalHits of its first page, -1 none */
	bool		repeats;		/* an id came twice: rows pushed forward */
	bool		total_changed;	/* totalHits changed between its pages */
	bool		short_page;		/* a page shorter than asked for came ... */
	bool		skipped;		/* ... and then a page with rows: pulled back */
	bool		found_new;		/* a re-read returned an id not seen before */
} DetailsRead;

/*
 * gc_window_too_large
 *		Whether an API message says a window holds more results than the
 *		API returns ("Pagination may not exceed 100000 results", "... may
 *		not exceed 400000 results" for jobs) or is longer than it accepts.
 */
bool
gc_window_too_large(const char *message)
{
	return message != NULL &&
		(strstr(message, "may not exceed") != NULL ||
		 (strstr(message, "nterval") != NULL && strstr(message, "exceed") != NULL));
}

/*
 * gc_window_unsplittable
 *		The API refused a window of one UTC day as too large: it matches
 *		whole UTC days, so the day cannot shrink; an error, never a
 *		truncated result.
 */
void
gc_window_unsplittable(GcScan *scan, GcWindows *w, const char *answer, bool jobs)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("Genesys Cloud cannot page through the %s of %s (UTC) in one query",
					scan->api->noun, gc_format_timestamp(gc_utc_day_floor(w->start), false)),
			 errdetail("The API answered: %s; windows are cut at UTC midnights, so a day cannot be split further.",
					   answer ? gc_one_line(answer, strlen(answer), 300) : "(no body)"),
			 jobs ?
			 errhint("Narrow the query with conditions the API filters on (%s).",
					 scan->api->filter_examples) :
			 errhint("Narrow the query with conditions the API filters on (%s), or read that day with the table option mode 'jobs'.",
					 scan->api->filter_examples)));
}

static void
details_describe(GcScan *scan, GcReadPlan *plan)
{
	plan->request = psprintf("%s %s", scan->api->method, scan->api->path);
	plan->page_size = scan->opts.page_size;
	plan->ahead = true;
	plan->by_interval = true;
	plan->window_days = scan->spec.filters != NIL ?
		GC_MAX_FILTERED_WINDOW_DAYS : GC_MAX_WINDOW_DAYS;
}

static void
details_begin(GcScan *scan)
{
	DetailsRead *read = palloc0(sizeof(DetailsRead));

	read->pass_cxt = AllocSetContextCreate(scan->scan_cxt, "gc_fdw window pass",
										   ALLOCSET_DEFAULT_SIZES);

	gc_windows_init(&read->windows, scan->plan.lo, scan->plan.hi,
					scan->plan.window_days, scan->plan.descending,
					scan->series_cxt, scan->scan_cxt);
	if (scan->plan.overlap)
		gc_windows_overlap(&read->windows);
	scan->read = read;
}

/*
 * restart_series
 *		Page numbers restart: a window, a half of one, a window just split,
 *		or a window read again.  A new pass starts with nothing seen.  In a
 *		first pass over objects the window's own set (GcWindows.seen) holds
 *		exactly the ids the pass met, so no second set is kept: at up to
 *		100,000 ids per window, that is what halves the peak memory of a
 *		scan.  A later pass, or a pass over records, keeps its own.
 */
static void
restart_series(GcScan *scan, DetailsRead *read)
{
	read->page_number = 0;
	read->last_page = false;
	read->window_rows = 0;
	read->prev_first[0] = read->prev_last[0] = '\0';
	read->refetched = false;
	MemoryContextReset(read->pass_cxt);
	read->pass_ids = (read->pass > 1 || scan->api->interval_on_rows) ?
		gc_id_set_create(read->pass_cxt) : NULL;
	read->pass_total = -1;
	read->repeats = read->total_changed = false;
	read->short_page = read->skipped = read->found_new = false;
	gc_scan_new_series(scan);
}

/*
 * pass_settled
 *		Whether the pass just ended over the window read it whole: no sign
 *		of data moving, or (a re-read, or an ordered scan that cannot read
 *		again) no new object and a steady totalHits.
 */
static bool
pass_settled(GcScan *scan, DetailsRead *read)
{
	if (!read->repeats && !read->total_changed && !read->skipped)
		return true;
	if (scan->order != GC_ORDER_NONE)
		return !read->total_changed;
	return read->pass > 1 && !read->total_changed && !read->found_new;
}

/*
 * read_window_again
 *		The pass just ended saw the window's data move: read it again, or
 *		raise when that cannot help.
 */
static void
read_window_again(GcScan *scan, DetailsRead *read)
{
	const char *from = gc_format_timestamp(read->windows.start, false);
	const char *to = gc_format_timestamp(read->windows.end, true);

	if (scan->order != GC_ORDER_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the %s of %s/%s changed while an ordered scan of foreign table \"%s\" read them",
						scan->api->noun, from, to, RelationGetRelationName(scan->rel)),
				 errdetail("totalHits went from " INT64_FORMAT " to another value while the window was paged: %s were inserted or removed before the page being read, and reading the window again would return them out of order.",
						   read->pass_total, scan->api->noun),
				 errhint("End the range a few minutes before now, or sort locally (ORDER BY %s + interval '0 seconds').",
						 quote_identifier(scan->interval_column))));
	if (read->pass >= GC_MAX_WINDOW_PASSES)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the %s of %s/%s kept changing while foreign table \"%s\" read them",
						scan->api->noun, from, to, RelationGetRelationName(scan->rel)),
				 errdetail("Each of %d reads of that window saw %s inserted or removed before the page being read (rows repeated or skipped, or totalHits changing), so a result could miss some.",
						   read->pass, scan->api->noun),
				 errhint("End the range a few minutes before now, or read it again later.")));
	elog(DEBUG1, "gc_fdw: the %s of %s/%s moved while read (%s%s%s); reading the window again",
		 scan->api->noun, from, to, read->repeats ? "rows repeated " : "",
		 read->total_changed ? "totalHits changed " : "", read->skipped ? "rows skipped" : "");
	read->pass++;
	scan->stats.rereads++;
	restart_series(scan, read);
}

/* The next window (or half); false when the interval is done */
static bool
next_window(GcScan *scan, DetailsRead *read)
{
	if (!gc_windows_next(scan, &read->windows))
		return false;
	read->in_window = true;
	read->pass = 1;
	restart_series(scan, read);
	return true;
}

static void
details_page_request(GcScan *scan, int page_number, char **path, char **body)
{
	DetailsRead *read = scan->read;
	StringInfoData buf;

	initStringInfo(&buf);
	gc_build_query_body(&buf, scan->api, read->windows.start, read->windows.end,
						scan->opts.page_size, page_number, scan->spec.filters,
						scan->plan.descending);
	*path = pstrdup(scan->api->path);
	*body = buf.data;
}

/*
 * repeats_previous_page
 *		Whether a page has the same first and last object as the previous
 *		page of its series; remembers this page's.
 */
static bool
repeats_previous_page(GcScan *scan, DetailsRead *read, GcPage *page)
{
	GcRowCursor *cur = gc_cursor_create(page, scan->api->array_key, scan->res->level);
	char	   *first = NULL;
	char	   *last = NULL;
	bool		same;

	while (gc_cursor_next_top(cur))
	{
		last = gc_cursor_top_string(cur, scan->api->top_id_key);
		if (first == NULL)
			first = last;
	}
	/* page 1 starts a series (a window, or a half of a split one) */
	same = read->page_number > 1 && first && last && read->prev_first[0] != '\0' &&
		strcmp(first, read->prev_first) == 0 && strcmp(last, read->prev_last) == 0;
	strlcpy(read->prev_first, first ? first : "", sizeof(read->prev_first));
	strlcpy(read->prev_last, last ? last : "", sizeof(read->prev_last));
	return same;
}

/*
 * is_last_page
 *		Whether the page just read ends its window, without trusting the
 *		requested page size: a page past the end has no objects; a short
 *		page ends the window only once the window has returned totalHits
 *		objects (totalHits is approximate: when in doubt, ask once more),
 *		and never where short pages are the API's habit (user details).
 */
static bool
is_last_page(GcScan *scan, DetailsRead *read, GcPage *page, int rows)
{
	char	   *total;

	if (rows == 0)
		return true;
	/* where short pages are the API's habit, only an empty one ends */
	if (rows >= scan->opts.page_size || scan->api->short_pages)
		return false;
	total = gc_page_string(page, "totalHits");
	return total != NULL && read->window_rows >= strtoll(total, NULL, 10);
}

/*
 * note_total_hits
 *		From a pass's first page, how many pages the window holds (so the
 *		pages after it go out ahead); from the others, whether totalHits
 *		changed meanwhile.
 */
static void
note_total_hits(GcScan *scan, DetailsRead *read, GcPage *page)
{
	char	   *text = gc_page_string(page, "totalHits");
	int64		total = text ? strtoll(text, NULL, 10) : -1;

	if (read->page_number == 1)
	{
		read->pass_total = total;
		gc_scan_series_pages(scan, total > 0 ?
							 (total + scan->opts.page_size - 1) / scan->opts.page_size : 0);
	}
	else if (total >= 0 && read->pass_total >= 0 && total != read->pass_total)
		read->total_changed = true;
}

/*
 * details_next_page
 *		The next page of the current window, moving to the next window when
 *		it is done.  A window the API finds too large is split (and nothing
 *		is made current: the core calls again).
 */
static bool
details_next_page(GcScan *scan)
{
	DetailsRead *read = scan->read;
	const GcApiDef *api = scan->api;
	GcHttpResponse resp;
	GcPage	   *page;
	bool		shifted = false;
	char	   *what;
	int			rows;

	if (read->in_window && read->last_page)
	{
		if (pass_settled(scan, read))
			read->in_window = false;
		else
			read_window_again(scan, read);
	}
	if (!read->in_window && !next_window(scan, read))
		return false;
	read->page_number++;
	gc_scan_fetch_page(scan, api->method, read->page_number, &resp, 400);
	if (resp.status == 400)
	{
		if (!gc_window_too_large(resp.body))
			gc_api_report_error(scan->conn, api->method, api->path, &resp);
		if (!gc_windows_split(&read->windows))
			gc_window_unsplittable(scan, &read->windows, resp.body, false);
		scan->stats.splits++;
		restart_series(scan, read);
		return true;
	}
	what = psprintf("%s %s (page %d)", api->method, api->path, read->page_number);
	page = gc_scan_parse(scan, &resp, what);
	note_total_hits(scan, read, page);

	/*
	 * A page identical to the one before it (buggy paging, or results
	 * shifting by a whole page under live traffic) would end the window
	 * early: its objects are all duplicates, yet count towards totalHits.
	 * Ask for it once more; if it repeats again, the results shifted: read
	 * on, without counting the page towards totalHits, so the objects it
	 * displaced are still fetched from the pages after it.
	 */
	if (gc_page_row_count(page, api->array_key) > 0 &&
		repeats_previous_page(scan, read, page))
	{
		if (!read->refetched)
		{
			elog(DEBUG1, "gc_fdw: %s repeats the previous page; asking for it again", what);
			read->refetched = true;
			read->page_number--;
			return true;
		}
		elog(DEBUG1, "gc_fdw: %s repeats the previous page again; reading on", what);
		shifted = true;
	}
	read->refetched = false;
	rows = gc_scan_use_page(scan, page);
	if (!shifted)
		read->window_rows += rows;
	if (rows > 0 && read->short_page && !api->short_pages)
		read->skipped = true;
	if (rows > 0 && rows < scan->opts.page_size)
		read->short_page = true;
	read->last_page = is_last_page(scan, read, page, rows);
	return true;
}

/*
 * details_accept_top
 *		Whether the current object is returned: it must start in the
 *		current window (the API returns whole UTC days), unless the API's
 *		records are judged instead; an id met twice in one pass means rows
 *		moved forward (counted as a duplicate dropped); one returned by an
 *		earlier pass (or by the window this one split from) is simply not
 *		returned again.
 */
static bool
details_accept_top(GcScan *scan)
{
	DetailsRead *read = scan->read;
	const GcApiDef *api = scan->api;
	char	   *id;

	if (!api->interval_on_rows && !read->windows.overlap &&
		!gc_windows_holds(&read->windows, gc_scan_top_string(scan, api->interval_field)))
		return false;
	id = gc_scan_top_string(scan, api->top_id_key);
	if (read->pass_ids != NULL && gc_id_set_add(read->pass_ids, id))
	{
		read->repeats = true;
		scan->stats.duplicates++;
		return false;
	}
	if (api->interval_on_rows)
		return true;
	switch (gc_windows_repeat(&read->windows, id))
	{
		case GC_REPEAT_NONE:
			if (read->pass > 1)
				read->found_new = true;
			return true;
		case GC_REPEAT_WINDOW:
			if (read->pass == 1)
			{
				/* met earlier in this first pass: rows moved forward */
				read->repeats = true;
				scan->stats.duplicates++;
			}
			return false;
		case GC_REPEAT_CARRIED:
			if (read->pass == 1)
				scan->stats.duplicates++;
			return false;
	}
	return false;				/* not reached */
}

/*
 * details_accept_row
 *		For an API whose records carry the interval field: whether the
 *		current record starts in the window (or overlaps the interval) and
 *		was not returned before.
 */
static bool
details_accept_row(GcScan *scan)
{
	DetailsRead *read = scan->read;

	switch (gc_windows_judge_row(scan, &read->windows))
	{
		case GC_WINDOW_OUTSIDE:
			return false;
		case GC_WINDOW_REPEAT:
			if (read->pass == 1)
				scan->stats.duplicates++;
			return false;
		case GC_WINDOW_NEW:
			break;
	}
	if (read->pass > 1)
		read->found_new = true;
	return true;
}

static void
details_explain(GcScan *scan, ExplainState *es)
{
	/* shown only when it happened, so plans without it read the same */
	if (scan->stats.rereads > 0)
		ExplainPropertyInteger("Windows Read Again", NULL, scan->stats.rereads, es);
}

const GcDriver gc_details_driver = {
	.name = "analytics details query",
	.describe = details_describe,
	.begin = details_begin,
	.next_page = details_next_page,
	.page_request = details_page_request,
	.accept_top = details_accept_top,
	.accept_row = details_accept_row,
	.explain = details_explain,
};
