/*-------------------------------------------------------------------------
 *
 * driver_listing.c
 *		  The entity-listing driver: GET pages of a platform entity listing
 *		  (pageSize, pageNumber; the last page has no nextUri), with the
 *		  listing's query parameters, its expansions, and an id list
 *		  parameter read in chunks of GC_IDS_PER_REQUEST ids.
 *
 * The listing is one series of numbered pages (one per id chunk); the
 * first page's pageCount lets the scan core request the pages after it
 * ahead.  The API may return fewer rows than asked for, so the end is what
 * the listing says (no nextUri, or an empty page), never the page size.
 *
 * Must not: know which resource it lists (the catalogue's API entry says
 * the path, parameters and expansions) or do I/O other than through the
 * scan core.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "gc_fdw.h"

/* The driver's state, in scan_cxt */
typedef struct ListingRead
{
	bool		in_series;		/* a listing (or id chunk) is being read */
	int			chunks;			/* listings started */
	List	   *chunk_ids;		/* ids of the current chunk, or NIL */
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
 * next_listing
 *		Start the next listing: the next chunk of ids, or the one listing of
 *		everything.  False when there is none.
 */
static bool
next_listing(GcScan *scan, ListingRead *read)
{
	MemoryContext oldcxt;

	if (scan->spec.ids != NIL)
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
	gc_build_listing_path(&buf, scan->api, scan->opts.page_size, page_number,
						  scan->spec.params, read->chunk_ids, read->expands);
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
