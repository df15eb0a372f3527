/*-------------------------------------------------------------------------
 *
 * auth.c
 *		  Per-backend OAuth token cache of gc_fdw.
 *
 * Owns the access tokens obtained with the client credentials grant: one
 * per user mapping, kept in a backend-local hash keyed by the user mapping
 * OID, renewed shortly before it expires, dropped after a 401, and
 * discarded when the foreign server or the user mapping changes (syscache
 * invalidation callbacks), since credentials or URLs may have changed.
 *
 * Also owns the token exchange: POST login_url/oauth/token with Basic auth
 * and grant_type=client_credentials, sent through the transport (http.c)
 * under the retry rules API calls follow (retry.c: 429, 5xx and network
 * failures are retried), and the wording of the answers those rules hand
 * back (any other status is the token endpoint refusing the credentials).
 *
 * Layering: api.c -> auth.c -> retry.c -> http.c.  This file calls retry.c
 * and http.c, never api.c: nothing below the API policy calls back into it.
 *
 * Also tells redact.c which secrets to replace in remote text: the client
 * secret and its Basic credential before each token exchange, each token
 * when fetched and whenever it is handed out again.
 *
 * Must not: send a refresh grant (client credentials has none: a new token
 * is requested with the same credentials); put a token or the client secret
 * in any message at any level; keep a token in memory it does not wipe
 * before freeing.
 *
 * Statistics: retry.c counts every token endpoint exchange in
 * stats->token_requests.  This file counts stats->reauths: one per token
 * successfully fetched for a user mapping that already had a token in this
 * backend (dropped after a 401, expired, renewed ahead of expiry, or
 * discarded after ALTER SERVER / ALTER USER MAPPING).  The first token of a
 * mapping in a backend is not a reauth.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <json.h>

#include "common/base64.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "gc_fdw.h"

/* Lifetime assumed when expires_in is missing: the shortest Genesys allows */
#define GC_TOKEN_DEFAULT_LIFETIME_SECS	300
/* Renew this long before expiry at most (less for short-lived tokens) */
#define GC_TOKEN_RENEW_MARGIN_SECS		60
/* Longest expires_in believed: Genesys tokens live 48 hours at most */
#define GC_TOKEN_MAX_LIFETIME_SECS		(7 * SECS_PER_DAY)
#define GC_TOKEN_PATH					"/oauth/token"
#define GC_TOKEN_FORM					"grant_type=client_credentials"
/* Bytes of an OAuth error_description quoted in a message */
#define GC_OAUTH_DESCRIPTION_LEN		512

/* One cached token, keyed by user mapping */
typedef struct GcTokenEntry
{
	Oid			umid;			/* hash key: user mapping OID */
	char	   *token;			/* malloc'd access token, or NULL */
	size_t		token_len;
	TimestampTz expires_at;		/* as announced by expires_in */
	TimestampTz renew_at;		/* expires_at minus the safety margin */
	uint32		server_hashvalue;	/* syscache hash of the server OID */
	uint32		mapping_hashvalue;	/* syscache hash of the mapping OID */
	bool		invalidated;	/* server or mapping changed: discard token */
	bool		had_token;		/* a token was fetched before in this backend */
} GcTokenEntry;

static HTAB *gc_token_cache = NULL;
static uint64 gc_token_generation = 0;
static bool gc_auth_callbacks_registered = false;

/*
 * gc_auth_inval_callback
 *		Syscache callback for foreign servers and user mappings: mark the
 *		tokens obtained through the changed object (all of them when
 *		hashvalue is 0).  The token is discarded on next use, not here, so a
 *		pointer handed out by gc_auth_get_token() never dangles mid-request.
 */
static void
gc_auth_inval_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	GcTokenEntry *entry;

	if (gc_token_cache == NULL)
		return;
	hash_seq_init(&scan, gc_token_cache);
	while ((entry = (GcTokenEntry *) hash_seq_search(&scan)) != NULL)
	{
		if (hashvalue == 0 ||
			(cacheid == FOREIGNSERVEROID &&
			 entry->server_hashvalue == hashvalue) ||
			(cacheid == USERMAPPINGOID &&
			 entry->mapping_hashvalue == hashvalue))
			entry->invalidated = true;
	}
}

/*
 * gc_auth_init
 *		Register the invalidation callbacks; called from _PG_init().
 */
void
gc_auth_init(void)
{
	if (gc_auth_callbacks_registered)
		return;
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, gc_auth_inval_callback,
								  (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, gc_auth_inval_callback,
								  (Datum) 0);
	gc_auth_callbacks_registered = true;
}

/*
 * gc_auth_discard
 *		Wipe and free the token of entry, if any.
 */
static void
gc_auth_discard(GcTokenEntry *entry)
{
	if (entry->token != NULL)
	{
		explicit_bzero(entry->token, entry->token_len);
		free(entry->token);
	}
	entry->token = NULL;
	entry->token_len = 0;
	entry->expires_at = 0;
	entry->renew_at = 0;
}

/*
 * gc_auth_lookup
 *		Cache entry of conn's user mapping, created empty if needed.
 */
static GcTokenEntry *
gc_auth_lookup(GcConnection *conn)
{
	GcTokenEntry *entry;
	bool		found;

	if (gc_token_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(GcTokenEntry);
		gc_token_cache = hash_create("gc_fdw tokens", 8, &ctl,
									 HASH_ELEM | HASH_BLOBS);
	}
	entry = (GcTokenEntry *) hash_search(gc_token_cache, &conn->umid,
										 HASH_ENTER, &found);
	if (!found)
	{
		entry->token = NULL;
		entry->token_len = 0;
		entry->expires_at = 0;
		entry->renew_at = 0;
		entry->invalidated = false;
		entry->had_token = false;
	}
	entry->server_hashvalue =
		GetSysCacheHashValue1(FOREIGNSERVEROID, ObjectIdGetDatum(conn->serverid));
	entry->mapping_hashvalue =
		GetSysCacheHashValue1(USERMAPPINGOID, ObjectIdGetDatum(conn->umid));
	return entry;
}

/*
 * gc_auth_parse_wiped
 *		json_tokener_parse() that wipes the tokener's string buffer, which
 *		holds the last string parsed (the token text among them), before
 *		json-c frees it.
 */
static json_object *
gc_auth_parse_wiped(const char *body)
{
	json_tokener *tok = json_tokener_new();
	json_object *root;

	if (tok == NULL)
		return NULL;
	root = json_tokener_parse_ex(tok, body, -1);
	if (json_tokener_get_error(tok) != json_tokener_success && root != NULL)
	{
		json_object_put(root);
		root = NULL;
	}
	if (tok->pb != NULL && tok->pb->buf != NULL)
		explicit_bzero(tok->pb->buf, tok->pb->size);
	json_tokener_free(tok);
	return root;
}

/*
 * gc_auth_report_failure
 *		ereport a token endpoint answer other than 2xx (a 2xx body would
 *		hold a token, so it must never reach this function).  Every piece
 *		of the answer quoted goes through gc_one_line, which redacts the
 *		client secret and the Basic credential an endpoint may echo.
 */
static void
pg_attribute_noreturn()
gc_auth_report_failure(GcConnection *conn, const GcHttpResponse *resp)
{
	char	   *detail;
	const char *oauth_error = NULL;
	const char *description = NULL;
	bool		redirect = (resp->status >= 300 && resp->status < 400);
	struct json_object *root = NULL;

	if (resp->body_len > 0)
		root = gc_auth_parse_wiped(resp->body);
	oauth_error = gc_json_string_member(root, "error");
	description = gc_json_string_member(root, "error_description");
	if (description == NULL)
		description = gc_json_string_member(root, "description");
	/* a platform-style error body, should the login host send one */
	if (oauth_error == NULL)
		oauth_error = gc_json_string_member(root, "code");
	if (description == NULL)
		description = gc_json_string_member(root, "message");

	detail = gc_describe_answer(resp, "OAuth error", oauth_error, description,
								GC_OAUTH_DESCRIPTION_LEN, NULL);
	if (root != NULL)
		json_object_put(root);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("could not authenticate to Genesys Cloud as OAuth client \"%s\"",
					conn->client_id),
			 errdetail("%s.", detail),
			 redirect ?
			 errhint("gc_fdw never follows redirects: check that the environment and login_url options of server \"%s\" name the Genesys Cloud login host of your region; a proxy between PostgreSQL and Genesys Cloud may be redirecting.",
					 conn->server_name) :
			 errhint("Check client_id and client_secret in the user mapping for server \"%s\", that its environment or login_url option names the region of the OAuth client, and that the OAuth client uses the Client Credentials grant.",
					 conn->server_name)));
}

/*
 * gc_auth_store_token
 *		Parse a 200 token response into entry, wiping every copy of the
 *		response body.  ereports (with nothing left allocated outside
 *		palloc) when the answer is unusable.
 */
static void
gc_auth_store_token(GcConnection *conn, GcTokenEntry *entry,
					GcHttpResponse *resp, TimestampTz requested_at)
{
	struct json_object *root;
	struct json_object *field;
	bool		is_object;
	bool		token_ok = false;
	bool		type_ok = true;
	char	   *token = NULL;
	size_t		token_len = 0;
	int64		lifetime = 0;
	int64		margin;

	root = gc_auth_parse_wiped(resp->body);
	is_object = (root != NULL && json_object_is_type(root, json_type_object));
	if (is_object)
	{
		if (json_object_object_get_ex(root, "access_token", &field) &&
			json_object_is_type(field, json_type_string))
		{
			const char *value = json_object_get_string(field);
			size_t		i;

			token_len = (size_t) json_object_get_string_len(field);
			/* printable ASCII only: it goes into an HTTP header */
			token_ok = (token_len > 0);
			for (i = 0; i < token_len && token_ok; i++)
				token_ok = (value[i] > 0x20 && value[i] < 0x7f);
			if (token_ok)
			{
				token = malloc(token_len + 1);
				if (token != NULL)
					memcpy(token, value, token_len + 1);
			}
			/* json-c's copy is freed below: wipe it first */
			explicit_bzero((char *) value, token_len);
		}
		if (json_object_object_get_ex(root, "token_type", &field))
			type_ok = (json_object_is_type(field, json_type_string) &&
					   pg_strcasecmp(json_object_get_string(field), "bearer") == 0);
		if (json_object_object_get_ex(root, "expires_in", &field))
			lifetime = json_object_get_int64(field);
	}
	if (root != NULL)
		json_object_put(root);
	explicit_bzero(resp->body, resp->body_len);

	if (!is_object || !token_ok || !type_ok || token == NULL)
	{
		if (token != NULL)
		{
			explicit_bzero(token, token_len);
			free(token);
		}
		if (token_ok && type_ok && is_object)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("out of memory while storing a Genesys Cloud access token")));
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Genesys Cloud token response for OAuth client \"%s\" is unusable",
						conn->client_id),
				 errdetail(!is_object ? "The response is not a JSON object." :
						   !type_ok ? "The token_type is not \"bearer\"." :
						   "The response has no valid access_token."),
				 errhint("Check the login_url and environment options of server \"%s\": they must name the Genesys Cloud login host.",
						 conn->server_name)));
	}

	if (lifetime <= 0)
		lifetime = GC_TOKEN_DEFAULT_LIFETIME_SECS;

	/*
	 * Cap the lifetime so that it cannot overflow in microseconds: the fuzzer
	 * (tests/fuzz) found that expires_in 9223372036854775807 made
	 * lifetime * USECS_PER_SEC undefined behaviour.  A token revoked before
	 * the cap is replaced after its 401 anyway.
	 */
	else if (lifetime > GC_TOKEN_MAX_LIFETIME_SECS)
		lifetime = GC_TOKEN_MAX_LIFETIME_SECS;
	margin = Min(GC_TOKEN_RENEW_MARGIN_SECS * USECS_PER_SEC,
				 lifetime * USECS_PER_SEC / 10);
	entry->token = token;
	entry->token_len = token_len;
	gc_redact_remember(token, token_len);
	gc_token_generation++;
	/* counted from the request, not the answer, to err on the safe side */
	entry->expires_at = requested_at + lifetime * USECS_PER_SEC;
	entry->renew_at = entry->expires_at - margin;
	entry->invalidated = false;
	elog(DEBUG1, "gc_fdw: new access token for OAuth client \"%s\" (user mapping %u), valid for " INT64_FORMAT " s",
		 conn->client_id, conn->umid, lifetime);
}

/*
 * gc_auth_remember_credentials
 *		Have gc_redact replace conn's client secret and its Basic credential
 *		(the base64 of client_id:client_secret, as libcurl sends it; its
 *		'=' padding left out, so an echo without it matches too) wherever a
 *		remote end echoes them.
 */
static void
gc_auth_remember_credentials(GcConnection *conn)
{
	char	   *pair = psprintf("%s:%s", conn->client_id, conn->client_secret);
	int			pair_len = (int) strlen(pair);
	int			cap = pg_b64_enc_len(pair_len) + 1;
	char	   *basic = palloc(cap);
	int			len = pg_b64_encode(pair, pair_len, basic, cap);

	gc_redact_remember(conn->client_secret, strlen(conn->client_secret));
	while (len > 0 && basic[len - 1] == '=')
		len--;
	if (len > 0)
		gc_redact_remember(basic, (size_t) len);
	explicit_bzero(pair, pair_len);
	explicit_bzero(basic, cap);
	pfree(pair);
	pfree(basic);
}

/*
 * gc_auth_exchange
 *		The client credentials exchange with the login host.  429, 5xx and
 *		network failures are retried like API calls and ereported by
 *		retry.c when the retries run out; the answer, whatever its status,
 *		is returned in resp.
 */
static void
gc_auth_exchange(GcConnection *conn, GcScanStats *stats, GcHttpResponse *resp)
{
	GcHttpRequest req;
	GcHttpAttempt att;
	GcRetry		retry;

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = psprintf("%s%s", conn->opts.login_url, GC_TOKEN_PATH);
	req.path = GC_TOKEN_PATH;
	req.body = GC_TOKEN_FORM;
	req.client_credentials = true;
	req.conn = conn;
	memset(&att, 0, sizeof(att));
	gc_auth_remember_credentials(conn);
	gc_retry_begin(&retry, conn, &req, "Genesys Cloud login service",
				   "login_url", stats);
	PG_TRY();
	{
		do
			gc_retry_attempt(&retry, &req, &att);
		while (gc_retry_again(&retry, &att));
	}
	PG_CATCH();
	{
		gc_retry_failed(&retry);
		PG_RE_THROW();
	}
	PG_END_TRY();
	*resp = att.resp;
	pfree(unconstify(char *, req.url));
}

/*
 * gc_auth_get_token
 *		Bearer token for conn, fetched or renewed as needed.
 *
 * The pointer stays valid until the next gc_auth_* call: callers copy it
 * straight into the request.
 */
const char *
gc_auth_get_token(GcConnection *conn, GcScanStats *stats)
{
	GcTokenEntry *entry;
	GcTokenEntry *other;
	HASH_SEQ_STATUS scan;
	GcHttpResponse resp;
	TimestampTz now;

	/*
	 * No token pointer is in use between requests: wipe every invalidated
	 * token now, including those of mappings that were dropped and will
	 * never be looked up again.
	 */
	if (gc_token_cache != NULL)
	{
		hash_seq_init(&scan, gc_token_cache);
		while ((other = (GcTokenEntry *) hash_seq_search(&scan)) != NULL)
		{
			if (other->invalidated)
			{
				gc_auth_discard(other);
				other->invalidated = false;
			}
		}
	}
	entry = gc_auth_lookup(conn);
	now = GetCurrentTimestamp();
	if (entry->token != NULL && now < entry->renew_at)
	{
		/* in use: among the most recent secrets, whatever came since */
		gc_redact_remember(entry->token, entry->token_len);
		return entry->token;
	}

	if (entry->token != NULL)
		elog(DEBUG1, "gc_fdw: access token of OAuth client \"%s\" (user mapping %u) is about to expire, renewing it",
			 conn->client_id, conn->umid);
	gc_auth_discard(entry);

	gc_auth_exchange(conn, stats, &resp);
	if (resp.status < 200 || resp.status > 299)
		gc_auth_report_failure(conn, &resp);
	gc_auth_store_token(conn, entry, &resp, now);
	pfree(resp.body);

	if (entry->had_token && stats != NULL)
		stats->reauths++;
	entry->had_token = true;
	return entry->token;
}

/*
 * gc_auth_token_generation
 *		How many tokens this backend has fetched so far.
 */
uint64
gc_auth_token_generation(void)
{
	return gc_token_generation;
}

/*
 * gc_auth_forget_token
 *		Wipe and drop the cached token of conn (the API answered 401).
 */
void
gc_auth_forget_token(GcConnection *conn)
{
	GcTokenEntry *entry;

	if (gc_token_cache == NULL)
		return;
	entry = (GcTokenEntry *) hash_search(gc_token_cache, &conn->umid,
										 HASH_FIND, NULL);
	if (entry != NULL)
		gc_auth_discard(entry);
}
