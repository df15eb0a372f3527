/*-------------------------------------------------------------------------
 *
 * gc_http.h
 *		  The request layers' declarations: the libcurl transport (http.c),
 *		  response bodies and their budget (bodies.c), the retry rules
 *		  (retry.c), the secrets never printed (redact.c), the token cache
 *		  (auth.c) and authenticated API calls (api.c).
 *
 * Included by gc_fdw.h, after the options and connection types these
 * layers take; include gc_fdw.h, not this file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GC_HTTP_H
#define GC_HTTP_H

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
 * What reads a request's 2xx answers for the retry rules.  whole() reads
 * the body (keeping what it made for its owner) and says whether it is
 * whole: false when it ends before its JSON document does, which is retried
 * like a 5xx.  A request without a reader gets gc_body_ends_early, a framing
 * pass over the body; a caller that parses every body anyway (a scan's
 * pages) passes a reader instead, so that a whole page is read once, and
 * only a page that fails to parse pays for the framing check.
 */
typedef struct GcBodyReader GcBodyReader;
struct GcBodyReader
{
	bool		(*whole) (GcBodyReader *reader, const GcHttpResponse *resp);
};

/* A 2xx body that is blank, or stops while a bracket or string is open */
extern bool gc_body_ends_early(const GcHttpResponse *resp);

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
	GcBodyReader *reader;		/* reads 2xx bodies, or NULL */
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
 * return_status (0: none) instead of reporting it, and has reader (or
 * NULL) read each 2xx body (see GcBodyReader).
 */
extern void gc_api_call(GcConnection *conn, const char *method,
						const char *path_query, const char *json_body,
						GcScanStats *stats, GcHttpResponse *resp);
extern void gc_api_call_ex(GcConnection *conn, const char *method,
						   const char *path_query, const char *json_body,
						   GcScanStats *stats, GcHttpResponse *resp,
						   long return_status, GcBodyReader *reader);

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
						   GcHttpResponse *resp, long return_status,
						   GcBodyReader *reader);
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

#endif							/* GC_HTTP_H */
