/*-------------------------------------------------------------------------
 *
 * driver_lookup.c
 *		  The lookup-by-id driver: GET the objects named by the ids the
 *		  conditions pushed (conversation_id = / IN), GC_IDS_PER_REQUEST
 *		  ids per request, one answer per chunk; an object returned twice
 *		  in one answer is returned once.
 *
 * Must not: know which resource it reads (the catalogue's API entry gives
 * the lookup path) or do I/O other than through the API layer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "gc_fdw.h"
#include "utils/memutils.h"

/* The driver's state, in scan_cxt */
typedef struct LookupRead
{
	int			chunks;			/* chunks of ids read */
	GcIdSet    *seen;			/* ids returned by this chunk (series_cxt) */
} LookupRead;

static void
lookup_describe(GcScan *scan, GcReadPlan *plan)
{
	plan->request = psprintf("GET %s?id=...", scan->api->lookup_path);
}

static void
lookup_begin(GcScan *scan)
{
	scan->read = palloc0(sizeof(LookupRead));
}

/*
 * lookup_next_page
 *		The answer for the next chunk of ids; false when all were asked.
 */
static bool
lookup_next_page(GcScan *scan)
{
	LookupRead *read = scan->read;
	int			first = read->chunks * GC_IDS_PER_REQUEST;
	StringInfoData path;
	GcHttpResponse resp;

	if (first >= list_length(scan->spec.ids))
		return false;
	read->chunks++;
	scan->stats.windows++;
	gc_progress_window(scan->progress_id, 0, 0, read->chunks);
	MemoryContextReset(scan->series_cxt);
	read->seen = gc_id_set_create(scan->series_cxt);

	initStringInfo(&path);
	gc_build_lookup_path(&path, scan->api,
						 list_truncate(list_copy_tail(scan->spec.ids, first),
									   GC_IDS_PER_REQUEST));
	gc_scan_call(scan, "GET", path.data, NULL, &resp, 0);
	gc_scan_use_page(scan, gc_scan_parse(scan, &resp,
										 psprintf("GET %s", scan->api->lookup_path)));
	return true;
}

static bool
lookup_accept_top(GcScan *scan)
{
	LookupRead *read = scan->read;

	if (gc_id_set_add(read->seen, gc_scan_top_string(scan, scan->api->top_id_key)))
	{
		scan->stats.duplicates++;
		return false;
	}
	return true;
}

const GcDriver gc_lookup_driver = {
	.name = "lookup by id",
	.describe = lookup_describe,
	.begin = lookup_begin,
	.next_page = lookup_next_page,
	.accept_top = lookup_accept_top,
};
