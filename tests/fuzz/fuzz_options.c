/*-------------------------------------------------------------------------
 *
 * fuzz_options.c
 *		  libFuzzer target: gc_fdw's options, from the validator through to
 *		  the column maps they produce (src/option.c, src/catalog.c,
 *		  src/json_tuple.c).
 *
 * Input: the first byte picks the catalog the options are given to (foreign
 * data wrapper, server, user mapping, foreign table, column), the type of
 * the fuzzed column and whether the role is a superuser (byte % 5, byte / 5
 * % 6, byte / 30 % 2); the rest is one "name=value" option per line.  Lines
 * that are not valid UTF-8 and repeated names are dropped, as PostgreSQL's
 * parser and transformGenericOptions() would.  The options go, as a text[],
 * through the real gc_fdw_validator().  When it accepts them:
 *	  - server options go through gc_get_server_options(); for a role that
 *		is not a superuser, the hosts libcurl would reach with the resulting
 *		api_url and login_url (parsed by libcurl's own URL parser) must be
 *		Genesys Cloud hosts: the SSRF guard must not be bypassable;
 *	  - table options through gc_get_table_options();
 *	  - a column's "key" becomes the key of a column added to each table of
 *		the catalogue: gc_column_map_create(), gc_column_map_uses_key() and
 *		gc_cursor_values() over every row of a fixed, realistic page.
 * Every option value also goes through gc_snake_to_camel(),
 * gc_resource_lookup() and gc_level_lookup().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "access/reloptions.h"
#include "access/sysattr.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "gc_fdw.h"
#include "pg_shim.h"

extern Datum gc_fdw_validator(PG_FUNCTION_ARGS);

#define MAX_OPTIONS 32
#define MAX_COLUMNS 48

static const Oid catalogs[] = {
	ForeignDataWrapperRelationId, ForeignServerRelationId,
	UserMappingRelationId, ForeignTableRelationId, AttributeRelationId
};

static const char *const column_types[] = {
	"text", "jsonb", "text[]", "integer", "uuid", "json[]"
};

/* A page with every nesting level, as the details query returns it */
static const char sample_conversations[] =
	"{\"conversations\":[{\"conversationId\":\"0b5e7f2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b\","
	"\"conversationStart\":\"2024-03-05T10:00:00.000Z\",\"conversationEnd\":\"2024-03-05T10:05:00.000Z\","
	"\"originatingDirection\":\"inbound\",\"divisionIds\":[\"3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c\"],"
	"\"participants\":[{\"participantId\":\"5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d\",\"purpose\":\"customer\","
	"\"attributes\":{\"ivr.lang\":\"fr\",\"score\":\"7\",\"nested\":{\"a\":1},\"empty\":null},"
	"\"sessions\":[{\"sessionId\":\"6b5c4d3e-2f1a-4b0c-9d8e-7f6a5b4c3d2e\",\"mediaType\":\"voice\","
	"\"requestedRoutings\":[\"Standard\"],\"flow\":{\"flowId\":\"7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f\"},"
	"\"segments\":[{\"segmentStart\":\"2024-03-05T10:00:00.000Z\",\"segmentType\":\"ivr\","
	"\"sipResponseCodes\":[200,486],\"conference\":false}],"
	"\"metrics\":[{\"name\":\"tIvr\",\"value\":12000,\"emitDate\":\"2024-03-05T10:00:12.000Z\"}]}]}]}],"
	"\"totalHits\":1}";

static const char sample_users[] =
	"{\"entities\":[{\"id\":\"8d7e6f5a-4b3c-4d2e-9f0a-1b2c3d4e5f6a\",\"name\":\"Ada\",\"state\":\"active\","
	"\"version\":4,\"division\":{\"id\":\"9e8f7a6b-5c4d-4e3f-8a1b-2c3d4e5f6a7b\",\"name\":\"Home\"},"
	"\"dateLastLogin\":\"2024-03-01T08:00:00.000Z\",\"acdAutoAnswer\":true}],\"pageCount\":1}";

/*
 * Genesys Cloud region domains, as docs/ and src/option.c list them.  Kept
 * here on purpose, independently of option.c, for the SSRF check.
 */
static const char *const genesys_domains[] = {
	"mypurecloud.com", "usw2.pure.cloud", "use2.us-gov-pure.cloud",
	"cac1.pure.cloud", "sae1.pure.cloud", "mxc1.pure.cloud",
	"mypurecloud.ie", "euw2.pure.cloud", "mypurecloud.de",
	"euc2.pure.cloud", "mec1.pure.cloud", "aps1.pure.cloud",
	"mypurecloud.jp", "apne2.pure.cloud", "apne3.pure.cloud",
	"mypurecloud.com.au", "apse1.pure.cloud",
	NULL
};

static MemoryContext page_cxt;
static MemoryContext call_cxt;
static GcPage *conversations_page;
static GcPage *users_page;
static Datum values[MAX_COLUMNS];
static bool isnull[MAX_COLUMNS];

/* Split the input into distinct, valid UTF-8 "name=value" lines */
static int
split_options(const uint8_t *data, size_t size, char **lines)
{
	int			n = 0;
	size_t		start = 0;
	size_t		i;

	for (i = 0; i <= size && n < MAX_OPTIONS; i++)
	{
		if (i == size || data[i] == '\n' || data[i] == '\0')
		{
			char	   *line = pnstrdup((const char *) data + start, i - start);
			char	   *eq = strchr(line, '=');
			size_t		name_len = eq ? (size_t) (eq - line) : strlen(line);
			int			j;
			bool		duplicate = false;

			start = i + 1;
			if (!pg_verify_mbstr(PG_UTF8, line, strlen(line), true) ||
				name_len == 0)
				continue;
			for (j = 0; j < n; j++)
			{
				const char *eq2 = strchr(lines[j], '=');
				size_t		len2 = eq2 ? (size_t) (eq2 - lines[j]) : strlen(lines[j]);

				if (len2 == name_len && strncmp(lines[j], line, name_len) == 0)
					duplicate = true;
			}
			if (!duplicate)
				lines[n++] = line;
		}
	}
	return n;
}

static Datum
options_array(char **lines, int n)
{
	Datum		elems[MAX_OPTIONS];
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;

	if (n == 0)
		return PointerGetDatum(construct_empty_array(TEXTOID));
	for (i = 0; i < n; i++)
	{
		size_t		len = strlen(lines[i]);
		text	   *t = palloc(len + VARHDRSZ);

		SET_VARSIZE(t, len + VARHDRSZ);
		memcpy(VARDATA(t), lines[i], len);
		elems[i] = PointerGetDatum(t);
	}
	return PointerGetDatum(construct_md_array(elems, NULL, 1, dims, lbs, TEXTOID,
											  -1, false, TYPALIGN_INT));
}

/*
 * validate
 *		Run gc_fdw_validator(); false when it refused the options, with the
 *		error's text in *error_text (palloc'd).
 */
static bool
validate(Datum options, Oid catalog, char **error_text)
{
	volatile bool ok = true;

	*error_text = NULL;
	PG_TRY();
	{
		LOCAL_FCINFO(fcinfo, 2);

		InitFunctionCallInfoData(*fcinfo, NULL, 2, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = options;
		fcinfo->args[0].isnull = false;
		fcinfo->args[1].value = ObjectIdGetDatum(catalog);
		fcinfo->args[1].isnull = false;
		(void) gc_fdw_validator(fcinfo);
	}
	PG_CATCH();
	{
		const ShimError *e = shim_last_error();

		*error_text = psprintf("%s|%s|%s", e->message ? e->message : "",
							   e->detail ? e->detail : "", e->hint ? e->hint : "");
		shim_caught("gc_fdw_validator");
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * secret_changed
 *		Copy of lines with the client_secret value (if any) replaced by
 *		another of the same length, or NULL without one.
 */
static char **
secret_changed(char **lines, int n)
{
	char	  **copy = palloc(sizeof(char *) * Max(n, 1));
	bool		found = false;
	int			i;

	for (i = 0; i < n; i++)
	{
		copy[i] = pstrdup(lines[i]);
		if (strncmp(copy[i], "client_secret=", 14) == 0 && copy[i][14] != '\0')
		{
			char	   *p;
			char		other = (copy[i][14] == 'Q') ? 'W' : 'Q';

			for (p = copy[i] + 14; *p; p++)
				*p = other;
			found = true;
		}
	}
	return found ? copy : NULL;
}

/*
 * check_genesys_host
 *		The host libcurl would connect to for url must be a Genesys Cloud
 *		host (a region domain or a name under one).  URLs libcurl refuses
 *		reach nobody and pass.
 */
static void
check_genesys_host(const char *url)
{
	CURLU	   *h = curl_url();
	char	   *host = NULL;
	int			i;
	bool		ok = false;

	if (h == NULL)
		shim_unreachable("curl_url");
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK)
	{
		curl_url_cleanup(h);
		return;
	}
	for (i = 0; genesys_domains[i] && !ok; i++)
	{
		size_t		hlen = strlen(host);
		size_t		dlen = strlen(genesys_domains[i]);

		ok = hlen >= dlen &&
			pg_strcasecmp(host + hlen - dlen, genesys_domains[i]) == 0 &&
			(hlen == dlen || host[hlen - dlen - 1] == '.');
	}
	if (!ok)
	{
		fprintf(stderr, "URL \"%s\" reaches host \"%s\"\n", url, host);
		shim_unreachable("a non-superuser's URL reaches a host outside Genesys Cloud");
	}
	curl_free(host);
	curl_url_cleanup(h);
}

static void
server_options(Datum options)
{
	ForeignServer server;
	GcServerOptions opts;

	memset(&server, 0, sizeof(server));
	server.serverid = 16385;
	server.servername = "fuzz_server";
	server.options = untransformRelOptions(options);
	/* validated options must not raise here */
	gc_get_server_options(&server, &opts);
	if (opts.api_url[0] == '\0' || opts.api_url[strlen(opts.api_url) - 1] == '/' ||
		opts.login_url[0] == '\0' || opts.login_url[strlen(opts.login_url) - 1] == '/')
		shim_unreachable("base URL empty or with a trailing slash");
	if (opts.request_timeout < 1 || opts.connect_timeout < 1 || opts.max_retries < 0)
		shim_unreachable("server option out of its range");
	if (!superuser())
	{
		/* the paths http.c appends to them */
		check_genesys_host(psprintf("%s/api/v2/users", opts.api_url));
		check_genesys_host(psprintf("%s/oauth/token", opts.login_url));
	}
}

static void
table_options(Datum options)
{
	ForeignTable table;
	GcTableOptions opts;

	memset(&table, 0, sizeof(table));
	table.relid = 1;
	table.serverid = 16385;
	table.options = untransformRelOptions(options);
	gc_get_table_options(&table, &opts);
	if (opts.resource == NULL || opts.page_size < 1 ||
		opts.page_size > opts.resource->max_page_size ||
		opts.jobs_min_days < 1 || opts.jobs_poll_interval < 1)
		shim_unreachable("table option out of its range");
}

/* Rows of page through map; conversion errors are expected and dropped */
static void
walk_rows(Relation rel, GcColumnMap *map, GcPage *page, const char *array_key,
		  GcLevel level)
{
	GcRowCursor *cur = gc_cursor_create(page, array_key, level);

	while (gc_cursor_next_top(cur))
		while (gc_cursor_next_row(cur))
		{
			PG_TRY();
			{
				TupleDesc	desc = RelationGetDescr(rel);
				int			i;

				gc_cursor_values(cur, map, values, isnull);
				for (i = 0; i < desc->natts; i++)
					if (!isnull[i])
						(void) shim_touch_datum(values[i],
												TupleDescAttr(desc, i)->atttypid);
			}
			PG_CATCH();
			{
				shim_caught("gc_cursor_values");
			}
			PG_END_TRY();
		}
}

/*
 * column_key
 *		A table of each resource with the catalogue's columns and one more
 *		reading key: map it, and read the sample page through it.
 */
static void
column_key(const char *key, const char *type)
{
	int			r;
	const GcResourceDef *res;

	for (r = 0; (res = gc_resource_at(r)) != NULL; r++)
	{
		ShimColumn	cols[MAX_COLUMNS];
		int			ncols = 0;
		const GcColumnDef *cd;
		Relation	rel;

		for (cd = res->columns; cd->name && ncols < MAX_COLUMNS - 1; cd++)
		{
			ShimColumn	c = {cd->name, cd->type, NULL, false};

			cols[ncols++] = c;
		}
		cols[ncols].name = "fuzz_col";
		cols[ncols].type = type;
		cols[ncols].key = key;
		cols[ncols].dropped = false;
		ncols++;
		rel = shim_relation_create(res->name, cols, ncols);

		PG_TRY();
		{
			Bitmapset  *used = bms_add_member(NULL, 0 - FirstLowInvalidHeapAttributeNumber);
			GcColumnMap *map = gc_column_map_create(rel, res, used);
			GcColumnMap *only = gc_column_map_create(rel, res,
													 bms_add_member(NULL, ncols - FirstLowInvalidHeapAttributeNumber));

			(void) gc_column_map_uses_key(map, "dateLastLogin");
			(void) gc_column_map_uses_key(only, "dateLastLogin");
			(void) gc_column_map_uses_key(only, "id");
			if (res->kind == GC_RESOURCE_USERS)
				walk_rows(rel, only, users_page, "entities", res->level);
			else
				walk_rows(rel, only, conversations_page, "conversations", res->level);
		}
		PG_CATCH();
		{
			shim_caught("gc_column_map_create");
		}
		PG_END_TRY();
		shim_relation_forget(rel);
	}
}

static void
value_helpers(char **lines, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		const char *eq = strchr(lines[i], '=');
		const char *value = eq ? eq + 1 : lines[i];
		char	   *camel = gc_snake_to_camel(value);

		if (strchr(camel, '_') != NULL || strlen(camel) > strlen(value))
			shim_unreachable("gc_snake_to_camel");
		(void) gc_resource_lookup(value);
		(void) gc_level_lookup(value, strlen(value));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *lines[MAX_OPTIONS];
	int			n;
	Oid			catalog;
	const char *type;
	Datum		options;
	bool		ok;
	char	   *error_text;
	char	  **other_lines;

	if (call_cxt == NULL)
	{
		shim_init();
		page_cxt = shim_context_create(TopMemoryContext, "fuzz sample pages");
		call_cxt = shim_context_create(TopMemoryContext, "fuzz call");
		MemoryContextSwitchTo(page_cxt);
		conversations_page = gc_page_parse(page_cxt, sample_conversations,
										   strlen(sample_conversations), "sample");
		users_page = gc_page_parse(page_cxt, sample_users, strlen(sample_users),
								   "sample");
	}
	if (size < 1)
		return 0;
	catalog = catalogs[data[0] % lengthof(catalogs)];
	type = column_types[(data[0] / lengthof(catalogs)) % lengthof(column_types)];
	shim_set_superuser((data[0] / (lengthof(catalogs) * lengthof(column_types))) % 2 == 1);
	MemoryContextSwitchTo(call_cxt);

	n = split_options(data + 1, size - 1, lines);
	value_helpers(lines, n);
	options = options_array(lines, n);
	ok = validate(options, catalog, &error_text);
	/* a secret's value must never change what a message says */
	if ((other_lines = secret_changed(lines, n)) != NULL)
	{
		char	   *other_text;

		if (validate(options_array(other_lines, n), catalog, &other_text) != ok ||
			(ok == false && strcmp(error_text, other_text) != 0))
			shim_unreachable("the client_secret value shows in a message");
	}
	if (ok)
	{
		if (catalog == ForeignServerRelationId)
			server_options(options);
		else if (catalog == ForeignTableRelationId)
			table_options(options);
		else if (catalog == AttributeRelationId)
		{
			ListCell   *lc;

			foreach(lc, untransformRelOptions(options))
			{
				DefElem    *def = lfirst(lc);

				if (strcmp(def->defname, "key") == 0)
					column_key(defGetString(def), type);
			}
		}
	}

	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextReset(call_cxt);
	return 0;
}
