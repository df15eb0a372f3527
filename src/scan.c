/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  The scan core of gc_fdw: Begin/Iterate/ReScan/End of a foreign
 *		  scan, its memory contexts, the pages it keeps in flight and
 *		  turning a page's rows into tuples.  EXPLAIN is scan_explain.c.
 *
 * A scan evaluates its pushed conditions once per (re)scan (conds.c), has
 * the read plan decided (read_plan.c), and then asks the plan's driver for
 * pages: an entity listing, an analytics details query, analytics jobs or a
 * lookup by id.  The core knows nothing of the resource or API family it
 * reads; it calls the driver through GcDriver and offers the drivers what
 * every family needs: fetching a numbered page (with the pages after it
 * already in flight), parsing a page, and counting it.
 *
 * Memory: each page is fetched and parsed into page_cxt, reset before the
 * next page; each row is converted in row_cxt, reset per row; the driver's
 * state lives in scan_cxt (reset per scan or rescan) and series_cxt (reset
 * as the driver says, e.g. per window); pages in flight and their bodies
 * live in the ahead context, given up when it is reset or deleted (also on
 * error).  Nothing that grows with the result outlives a page, bar a
 * driver's de-duplication set bounded by its window.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "executor/executor.h"
#include "gc_fdw.h"
#include "miscadmin.h"
#include "common/md5.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/*
 * Pages in flight.  Once a driver says how many pages its current request
 * series holds, up to "concurrency" pages are kept in flight ahead of the
 * one being read, and read in page order (so a pushed ORDER BY holds).
 */
typedef struct GcAhead
{
	int			series;			/* bumped whenever page numbers restart */
	int64		series_pages;	/* pages of the series (0: unknown) */
	GcApiAhead *pages[GC_MAX_CONCURRENCY];	/* page n in pages[n % size] */
	int			first;			/* pages first .. next - 1 */
	int			next;			/* are in flight (or answered, unread) */
	int			of_series;		/* the series they belong to */
	MemoryContext cxt;			/* their requests and bodies */
	MemoryContextCallback cb;	/* gives them up when cxt goes */
	int64		sent;			/* pages requested ahead, for EXPLAIN */
	int64		unused;			/* ... and never read (LIMIT, split) */
} GcAhead;

/*
 * The reader of a scan's answers (GcBodyReader).  The retry rules hand it
 * each 2xx page as it arrives; it parses the body into page_cxt there, so
 * that a whole page is read once, and gives the framing check only to a
 * body that failed to parse: one cut short is then asked again within
 * max_retries, as before.  gc_scan_parse takes the page it made.
 */
typedef struct GcPageReader
{
	GcBodyReader base;
	MemoryContext cxt;			/* the scan's page_cxt */
	const char *body;			/* the body last read, or NULL */
	GcPage	   *page;			/* what was made of it */
} GcPageReader;

/*
 * The answers of a parameterised scan.  A join on an id rescans the scan
 * once per outer row, and outer rows repeat ids (many segments name one
 * queue): each request is sent once per query, its answer kept here (up to
 * GC_PAGE_CACHE_BYTES) and given again to a rescan that asks the same.
 */
#define GC_PAGE_CACHE_BYTES (16 * 1024 * 1024)

typedef struct GcCachedPage
{
	char		key[NAMEDATALEN];	/* hash key: a digest of the request */
	char	   *body;
	size_t		body_len;
} GcCachedPage;

typedef struct GcPageCache
{
	HTAB	   *pages;
	MemoryContext cxt;
	size_t		bytes;
} GcPageCache;

static void abandon_ahead(void *arg);
static bool read_answer(GcBodyReader *base, const GcHttpResponse *resp);

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
	GcScan	   *scan = palloc0(sizeof(GcScan));
	List	   *private = fsplan->fdw_private;
	Bitmapset  *attrs_used = NULL;
	ForeignTable *table;
	RangeTblEntry *rte;
	ListCell   *lc;

	node->fdw_state = scan;
	scan->anchor = -1;
	if (fsplan->scan.scanrelid == 0)
	{
		/* a pushed join reads its deepest table (join.c) */
		rte = gc_join_deepest_rte(node);
		scan->rel = table_open(rte->relid, NoLock);
		scan->own_rel = true;
	}
	else
	{
		rte = exec_rt_fetch(fsplan->scan.scanrelid, estate);
		scan->rel = node->ss.ss_currentRelation;
	}
	table = GetForeignTable(RelationGetRelid(scan->rel));
	gc_get_table_options(table, &scan->opts);
	scan->res = scan->opts.resource;
	scan->api = scan->res->api;
	scan->interval_column = strVal(list_nth(private, GcPrivIntervalColumn));
	scan->order = intVal(list_nth(private, GcPrivOrder));
	scan->conds = gc_deserialize_conds(scan->res, list_nth(private, GcPrivConds),
									   fsplan->fdw_exprs);
	foreach(lc, scan->conds)
	{
		GcPushedCond *cond = lfirst(lc);

		scan->cond_states = lappend(scan->cond_states, cond->expr ?
									ExecInitExpr(cond->expr, (PlanState *) node) : NULL);
	}
	scan->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
										   "gc_fdw scan", ALLOCSET_SMALL_SIZES);
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	/* the user whose mapping is used: the view owner's under a view */
	scan->conn = gc_get_connection(table, OidIsValid(rte->checkAsUser) ?
								   rte->checkAsUser : GetUserId());

	if (fsplan->scan.scanrelid == 0)
		gc_join_begin(scan, node);
	else
	{
		foreach(lc, (List *) list_nth(private, GcPrivAttrsUsed))
			attrs_used = bms_add_member(attrs_used,
										lfirst_int(lc) - FirstLowInvalidHeapAttributeNumber);
		scan->map = gc_column_map_create(scan->rel, scan->res, attrs_used);
	}

	scan->series_cxt = AllocSetContextCreate(estate->es_query_cxt,
											 "gc_fdw series", ALLOCSET_DEFAULT_SIZES);
	scan->page_cxt = AllocSetContextCreate(estate->es_query_cxt,
										   "gc_fdw page", ALLOCSET_DEFAULT_SIZES);
	scan->row_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "gc_fdw row", ALLOCSET_SMALL_SIZES);
	scan->reader = MemoryContextAllocZero(estate->es_query_cxt, sizeof(GcPageReader));
	scan->reader->base.whole = read_answer;
	scan->reader->cxt = scan->page_cxt;
	scan->ahead = MemoryContextAllocZero(estate->es_query_cxt, sizeof(GcAhead));
	scan->ahead->cxt = AllocSetContextCreate(estate->es_query_cxt,
											 "gc_fdw pages ahead", ALLOCSET_DEFAULT_SIZES);
	scan->ahead->cb.func = abandon_ahead;
	scan->ahead->cb.arg = scan;
	MemoryContextRegisterResetCallback(scan->ahead->cxt, &scan->ahead->cb);

	if (intVal(list_nth(private, GcPrivParameterized)))
	{
		HASHCTL		ctl;

		scan->cache = MemoryContextAllocZero(estate->es_query_cxt, sizeof(GcPageCache));
		scan->cache->cxt = AllocSetContextCreate(estate->es_query_cxt,
												 "gc_fdw rescan cache", ALLOCSET_DEFAULT_SIZES);
		ctl.keysize = NAMEDATALEN;
		ctl.entrysize = sizeof(GcCachedPage);
		ctl.hcxt = scan->cache->cxt;
		scan->cache->pages = hash_create("gc_fdw rescan cache", 64, &ctl,
										 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
}

/*
 * start_scan
 *		Evaluate the conditions, decide the read plan and let its driver
 *		begin (unless the conditions exclude every row).
 */
static void
start_scan(ForeignScanState *node, GcScan *scan)
{
	MemoryContext oldcxt;

	scan->started = true;
	scan->page = NULL;
	scan->page_rows = 0;
	scan->cursor = NULL;
	scan->in_top = false;
	scan->read = NULL;

	MemoryContextReset(scan->scan_cxt);
	oldcxt = MemoryContextSwitchTo(scan->scan_cxt);
	gc_evaluate_conds(scan->conds, scan->cond_states, node->ss.ps.ps_ExprContext,
					  RelationGetRelationName(scan->rel), &scan->noticed, &scan->spec);
	scan->progress_id = gc_progress_scan_begin(scan->rel, scan->conn->server_name);
	gc_read_plan_decide(scan, true, true);
	scan->finished = scan->plan.empty;
	if (!scan->finished)
		scan->plan.driver->begin(scan);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * next_leg
 *		The plan's first leg is read: start its second one (mode 'auto''s
 *		details query after the jobs) over the rest of the interval.  False
 *		when there is none.
 */
static bool
next_leg(GcScan *scan)
{
	GcReadPlan *plan = &scan->plan;
	MemoryContext oldcxt;

	if (plan->then_driver == NULL)
		return false;
	if (plan->driver->release)
		plan->driver->release(scan);
	MemoryContextReset(scan->series_cxt);
	plan->first_driver = plan->driver;
	plan->first_page_size = plan->page_size;
	plan->first_window_days = plan->window_days;
	plan->driver = plan->then_driver;
	plan->then_driver = NULL;
	plan->lo = plan->hi;
	plan->hi = plan->to;
	plan->page_size = plan->then_page_size;
	plan->ahead = plan->then_ahead;
	plan->window_days = plan->then_window_days;
	oldcxt = MemoryContextSwitchTo(scan->scan_cxt);
	plan->driver->begin(scan);
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/*
 * next_page
 *		Have the driver make the next page with rows current, the page
 *		memory reset before each attempt.  False when the read is over.
 */
static bool
next_page(GcScan *scan)
{
	for (;;)
	{
		MemoryContext oldcxt;
		bool		more;

		MemoryContextReset(scan->page_cxt);
		scan->page = NULL;
		scan->page_rows = 0;
		scan->cursor = NULL;
		oldcxt = MemoryContextSwitchTo(scan->page_cxt);
		more = scan->plan.driver->next_page(scan);
		MemoryContextSwitchTo(oldcxt);
		if (!more && !next_leg(scan))
			return false;
		if (more && scan->page != NULL && scan->page_rows > 0)
			return true;
	}
}

/*
 * gc_scan_iterate
 *		Return the next row, asking the driver for the next page when the
 *		current one is used up.
 */
TupleTableSlot *
gc_scan_iterate(ForeignScanState *node)
{
	GcScan	   *scan = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	const GcDriver *driver;
	MemoryContext oldcxt;

	ExecClearTuple(slot);
	if (!scan->started)
		start_scan(node, scan);
	driver = scan->plan.driver;

	while (!scan->finished)
	{
		MemoryContextReset(scan->row_cxt);
		oldcxt = MemoryContextSwitchTo(scan->row_cxt);

		if (!scan->in_top)
		{
			/* the next top-level object of the page, or the next page */
			if (scan->cursor == NULL || !gc_cursor_next_top(scan->cursor))
			{
				MemoryContextSwitchTo(oldcxt);
				if (!next_page(scan))
				{
					scan->finished = true;
					MemoryContextReset(scan->page_cxt);
					gc_progress_scan_end(scan->progress_id);
				}
				continue;
			}
			if (driver->accept_top && !driver->accept_top(scan))
			{
				MemoryContextSwitchTo(oldcxt);
				continue;
			}
			scan->in_top = true;
		}

		/* the next row under it: itself, or its nested rows */
		if (!gc_cursor_next_row(scan->cursor))
		{
			scan->in_top = false;
			MemoryContextSwitchTo(oldcxt);
			continue;
		}
		if (driver->accept_row && !driver->accept_row(scan))
		{
			MemoryContextSwitchTo(oldcxt);
			continue;
		}
		gc_cursor_values(scan->cursor, scan->map, slot->tts_values, slot->tts_isnull);
		MemoryContextSwitchTo(oldcxt);
		return ExecStoreVirtualTuple(slot);
	}
	return slot;
}

/*
 * discard_ahead
 *		Give up the pages requested ahead and not read yet, counting them.
 */
static void
discard_ahead(GcScan *scan)
{
	GcAhead    *ahead = scan->ahead;

	if (ahead->next > ahead->first)
		ahead->unused += ahead->next - ahead->first;
	ahead->first = ahead->next = 0;
	gc_api_abandon(scan);
	MemoryContextReset(ahead->cxt);
	/* a reset calls and forgets the callback: register it again */
	MemoryContextRegisterResetCallback(ahead->cxt, &ahead->cb);
}

/*
 * release_read
 *		Let the driver give up what its read holds, and drop the pages in
 *		flight and the page being read.
 */
static void
release_read(GcScan *scan)
{
	if (scan->started && scan->read != NULL && scan->plan.driver->release)
		scan->plan.driver->release(scan);
	scan->read = NULL;
	MemoryContextReset(scan->page_cxt);
	MemoryContextReset(scan->row_cxt);
	MemoryContextReset(scan->series_cxt);
	discard_ahead(scan);
	scan->page = NULL;
	scan->cursor = NULL;
	scan->in_top = false;
}

/*
 * gc_scan_rescan
 *		Start over: the pushed values may have changed (parameters).
 */
void
gc_scan_rescan(ForeignScanState *node)
{
	GcScan	   *scan = node->fdw_state;

	release_read(scan);
	scan->started = false;
}

/*
 * gc_scan_end
 *		Release the read (a LIMIT may end it early) and its memory now
 *		rather than at query end.
 */
void
gc_scan_end(ForeignScanState *node)
{
	GcScan	   *scan = node->fdw_state;

	if (scan != NULL && scan->own_rel && scan->rel != NULL)
	{
		table_close(scan->rel, NoLock);
		scan->own_rel = false;
	}
	if (scan == NULL || scan->page_cxt == NULL)
		return;
	release_read(scan);
	if (scan->started)
		gc_progress_scan_end(scan->progress_id);
	MemoryContextDelete(scan->page_cxt);
	MemoryContextDelete(scan->row_cxt);
	MemoryContextDelete(scan->series_cxt);
	MemoryContextDelete(scan->ahead->cxt);
	if (scan->cache)
		MemoryContextDelete(scan->cache->cxt);
	scan->cache = NULL;
	scan->page_cxt = scan->row_cxt = scan->series_cxt = NULL;
}

/*
 * abandon_ahead
 *		Memory context callback of the pages-ahead context: when the
 *		requests' memory goes (reset, end of scan, error), give up the
 *		transfers still in flight.
 */
static void
abandon_ahead(void *arg)
{
	gc_api_abandon(arg);
}

/*
 * gc_scan_new_series
 *		A driver starts a new series of numbered pages (a window, a half of
 *		one, an id chunk): pages in flight for the old one are given up
 *		when the new one is fetched, and its page count is unknown.
 */
void
gc_scan_new_series(GcScan *scan)
{
	scan->ahead->series++;
	scan->ahead->series_pages = 0;
}

/*
 * gc_scan_series_pages
 *		A driver learnt from a series' first page how many pages it holds:
 *		the pages after the one being read may now go out ahead.
 */
void
gc_scan_series_pages(GcScan *scan, int64 pages)
{
	scan->ahead->series_pages = (pages > 0 && pages < INT_MAX) ? pages : 0;
}

/*
 * send_ahead
 *		Keep up to "concurrency" pages in flight from page p on, once the
 *		series' first page has said how many it holds: never past its last
 *		page (no request is spent on an empty page) and never more than the
 *		rate-limit budget has left.
 */
static void
send_ahead(GcScan *scan, const char *method, int p)
{
	GcAhead    *ahead = scan->ahead;
	int			last;
	int			budget;

	if (scan->opts.concurrency <= 1 || ahead->series_pages <= 0)
		return;
	last = (int) Min((int64) p + scan->opts.concurrency - 1, ahead->series_pages);
	budget = gc_api_budget_left(scan->conn);
	while (ahead->next <= last)
	{
		MemoryContext oldcxt;
		GcApiAhead *sent;
		char	   *path;
		char	   *body;

		if (budget >= 0 && ahead->next - ahead->first >= Max(budget, 1))
			break;
		scan->plan.driver->page_request(scan, ahead->next, &path, &body);
		/* the request keeps its own copies, in ahead->cxt */
		oldcxt = MemoryContextSwitchTo(ahead->cxt);
		sent = gc_api_send_ahead(scan->conn, method, path, body, &scan->stats, scan);
		MemoryContextSwitchTo(oldcxt);
		pfree(path);
		if (body != NULL)
			pfree(body);
		if (sent == NULL)
			break;				/* other scans hold the slots: read on */
		ahead->pages[ahead->next % GC_MAX_CONCURRENCY] = sent;
		if (ahead->next > p)
			ahead->sent++;
		ahead->next++;
	}
}

/*
 * cache_key
 *		The key of a request in the rescan cache: a digest of its method,
 *		path and body.
 */
static void
cache_key(char *key, const char *method, const char *path, const char *body)
{
	char	   *text = psprintf("%s %s %s", method, path, body ? body : "");
	const char *errstr = NULL;

	if (!pg_md5_hash(text, strlen(text), key, &errstr))
		key[0] = '\0';
	pfree(text);
}

/*
 * gc_scan_fetch_page
 *		The answer to page page_number of the current series, in the
 *		current memory context: collected when it was sent ahead, else
 *		requested now; either way the pages after it are sent ahead first.
 *		The retry policy (401, 429, 5xx, network) applies to each page as
 *		if it had been requested alone; an answer of return_status (0:
 *		none) is handed back instead of raised.
 */
void
gc_scan_fetch_page(GcScan *scan, const char *method, int page_number,
				   GcHttpResponse *resp, long return_status)
{
	GcAhead    *ahead = scan->ahead;
	int			p = page_number;
	GcApiAhead *first = NULL;
	char	   *path;
	char	   *body;
	char		key[NAMEDATALEN] = "";
	GcCachedPage *hit;
	bool		asked_again;

	scan->reader->body = NULL;
	/* a rescan asking what an earlier one asked: the answer it got */
	if (scan->cache)
	{
		scan->plan.driver->page_request(scan, p, &path, &body);
		cache_key(key, method, path, body);
		hit = key[0] ? hash_search(scan->cache->pages, key, HASH_FIND, NULL) : NULL;
		if (hit)
		{
			memset(resp, 0, sizeof(GcHttpResponse));
			resp->status = 200;
			resp->body = palloc(hit->body_len + 1);
			memcpy(resp->body, hit->body, hit->body_len + 1);
			resp->body_len = hit->body_len;
			scan->stats.cached++;
			return;
		}
	}

	/* a page asked again (a repeated page) leaves the pages in flight be */
	asked_again = ahead->of_series == ahead->series &&
		p < ahead->first && ahead->next > ahead->first;

	if (!asked_again)
	{
		if (ahead->of_series != ahead->series || p != ahead->first)
		{
			discard_ahead(scan);
			ahead->of_series = ahead->series;
			ahead->first = ahead->next = p;
		}
		send_ahead(scan, method, p);
		if (p < ahead->next)
			first = ahead->pages[p % GC_MAX_CONCURRENCY];
		else
			ahead->next = p + 1;
		ahead->first = p + 1;
	}
	if (first != NULL)
		gc_api_collect(first, &scan->stats, resp, return_status,
					   &scan->reader->base);
	else
	{
		scan->plan.driver->page_request(scan, p, &path, &body);
		gc_api_call_ex(scan->conn, method, path, body, &scan->stats, resp,
					   return_status, &scan->reader->base);
	}
	if (scan->cache && key[0] && resp->status >= 200 && resp->status < 300 &&
		scan->cache->bytes + resp->body_len <= GC_PAGE_CACHE_BYTES)
	{
		bool		found;

		hit = hash_search(scan->cache->pages, key, HASH_ENTER, &found);
		if (!found)
		{
			hit->body = MemoryContextAlloc(scan->cache->cxt, resp->body_len + 1);
			memcpy(hit->body, resp->body, resp->body_len + 1);
			hit->body_len = resp->body_len;
			scan->cache->bytes += resp->body_len;
		}
	}
}

/*
 * gc_scan_call
 *		A page that is not one of a numbered series (a job's results, a
 *		lookup), requested now under the retry policy; its answer is read
 *		as gc_scan_fetch_page's are.
 */
void
gc_scan_call(GcScan *scan, const char *method, const char *path,
			 const char *body, GcHttpResponse *resp, long return_status)
{
	scan->reader->body = NULL;
	gc_api_call_ex(scan->conn, method, path, body, &scan->stats, resp,
				   return_status, &scan->reader->base);
}

/*
 * read_answer
 *		The scan's GcBodyReader: parse a 2xx page as it arrives; whether it
 *		is whole (parsed, or failing for another reason than ending early,
 *		which gc_scan_parse reports).
 */
static bool
read_answer(GcBodyReader *base, const GcHttpResponse *resp)
{
	GcPageReader *reader = (GcPageReader *) base;

	reader->body = resp->body;
	reader->page = gc_page_read(reader->cxt, resp->body, resp->body_len);
	return gc_page_parsed(reader->page) || !gc_body_ends_early(resp);
}

/*
 * gc_scan_parse
 *		The page an answer holds, in the page memory: the one the reader
 *		made as it arrived, else parsed now (a cached answer).  Raises for a
 *		malformed page; what names the request in the message.
 */
GcPage *
gc_scan_parse(GcScan *scan, const GcHttpResponse *resp, const char *what)
{
	GcPageReader *reader = scan->reader;
	GcPage	   *page;

	if (reader->body != NULL && reader->body == resp->body)
		page = reader->page;
	else
		page = gc_page_read(scan->page_cxt, resp->body, resp->body_len);
	reader->body = NULL;
	reader->page = NULL;
	return gc_page_check(page, what);
}

/*
 * gc_scan_use_page
 *		Make a parsed page the one whose rows are read, and count it.
 *		Returns its number of top-level objects.
 */
int
gc_scan_use_page(GcScan *scan, GcPage *page)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(scan->page_cxt);

	scan->page = page;
	scan->page_rows = gc_page_row_count(page, scan->api->array_key);
	scan->cursor = gc_cursor_create(page, scan->api->array_key, scan->res->level);
	if (scan->anchor >= 0)
		gc_cursor_set_anchor(scan->cursor, (GcLevel) scan->anchor);
	MemoryContextSwitchTo(oldcxt);
	scan->stats.pages++;
	scan->stats.rows_received += scan->page_rows;
	gc_stats_page(scan->page_rows);
	gc_progress_page(scan->progress_id, scan->stats.pages,
					 scan->stats.rows_received, scan->stats.requests);
	return scan->page_rows;
}

/*
 * gc_scan_top_string
 *		A string field of the cursor's current top-level object, or NULL.
 */
char *
gc_scan_top_string(GcScan *scan, const char *key)
{
	return gc_cursor_top_string(scan->cursor, key);
}

/*
 * gc_scan_row_string
 *		A string field of the cursor's current row, or NULL.
 */
char *
gc_scan_row_string(GcScan *scan, const char *key)
{
	return gc_cursor_row_string(scan->cursor, key);
}

/*
 * gc_scan_ahead_counts
 *		For EXPLAIN ANALYZE: pages requested ahead, and of those the ones
 *		never read (a LIMIT, a split), those still in flight included.
 */
void
gc_scan_ahead_counts(GcScan *scan, int64 *sent, int64 *unused)
{
	GcAhead    *ahead = scan->ahead;

	*sent = ahead->sent;
	*unused = ahead->unused + Max(ahead->next - ahead->first, 0);
}
