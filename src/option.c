/*-------------------------------------------------------------------------
 *
 * option.c
 *		  gc_fdw's options: one static table saying which object accepts
 *		  which option, the validator that checks them once at DDL time, and
 *		  helpers that read server, user mapping, table and column options
 *		  into structs for the planner and executor.
 *
 * Secrets (client_secret) are accepted only on user mappings and never
 * appear in a message.  This file does no network I/O.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/reloptions.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "gc_fdw.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(gc_fdw_validator);

/* Integer options: accepted range and default */
typedef struct GcIntRange
{
	int			min;
	int			max;
	int			dflt;
	const char *unit;
} GcIntRange;

typedef enum GcOptionKind
{
	GC_OPT_ENVIRONMENT,
	GC_OPT_URL,
	GC_OPT_INT,
	GC_OPT_STRING,
	GC_OPT_SECRET,
	GC_OPT_RESOURCE,
	GC_OPT_PAGE_SIZE,
	GC_OPT_BOOL,
	GC_OPT_MODE,
	GC_OPT_UNAVAILABLE,
	GC_OPT_ON_CONFLICT,
	GC_OPT_CA_FILE
} GcOptionKind;

typedef struct GcOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
	GcOptionKind kind;
	GcIntRange	range;			/* GC_OPT_INT only */
} GcOption;

static const GcOption gc_options[] = {
	{"environment", ForeignServerRelationId, GC_OPT_ENVIRONMENT, {0}},
	{"api_url", ForeignServerRelationId, GC_OPT_URL, {0}},
	{"login_url", ForeignServerRelationId, GC_OPT_URL, {0}},
	{"request_timeout", ForeignServerRelationId, GC_OPT_INT, {1, 3600, 60, "seconds"}},
	{"connect_timeout", ForeignServerRelationId, GC_OPT_INT, {1, 300, 10, "seconds"}},
	{"max_retries", ForeignServerRelationId, GC_OPT_INT, {0, 20, 5, "retries"}},
	{"max_retry_after", ForeignServerRelationId, GC_OPT_INT, {0, 86400, 180, "seconds"}},
	{"pushdown", ForeignServerRelationId, GC_OPT_BOOL, {0}},
	{"mode", ForeignServerRelationId, GC_OPT_MODE, {0}},
	{"jobs_min_days", ForeignServerRelationId, GC_OPT_INT, {1, 3650, 31, "days"}},
	{"jobs_poll_interval", ForeignServerRelationId, GC_OPT_INT, {1, 60, 3, "seconds"}},
	{"concurrency", ForeignServerRelationId, GC_OPT_INT, {1, GC_MAX_CONCURRENCY, GC_DEFAULT_CONCURRENCY, "requests"}},
	{"unavailable_data", ForeignServerRelationId, GC_OPT_UNAVAILABLE, {0}},
	{"on_conflict", ForeignServerRelationId, GC_OPT_ON_CONFLICT, {0}},
	{"ca_file", ForeignServerRelationId, GC_OPT_CA_FILE, {0}},
	{"client_id", UserMappingRelationId, GC_OPT_STRING, {0}},
	{"client_secret", UserMappingRelationId, GC_OPT_SECRET, {0}},
	{"resource", ForeignTableRelationId, GC_OPT_RESOURCE, {0}},
	{"page_size", ForeignTableRelationId, GC_OPT_PAGE_SIZE, {0}},
	{"rows_per_day", ForeignTableRelationId, GC_OPT_INT, {1, 100000000, 0, "rows"}},
	{"pushdown", ForeignTableRelationId, GC_OPT_BOOL, {0}},
	{"mode", ForeignTableRelationId, GC_OPT_MODE, {0}},
	{"jobs_min_days", ForeignTableRelationId, GC_OPT_INT, {1, 3650, 31, "days"}},
	{"concurrency", ForeignTableRelationId, GC_OPT_INT, {1, GC_MAX_CONCURRENCY, GC_DEFAULT_CONCURRENCY, "requests"}},
	{"unavailable_data", ForeignTableRelationId, GC_OPT_UNAVAILABLE, {0}},
	{"on_conflict", ForeignTableRelationId, GC_OPT_ON_CONFLICT, {0}},
	{"key", AttributeRelationId, GC_OPT_STRING, {0}},
	{NULL, InvalidOid, GC_OPT_STRING, {0}}
};

/* Genesys Cloud region domains (genesys-api.md, "Hosts and regions") */
static const char *const gc_environments[] = {
	"mypurecloud.com", "usw2.pure.cloud", "use2.us-gov-pure.cloud",
	"cac1.pure.cloud", "sae1.pure.cloud", "mxc1.pure.cloud",
	"mypurecloud.ie", "euw2.pure.cloud", "mypurecloud.de",
	"euc2.pure.cloud", "mec1.pure.cloud", "aps1.pure.cloud",
	"mypurecloud.jp", "apne2.pure.cloud", "apne3.pure.cloud",
	"mypurecloud.com.au", "apse1.pure.cloud",
	NULL
};

#define GC_DEFAULT_ENVIRONMENT "mypurecloud.com"

static const GcOption *
find_option(const char *name)
{
	const GcOption *opt;

	for (opt = gc_options; opt->name; opt++)
		if (strcmp(opt->name, name) == 0)
			return opt;
	return NULL;
}

/* The option of that name accepted by context, else any of that name */
static const GcOption *
find_option_in(const char *name, Oid context)
{
	const GcOption *opt;

	for (opt = gc_options; opt->name; opt++)
		if (strcmp(opt->name, name) == 0 && opt->context == context)
			return opt;
	return find_option(name);
}

static const char *
object_kind_name(Oid context)
{
	switch (context)
	{
		case ForeignServerRelationId:
			return "server";
		case UserMappingRelationId:
			return "user mapping";
		case ForeignTableRelationId:
			return "foreign table";
		case AttributeRelationId:
			return "column";
		default:
			return "object";
	}
}

/*
 * valid_options_for
 *		Comma-separated option names accepted by the catalog context.
 */
static char *
valid_options_for(Oid context)
{
	StringInfoData buf;
	const GcOption *opt;

	initStringInfo(&buf);
	for (opt = gc_options; opt->name; opt++)
		if (opt->context == context)
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", opt->name);
	return buf.len ? buf.data : pstrdup("(none)");
}

static char *
environment_list(void)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; gc_environments[i]; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", gc_environments[i]);
	return buf.data;
}

/*
 * parse_int_option
 *		Parse an integer option value, erroring with the accepted range.
 */
static int
parse_int_option(const char *name, const char *value, const GcIntRange *range)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	while (*end && isspace((unsigned char) *end))
		end++;
	if (errno != 0 || end == value || *end != '\0' ||
		v < range->min || v > range->max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("\"%s\" must be an integer between %d and %d (%s).",
						   name, range->min, range->max, range->unit)));
	return (int) v;
}

/*
 * url_host_is_loopback
 *		Whether the host of an http:// URL is a loopback address.  Plain HTTP
 *		is allowed only there (tests, local proxies): anything else would send
 *		credentials in clear text.
 */
static bool
url_host_is_loopback(const char *after_scheme)
{
	const char *end;
	char		host[256];
	size_t		len;

	if (after_scheme[0] == '[')
	{
		end = strchr(after_scheme, ']');
		if (end == NULL)
			return false;
		len = end - after_scheme - 1;
		return len == 3 && strncmp(after_scheme + 1, "::1", 3) == 0;
	}
	end = after_scheme + strcspn(after_scheme, ":/?#");
	len = end - after_scheme;
	if (len == 0 || len >= sizeof(host))
		return false;
	memcpy(host, after_scheme, len);
	host[len] = '\0';
	if (pg_strcasecmp(host, "localhost") == 0)
		return true;
	if (strncmp(host, "127.", 4) == 0)
	{
		const char *p;

		for (p = host + 4; *p; p++)
			if (!isdigit((unsigned char) *p) && *p != '.')
				return false;
		return true;
	}
	return false;
}

/*
 * url_host_is_genesys
 *		Whether the host of a URL (after its scheme) is a Genesys Cloud host:
 *		one of the region domains or a name under one (api.mypurecloud.de).
 */
static bool
url_host_is_genesys(const char *after_scheme)
{
	size_t		len = strcspn(after_scheme, ":/?#[]");
	int			i;

	if (after_scheme[0] == '[' || len == 0)
		return false;
	for (i = 0; gc_environments[i] != NULL; i++)
	{
		size_t		dlen = strlen(gc_environments[i]);

		if (len >= dlen &&
			pg_strncasecmp(after_scheme + len - dlen, gc_environments[i], dlen) == 0 &&
			(len == dlen || after_scheme[len - dlen - 1] == '.'))
			return true;
	}
	return false;
}

/*
 * require_superuser_for_host
 *		SSRF guard: a URL outside Genesys Cloud makes the database server send
 *		requests (with the OAuth client's credentials) wherever it points, so
 *		only superusers may set one (the bundled emulator on loopback
 *		included).
 */
static void
require_superuser_for_host(const char *name, const char *value, const char *after_scheme)
{
	if (url_host_is_genesys(after_scheme) || superuser())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("only superusers may point option \"%s\" at a host outside Genesys Cloud", name),
			 errdetail("\"%s\" is not in a Genesys Cloud region domain such as mypurecloud.com or euw2.pure.cloud.", value),
			 errhint("Set the server's environment option instead, or ask a superuser to set \"%s\".", name)));
}

static void
validate_url(const char *name, const char *value)
{
	const char *authority = strstr(value, "://");

	/*
	 * "user@host" would make libcurl connect to host whatever precedes the
	 * '@', defeating the loopback check; credentials never belong in these
	 * URLs anyway.
	 */
	if (authority)
	{
		authority += 3;
		if (memchr(authority, '@', strcspn(authority, "/?#")) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"%s\"", name),
					 errdetail("URLs with user information (user@host) are not accepted; the value is not shown because it may hold a password."),
					 errhint("Put credentials in the user mapping's client_id and client_secret options.")));
	}

	if (strncmp(value, "https://", 8) == 0 && value[8] != '\0' && value[8] != '/')
	{
		require_superuser_for_host(name, value, value + 8);
		return;
	}
	if (strncmp(value, "http://", 7) == 0)
	{
		if (url_host_is_loopback(value + 7))
		{
			require_superuser_for_host(name, value, value + 7);
			return;
		}
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("Plain http:// URLs are accepted only for loopback hosts (127.0.0.0/8, ::1, localhost)."),
				 errhint("Use an https:// URL.")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
			 errdetail("\"%s\" must be an https:// URL such as https://api.mypurecloud.com.", name)));
}

static void
validate_environment(const char *value)
{
	int			i;

	for (i = 0; gc_environments[i]; i++)
		if (strcmp(gc_environments[i], value) == 0)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"environment\": \"%s\"", value),
			 errdetail("Valid Genesys Cloud environments are: %s.", environment_list()),
			 errhint("Use the domain of your organization's region, as in https://login.<environment>.")));
}

/*
 * gc_fdw_validator
 *		Validate the generic options given to a FOREIGN DATA WRAPPER, SERVER,
 *		USER MAPPING or FOREIGN TABLE that uses gc_fdw.
 */
Datum
gc_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options_list = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *cell;
	const GcResourceDef *res = NULL;
	DefElem    *page_size = NULL;

	foreach(cell, options_list)
	{
		DefElem    *def = (DefElem *) lfirst(cell);
		const GcOption *opt = find_option_in(def->defname, catalog);
		char	   *value;

		if (opt == NULL || opt->context != catalog)
		{
			if (opt && opt->kind == GC_OPT_SECRET)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" is accepted only on a user mapping", def->defname),
						 errhint("Use CREATE USER MAPPING FOR ... SERVER ... OPTIONS (client_id '...', client_secret '...').")));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\" for a gc_fdw %s", def->defname,
							object_kind_name(catalog)),
					 opt ? errdetail("\"%s\" is an option of a %s.", def->defname,
									 object_kind_name(opt->context)) : 0,
					 errhint("Valid options in this context are: %s.",
							 valid_options_for(catalog))));
		}

		value = defGetString(def);
		switch (opt->kind)
		{
			case GC_OPT_ENVIRONMENT:
				validate_environment(value);
				break;
			case GC_OPT_URL:
				validate_url(def->defname, value);
				break;
			case GC_OPT_INT:
				(void) parse_int_option(def->defname, value, &opt->range);
				break;
			case GC_OPT_STRING:
				if (value[0] == '\0')
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("option \"%s\" must not be empty", def->defname)));
				break;
			case GC_OPT_SECRET:
				/* never echo the value */
				if (value[0] == '\0')
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("option \"%s\" must not be empty", def->defname)));
				break;
			case GC_OPT_RESOURCE:
				res = gc_resource_lookup(value);
				if (res == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"resource\": \"%s\"", value),
							 errdetail("Valid resources are: %s.", gc_resource_names())));
				break;
			case GC_OPT_PAGE_SIZE:
				page_size = def;
				break;
			case GC_OPT_MODE:
				if (strcmp(value, "auto") != 0 && strcmp(value, "query") != 0 &&
					strcmp(value, "jobs") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"mode\": \"%s\"", value),
							 errdetail("\"mode\" is auto (the jobs API for the part of a range of jobs_min_days or more that the estimate says it reads faster, the details query for the rest), query (the details query) or jobs (the async jobs API).")));
				break;
			case GC_OPT_UNAVAILABLE:
				if (strcmp(value, "warning") != 0 && strcmp(value, "error") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"unavailable_data\": \"%s\"", value),
							 errdetail("\"unavailable_data\" is warning or error: what a jobs read does when the range reaches past the data the jobs API has complete.")));
				break;
			case GC_OPT_ON_CONFLICT:
				if (strcmp(value, "error") != 0 && strcmp(value, "retry") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"on_conflict\": \"%s\"", value),
							 errdetail("\"on_conflict\" is error or retry: what UPDATE does when Genesys Cloud answers that a user changed since it was read (HTTP 409).")));
				break;
			case GC_OPT_CA_FILE:
				/* the backend reads this file: a superuser's decision */
				if (!superuser())
					ereport(ERROR,
							(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							 errmsg("only superusers may set option \"ca_file\""),
							 errdetail("The file is read by the database server process.")));
				if (!is_absolute_path(value))
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"ca_file\": \"%s\"", value),
							 errdetail("\"ca_file\" must be the absolute path of a PEM file of CA certificates.")));
				break;
			case GC_OPT_BOOL:
				{
					bool		b;

					if (!parse_bool(value, &b))
						ereport(ERROR,
								(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
								 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, value),
								 errdetail("\"%s\" must be a boolean, such as true or false.", def->defname)));
				}
				break;
		}
	}

	if (catalog == ForeignTableRelationId && res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("a gc_fdw foreign table needs the option \"resource\""),
				 errhint("Add OPTIONS (resource '...'), one of: %s.", gc_resource_names())));

	if (page_size)
	{
		GcIntRange	range = {1, res->api->max_page_size, res->api->default_page_size, "rows"};

		(void) parse_int_option("page_size", defGetString(page_size), &range);
	}

	PG_RETURN_VOID();
}

/*
 * strip_trailing_slash
 *		Copy of a base URL without trailing slashes, so paths can be appended.
 */
static char *
strip_trailing_slash(const char *url)
{
	char	   *copy = pstrdup(url);
	size_t		len = strlen(copy);

	while (len > 0 && copy[len - 1] == '/')
		copy[--len] = '\0';
	return copy;
}

/*
 * gc_get_server_options
 *		Merge a server's options with the defaults.
 */
void
gc_get_server_options(ForeignServer *server, GcServerOptions *opts)
{
	ListCell   *cell;
	char	   *api_url = NULL;
	char	   *login_url = NULL;

	opts->environment = GC_DEFAULT_ENVIRONMENT;
	opts->ca_file = NULL;
	opts->request_timeout = find_option("request_timeout")->range.dflt;
	opts->connect_timeout = find_option("connect_timeout")->range.dflt;
	opts->max_retries = find_option("max_retries")->range.dflt;
	opts->max_retry_after = find_option("max_retry_after")->range.dflt;

	foreach(cell, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(cell);
		const GcOption *opt = find_option(def->defname);
		char	   *value = defGetString(def);

		if (opt == NULL)
			continue;
		if (strcmp(def->defname, "environment") == 0)
			opts->environment = value;
		else if (strcmp(def->defname, "api_url") == 0)
			api_url = value;
		else if (strcmp(def->defname, "login_url") == 0)
			login_url = value;
		else if (strcmp(def->defname, "ca_file") == 0)
			opts->ca_file = value;
		else if (strcmp(def->defname, "request_timeout") == 0)
			opts->request_timeout = parse_int_option(def->defname, value, &opt->range);
		else if (strcmp(def->defname, "connect_timeout") == 0)
			opts->connect_timeout = parse_int_option(def->defname, value, &opt->range);
		else if (strcmp(def->defname, "max_retries") == 0)
			opts->max_retries = parse_int_option(def->defname, value, &opt->range);
		else if (strcmp(def->defname, "max_retry_after") == 0)
			opts->max_retry_after = parse_int_option(def->defname, value, &opt->range);
	}

	opts->api_url = api_url ? strip_trailing_slash(api_url)
		: psprintf("https://api.%s", opts->environment);
	opts->login_url = login_url ? strip_trailing_slash(login_url)
		: psprintf("https://login.%s", opts->environment);
}

/*
 * apply_shared_options
 *		Options a foreign table can take from its server or set itself.
 */
static void
apply_shared_options(List *options, GcTableOptions *opts)
{
	ListCell   *cell;

	foreach(cell, options)
	{
		DefElem    *def = (DefElem *) lfirst(cell);
		const char *value = defGetString(def);

		if (strcmp(def->defname, "pushdown") == 0)
		{
			/* the validator accepted it with the same parse_bool() */
			if (!parse_bool(value, &opts->pushdown))
				opts->pushdown = true;
		}
		else if (strcmp(def->defname, "mode") == 0)
			opts->mode = strcmp(value, "jobs") == 0 ? GC_READ_JOBS :
				strcmp(value, "query") == 0 ? GC_READ_QUERY : GC_READ_AUTO;
		else if (strcmp(def->defname, "jobs_min_days") == 0)
			opts->jobs_min_days = parse_int_option(def->defname, value,
												   &find_option("jobs_min_days")->range);
		else if (strcmp(def->defname, "jobs_poll_interval") == 0)
			opts->jobs_poll_interval = parse_int_option(def->defname, value,
														&find_option("jobs_poll_interval")->range);
		else if (strcmp(def->defname, "concurrency") == 0)
			opts->concurrency = parse_int_option(def->defname, value,
												 &find_option("concurrency")->range);
		else if (strcmp(def->defname, "unavailable_data") == 0)
			opts->unavailable_error = strcmp(value, "error") == 0;
		else if (strcmp(def->defname, "on_conflict") == 0)
			opts->retry_conflicts = strcmp(value, "retry") == 0;
	}
}

/*
 * gc_get_table_options
 *		A foreign table's resource and page size.
 */
void
gc_get_table_options(ForeignTable *table, GcTableOptions *opts)
{
	ListCell   *cell;
	const char *page_size = NULL;

	opts->resource = NULL;
	opts->rows_per_day = 0;
	opts->pushdown = true;
	opts->mode = GC_READ_AUTO;
	opts->jobs_min_days = find_option("jobs_min_days")->range.dflt;
	opts->jobs_poll_interval = find_option("jobs_poll_interval")->range.dflt;
	opts->concurrency = GC_DEFAULT_CONCURRENCY;
	opts->unavailable_error = false;
	opts->retry_conflicts = false;
	/* options a table shares with its server: the server's, then the table's */
	apply_shared_options(GetForeignServer(table->serverid)->options, opts);
	apply_shared_options(table->options, opts);
	foreach(cell, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(cell);

		if (strcmp(def->defname, "resource") == 0)
			opts->resource = gc_resource_lookup(defGetString(def));
		else if (strcmp(def->defname, "page_size") == 0)
			page_size = defGetString(def);
		else if (strcmp(def->defname, "rows_per_day") == 0)
			opts->rows_per_day = parse_int_option(def->defname, defGetString(def),
												  &find_option("rows_per_day")->range);
	}

	if (opts->resource == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no valid \"resource\" option",
						get_rel_name(table->relid)),
				 errhint("ALTER FOREIGN TABLE ... OPTIONS (ADD resource '...'), one of: %s.",
						 gc_resource_names())));

	opts->page_size = opts->resource->api->default_page_size;
	if (page_size)
	{
		GcIntRange	range = {1, opts->resource->api->max_page_size,
		opts->resource->api->default_page_size, "rows"};

		opts->page_size = parse_int_option("page_size", page_size, &range);
	}
}

/*
 * gc_get_column_key
 *		The JSON key (or dotted path) a column reads: its "key" option, else
 *		the catalogue's key for a column of that name, else the camelCase form
 *		of its name.
 */
char *
gc_get_column_key(Oid relid, AttrNumber attnum, const GcResourceDef *res)
{
	List	   *options = GetForeignColumnOptions(relid, attnum);
	ListCell   *cell;
	char	   *colname;
	const GcColumnDef *col;

	foreach(cell, options)
	{
		DefElem    *def = (DefElem *) lfirst(cell);

		if (strcmp(def->defname, "key") == 0)
			return defGetString(def);
	}

	colname = get_attname(relid, attnum, false);
	col = gc_resource_column(res, colname);
	if (col)
		return pstrdup(col->key);
	return gc_snake_to_camel(colname);
}

/*
 * gc_get_connection
 *		Server options and credentials for scanning table as userid.  Errors,
 *		naming the mapping, when the credentials are incomplete.
 */
GcConnection *
gc_get_connection(ForeignTable *table, Oid userid)
{
	ForeignServer *server = GetForeignServer(table->serverid);
	UserMapping *um;
	GcConnection *conn = palloc0(sizeof(GcConnection));
	ListCell   *cell;

	/* the user's own mapping, else the PUBLIC one, as GetUserMapping looks */
	if (!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
							   ObjectIdGetDatum(server->serverid)) &&
		!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							   ObjectIdGetDatum(server->serverid)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("no user mapping for \"%s\" on server \"%s\"",
						GetUserNameFromId(userid, false), server->servername),
				 errdetail("gc_fdw takes the OAuth client credentials it authenticates with from the user mapping."),
				 errhint("CREATE USER MAPPING FOR %s SERVER %s OPTIONS (client_id '...', client_secret '...');",
						 quote_identifier(GetUserNameFromId(userid, false)),
						 quote_identifier(server->servername))));
	um = GetUserMapping(userid, server->serverid);

	conn->serverid = server->serverid;
	conn->umid = um->umid;
	conn->server_name = pstrdup(server->servername);
	conn->user_name = OidIsValid(um->userid) ?
		GetUserNameFromId(um->userid, false) : pstrdup("public");
	gc_get_server_options(server, &conn->opts);

	foreach(cell, um->options)
	{
		DefElem    *def = (DefElem *) lfirst(cell);

		if (strcmp(def->defname, "client_id") == 0)
			conn->client_id = defGetString(def);
		else if (strcmp(def->defname, "client_secret") == 0)
			conn->client_secret = defGetString(def);
	}

	if (conn->client_id == NULL || conn->client_secret == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for \"%s\" on server \"%s\" has no %s",
						conn->user_name, conn->server_name,
						conn->client_id == NULL ? "client_id" : "client_secret"),
				 errdetail("gc_fdw authenticates with the OAuth client credentials grant, which needs both client_id and client_secret."),
				 errhint("ALTER USER MAPPING FOR %s SERVER %s OPTIONS (ADD %s '...');",
						 quote_identifier(conn->user_name),
						 quote_identifier(conn->server_name),
						 conn->client_id == NULL ? "client_id" : "client_secret")));
	return conn;
}
