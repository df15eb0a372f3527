/*-------------------------------------------------------------------------
 *
 * stats.c
 *		  This backend's API counters, shown by gc_fdw.stats() and cleared by
 *		  gc_fdw.stats_reset().
 *
 * Counters are kept per endpoint (method and path, with ids replaced by
 * "{id}" and the query string dropped) in backend-local memory: they count
 * what this session sent since it started or since the last reset, across
 * every scan, foreign table and user mapping.  The transport (http.c)
 * counts exchanges, re-authentications, 429 waits, retries and errors; the
 * scanner counts pages and rows against the endpoint that answered last.
 *
 * Must not: talk to the network, hold anything that names a credential or
 * a token (endpoint keys are built from paths without their query string),
 * or allocate outside TopMemoryContext (the counters outlive transactions).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "gc_fdw.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#define GC_STATS_MAX_ENDPOINTS	32
#define GC_STATS_ENDPOINT_LEN	128

struct GcEndpointStats
{
	char		endpoint[GC_STATS_ENDPOINT_LEN];	/* "POST /oauth/token" */
	int64		requests;		/* exchanges, whatever their answer */
	int64		pages;			/* result pages parsed */
	int64		rows;			/* top-level rows in those pages */
	int64		bytes;			/* response body bytes received */
	int64		reauths;		/* 401 answers that fetched a new token */
	int64		http_429;		/* 429 answers waited out */
	double		wait_429_secs;	/* seconds slept for them */
	int64		retries;		/* retries after a 5xx, a network failure or
								 * a 2xx answer cut short */
	int64		errors;			/* exchanges that ended the statement */
	TimestampTz last_request;
};

static GcEndpointStats gc_endpoints[GC_STATS_MAX_ENDPOINTS];
static int	gc_endpoint_count = 0;
static GcEndpointStats *gc_last_answered = NULL;
static TimestampTz gc_stats_since = 0;
static TimestampTz gc_availability_seen = 0;

PG_FUNCTION_INFO_V1(gc_fdw_stats);
PG_FUNCTION_INFO_V1(gc_fdw_stats_reset);
PG_FUNCTION_INFO_V1(gc_fdw_data_availability_seen);

/*
 * looks_like_id
 *		Whether a path segment is an identifier (a UUID or any segment with
 *		digits that is not an API version such as "v2"), which the endpoint
 *		key replaces with "{id}" so that every job or user counts together.
 */
static bool
looks_like_id(const char *seg, size_t len)
{
	size_t		digits = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		if (isdigit((unsigned char) seg[i]))
			digits++;
	if (digits == 0)
		return false;
	return !(len <= 3 && (seg[0] == 'v' || seg[0] == 'V'));
}

/*
 * endpoint_key
 *		"METHOD /path/with/{id}" for a request path (query string dropped).
 */
static void
endpoint_key(char *out, size_t outlen, const char *method, const char *path)
{
	StringInfoData buf;
	const char *p = path;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s ", method);
	while (*p && *p != '?')
	{
		const char *end = p + 1;

		/* one "/segment" at a time */
		while (*end && *end != '/' && *end != '?')
			end++;
		if (*p == '/' && looks_like_id(p + 1, end - p - 1))
			appendStringInfoString(&buf, "/{id}");
		else
			appendBinaryStringInfo(&buf, p, end - p);
		p = end;
	}
	strlcpy(out, buf.data, outlen);
	pfree(buf.data);
}

/*
 * gc_stats_endpoint
 *		The counters of the endpoint a request goes to, created on first use.
 *		When the table is full, the last slot collects everything else.
 */
GcEndpointStats *
gc_stats_endpoint(const char *method, const char *path)
{
	char		key[GC_STATS_ENDPOINT_LEN];
	int			i;

	endpoint_key(key, sizeof(key), method, path);
	for (i = 0; i < gc_endpoint_count; i++)
		if (strcmp(gc_endpoints[i].endpoint, key) == 0)
			return &gc_endpoints[i];
	if (gc_endpoint_count == GC_STATS_MAX_ENDPOINTS)
	{
		GcEndpointStats *other = &gc_endpoints[GC_STATS_MAX_ENDPOINTS - 1];

		strlcpy(other->endpoint, "(other endpoints)", sizeof(other->endpoint));
		return other;
	}
	i = gc_endpoint_count++;
	memset(&gc_endpoints[i], 0, sizeof(GcEndpointStats));
	strlcpy(gc_endpoints[i].endpoint, key, sizeof(gc_endpoints[i].endpoint));
	return &gc_endpoints[i];
}

/* One exchange with the host, whatever its answer (bytes: body received) */
void
gc_stats_exchange(GcEndpointStats *ep, long status, size_t bytes)
{
	ep->requests++;
	ep->bytes += bytes;
	ep->last_request = GetCurrentTimestamp();
	if (status >= 200 && status < 300)
		gc_last_answered = ep;
}

/* A 401 answered by fetching a new token */
void
gc_stats_reauth(GcEndpointStats *ep)
{
	ep->reauths++;
}

/* A 429 waited out for secs seconds */
void
gc_stats_rate_limited(GcEndpointStats *ep, double secs)
{
	ep->http_429++;
	ep->wait_429_secs += secs;
}

/* A retry after a 5xx answer or a network failure */
void
gc_stats_retry(GcEndpointStats *ep)
{
	ep->retries++;
}

/* An exchange that ended the statement with an error */
void
gc_stats_error(GcEndpointStats *ep)
{
	ep->errors++;
}

/* A result page of rows top-level objects, from the last 2xx answer */
void
gc_stats_page(int rows)
{
	if (gc_last_answered == NULL)
		return;
	gc_last_answered->pages++;
	gc_last_answered->rows += rows;
}

/* A dataAvailabilityDate the jobs API reported */
void
gc_stats_availability(TimestampTz ts)
{
	gc_availability_seen = ts;
}

/*
 * gc_fdw_stats
 *		SQL: gc_fdw.stats(), one row per endpoint this backend has called.
 */
Datum
gc_fdw_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < gc_endpoint_count; i++)
	{
		GcEndpointStats *ep = &gc_endpoints[i];
		Datum		values[12];
		bool		nulls[12] = {0};

		values[0] = CStringGetTextDatum(ep->endpoint);
		values[1] = Int64GetDatum(ep->requests);
		values[2] = Int64GetDatum(ep->pages);
		values[3] = Int64GetDatum(ep->rows);
		values[4] = Int64GetDatum(ep->bytes);
		values[5] = Int64GetDatum(ep->reauths);
		values[6] = Int64GetDatum(ep->http_429);
		values[7] = Float8GetDatum(ep->wait_429_secs);
		values[8] = Int64GetDatum(ep->retries);
		values[9] = Int64GetDatum(ep->errors);
		values[10] = TimestampTzGetDatum(ep->last_request);
		nulls[10] = (ep->last_request == 0);
		/* counting starts with the session unless reset since */
		values[11] = TimestampTzGetDatum(gc_stats_since ? gc_stats_since :
										 MyStartTimestamp);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * gc_fdw_stats_reset
 *		SQL: gc_fdw.stats_reset(), zero this backend's counters.
 */
Datum
gc_fdw_stats_reset(PG_FUNCTION_ARGS)
{
	gc_endpoint_count = 0;
	gc_last_answered = NULL;
	gc_availability_seen = 0;
	gc_stats_since = GetCurrentTimestamp();
	PG_RETURN_VOID();
}

/*
 * gc_fdw_data_availability_seen
 *		SQL: the last dataAvailabilityDate this backend saw, or NULL.
 */
Datum
gc_fdw_data_availability_seen(PG_FUNCTION_ARGS)
{
	if (gc_availability_seen == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(gc_availability_seen);
}
