/*-------------------------------------------------------------------------
 *
 * sync.c
 *		  C support of the warehousing procedures (extension/sync_*.sql):
 *		  gc_fdw.conversation_rows() flattens one stored conversation into
 *		  the rows of a child table, and gc_fdw.max_interval_days() gives
 *		  the procedures the API's longest interval, the one the scan uses.
 *
 * A sync reads each chunk once, through the conversations foreign table
 * and its raw column, and derives participants, sessions, segments,
 * session metrics and participant attributes from that JSON here, with the
 * very column map and cursor the scanner uses: one request series per
 * chunk instead of one per table, and the same values a scan of the child
 * foreign table would return.
 *
 * Must not: talk to the network (everything comes from the conversation
 * argument, jsonb or its text) or keep the parsed JSON beyond one call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "gc_fdw.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* Column map of the last (resource, row type) pair, kept in fn_mcxt */
typedef struct GcFlattenCache
{
	Oid			rowtype;
	const GcResourceDef *res;
	GcColumnMap *map;
} GcFlattenCache;

PG_FUNCTION_INFO_V1(gc_fdw_conversation_rows);
PG_FUNCTION_INFO_V1(gc_fdw_max_interval_days);

/*
 * flatten_cache
 *		The column map for rows of res shaped like the table of rowtype.
 */
static GcFlattenCache *
flatten_cache(FunctionCallInfo fcinfo, const GcResourceDef *res, Oid rowtype)
{
	GcFlattenCache *cache = fcinfo->flinfo->fn_extra;
	Oid			relid;
	Relation	rel;
	MemoryContext oldcxt;

	if (cache && cache->rowtype == rowtype && cache->res == res)
		return cache;

	relid = get_typ_typrelid(rowtype);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("row_type of gc_fdw.conversation_rows must be a table's row type, not %s",
						format_type_be(rowtype)),
				 errhint("Pass a typed NULL, for example NULL::warehouse.segments.")));

	oldcxt = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (cache == NULL)
		cache = palloc0(sizeof(GcFlattenCache));
	rel = relation_open(relid, AccessShareLock);
	/* the whole-row bit: every column is wanted */
	cache->map = gc_column_map_create(rel, res,
									  bms_make_singleton(0 - FirstLowInvalidHeapAttributeNumber));
	relation_close(rel, AccessShareLock);
	cache->rowtype = rowtype;
	cache->res = res;
	fcinfo->flinfo->fn_extra = cache;
	MemoryContextSwitchTo(oldcxt);
	return cache;
}

/*
 * gc_fdw_conversation_rows
 *		SQL: gc_fdw.conversation_rows(resource text, conversation jsonb,
 *		row_type anyelement) RETURNS SETOF anyelement, and the sync's
 *		gc_fdw.sync_conversation_rows(resource text, conversation text,
 *		row_type anyelement): the same, given the conversation's JSON text.
 *
 *		The rows the foreign table of that resource would return for this
 *		one conversation (as stored in a conversations.raw column), shaped
 *		like row_type's table: each column reads the catalogue's JSON key for
 *		its name, or its camelCase form.  The page parser reads text: a sync
 *		deriving four child tables from one conversation prints its jsonb
 *		once and passes the text, instead of having it printed four times.
 */
Datum
gc_fdw_conversation_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const GcResourceDef *res;
	GcFlattenCache *cache;
	char	   *resname;
	MemoryContext call_cxt;
	MemoryContext oldcxt;
	StringInfoData doc;
	GcPage	   *page;
	GcRowCursor *cursor;
	Datum	   *values;
	bool	   *nulls;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("resource of gc_fdw.conversation_rows must not be NULL")));
	resname = text_to_cstring(PG_GETARG_TEXT_PP(0));
	res = gc_resource_lookup(resname);
	if (res == NULL || res->api != gc_resource_lookup("conversations")->api)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a conversation resource", resname),
				 errhint("Use conversations, participants, sessions, segments, session_metrics or participant_attributes.")));
	cache = flatten_cache(fcinfo, res, get_fn_expr_argtype(fcinfo->flinfo, 2));

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(1))
		return (Datum) 0;

	/* the JSON tree lives in call_cxt, deleted below or with its parent */
	call_cxt = AllocSetContextCreate(CurrentMemoryContext, "gc_fdw conversation rows",
									 ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(call_cxt);
	initStringInfo(&doc);
	appendStringInfo(&doc, "{\"%s\":[", res->api->array_key);
	if (get_fn_expr_argtype(fcinfo->flinfo, 1) == JSONBOID)
	{
		Jsonb	   *conversation = PG_GETARG_JSONB_P(1);

		(void) JsonbToCString(&doc, &conversation->root, VARSIZE(conversation));
	}
	else
	{
		text	   *conversation = PG_GETARG_TEXT_PP(1);

		appendBinaryStringInfo(&doc, VARDATA_ANY(conversation),
							   VARSIZE_ANY_EXHDR(conversation));
	}
	appendStringInfoString(&doc, "]}");
	{
		/* the page parser reads UTF-8; the text is in the database encoding */
		char	   *utf8 = pg_server_to_any(doc.data, doc.len, PG_UTF8);

		page = gc_page_parse(call_cxt, utf8, strlen(utf8), "a stored conversation");
	}
	cursor = gc_cursor_create(page, res->api->array_key, res->level);
	values = palloc(sizeof(Datum) * Max(rsinfo->setDesc->natts, 1));
	nulls = palloc(sizeof(bool) * Max(rsinfo->setDesc->natts, 1));
	while (gc_cursor_next_top(cursor))
	{
		while (gc_cursor_next_row(cursor))
		{
			gc_cursor_values(cursor, cache->map, values, nulls);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(call_cxt);
	return (Datum) 0;
}

/*
 * gc_fdw_max_interval_days
 *		SQL: gc_fdw.max_interval_days(filtered boolean DEFAULT false)
 *		RETURNS integer (STRICT).
 *
 *		The longest interval, in days, of one conversation details query:
 *		without filters (a sync's chunks), or with them.  The same constants
 *		cut the scan's windows, so a chunk is one window.
 */
Datum
gc_fdw_max_interval_days(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_BOOL(0) ? GC_MAX_FILTERED_WINDOW_DAYS : GC_MAX_WINDOW_DAYS);
}
