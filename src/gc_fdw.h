/*-------------------------------------------------------------------------
 *
 * gc_fdw.h
 *		  Shared structs and prototypes of gc_fdw, the Genesys Cloud CX
 *		  foreign data wrapper, grouped by the file that defines them.  The
 *		  request layers' are in gc_http.h and the scan's in gc_scan.h, both
 *		  included from here where their types are known: a .c file
 *		  includes this header only.
 *
 * Nothing in here includes curl or json-c headers: transport details stay in
 * http.c, and json-c objects in the files that read small documents with it
 * (auth.c, retry.c, driver_jobs.c); result pages use json_parse.h.
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

/* The request layers: http.c, bodies.c, retry.c, redact.c, auth.c, api.c */
#include "gc_http.h"

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
 * error anywhere frees it.  It is gc_page_read(), which raises nothing but
 * out of memory, then gc_page_check(), which reports a failed parse, for a
 * caller that acts on a body cut short before reporting it (the scan core).
 */
typedef struct GcPage GcPage;

extern GcPage *gc_page_parse(MemoryContext cxt, const char *body,
							 size_t len, const char *what);
extern GcPage *gc_page_read(MemoryContext cxt, const char *body, size_t len);
extern bool gc_page_parsed(const GcPage *page);
extern GcPage *gc_page_check(GcPage *page, const char *what);
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

/* The scan core, the read plan, windows and the drivers */
#include "gc_scan.h"

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
