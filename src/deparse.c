/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		  Writes Genesys API requests from what the pushed conditions
 *		  evaluated to (conds.c): query and job bodies (interval, order,
 *		  paging, filter groups), listing query strings (paging,
 *		  parameters, id lists, expansions), lookup and job paths, and the
 *		  timestamps and URL encoding they use.
 *
 * Every path comes from the catalogue's API entry; nothing here knows a
 * resource by name.  No I/O happens here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "gc_fdw.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/timestamp.h"

/*
 * gc_bound_timestamptz
 *		A conversation_start bound's value as timestamptz: date and
 *		timestamp values convert as the cross-type comparison operators do
 *		(in the session time zone).
 */
TimestampTz
gc_bound_timestamptz(Datum value, Oid type)
{
	if (type == TIMESTAMPOID)
		value = DirectFunctionCall1(timestamp_timestamptz, value);
	else if (type == DATEOID)
		value = DirectFunctionCall1(date_timestamptz, value);
	return DatumGetTimestampTz(value);
}

/*
 * gc_format_timestamp
 *		ISO-8601 UTC with milliseconds, as Genesys writes them:
 *		2024-04-29T17:30:43.090Z.  round_up rounds sub-millisecond parts up
 *		(for exclusive interval ends), otherwise they are truncated.
 */
char *
gc_format_timestamp(TimestampTz ts, bool round_up)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int64		ms_part;

	if (round_up && ts % 1000 != 0)
		ts += 1000 - ((ts % 1000) + 1000) % 1000;
	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for a Genesys Cloud interval")));
	ms_part = fsec / 1000;
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) ms_part);
}

/*
 * append_filter_group
 *		"group":[{"type":"and","clauses":[{"type":"or","predicates":[...]}]}]
 *		for the filter clauses of one group, if it has any.  Each clause is
 *		one SQL condition; its predicates are its values.
 */
static void
append_filter_group(StringInfo buf, const char *group, List *filters)
{
	ListCell   *lc;
	ListCell   *lv;
	int			clauses = 0;

	foreach(lc, filters)
	{
		GcFilterClause *fc = lfirst(lc);
		bool		first_pred = true;

		if (strcmp(fc->group, group) != 0)
			continue;
		if (clauses++ == 0)
			appendStringInfo(buf, ",\"%s\":[{\"type\":\"and\",\"clauses\":[", group);
		else
			appendStringInfoChar(buf, ',');
		appendStringInfoString(buf, "{\"type\":\"or\",\"predicates\":[");
		if (fc->values == NIL)
			appendStringInfo(buf, "{\"type\":\"dimension\",\"dimension\":\"%s\",\"operator\":\"%s\"}",
							 fc->dimension, fc->op);
		foreach(lv, fc->values)
		{
			appendStringInfo(buf, "%s{\"type\":\"dimension\",\"dimension\":\"%s\",\"operator\":\"%s\",\"value\":",
							 first_pred ? "" : ",", fc->dimension, fc->op);
			escape_json(buf, (const char *) lfirst(lv));
			appendStringInfoChar(buf, '}');
			first_pred = false;
		}
		appendStringInfoString(buf, "]}");
	}
	if (clauses > 0)
		appendStringInfoString(buf, "]}]");
}

/*
 * append_filters
 *		Every filter group of the request, in the order the API's pushable
 *		fields first name them.
 */
static void
append_filters(StringInfo buf, const GcApiDef *api, List *filters)
{
	const GcPushableDef *p;
	const GcPushableDef *q;

	for (p = api->pushables; p && p->field; p++)
	{
		bool		named_before = false;

		if (p->kind != GC_PUSH_FILTER)
			continue;
		for (q = api->pushables; q < p; q++)
			if (q->kind == GC_PUSH_FILTER && strcmp(q->target, p->target) == 0)
				named_before = true;
		if (!named_before)
			append_filter_group(buf, p->target, filters);
	}
}

/*
 * gc_build_query_body
 *		The query body of one page of one interval window: interval, order,
 *		paging and filters.
 */
void
gc_build_query_body(StringInfo buf, const GcApiDef *api, TimestampTz win_start,
					TimestampTz win_end, int page_size, int page_number,
					List *filters, bool descending)
{
	appendStringInfo(buf, "{\"interval\":\"%s/%s\",\"order\":\"%s\"",
					 gc_format_timestamp(win_start, false),
					 gc_format_timestamp(win_end, true),
					 descending ? "desc" : "asc");
	if (api->order_by)
		appendStringInfo(buf, ",\"orderBy\":\"%s\"", api->order_by);
	appendStringInfo(buf, ",\"paging\":{\"pageSize\":%d,\"pageNumber\":%d}",
					 page_size, page_number);
	append_filters(buf, api, filters);
	appendStringInfoChar(buf, '}');
}

/*
 * gc_build_job_body
 *		The body that submits an async job for one interval window.
 */
void
gc_build_job_body(StringInfo buf, const GcApiDef *api, TimestampTz win_start,
				  TimestampTz win_end, List *filters)
{
	appendStringInfo(buf, "{\"interval\":\"%s/%s\"",
					 gc_format_timestamp(win_start, false),
					 gc_format_timestamp(win_end, true));
	append_filters(buf, api, filters);
	appendStringInfoChar(buf, '}');
}

/*
 * gc_append_url_encoded
 *		Append value percent-encoded for a query string (RFC 3986 unreserved
 *		characters pass through).
 */
void
gc_append_url_encoded(StringInfo buf, const char *value)
{
	const unsigned char *p;

	for (p = (const unsigned char *) value; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
			*p == '_' || *p == '~')
			appendStringInfoChar(buf, (char) *p);
		else
			appendStringInfo(buf, "%%%02X", *p);
	}
}

/* Append ids as a comma-joined, URL-encoded list */
static void
append_id_list(StringInfo buf, List *ids)
{
	ListCell   *lc;

	foreach(lc, ids)
	{
		if (lc != list_head(ids))
			appendStringInfoString(buf, "%2C");
		gc_append_url_encoded(buf, (const char *) lfirst(lc));
	}
}

/*
 * gc_build_listing_path
 *		Path and query string of one page of an entity listing (of the
 *		parent whose id is given, for a nested one): paging, each query
 *		parameter the API takes (with the values a condition gave it, each
 *		repeated, or its value when absent), the id list, and the
 *		expansions asked for.
 */
void
gc_build_listing_path(StringInfo buf, const GcApiDef *api, const char *parent,
					  int page_size, int page_number, List *params, List *ids,
					  List *expands)
{
	const GcPushableDef *p;
	ListCell   *lc;
	ListCell   *lv;

	if (api->parent_key && parent)
	{
		/* "/api/v2/routing/queues/{queueId}/members" */
		const char *slot = strchr(api->path, '{');

		appendBinaryStringInfo(buf, api->path, slot - api->path);
		gc_append_url_encoded(buf, parent);
		appendStringInfoString(buf, strchr(slot, '}') + 1);
	}
	else
		appendStringInfoString(buf, api->path);
	appendStringInfo(buf, "?pageSize=%d&pageNumber=%d", page_size, page_number);
	if (api->fixed_params)
		appendStringInfo(buf, "&%s", api->fixed_params);
	for (p = api->pushables; p && p->field; p++)
	{
		List	   *values = p->absent ? list_make1((char *) p->absent) : NIL;

		if (p->kind != GC_PUSH_PARAM)
			continue;
		foreach(lc, params)
			if (strcmp(((GcQueryParam *) lfirst(lc))->name, p->target) == 0)
				values = ((GcQueryParam *) lfirst(lc))->values;
		foreach(lv, values)
		{
			appendStringInfo(buf, "&%s=", p->target);
			gc_append_url_encoded(buf, lfirst(lv));
		}
	}
	if (ids != NIL)
	{
		appendStringInfo(buf, "&%s=", api->id_param);
		append_id_list(buf, ids);
	}
	foreach(lc, expands)
	{
		appendStringInfoString(buf, "&expand=");
		gc_append_url_encoded(buf, lfirst(lc));
	}
}

/*
 * gc_build_lookup_path
 *		GET path that fetches the given objects by id.
 */
void
gc_build_lookup_path(StringInfo buf, const GcApiDef *api, List *ids)
{
	appendStringInfo(buf, "%s?id=", api->lookup_path);
	append_id_list(buf, ids);
}

/*
 * gc_build_job_path
 *		Path of an async job ("" suffix), or of one of its sub-resources.
 */
void
gc_build_job_path(StringInfo buf, const GcApiDef *api, const char *job_id,
				  const char *suffix)
{
	appendStringInfo(buf, "%s/%s%s", api->jobs_path, job_id, suffix);
}

/*
 * gc_build_job_results_path
 *		Path of one results page of an async job.
 */
void
gc_build_job_results_path(StringInfo buf, const GcApiDef *api,
						  const char *job_id, const char *cursor)
{
	gc_build_job_path(buf, api, job_id, "");
	appendStringInfo(buf, "/results?pageSize=%d", GC_JOB_PAGE_SIZE);
	if (cursor)
	{
		appendStringInfoString(buf, "&cursor=");
		gc_append_url_encoded(buf, cursor);
	}
}
