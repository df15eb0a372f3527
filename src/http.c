/*-------------------------------------------------------------------------
 *
 * http.c
 *		  HTTP transport of gc_fdw: the only file that includes curl/curl.h.
 *
 * Owns the per-backend libcurl multi handle and its transfer slots (created
 * lazily and reused, so keep-alive connections and TLS sessions survive
 * between requests), the response buffers and the headers captured from
 * them, requests a scan keeps in flight ahead of the page it reads
 * (gc_api_send_async, gc_api_wait, gc_http_abandon), the retry policy (a
 * 401 re-authenticates once, a 429 waits as Retry-After says, 5xx and
 * network failures back off with jitter), pacing from the rate-limit
 * headers, interruptible sleeps and the wording of every error the API or
 * the network causes.
 *
 * Must not: ereport, palloc or otherwise longjmp inside a libcurl callback
 * (callbacks only record state and return a code; cleanup and
 * CHECK_FOR_INTERRUPTS() happen after curl returns); ereport while a
 * curl_slist is allocated; put the access token, the client secret or the
 * Authorization header in any message at any level; parse result pages
 * (the scanner and json_tuple.c do that).
 *
 * SQLSTATEs raised here:
 *	  transport failure (DNS, connect, TLS, timeout)	FDW_UNABLE_TO_ESTABLISH_CONNECTION
 *	  401 three times in a row							INVALID_AUTHORIZATION_SPECIFICATION
 *	  403 (missing.permissions, not.authorized)			INSUFFICIENT_PRIVILEGE
 *	  other 4xx, 501, 5xx or 429 after the retries		FDW_ERROR
 *	  response body above GC_HTTP_MAX_BODY				PROGRAM_LIMIT_EXCEEDED
 *	  cancel seen by curl, not thrown by CHECK_FOR_INTERRUPTS()	QUERY_CANCELED
 *
 * Statistics: every exchange counts in stats->requests (API host) or
 * stats->token_requests (token endpoint); every retry after a 429, a 5xx or
 * a network failure counts in stats->retries, and its sleep in
 * wait_429_secs (with waits_429) or backoff_secs.  The repeat after a 401
 * is not a retry: auth.c counts the new token in stats->reauths.  Two new
 * tokens in a row may be rejected (a concurrent revocation can hit a fresh
 * token); the third 401 in a row is an error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include <curl/curl.h>
#include <json.h>

#include "common/pg_prng.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "gc_fdw.h"

#define GC_HTTP_MAX_BODY		((size_t) 512 * 1024 * 1024)
#define GC_HTTP_FIRST_BODY		((size_t) 64 * 1024)
#define GC_HEADER_VALUE_LEN		256
#define GC_SNIPPET_LEN			200
#define GC_BACKOFF_FIRST_SECS	1.0
#define GC_BACKOFF_5XX_CAP_SECS 30.0
#define GC_BACKOFF_429_CAP_SECS 60.0
#define GC_TOKEN_PATH			"/oauth/token"
#define GC_MAX_REAUTHS_IN_A_ROW 2	/* new tokens before a 401 is an error */
#define GC_TOKEN_BODY			"grant_type=client_credentials"

/*
 * State of the transfer in progress, written only by the libcurl callbacks
 * and read after curl_easy_perform() returns.  The body buffer is malloc'd,
 * grows as needed and is reused by every request of the backend.
 */
typedef struct GcTransfer
{
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	bool		body_too_large;
	bool		body_out_of_memory;
	char		correlation_id[GC_HEADER_VALUE_LEN];
	char		retry_after[GC_HEADER_VALUE_LEN];
	char		content_type[GC_HEADER_VALUE_LEN];
	char		ratelimit_allowed[32];
	char		ratelimit_count[32];
	char		ratelimit_reset[32];
	char		curl_error[CURL_ERROR_SIZE];
} GcTransfer;

/* One request and the policy that applies to it. */
typedef struct GcRequest
{
	GcConnection *conn;
	const char *method;
	const char *path;			/* path and query string, for messages */
	char	   *url;
	const char *body;			/* NULL for none */
	bool		is_token;		/* token endpoint: Basic auth, form body */
	const char *service;		/* who we talk to, for messages */
	const char *url_option;		/* server option naming the host */
	long		return_status;	/* hand answers with this status back (0: none) */
	GcEndpointStats *endpoint;	/* counters of gc_fdw.stats() */
} GcRequest;

/*
 * One easy handle per request in flight, each with its own transfer state.
 * All requests run through one multi handle, whose connection pool keeps
 * keep-alive connections and TLS sessions for every slot.  A request waited
 * for at once takes any free slot; a scan keeps up to GC_MAX_CONCURRENCY
 * pages in flight ahead of the one it reads (gc_api_send_async), owned by
 * the scan until it collects them (gc_api_wait) or gives them up
 * (gc_http_abandon, also from its memory context's reset callback, so an
 * error leaves no transfer behind).  Two more slots serve a token request
 * and a page waited for while a scan's pages are in flight.
 */
typedef enum GcSlotState
{
	GC_SLOT_FREE,
	GC_SLOT_BUSY,				/* in the multi handle */
	GC_SLOT_DONE				/* ended, answer not collected yet */
} GcSlotState;

typedef struct GcSlot
{
	CURL	   *easy;
	GcTransfer	xfer;
	struct curl_slist *headers; /* of the request in flight, or NULL */
	GcSlotState state;
	uint64		seq;			/* tells one use of the slot from the next */
	const void *owner;			/* scan that sent it ahead, or NULL */
	GcRequest	req;			/* method, path and policy, for messages */
	CURLcode	rc;				/* when DONE */
	long		status;
	double		total_secs;
	TimestampTz started;
} GcSlot;

#define GC_SLOTS (GC_MAX_CONCURRENCY + 2)

static CURLM *gc_multi = NULL;
static GcSlot gc_slots[GC_SLOTS];
static uint64 gc_slot_seq = 0;

/* job DELETEs from abort callbacks use their own handle, outside gc_multi */
static CURL *gc_curl_quiet = NULL;

/* the last exchange that ended in an error may have taken effect */
bool		gc_http_failure_uncertain = false;
static bool gc_curl_initialized = false;

StaticAssertDecl(sizeof(((GcAttempt *) NULL)->curl_error) >= CURL_ERROR_SIZE,
				 "GcAttempt.curl_error holds a libcurl error buffer");

static void gc_budget_update(GcConnection *conn, const GcTransfer *xfer);
static void gc_attempt_collect(const GcRequest *req, GcTransfer *xfer,
							   GcAttempt *out, TimestampTz started);

/*
 * gc_http_init
 *		Initialise libcurl once per process; called from _PG_init().
 */
void
gc_http_init(void)
{
	CURLcode	rc;

	if (gc_curl_initialized)
		return;
	rc = curl_global_init(CURL_GLOBAL_ALL);
	if (rc != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not initialise libcurl: %s",
						curl_easy_strerror(rc))));
	gc_curl_initialized = true;
}

/*
 * gc_sleep_interruptible
 *		Sleep for the given number of seconds on the process latch.
 *
 * Cancel, statement_timeout and terminate set the latch, so
 * CHECK_FOR_INTERRUPTS() throws promptly; the one-second slices are only a
 * safety net.
 */
void
gc_sleep_interruptible(double seconds)
{
	TimestampTz deadline;

	CHECK_FOR_INTERRUPTS();
	if (seconds <= 0)
		return;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   (int64) (seconds * 1000.0));
	for (;;)
	{
		long		remaining;

		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
													deadline);
		if (remaining <= 0)
			break;
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(remaining, 1000L), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * gc_write_callback
 *		libcurl body callback: append to the backend's body buffer.
 *
 * Returning less than offered makes curl fail with CURLE_WRITE_ERROR; the
 * flags tell gc_http_perform() why.
 */
static size_t
gc_write_callback(char *data, size_t size, size_t nmemb, void *userdata)
{
	GcTransfer *xfer = (GcTransfer *) userdata;
	size_t		len = size * nmemb;

	if (len > GC_HTTP_MAX_BODY - xfer->body_len)
	{
		xfer->body_too_large = true;
		return 0;
	}
	if (xfer->body_len + len + 1 > xfer->body_cap)
	{
		size_t		new_cap = Max(xfer->body_cap, GC_HTTP_FIRST_BODY);
		char	   *grown;

		while (new_cap < xfer->body_len + len + 1)
			new_cap *= 2;
		new_cap = Min(new_cap, GC_HTTP_MAX_BODY + 1);
		grown = realloc(xfer->body, new_cap);
		if (grown == NULL)
		{
			xfer->body_out_of_memory = true;
			return 0;
		}
		xfer->body = grown;
		xfer->body_cap = new_cap;
	}
	memcpy(xfer->body + xfer->body_len, data, len);
	xfer->body_len += len;
	return len;
}

/*
 * gc_header_value
 *		If line is the header "name: value", copy the trimmed value to dst
 *		(truncated, non-printable bytes replaced) and return true.
 */
static bool
gc_header_value(const char *line, size_t len, const char *name,
				char *dst, size_t dst_size)
{
	size_t		name_len = strlen(name);
	size_t		start = name_len + 1;
	size_t		end = len;
	size_t		i;

	if (len <= name_len || line[name_len] != ':' ||
		pg_strncasecmp(line, name, name_len) != 0)
		return false;
	while (start < end && (line[start] == ' ' || line[start] == '\t'))
		start++;
	while (end > start && (line[end - 1] == '\r' || line[end - 1] == '\n' ||
						   line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	for (i = 0; i < end - start && i < dst_size - 1; i++)
	{
		unsigned char c = (unsigned char) line[start + i];

		dst[i] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
	}
	dst[i] = '\0';
	return true;
}

/*
 * gc_clear_headers
 *		Forget the headers captured from an earlier response.
 */
static void
gc_clear_headers(GcTransfer *xfer)
{
	xfer->correlation_id[0] = '\0';
	xfer->retry_after[0] = '\0';
	xfer->content_type[0] = '\0';
	xfer->ratelimit_allowed[0] = '\0';
	xfer->ratelimit_count[0] = '\0';
	xfer->ratelimit_reset[0] = '\0';
}

/*
 * gc_header_callback
 *		libcurl header callback: keep the headers gc_fdw cares about.
 */
static size_t
gc_header_callback(char *line, size_t size, size_t nitems, void *userdata)
{
	GcTransfer *xfer = (GcTransfer *) userdata;
	size_t		len = size * nitems;

	/* A status line starts a new response (after 100 Continue, say) */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0)
	{
		gc_clear_headers(xfer);
		return len;
	}
	(void) (gc_header_value(line, len, "ININ-Correlation-Id",
							xfer->correlation_id, sizeof(xfer->correlation_id)) ||
			gc_header_value(line, len, "Retry-After",
							xfer->retry_after, sizeof(xfer->retry_after)) ||
			gc_header_value(line, len, "Content-Type",
							xfer->content_type, sizeof(xfer->content_type)) ||
			gc_header_value(line, len, "inin-ratelimit-allowed",
							xfer->ratelimit_allowed, sizeof(xfer->ratelimit_allowed)) ||
			gc_header_value(line, len, "inin-ratelimit-count",
							xfer->ratelimit_count, sizeof(xfer->ratelimit_count)) ||
			gc_header_value(line, len, "inin-ratelimit-reset",
							xfer->ratelimit_reset, sizeof(xfer->ratelimit_reset)));
	return len;
}

/*
 * gc_progress_callback
 *		libcurl progress callback: abort the transfer when a cancel or a
 *		terminate is pending.  Only reads the flags; the caller reacts.
 */
static int
gc_progress_callback(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
					 curl_off_t ultotal, curl_off_t ulnow)
{
	return (InterruptPending && (QueryCancelPending || ProcDiePending)) ? 1 : 0;
}

/*
 * gc_append_header
 *		curl_slist_append that keeps the list intact when it fails.
 */
static bool
gc_append_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *grown = curl_slist_append(*list, line);

	if (grown == NULL)
		return false;
	*list = grown;
	return true;
}

/*
 * gc_free_headers
 *		Wipe and free a header list: it may hold the bearer token.
 */
static void
gc_free_headers(struct curl_slist *list)
{
	struct curl_slist *cell;

	for (cell = list; cell != NULL; cell = cell->next)
		explicit_bzero(cell->data, strlen(cell->data));
	curl_slist_free_all(list);
}

/*
 * gc_slot_prepare
 *		Set up slot's easy handle for req: options, callbacks and a header
 *		list (which may hold the bearer token, and is wiped by
 *		gc_slot_release).  False when the header list could not be built.
 */
static bool
gc_slot_prepare(GcSlot *slot, const GcRequest *req, const char *auth_line)
{
	GcConnection *conn = req->conn;
	CURL	   *curl = slot->easy;
	GcTransfer *xfer = &slot->xfer;
	const char *body = req->body;
	bool		ok;

	slot->headers = NULL;
	ok = gc_append_header(&slot->headers, "Accept: application/json");
	if (auth_line != NULL)
		ok = ok && gc_append_header(&slot->headers, auth_line);
	if (req->is_token)
		ok = ok && gc_append_header(&slot->headers,
									"Content-Type: application/x-www-form-urlencoded");
	else if (body != NULL)
		ok = ok && gc_append_header(&slot->headers, "Content-Type: application/json");
	/* no "Expect: 100-continue" round trip for large bodies */
	ok = ok && gc_append_header(&slot->headers, "Expect:");
	if (!ok)
		return false;

	xfer->body_len = 0;
	xfer->body_too_large = false;
	xfer->body_out_of_memory = false;
	gc_clear_headers(xfer);
	xfer->curl_error[0] = '\0';

	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_PRIVATE, slot);
	curl_easy_setopt(curl, CURLOPT_URL, req->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	/* TLS peers are always verified; ca_file replaces the system CA bundle */
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (conn->opts.ca_file != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, conn->opts.ca_file);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, xfer->curl_error);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, GC_FDW_USER_AGENT);
	curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long) conn->opts.connect_timeout);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long) conn->opts.request_timeout);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, slot->headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, gc_write_callback);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, xfer);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, gc_header_callback);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, xfer);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, gc_progress_callback);
	if (req->is_token)
	{
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		curl_easy_setopt(curl, CURLOPT_USERNAME, conn->client_id);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, conn->client_secret);
	}
	if (strcmp(req->method, "GET") == 0)
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	else
	{
		if (strcmp(req->method, "POST") == 0)
			curl_easy_setopt(curl, CURLOPT_POST, 1L);
		else
			curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
		if (body != NULL || strcmp(req->method, "POST") == 0)
		{
			/* copied: a request sent ahead outlives its caller's memory */
			curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
							 (curl_off_t) (body ? strlen(body) : 0));
			curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body ? body : "");
		}
	}
	return true;
}

/*
 * gc_slot_detach
 *		Take slot's transfer out of the multi handle when it is in it, and
 *		wipe and free its header list (it may hold the bearer token).
 */
static void
gc_slot_detach(GcSlot *slot)
{
	if (slot->state == GC_SLOT_BUSY)
		curl_multi_remove_handle(gc_multi, slot->easy);
	gc_free_headers(slot->headers);
	slot->headers = NULL;
}

/*
 * gc_slot_release
 *		Detach slot from the multi handle when it is in it, and wipe and free
 *		its header list (it may hold the bearer token).  The transfer state
 *		(body, headers captured) stays for gc_attempt_collect.
 */
static void
gc_slot_release(GcSlot *slot)
{
	gc_slot_detach(slot);
	slot->state = GC_SLOT_FREE;
	slot->owner = NULL;
}

/*
 * gc_slot_acquire
 *		A free slot, its easy handle created on first use.
 */
static GcSlot *
gc_slot_acquire(void)
{
	int			i;

	if (gc_multi == NULL && (gc_multi = curl_multi_init()) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	for (i = 0; i < GC_SLOTS; i++)
	{
		GcSlot	   *slot = &gc_slots[i];

		if (slot->state != GC_SLOT_FREE)
			continue;
		if (slot->easy == NULL && (slot->easy = curl_easy_init()) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl handle")));
		slot->seq = ++gc_slot_seq;
		return slot;
	}
	/* the scan keeps at most GC_MAX_CONCURRENCY in flight; never reached */
	elog(ERROR, "gc_fdw: no free HTTP transfer slot");
	return NULL;				/* keep compiler quiet */
}

/*
 * gc_slot_start
 *		Prepare slot for req and add it to the multi handle.  On failure the
 *		slot is free again and an error is raised.
 */
static void
gc_slot_start(GcSlot *slot, const GcRequest *req, const char *token)
{
	char	   *auth_line = NULL;
	bool		ok;

	if (token != NULL)
		auth_line = psprintf("Authorization: Bearer %s", token);
	ok = gc_slot_prepare(slot, req, auth_line);
	if (auth_line != NULL)
	{
		explicit_bzero(auth_line, strlen(auth_line));
		pfree(auth_line);
	}
	slot->req = *req;
	slot->rc = CURLE_OK;
	slot->status = 0;
	slot->total_secs = 0;
	slot->started = GetCurrentTimestamp();
	if (ok && curl_multi_add_handle(gc_multi, slot->easy) == CURLM_OK)
	{
		slot->state = GC_SLOT_BUSY;
		return;
	}
	gc_slot_release(slot);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
			 errmsg("out of memory while preparing a Genesys Cloud request")));
}

/*
 * gc_multi_step
 *		Let libcurl move every transfer on, and note the ones that ended:
 *		their slots become DONE (detached, header list wiped).  Returns
 *		false when libcurl failed; nothing here ereports.
 */
static bool
gc_multi_step(void)
{
	int			running = 0;
	CURLMsg    *msg;
	int			left;

	if (curl_multi_perform(gc_multi, &running) != CURLM_OK)
		return false;
	while ((msg = curl_multi_info_read(gc_multi, &left)) != NULL)
	{
		GcSlot	   *slot = NULL;
		double		total = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &slot);
		if (slot == NULL || slot->state != GC_SLOT_BUSY)
			continue;
		slot->rc = msg->data.result;
		if (slot->rc == CURLE_OK)
		{
			curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &slot->status);
			curl_easy_getinfo(slot->easy, CURLINFO_TOTAL_TIME, &total);
			slot->total_secs = total;
		}
		gc_slot_detach(slot);
		slot->state = GC_SLOT_DONE;
	}
	return true;
}

/*
 * gc_multi_wait
 *		Drive every transfer until slot's has ended.  Returns false on a
 *		pending cancel or terminate, or when libcurl failed (*failed); the
 *		caller cleans up and raises.  The wait polls the sockets in slices
 *		of at most a second; signals (cancel, timeout, terminate) end the
 *		poll at once.
 */
static bool
gc_multi_wait(GcSlot *slot, bool *failed)
{
	*failed = false;
	for (;;)
	{
		if (!gc_multi_step())
		{
			*failed = true;
			return false;
		}
		if (slot->state == GC_SLOT_DONE)
			return true;
		if (InterruptPending && (QueryCancelPending || ProcDiePending))
			return false;
		if (curl_multi_poll(gc_multi, NULL, 0, 1000, NULL) != CURLM_OK)
		{
			*failed = true;
			return false;
		}
	}
}

/*
 * gc_slot_finish
 *		Turn slot's ended transfer into out (body palloc'd in the current
 *		memory context) and free the slot; raises on a cancel seen by
 *		libcurl and on a body over the limit.
 */
static void
gc_slot_finish(GcSlot *slot, GcAttempt *out)
{
	GcRequest	req = slot->req;

	memset(out, 0, sizeof(GcAttempt));
	out->curl_rc = slot->rc;
	out->resp.status = slot->status;
	out->resp.elapsed_secs = slot->total_secs;
	/* free first: whatever collecting raises, the slot is not lost */
	gc_slot_release(slot);
	if (out->curl_rc == CURLE_ABORTED_BY_CALLBACK)
	{
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling Genesys Cloud request %s %s",
						req.method, req.path)));
	}
	gc_attempt_collect(&req, &slot->xfer, out, slot->started);
}

/*
 * gc_wait_failed
 *		After gc_multi_wait returned false: give up the requests of owner
 *		(NULL: only slot) and raise the cancel or the libcurl failure.
 */
static void
pg_attribute_noreturn()
gc_wait_failed(GcSlot *slot, const void *owner, bool failed)
{
	const char *method = slot->req.method;
	const char *path = slot->req.path;

	gc_slot_release(slot);
	if (owner != NULL)
		gc_http_abandon(owner);
	CHECK_FOR_INTERRUPTS();
	ereport(ERROR,
			(errcode(failed ? ERRCODE_FDW_ERROR : ERRCODE_QUERY_CANCELED),
			 failed ? errmsg("libcurl failed while sending %s %s", method, path)
			 : errmsg("canceling Genesys Cloud request %s %s", method, path)));
}

/*
 * gc_http_perform_one
 *		One attempt of req, waited for (transfers sent ahead by scans move
 *		on meanwhile).  out gets the libcurl result and, on CURLE_OK, the
 *		response.
 */
static void
gc_http_perform_one(GcRequest *req, const char *token, GcAttempt *out)
{
	GcSlot	   *slot = gc_slot_acquire();
	bool		failed;

	gc_slot_start(slot, req, token);
	if (!gc_multi_wait(slot, &failed))
		gc_wait_failed(slot, NULL, failed);
	gc_slot_finish(slot, out);
}

/*
 * gc_http_abandon
 *		Give up every request owner sent ahead and has not collected: their
 *		transfers are detached and their header lists wiped.  Safe from
 *		memory context callbacks during abort (raises nothing).
 */
void
gc_http_abandon(const void *owner)
{
	int			i;

	for (i = 0; i < GC_SLOTS; i++)
		if (gc_slots[i].state != GC_SLOT_FREE && gc_slots[i].owner == owner &&
			owner != NULL)
			gc_slot_release(&gc_slots[i]);
}

/*
 * gc_attempt_collect
 *		Turn what slot's transfer received into out: the palloc'd body and
 *		the headers gc_fdw keeps, or the failure to report.
 */
static void
gc_attempt_collect(const GcRequest *req, GcTransfer *xfer, GcAttempt *out,
				   TimestampTz started)
{
	GcHttpResponse *resp = &out->resp;
	CURLcode	rc = (CURLcode) out->curl_rc;

	if (rc == CURLE_WRITE_ERROR && xfer->body_too_large)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s response too large: %s %s",
						req->service, req->method, req->path),
				 errdetail("The response body exceeds %zu MB.",
						   GC_HTTP_MAX_BODY / (1024 * 1024)),
				 errhint("Use a smaller page_size for the foreign table.")));
	if (rc == CURLE_WRITE_ERROR && xfer->body_out_of_memory)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory while receiving %s %s",
						req->method, req->path)));
	if (rc != CURLE_OK)
	{
		strlcpy(out->curl_error,
				xfer->curl_error[0] ? xfer->curl_error : curl_easy_strerror(rc),
				sizeof(out->curl_error));
		elog(DEBUG1, "gc_fdw: %s %s failed: %s",
			 req->method, req->path, out->curl_error);
		return;
	}

	if (resp->elapsed_secs <= 0)
		resp->elapsed_secs = (GetCurrentTimestamp() - started) / 1000000.0;
	resp->body_len = xfer->body_len;
	resp->body = palloc_extended(xfer->body_len + 1, MCXT_ALLOC_NO_OOM);
	if (resp->body != NULL && xfer->body_len > 0)
		memcpy(resp->body, xfer->body, xfer->body_len);
	/* the token endpoint's answer is a secret: leave no copy behind */
	if (req->is_token && xfer->body_len > 0)
		explicit_bzero(xfer->body, xfer->body_len);
	if (resp->body == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory while receiving %s %s",
						req->method, req->path)));
	resp->body[xfer->body_len] = '\0';
	if (xfer->content_type[0] != '\0')
		resp->content_type = pstrdup(xfer->content_type);
	if (xfer->correlation_id[0] != '\0')
		resp->correlation_id = pstrdup(xfer->correlation_id);
	strlcpy(out->retry_after, xfer->retry_after, sizeof(out->retry_after));
	if (!req->is_token)
		gc_budget_update(req->conn, xfer);

	elog(DEBUG1, "gc_fdw: %s %s -> HTTP %ld, %zu bytes in %.3f s, correlation id %s",
		 req->method, req->path, resp->status, resp->body_len, resp->elapsed_secs,
		 resp->correlation_id ? resp->correlation_id : "(none)");
	if (xfer->ratelimit_allowed[0] != '\0')
		elog(DEBUG2, "gc_fdw: rate limit: %s of %s requests used, window resets in %s s",
			 xfer->ratelimit_count, xfer->ratelimit_allowed,
			 xfer->ratelimit_reset[0] ? xfer->ratelimit_reset : "?");
}

/*
 * gc_response_free
 *		Release what a previous attempt left in resp.
 */
static void
gc_response_free(GcHttpResponse *resp)
{
	if (resp->body != NULL)
		pfree(resp->body);
	if (resp->content_type != NULL)
		pfree(resp->content_type);
	if (resp->correlation_id != NULL)
		pfree(resp->correlation_id);
	memset(resp, 0, sizeof(*resp));
}

/*
 * gc_one_line
 *		palloc'd copy of at most max_len bytes of text, on one line: control
 *		characters become spaces, runs of spaces collapse, and bytes that are
 *		not valid in a UTF-8 database become '?'.  Gateways send HTML.
 */
static char *
gc_one_line(const char *text, size_t len, size_t max_len)
{
	bool		keep_high = (GetDatabaseEncoding() == PG_UTF8);
	bool		truncated = false;
	char	   *out;
	size_t		n = 0;
	size_t		i;

	if (len > max_len)
	{
		len = keep_high ? (size_t) pg_mbcliplen(text, (int) len, (int) max_len) : max_len;
		truncated = true;
	}
	if (keep_high && !pg_verifymbstr(text, (int) len, true))
		keep_high = false;

	out = palloc(len + 4);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) text[i];

		if (c < 0x20 || c == 0x7f || c == ' ')
		{
			if (n > 0 && out[n - 1] != ' ')
				out[n++] = ' ';
		}
		else
			out[n++] = (c >= 0x80 && !keep_high) ? '?' : (char) c;
	}
	if (n > 0 && out[n - 1] == ' ')
		n--;
	if (truncated)
	{
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

/*
 * gc_describe_response
 *		errdetail text for an API answer: status, Genesys code and message
 *		when the body is a platform error, else the start of the body, and
 *		the correlation id.
 */
char *
gc_describe_response(const GcHttpResponse *resp)
{
	StringInfoData detail;
	char		code[128] = "";
	char		message[1024] = "";
	char		context_id[GC_HEADER_VALUE_LEN] = "";
	bool		is_platform_error = false;
	struct json_object *root = NULL;
	struct json_object *field;

	if (resp->body_len > 0 && resp->body_len < 1024 * 1024)
		root = json_tokener_parse(resp->body);
	if (root != NULL && json_object_is_type(root, json_type_object))
	{
		if (json_object_object_get_ex(root, "code", &field) &&
			json_object_is_type(field, json_type_string))
			strlcpy(code, json_object_get_string(field), sizeof(code));
		if (json_object_object_get_ex(root, "message", &field) &&
			json_object_is_type(field, json_type_string))
			strlcpy(message, json_object_get_string(field), sizeof(message));
		if (json_object_object_get_ex(root, "contextId", &field) &&
			json_object_is_type(field, json_type_string))
			strlcpy(context_id, json_object_get_string(field), sizeof(context_id));
		is_platform_error = (code[0] != '\0' || message[0] != '\0');
	}
	if (root != NULL)
		json_object_put(root);

	initStringInfo(&detail);
	appendStringInfo(&detail, "HTTP status %ld", resp->status);
	if (is_platform_error)
	{
		if (code[0] != '\0')
			appendStringInfo(&detail, ", Genesys code \"%s\"",
							 gc_one_line(code, strlen(code), sizeof(code)));
		if (message[0] != '\0')
			appendStringInfo(&detail, ": %s",
							 gc_one_line(message, strlen(message), sizeof(message)));
	}
	else if (resp->body_len > 0)
		appendStringInfo(&detail, ", response body begins \"%s\"",
						 gc_one_line(resp->body, resp->body_len, GC_SNIPPET_LEN));
	if (resp->correlation_id != NULL)
		appendStringInfo(&detail, ", correlation id %s", resp->correlation_id);
	else if (context_id[0] != '\0')
		appendStringInfo(&detail, ", correlation id %s",
						 gc_one_line(context_id, strlen(context_id), sizeof(context_id)));
	else
		appendStringInfoString(&detail, ", no correlation id");
	return detail.data;
}

/*
 * gc_report_api_error
 *		ereport an answer that is not retried (4xx other than 401/429, 501).
 */
static void
pg_attribute_noreturn()
gc_report_api_error(const GcRequest *req, const GcHttpResponse *resp)
{
	GcConnection *conn = req->conn;
	char	   *detail = gc_describe_response(resp);
	char	   *hint = NULL;

	if (resp->status == 403 && strcmp(req->method, "PATCH") == 0)
		hint = psprintf("Give the OAuth client \"%s\" a role with the permission named above (directory:user:edit to update users) in the users' divisions.",
						conn->client_id);
	else if (resp->status == 403)
		hint = psprintf("Give the OAuth client \"%s\" a role with the permission named above (for example analytics:conversationDetail:view for conversation details) in the divisions whose data you read.",
						conn->client_id);
	else if (resp->status == 404 && strcmp(req->method, "PATCH") == 0)
		hint = pstrdup("The user no longer exists in Genesys Cloud (or is deleted); read the users again.");
	else if (resp->status == 400 && strcmp(req->method, "PATCH") == 0)
		hint = pstrdup("Genesys Cloud refused the new values; check them against the user fields' rules (for example a valid email address, a manager who is an active user).");
	else if (resp->status == 404)
		hint = psprintf("Check the environment and %s options of server \"%s\".",
						req->url_option, conn->server_name);
	else if (resp->status == 400)
		hint = pstrdup("Genesys Cloud refused the request built from this query; narrow the WHERE conditions (conversation intervals are limited to 7 days, 31 with filters, and paging to 100000 results) or check the table options.");

	ereport(ERROR,
			(errcode(resp->status == 403 ? ERRCODE_INSUFFICIENT_PRIVILEGE :
					 ERRCODE_FDW_ERROR),
			 errmsg("%s request failed: %s %s",
					req->service, req->method, req->path),
			 errdetail("%s.", detail),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * gc_report_transport_error
 *		ereport a failure to exchange anything with the host.
 */
static void
pg_attribute_noreturn()
gc_report_transport_error(const GcRequest *req, CURLcode rc,
						  const char *curl_error, int attempts)
{
	bool		timed_out = (rc == CURLE_OPERATION_TIMEDOUT);

	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
			 timed_out ?
			 errmsg("%s request timed out: %s %s",
					req->service, req->method, req->path) :
			 errmsg("could not reach %s: %s %s",
					req->service, req->method, req->path),
			 attempts > 1 ?
			 errdetail("Gave up after %d attempt(s): %s (URL %s).",
					   attempts, curl_error, req->url) :
			 errdetail("%s (URL %s).", curl_error, req->url),
			 timed_out ?
			 errhint("Raise the request_timeout or connect_timeout option of server \"%s\", or use a smaller page_size.",
					 req->conn->server_name) :
			 (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) ?
			 errhint("The host's TLS certificate is not trusted: for a private CA, set the ca_file option of server \"%s\" to its PEM file.",
					 req->conn->server_name) :
			 errhint("Check the environment and %s options of server \"%s\", and that this database server can open HTTPS connections to that host (DNS, proxy, firewall).",
					 req->url_option, req->conn->server_name)));
}

/*
 * gc_transient_failure
 *		Is this libcurl failure worth another attempt?  DNS, TLS and URL
 *		problems are configuration errors and reported at once.
 */
static bool
gc_transient_failure(CURLcode rc)
{
	switch (rc)
	{
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return true;
		default:
			return false;
	}
}

/*
 * gc_retry_after_secs
 *		Seconds a Retry-After value asks for (delta-seconds or HTTP-date),
 *		or -1 when absent or unreadable.
 */
static double
gc_retry_after_secs(const char *value)
{
	char	   *end;
	long		secs;
	time_t		when;

	if (value[0] == '\0')
		return -1;
	errno = 0;
	secs = strtol(value, &end, 10);
	if (end != value && *end == '\0' && errno == 0 && secs >= 0)
		return (double) secs;
	when = curl_getdate(value, NULL);
	if (when == (time_t) -1)
		return -1;
	return Max(difftime(when, time(NULL)), 0.0);
}

/*
 * gc_backoff_secs
 *		Delay before retry number step (from 0): exponential from one
 *		second, capped, with "equal jitter" (half fixed, half random) so that
 *		concurrent backends do not retry in lockstep.
 */
static double
gc_backoff_secs(int step, double cap)
{
	double		delay = GC_BACKOFF_FIRST_SECS;

	while (step-- > 0 && delay < cap)
		delay *= 2;
	delay = Min(delay, cap);
	return delay * (0.5 + 0.5 * pg_prng_double(&pg_global_prng_state));
}

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

/* Note the budget an API answer reported */
static void
gc_budget_update(GcConnection *conn, const GcTransfer *xfer)
{
	char	   *end;
	long		allowed = strtol(xfer->ratelimit_allowed, &end, 10);
	long		used;
	double		reset;

	if (xfer->ratelimit_allowed[0] == '\0' || *end != '\0' || allowed <= 0)
		return;
	used = strtol(xfer->ratelimit_count, &end, 10);
	if (xfer->ratelimit_count[0] == '\0' || *end != '\0')
		return;
	reset = xfer->ratelimit_reset[0] ? strtod(xfer->ratelimit_reset, &end) : 60.0;
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
gc_budget_wait(GcConnection *conn, const GcRequest *req)
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
		 gc_budget.allowed, secs, req->method, req->path);
	gc_progress_waiting(psprintf("rate limit budget spent, window resets: %s %s",
								 req->method, req->path), secs);
	gc_sleep_interruptible(secs);
	gc_progress_waiting_done();
	return secs;
}

/*
 * gc_paced_token
 *		Before an API request: wait for the rate-limit budget if it is
 *		spent (counted in stats, which may be NULL), then the bearer token.
 */
static const char *
gc_paced_token(const GcRequest *req, GcScanStats *stats)
{
	double		paced = gc_budget_wait(req->conn, req);

	if (paced > 0 && stats != NULL)
	{
		stats->pacing_waits++;
		stats->pacing_secs += paced;
	}
	return gc_auth_get_token(req->conn, stats);
}

/* Count one exchange the API or login host answered (or failed) */
static void
gc_count_attempt(const GcRequest *req, GcScanStats *stats, const GcAttempt *att)
{
	gc_stats_exchange(req->endpoint, att->curl_rc == CURLE_OK ? att->resp.status : 0,
					  att->resp.body_len);
	if (stats == NULL)
		return;
	if (req->is_token)
		stats->token_requests++;
	else
		stats->requests++;
}

/*
 * gc_http_exchange
 *		Run req under the retry policy; see the file header.  When first is
 *		given, it is the outcome of the request's first attempt, already
 *		sent (concurrently with others) and counted: the policy starts from
 *		it instead of sending the request again.
 */
static void
gc_http_exchange(GcRequest *req, GcScanStats *stats, GcHttpResponse *resp,
				 GcAttempt *first)
{
	GcConnection *conn = req->conn;
	GcScanStats scratch_stats;
	int			retries = 0;
	int			backoff_step = 0;
	int			step_429 = 0;
	double		waited = 0;
	int			reauths_in_a_row = 0;
	bool		uncertain = false;
	GcAttempt	att;

	if (stats == NULL)
	{
		memset(&scratch_stats, 0, sizeof(scratch_stats));
		stats = &scratch_stats;
	}
	memset(resp, 0, sizeof(*resp));

	for (;;)
	{
		CURLcode	rc;
		double		delay;

		gc_response_free(resp);
		if (first != NULL && !first->used)
		{
			/* the answer moves to resp: the caller collected it in its context */
			first->used = true;
			att = *first;
			memset(&first->resp, 0, sizeof(first->resp));
		}
		else
		{
			/* may itself run a token exchange */
			const char *token = req->is_token ? NULL : gc_paced_token(req, stats);

			gc_progress_waiting(psprintf("HTTP %s %s", req->method, req->path),
								conn->opts.request_timeout);
			gc_http_perform_one(req, token, &att);
			att.token_generation = gc_auth_token_generation();
			gc_progress_waiting_done();
			gc_count_attempt(req, stats, &att);
		}
		*resp = att.resp;
		rc = (CURLcode) att.curl_rc;

		if (rc != CURLE_OK)
		{
			if (!gc_transient_failure(rc) || retries >= conn->opts.max_retries)
				gc_report_transport_error(req, rc, att.curl_error, retries + 1);
			delay = gc_backoff_secs(backoff_step++, GC_BACKOFF_5XX_CAP_SECS);
			stats->backoff_secs += delay;
		}
		else if (resp->status >= 200 && resp->status < 300)
		{
			resp->retried_uncertain = uncertain;
			return;
		}
		else if (resp->status == 401 && !req->is_token &&
				 att.token_generation != gc_auth_token_generation())
		{
			/*
			 * Sent ahead with a token that has been replaced since (another
			 * page's 401 fetched a new one): it says nothing about the
			 * current token, so send the request again with it.
			 */
			elog(DEBUG1, "gc_fdw: %s %s -> HTTP 401 for a token replaced since, sending again",
				 req->method, req->path);
			continue;
		}
		else if (resp->status == 401 && !req->is_token)
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
								req->method, req->path),
						 errdetail("%s.", gc_describe_response(resp)),
						 errhint("The token was issued to OAuth client \"%s\" moments before; check that the client is active and has roles, and that the environment, api_url and login_url options of server \"%s\" name the same region.",
								 conn->client_id, conn->server_name)));
			elog(DEBUG1, "gc_fdw: %s %s -> HTTP 401, fetching a new token",
				 req->method, req->path);
			gc_stats_reauth(req->endpoint);
			gc_auth_forget_token(conn);
			reauths_in_a_row++;
			continue;
		}
		else if (resp->status == 429)
		{
			double		asked = gc_retry_after_secs(att.retry_after);

			if (asked > conn->opts.max_retry_after)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("%s request was rate limited: %s %s",
								req->service, req->method, req->path),
						 errdetail("Genesys Cloud asked to wait %.0f seconds before retrying, more than max_retry_after (%d seconds); %s.",
								   asked, conn->opts.max_retry_after,
								   gc_describe_response(resp)),
						 errhint("Retry later, or raise the max_retry_after option of server \"%s\".",
								 conn->server_name)));
			if (retries >= conn->opts.max_retries)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("%s request was rate limited: %s %s",
								req->service, req->method, req->path),
						 errdetail("Gave up after %d attempt(s) and %.0f seconds of waiting; last answer: %s.",
								   retries + 1, waited, gc_describe_response(resp)),
						 errhint("Raise the max_retries option of server \"%s\", run fewer concurrent queries as OAuth client \"%s\", or ask Genesys to raise its rate limit.",
								 conn->server_name, conn->client_id)));
			/* an answer of 0 would retry at once: wait at least a second */
			delay = (asked >= 0) ? Max(asked, 1.0) :
				gc_backoff_secs(step_429++, GC_BACKOFF_429_CAP_SECS);
			stats->waits_429++;
			stats->wait_429_secs += delay;
			gc_stats_rate_limited(req->endpoint, delay);
		}
		else if (resp->status >= 500 && resp->status != 501)
		{
			if (retries >= conn->opts.max_retries)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("%s request failed: %s %s",
								req->service, req->method, req->path),
						 errdetail("Gave up after %d attempt(s); last answer: %s.",
								   retries + 1, gc_describe_response(resp)),
						 errhint("Genesys Cloud or a gateway in front of it is failing; retry later or raise the max_retries option of server \"%s\".",
								 conn->server_name)));
			delay = gc_backoff_secs(backoff_step++, GC_BACKOFF_5XX_CAP_SECS);
			stats->backoff_secs += delay;
		}
		else if (req->is_token)
			return;				/* auth.c reports the token endpoint's refusal */
		else if (req->return_status != 0 && resp->status == req->return_status)
		{
			/* the caller can act on it (narrow a window, resolve a conflict) */
			resp->retried_uncertain = uncertain;
			return;
		}
		else
			gc_report_api_error(req, resp);

		reauths_in_a_row = 0;
		retries++;
		stats->retries++;
		waited += delay;
		if (rc != CURLE_OK || resp->status != 429)
		{
			gc_stats_retry(req->endpoint);
			/* the failed attempt may have been carried out all the same */
			uncertain = true;
		}
		elog(DEBUG1, "gc_fdw: retrying %s %s in %.1f s (retry %d of %d)",
			 req->method, req->path, delay, retries, conn->opts.max_retries);
		gc_progress_waiting(rc != CURLE_OK ?
							psprintf("backoff after a network failure: %s %s",
									 req->method, req->path) :
							psprintf("%s after HTTP %ld: %s %s",
									 resp->status == 429 ? "Retry-After" : "backoff",
									 resp->status, req->method, req->path),
							delay);
		gc_sleep_interruptible(delay);
		gc_progress_waiting_done();
	}
}

/*
 * gc_http_request
 *		gc_http_exchange, counting an exchange that ends in an error (or a
 *		cancel) against its endpoint and clearing the progress wait.
 */
static void
gc_http_request(GcRequest *req, GcScanStats *stats, GcHttpResponse *resp,
				GcAttempt *first)
{
	req->endpoint = gc_stats_endpoint(req->method, req->path);
	PG_TRY();
	{
		gc_http_exchange(req, stats, resp, first);
	}
	PG_CATCH();
	{
		/* only a definite 4xx refusal says the request did nothing */
		gc_http_failure_uncertain = !(resp->status >= 400 && resp->status < 500);
		gc_stats_error(req->endpoint);
		gc_progress_waiting_done();
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * gc_api_call
 *		Authenticated request to the API host; see gc_fdw.h.
 */
void
gc_api_call(GcConnection *conn, const char *method, const char *path_query,
			const char *json_body, GcScanStats *stats, GcHttpResponse *resp)
{
	gc_api_call_ex(conn, method, path_query, json_body, stats, resp, 0);
}

/*
 * gc_api_request_init
 *		An API-host request: its URL (palloc'd, the caller frees it) and the
 *		names its messages use.
 */
static void
gc_api_request_init(GcRequest *req, GcConnection *conn, const char *method,
					const char *path_query, const char *json_body)
{
	memset(req, 0, sizeof(GcRequest));
	req->conn = conn;
	req->method = method;
	req->path = path_query;
	req->url = psprintf("%s%s", conn->opts.api_url, path_query);
	req->body = json_body;
	req->service = "Genesys Cloud API";
	req->url_option = "api_url";
}

/*
 * gc_api_report_error
 *		ereport an API answer the caller could not use, as gc_api_call would
 *		have.
 */
void
gc_api_report_error(GcConnection *conn, const char *method,
					const char *path_query, const GcHttpResponse *resp)
{
	GcRequest	req;

	gc_api_request_init(&req, conn, method, path_query, NULL);
	gc_report_api_error(&req, resp);
}

/*
 * gc_api_call_ex
 *		gc_api_call that returns an answer of status return_status (0: none)
 *		instead of reporting it: the scan splits an interval the API finds
 *		too large (400), an UPDATE resolves a version conflict (409).
 */
void
gc_api_call_ex(GcConnection *conn, const char *method, const char *path_query,
			   const char *json_body, GcScanStats *stats, GcHttpResponse *resp,
			   long return_status)
{
	gc_api_call_attempted(conn, method, path_query, json_body, stats, resp,
						  return_status, NULL);
}

/*
 * gc_api_call_attempted
 *		gc_api_call_ex whose first attempt may already have been sent by
 *		gc_api_send_async and collected by gc_api_wait (first, or NULL);
 *		see gc_fdw.h.
 */
void
gc_api_call_attempted(GcConnection *conn, const char *method,
					  const char *path_query, const char *json_body,
					  GcScanStats *stats, GcHttpResponse *resp,
					  long return_status, GcAttempt *first)
{
	GcRequest	req;

	gc_api_request_init(&req, conn, method, path_query, json_body);
	req.return_status = return_status;
	gc_http_request(&req, stats, resp, first);
	pfree(req.url);
}

/*
 * gc_api_send_async
 *		Send an authenticated API request without waiting for its answer;
 *		see gc_fdw.h.  Pacing and the token apply as to any request, and
 *		the request counts as sent.  False, sending nothing, when the
 *		transfer slots are taken by other scans' pages.
 */
bool
gc_api_send_async(GcConnection *conn, const char *method, const char *path_query,
				  const char *json_body, GcScanStats *stats, const void *owner,
				  GcAttempt *att)
{
	GcRequest	req;
	GcSlot	   *slot;
	const char *token;
	int			free_slots = 0;
	int			i;

	/*
	 * Several scans of one query (a join, a UNION) share the slots: keep
	 * two free for the requests that are waited for at once (a page alone,
	 * a token), and let the scan read on with fewer pages in flight.
	 */
	for (i = 0; i < GC_SLOTS; i++)
		if (gc_slots[i].state == GC_SLOT_FREE)
			free_slots++;
	if (free_slots <= 2)
		return false;

	memset(att, 0, sizeof(GcAttempt));
	gc_api_request_init(&req, conn, method, path_query, json_body);
	req.endpoint = gc_stats_endpoint(method, path_query);

	token = gc_paced_token(&req, stats);
	att->token_generation = gc_auth_token_generation();
	slot = gc_slot_acquire();
	gc_slot_start(slot, &req, token);
	slot->owner = owner;
	slot->req.url = NULL;		/* libcurl has its own copy */
	pfree(req.url);
	(void) gc_multi_step();		/* on its way now */
	att->slot = (int) (slot - gc_slots);
	att->slot_seq = slot->seq;
	att->pending = true;
	if (stats != NULL)
		stats->requests++;
	return true;
}

/*
 * gc_api_wait
 *		The first attempt of a request gc_api_send_async sent, waited for
 *		(the other transfers move on meanwhile), its body palloc'd in the
 *		current memory context.  A cancel gives up all of the owner's
 *		requests and raises.
 */
void
gc_api_wait(GcAttempt *att)
{
	GcSlot	   *slot;
	bool		failed;
	uint64		generation = att->token_generation;
	GcEndpointStats *endpoint;

	if (!att->pending || att->slot < 0 || att->slot >= GC_SLOTS ||
		gc_slots[att->slot].seq != att->slot_seq ||
		gc_slots[att->slot].state == GC_SLOT_FREE)
		elog(ERROR, "gc_fdw: a request sent ahead was lost");
	slot = &gc_slots[att->slot];
	if (slot->state == GC_SLOT_BUSY && !gc_multi_wait(slot, &failed))
		gc_wait_failed(slot, slot->owner, failed);
	endpoint = slot->req.endpoint;
	gc_slot_finish(slot, att);
	att->token_generation = generation;
	gc_stats_exchange(endpoint, att->curl_rc == CURLE_OK ? att->resp.status : 0,
					  att->resp.body_len);
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
 * gc_http_token_request
 *		Client credentials exchange with the login host; see gc_fdw.h.
 *
 * 429, 5xx and network failures are retried like API calls and ereported
 * here when the retries run out; any other status is returned to auth.c.
 */
void
gc_http_token_request(GcConnection *conn, GcScanStats *stats,
					  GcHttpResponse *resp)
{
	GcRequest	req;

	memset(&req, 0, sizeof(req));
	req.conn = conn;
	req.method = "POST";
	req.path = GC_TOKEN_PATH;
	req.url = psprintf("%s%s", conn->opts.login_url, GC_TOKEN_PATH);
	req.body = GC_TOKEN_BODY;
	req.is_token = true;
	req.service = "Genesys Cloud login service";
	req.url_option = "login_url";

	gc_http_request(&req, stats, resp, NULL);
	pfree(req.url);
}

/* Discard a response body */
static size_t
gc_discard_callback(char *data, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

/*
 * gc_http_delete_quietly
 *		DELETE url with a bearer token, without retries, with short
 *		timeouts, and without raising: it runs from transaction abort
 *		callbacks, where an error must not be thrown.  Not interruptible
 *		either (an abort has already consumed the cancel), so it is bounded
 *		by a 5 second timeout.  Returns whether the API answered 2xx.
 */
bool
gc_http_delete_quietly(const char *url, const char *token, const char *ca_file)
{
	struct curl_slist *headers = NULL;
	char		auth[GC_HEADER_VALUE_LEN * 4];
	long		status = 0;
	CURLcode	rc;

	if (gc_curl_quiet == NULL && (gc_curl_quiet = curl_easy_init()) == NULL)
		return false;
	if (snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token) >= (int) sizeof(auth))
		return false;
	headers = curl_slist_append(NULL, auth);
	explicit_bzero(auth, sizeof(auth));
	if (headers == NULL)
		return false;

	curl_easy_reset(gc_curl_quiet);
	curl_easy_setopt(gc_curl_quiet, CURLOPT_URL, url);
	curl_easy_setopt(gc_curl_quiet, CURLOPT_CUSTOMREQUEST, "DELETE");
	curl_easy_setopt(gc_curl_quiet, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(gc_curl_quiet, CURLOPT_USERAGENT, GC_FDW_USER_AGENT);
	curl_easy_setopt(gc_curl_quiet, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(gc_curl_quiet, CURLOPT_CONNECTTIMEOUT, 2L);
	curl_easy_setopt(gc_curl_quiet, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(gc_curl_quiet, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(gc_curl_quiet, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(gc_curl_quiet, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file != NULL)
		curl_easy_setopt(gc_curl_quiet, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(gc_curl_quiet, CURLOPT_WRITEFUNCTION, gc_discard_callback);
	rc = curl_easy_perform(gc_curl_quiet);
	if (rc == CURLE_OK)
		curl_easy_getinfo(gc_curl_quiet, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_reset(gc_curl_quiet);
	gc_free_headers(headers);
	elog(DEBUG1, "gc_fdw: DELETE of an unfinished analytics job -> %s, HTTP %ld",
		 rc == CURLE_OK ? "sent" : curl_easy_strerror(rc), status);
	return rc == CURLE_OK && status >= 200 && status < 300;
}
