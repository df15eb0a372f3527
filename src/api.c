/*-------------------------------------------------------------------------
 *
 * api.c
 *		  Authenticated calls to the Genesys Cloud API with gc_fdw's whole
 *		  retry policy.
 *
 * Owns the retry loop of API requests: a bearer token before each attempt,
 * a 401 answered by fetching a new token (once per new token; a 401 to a
 * request sent with a token replaced since is simply sent again), 429, 5xx
 * and network failures handed to the shared rules of retry.c, an answer of
 * the status the caller asked for handed back, any other refusal worded
 * here (gc_api_report_error).  Also owns requests sent ahead of need
 * (gc_api_send_ahead, gc_api_collect, gc_api_abandon), pacing from the
 * inin-ratelimit-* budget the answers report (a spent budget waits for the
 * window to reset instead of drawing a 429), the hold-back after a 429 (see
 * gc_hold_until), and gc_api_failure_uncertain.
 *
 * Layering: api.c -> auth.c -> retry.c -> http.c, and api.c -> retry.c,
 * http.c.  Nothing calls back into this file from below.
 *
 * Must not: talk libcurl (http.c does); put the access token, the client
 * secret or the Authorization header in any message at any level; parse
 * result pages (the scanner and json_page.c do that).
 *
 * SQLSTATEs raised here (see retry.c for the network, 429 and 5xx ones):
 *	  401 three times in a row							INVALID_AUTHORIZATION_SPECIFICATION
 *	  403 (missing.permissions, not.authorized)			INSUFFICIENT_PRIVILEGE
 *	  other 4xx, 501, a 3xx (never followed)			FDW_ERROR
 *
 * Statistics: the repeat after a 401 is not a retry: auth.c counts the new
 * token in stats->reauths, gc_fdw.stats() a reauth for the endpoint.  Two
 * new tokens in a row may be rejected (a concurrent revocation can hit a
 * fresh token); the third 401 in a row is an error.  A wait for a spent
 * budget, or for the Retry-After of another request's 429, counts in
 * stats->pacing_waits and pacing_secs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/timestamp.h"

#include "gc_fdw.h"

#define GC_MAX_REAUTHS_IN_A_ROW 2	/* new tokens before a 401 is an error */
/* A 429 without Retry-After holds the others back as long as the first
 * backoff of retry.c would */
#define GC_HOLD_WITHOUT_RETRY_AFTER_SECS 1.0

/* One API request and the retry state of its exchange */
typedef struct GcApiRequest
{
	GcHttpRequest http;
	GcRetry		retry;
	long		return_status;	/* hand answers with this status back (0: none) */
} GcApiRequest;

/* A request sent ahead; strings copied, as the caller's may go first */
struct GcApiAhead
{
	GcConnection *conn;
	char	   *method;
	char	   *path;
	char	   *body;
	GcHttpSent *sent;
	uint64		token_generation;	/* gc_auth_token_generation() at send */
};

/* the last exchange that ended in an error may have taken effect */
bool		gc_api_failure_uncertain = false;

/*
 * Rate-limit pacing.  Genesys Cloud counts requests per OAuth client in a
 * window of about a minute and says so on every answer
 * (inin-ratelimit-allowed, -count, -reset).  The budget of the user mapping
 * last seen is kept here; when it is spent, the next request waits for the
 * window to reset instead of drawing a 429.  Every backend sees the shared
 * count in the headers, so concurrent scans of one client pace together.
 */
typedef struct GcRateBudget
{
	Oid			umid;			/* user mapping the budget belongs to */
	long		allowed;
	long		used;
	TimestampTz resets_at;
} GcRateBudget;

static GcRateBudget gc_budget = {InvalidOid, 0, 0, 0};

/*
 * gc_budget_update
 *		Note the budget an API answer reported.
 */
static void
gc_budget_update(GcConnection *conn, const GcHttpAttempt *att)
{
	const GcRateLimitHeaders *rl = &att->ratelimit;
	char	   *end;
	long		allowed;
	long		used;
	double		reset;

	if (att->outcome != GC_HTTP_ANSWERED)
		return;
	allowed = strtol(rl->allowed, &end, 10);
	if (rl->allowed[0] == '\0' || *end != '\0' || allowed <= 0)
		return;
	used = strtol(rl->count, &end, 10);
	if (rl->count[0] == '\0' || *end != '\0')
		return;
	reset = rl->reset[0] ? strtod(rl->reset, &end) : 60.0;
	if (!(reset >= 0 && reset <= 3600))	/* also NaN */
		reset = 60.0;

	/*
	 * Answers to concurrent requests arrive in any order: within the window
	 * already noted, a lower count is an earlier request's.  Keeping the
	 * highest errs towards waiting (the window may have reset a moment
	 * early), never towards a 429.
	 */
	if (gc_budget.umid == conn->umid && gc_budget.allowed == allowed &&
		used < gc_budget.used && GetCurrentTimestamp() < gc_budget.resets_at)
		return;
	gc_budget.umid = conn->umid;
	gc_budget.allowed = allowed;
	gc_budget.used = used;
	gc_budget.resets_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													  (int64) (reset * 1000.0));
}

/*
 * gc_budget_wait
 *		Before a request to the API host: when the window's budget is spent,
 *		wait (interruptibly) until it resets.  Returns the seconds waited.
 */
static double
gc_budget_wait(GcConnection *conn, const char *method, const char *path)
{
	long		ms;
	double		secs;

	if (gc_budget.umid != conn->umid || gc_budget.allowed <= 0 ||
		gc_budget.used < gc_budget.allowed)
		return 0;
	ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), gc_budget.resets_at);
	gc_budget.umid = InvalidOid;	/* the next answer reports the new window */
	if (ms <= 0)
		return 0;
	/* never longer than a 429 would be allowed to make us wait */
	secs = Min(ms / 1000.0, (double) conn->opts.max_retry_after);
	elog(DEBUG1, "gc_fdw: rate limit budget of %ld requests spent; waiting %.1f s before %s %s",
		 gc_budget.allowed, secs, method, path);
	gc_progress_waiting(psprintf("rate limit budget spent, window resets: %s %s",
								 method, path), secs);
	gc_sleep_interruptible(secs);
	gc_progress_waiting_done();
	return secs;
}

/*
 * gc_rate_group
 *		The OAuth client whose rate limit conn's requests count against, as
 *		the transport tags them (never 0).
 */
static uint32
gc_rate_group(const GcConnection *conn)
{
	return hash_bytes((const unsigned char *) conn->client_id,
					  (int) strlen(conn->client_id)) | 1;
}

/*
 * gc_hold_until
 *		Until when the requests of conn's OAuth client are held back (0:
 *		they are not).
 *
 * Pages go out several at a time, so when one draws a 429 others are
 * usually in flight: an answer of theirs may be a 429 that arrived while
 * the scan waited for another page.  Until each such answer's Retry-After
 * (or a second, without one; never past max_retry_after) has passed, no
 * request of that client leaves: sending one would draw another 429 and
 * tell Genesys Cloud nothing was heard.  A 429 the policy has collected
 * needs no entry here: its retry sleeps, and nothing else is sent while a
 * backend sleeps.
 */
static TimestampTz
gc_hold_until(GcConnection *conn)
{
	GcHttpHeld	held[GC_MAX_CONCURRENCY + 2];
	int			n = gc_http_uncollected_429(gc_rate_group(conn), held, lengthof(held));
	TimestampTz until = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		double		secs = gc_retry_after_secs(held[i].retry_after);
		TimestampTz ends;

		if (secs < 0)
			secs = GC_HOLD_WITHOUT_RETRY_AFTER_SECS;
		secs = Min(secs, (double) conn->opts.max_retry_after);
		ends = TimestampTzPlusMilliseconds(held[i].answered_at,
										   (int64) (secs * 1000.0));
		until = Max(until, ends);
	}
	return (until > GetCurrentTimestamp()) ? until : 0;
}

/*
 * gc_hold_wait
 *		Before a request to the API host: wait (interruptibly) while
 *		another request's 429 holds conn's OAuth client back.  Returns the
 *		seconds waited.
 */
static double
gc_hold_wait(GcConnection *conn, const char *method, const char *path)
{
	TimestampTz until = gc_hold_until(conn);
	double		secs;

	if (until == 0)
		return 0;
	secs = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until) / 1000.0;
	elog(DEBUG1, "gc_fdw: another request of OAuth client \"%s\" was answered 429; waiting %.1f s before %s %s",
		 conn->client_id, secs, method, path);
	gc_progress_waiting(psprintf("Retry-After of another request: %s %s",
								 method, path), secs);
	gc_sleep_interruptible(secs);
	gc_progress_waiting_done();
	return secs;
}

/*
 * gc_paced_token
 *		Before an API request: wait while another request's 429 holds the
 *		OAuth client back and for the rate-limit budget if it is spent
 *		(counted in stats, which may be NULL), then the bearer token.
 */
static const char *
gc_paced_token(GcConnection *conn, const char *method, const char *path,
			   GcScanStats *stats)
{
	double		paced = gc_hold_wait(conn, method, path) +
		gc_budget_wait(conn, method, path);

	if (paced > 0 && stats != NULL)
	{
		stats->pacing_waits++;
		stats->pacing_secs += paced;
	}
	return gc_auth_get_token(conn, stats);
}

/*
 * gc_api_budget_left
 *		Requests left in the current rate-limit window of conn's OAuth
 *		client as the last answer reported it, or -1 when unknown.
 */
int
gc_api_budget_left(GcConnection *conn)
{
	if (gc_budget.umid != conn->umid || gc_budget.allowed <= 0 ||
		GetCurrentTimestamp() >= gc_budget.resets_at)
		return -1;
	return (int) Max(0, gc_budget.allowed - gc_budget.used);
}

/*
 * gc_api_request_init
 *		An API-host request: its URL (palloc'd; gc_api_request_done frees
 *		it) and the names its messages use.
 */
static void
gc_api_request_init(GcApiRequest *req, GcConnection *conn, const char *method,
					const char *path_query, const char *json_body,
					GcScanStats *stats, long return_status,
					GcBodyReader *reader)
{
	memset(req, 0, sizeof(GcApiRequest));
	req->http.method = method;
	req->http.url = psprintf("%s%s", conn->opts.api_url, path_query);
	req->http.path = path_query;
	req->http.body = json_body;
	req->http.conn = conn;
	req->http.rate_group = gc_rate_group(conn);
	req->return_status = return_status;
	gc_retry_begin(&req->retry, conn, &req->http, "Genesys Cloud API",
				   "api_url", stats);
	req->retry.reader = reader;
}

/*
 * gc_api_request_done
 *		Free what gc_api_request_init allocated.
 */
static void
gc_api_request_done(GcApiRequest *req)
{
	pfree(unconstify(char *, req->http.url));
}

/*
 * gc_api_report_error
 *		ereport an API answer that is not retried (4xx other than 401/429,
 *		501), or one the caller could not use, as gc_api_call would have.
 */
void
gc_api_report_error(GcConnection *conn, const char *method,
					const char *path_query, const GcHttpResponse *resp)
{
	char	   *detail = gc_describe_response(resp);
	char	   *hint = NULL;
	bool		patch = (strcmp(method, "PATCH") == 0);

	if (resp->status == 403 && patch)
		hint = psprintf("Give the OAuth client \"%s\" a role with the permission named above (directory:user:edit to update users) in the users' divisions.",
						conn->client_id);
	else if (resp->status == 403)
		hint = psprintf("Give the OAuth client \"%s\" a role with the permission named above (for example analytics:conversationDetail:view for conversation details) in the divisions whose data you read.",
						conn->client_id);
	else if (resp->status == 404 && patch)
		hint = pstrdup("The user no longer exists in Genesys Cloud (or is deleted); read the users again.");
	else if (resp->status == 400 && patch)
		hint = pstrdup("Genesys Cloud refused the new values; check them against the user fields' rules (for example a valid email address, a manager who is an active user).");
	else if (resp->status == 404)
		hint = psprintf("Check the environment and api_url options of server \"%s\".",
						conn->server_name);
	else if (resp->status == 400)
		hint = pstrdup("Genesys Cloud refused the request built from this query; narrow the WHERE conditions (conversation intervals are limited to 7 days, 31 with filters, and paging to 100000 results) or check the table options.");
	else if (resp->status >= 300 && resp->status < 400)
		hint = psprintf("gc_fdw never follows redirects: check that the environment and api_url options of server \"%s\" name the Genesys Cloud API host of your region; a proxy between PostgreSQL and Genesys Cloud may be redirecting.",
						conn->server_name);

	ereport(ERROR,
			(errcode(resp->status == 403 ? ERRCODE_INSUFFICIENT_PRIVILEGE :
					 ERRCODE_FDW_ERROR),
			 errmsg("Genesys Cloud API request failed: %s %s",
					method, path_query),
			 errdetail("%s.", detail),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * gc_api_exchange
 *		Run req under the retry policy; see the file header.  When first is
 *		given, it is the outcome of the request's first attempt, already
 *		sent (with a token of generation first_generation) and counted: the
 *		policy starts from it instead of sending the request again.
 */
static void
gc_api_exchange(GcApiRequest *req, GcHttpResponse *resp,
				GcHttpAttempt *first, uint64 first_generation)
{
	GcRetry    *retry = &req->retry;
	GcConnection *conn = retry->conn;
	GcHttpAttempt att;
	uint64		generation = first_generation;
	int			reauths_in_a_row = 0;

	memset(&att, 0, sizeof(att));
	if (first != NULL)
		att = *first;			/* its answer moves to resp */
	for (;;)
	{
		/* what resp held is att's, freed by the next attempt */
		memset(resp, 0, sizeof(GcHttpResponse));
		if (first != NULL)
			first = NULL;
		else
		{
			/* may itself run a token exchange */
			req->http.bearer_token = gc_paced_token(conn, retry->method,
													retry->path, retry->stats);
			generation = gc_auth_token_generation();
			gc_retry_attempt(retry, &req->http, &att);
			gc_budget_update(conn, &att);
		}
		*resp = att.resp;

		if (gc_retry_again(retry, &att))
			reauths_in_a_row = 0;
		else if (resp->status >= 200 && resp->status < 300)
			break;
		else if (resp->status == 401 && generation != gc_auth_token_generation())
		{
			/*
			 * Sent ahead with a token that has been replaced since (another
			 * page's 401 fetched a new one): it says nothing about the
			 * current token, so send the request again with it.
			 */
			elog(DEBUG1, "gc_fdw: %s %s -> HTTP 401 for a token replaced since, sending again",
				 retry->method, retry->path);
		}
		else if (resp->status == 401)
		{
			/*
			 * A fresh token can be revoked by a concurrent revocation once;
			 * rejected again, the credentials or the client's roles are
			 * wrong, and asking for more tokens would not help.
			 */
			if (reauths_in_a_row >= GC_MAX_REAUTHS_IN_A_ROW)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
						 errmsg("Genesys Cloud rejected the access token three times in a row: %s %s",
								retry->method, retry->path),
						 errdetail("%s.", gc_describe_response(resp)),
						 errhint("The token was issued to OAuth client \"%s\" moments before; check that the client is active and has roles, and that the environment, api_url and login_url options of server \"%s\" name the same region.",
								 conn->client_id, conn->server_name)));
			elog(DEBUG1, "gc_fdw: %s %s -> HTTP 401, fetching a new token",
				 retry->method, retry->path);
			gc_stats_reauth(retry->endpoint);
			gc_auth_forget_token(conn);
			reauths_in_a_row++;
		}
		else if (req->return_status != 0 && resp->status == req->return_status)
			break;				/* the caller can act on it (narrow a window,
								 * resolve a conflict) */
		else
			gc_api_report_error(conn, retry->method, retry->path, resp);
	}
	resp->retried_uncertain = retry->uncertain;
}

/*
 * gc_api_run
 *		gc_api_exchange, counting an exchange that ends in an error (or a
 *		cancel) against its endpoint and noting whether it may have taken
 *		effect.
 */
static void
gc_api_run(GcApiRequest *req, GcHttpResponse *resp, GcHttpAttempt *first,
		   uint64 first_generation)
{
	PG_TRY();
	{
		gc_api_exchange(req, resp, first, first_generation);
	}
	PG_CATCH();
	{
		/* only a definite 4xx refusal says the request did nothing */
		gc_api_failure_uncertain = !(resp->status >= 400 && resp->status < 500);
		gc_retry_failed(&req->retry);
		PG_RE_THROW();
	}
	PG_END_TRY();
	gc_api_request_done(req);
}

/*
 * gc_api_call
 *		Authenticated request to the API host; see gc_fdw.h.
 */
void
gc_api_call(GcConnection *conn, const char *method, const char *path_query,
			const char *json_body, GcScanStats *stats, GcHttpResponse *resp)
{
	gc_api_call_ex(conn, method, path_query, json_body, stats, resp, 0, NULL);
}

/*
 * gc_api_call_ex
 *		gc_api_call that returns an answer of status return_status (0: none)
 *		instead of reporting it: the scan splits an interval the API finds
 *		too large (400), an UPDATE resolves a version conflict (409).  A
 *		reader, when given, reads each 2xx body (a scan parses its pages).
 */
void
gc_api_call_ex(GcConnection *conn, const char *method, const char *path_query,
			   const char *json_body, GcScanStats *stats, GcHttpResponse *resp,
			   long return_status, GcBodyReader *reader)
{
	GcApiRequest req;

	gc_api_request_init(&req, conn, method, path_query, json_body, stats,
						return_status, reader);
	gc_api_run(&req, resp, NULL, 0);
}

/*
 * gc_api_send_ahead
 *		Send an authenticated API request without waiting for its answer;
 *		see gc_fdw.h.  Pacing and the token apply as to any request, and
 *		the request counts as sent.  NULL, sending nothing, when the
 *		transfer slots are taken by other scans' pages, or while another
 *		request's 429 holds the OAuth client back: the caller then asks for
 *		the page when it needs it, and that request waits for the hold.
 */
GcApiAhead *
gc_api_send_ahead(GcConnection *conn, const char *method, const char *path_query,
				  const char *json_body, GcScanStats *stats, const void *owner)
{
	GcApiAhead *ahead;
	GcHttpRequest req;

	if (!gc_http_can_send_ahead())
		return NULL;
	if (gc_hold_until(conn) != 0)
	{
		elog(DEBUG1, "gc_fdw: another request of OAuth client \"%s\" was answered 429: %s %s is not sent ahead",
			 conn->client_id, method, path_query);
		return NULL;
	}

	ahead = palloc0(sizeof(GcApiAhead));
	ahead->conn = conn;
	ahead->method = pstrdup(method);
	ahead->path = pstrdup(path_query);
	ahead->body = json_body ? pstrdup(json_body) : NULL;

	memset(&req, 0, sizeof(req));
	req.method = ahead->method;
	req.url = psprintf("%s%s", conn->opts.api_url, path_query);
	req.path = ahead->path;
	req.body = ahead->body;
	req.conn = conn;
	req.rate_group = gc_rate_group(conn);
	req.bearer_token = gc_paced_token(conn, method, path_query, stats);
	ahead->token_generation = gc_auth_token_generation();
	ahead->sent = gc_http_send(&req, owner);
	pfree(unconstify(char *, req.url));	/* libcurl has its own copy */
	if (stats != NULL)
		stats->requests++;
	return ahead;
}

/*
 * gc_api_collect
 *		Wait for the answer to a request gc_api_send_ahead sent, then run the
 *		retry policy from it; see gc_fdw.h.
 */
void
gc_api_collect(GcApiAhead *ahead, GcScanStats *stats, GcHttpResponse *resp,
			   long return_status, GcBodyReader *reader)
{
	GcApiRequest req;
	GcHttpAttempt first;

	gc_api_request_init(&req, ahead->conn, ahead->method, ahead->path,
						ahead->body, stats, return_status, reader);
	gc_http_collect(ahead->sent, &first);
	/* a cancel or an unusable answer raises here, before the policy runs */
	gc_retry_received(&req.retry, &first);
	gc_budget_update(ahead->conn, &first);
	gc_api_run(&req, resp, &first, ahead->token_generation);
}

/*
 * gc_api_abandon
 *		Give up every request owner sent ahead and has not collected.  Safe
 *		from memory context callbacks during abort (raises nothing).
 */
void
gc_api_abandon(const void *owner)
{
	gc_http_abandon(owner);
}
