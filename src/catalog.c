/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		  The Genesys resources gc_fdw can scan: for each, the API request
 *		  that lists it, its page-size limits and its columns with their
 *		  JSON keys and SQL types.
 *
 * This is the one source of truth for table shapes: the scanner resolves
 * column keys through it and the documentation (docs/tables.md) mirrors it.
 * It owns no I/O and no PostgreSQL catalog access.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "gc_fdw.h"
#include "lib/stringinfo.h"

/* GET /api/v2/users: one row per user, all states unless WHERE narrows it */
static const GcColumnDef users_columns[] = {
	{"id", "uuid", "id"},
	{"name", "text", "name"},
	{"email", "text", "email"},
	{"username", "text", "username"},
	{"state", "text", "state"},
	{"title", "text", "title"},
	{"department", "text", "department"},
	{"division_id", "uuid", "division.id"},
	{"division_name", "text", "division.name"},
	{"manager_id", "uuid", "manager.id"},
	{"version", "integer", "version"},
	{"acd_auto_answer", "boolean", "acdAutoAnswer"},
	{"date_last_login", "timestamptz", "dateLastLogin"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

/* POST /api/v2/analytics/conversations/details/query: one row per conversation */
static const GcColumnDef conversations_columns[] = {
	{"conversation_id", "uuid", "conversationId"},
	{"conversation_start", "timestamptz", "conversationStart"},
	{"conversation_end", "timestamptz", "conversationEnd"},
	{"originating_direction", "text", "originatingDirection"},
	{"division_ids", "uuid[]", "divisionIds"},
	{"media_stats_min_conversation_mos", "float8", "mediaStatsMinConversationMos"},
	{"media_stats_min_conversation_r_factor", "float8", "mediaStatsMinConversationRFactor"},
	{"conversation_initiator", "text", "conversationInitiator"},
	{"customer_participation", "boolean", "customerParticipation"},
	{"external_tag", "text", "externalTag"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

static const GcResourceDef resources[] = {
	{
		"users", GC_RESOURCE_USERS,
		"GET", "/api/v2/users",
		500, 500, "id", users_columns
	},
	{
		"conversations", GC_RESOURCE_CONVERSATIONS,
		"POST", "/api/v2/analytics/conversations/details/query",
		100, 100, "conversationId", conversations_columns
	},
	{NULL}
};

/*
 * gc_resource_lookup
 *		The resource named by a table's "resource" option, or NULL.
 */
const GcResourceDef *
gc_resource_lookup(const char *name)
{
	const GcResourceDef *res;

	for (res = resources; res->name; res++)
		if (strcmp(res->name, name) == 0)
			return res;
	return NULL;
}

/*
 * gc_resource_names
 *		Comma-separated list of the valid resource names, for hints.
 */
const char *
gc_resource_names(void)
{
	StringInfoData buf;
	const GcResourceDef *res;

	initStringInfo(&buf);
	for (res = resources; res->name; res++)
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", res->name);
	return buf.data;
}

/*
 * gc_resource_column
 *		The catalogue's definition of a column of res by name, or NULL.
 */
const GcColumnDef *
gc_resource_column(const GcResourceDef *res, const char *colname)
{
	const GcColumnDef *col;

	for (col = res->columns; col->name; col++)
		if (strcmp(col->name, colname) == 0)
			return col;
	return NULL;
}

/*
 * gc_snake_to_camel
 *		The JSON key a column name maps to by rule: "date_last_login" ->
 *		"dateLastLogin".  Used for columns the catalogue does not know.
 */
char *
gc_snake_to_camel(const char *name)
{
	StringInfoData buf;
	bool		upper_next = false;
	const char *p;

	initStringInfo(&buf);
	for (p = name; *p; p++)
	{
		if (*p == '_')
		{
			upper_next = buf.len > 0;
			continue;
		}
		appendStringInfoChar(&buf, upper_next ? toupper((unsigned char) *p) : *p);
		upper_next = false;
	}
	return buf.data;
}
