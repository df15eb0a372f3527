/*-------------------------------------------------------------------------
 *
 * catalog_directory.c
 *		  The catalogue's directory: entity listings that give ids their
 *		  names (users, ...).
 *
 * Entries only (catalog.c has the functions that read them): each API's
 * path, paging, the parameters that narrow it and its driver; each table's
 * columns with their JSON keys and SQL types.  Owns no I/O.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "gc_fdw.h"

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

static const char *const user_states[] = {"active", "inactive", "deleted", NULL};

static const GcPushableDef users_pushables[] = {
	{GC_LEVEL_USER, "id", GC_PUSH_IDS, "id", "", GC_SHAPE_EQ | GC_SHAPE_JOIN, NULL, NULL},
	{GC_LEVEL_USER, "state", GC_PUSH_PARAM, "state", "",
	GC_SHAPE_EQ | GC_SHAPE_SCALAR_ONLY | GC_SHAPE_ALWAYS, user_states, "any"},
	{0, NULL, 0, NULL, NULL, 0, NULL, NULL}
};

static const char *const users_expands[] = {"dateLastLogin", NULL};

/* GET /api/v2/users: the directory of users, every state */
static const GcApiDef users_api = {
	.noun = "users",
	.item = "user",
	.family = "users",
	.driver = &gc_listing_driver,
	.method = "GET",
	.path = "/api/v2/users",
	.array_key = "entities",
	.top_id_key = "id",
	.default_page_size = 500,
	.max_page_size = 500,
	.id_param = "id",
	.expands = users_expands,
	.pushables = users_pushables,
	.default_rows = 5000,
};

const GcResourceDef gc_directory_resources[] = {
	{"users", &users_api, GC_LEVEL_USER, "id", users_columns, 1, true},
	{.name = NULL}
};
