/*-------------------------------------------------------------------------
 *
 * gc_fdw.h
 *		  Shared structs and prototypes of gc_fdw, the Genesys Cloud CX
 *		  foreign data wrapper.  Grouped by the file that defines them.
 *
 * Nothing in here includes curl or json-c headers: transport details stay in
 * http.c, json-c objects stay in json_tuple.c and the scanner.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GC_FDW_H
#define GC_FDW_H

#include "postgres.h"

#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#define GC_FDW_VERSION "1.2"
#define GC_FDW_USER_AGENT "gc_fdw/" GC_FDW_VERSION " (PostgreSQL foreign data wrapper for Genesys Cloud)"

/* ----------------------------------------------------------------
 * catalog.c: the Genesys resources (tables, columns, JSON keys, types)
 * ----------------------------------------------------------------
 */
/*
 * Nesting level of a table's rows: the objects of a page (users,
 * conversations) and the objects nested in them (a conversation's
 * participants, their sessions, ...).  catalog.c says how they nest.
 */
typedef enum GcLevel
{
	GC_LEVEL_USER,
	GC_LEVEL_CONVERSATION,
	GC_LEVEL_PARTICIPANT,
	GC_LEVEL_SESSION,
	GC_LEVEL_SEGMENT,
	GC_LEVEL_METRIC,
	GC_LEVEL_ATTRIBUTE,
	GC_LEVEL_USER_DETAIL,		/* a user's status history */
	GC_LEVEL_PRESENCE,			/* ... its presence records */
	GC_LEVEL_ROUTING_STATUS,	/* ... its routing-status records */
	GC_LEVEL_ENTITY,			/* an object of a directory listing */
	GC_LEVEL_COUNT
} GcLevel;

/* How objects of one level nest (catalog.c) */
typedef struct GcLevelDef
{
	const char *name;			/* as a "level:" key prefix */
	int			parent;			/* GcLevel it sits in, -1 for a page's top */
	const char *member;			/* member of the parent's object holding it */
	const char *key;			/* field naming one among its siblings, or
								 * NULL (join pushdown joins on it) */
	bool		members_are_rows;	/* the member is an object whose members
									 * are the rows (name, value) */
} GcLevelDef;

typedef struct GcColumnDef
{
	const char *name;			/* column name in the generated DDL */
	const char *type;			/* SQL type name */
	const char *key;			/* JSON key or dotted path; "." = whole object */
} GcColumnDef;

/* The API's longest interval for a details query without / with filters */
#define GC_MAX_WINDOW_DAYS 7
#define GC_MAX_FILTERED_WINDOW_DAYS 31
/* Longest window of one async job */
#define GC_MAX_JOB_WINDOW_DAYS 31
/* Ids per lookup request (an id list parameter, or lookup by id) */
#define GC_IDS_PER_REQUEST 100
/* Rows per page of async job results */
#define GC_JOB_PAGE_SIZE 1000

/* What a pushed condition becomes in the request */
typedef enum GcPushKind
{
	GC_PUSH_BOUND,				/* bound on the interval field: the interval */
	GC_PUSH_IDS,				/* id = / IN: the id list parameter of a
								 * listing, or a lookup by id */
	GC_PUSH_PARAM,				/* equality: a listing's query parameter */
	GC_PUSH_FILTER,				/* a clause of a query filter group */
	GC_PUSH_PATH				/* = / IN on the parent id in the path of a
								 * nested listing: a listing per value */
} GcPushKind;

/* SQL shapes a pushable field takes (GcPushableDef.shapes) */
#define GC_SHAPE_EQ			0x01	/* column = value, column IN (...) */
#define GC_SHAPE_SCALAR_ONLY 0x02	/* column = value only */
#define GC_SHAPE_MEMBER		0x04	/* value = ANY (array column), array
									 * column @> ARRAY[...] */
#define GC_SHAPE_NULLTEST	0x08	/* IS NULL / IS NOT NULL: notExists /
									 * exists */
#define GC_SHAPE_ALWAYS		0x10	/* narrows even with pushdown off: it can
									 * never make a result wrong */
#define GC_SHAPE_JOIN		0x20	/* worth a parameterised path: joined on,
									 * each outer row's value narrows it */
#define GC_SHAPE_UUID		0x40	/* the API's values are UUIDs: any other
									 * value matches no row */

/*
 * A field of an API's objects that narrows its request: the level it lives
 * at, its JSON key there, what it becomes, and the SQL shapes it takes.
 */
typedef struct GcPushableDef
{
	GcLevel		level;
	const char *field;			/* JSON key at that level */
	GcPushKind	kind;			/* GC_PUSH_IDS, _PARAM or _FILTER */
	const char *target;			/* filter group or query parameter name */
	const char *dimension;		/* filter dimension */
	int			shapes;			/* GC_SHAPE_* */
	const char *const *values;	/* the values the API knows, or NULL */
	const char *absent;			/* a parameter's value when no condition
								 * sets it, or NULL to leave it out */
} GcPushableDef;

/* A way the API lists rows: one per family (scan.c section) */
typedef struct GcDriver GcDriver;

/*
 * One API listing: what is requested, how its pages read, which fields
 * narrow it, and the other endpoints of the same family (jobs, lookups).
 * Several tables share one (the conversation model's six tables read the
 * same conversation documents).
 */
typedef struct GcApiDef GcApiDef;

struct GcApiDef
{
	const char *noun;			/* what its top-level objects are, plural */
	const char *item;			/* ... and one of them */
	const char *family;			/* what it reads, in messages */
	const char *filter_examples;	/* columns that narrow it, in hints */
	const GcDriver *driver;		/* how its pages are listed */
	const char *method;			/* of the listing or query request */
	const char *path;			/* of the listing or query request */
	const char *array_key;		/* page member holding top-level objects */
	const char *top_id_key;		/* id of a top-level object */
	int			default_page_size;
	int			max_page_size;
	const char *id_param;		/* id list parameter of a listing, or NULL */
	const GcApiDef *parent;		/* a listing nested in the objects of
									 * another ("/queues/{queueId}/members"):
									 * its parents' listing, or NULL */
	const char *parent_key;		/* the parent's id: the path's {name}, and
								 * the member each row gets with its value */
	const char *const *expands; /* expand= values asked for when a column
								 * reads them, or NULL */
	const char *fixed_params;	/* query parameters every request sends
								 * ("deleted=all"), or NULL */
	GcLevel		interval_level; /* level of the interval field */
	bool		interval_on_rows;	/* ... or the level of each table's rows
									 * (records that start in a window) */
	const char *interval_field; /* field whose bounds are the interval, or
								 * NULL: the listing takes no interval */
	const char *interval_column;	/* its column's name in the catalogue */
	const char *interval_end_field; /* end of a record: a lower bound on it
									 * reads the records overlapping an
									 * interval; or NULL */
	const char *order_by;		/* orderBy of the query, or NULL */
	bool		short_pages;	/* pages may be short without data moving:
								 * a short page is no sign of late arrivals */
	const char *jobs_path;		/* async jobs of the same query, or NULL */
	const char *lookup_path;	/* GET by id list, or NULL */
	const GcPushableDef *pushables; /* terminated by a NULL field */
	double		default_rows;	/* planner: rows a listing holds, or top
								 * objects per day of an interval */
};

typedef struct GcResourceDef
{
	const char *name;			/* value of the table option "resource" */
	const GcApiDef *api;		/* the listing its rows come from */
	GcLevel		level;			/* which nested objects are the rows */
	const char *id_key;			/* JSON key identifying a row (errors) */
	const GcColumnDef *columns; /* terminated by a NULL name */
	double		rows_per_top;	/* planner: rows per top-level object */
	bool		updatable;		/* UPDATE sends PATCH (modify.c) */
} GcResourceDef;

/* The entries: catalog_directory.c, catalog_analytics.c (NULL name ends) */
extern const GcResourceDef gc_directory_resources[];
extern const GcResourceDef gc_analytics_resources[];

extern const GcResourceDef *gc_resource_lookup(const char *name);
extern const GcResourceDef *gc_resource_at(int i);
extern int	gc_level_lookup(const char *name, size_t len);
extern const GcLevelDef *gc_level_def(GcLevel level);
extern bool gc_level_within(GcLevel row_level, GcLevel level);
extern const char *gc_resource_names(void);
extern const GcColumnDef *gc_resource_column(const GcResourceDef *res,
											 const char *colname);
extern GcLevel gc_interval_level(const GcResourceDef *res);
extern char *gc_snake_to_camel(const char *name);

/* ----------------------------------------------------------------
 * option.c: option table, validator, merged option structs
 * ----------------------------------------------------------------
 */
typedef struct GcServerOptions
{
	char	   *environment;		/* region domain, e.g. mypurecloud.com */
	char	   *api_url;		/* base URL without trailing slash */
	char	   *login_url;		/* base URL without trailing slash */
	int			request_timeout;	/* seconds, whole transfer */
	int			connect_timeout;	/* seconds */
	int			max_retries;	/* retries after the first attempt */
	int			max_retry_after;	/* seconds; a longer Retry-After errors */
	char	   *ca_file;		/* PEM CA bundle for TLS verification, or NULL */
} GcServerOptions;

/* Requests one scan sends at once (option "concurrency"): the most, and
 * the default, chosen by measurement (docs/performance.md) */
#define GC_MAX_CONCURRENCY 16
#define GC_DEFAULT_CONCURRENCY 8

/* How conversation details are read (option "mode") */
typedef enum GcReadMode
{
	GC_READ_AUTO,				/* jobs for ranges of jobs_min_days or more */
	GC_READ_QUERY,				/* the synchronous details query */
	GC_READ_JOBS				/* the async jobs API */
} GcReadMode;

typedef struct GcTableOptions
{
	const GcResourceDef *resource;
	int			page_size;
	double		rows_per_day;	/* planner estimate; 0 = the default */
	bool		pushdown;		/* send filters, ids, order (table > server) */
	GcReadMode	mode;			/* query API, jobs API, or by range length */
	int			jobs_min_days;	/* auto: ranges at least this long use jobs */
	int			jobs_poll_interval; /* seconds between the first job polls */
	int			concurrency;	/* pages requested at once (table > server) */
	bool		unavailable_error;	/* range past dataAvailabilityDate: error */
	bool		retry_conflicts;	/* UPDATE: on_conflict 'retry' */
} GcTableOptions;

/*
 * Everything needed to talk to the API as one user mapping.  Strings live
 * in the memory context current when gc_get_connection() was called.
 */
typedef struct GcConnection
{
	Oid			serverid;
	Oid			umid;			/* user mapping OID: token cache key */
	char	   *server_name;
	char	   *user_name;		/* role the mapping is for, or "public" */
	char	   *client_id;
	char	   *client_secret;	/* never printed */
	GcServerOptions opts;
} GcConnection;

extern void gc_get_server_options(ForeignServer *server, GcServerOptions *opts);
extern void gc_get_table_options(ForeignTable *table, GcTableOptions *opts);
extern char *gc_get_column_key(Oid relid, AttrNumber attnum,
							   const GcResourceDef *res);
extern GcConnection *gc_get_connection(ForeignTable *table, Oid userid);

/* ----------------------------------------------------------------
 * Statistics of one scan, shown by EXPLAIN ANALYZE (filled by api.c,
 * retry.c, auth.c and the scanner).
 * ----------------------------------------------------------------
 */
typedef struct GcScanStats
{
	int64		requests;		/* HTTP exchanges with the API host */
	int64		pages;			/* result pages parsed */
	int64		rows_received;	/* JSON rows received, before recheck */
	int64		duplicates;		/* rows dropped by de-duplication */
	int64		retries;		/* retried exchanges (429, 5xx, network, a
								 * 2xx answer cut short) */
	int64		waits_429;		/* 429 answers waited out */
	double		wait_429_secs;	/* seconds slept for 429 answers */
	double		backoff_secs;	/* seconds slept for 5xx/network backoff */
	int64		reauths;		/* tokens fetched after the first one */
	int64		windows;		/* interval windows or id chunks read */
	int64		splits;			/* windows split for the API's caps */
	int64		rereads;		/* windows read again: their data moved */
	int64		job_polls;		/* async job status polls that waited */
	double		job_wait_secs;	/* seconds slept waiting for jobs */
	int64		token_requests; /* all token endpoint exchanges */
	int64		cached;			/* pages a rescan took from the scan's cache */
	int64		pacing_waits;	/* waits for a spent rate-limit budget */
	double		pacing_secs;	/* seconds of those waits */
} GcScanStats;

/* ----------------------------------------------------------------
 * http.c: the libcurl transport, the only file that includes libcurl's
 * header.  It sends requests and reports what came back; it decides no
 * retry and words no API error.  Used by retry.c, auth.c and api.c (and
 * jobs.c for the quiet DELETE); it calls none of them.
 * ----------------------------------------------------------------
 */

/*
 * Largest single response body accepted (the transport stops receiving
 * there): a body is copied into palloc'd memory, which holds less than
 * 1 GB.  All the bodies a backend receives at once share the budget
 * gc_fdw.max_response_memory as well (bodies.c).
 */
#define GC_HTTP_MAX_BODY		((size_t) 512 * 1024 * 1024)

/*
 * One HTTP response.  body is palloc'd (NUL-terminated) in the memory
 * context current at the call; headers of interest are copied out.
 */
typedef struct GcHttpResponse
{
	long		status;
	char	   *body;
	size_t		body_len;
	char	   *content_type;	/* may be NULL */
	char	   *correlation_id; /* ININ-Correlation-Id, may be NULL */
	char	   *location;		/* Location of a 3xx answer as sent (not
								 * sanitized), may be NULL */
	double		elapsed_secs;
	bool		retried_uncertain;	/* an earlier attempt failed in a way
									 * (network, 5xx) that may have let it
									 * take effect */
} GcHttpResponse;

/* What one attempt came to, in the terms the retry policy needs */
typedef enum GcHttpOutcome
{
	GC_HTTP_ANSWERED,			/* the host answered: status, headers, body */
	GC_HTTP_NET_TRANSIENT,		/* refused or broken connection, no or part
								 * of an answer: worth another attempt */
	GC_HTTP_NET_TIMEOUT,		/* connect_timeout or request_timeout ran
								 * out: worth another attempt */
	GC_HTTP_NET_UNTRUSTED,		/* the host's TLS certificate is not trusted */
	GC_HTTP_NET_PERMANENT,		/* DNS, URL, protocol: would fail again */
	GC_HTTP_CANCELLED,			/* a cancel or terminate is pending */
	GC_HTTP_TOO_LARGE,			/* the body passed GC_HTTP_MAX_BODY, or the
								 * bodies in flight max_response_memory */
	GC_HTTP_NO_MEMORY			/* the body could not be stored */
} GcHttpOutcome;

/*
 * One request.  The strings must stay valid until the attempt has been
 * waited for, collected or abandoned (libcurl copies url and body).
 */
typedef struct GcHttpRequest
{
	const char *method;			/* "GET", "POST", "PATCH" or "DELETE" */
	const char *url;
	const char *path;			/* path and query string, for log lines */
	const char *body;			/* JSON, the token form, or NULL */
	const char *bearer_token;	/* Authorization: Bearer, or NULL */
	bool		client_credentials; /* token request: Basic auth with conn's
									 * client id and secret, a form body, an
									 * answer wiped from the transport */
	const GcConnection *conn;	/* timeouts, ca_file, credentials */
	uint32		rate_group;		/* API requests: the OAuth client whose rate
								 * limit they count against (0: none) */
} GcHttpRequest;

/* The inin-ratelimit-* headers of an answer as sent, "" when absent */
typedef struct GcRateLimitHeaders
{
	char		allowed[32];	/* requests the window allows */
	char		count[32];		/* requests counted in it so far */
	char		reset[32];		/* seconds until it resets */
} GcRateLimitHeaders;

/* The outcome of one attempt of a request */
typedef struct GcHttpAttempt
{
	GcHttpOutcome outcome;
	GcHttpResponse resp;		/* when GC_HTTP_ANSWERED */
	char		retry_after[64];	/* Retry-After as sent, or "" */
	GcRateLimitHeaders ratelimit;
	char		error[256];		/* libcurl's words for a network failure */
	TimestampTz answered_at;	/* when the transfer ended */
	/* GC_HTTP_TOO_LARGE: which limit, and the bytes it counted */
	bool		over_budget;	/* max_response_memory, not GC_HTTP_MAX_BODY */
	size_t		received;		/* this body's bytes so far */
	size_t		in_flight;		/* all bodies' bytes, this one's included */
} GcHttpAttempt;

/* A 429 answer that arrived for a request not collected yet */
typedef struct GcHttpHeld
{
	TimestampTz answered_at;
	char		retry_after[64];	/* Retry-After as sent, or "" */
} GcHttpHeld;

/* A request sent and not collected yet: opaque outside http.c */
typedef struct GcHttpSent GcHttpSent;

extern void gc_http_init(void);
/* One attempt, waited for (requests sent ahead move on meanwhile) */
extern void gc_http_perform(const GcHttpRequest *req, GcHttpAttempt *att);
/* Whether a request may be sent ahead now (slots left for waited ones) */
extern bool gc_http_can_send_ahead(void);
/* Start req without waiting, owned by owner; see http.c */
extern GcHttpSent *gc_http_send(const GcHttpRequest *req, const void *owner);
/* Wait for a request sent; a cancel gives up all of its owner's requests */
extern void gc_http_collect(GcHttpSent *sent, GcHttpAttempt *att);
/* Give up owner's requests not collected (raises nothing) */
extern void gc_http_abandon(const void *owner);
/* The 429 answers of rate_group's requests that arrived uncollected */
extern int	gc_http_uncollected_429(uint32 rate_group, GcHttpHeld *held,
									int max_held);
/* Seconds from now until an HTTP-date, -1 when it is not one */
extern double gc_http_date_secs(const char *value);

/* DELETE without raising (abort callbacks); true on a 2xx answer */
extern bool gc_http_delete_quietly(const char *url, const char *token,
								   const char *ca_file);

/* ----------------------------------------------------------------
 * bodies.c: the response body buffers of a backend and their one budget,
 * gc_fdw.max_response_memory.  Used by http.c only; calls nothing.
 * ----------------------------------------------------------------
 */

/* Why a body refused more bytes */
typedef enum GcBodyRefusal
{
	GC_BODY_ACCEPTED,
	GC_BODY_TOO_LARGE,			/* one body past GC_HTTP_MAX_BODY */
	GC_BODY_OVER_BUDGET,		/* all bodies past max_response_memory */
	GC_BODY_NO_MEMORY			/* malloc failed */
} GcBodyRefusal;

/* A response body being received: a malloc'd buffer counted in the budget */
typedef struct GcBody
{
	char	   *data;
	size_t		len;
	size_t		cap;
	GcBodyRefusal refused;
	size_t		in_flight;		/* when refused: all bodies' bytes with this
								 * one's growth */
} GcBody;

extern int	gc_max_response_memory_kb;	/* gc_fdw.max_response_memory */
extern void gc_body_define_budget(void);
extern void gc_body_start(GcBody *body);
extern bool gc_body_append(GcBody *body, const char *data, size_t len);
extern void gc_body_release(GcBody *body, bool wipe);

/* ----------------------------------------------------------------
 * retry.c: the retry rules shared by API calls (api.c) and the token
 * exchange (auth.c), and the text helpers of their messages.  Calls
 * http.c, never auth.c or api.c.
 * ----------------------------------------------------------------
 */

/* Bytes of a non-JSON body (or a Location) quoted in a message */
#define GC_SNIPPET_LEN			200
/* Bytes of a platform error's code and message, and of a correlation id */
#define GC_CODE_LEN				128
#define GC_MESSAGE_LEN			1024
#define GC_CORRELATION_LEN		128

/*
 * One request under the retry rules: what its messages name, and what
 * its retries have counted so far.  Set up by gc_retry_begin; not to be
 * copied (stats may point into it).
 */
typedef struct GcRetry
{
	GcConnection *conn;
	const char *service;		/* who answers, for messages */
	const char *url_option;		/* server option naming the host */
	const char *method;
	const char *path;			/* path and query string, for messages */
	const char *url;
	struct GcEndpointStats *endpoint;	/* counters of gc_fdw.stats() */
	GcScanStats *stats;			/* the caller's, or scratch below */
	int64	   *exchanges;		/* stats->requests or ->token_requests */
	int			retries;		/* retries so far */
	int			backoff_step;	/* 5xx and network backoffs so far */
	int			step_429;		/* 429s without Retry-After so far */
	double		waited;			/* seconds slept before retries */
	bool		uncertain;		/* a failed attempt may have taken effect */
	bool		secret_answers; /* token requests: wipe every body freed */
	GcScanStats scratch;		/* when the caller keeps no statistics */
} GcRetry;

struct json_object;

/*
 * The caller's loop: before each attempt what the host needs (api.c: pacing
 * and a token), then gc_retry_attempt; while gc_retry_again says so (it has
 * waited), attempt again; then act on the answer left in att.  An attempt
 * sent beforehand enters through gc_retry_received.  gc_retry_failed is
 * for the caller's PG_CATCH.
 */
extern void gc_retry_begin(GcRetry *retry, GcConnection *conn,
						   const GcHttpRequest *req, const char *service,
						   const char *url_option, GcScanStats *stats);
extern void gc_retry_attempt(GcRetry *retry, const GcHttpRequest *req,
							 GcHttpAttempt *att);
extern void gc_retry_received(GcRetry *retry, const GcHttpAttempt *att);
extern bool gc_retry_again(GcRetry *retry, const GcHttpAttempt *att);
extern void gc_retry_failed(GcRetry *retry);
/* Text from a remote body, on one line, safe in the database encoding,
 * secrets redacted */
extern char *gc_one_line(const char *text, size_t len, size_t max_len);
/* "HTTP status N, <code_label> "code": message, correlation id X" */
extern char *gc_describe_answer(const GcHttpResponse *resp,
								const char *code_label, const char *code,
								const char *message, size_t message_len,
								const char *context_id);
/* ", correlation id X" (or ", no correlation id") for a message */
extern void gc_append_correlation(StringInfo buf, const GcHttpResponse *resp,
								  const char *context_id);
/* A 3xx answer's Location for a message: no user, query or secret */
extern char *gc_describe_location(const char *location);
/* Seconds a Retry-After value asks for, -1 when absent or unreadable */
extern double gc_retry_after_secs(const char *value);
/* A string member of a JSON object, or "" */
extern void gc_json_string_field(struct json_object *obj, const char *key,
								 char *dst, size_t dst_size);
/* A non-empty string member of a JSON object, whole, or NULL */
extern const char *gc_json_string_member(struct json_object *obj,
										 const char *key);

/* ----------------------------------------------------------------
 * redact.c: the secrets this backend must never print (fingerprints
 * only), replaced in remote text.  A leaf: auth.c remembers, retry.c's
 * gc_one_line redacts.
 * ----------------------------------------------------------------
 */
#define GC_REDACTED				"[redacted]"

extern void gc_redact_remember(const char *secret, size_t len);
extern size_t gc_redact_longest(void);
extern char *gc_redact(const char *text, size_t len, size_t *out_len);

/* ----------------------------------------------------------------
 * auth.c: the per-backend token cache and the token exchange.  Calls
 * retry.c and http.c, never api.c.
 * ----------------------------------------------------------------
 */
extern void gc_auth_init(void);

/* Bearer token for conn, fetching or renewing it as needed. */
extern const char *gc_auth_get_token(GcConnection *conn,
									 GcScanStats *stats);

/* Drop the cached token of conn (after a 401). */
extern void gc_auth_forget_token(GcConnection *conn);
/* Counts the tokens this backend has fetched: tells a 401 on a request sent
 * before a newer token from one sent with the current token. */
extern uint64 gc_auth_token_generation(void);

/* ----------------------------------------------------------------
 * api.c: authenticated API calls with the full retry policy, requests
 * sent ahead, pacing and the wording of API errors.  Calls auth.c,
 * retry.c and http.c; nothing calls back into it.
 * gc_describe_response and gc_sleep_interruptible belong to this
 * interface but are defined in retry.c, which auth.c shares.
 * ----------------------------------------------------------------
 */

/* Whether the exchange that last raised an error may have taken effect
 * (network failure, timeout, 5xx, cancel) rather than being refused (4xx). */
extern bool gc_api_failure_uncertain;

/*
 * Authenticated API call with the full retry policy: 401 re-authenticates
 * once, 429 waits as Retry-After says, 5xx/network errors back off.
 * method is "GET", "POST", "PATCH" or "DELETE"; path_query starts with
 * "/api/v2/"; json_body may be NULL.  Returns the 2xx response; any failure
 * ereports.  gc_api_call_ex also returns an answer of status
 * return_status (0: none) instead of reporting it.
 */
extern void gc_api_call(GcConnection *conn, const char *method,
						const char *path_query, const char *json_body,
						GcScanStats *stats, GcHttpResponse *resp);
extern void gc_api_call_ex(GcConnection *conn, const char *method,
						   const char *path_query, const char *json_body,
						   GcScanStats *stats, GcHttpResponse *resp,
						   long return_status);

/* A request sent ahead of need: opaque to callers. */
typedef struct GcApiAhead GcApiAhead;

/*
 * Send now (pacing and the token apply, it counts as a request in stats)
 * and return without waiting; NULL, sending nothing, when the transfer
 * slots are all taken or another request's 429 holds the OAuth client
 * back (a page asked for later waits for that).  Allocated in CurrentMemoryContext, which must
 * outlive the collect; owner gives it up with gc_api_abandon(owner) (also
 * call that from a reset callback).
 */
extern GcApiAhead *gc_api_send_ahead(GcConnection *conn, const char *method,
									 const char *path_query,
									 const char *json_body,
									 GcScanStats *stats, const void *owner);

/*
 * Wait for its answer (a cancel gives up all of its owner's requests and
 * raises), then run the retry policy from that first attempt exactly as
 * gc_api_call_ex would have; the body is palloc'd in CurrentMemoryContext.
 */
extern void gc_api_collect(GcApiAhead *ahead, GcScanStats *stats,
						   GcHttpResponse *resp, long return_status);
extern void gc_api_abandon(const void *owner);
/* Requests left in the rate-limit window as last reported, -1 unknown */
extern int	gc_api_budget_left(GcConnection *conn);
/* "HTTP status 409, Genesys code ..., correlation id ..." for messages */
extern char *gc_describe_response(const GcHttpResponse *resp);
extern void gc_api_report_error(GcConnection *conn, const char *method,
								const char *path_query,
								const GcHttpResponse *resp) pg_attribute_noreturn();
/* Interruptible sleep: honours cancel, statement_timeout, terminate. */
extern void gc_sleep_interruptible(double seconds);

/* ----------------------------------------------------------------
 * conds.c: the WHERE conditions that narrow a request (classified at
 * plan time, carried in the plan); conds_eval.c: their values when a
 * scan starts
 * ----------------------------------------------------------------
 */

/* An interval bound found in the WHERE clause */
typedef enum GcBoundKind
{
	GC_BOUND_LOWER,				/* >= */
	GC_BOUND_LOWER_STRICT,		/* > */
	GC_BOUND_UPPER,				/* <= */
	GC_BOUND_UPPER_STRICT,		/* < */
	GC_BOUND_EQUAL,				/* = */
	GC_BOUND_END_AFTER,			/* end field > (or IS NULL OR >) */
	GC_BOUND_END_FROM			/* end field >= (or IS NULL OR >=) */
} GcBoundKind;

/* How a condition's value reads */
typedef enum GcValueShape
{
	GC_VALUE_NONE,				/* IS [NOT] NULL: exists / notExists */
	GC_VALUE_SCALAR,			/* column = value */
	GC_VALUE_ANY,				/* column = ANY (array): one of the values */
	GC_VALUE_ALL				/* array column @> array: all of the values */
} GcValueShape;

/*
 * A condition found in the WHERE clause (or a parameterised join clause)
 * that narrows the request.  Every such condition also stays a local qual.
 */
typedef struct GcPushedCond
{
	GcPushKind	kind;
	GcBoundKind bound;			/* GC_PUSH_BOUND only */
	const GcPushableDef *pushable;	/* the field, bar GC_PUSH_BOUND */
	const char *op;				/* "matches", "exists" or "notExists" */
	GcValueShape shape;
	Expr	   *expr;			/* value, evaluated at scan start; or NULL */
	Expr	   *clause;			/* the whole clause (planning only) */
} GcPushedCond;

/* One clause of a request filter: its predicates are ORed */
typedef struct GcFilterClause
{
	const char *group;			/* "conversationFilters", ... */
	const char *dimension;
	const char *op;
	List	   *values;			/* char * per predicate; NIL for exists */
} GcFilterClause;

/* A query parameter of a listing and its values (repeated when several) */
typedef struct GcQueryParam
{
	const char *name;
	List	   *values;			/* char * */
} GcQueryParam;

/*
 * What the pushed conditions evaluate to when a scan (or rescan) starts:
 * the request's interval, ids, parameters and filters.
 */
typedef struct GcRequestSpec
{
	bool		empty;			/* no row can match: nothing is sent */
	bool		have_lo;		/* lower end of the interval found */
	bool		have_hi;		/* upper end found */
	TimestampTz lo;				/* the interval [lo, hi) */
	TimestampTz hi;
	bool		have_end_lo;	/* records ending after end_lo wanted */
	TimestampTz end_lo;
	bool		have_ids;		/* an id condition was found */
	List	   *ids;			/* distinct ids (char *) */
	List	   *params;			/* GcQueryParam, one per name */
	bool		have_parents;	/* a condition named the parents to list */
	List	   *parents;		/* distinct parent ids (char *) */
	List	   *filters;		/* GcFilterClause */
} GcRequestSpec;

extern List *gc_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
									Oid relid, const GcResourceDef *res,
									List *clauses, bool pushdown,
									Relids outer_relids);
extern List *gc_serialize_conds(const GcResourceDef *res, List *conds,
								List **fdw_exprs);
extern List *gc_deserialize_conds(const GcResourceDef *res, List *serialized,
								  List *fdw_exprs);
extern void gc_evaluate_conds(List *conds, List *states, ExprContext *econtext,
							  const char *relname, bool *noticed,
							  GcRequestSpec *spec);
extern bool gc_key_reads(const char *key, const GcResourceDef *res,
						 GcLevel level, const char *field);
extern const char *gc_push_target_text(const GcResourceDef *res,
									   const GcPushedCond *cond);

/* ----------------------------------------------------------------
 * deparse.c: request paths, query strings and bodies
 * ----------------------------------------------------------------
 */
extern TimestampTz gc_bound_timestamptz(Datum value, Oid type);
extern char *gc_format_timestamp(TimestampTz ts, bool round_up);
extern void gc_build_query_body(StringInfo buf, const GcApiDef *api,
								TimestampTz win_start, TimestampTz win_end,
								int page_size, int page_number,
								List *filters, bool descending);
extern void gc_build_job_body(StringInfo buf, const GcApiDef *api,
							  TimestampTz win_start, TimestampTz win_end,
							  List *filters);
extern void gc_build_listing_path(StringInfo buf, const GcApiDef *api,
								  const char *parent, int page_size,
								  int page_number, List *params, List *ids,
								  List *expands);
extern void gc_build_lookup_path(StringInfo buf, const GcApiDef *api,
								 List *ids);
extern void gc_build_job_path(StringInfo buf, const GcApiDef *api,
							  const char *job_id, const char *suffix);
extern void gc_build_job_results_path(StringInfo buf, const GcApiDef *api,
									  const char *job_id, const char *cursor);
extern void gc_append_url_encoded(StringInfo buf, const char *value);

/* ----------------------------------------------------------------
 * json_parse.c: result pages parsed into a tree.  Its header includes
 * nothing from PostgreSQL: the parser is fuzzed outside a backend.
 * ----------------------------------------------------------------
 */
#include "json_parse.h"

/* ----------------------------------------------------------------
 * json_tuple.c (column maps, values) and json_page.c (pages, the row
 * cursor): JSON objects to tuples
 * ----------------------------------------------------------------
 */
typedef struct GcColumnMap GcColumnMap;

extern GcColumnMap *gc_column_map_create(Relation rel,
										 const GcResourceDef *res,
										 Bitmapset *attrs_used);
extern bool gc_column_map_uses_key(GcColumnMap *map, const char *key);

/* A column of a scan tuple that is not a relation's (a pushed join) */
typedef struct GcColumnSpec
{
	const char *colname;
	const char *key;			/* relative to the rows read */
	Oid			typid;
	int32		typmod;
} GcColumnSpec;

extern GcColumnMap *gc_column_map_create_for(const char *relname,
											 const GcResourceDef *res,
											 int natts, const GcColumnSpec *specs);

/*
 * Page parsing.  gc_page_parse() parses body (errors are ereported with the
 * request) into cxt: the page is freed when cxt is reset or deleted, so an
 * error anywhere frees it.
 */
typedef struct GcPage GcPage;

extern GcPage *gc_page_parse(MemoryContext cxt, const char *body,
							 size_t len, const char *what);
extern int	gc_page_row_count(GcPage *page, const char *array_key);

/*
 * Rows of a page: a cursor walks each top-level object (user or
 * conversation) and, depth first, the nested objects that are the table's
 * rows.  Scoped keys ("conversation:conversationId") read the ancestors.
 */
typedef struct GcRowCursor GcRowCursor;

extern GcRowCursor *gc_cursor_create(GcPage *page, const char *array_key,
									 GcLevel level);
extern void gc_cursor_set_anchor(GcRowCursor *cur, GcLevel level);
extern bool gc_cursor_next_top(GcRowCursor *cur);
extern char *gc_cursor_top_string(GcRowCursor *cur, const char *key);
extern char *gc_cursor_row_string(GcRowCursor *cur, const char *key);
extern bool gc_cursor_next_row(GcRowCursor *cur);
extern void gc_cursor_values(GcRowCursor *cur, GcColumnMap *map,
							 Datum *values, bool *isnull);
extern bool gc_page_has_key(GcPage *page, const char *key);
extern void gc_page_add_member(GcPage *page, const char *array_key,
							   const char *key, const char *value);
extern char *gc_page_string(GcPage *page, const char *key);
extern char *gc_page_value_text(GcPage *page, const char *dotted_key);

/* ----------------------------------------------------------------
 * scan.c: the scan core, and the interface every driver implements
 * ----------------------------------------------------------------
 */

/* Indexes of ForeignScan.fdw_private (written by gc_fdw.c) */
enum GcFdwScanPrivateIndex
{
	GcPrivConds,				/* serialized GcPushedCond list */
	GcPrivAttrsUsed,			/* Integer list of attnums the query needs */
	GcPrivExplain,				/* String list: pushed conditions, for EXPLAIN */
	GcPrivIntervalColumn,		/* String: column bounding the interval, or "" */
	GcPrivOrder,				/* Integer: GcOrder of the path */
	GcPrivParameterized,		/* Integer: 1 when outer rows give values
								 * (rescans repeat requests) */
	/* a pushed join's (join.c) */
	GcPrivJoinMembers,			/* list of (table OID, level) per table */
	GcPrivJoinDeepest,			/* Integer: OID of the rows' table */
	GcPrivJoinAnchor,			/* Integer: a left join's anchor level, -1 */
	GcPrivJoinText				/* String: the join, for EXPLAIN */
};

/* Order of the rows a path promises (ORDER BY the interval column) */
typedef enum GcOrder
{
	GC_ORDER_NONE,
	GC_ORDER_ASC,
	GC_ORDER_DESC
} GcOrder;

/*
 * How a scan reads: decided once per scan or rescan (read_plan.c) from the
 * evaluated conditions, the table options and the catalogue, kept in the
 * scan state, and printed as it is by EXPLAIN.
 */
typedef struct GcReadPlan
{
	const GcDriver *driver;
	bool		evaluated;		/* the conditions' values were known */
	bool		empty;			/* they exclude every row: nothing is sent */
	char	   *request;		/* the request, as EXPLAIN shows it */
	char	   *mode;			/* how the read was chosen, or NULL when the
								 * API has one way only */
	int			page_size;		/* rows per page asked for; 0: not paged */
	bool		ahead;			/* pages may be requested ahead */
	bool		by_interval;	/* reads interval windows */
	TimestampTz lo;				/* the interval [lo, hi), when evaluated */
	TimestampTz hi;
	int			window_days;	/* longest window */
	bool		descending;		/* windows newest first */
	bool		overlap;		/* the records overlapping [lo, hi), not
								 * those starting in it */
	int			ids;			/* ids read, or -1 */
	TimestampTz from;			/* the whole interval, when evaluated: */
	TimestampTz to;				/* [lo, hi) is the current leg's part */
	TimestampTz availability;	/* dataAvailabilityDate when asked, or 0 */
	/* a second leg (mode 'auto': the details query after the jobs), or none */
	const GcDriver *then_driver;
	const GcDriver *first_driver;	/* once the second leg started */
	TimestampTz split;			/* where the second leg starts */
	int			then_page_size;
	bool		then_ahead;
	int			then_window_days;
	int			first_page_size;	/* the first leg's, once it is read */
	int			first_window_days;
} GcReadPlan;

struct GcAhead;

/* One foreign scan: the core's state, read (and partly kept) by drivers */
typedef struct GcScan
{
	Relation	rel;
	GcConnection *conn;			/* NULL under plain EXPLAIN */
	GcTableOptions opts;
	const GcResourceDef *res;
	const GcApiDef *api;
	GcColumnMap *map;			/* NULL under plain EXPLAIN */
	char	   *interval_column;	/* column bounding the interval, or "" */
	GcOrder		order;
	List	   *conds;			/* GcPushedCond */
	List	   *cond_states;	/* ExprState per cond, NULL without value */
	GcRequestSpec spec;			/* the conditions, evaluated (scan_cxt) */
	GcReadPlan	plan;			/* (scan_cxt) */
	void	   *read;			/* the driver's state (scan_cxt) */

	MemoryContext scan_cxt;		/* per scan or rescan */
	MemoryContext series_cxt;	/* the driver's, reset as it says (a window) */
	MemoryContext page_cxt;		/* per page: body and parsed JSON */
	MemoryContext row_cxt;		/* per row */
	struct GcAhead *ahead;		/* pages in flight: scan.c's own */
	struct GcPageCache *cache;	/* a parameterised scan's answers: scan.c's */
	int			anchor;			/* a pushed LEFT JOIN's parent level whose
								 * objects give a row with no child, or -1 */
	bool		own_rel;		/* rel was opened by the scan (a join) */

	bool		started;
	bool		finished;
	bool		noticed;		/* a NOTICE about an impossible value was
								 * given (once per scan, not per rescan) */
	GcPage	   *page;			/* the page being read (page_cxt) */
	int			page_rows;		/* its top-level objects */
	GcRowCursor *cursor;		/* its rows */
	bool		in_top;			/* cursor inside an accepted top object */

	GcScanStats stats;
	uint64		progress_id;	/* this scan in the gc_fdw.progress view */
} GcScan;

struct ExplainState;

/*
 * A driver: one way the API lists rows.  The scan core calls these and
 * knows nothing of the resource or the API family it reads; the catalogue
 * entry of the resource names the driver (read_plan.c may pick the jobs or
 * lookup driver of the same family instead).
 */
struct GcDriver
{
	const char *name;
	/* fill plan->request, page_size, ahead, by_interval (no I/O) */
	void		(*describe) (GcScan *scan, GcReadPlan *plan);
	/* start reading: allocate scan->read in scan_cxt; may call the API */
	void		(*begin) (GcScan *scan);
	/* make the next page current (gc_scan_use_page); false at the end */
	bool		(*next_page) (GcScan *scan);
	/* path and body of page n of the current series (pages sent ahead) */
	void		(*page_request) (GcScan *scan, int page_number,
								 char **path, char **body);
	/* whether the cursor's top-level object is returned; NULL: all are */
	bool		(*accept_top) (GcScan *scan);
	/* whether the cursor's row is returned; NULL: all are */
	bool		(*accept_row) (GcScan *scan);
	/* give up what the read holds (a job): at rescan and end; or NULL */
	void		(*release) (GcScan *scan);
	/* EXPLAIN ANALYZE: the driver's own counters; or NULL */
	void		(*explain) (GcScan *scan, struct ExplainState *es);
};

extern void gc_scan_begin(ForeignScanState *node, int eflags);
extern TupleTableSlot *gc_scan_iterate(ForeignScanState *node);
extern void gc_scan_rescan(ForeignScanState *node);
extern void gc_scan_end(ForeignScanState *node);
extern void gc_scan_explain(ForeignScanState *node, struct ExplainState *es);

/* What the core does for drivers */
extern void gc_scan_new_series(GcScan *scan);
extern void gc_scan_series_pages(GcScan *scan, int64 pages);
extern void gc_scan_fetch_page(GcScan *scan, const char *method,
							   int page_number, GcHttpResponse *resp,
							   long return_status);
extern GcPage *gc_scan_parse(GcScan *scan, const GcHttpResponse *resp,
							 const char *what);
extern int	gc_scan_use_page(GcScan *scan, GcPage *page);
extern char *gc_scan_top_string(GcScan *scan, const char *key);
extern char *gc_scan_row_string(GcScan *scan, const char *key);

/* ----------------------------------------------------------------
 * read_plan.c: which driver reads a scan, and over what
 * ----------------------------------------------------------------
 */
extern void gc_read_plan_decide(GcScan *scan, bool evaluated, bool starting);

/* ----------------------------------------------------------------
 * windows.c: interval windows of the analytics drivers
 * ----------------------------------------------------------------
 */

/* A set of ids (de-duplication), in a memory context */
typedef struct GcIdSet GcIdSet;

extern GcIdSet *gc_id_set_create(MemoryContext cxt);
extern bool gc_id_set_add(GcIdSet *set, const char *id);

/*
 * The interval [lo, hi) cut into windows at UTC midnights, at most
 * max_days long, read oldest or newest first; a window the API refuses as
 * too large splits in two.  The ids a window returned are remembered so
 * that a row returned twice (pages shifting, a split) counts once.
 */
typedef struct GcWindows
{
	TimestampTz lo;
	TimestampTz hi;
	int			max_days;
	bool		descending;
	TimestampTz start;			/* the current window [start, end) */
	TimestampTz end;
	List	   *pending;		/* halves of split windows still to read */
	int			started;		/* windows (and halves) started */
	bool		overlap;		/* objects are records overlapping the
								 * interval: no window membership, and
								 * repeats are met across windows */
	MemoryContext window_cxt;	/* reset per window (not per half) */
	MemoryContext list_cxt;		/* holds pending (and overlap's ids) */
	GcIdSet    *seen;			/* ids returned in this window (half) */
	GcIdSet    *carried;		/* ids returned before a split */
} GcWindows;

extern void gc_windows_init(GcWindows *w, TimestampTz lo, TimestampTz hi,
							int max_days, bool descending,
							MemoryContext window_cxt, MemoryContext list_cxt);
extern void gc_windows_overlap(GcWindows *w);
extern bool gc_windows_next(GcScan *scan, GcWindows *w);
extern bool gc_windows_split(GcWindows *w);
extern bool gc_windows_holds(GcWindows *w, const char *timestamp);
extern bool gc_windows_repeat(GcWindows *w, const char *id);

/* Whether a top object or row belongs to the current window, and if so
 * whether it was returned before */
typedef enum GcWindowVerdict
{
	GC_WINDOW_OUTSIDE,			/* another window's (or nothing to decide) */
	GC_WINDOW_REPEAT,			/* returned before */
	GC_WINDOW_NEW
} GcWindowVerdict;

extern GcWindowVerdict gc_windows_judge_top(GcScan *scan, GcWindows *w);
extern GcWindowVerdict gc_windows_judge_row(GcScan *scan, GcWindows *w);
extern int	gc_windows_count(TimestampTz lo, TimestampTz hi, int days,
							 bool descending);
extern TimestampTz gc_utc_day_floor(TimestampTz ts);

/* ----------------------------------------------------------------
 * The drivers: driver_listing.c (entity listings), driver_details.c
 * (analytics details query), driver_jobs.c (analytics jobs),
 * driver_lookup.c (lookup by id)
 * ----------------------------------------------------------------
 */
extern const GcDriver gc_listing_driver;
extern const GcDriver gc_details_driver;
extern const GcDriver gc_jobs_driver;
extern const GcDriver gc_lookup_driver;

/* driver_jobs.c: the family's dataAvailabilityDate (a request) */
extern TimestampTz gc_jobs_availability(GcScan *scan);

/* driver_details.c: the API's answer to a window it finds too large */
extern bool gc_window_too_large(const char *message);
extern void gc_window_unsplittable(GcScan *scan, GcWindows *w,
								   const char *answer, bool jobs) pg_attribute_noreturn();

/* ----------------------------------------------------------------
 * stats.c: this backend's counters per endpoint (gc_fdw.stats())
 * ----------------------------------------------------------------
 */
typedef struct GcEndpointStats GcEndpointStats;

extern GcEndpointStats *gc_stats_endpoint(const char *method, const char *path);
extern void gc_stats_exchange(GcEndpointStats *ep, long status, size_t bytes);
extern void gc_stats_reauth(GcEndpointStats *ep);
extern void gc_stats_rate_limited(GcEndpointStats *ep, double secs);
extern void gc_stats_retry(GcEndpointStats *ep);
extern void gc_stats_error(GcEndpointStats *ep);
extern void gc_stats_page(int rows);
extern void gc_stats_availability(TimestampTz ts);

/* ----------------------------------------------------------------
 * progress.c: running scans in shared memory (the gc_fdw.progress view)
 * ----------------------------------------------------------------
 */
extern void gc_progress_init(void);
extern uint64 gc_progress_scan_begin(Relation rel, const char *server_name);
extern void gc_progress_window(uint64 scan, TimestampTz start,
							   TimestampTz end, int64 windows);
extern void gc_progress_page(uint64 scan, int64 pages, int64 rows,
							 int64 requests);
extern void gc_progress_scan_end(uint64 scan);
extern void gc_progress_waiting(const char *what, double secs);
extern void gc_progress_waiting_done(void);

/* ----------------------------------------------------------------
 * modify.c: UPDATE on users (PATCH /api/v2/users/{userId})
 * ----------------------------------------------------------------
 */
struct ExplainState;
extern void gc_modify_init(void);
extern int	gcIsForeignRelUpdatable(Relation rel);
extern void gcAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
									  RangeTblEntry *target_rte,
									  Relation target_relation);
extern List *gcPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
								 Index resultRelation, int subplan_index);
extern void gcBeginForeignModify(ModifyTableState *mtstate,
								 ResultRelInfo *rinfo, List *fdw_private,
								 int subplan_index, int eflags);
extern TupleTableSlot *gcExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
										   TupleTableSlot *slot,
										   TupleTableSlot *planSlot);
extern void gcEndForeignModify(EState *estate, ResultRelInfo *rinfo);
extern void gcExplainForeignModify(ModifyTableState *mtstate,
								   ResultRelInfo *rinfo, List *fdw_private,
								   int subplan_index, struct ExplainState *es);

/* ----------------------------------------------------------------
 * gc_fdw.c: handler and planning callbacks
 * ----------------------------------------------------------------
 */

/* Planner state kept in a base relation's fdw_private */
typedef struct GcRelInfo
{
	Oid			relid;			/* the foreign table */
	Oid			serverid;
	GcTableOptions table_opts;
	AttrNumber	start_attno;	/* timestamptz column bounding the interval */
	AttrNumber	id_attno;		/* uuid column worth a parameterised path */
	List	   *conds;			/* GcPushedCond from the restriction clauses */
} GcRelInfo;

extern void _PG_init(void);
extern AttrNumber gc_find_field_attno(Relation rel, const GcResourceDef *res,
									  GcLevel level, const char *field,
									  Oid required_type);
extern Cost gc_scan_cost(double rows, int page_size);
extern char *gc_explain_cond(PlannerInfo *root, RelOptInfo *baserel,
							 GcPushedCond *cond);

/* ----------------------------------------------------------------
 * join.c: joins of one analytics family's tables as one read
 * ----------------------------------------------------------------
 */
extern void gcGetForeignJoinPaths(PlannerInfo *root, RelOptInfo *joinrel,
								  RelOptInfo *outerrel, RelOptInfo *innerrel,
								  JoinType jointype, JoinPathExtraData *extra);
extern ForeignScan *gc_join_plan(PlannerInfo *root, RelOptInfo *joinrel,
								 List *tlist, List *scan_clauses, Plan *outer_plan);
extern RangeTblEntry *gc_join_deepest_rte(ForeignScanState *node);
extern void gc_join_begin(GcScan *scan, ForeignScanState *node);
extern void gc_join_explain(ForeignScanState *node, struct ExplainState *es);

#endif							/* GC_FDW_H */
