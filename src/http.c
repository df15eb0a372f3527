/*-------------------------------------------------------------------------
 *
 * http.c
 *		  HTTP transport of gc_fdw: the only file that includes curl/curl.h.
 *
 * Owns the per-backend libcurl multi handle and its transfer slots (reused,
 * so keep-alive connections and TLS sessions survive between requests), the
 * body buffers and the headers captured (correlation id, Retry-After,
 * content type, Location, inin-ratelimit-*), one attempt waited for
 * (gc_http_perform), requests started now and collected later
 * (gc_http_send, gc_http_collect, given up by owner with gc_http_abandon),
 * and the quiet DELETE of abort callbacks.  It reports what an attempt came
 * to (GcHttpAttempt: answered, transient or permanent network failure,
 * cancelled, body too large, out of memory; status, headers, body), which
 * 429 answers arrived for requests not collected yet (for the API policy's
 * hold-back), and lends libcurl's date parser to the Retry-After rules of
 * retry.c.
 *
 * Memory: bodies are received into GcBody buffers (bodies.c), which share
 * one budget per backend, gc_fdw.max_response_memory; the write callback
 * only stops a transfer they refuse, and retry.c words the error once
 * libcurl has returned.  A body is released (bodies.c frees a grown buffer)
 * as soon as it has been copied out or given up.
 *
 * Layering: api.c -> auth.c -> retry.c -> http.c, and api.c -> http.c.
 * This file is the bottom: it calls none of them.
 *
 * Must not: decide on retries or word an error the API or the network
 * causes (retry.c and api.c do; only local failures are raised here: no
 * libcurl handle, a request that cannot be prepared, a failing multi handle,
 * a request sent ahead that was lost); ereport, palloc or longjmp inside a
 * libcurl callback (callbacks record state and return a code); ereport while
 * a curl_slist is allocated; put the access token, the client secret or the
 * Authorization header in any message at any level; parse bodies.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include <curl/curl.h>

#include "miscadmin.h"

#include "gc_fdw.h"

#define GC_HEADER_VALUE_LEN		256
/* Long enough that a message quoting its start (retry.c) redacts any
 * secret there whole: see gc_describe_location */
#define GC_LOCATION_LEN			2048

StaticAssertDecl(sizeof(((GcHttpAttempt *) NULL)->error) >= CURL_ERROR_SIZE,
				 "GcHttpAttempt.error holds a libcurl error buffer");

/*
 * What one transfer received, written only by the libcurl callbacks.  The
 * body buffer (bodies.c) is reused by the slot.
 */
typedef struct GcTransfer
{
	GcBody		body;
	char		correlation_id[GC_HEADER_VALUE_LEN];
	char		retry_after[GC_HEADER_VALUE_LEN];
	char		content_type[GC_HEADER_VALUE_LEN];
	char		location[GC_LOCATION_LEN];
	GcRateLimitHeaders ratelimit;
	char		curl_error[CURL_ERROR_SIZE];
} GcTransfer;

/*
 * One easy handle per request in flight, all in one multi handle whose
 * connection pool serves every slot.  A scan keeps up to GC_MAX_CONCURRENCY
 * pages in flight (gc_http_send) until it collects them or gives them up
 * (also from its memory context's reset callback, so an error leaves no
 * transfer behind); two more slots serve a token request and a page
 * waited for meanwhile.
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
	const void *owner;			/* who sent it ahead, or NULL */
	const char *method;			/* of the request, for log lines */
	const char *path;
	bool		client_credentials; /* the handle holds the client secret */
	uint32		rate_group;		/* of the request (GcHttpRequest) */
	CURLcode	rc;				/* when DONE */
	long		status;
	double		total_secs;
	TimestampTz ended_at;
} GcSlot;

/* A request sent ahead: which slot, and which use of it */
struct GcHttpSent
{
	int			slot;
	uint64		seq;
};

#define GC_SLOTS (GC_MAX_CONCURRENCY + 2)

static CURLM *gc_multi = NULL;
static GcSlot gc_slots[GC_SLOTS];
static uint64 gc_slot_seq = 0;

static bool gc_curl_initialized = false;

/*
 * gc_http_init
 *		Initialise libcurl and define the body budget's setting, once per
 *		process; called from _PG_init().
 */
void
gc_http_init(void)
{
	CURLcode	rc;

	if (gc_curl_initialized)
		return;
	gc_body_define_budget();
	rc = curl_global_init(CURL_GLOBAL_ALL);
	if (rc != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not initialise libcurl: %s",
						curl_easy_strerror(rc))));
	gc_curl_initialized = true;
}

/*
 * gc_write_callback
 *		libcurl body callback: append to the slot's body (bodies.c keeps it
 *		within the budget).  Returning less than offered fails the transfer;
 *		body.refused tells gc_outcome why.
 */
static size_t
gc_write_callback(char *data, size_t size, size_t nmemb, void *userdata)
{
	GcTransfer *xfer = (GcTransfer *) userdata;
	size_t		len = size * nmemb;

	return gc_body_append(&xfer->body, data, len) ? len : 0;
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
	xfer->location[0] = '\0';
	memset(&xfer->ratelimit, 0, sizeof(GcRateLimitHeaders));
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
			gc_header_value(line, len, "Location",
							xfer->location, sizeof(xfer->location)) ||
			gc_header_value(line, len, "inin-ratelimit-allowed",
							xfer->ratelimit.allowed, sizeof(xfer->ratelimit.allowed)) ||
			gc_header_value(line, len, "inin-ratelimit-count",
							xfer->ratelimit.count, sizeof(xfer->ratelimit.count)) ||
			gc_header_value(line, len, "inin-ratelimit-reset",
							xfer->ratelimit.reset, sizeof(xfer->ratelimit.reset)));
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
gc_slot_prepare(GcSlot *slot, const GcHttpRequest *req, const char *auth_line)
{
	const GcConnection *conn = req->conn;
	CURL	   *curl = slot->easy;
	GcTransfer *xfer = &slot->xfer;
	const char *body = req->body;
	const char *lines[4];
	int			n = 0;
	int			i;

	lines[n++] = "Accept: application/json";
	if (auth_line != NULL)
		lines[n++] = auth_line;
	if (req->client_credentials)
		lines[n++] = "Content-Type: application/x-www-form-urlencoded";
	else if (body != NULL)
		lines[n++] = "Content-Type: application/json";
	/* no "Expect: 100-continue" round trip for large bodies */
	lines[n++] = "Expect:";
	slot->headers = NULL;
	for (i = 0; i < n; i++)
	{
		struct curl_slist *grown = curl_slist_append(slot->headers, lines[i]);

		if (grown == NULL)
			return false;		/* the caller frees what was appended */
		slot->headers = grown;
	}

	gc_body_start(&xfer->body);
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
	if (req->client_credentials)
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
 * gc_slot_release
 *		Take slot's transfer out of the multi handle, wipe and free its
 *		header list (it may hold the bearer token), drop the client secret
 *		from the handle's options, and leave the slot in state (DONE:
 *		answer not collected; FREE).  What the transfer received stays for
 *		gc_slot_finish.
 */
static void
gc_slot_release(GcSlot *slot, GcSlotState state)
{
	if (slot->state == GC_SLOT_BUSY)
		curl_multi_remove_handle(gc_multi, slot->easy);
	if (slot->client_credentials)
		curl_easy_reset(slot->easy);
	gc_free_headers(slot->headers);
	slot->headers = NULL;
	slot->state = state;
	if (state == GC_SLOT_FREE)
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
 *		Prepare slot for req and add it to the multi handle; on failure the
 *		slot is free again and an error is raised.
 */
static void
gc_slot_start(GcSlot *slot, const GcHttpRequest *req)
{
	char	   *auth_line = NULL;
	bool		ok;

	if (req->bearer_token != NULL)
		auth_line = psprintf("Authorization: Bearer %s", req->bearer_token);
	ok = gc_slot_prepare(slot, req, auth_line);
	if (auth_line != NULL)
	{
		explicit_bzero(auth_line, strlen(auth_line));
		pfree(auth_line);
	}
	slot->method = req->method;
	slot->path = req->path;
	slot->client_credentials = req->client_credentials;
	slot->rate_group = req->rate_group;
	slot->rc = CURLE_OK;
	slot->status = 0;
	slot->total_secs = 0;
	slot->ended_at = 0;
	if (ok && curl_multi_add_handle(gc_multi, slot->easy) == CURLM_OK)
	{
		slot->state = GC_SLOT_BUSY;
		return;
	}
	gc_slot_release(slot, GC_SLOT_FREE);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
			 errmsg("out of memory while preparing a Genesys Cloud request")));
}

/*
 * gc_multi_step
 *		Let libcurl move every transfer on; the slots of those that ended
 *		become DONE.  False when libcurl failed; raises nothing.
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
		slot->ended_at = GetCurrentTimestamp();
		if (slot->rc == CURLE_OK)
		{
			curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &slot->status);
			curl_easy_getinfo(slot->easy, CURLINFO_TOTAL_TIME, &total);
			slot->total_secs = total;
		}
		gc_slot_release(slot, GC_SLOT_DONE);
	}
	return true;
}

/*
 * gc_multi_wait
 *		Drive every transfer until slot's has ended.  False on a pending
 *		cancel or terminate, or when libcurl failed (*failed).  Polls in
 *		slices of at most a second; signals end a poll at once.
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
 * gc_outcome
 *		What libcurl's result means to the retry policy.  DNS, TLS and URL
 *		problems are configuration errors: another attempt would fail alike.
 */
static GcHttpOutcome
gc_outcome(CURLcode rc, const GcTransfer *xfer)
{
	switch (rc)
	{
		case CURLE_OK:
			return GC_HTTP_ANSWERED;
		case CURLE_COULDNT_CONNECT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return GC_HTTP_NET_TRANSIENT;
		case CURLE_OPERATION_TIMEDOUT:
			return GC_HTTP_NET_TIMEOUT;
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
			return GC_HTTP_NET_UNTRUSTED;
		case CURLE_ABORTED_BY_CALLBACK:
			return GC_HTTP_CANCELLED;
		case CURLE_WRITE_ERROR:
			return (xfer->body.refused == GC_BODY_TOO_LARGE ||
					xfer->body.refused == GC_BODY_OVER_BUDGET) ? GC_HTTP_TOO_LARGE :
				xfer->body.refused == GC_BODY_NO_MEMORY ? GC_HTTP_NO_MEMORY :
				GC_HTTP_NET_PERMANENT;
		default:
			return GC_HTTP_NET_PERMANENT;
	}
}

/*
 * gc_http_date_secs
 *		Seconds from now until an HTTP-date (0 when it has passed), or -1
 *		when value is not one; libcurl's date parser reads every form.
 */
double
gc_http_date_secs(const char *value)
{
	time_t		when = curl_getdate(value, NULL);

	if (when == (time_t) -1)
		return -1;
	return Max(difftime(when, time(NULL)), 0.0);
}

/*
 * gc_slot_finish
 *		Turn slot's ended transfer into att (body palloc'd in the current
 *		memory context, headers copied out) and free the slot.  Raises
 *		nothing: an answer that cannot be stored is reported in att.
 */
static void
gc_slot_finish(GcSlot *slot, GcHttpAttempt *att)
{
	GcTransfer *xfer = &slot->xfer;
	GcHttpResponse *resp = &att->resp;
	bool		secret_answer = slot->client_credentials;

	memset(att, 0, sizeof(GcHttpAttempt));
	att->outcome = gc_outcome(slot->rc, xfer);
	att->answered_at = slot->ended_at;
	resp->status = slot->status;
	resp->elapsed_secs = slot->total_secs;
	/* free first: whatever the caller raises, the slot is not lost */
	gc_slot_release(slot, GC_SLOT_FREE);

	if (att->outcome != GC_HTTP_ANSWERED)
	{
		strlcpy(att->error, xfer->curl_error[0] ? xfer->curl_error :
				curl_easy_strerror(slot->rc), sizeof(att->error));
		att->over_budget = (xfer->body.refused == GC_BODY_OVER_BUDGET);
		att->received = xfer->body.len;
		att->in_flight = xfer->body.in_flight;
		gc_body_release(&xfer->body, secret_answer);
		return;
	}

	resp->body_len = xfer->body.len;
	resp->body = palloc_extended(xfer->body.len + 1, MCXT_ALLOC_NO_OOM);
	if (resp->body != NULL && xfer->body.len > 0)
		memcpy(resp->body, xfer->body.data, xfer->body.len);
	/* the token endpoint's answer is a secret: leave no copy behind */
	gc_body_release(&xfer->body, secret_answer);
	if (resp->body == NULL)
	{
		memset(resp, 0, sizeof(GcHttpResponse));
		att->outcome = GC_HTTP_NO_MEMORY;
		return;
	}
	resp->body[resp->body_len] = '\0';
	if (xfer->content_type[0] != '\0')
		resp->content_type = pstrdup(xfer->content_type);
	if (xfer->correlation_id[0] != '\0')
		resp->correlation_id = pstrdup(xfer->correlation_id);
	if (xfer->location[0] != '\0' && resp->status >= 300 && resp->status < 400)
		resp->location = pstrdup(xfer->location);
	strlcpy(att->retry_after, xfer->retry_after, sizeof(att->retry_after));
	att->ratelimit = xfer->ratelimit;
}

/*
 * gc_slot_wait
 *		Wait for slot's transfer (the others move on meanwhile) and report
 *		it in att.  A cancel or terminate gives it up with every other
 *		request of its owner; a failing libcurl raises.
 */
static void
gc_slot_wait(GcSlot *slot, GcHttpAttempt *att)
{
	const void *owner = slot->owner;
	bool		failed = false;

	if (slot->state == GC_SLOT_BUSY && !gc_multi_wait(slot, &failed))
	{
		if (failed)
		{
			const char *method = slot->method;
			const char *path = slot->path;

			gc_slot_release(slot, GC_SLOT_FREE);
			gc_body_release(&slot->xfer.body, slot->client_credentials);
			gc_http_abandon(owner);
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("libcurl failed while sending %s %s", method, path)));
		}
		/* reported as if libcurl's progress callback had aborted it */
		slot->rc = CURLE_ABORTED_BY_CALLBACK;
		gc_slot_finish(slot, att);
		gc_http_abandon(owner);
		return;
	}
	gc_slot_finish(slot, att);
}

/*
 * gc_http_perform
 *		One attempt of req, waited for (transfers sent ahead by scans move
 *		on meanwhile); see GcHttpAttempt for what att reports.
 */
void
gc_http_perform(const GcHttpRequest *req, GcHttpAttempt *att)
{
	GcSlot	   *slot = gc_slot_acquire();

	gc_slot_start(slot, req);
	gc_slot_wait(slot, att);
}

/*
 * gc_http_can_send_ahead
 *		Whether a request may be sent ahead now.  Scans of one query (a
 *		join, a UNION) share the slots: two stay free for requests waited
 *		for at once (a page alone, a token).
 */
bool
gc_http_can_send_ahead(void)
{
	int			free_slots = 0;
	int			i;

	for (i = 0; i < GC_SLOTS; i++)
		if (gc_slots[i].state == GC_SLOT_FREE)
			free_slots++;
	return free_slots > 2;
}

/*
 * gc_http_send
 *		Start req and return without waiting; owner collects it or gives it
 *		up later.  The handle is palloc'd in the current memory context.
 */
GcHttpSent *
gc_http_send(const GcHttpRequest *req, const void *owner)
{
	GcHttpSent *sent = palloc(sizeof(GcHttpSent));
	GcSlot	   *slot = gc_slot_acquire();

	gc_slot_start(slot, req);
	slot->owner = owner;
	(void) gc_multi_step();		/* on its way now */
	sent->slot = (int) (slot - gc_slots);
	sent->seq = slot->seq;
	return sent;
}

/*
 * gc_http_collect
 *		Wait for a request gc_http_send started and report it in att, its
 *		body palloc'd in the current memory context.  A cancel gives up all
 *		of the owner's requests.
 */
void
gc_http_collect(GcHttpSent *sent, GcHttpAttempt *att)
{
	if (sent->slot < 0 || sent->slot >= GC_SLOTS ||
		gc_slots[sent->slot].seq != sent->seq ||
		gc_slots[sent->slot].state == GC_SLOT_FREE)
		elog(ERROR, "gc_fdw: a request sent ahead was lost");
	gc_slot_wait(&gc_slots[sent->slot], att);
}

/*
 * gc_http_abandon
 *		Give up every request owner sent and has not collected.  Safe from
 *		memory context callbacks during abort (raises nothing).
 */
void
gc_http_abandon(const void *owner)
{
	int			i;

	for (i = 0; i < GC_SLOTS; i++)
		if (gc_slots[i].state != GC_SLOT_FREE && gc_slots[i].owner == owner &&
			owner != NULL)
		{
			gc_slot_release(&gc_slots[i], GC_SLOT_FREE);
			gc_body_release(&gc_slots[i].xfer.body, gc_slots[i].client_credentials);
		}
}

/*
 * gc_http_uncollected_429
 *		After letting libcurl move every transfer on (without waiting): the
 *		429 answers that arrived for requests of rate_group sent and not
 *		collected yet, at most max_held of them in held.  Returns how many.
 *		Raises nothing.
 */
int
gc_http_uncollected_429(uint32 rate_group, GcHttpHeld *held, int max_held)
{
	int			n = 0;
	int			i;

	if (gc_multi == NULL || rate_group == 0)
		return 0;
	(void) gc_multi_step();
	for (i = 0; i < GC_SLOTS && n < max_held; i++)
	{
		GcSlot	   *slot = &gc_slots[i];

		if (slot->state != GC_SLOT_DONE || slot->rate_group != rate_group ||
			slot->rc != CURLE_OK || slot->status != 429)
			continue;
		held[n].answered_at = slot->ended_at;
		strlcpy(held[n].retry_after, slot->xfer.retry_after,
				sizeof(held[n].retry_after));
		n++;
	}
	return n;
}

/*
 * gc_http_delete_quietly
 *		DELETE url with a bearer token from a transaction abort callback: no
 *		retry, no error raised, not interruptible (the abort consumed the
 *		cancel; a terminating backend still deletes its jobs), so bounded by
 *		short timeouts.  A slot of its own, outside the multi handle.
 *		Returns whether the API answered 2xx.
 */
bool
gc_http_delete_quietly(const char *url, const char *token, const char *ca_file)
{
	static GcSlot quiet;
	GcConnection conn;
	GcHttpRequest req;
	char		auth[GC_HEADER_VALUE_LEN * 4];
	bool		ok;
	long		status = 0;
	CURLcode	rc = CURLE_FAILED_INIT;

	if (quiet.easy == NULL && (quiet.easy = curl_easy_init()) == NULL)
		return false;
	if (snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token) >= (int) sizeof(auth))
		return false;
	memset(&conn, 0, sizeof(conn));
	conn.opts.ca_file = unconstify(char *, ca_file);
	conn.opts.connect_timeout = 2;
	conn.opts.request_timeout = 5;
	memset(&req, 0, sizeof(req));
	req.method = "DELETE";
	req.url = url;
	req.conn = &conn;
	ok = gc_slot_prepare(&quiet, &req, auth);
	explicit_bzero(auth, sizeof(auth));
	if (ok)
	{
		curl_easy_setopt(quiet.easy, CURLOPT_NOPROGRESS, 1L);
		rc = curl_easy_perform(quiet.easy);
		if (rc == CURLE_OK)
			curl_easy_getinfo(quiet.easy, CURLINFO_RESPONSE_CODE, &status);
	}
	curl_easy_reset(quiet.easy);
	gc_free_headers(quiet.headers);
	quiet.headers = NULL;
	gc_body_release(&quiet.xfer.body, false);
	elog(DEBUG1, "gc_fdw: DELETE of an unfinished analytics job -> %s, HTTP %ld",
		 rc == CURLE_OK ? "sent" : curl_easy_strerror(rc), status);
	return rc == CURLE_OK && status >= 200 && status < 300;
}
