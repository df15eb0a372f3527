/*-------------------------------------------------------------------------
 *
 * retry.c
 *		  The retry rules of gc_fdw's exchanges with Genesys Cloud, shared by
 *		  API calls (api.c) and the token exchange (auth.c), and the text
 *		  helpers their messages are built with.
 *
 * Owns: one attempt with its progress and statistics (gc_retry_attempt);
 * which outcomes are tried again and how long to wait first
 * (gc_retry_again: a 429 as Retry-After says, else with backoff; a 5xx
 * other than 501, a transient network failure and a 2xx whose JSON body
 * ends early with exponential backoff and equal jitter; within max_retries
 * and max_retry_after); the wording and SQLSTATE of the errors these rules
 * end in, and of an attempt that brought no usable answer (cancel, body too
 * large, out of memory); interruptible sleep; the text helpers every piece
 * of remote text passes through on its way to a message or a log line
 * (gc_one_line, which redacts secrets first: see redact.c;
 * gc_describe_answer and gc_describe_response, gc_describe_location,
 * gc_append_correlation) and the JSON string helpers.
 *
 * Every exchange gc_fdw has with Genesys Cloud answers a JSON document, so
 * a 2xx answer (but 204) whose body is empty, or stops while a bracket or
 * a string is still open, is a transient failure: a server or a proxy cut
 * it short, and the same request answers whole another time.  The
 * request's reader (GcBodyReader: a scan parses its pages there) says
 * whether a body is whole; without one, a framing check does
 * (gc_body_ends_early), not parsing: a body that is not JSON at all, holds
 * bytes JSON never holds, or is complete and malformed goes on to the
 * parser, which reports where.
 *
 * Layering: api.c -> auth.c -> retry.c -> http.c, and api.c -> retry.c.
 * This file calls the transport (http.c), stats.c and progress.c, never
 * auth.c or api.c.  What belongs to one host stays with its caller: the 401
 * rules, pacing and the wording of API refusals in api.c, the token
 * endpoint's refusals in auth.c.  The loop itself is the caller's: a few
 * lines that get a token (api.c) or not (auth.c) before each attempt.
 *
 * Must not: put a token, the client secret or an Authorization header in
 * any message (a token endpoint answer other than 429/5xx never reaches
 * the wording here: auth.c reports it; a 2xx token answer is never
 * quoted); quote remote text but through gc_one_line; block
 * uninterruptibly.
 *
 * SQLSTATEs raised here:
 *	  transport failure (DNS, connect, TLS, timeout)	FDW_UNABLE_TO_ESTABLISH_CONNECTION
 *	  429 or 5xx after the retries, Retry-After too long	FDW_ERROR
 *	  2xx bodies that end early after the retries		FDW_REPLY_HANDLE
 *	  a body above GC_HTTP_MAX_BODY, or bodies in flight above
 *	  gc_fdw.max_response_memory						PROGRAM_LIMIT_EXCEEDED
 *	  response body that cannot be stored				FDW_OUT_OF_MEMORY
 *	  cancel seen by the transport, not thrown by CHECK_FOR_INTERRUPTS()	QUERY_CANCELED
 *
 * Statistics: every exchange counts in stats->requests (API host) or
 * stats->token_requests (token endpoint) and in gc_fdw.stats(); every
 * retry after a 429, a 5xx, a network failure or a body that ended early
 * counts in stats->retries, and its sleep in wait_429_secs (with
 * waits_429) or backoff_secs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <json.h>

#include "common/pg_prng.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "gc_fdw.h"

#define GC_BACKOFF_FIRST_SECS	1.0
#define GC_BACKOFF_5XX_CAP_SECS 30.0
#define GC_BACKOFF_429_CAP_SECS 60.0

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
 * gc_one_line
 *		palloc'd copy of at most max_len bytes of remote text, on one line:
 *		every secret this backend knows replaced by GC_REDACTED, control
 *		characters become spaces, runs of spaces collapse, and bytes that
 *		are not valid in a UTF-8 database become '?'.  Gateways and the
 *		login host send HTML pages in any encoding.
 */
char *
gc_one_line(const char *text, size_t len, size_t max_len)
{
	bool		keep_high = (GetDatabaseEncoding() == PG_UTF8);
	size_t		window = Min(len, max_len + gc_redact_longest());
	bool		truncated = (window < len);
	size_t		clean_len;
	char	   *clean;
	char	   *out;
	size_t		n = 0;
	size_t		i;

	/*
	 * Redact before cutting, over enough text that a secret starting within
	 * the first max_len bytes is seen whole: no secret is shown in part.
	 */
	clean = gc_redact(text, window, &clean_len);
	if (clean_len > max_len)
	{
		clean_len = keep_high ?
			(size_t) pg_mbcliplen(clean, (int) clean_len, (int) max_len) : max_len;
		truncated = true;
	}
	if (keep_high && !pg_verifymbstr(clean, (int) clean_len, true))
		keep_high = false;

	out = palloc(clean_len + 4);
	for (i = 0; i < clean_len; i++)
	{
		unsigned char c = (unsigned char) clean[i];

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
	pfree(clean);
	return out;
}

/*
 * gc_json_string_field
 *		Copy the string member key of the JSON object obj into dst
 *		(truncated to dst_size); empty when it is absent or not a string.
 */
void
gc_json_string_field(struct json_object *obj, const char *key,
					 char *dst, size_t dst_size)
{
	struct json_object *field;

	dst[0] = '\0';
	if (json_object_object_get_ex(obj, key, &field) &&
		json_object_is_type(field, json_type_string))
		strlcpy(dst, json_object_get_string(field), dst_size);
}

/*
 * gc_json_string_member
 *		The string member key of the JSON object obj, whole (it lives as
 *		long as obj), or NULL when it is absent, empty or not a string.
 *		Messages quote it through gc_one_line, which redacts before it cuts:
 *		a copy cut short first could show part of a secret.
 */
const char *
gc_json_string_member(struct json_object *obj, const char *key)
{
	struct json_object *field;

	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
		!json_object_object_get_ex(obj, key, &field) ||
		!json_object_is_type(field, json_type_string) ||
		json_object_get_string_len(field) == 0)
		return NULL;
	return json_object_get_string(field);
}

/*
 * gc_append_correlation
 *		", correlation id X" from the ININ-Correlation-Id header, else from
 *		the body's contextId when given, else ", no correlation id".  Both
 *		are remote text: they go through gc_one_line.
 */
void
gc_append_correlation(StringInfo buf, const GcHttpResponse *resp,
					  const char *context_id)
{
	const char *id = resp->correlation_id ? resp->correlation_id : context_id;

	if (id != NULL && id[0] != '\0')
		appendStringInfo(buf, ", correlation id %s",
						 gc_one_line(id, strlen(id), GC_CORRELATION_LEN));
	else
		appendStringInfoString(buf, ", no correlation id");
}

/*
 * gc_describe_location
 *		A 3xx answer's Location header for a message: scheme, host and path
 *		only (user information, query string and fragment are dropped, as
 *		they can carry credentials), on one line, secrets redacted, cut at
 *		GC_SNIPPET_LEN bytes.
 */
char *
gc_describe_location(const char *location)
{
	StringInfoData kept;
	const char *rest = location;
	const char *scheme_end = strstr(location, "://");
	size_t		path_len;

	initStringInfo(&kept);
	if (scheme_end != NULL && strcspn(location, "/?#") > (size_t) (scheme_end - location))
	{
		const char *host = scheme_end + 3;
		const char *host_end = host + strcspn(host, "/?#");
		const char *at;

		appendBinaryStringInfo(&kept, location, (int) (host - location));
		/* user:password@ before the host is dropped */
		for (at = host_end; at > host && at[-1] != '@'; at--)
			;
		host = (at > host) ? at : host;
		appendBinaryStringInfo(&kept, host, (int) (host_end - host));
		rest = host_end;
	}
	path_len = strcspn(rest, "?#");
	appendBinaryStringInfo(&kept, rest, (int) path_len);
	if (rest[path_len] != '\0')
		appendStringInfoString(&kept, " (query string not shown)");
	return gc_one_line(kept.data, (size_t) kept.len, GC_SNIPPET_LEN);
}

/*
 * gc_describe_answer
 *		errdetail text for an answer the caller has read code and message
 *		from (either may be NULL; code_label names what the code is):
 *		status, the Location of a 3xx, code and message, else the start of
 *		the body (not for a 3xx: its page repeats the Location, query string
 *		included), and the correlation id (context_id when the header is
 *		missing).  Every remote piece goes through gc_one_line.
 */
char *
gc_describe_answer(const GcHttpResponse *resp, const char *code_label,
				   const char *code, const char *message, size_t message_len,
				   const char *context_id)
{
	StringInfoData detail;

	initStringInfo(&detail);
	appendStringInfo(&detail, "HTTP status %ld", resp->status);
	if (resp->location != NULL)
		appendStringInfo(&detail, ", Location \"%s\"",
						 gc_describe_location(resp->location));
	if (code != NULL)
		appendStringInfo(&detail, ", %s \"%s\"", code_label,
						 gc_one_line(code, strlen(code), GC_CODE_LEN));
	if (message != NULL)
		appendStringInfo(&detail, ": %s",
						 gc_one_line(message, strlen(message), message_len));
	if (code == NULL && message == NULL && resp->body_len > 0 &&
		!(resp->status >= 300 && resp->status < 400))
		appendStringInfo(&detail, ", response body begins \"%s\"",
						 gc_one_line(resp->body, resp->body_len, GC_SNIPPET_LEN));
	gc_append_correlation(&detail, resp, context_id);
	return detail.data;
}

/*
 * gc_describe_response
 *		errdetail text for an API answer: gc_describe_answer with the
 *		Genesys code and message when the body is a platform error.
 */
char *
gc_describe_response(const GcHttpResponse *resp)
{
	struct json_object *root = NULL;
	char	   *detail;

	if (resp->body_len > 0 && resp->body_len < 1024 * 1024)
		root = json_tokener_parse(resp->body);
	detail = gc_describe_answer(resp, "Genesys code",
								gc_json_string_member(root, "code"),
								gc_json_string_member(root, "message"),
								GC_MESSAGE_LEN,
								gc_json_string_member(root, "contextId"));
	if (root != NULL)
		json_object_put(root);
	return detail;
}

/*
 * gc_response_free
 *		Release what an attempt palloc'd in resp, and clear it; wipe the
 *		body first when it may hold a token (a token answer cut short).
 */
static void
gc_response_free(GcHttpResponse *resp, bool wipe)
{
	if (resp->body != NULL)
	{
		if (wipe)
			explicit_bzero(resp->body, resp->body_len);
		pfree(resp->body);
	}
	if (resp->content_type != NULL)
		pfree(resp->content_type);
	if (resp->correlation_id != NULL)
		pfree(resp->correlation_id);
	if (resp->location != NULL)
		pfree(resp->location);
	memset(resp, 0, sizeof(GcHttpResponse));
}

/*
 * gc_format_size
 *		"12.5 MB", "300 kB": a byte count for a message.
 */
static char *
gc_format_size(size_t bytes)
{
	if (bytes >= (size_t) 10 * 1024 * 1024)
		return psprintf("%zu MB", bytes / (1024 * 1024));
	if (bytes >= (size_t) 1024 * 1024)
		return psprintf("%.1f MB", bytes / (1024.0 * 1024.0));
	return psprintf("%zu kB", (bytes + 1023) / 1024);
}

/*
 * gc_header_number
 *		A numeric header value as sent, or "?" when it is anything else: a
 *		log line never quotes a header that could hold other text.
 */
static const char *
gc_header_number(const char *value)
{
	return (value[0] != '\0' && strspn(value, "0123456789.") == strlen(value)) ?
		value : "?";
}

/*
 * gc_report_too_large
 *		ereport an answer the transport stopped receiving: past
 *		gc_fdw.max_response_memory (all bodies in flight) or past
 *		GC_HTTP_MAX_BODY (this one).
 */
static void
pg_attribute_noreturn()
gc_report_too_large(const GcRetry *retry, const GcHttpAttempt *att)
{
	if (att->over_budget)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s responses in flight passed gc_fdw.max_response_memory: %s %s",
						retry->service, retry->method, retry->path),
				 errdetail("The response bodies this backend was receiving reached %s (%s of them for this request); gc_fdw.max_response_memory is %s.",
						   gc_format_size(att->in_flight),
						   gc_format_size(att->received),
						   gc_format_size((size_t) gc_max_response_memory_kb * 1024)),
				 errhint("A superuser can raise gc_fdw.max_response_memory (SET, or ALTER ROLE or ALTER DATABASE ... SET), and a lower concurrency option of the foreign table or server \"%s\" has fewer responses arrive at once. No page of Genesys Cloud comes near that size: a response that grows without end comes from a proxy or a misbehaving host.",
						 retry->conn->server_name)));
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("%s response too large: %s %s",
					retry->service, retry->method, retry->path),
			 errdetail("One response body may take at most %s; %s had arrived.",
					   gc_format_size(GC_HTTP_MAX_BODY),
					   gc_format_size(att->received)),
			 errhint("No page of Genesys Cloud comes near that size: check that the environment, api_url and login_url options of server \"%s\" name Genesys Cloud; a proxy, or a compressed body that inflates without end, sends such responses.",
					 retry->conn->server_name)));
}

/*
 * gc_retry_begin
 *		Set retry up for req, sent to service (named by server option
 *		url_option); statistics go to stats, or nowhere when it is NULL.
 */
void
gc_retry_begin(GcRetry *retry, GcConnection *conn, const GcHttpRequest *req,
			   const char *service, const char *url_option, GcScanStats *stats)
{
	memset(retry, 0, sizeof(GcRetry));
	retry->conn = conn;
	retry->service = service;
	retry->url_option = url_option;
	retry->method = req->method;
	retry->path = req->path;
	retry->url = req->url;
	retry->endpoint = gc_stats_endpoint(req->method, req->path);
	retry->stats = (stats != NULL) ? stats : &retry->scratch;
	retry->exchanges = req->client_credentials ?
		&retry->stats->token_requests : &retry->stats->requests;
	retry->secret_answers = req->client_credentials;
}

/*
 * gc_retry_received
 *		Raise when att brought no answer to act on (a cancel, a body too
 *		large or out of memory), else log it and count it against its
 *		endpoint.
 */
void
gc_retry_received(GcRetry *retry, const GcHttpAttempt *att)
{
	switch (att->outcome)
	{
		case GC_HTTP_CANCELLED:
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("canceling Genesys Cloud request %s %s",
							retry->method, retry->path)));
			break;
		case GC_HTTP_TOO_LARGE:
			gc_report_too_large(retry, att);
			break;
		case GC_HTTP_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("out of memory while receiving %s %s",
							retry->method, retry->path)));
			break;
		default:
			break;
	}
	if (att->outcome != GC_HTTP_ANSWERED)
		elog(DEBUG1, "gc_fdw: %s %s failed: %s", retry->method, retry->path,
			 gc_one_line(att->error, strlen(att->error), sizeof(att->error)));
	else if (message_level_is_interesting(DEBUG1))
	{
		const GcHttpResponse *resp = &att->resp;
		const GcRateLimitHeaders *rl = &att->ratelimit;
		StringInfoData line;

		initStringInfo(&line);
		gc_append_correlation(&line, resp, NULL);
		elog(DEBUG1, "gc_fdw: %s %s -> HTTP %ld, %zu bytes in %.3f s%s",
			 retry->method, retry->path, resp->status, resp->body_len,
			 resp->elapsed_secs, line.data);
		pfree(line.data);
		if (rl->allowed[0] != '\0')
			elog(DEBUG2, "gc_fdw: rate limit: %s of %s requests used, window resets in %s s",
				 gc_header_number(rl->count), gc_header_number(rl->allowed),
				 gc_header_number(rl->reset));
	}
	gc_stats_exchange(retry->endpoint,
					  att->outcome == GC_HTTP_ANSWERED ? att->resp.status : 0,
					  att->resp.body_len);
}

/*
 * gc_retry_attempt
 *		One attempt of req, shown in the progress view while it runs and
 *		counted; what the previous attempt left in att is freed first.
 */
void
gc_retry_attempt(GcRetry *retry, const GcHttpRequest *req, GcHttpAttempt *att)
{
	gc_response_free(&att->resp, retry->secret_answers);
	gc_progress_waiting(psprintf("HTTP %s %s", retry->method, retry->path),
						retry->conn->opts.request_timeout);
	gc_http_perform(req, att);
	gc_progress_waiting_done();
	gc_retry_received(retry, att);
	(*retry->exchanges)++;
}

/*
 * gc_transient_failure
 *		Is this network failure worth another attempt?  DNS, TLS and URL
 *		problems are configuration errors and reported at once.
 */
static bool
gc_transient_failure(GcHttpOutcome outcome)
{
	return outcome == GC_HTTP_NET_TRANSIENT || outcome == GC_HTTP_NET_TIMEOUT;
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
 * gc_report_transport_error
 *		ereport a failure to exchange anything with the host.
 */
static void
pg_attribute_noreturn()
gc_report_transport_error(const GcRetry *retry, const GcHttpAttempt *att)
{
	bool		timed_out = (att->outcome == GC_HTTP_NET_TIMEOUT);
	const char *server = retry->conn->server_name;
	int			attempts = retry->retries + 1;
	char	   *error = gc_one_line(att->error, strlen(att->error), sizeof(att->error));

	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
			 timed_out ?
			 errmsg("%s request timed out: %s %s",
					retry->service, retry->method, retry->path) :
			 errmsg("could not reach %s: %s %s",
					retry->service, retry->method, retry->path),
			 attempts > 1 ?
			 errdetail("Gave up after %d attempt(s): %s (URL %s).",
					   attempts, error, retry->url) :
			 errdetail("%s (URL %s).", error, retry->url),
			 timed_out ?
			 errhint("Raise the request_timeout or connect_timeout option of server \"%s\", or use a smaller page_size.",
					 server) :
			 att->outcome == GC_HTTP_NET_UNTRUSTED ?
			 errhint("The host's TLS certificate is not trusted: for a private CA, set the ca_file option of server \"%s\" to its PEM file.",
					 server) :
			 errhint("Check the environment and %s options of server \"%s\", and that this database server can open HTTPS connections to that host (DNS, proxy, firewall).",
					 retry->url_option, server)));
}

/*
 * gc_body_ends_early
 *		Whether a 2xx body stops before its JSON document does: empty or
 *		blank, or a document opened with '{' or '[' whose brackets or last
 *		string are still open at the end of the body.
 *
 * One pass over the bytes, following strings (memchr to each closing quote)
 * and brackets only; nothing is parsed, yet it costs about a quarter of
 * what parsing the page does (0.3 ms for a details page of 380 kB), which
 * is why a scan parses its pages first and asks this only of a page that
 * failed to parse.  A body that is not JSON at all, holds a byte JSON text
 * never holds (a NUL, another control character between tokens: it was
 * rewritten, not cut), or closes its document before the end goes on to
 * the parser, which says what is wrong and where.  Looking at the last
 * byte alone would not do: a cut just after an inner '}' ends in '}' too.
 */
bool
gc_body_ends_early(const GcHttpResponse *resp)
{
	const char *body = resp->body;
	size_t		len = resp->body_len;
	size_t		i = 0;
	int64		depth = 0;

	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' ||
					   body[i] == '\r'))
		i++;
	if (i == len)
		return true;
	if ((body[i] != '{' && body[i] != '[') || memchr(body, '\0', len) != NULL)
		return false;
	while (i < len)
	{
		unsigned char c = (unsigned char) body[i++];

		if (c == '"')
		{
			/* to the closing quote: one after an even run of backslashes */
			for (;;)
			{
				const char *quote = memchr(body + i, '"', len - i);
				size_t		at;
				size_t		escapes = 0;

				if (quote == NULL)
					return true;
				at = (size_t) (quote - body);
				i = at + 1;
				while (escapes < at && body[at - escapes - 1] == '\\')
					escapes++;
				if (escapes % 2 == 0)
					break;
			}
		}
		else if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
		{
			if (--depth == 0)
				return false;	/* closed: whole, or junk after it */
		}
		else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return false;
	}
	return true;
}

/*
 * gc_retry_after_secs
 *		Seconds a Retry-After value asks for (delta-seconds or HTTP-date),
 *		or -1 when absent or unreadable.  Delta-seconds of any length count:
 *		a number too large for an integer asks for a wait longer than any
 *		max_retry_after, which is not the same as asking for none.
 */
double
gc_retry_after_secs(const char *value)
{
	size_t		digits = strspn(value, "0123456789");

	if (value[0] == '\0')
		return -1;
	if (digits > 0 && value[digits] == '\0')
		return strtod(value, NULL);
	return gc_http_date_secs(value);
}

/*
 * gc_retry_after_text
 *		How long a Retry-After value asked to wait, for a message: the
 *		digits as sent (a double would print 10^20 for 99999999999999999999),
 *		else the seconds an HTTP-date is away.
 */
static char *
gc_retry_after_text(const char *value, double secs)
{
	if (value[0] != '\0' && strspn(value, "0123456789") == strlen(value))
		return pstrdup(value);
	return psprintf("%.0f", secs);
}

/*
 * gc_retry_delay
 *		Seconds to wait before trying att's request again, or -1 when its
 *		outcome is not retried (a 2xx, a 4xx other than 429, a 501).
 *		Raises when the retries or max_retry_after say to give up.
 */
static double
gc_retry_delay(GcRetry *retry, const GcHttpAttempt *att)
{
	GcConnection *conn = retry->conn;
	const GcHttpResponse *resp = &att->resp;
	int			max_retries = conn->opts.max_retries;
	double		asked;

	if (att->outcome != GC_HTTP_ANSWERED)
	{
		if (!gc_transient_failure(att->outcome) || retry->retries >= max_retries)
			gc_report_transport_error(retry, att);
		return gc_backoff_secs(retry->backoff_step++, GC_BACKOFF_5XX_CAP_SECS);
	}
	if (resp->status >= 200 && resp->status < 300 && resp->status != 204)
	{
		if (retry->reader ? retry->reader->whole(retry->reader, resp) :
			!gc_body_ends_early(resp))
			return -1;
		if (retry->retries >= max_retries)
		{
			StringInfoData detail;

			/* never the body: a token answer cut short holds a token */
			initStringInfo(&detail);
			appendStringInfo(&detail, "Gave up after %d attempt(s); last answer: HTTP status %ld, a body of %zu bytes that ends before its JSON document does",
							 retry->retries + 1, resp->status, resp->body_len);
			gc_append_correlation(&detail, resp, NULL);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_REPLY_HANDLE),
					 errmsg("%s request failed: %s %s",
							retry->service, retry->method, retry->path),
					 errdetail("%s.", detail.data),
					 errhint("Genesys Cloud, or a proxy or load balancer in front of it, cut its answers short; retry later or raise the max_retries option of server \"%s\".",
							 conn->server_name)));
		}
		return gc_backoff_secs(retry->backoff_step++, GC_BACKOFF_5XX_CAP_SECS);
	}
	if (resp->status >= 500 && resp->status != 501)
	{
		if (retry->retries >= max_retries)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("%s request failed: %s %s",
							retry->service, retry->method, retry->path),
					 errdetail("Gave up after %d attempt(s); last answer: %s.",
							   retry->retries + 1, gc_describe_response(resp)),
					 errhint("Genesys Cloud or a gateway in front of it is failing; retry later or raise the max_retries option of server \"%s\".",
							 conn->server_name)));
		return gc_backoff_secs(retry->backoff_step++, GC_BACKOFF_5XX_CAP_SECS);
	}
	if (resp->status != 429)
		return -1;

	asked = gc_retry_after_secs(att->retry_after);
	if (asked > conn->opts.max_retry_after)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("%s request was rate limited: %s %s",
						retry->service, retry->method, retry->path),
				 errdetail("Genesys Cloud asked to wait %s seconds before retrying, more than max_retry_after (%d seconds); %s.",
						   gc_retry_after_text(att->retry_after, asked),
						   conn->opts.max_retry_after,
						   gc_describe_response(resp)),
				 errhint("Retry later, or raise the max_retry_after option of server \"%s\".",
						 conn->server_name)));
	if (retry->retries >= max_retries)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("%s request was rate limited: %s %s",
						retry->service, retry->method, retry->path),
				 errdetail("Gave up after %d attempt(s) and %.0f seconds of waiting; last answer: %s.",
						   retry->retries + 1, retry->waited,
						   gc_describe_response(resp)),
				 errhint("Raise the max_retries option of server \"%s\", run fewer concurrent queries as OAuth client \"%s\", or ask Genesys to raise its rate limit.",
						 conn->server_name, conn->client_id)));
	/* an answer of 0 would retry at once: wait at least a second */
	return (asked >= 0) ? Max(asked, 1.0) :
		gc_backoff_secs(retry->step_429++, GC_BACKOFF_429_CAP_SECS);
}

/*
 * gc_retry_again
 *		After an attempt: when its outcome is retried (a 429, a 5xx other
 *		than 501, a transient network failure, a 2xx whose body ends
 *		early), count the retry, wait for it (interruptibly, shown in the
 *		progress view) and return true.  False for an answer the caller acts
 *		on; raises when the rules give up.
 */
bool
gc_retry_again(GcRetry *retry, const GcHttpAttempt *att)
{
	GcScanStats *stats = retry->stats;
	bool		network = (att->outcome != GC_HTTP_ANSWERED);
	long		status = att->resp.status;
	double		delay = gc_retry_delay(retry, att);

	if (delay < 0)
		return false;

	retry->retries++;
	retry->waited += delay;
	stats->retries++;
	if (!network && status == 429)
	{
		stats->waits_429++;
		stats->wait_429_secs += delay;
		gc_stats_rate_limited(retry->endpoint, delay);
	}
	else
	{
		stats->backoff_secs += delay;
		gc_stats_retry(retry->endpoint);
		/* the failed attempt may have been carried out all the same (a 2xx
		 * cut short surely was) */
		retry->uncertain = true;
	}
	elog(DEBUG1, "gc_fdw: retrying %s %s in %.1f s (retry %d of %d)",
		 retry->method, retry->path, delay, retry->retries,
		 retry->conn->opts.max_retries);
	gc_progress_waiting(network ?
						psprintf("backoff after a network failure: %s %s",
								 retry->method, retry->path) :
						status < 300 ?
						psprintf("backoff after an answer cut short: %s %s",
								 retry->method, retry->path) :
						psprintf("%s after HTTP %ld: %s %s",
								 status == 429 ? "Retry-After" : "backoff",
								 status, retry->method, retry->path),
						delay);
	gc_sleep_interruptible(delay);
	gc_progress_waiting_done();
	return true;
}

/*
 * gc_retry_failed
 *		From the caller's PG_CATCH: count the failed exchange against its
 *		endpoint and take the wait out of the progress view.
 */
void
gc_retry_failed(GcRetry *retry)
{
	gc_stats_error(retry->endpoint);
	gc_progress_waiting_done();
}
