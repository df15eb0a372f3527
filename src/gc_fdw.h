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

#define GC_FDW_VERSION "1.1"
#define GC_FDW_USER_AGENT "gc_fdw/" GC_FDW_VERSION " (PostgreSQL foreign data wrapper for Genesys Cloud)"

/* ----------------------------------------------------------------
 * catalog.c: the Genesys resources (tables, columns, JSON keys, types)
 * ----------------------------------------------------------------
 */
typedef enum GcResourceKind
{
	GC_RESOURCE_USERS,
	GC_RESOURCE_CONVERSATIONS
} GcResourceKind;

/*
 * Nesting level of a table's rows.  Conversation-derived levels nest in
 * this order (conversation -> participant -> session -> segment / metric;
 * participant -> attribute), so a level's ancestors are the lower values up
 * to GC_LEVEL_CONVERSATION, bar the siblings segment/metric/attribute.
 */
typedef enum GcLevel
{
	GC_LEVEL_USER,
	GC_LEVEL_CONVERSATION,
	GC_LEVEL_PARTICIPANT,
	GC_LEVEL_SESSION,
	GC_LEVEL_SEGMENT,
	GC_LEVEL_METRIC,
	GC_LEVEL_ATTRIBUTE
} GcLevel;

typedef struct GcColumnDef
{
	const char *name;			/* column name in the generated DDL */
	const char *type;			/* SQL type name */
	const char *key;			/* JSON key or dotted path; "." = whole object */
} GcColumnDef;

typedef struct GcResourceDef
{
	const char *name;			/* value of the table option "resource" */
	GcResourceKind kind;		/* which API listing the rows come from */
	GcLevel		level;			/* which nested objects are the rows */
	const char *method;			/* HTTP method of the listing request */
	const char *path;			/* API path of the listing request */
	int			default_page_size;
	int			max_page_size;
	const char *id_key;			/* JSON key identifying a row (errors, dedup) */
	const GcColumnDef *columns; /* terminated by a NULL name */
	double		rows_per_top;	/* planner: rows per user/conversation */
} GcResourceDef;

extern const GcResourceDef *gc_resource_lookup(const char *name);
extern const GcResourceDef *gc_resource_at(int i);
extern int	gc_level_lookup(const char *name, size_t len);
extern const char *gc_resource_names(void);
extern const GcColumnDef *gc_resource_column(const GcResourceDef *res,
											 const char *colname);
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
 * Statistics of one scan, shown by EXPLAIN ANALYZE (filled by http.c,
 * auth.c and the scanner).
 * ----------------------------------------------------------------
 */
typedef struct GcScanStats
{
	int64		requests;		/* HTTP exchanges with the API host */
	int64		pages;			/* result pages parsed */
	int64		rows_received;	/* JSON rows received, before recheck */
	int64		duplicates;		/* rows dropped by de-duplication */
	int64		retries;		/* retried exchanges (429, 5xx, network) */
	int64		waits_429;		/* 429 answers waited out */
	double		wait_429_secs;	/* seconds slept for 429 answers */
	double		backoff_secs;	/* seconds slept for 5xx/network backoff */
	int64		reauths;		/* tokens fetched after the first one */
	int64		windows;		/* interval windows or id chunks read */
	int64		splits;			/* windows split for the API's caps */
	int64		job_polls;		/* async job status polls that waited */
	double		job_wait_secs;	/* seconds slept waiting for jobs */
	int64		token_requests; /* all token endpoint exchanges */
	int64		pacing_waits;	/* waits for a spent rate-limit budget */
	double		pacing_secs;	/* seconds of those waits */
} GcScanStats;

/* ----------------------------------------------------------------
 * http.c: the only file that includes curl/curl.h
 * ----------------------------------------------------------------
 */

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
	double		elapsed_secs;
	bool		retried_uncertain;	/* an earlier attempt failed in a way
									 * (network, 5xx) that may have let it
									 * take effect */
} GcHttpResponse;

extern void gc_http_init(void);

/* Whether the exchange that last raised an error may have taken effect
 * (network failure, timeout, 5xx, cancel) rather than being refused (4xx). */
extern bool gc_http_failure_uncertain;

/*
 * Authenticated API call with the full retry policy: 401 re-authenticates
 * once, 429 waits as Retry-After says, 5xx/network errors back off.
 * method is "GET", "POST" or "DELETE"; path_query starts with "/api/v2/";
 * json_body may be NULL.  Returns the 2xx response; any failure ereports.
 */
extern void gc_api_call(GcConnection *conn, const char *method,
						const char *path_query, const char *json_body,
						GcScanStats *stats, GcHttpResponse *resp);

extern void gc_api_call_ex(GcConnection *conn, const char *method,
						   const char *path_query, const char *json_body,
						   GcScanStats *stats, GcHttpResponse *resp,
						   long return_status);


/*
 * The first attempt of a request sent ahead of need (gc_api_send_async),
 * collected by gc_api_wait; gc_api_call_attempted then runs the retry
 * policy from it, as if the request had just been sent.
 */
typedef struct GcAttempt
{
	int			curl_rc;		/* libcurl result; 0 = an answer came */
	GcHttpResponse resp;		/* the answer, when curl_rc is 0 */
	char		retry_after[64];	/* its Retry-After header */
	char		curl_error[256];	/* libcurl's message, when curl_rc != 0 */
	uint64		token_generation;	/* gc_auth_token_generation() at send */
	bool		pending;		/* sent, not collected yet */
	int			slot;			/* transfer slot while pending */
	uint64		slot_seq;
	bool		used;			/* handed to gc_api_call_attempted */
} GcAttempt;

/*
 * Send an authenticated API request and return without waiting: owner (the
 * scan) must later collect it with gc_api_wait or give it up with
 * gc_http_abandon(owner), which its memory context's reset callback also
 * does.  Returns false, sending nothing, when the transfer slots are all
 * taken by pages other scans of the query keep in flight.
 */
extern bool gc_api_send_async(GcConnection *conn, const char *method,
							  const char *path_query, const char *json_body,
							  GcScanStats *stats, const void *owner,
							  GcAttempt *att);
extern void gc_api_wait(GcAttempt *att);
extern void gc_http_abandon(const void *owner);
extern void gc_api_call_attempted(GcConnection *conn, const char *method,
								  const char *path_query, const char *json_body,
								  GcScanStats *stats, GcHttpResponse *resp,
								  long return_status, GcAttempt *first);
/* Requests left in the rate-limit window as last reported, -1 unknown */
extern int	gc_api_budget_left(GcConnection *conn);
/* "HTTP status 409, Genesys code ..., correlation id ..." for messages */
extern char *gc_describe_response(const GcHttpResponse *resp);
extern void gc_api_report_error(GcConnection *conn, const char *method,
								const char *path_query,
								const GcHttpResponse *resp) pg_attribute_noreturn();

/*
 * Token endpoint exchange (used by auth.c): POST login_url/oauth/token with
 * Basic auth and grant_type=client_credentials, retrying 429/5xx/network
 * failures like gc_api_call.  Returns the final response whatever its
 * status (auth.c reports non-200s); network failures after all retries
 * ereport.
 */
extern void gc_http_token_request(GcConnection *conn, GcScanStats *stats,
								  GcHttpResponse *resp);

/* DELETE without raising (abort callbacks); true on a 2xx answer */
extern bool gc_http_delete_quietly(const char *url, const char *token,
								   const char *ca_file);

/* Interruptible sleep: honours cancel, statement_timeout, terminate. */
extern void gc_sleep_interruptible(double seconds);

/* ----------------------------------------------------------------
 * auth.c: the per-backend token cache
 * ----------------------------------------------------------------
 */
extern void gc_auth_init(void);

/* Bearer token for conn, fetching or renewing it as needed. */
extern const char *gc_auth_get_token(GcConnection *conn, GcScanStats *stats);

/* Drop the cached token of conn (after a 401). */
extern void gc_auth_forget_token(GcConnection *conn);
/* Counts the tokens this backend has fetched: tells a 401 on a request sent
 * before a newer token from one sent with the current token. */
extern uint64 gc_auth_token_generation(void);

/* ----------------------------------------------------------------
 * deparse.c: WHERE clauses to API requests
 * ----------------------------------------------------------------
 */

/* A conversation_start bound found in the WHERE clause */
typedef enum GcBoundKind
{
	GC_BOUND_LOWER,				/* >= */
	GC_BOUND_LOWER_STRICT,		/* > */
	GC_BOUND_UPPER,				/* <= */
	GC_BOUND_UPPER_STRICT,		/* < */
	GC_BOUND_EQUAL				/* = */
} GcBoundKind;

/* What a pushed condition becomes in the request */
typedef enum GcPushKind
{
	GC_PUSH_BOUND,				/* conversation_start bound: the interval */
	GC_PUSH_STATE,				/* users state = value: the state parameter */
	GC_PUSH_USER_ID,			/* users id = / IN: the id list parameter */
	GC_PUSH_CONVERSATION_ID,	/* conversation_id = / IN: lookup by id */
	GC_PUSH_CONVERSATION_FILTER,	/* a conversationFilters clause */
	GC_PUSH_SEGMENT_FILTER		/* a segmentFilters clause */
} GcPushKind;

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
	const char *dimension;		/* API dimension (filters), else "" */
	const char *op;				/* "matches", "exists" or "notExists" */
	GcValueShape shape;
	Expr	   *expr;			/* value, evaluated at scan start; or NULL */
	Expr	   *clause;			/* the whole clause, for EXPLAIN */
} GcPushedCond;

/* One clause of a request filter: its predicates are ORed */
typedef struct GcFilterClause
{
	const char *dimension;
	const char *op;
	List	   *values;			/* char * per predicate; NIL for exists */
} GcFilterClause;

extern List *gc_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
									Oid relid, const GcResourceDef *res,
									List *clauses, bool pushdown,
									Relids outer_relids);
extern List *gc_serialize_conds(List *conds, List **fdw_exprs);
extern List *gc_deserialize_conds(List *private, List *fdw_exprs);
extern bool gc_key_reads(const char *key, const GcResourceDef *res,
						 GcLevel level, const char *field);
extern TimestampTz gc_bound_timestamptz(Datum value, Oid type);
extern char *gc_format_timestamp(TimestampTz ts, bool round_up);
extern void gc_build_details_query(StringInfo buf, TimestampTz win_start,
								   TimestampTz win_end, int page_size,
								   int page_number, List *conversation_filters,
								   List *segment_filters, bool descending);
extern void gc_build_users_query(StringInfo buf, const char *state,
								 int page_size, int page_number,
								 bool want_last_login, List *ids);
extern void gc_build_lookup_path(StringInfo buf, List *ids);
extern void gc_build_job_body(StringInfo buf, TimestampTz win_start,
							  TimestampTz win_end, List *conversation_filters,
							  List *segment_filters);
extern void gc_append_url_encoded(StringInfo buf, const char *value);

/* ----------------------------------------------------------------
 * json_parse.c: result pages parsed into a tree.  Its header includes
 * nothing from PostgreSQL: the parser is fuzzed outside a backend.
 * ----------------------------------------------------------------
 */
#include "json_parse.h"

/* ----------------------------------------------------------------
 * json_tuple.c: JSON objects to tuples
 * ----------------------------------------------------------------
 */
typedef struct GcColumnMap GcColumnMap;

extern GcColumnMap *gc_column_map_create(Relation rel,
										 const GcResourceDef *res,
										 Bitmapset *attrs_used);
extern bool gc_column_map_uses_key(GcColumnMap *map, const char *key);

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
extern bool gc_cursor_next_top(GcRowCursor *cur);
extern char *gc_cursor_top_string(GcRowCursor *cur, const char *key);
extern bool gc_cursor_next_row(GcRowCursor *cur);
extern void gc_cursor_values(GcRowCursor *cur, GcColumnMap *map,
							 Datum *values, bool *isnull);
extern bool gc_page_has_key(GcPage *page, const char *key);
extern char *gc_page_string(GcPage *page, const char *key);
extern char *gc_page_value_text(GcPage *page, const char *dotted_key);

/* ----------------------------------------------------------------
 * jobs.c: the async details jobs API
 * ----------------------------------------------------------------
 */
extern TimestampTz gc_jobs_availability(GcConnection *conn, GcScanStats *stats);
extern char *gc_job_submit(GcConnection *conn, const char *body,
						   GcScanStats *stats, GcHttpResponse *resp);
extern char *gc_job_wait(GcConnection *conn, const char *job_id,
						 double poll_secs, GcScanStats *stats);
extern void gc_job_results_path(StringInfo buf, const char *job_id,
								const char *cursor);
extern void gc_job_finish(const char *job_id, bool delete_it);

/* ----------------------------------------------------------------
 * scan.c: executing a foreign scan
 * ----------------------------------------------------------------
 */

/* Indexes of ForeignScan.fdw_private (written by gc_fdw.c) */
enum GcFdwScanPrivateIndex
{
	GcPrivConds,				/* serialized GcPushedCond list */
	GcPrivAttrsUsed,			/* Integer list of attnums the query needs */
	GcPrivExplain,				/* String list: pushed conditions, for EXPLAIN */
	GcPrivStartColumn,			/* String: column reading conversationStart */
	GcPrivDescending			/* Integer: ORDER BY conversation_start: 0 none,
								 * 1 ASC, 2 DESC */
};

struct ExplainState;
extern void gc_scan_begin(ForeignScanState *node, int eflags);
extern TupleTableSlot *gc_scan_iterate(ForeignScanState *node);
extern void gc_scan_rescan(ForeignScanState *node);
extern void gc_scan_end(ForeignScanState *node);
extern void gc_scan_explain(ForeignScanState *node, struct ExplainState *es);

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
extern void _PG_init(void);

#endif							/* GC_FDW_H */
