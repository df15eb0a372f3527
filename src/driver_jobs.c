/*-------------------------------------------------------------------------
 *
 * driver_jobs.c
 *		  The analytics jobs driver (bulk reads): for each interval window
 *		  (at most 31 days, UTC-aligned; windows.c), submit an async job,
 *		  poll it with interruptible backoff, read its results page by page
 *		  along their cursor, and split a window the API finds too large:
 *		  when the submit is refused, the job ends FAILED, or a results page
 *		  is refused for passing the per-job cap (rows already returned are
 *		  not returned again by the halves).
 *		  Before reading, the family's dataAvailabilityDate: a range that
 *		  reaches past it gets a WARNING (or an ERROR with unavailable_data
 *		  'error'), never a silent partial result.
 *
 * A job still running when its scan ends early (LIMIT) is deleted; one
 * still running when its (sub)transaction aborts (cancel, error) is deleted
 * from the abort callback with a short, quiet request: an abort must not
 * raise, so a failed DELETE is only logged (Genesys expires jobs by itself
 * anyway).  That bookkeeping lives in TopMemoryContext.
 *
 * Must not: know which resource it reads (the catalogue's API entry gives
 * the jobs path and filter groups).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <json.h>

#include "access/xact.h"
#include "commands/explain.h"
#include "gc_fdw.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* Longest sleep between two polls of a job */
#define GC_JOB_POLL_CAP_SECS 30.0

/* The driver's state, in scan_cxt */
typedef struct JobsRead
{
	GcWindows	windows;
	bool		in_window;		/* a window (or half) is being read */
	bool		window_done;	/* its job's results are read */
	char	   *job_id;			/* its job (series_cxt), NULL before */
	char	   *cursor;			/* next results page (series_cxt) */
	TimestampTz availability;	/* dataAvailabilityDate, 0 if not asked */
} JobsRead;

/* A submitted job not yet read to the end */
typedef struct GcPendingJob
{
	char	   *delete_url;		/* full URL of DELETE .../jobs/{id} */
	char	   *job_id;
	char	   *ca_file;		/* the server's ca_file, or NULL */
	char	   *token;			/* bearer token at submission (malloc'd) */
	size_t		token_len;
	SubTransactionId subid;		/* subtransaction that submitted it */
	struct GcPendingJob *next;
} GcPendingJob;

static GcPendingJob *pending_jobs = NULL;
static bool callbacks_registered = false;

/* Wipe and free one pending job entry */
static void
free_pending(GcPendingJob *job)
{
	if (job->token)
	{
		explicit_bzero(job->token, job->token_len);
		free(job->token);
	}
	pfree(job->delete_url);
	pfree(job->job_id);
	if (job->ca_file)
		pfree(job->ca_file);
	pfree(job);
}

/*
 * delete_pending
 *		DELETE the jobs submitted in subtransaction subid (all of them with
 *		InvalidSubTransactionId), quietly.
 */
static void
delete_pending(SubTransactionId subid)
{
	GcPendingJob **link = &pending_jobs;

	while (*link)
	{
		GcPendingJob *job = *link;

		if (subid != InvalidSubTransactionId && job->subid != subid)
		{
			link = &job->next;
			continue;
		}
		*link = job->next;
		if (!gc_http_delete_quietly(job->delete_url, job->token, job->ca_file))
			elog(WARNING, "gc_fdw: could not delete an unfinished Genesys Cloud analytics job; it expires by itself");
		free_pending(job);
	}
}

static void
jobs_xact_callback(XactEvent event, void *arg)
{
	/* scans always end before a commit: what is left is abandoned */
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
		delete_pending(InvalidSubTransactionId);
}

static void
jobs_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	GcPendingJob *job;

	if (event == SUBXACT_EVENT_ABORT_SUB)
		delete_pending(mySubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		/* a released savepoint's jobs now belong to its parent */
		for (job = pending_jobs; job; job = job->next)
			if (job->subid == mySubid)
				job->subid = parentSubid;
	}
}

/*
 * finish_job
 *		A scan is done with a job: forget it, and DELETE it first when it
 *		was not read to the end (LIMIT met, a split, a failed job).
 */
static void
finish_job(const char *job_id, bool delete_it)
{
	GcPendingJob **link;

	for (link = &pending_jobs; *link; link = &(*link)->next)
	{
		GcPendingJob *job = *link;

		if (strcmp(job->job_id, job_id) != 0)
			continue;
		*link = job->next;
		if (delete_it && !gc_http_delete_quietly(job->delete_url, job->token, job->ca_file))
			elog(WARNING, "gc_fdw: could not delete Genesys Cloud analytics job %s; it expires by itself",
				 job_id);
		free_pending(job);
		return;
	}
}

/*
 * answer_string
 *		A string member of a small JSON object answer (a job's id, state,
 *		date), palloc'd, or NULL.  *found, when given, says what was there
 *		instead: nothing, or a JSON value of another type.
 */
static char *
answer_string(const GcHttpResponse *resp, const char *key, const char **found)
{
	json_object *root = resp->body ? json_tokener_parse(resp->body) : NULL;
	json_object *member = NULL;
	char		value[256];
	char	   *out = NULL;

	if (found)
		*found = "no such member";
	if (root != NULL && json_object_is_type(root, json_type_object) &&
		json_object_object_get_ex(root, key, &member))
	{
		gc_json_string_field(root, key, value, sizeof(value));
		if (json_object_is_type(member, json_type_string))
			out = pstrdup(value);
		else if (found)
			*found = json_type_to_name(json_object_get_type(member));
	}
	else if (found && (root == NULL || !json_object_is_type(root, json_type_object)))
		*found = "a body that is not a JSON object";
	if (root != NULL)
		json_object_put(root);
	return out;
}

/*
 * gc_jobs_availability
 *		The jobs API's dataAvailabilityDate: jobs read the data lake, which
 *		lags, and data after that date may be incomplete.
 */
TimestampTz
gc_jobs_availability(GcScan *scan)
{
	GcHttpResponse resp;
	StringInfoData path;
	char	   *date;
	TimestampTz ts;

	initStringInfo(&path);
	gc_build_job_path(&path, scan->api, "availability", "");
	gc_api_call(scan->conn, "GET", path.data, NULL, &scan->stats, &resp);
	date = answer_string(&resp, "dataAvailabilityDate", NULL);
	if (date == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("Genesys Cloud answered GET %s without a dataAvailabilityDate",
						path.data)));
	ts = DatumGetTimestampTz(OidInputFunctionCall(F_TIMESTAMPTZ_IN, date, InvalidOid, -1));
	gc_stats_availability(ts);
	return ts;
}

/*
 * check_availability
 *		A range reaching past dataAvailabilityDate gets a WARNING naming the
 *		date, or an ERROR with unavailable_data 'error'; never a silent
 *		partial result.  (Mode 'auto' reads that part through the details
 *		query instead: its jobs leg ends at the date.)
 */
static void
check_availability(GcScan *scan, JobsRead *read)
{
	if (scan->plan.availability == 0)
		scan->plan.availability = gc_jobs_availability(scan);
	read->availability = scan->plan.availability;
	if (scan->plan.hi <= read->availability)
		return;
	ereport(scan->opts.unavailable_error ? ERROR : WARNING,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("the range read from foreign table \"%s\" reaches past the data the Genesys Cloud jobs API has complete",
					RelationGetRelationName(scan->rel)),
			 errdetail("Jobs data is complete up to %s (dataAvailabilityDate); %s after it may be missing.",
					   gc_format_timestamp(read->availability, false), scan->api->noun),
			 errhint("End the range before %s, read recent data with mode 'query' or 'auto', or set unavailable_data '%s'.",
					 gc_format_timestamp(read->availability, false),
					 scan->opts.unavailable_error ? "warning" : "error")));
}

/*
 * submit_job
 *		POST a job for the current window; its id, or NULL with *resp
 *		holding a 400 answer (a window too large for one job).  The job is
 *		remembered so that an abort deletes it.
 */
static char *
submit_job(GcScan *scan, JobsRead *read, GcHttpResponse *resp)
{
	GcConnection *conn = scan->conn;
	StringInfoData body;
	StringInfoData url;
	char	   *job_id;
	GcPendingJob *job;
	const char *token;

	initStringInfo(&body);
	gc_build_job_body(&body, scan->api, read->windows.start, read->windows.end,
					  scan->spec.filters);
	gc_api_call_ex(conn, "POST", scan->api->jobs_path, body.data, &scan->stats,
				   resp, 400, NULL);
	if (resp->status == 400)
		return NULL;
	job_id = answer_string(resp, "jobId", NULL);
	if (job_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("Genesys Cloud answered POST %s without a jobId", scan->api->jobs_path),
				 errdetail("HTTP status %ld.", resp->status)));

	if (!callbacks_registered)
	{
		RegisterXactCallback(jobs_xact_callback, NULL);
		RegisterSubXactCallback(jobs_subxact_callback, NULL);
		callbacks_registered = true;
	}
	token = gc_auth_get_token(conn, &scan->stats);
	initStringInfo(&url);
	appendStringInfoString(&url, conn->opts.api_url);
	gc_build_job_path(&url, scan->api, job_id, "");
	job = MemoryContextAllocZero(TopMemoryContext, sizeof(GcPendingJob));
	job->delete_url = MemoryContextStrdup(TopMemoryContext, url.data);
	job->job_id = MemoryContextStrdup(TopMemoryContext, job_id);
	job->ca_file = conn->opts.ca_file ?
		MemoryContextStrdup(TopMemoryContext, conn->opts.ca_file) : NULL;
	job->token_len = strlen(token);
	job->token = strdup(token);
	if (job->token == NULL)
	{
		free_pending(job);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	job->subid = GetCurrentSubTransactionId();
	job->next = pending_jobs;
	pending_jobs = job;
	elog(DEBUG1, "gc_fdw: submitted analytics job %s", job_id);
	return job_id;
}

/*
 * wait_for_job
 *		Poll a job until it is FULFILLED (returns NULL) or ends otherwise
 *		(returns its state and errorMessage as text).  Sleeps between polls
 *		start at jobs_poll_interval and grow by half up to 30 s; cancel and
 *		statement_timeout interrupt them.
 */
static char *
wait_for_job(GcScan *scan, const char *job_id)
{
	StringInfoData path;
	double		delay = scan->opts.jobs_poll_interval;

	initStringInfo(&path);
	gc_build_job_path(&path, scan->api, job_id, "");
	for (;;)
	{
		GcHttpResponse resp;
		char	   *state;
		char	   *message;
		const char *found;

		gc_api_call(scan->conn, "GET", path.data, NULL, &scan->stats, &resp);
		state = answer_string(&resp, "state", &found);
		message = answer_string(&resp, "errorMessage", NULL);
		if (state == NULL && strcmp(found, "no such member") != 0 &&
			strncmp(found, "a body", 6) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_REPLY_HANDLE),
					 errmsg("Genesys Cloud answered GET %s with a job state that is not a string", path.data),
					 errdetail("The member \"state\" is a JSON %s.", found),
					 errhint("A proxy between PostgreSQL and Genesys Cloud may be rewriting responses; retry the query.")));
		if (state == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_REPLY_HANDLE),
					 errmsg("Genesys Cloud answered GET %s without a job state", path.data),
					 errdetail("The answer has %s.", strcmp(found, "no such member") == 0 ?
							   "no member \"state\"" : found),
					 errhint("A proxy between PostgreSQL and Genesys Cloud may be rewriting responses; retry the query.")));
		if (strcmp(state, "FULFILLED") == 0)
			return NULL;
		if (strcmp(state, "QUEUED") != 0 && strcmp(state, "PENDING") != 0)
		{
			/* both are remote text: one clean line each, as error bodies */
			state = gc_one_line(state, strlen(state), 64);
			if (message)
				message = gc_one_line(message, strlen(message), 500);
			return psprintf("%s%s%s", state, message ? ": " : "", message ? message : "");
		}

		scan->stats.job_polls++;
		scan->stats.job_wait_secs += delay;
		gc_progress_waiting(psprintf("analytics job %s (%s), next status poll", job_id, state),
							delay);
		gc_sleep_interruptible(delay);
		gc_progress_waiting_done();
		delay = Min(delay * 1.5, GC_JOB_POLL_CAP_SECS);
	}
}

static void
jobs_describe(GcScan *scan, GcReadPlan *plan)
{
	plan->request = psprintf("POST %s, then GET .../{jobId}/results", scan->api->jobs_path);
	plan->page_size = GC_JOB_PAGE_SIZE;
	plan->by_interval = true;
	plan->window_days = GC_MAX_JOB_WINDOW_DAYS;
}

static void
jobs_begin(GcScan *scan)
{
	JobsRead   *read = palloc0(sizeof(JobsRead));

	gc_windows_init(&read->windows, scan->plan.lo, scan->plan.hi,
					scan->plan.window_days, false, scan->series_cxt, scan->scan_cxt);
	if (scan->plan.overlap)
		gc_windows_overlap(&read->windows);
	scan->read = read;
	check_availability(scan, read);
}

/* The next window (or half); false when the interval is done */
static bool
next_window(GcScan *scan, JobsRead *read)
{
	if (!gc_windows_next(scan, &read->windows))
		return false;
	read->in_window = true;
	read->window_done = false;
	read->job_id = read->cursor = NULL;
	return true;
}

/* Split the current window after the API found it too large */
static void
split_window(GcScan *scan, JobsRead *read, const char *answer)
{
	if (!gc_windows_split(&read->windows))
		gc_window_unsplittable(scan, &read->windows, answer, true);
	scan->stats.splits++;
	read->job_id = read->cursor = NULL;
}

/*
 * start_job
 *		Submit and wait for the current window's job; false (the window
 *		split) when the API found the window too large.
 */
static bool
start_job(GcScan *scan, JobsRead *read)
{
	GcHttpResponse resp;
	char	   *job;
	char	   *failure;

	job = submit_job(scan, read, &resp);
	if (job == NULL)
	{
		if (!gc_window_too_large(resp.body))
			gc_api_report_error(scan->conn, "POST", scan->api->jobs_path, &resp);
		split_window(scan, read, resp.body);
		return false;
	}
	failure = wait_for_job(scan, job);
	if (failure)
	{
		finish_job(job, true);
		if (gc_window_too_large(failure))
		{
			split_window(scan, read, failure);
			return false;
		}
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Genesys Cloud analytics job %s ended %s", job, failure),
				 errdetail("The job read %s in %s/%s.", scan->api->noun,
						   gc_format_timestamp(read->windows.start, false),
						   gc_format_timestamp(read->windows.end, true)),
				 errhint("Retry the query; if it persists, read the range with mode 'query'.")));
	}
	read->job_id = MemoryContextStrdup(scan->series_cxt, job);
	return true;
}

/*
 * jobs_next_page
 *		The next results page of the current window's job (submitted first
 *		when needed); results pages follow a cursor, absent on the last.
 */
static bool
jobs_next_page(GcScan *scan)
{
	JobsRead   *read = scan->read;
	GcHttpResponse resp;
	StringInfoData path;
	GcPage	   *page;
	char	   *cursor;

	if ((!read->in_window || read->window_done) && !next_window(scan, read))
		return false;
	if (read->job_id == NULL && !start_job(scan, read))
		return true;
	initStringInfo(&path);
	gc_build_job_results_path(&path, scan->api, read->job_id, read->cursor);
	gc_scan_call(scan, "GET", path.data, NULL, &resp, 400);
	if (resp.status == 400)
	{
		/* the job holds more results than its results may page through */
		if (!gc_window_too_large(resp.body))
			gc_api_report_error(scan->conn, "GET", path.data, &resp);
		finish_job(read->job_id, true);
		split_window(scan, read, resp.body);
		return true;
	}
	page = gc_scan_parse(scan, &resp, psprintf("GET %s/%s/results",
											   scan->api->jobs_path, read->job_id));
	gc_scan_use_page(scan, page);
	cursor = gc_page_string(page, "cursor");
	read->cursor = cursor ? MemoryContextStrdup(scan->series_cxt, cursor) : NULL;
	if (cursor == NULL)
	{
		finish_job(read->job_id, false);
		read->job_id = NULL;
		read->window_done = true;
	}
	return true;
}

/* A window's verdict on an object or row: a repeat counts as dropped */
static bool
accepted(GcScan *scan, GcWindowVerdict verdict)
{
	if (verdict == GC_WINDOW_REPEAT)
		scan->stats.duplicates++;
	return verdict == GC_WINDOW_NEW;
}

static bool
jobs_accept_top(GcScan *scan)
{
	return accepted(scan, gc_windows_judge_top(scan, &((JobsRead *) scan->read)->windows));
}

static bool
jobs_accept_row(GcScan *scan)
{
	return accepted(scan, gc_windows_judge_row(scan, &((JobsRead *) scan->read)->windows));
}

/* A LIMIT met, a rescan: a job not read to the end is deleted */
static void
jobs_release(GcScan *scan)
{
	JobsRead   *read = scan->read;

	if (read->job_id)
		finish_job(read->job_id, true);
	read->job_id = NULL;
}

static void
jobs_explain(GcScan *scan, ExplainState *es)
{
	ExplainPropertyText("Data Available Until",
						scan->plan.availability ?
						gc_format_timestamp(scan->plan.availability, false) :
						"not asked (no request was needed)", es);
	ExplainPropertyInteger("Job Polls", NULL, scan->stats.job_polls, es);
	ExplainPropertyFloat("Job Wait Time", "s", scan->stats.job_wait_secs, 1, es);
}

const GcDriver gc_jobs_driver = {
	.name = "analytics jobs",
	.describe = jobs_describe,
	.begin = jobs_begin,
	.next_page = jobs_next_page,
	.accept_top = jobs_accept_top,
	.accept_row = jobs_accept_row,
	.release = jobs_release,
	.explain = jobs_explain,
};
