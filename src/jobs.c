/*-------------------------------------------------------------------------
 *
 * jobs.c
 *		  The async conversation details jobs API (bulk reads): data
 *		  availability, submitting a job, polling it with interruptible
 *		  backoff, the results path, and deleting jobs a scan leaves
 *		  unfinished -- at scan end, and on (sub)transaction abort when a
 *		  query is cancelled or fails.
 *
 * A job still running when its transaction aborts is deleted from the
 * abort callback with a short, quiet request: an abort must not raise, so
 * a failed DELETE is only logged (Genesys expires jobs by itself anyway).
 * The bookkeeping for that lives in TopMemoryContext.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <json.h>

#include "access/xact.h"
#include "gc_fdw.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"

#define GC_JOBS_PATH "/api/v2/analytics/conversations/details/jobs"
#define GC_JOB_POLL_CAP_SECS 30.0

/* A submitted job not yet read to the end */
typedef struct GcPendingJob
{
	char	   *delete_url;		/* full URL of DELETE .../jobs/{id} */
	char	   *ca_file;		/* the server's ca_file, or NULL */
	char	   *token;			/* bearer token at submission (malloc'd) */
	size_t		token_len;
	SubTransactionId subid;		/* subtransaction that submitted it */
	struct GcPendingJob *next;
} GcPendingJob;

static GcPendingJob *pending_jobs = NULL;
static bool callbacks_registered = false;

/* Parse a small JSON response; NULL when it is not a JSON object */
static json_object *
parse_object(const GcHttpResponse *resp)
{
	json_object *root = resp->body ? json_tokener_parse(resp->body) : NULL;

	if (root != NULL && !json_object_is_type(root, json_type_object))
	{
		json_object_put(root);
		root = NULL;
	}
	return root;
}

/* A string field of obj, palloc'd, or NULL */
static char *
string_field(json_object *obj, const char *key)
{
	json_object *val;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &val) ||
		!json_object_is_type(val, json_type_string))
		return NULL;
	return pstrdup(json_object_get_string(val));
}

/*
 * gc_jobs_availability
 *		The jobs API's dataAvailabilityDate: data before it is complete.
 */
TimestampTz
gc_jobs_availability(GcConnection *conn, GcScanStats *stats)
{
	GcHttpResponse resp;
	json_object *root;
	char	   *date;
	TimestampTz ts;

	gc_api_call(conn, "GET", GC_JOBS_PATH "/availability", NULL, stats, &resp);
	root = parse_object(&resp);
	date = string_field(root, "dataAvailabilityDate");
	if (root)
		json_object_put(root);
	if (date == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("Genesys Cloud answered GET %s/availability without a dataAvailabilityDate",
						GC_JOBS_PATH)));
	ts = DatumGetTimestampTz(OidInputFunctionCall(F_TIMESTAMPTZ_IN, date,
												  InvalidOid, -1));
	return ts;
}

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
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		delete_pending(InvalidSubTransactionId);
	else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
		delete_pending(InvalidSubTransactionId);	/* scans always end first */
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
 * gc_job_submit
 *		POST a job; returns its id, or NULL with *resp holding a 400 answer
 *		the caller may act on (a window too large for one job).
 */
char *
gc_job_submit(GcConnection *conn, const char *body, GcScanStats *stats,
			  GcHttpResponse *resp)
{
	json_object *root;
	char	   *job_id;
	GcPendingJob *job;
	const char *token;

	gc_api_call_ex(conn, "POST", GC_JOBS_PATH, body, stats, resp, 400);
	if (resp->status == 400)
		return NULL;
	root = parse_object(resp);
	job_id = string_field(root, "jobId");
	if (root)
		json_object_put(root);
	if (job_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("Genesys Cloud answered POST %s without a jobId", GC_JOBS_PATH),
				 errdetail("HTTP status %ld.", resp->status)));

	if (!callbacks_registered)
	{
		RegisterXactCallback(jobs_xact_callback, NULL);
		RegisterSubXactCallback(jobs_subxact_callback, NULL);
		callbacks_registered = true;
	}
	token = gc_auth_get_token(conn, stats);
	job = MemoryContextAllocZero(TopMemoryContext, sizeof(GcPendingJob));
	job->delete_url = MemoryContextStrdup(TopMemoryContext,
										  psprintf("%s%s/%s", conn->opts.api_url,
												   GC_JOBS_PATH, job_id));
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
 * gc_job_wait
 *		Poll a job until it is FULFILLED (returns NULL) or ends otherwise
 *		(returns its state and errorMessage as text).  Sleeps between polls
 *		start at poll_secs and grow by half up to 30 s; cancel and
 *		statement_timeout interrupt them.
 */
char *
gc_job_wait(GcConnection *conn, const char *job_id, double poll_secs,
			GcScanStats *stats)
{
	char	   *path = psprintf("%s/%s", GC_JOBS_PATH, job_id);
	double		delay = poll_secs;

	for (;;)
	{
		GcHttpResponse resp;
		json_object *root;
		char	   *state;
		char	   *message;

		gc_api_call(conn, "GET", path, NULL, stats, &resp);
		root = parse_object(&resp);
		state = string_field(root, "state");
		message = string_field(root, "errorMessage");
		if (root)
			json_object_put(root);
		if (state == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_REPLY_HANDLE),
					 errmsg("Genesys Cloud answered GET %s without a job state", path)));
		if (strcmp(state, "FULFILLED") == 0)
			return NULL;
		if (strcmp(state, "QUEUED") != 0 && strcmp(state, "PENDING") != 0)
			return psprintf("%s%s%s", state, message ? ": " : "", message ? message : "");

		stats->job_polls++;
		stats->job_wait_secs += delay;
		gc_progress_waiting(psprintf("analytics job %s (%s), next status poll", job_id, state),
							delay);
		gc_sleep_interruptible(delay);
		gc_progress_waiting_done();
		delay = Min(delay * 1.5, GC_JOB_POLL_CAP_SECS);
	}
}

/*
 * gc_job_results_path
 *		Path of one results page of a job.
 */
void
gc_job_results_path(StringInfo buf, const char *job_id, const char *cursor)
{
	appendStringInfo(buf, "%s/%s/results?pageSize=1000", GC_JOBS_PATH, job_id);
	if (cursor)
	{
		appendStringInfoString(buf, "&cursor=");
		gc_append_url_encoded(buf, cursor);
	}
}

/*
 * gc_job_finish
 *		A scan is done with a job: forget it, and DELETE it first when it
 *		was not read to the end (LIMIT met, a split, a failed job).
 */
void
gc_job_finish(const char *job_id, bool delete_it)
{
	GcPendingJob **link = &pending_jobs;
	char	   *suffix = psprintf("/%s", job_id);

	while (*link)
	{
		GcPendingJob *job = *link;
		size_t		url_len = strlen(job->delete_url);

		if (url_len >= strlen(suffix) &&
			strcmp(job->delete_url + url_len - strlen(suffix), suffix) == 0)
		{
			*link = job->next;
			if (delete_it && !gc_http_delete_quietly(job->delete_url, job->token, job->ca_file))
				elog(WARNING, "gc_fdw: could not delete Genesys Cloud analytics job %s; it expires by itself",
					 job_id);
			free_pending(job);
			return;
		}
		link = &job->next;
	}
}
