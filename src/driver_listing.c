/*-------------------------------------------------------------------------
 *
 * driver_listing.c
 *		  The entity-listing driver: GET pages of a platform entity listing
 *		  (pageSize, pageNumber; the last page has no nextUri), with the
 *		  listing's query parameters, its expansions, and an id list
 *		  parameter read in chunks of GC_IDS_PER_REQUEST ids; and listings
 *		  nested in another's objects (a queue's members), read for the
 *		  parents a condition names, or for every object of the parent
 *		  listing.
 *
 * A listing is one series of numbered pages (one per id chunk, one per
 * parent); the first page's pageCount lets the scan core request the pages
 * after it ahead.  The API may return fewer rows than asked for, so the end
 * is what the listing says (no nextUri, or an empty page), never the page
 * size.  A nested listing's objects do not say whose they are: each gets
 * the parent's id as a member (api->parent_key), which its table reads.
 *
 * Must not: know which resource it lists (the catalogue's API entry says
 * the path, parameters and expansions) or do I/O other than through the
 * scan core.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "gc_fdw.h"
#include "utils/memutils.h"

/* The driver's state, in scan_cxt */
typedef struct ListingRead
{
	bool		in_series;		/* a listing (or id chunk) is being read */
	int			chunks;			/* listings started */
	List	   *chunk_ids;		/* ids of the current chunk, or NIL */
	List	   *parents;		/* a nested listing's parents, once known */
	bool		have_parents;
	char	   *parent;			/* the parent being listed */
	int			page_number;
	bool		last_page;		/* no page follows in this listing */
	List	   *expands;		/* expand= values the query's columns read */
} ListingRead;

static void
listing_describe(GcScan *scan, GcReadPlan *plan)
{
	plan->request = psprintf("%s %s", scan->api->method, scan->api->path);
	plan->page_size = scan->opts.page_size;
	plan->ahead = true;
}

static void
listing_begin(GcScan *scan)
{
	ListingRead *read = palloc0(sizeof(ListingRead));
	const char *const *expand;

	/* optional expansions cost the API time: ask only for those read */
	for (expand = scan->api->expands; expand && *expand; expand++)
		if (gc_column_map_uses_key(scan->map, *expand))
			read->expands = lappend(read->expands, (char *) *expand);
	scan->read = read;
}

/*
 * list_parents
 *		Every id of a nested listing's parent listing (each queue, for the
 *		queues' members), page by page, into scan_cxt.
 */
static List *
list_parents(GcScan *scan)
{
	const GcApiDef *parent = scan->api->parent;
	List	   *ids = NIL;
	int			page_number = 0;
	bool		more = true;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "gc_fdw parent page",
											  ALLOCSET_DEFAULT_SIZES);

	while (more)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
		StringInfoData path;
		GcHttpResponse resp;
		GcPage	   *page;
		GcRowCursor *cursor;

		initStringInfo(&path);
		gc_build_listing_path(&path, parent, NULL, parent->max_page_size, ++page_number,
							  NIL, NIL, NIL);
		gc_api_call(scan->conn, "GET", path.data, NULL, &scan->stats, &resp);
		page = gc_page_parse(cxt, resp.body, resp.body_len,
							 psprintf("GET %s (page %d)", parent->path, page_number));
		cursor = gc_cursor_create(page, parent->array_key, GC_LEVEL_ENTITY);
		MemoryContextSwitchTo(scan->scan_cxt);
		while (gc_cursor_next_top(cursor))
		{
			char	   *id = gc_cursor_top_string(cursor, parent->top_id_key);

			if (id)
				ids = lappend(ids, id);
		}
		more = gc_page_row_count(page, parent->array_key) > 0 &&
			gc_page_has_key(page, "nextUri");
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(cxt);
	}
	MemoryContextDelete(cxt);
	return ids;
}

/*
 * next_listing
 *		Start the next listing: the next parent of a nested listing, the
 *		next chunk of ids, or the one listing of everything.  False when
 *		there is none.
 */
static bool
next_listing(GcScan *scan, ListingRead *read)
{
	MemoryContext oldcxt;

	if (scan->api->parent)
	{
		if (!read->have_parents)
		{
			read->parents = scan->spec.have_parents ? scan->spec.parents : list_parents(scan);
			read->have_parents = true;
		}
		if (read->chunks >= list_length(read->parents))
			return false;
		read->parent = list_nth(read->parents, read->chunks);
	}
	else if (scan->spec.ids != NIL)
	{
		int			first = read->chunks * GC_IDS_PER_REQUEST;

		if (first >= list_length(scan->spec.ids))
			return false;
		oldcxt = MemoryContextSwitchTo(scan->scan_cxt);
		read->chunk_ids = list_truncate(list_copy_tail(scan->spec.ids, first),
										GC_IDS_PER_REQUEST);
		MemoryContextSwitchTo(oldcxt);
	}
	else if (read->chunks > 0)
		return false;
	read->chunks++;
	read->in_series = true;
	read->page_number = 0;
	read->last_page = false;
	gc_scan_new_series(scan);
	scan->stats.windows++;
	gc_progress_window(scan->progress_id, 0, 0, read->chunks);
	return true;
}

static void
listing_page_request(GcScan *scan, int page_number, char **path, char **body)
{
	ListingRead *read = scan->read;
	StringInfoData buf;

	initStringInfo(&buf);
	gc_build_listing_path(&buf, scan->api, read->parent, scan->opts.page_size,
						  page_number, scan->spec.params, read->chunk_ids,
						  read->expands);
	*path = buf.data;
	*body = NULL;
}

/*
 * listing_next_page
 *		The next page of the listing.  A 200 without the listing's array is
 *		not a listing at all: an error rather than a silent end.
 */
static bool
listing_next_page(GcScan *scan)
{
	ListingRead *read = scan->read;
	const GcApiDef *api = scan->api;
	GcHttpResponse resp;
	GcPage	   *page;
	int			rows;

	if ((!read->in_series || read->last_page) && !next_listing(scan, read))
		return false;
	read->page_number++;
	gc_scan_fetch_page(scan, api->method, read->page_number, &resp, 0);
	page = gc_scan_parse(scan, &resp, psprintf("%s %s (page %d)", api->method,
											   api->path, read->page_number));
	if (read->page_number == 1)
	{
		char	   *count = gc_page_string(page, "pageCount");

		gc_scan_series_pages(scan, count ? strtoll(count, NULL, 10) : 0);
	}
	if (!gc_page_has_key(page, api->array_key))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("Genesys Cloud answered %s %s (page %d) without a %s listing",
						api->method, api->path, read->page_number, api->item),
				 errdetail("The response has no \"%s\" array.", api->array_key),
				 errhint("A proxy between PostgreSQL and Genesys Cloud may be rewriting responses.")));
	if (api->parent_key)
		gc_page_add_member(page, api->array_key, api->parent_key, read->parent);
	rows = gc_scan_use_page(scan, page);
	read->last_page = rows == 0 || !gc_page_has_key(page, "nextUri");
	return true;
}

const GcDriver gc_listing_driver = {
	.name = "entity listing",
	.describe = listing_describe,
	.begin = listing_begin,
	.next_page = listing_next_page,
	.page_request = listing_page_request,
};
