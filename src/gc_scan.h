/*-------------------------------------------------------------------------
 *
 * gc_scan.h
 *		  The scan's declarations: the scan core and the interface every
 *		  driver implements (scan.c), the read plan (read_plan.c), interval
 *		  windows (windows.c) and the drivers themselves.
 *
 * Included by gc_fdw.h, after the catalogue, conditions and JSON types a
 * scan holds; include gc_fdw.h, not this file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GC_SCAN_H
#define GC_SCAN_H

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
struct GcPageReader;

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
	struct GcPageReader *reader;	/* parses answers: scan.c's own */
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
extern void gc_scan_call(GcScan *scan, const char *method, const char *path,
						 const char *body, GcHttpResponse *resp,
						 long return_status);
extern GcPage *gc_scan_parse(GcScan *scan, const GcHttpResponse *resp,
							 const char *what);
extern int	gc_scan_use_page(GcScan *scan, GcPage *page);
extern char *gc_scan_top_string(GcScan *scan, const char *key);
extern char *gc_scan_row_string(GcScan *scan, const char *key);
extern void gc_scan_ahead_counts(GcScan *scan, int64 *sent, int64 *unused);

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
/* Whether an id was returned before: not, by this window (or half), or
 * only by the window it split from */
typedef enum GcRepeat
{
	GC_REPEAT_NONE,
	GC_REPEAT_WINDOW,
	GC_REPEAT_CARRIED
} GcRepeat;

extern GcRepeat gc_windows_repeat(GcWindows *w, const char *id);

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

#endif							/* GC_SCAN_H */
