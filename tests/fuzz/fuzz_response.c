/*-------------------------------------------------------------------------
 *
 * fuzz_response.c
 *		  libFuzzer target: the small JSON answers gc_fdw reads outside result
 *		  pages -- API error bodies, token endpoint answers and the async
 *		  jobs API's answers -- through the real src/http.c, src/auth.c and
 *		  src/jobs.c.
 *
 * Every input is one response body, fed to each reader in turn:
 *	  - gc_describe_response() (http.c) with an error status, in a UTF8 and
 *		in a SQL_ASCII database, with and without a correlation id header;
 *	  - gc_auth_get_token() (auth.c) with the body as a 200 token answer
 *		(gc_auth_store_token) and as a 401 (gc_auth_report_failure);
 *	  - gc_jobs_availability(), gc_job_submit() + gc_job_finish() and
 *		gc_job_wait() (jobs.c) with the body as the API's answer.
 *
 * The exchanges themselves are replaced at link time (ld --wrap) by the
 * fakes below: gc_http_token_request, gc_api_call, gc_api_call_ex and
 * gc_sleep_interruptible.  http.c is linked whole (and libcurl with it) but
 * no transfer is ever made.
 *
 * Checks beyond the sanitizers: message text built from a body has no
 * control characters, is valid UTF-8 in a UTF8 database and ASCII in a
 * SQL_ASCII one (auth.c's is always ASCII); an accepted token is printable
 * ASCII; a token answer that is refused has been wiped; errors carry a
 * user-facing SQLSTATE; nothing accumulates in TopMemoryContext (pending
 * jobs are forgotten).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "gc_fdw.h"
#include "pg_shim.h"

static MemoryContext call_cxt;
static GcConnection conn;
static GcScanStats stats;

/* What the fake exchanges answer */
static const uint8_t *fuzz_body;
static size_t fuzz_len;
static long fuzz_status;
static bool token_from_fuzz;	/* token request answers the fuzz body */
static int	api_calls;			/* gc_api_call(_ex) calls this input */
static char *last_token_body;	/* body handed to auth.c, for the wipe check */
static size_t last_token_len;

static char *
body_copy(const uint8_t *data, size_t len)
{
	/* NUL-terminated, as http.c delivers bodies */
	char	   *body = palloc(len + 1);

	memcpy(body, data, len);
	body[len] = '\0';
	return body;
}

static void
fake_response(GcHttpResponse *resp, long status, const char *body, size_t len)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = status;
	resp->body = body_copy((const uint8_t *) body, len);
	resp->body_len = len;
}

void		__wrap_gc_http_token_request(GcConnection *c, GcScanStats *s,
										 GcHttpResponse *resp);
void		__wrap_gc_api_call(GcConnection *c, const char *method,
							   const char *path_query, const char *json_body,
							   GcScanStats *s, GcHttpResponse *resp);
void		__wrap_gc_api_call_ex(GcConnection *c, const char *method,
								  const char *path_query, const char *json_body,
								  GcScanStats *s, GcHttpResponse *resp,
								  long return_status);
void		__wrap_gc_sleep_interruptible(double seconds);

void
__wrap_gc_http_token_request(GcConnection *c, GcScanStats *s, GcHttpResponse *resp)
{
	static const char fixed[] =
		"{\"access_token\":\"fixed-fuzz-token\",\"token_type\":\"bearer\",\"expires_in\":86399}";

	if (!token_from_fuzz)
	{
		fake_response(resp, 200, fixed, strlen(fixed));
		return;
	}
	fake_response(resp, fuzz_status, (const char *) fuzz_body, fuzz_len);
	last_token_body = resp->body;
	last_token_len = resp->body_len;
}

void
__wrap_gc_api_call_ex(GcConnection *c, const char *method, const char *path_query,
					  const char *json_body, GcScanStats *s, GcHttpResponse *resp,
					  long return_status)
{
	static const char fulfilled[] = "{\"state\":\"FULFILLED\"}";

	if (api_calls++ == 0)
		fake_response(resp, (return_status != 0 && fuzz_len % 5 == 0) ? return_status : 200,
					  (const char *) fuzz_body, fuzz_len);
	else
		fake_response(resp, 200, fulfilled, strlen(fulfilled));
}

void
__wrap_gc_api_call(GcConnection *c, const char *method, const char *path_query,
				   const char *json_body, GcScanStats *s, GcHttpResponse *resp)
{
	__wrap_gc_api_call_ex(c, method, path_query, json_body, s, resp, 0);
}

void
__wrap_gc_sleep_interruptible(double seconds)
{
	if (!(seconds >= 0 && seconds <= 30.0))
		shim_unreachable("job poll delay out of range");
}

/* progress.c, stats.c and deparse.c are not linked */
void
gc_progress_waiting(const char *what, double secs)
{
	(void) strlen(what);
}

void
gc_progress_waiting_done(void)
{
}

GcEndpointStats *
gc_stats_endpoint(const char *method, const char *path)
{
	shim_unreachable("gc_stats_endpoint");
}

void
gc_stats_exchange(GcEndpointStats *ep, long status, size_t bytes)
{
	shim_unreachable("gc_stats_exchange");
}

void
gc_stats_reauth(GcEndpointStats *ep)
{
	shim_unreachable("gc_stats_reauth");
}

void
gc_stats_rate_limited(GcEndpointStats *ep, double secs)
{
	shim_unreachable("gc_stats_rate_limited");
}

void
gc_stats_retry(GcEndpointStats *ep)
{
	shim_unreachable("gc_stats_retry");
}

void
gc_stats_error(GcEndpointStats *ep)
{
	shim_unreachable("gc_stats_error");
}

void
gc_append_url_encoded(StringInfo buf, const char *value)
{
	shim_unreachable("gc_append_url_encoded");
}

/*
 * check_message_text
 *		Text that goes into a message: no control characters; ASCII only
 *		when ascii_only, else valid in the database encoding.
 */
static void
check_message_text(const char *where, const char *text, bool ascii_only)
{
	const unsigned char *p;

	if (text == NULL)
		return;
	for (p = (const unsigned char *) text; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (ascii_only && *p >= 0x80))
		{
			fprintf(stderr, "%s: byte 0x%02x at offset %d of \"%s\"\n", where,
					*p, (int) (p - (const unsigned char *) text), text);
			shim_unreachable("unsanitised byte in message text");
		}
	if (!pg_verifymbstr(text, strlen(text), true))
		shim_unreachable("message text invalid in the database encoding");
}

static void
describe(const uint8_t *data, size_t size, int encoding, bool with_correlation)
{
	static const long statuses[] = {400, 403, 404, 409, 429, 500, 503};
	GcHttpResponse resp;
	char	   *detail;

	shim_set_database_encoding(encoding);
	memset(&resp, 0, sizeof(resp));
	resp.status = statuses[size % lengthof(statuses)];
	resp.body = body_copy(data, size);
	resp.body_len = size;
	resp.correlation_id = with_correlation ? pstrdup("0f6c1a9e-corr") : NULL;
	detail = gc_describe_response(&resp);
	check_message_text("gc_describe_response", detail, encoding != PG_UTF8);
	shim_set_database_encoding(PG_UTF8);
}

static void
token_accepted(void)
{
	token_from_fuzz = true;
	fuzz_status = 200;
	last_token_body = NULL;
	gc_auth_forget_token(&conn);
	PG_TRY();
	{
		const char *token = gc_auth_get_token(&conn, &stats);
		const char *p;

		if (token == NULL || token[0] == '\0')
			shim_unreachable("empty token accepted");
		for (p = token; *p; p++)
			if (*p <= 0x20 || *p >= 0x7f)
				shim_unreachable("token with a byte unfit for an HTTP header accepted");
	}
	PG_CATCH();
	{
		const ShimError *e = shim_last_error();
		size_t		i;

		if (e->sqlerrcode != ERRCODE_FDW_ERROR &&
			e->sqlerrcode != ERRCODE_FDW_OUT_OF_MEMORY)
			shim_unreachable("unexpected SQLSTATE for an unusable token answer");
		/* the refused answer may hold a token: it must be wiped */
		for (i = 0; last_token_body && i < last_token_len; i++)
			if (last_token_body[i] != '\0')
				shim_unreachable("refused token answer not wiped");
		check_message_text("token answer error", e->detail, true);
		shim_caught("gc_auth_get_token (200)");
	}
	PG_END_TRY();
	token_from_fuzz = false;
}

static void
token_refused(long status)
{
	token_from_fuzz = true;
	fuzz_status = status;
	gc_auth_forget_token(&conn);
	PG_TRY();
	{
		(void) gc_auth_get_token(&conn, &stats);
		shim_unreachable("a non-2xx token answer was accepted");
	}
	PG_CATCH();
	{
		const ShimError *e = shim_last_error();

		if (e->sqlerrcode != ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION)
			shim_unreachable("unexpected SQLSTATE for a refused token request");
		check_message_text("token failure detail", e->detail, true);
		shim_caught("gc_auth_get_token (refused)");
	}
	PG_END_TRY();
	token_from_fuzz = false;
}

static void
jobs_availability(void)
{
	api_calls = 0;
	PG_TRY();
	{
		(void) gc_jobs_availability(&conn, &stats);
	}
	PG_CATCH();
	{
		shim_caught("gc_jobs_availability");
	}
	PG_END_TRY();
}

static void
jobs_submit(void)
{
	api_calls = 0;
	gc_auth_forget_token(&conn);
	PG_TRY();
	{
		GcHttpResponse resp;
		char	   *job_id = gc_job_submit(&conn, "{}", &stats, &resp);

		if (job_id != NULL)
			gc_job_finish(job_id, false);
		else if (resp.status != 400)
			shim_unreachable("gc_job_submit returned no id without a 400");
	}
	PG_CATCH();
	{
		shim_caught("gc_job_submit");
	}
	PG_END_TRY();
}

static void
jobs_wait(void)
{
	api_calls = 0;
	PG_TRY();
	{
		char	   *failure = gc_job_wait(&conn, "7d5f0a8e-fuzz-job", 3.0, &stats);

		if (failure)
			(void) strlen(failure);
		if (api_calls > 2)
			shim_unreachable("gc_job_wait polled past FULFILLED");
	}
	PG_CATCH();
	{
		shim_caught("gc_job_wait");
	}
	PG_END_TRY();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static long top_chunks = -1;

	if (call_cxt == NULL)
	{
		shim_init();
		call_cxt = shim_context_create(TopMemoryContext, "fuzz call");
		conn.serverid = 16385;
		conn.umid = 16390;
		conn.server_name = "fuzz_server";
		conn.user_name = "public";
		conn.client_id = "fuzz-client";
		conn.client_secret = "fuzz-secret";
		conn.opts.api_url = "https://api.fuzz.invalid";
		conn.opts.login_url = "https://login.fuzz.invalid";
	}
	fuzz_body = data;
	fuzz_len = size;
	MemoryContextSwitchTo(call_cxt);

	describe(data, size, PG_UTF8, size % 2 == 0);
	describe(data, size, PG_SQL_ASCII, size % 2 == 1);
	token_accepted();
	token_refused(size % 3 == 0 ? 400 : 401);
	jobs_availability();
	jobs_submit();
	jobs_wait();

	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextReset(call_cxt);
	if (top_chunks < 0)
		top_chunks = shim_context_chunks(TopMemoryContext);
	else if (shim_context_chunks(TopMemoryContext) != top_chunks)
		shim_unreachable("TopMemoryContext grew: something outlives its input");
	return 0;
}
