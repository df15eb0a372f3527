/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		  The catalogue of the Genesys resources gc_fdw can scan: how the
 *		  objects of a page nest (levels), and the functions that find
 *		  resources, columns and levels.  The entries themselves are in
 *		  catalog_directory.c (entity listings) and catalog_analytics.c (the
 *		  analytics families): for each API, the request that lists it
 *		  (paths, paging, the fields that narrow it, its driver), and for
 *		  each table its columns with their JSON keys and SQL types.
 *
 * This is the one source of truth for resources: the planner, the scan and
 * IMPORT FOREIGN SCHEMA read it; docs/tables.md mirrors it.  Adding a table
 * read by an existing driver is an entry in the catalogue (and docs and
 * tests).  It owns no I/O and no PostgreSQL catalog access.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "gc_fdw.h"
#include "lib/stringinfo.h"

/* The resources in the order IMPORT FOREIGN SCHEMA creates them */
static const GcResourceDef *const resource_lists[] = {
	gc_directory_resources,
	gc_analytics_resources
};

/*
 * How the objects of a page nest: each level's name (usable as a "level:"
 * key prefix), the level it sits in, and the member of that level's
 * object that holds it (an array; for attributes, an object whose members
 * are the rows).  Top levels have no parent: they are a page's array.
 * Indexed by GcLevel.
 */
static const GcLevelDef levels[] = {
	[GC_LEVEL_USER] = {"user", -1, NULL, "id", false},
	[GC_LEVEL_CONVERSATION] = {"conversation", -1, NULL, "conversationId", false},
	[GC_LEVEL_PARTICIPANT] = {"participant", GC_LEVEL_CONVERSATION, "participants",
	"participantId", false},
	[GC_LEVEL_SESSION] = {"session", GC_LEVEL_PARTICIPANT, "sessions", "sessionId", false},
	[GC_LEVEL_SEGMENT] = {"segment", GC_LEVEL_SESSION, "segments", NULL, false},
	[GC_LEVEL_METRIC] = {"metric", GC_LEVEL_SESSION, "metrics", NULL, false},
	[GC_LEVEL_ATTRIBUTE] = {"attribute", GC_LEVEL_PARTICIPANT, "attributes", NULL, true},
	[GC_LEVEL_USER_DETAIL] = {"user_detail", -1, NULL, "userId", false},
	[GC_LEVEL_PRESENCE] = {"presence", GC_LEVEL_USER_DETAIL, "primaryPresence", NULL, false},
	[GC_LEVEL_ROUTING_STATUS] = {"routing_status", GC_LEVEL_USER_DETAIL, "routingStatus",
	NULL, false},
	[GC_LEVEL_ENTITY] = {"entity", -1, NULL, "id", false},
};

StaticAssertDecl(lengthof(levels) == GC_LEVEL_COUNT, "a GcLevelDef for every GcLevel");

/*
 * gc_level_def
 *		How objects of level nest.
 */
const GcLevelDef *
gc_level_def(GcLevel level)
{
	return &levels[level];
}

/*
 * gc_level_within
 *		Whether objects of level row_level sit in (or are) objects of
 *		level: a segment row is within its session, participant and
 *		conversation.
 */
bool
gc_level_within(GcLevel row_level, GcLevel level)
{
	int			l = (int) row_level;

	while (l >= 0 && l != (int) level)
		l = levels[l].parent;
	return l >= 0;
}

/*
 * gc_resource_lookup
 *		The resource named by a table's "resource" option, or NULL.
 */
const GcResourceDef *
gc_resource_lookup(const char *name)
{
	const GcResourceDef *res;
	int			i;

	for (i = 0; (res = gc_resource_at(i)) != NULL; i++)
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
	int			i;

	initStringInfo(&buf);
	for (i = 0; (res = gc_resource_at(i)) != NULL; i++)
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
 * gc_interval_level
 *		The level whose objects carry res's interval field: the API's top
 *		objects, or res's own rows (status records).
 */
GcLevel
gc_interval_level(const GcResourceDef *res)
{
	return res->api->interval_on_rows ? res->level : res->api->interval_level;
}

/*
 * gc_resource_at
 *		The i-th resource (0-based), or NULL past the end; for IMPORT
 *		FOREIGN SCHEMA.
 */
const GcResourceDef *
gc_resource_at(int i)
{
	int			l;

	if (i < 0)
		return NULL;
	for (l = 0; l < (int) lengthof(resource_lists); l++)
	{
		const GcResourceDef *list = resource_lists[l];
		int			n = 0;

		while (list[n].name)
			n++;
		if (i < n)
			return &list[i];
		i -= n;
	}
	return NULL;
}

/*
 * gc_level_lookup
 *		The level named by a "level:" key prefix of len bytes, or -1.
 */
int
gc_level_lookup(const char *name, size_t len)
{
	int			i;

	for (i = 0; i < (int) lengthof(levels); i++)
		if (strlen(levels[i].name) == len && strncmp(levels[i].name, name, len) == 0)
			return i;
	return -1;
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
