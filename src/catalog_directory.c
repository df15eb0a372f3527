/*-------------------------------------------------------------------------
 *
 * catalog_directory.c
 *		  The catalogue's directory: the entity listings that give ids
 *		  their names: users, queues and their members, wrap-up codes,
 *		  divisions, groups, skills, languages, locations and presence
 *		  definitions.
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
	{GC_LEVEL_USER, "id", GC_PUSH_IDS, "id", "", GC_SHAPE_EQ | GC_SHAPE_JOIN | GC_SHAPE_UUID,
	NULL, NULL},
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

/*
 * The rest of the directory.  Each listing takes pageSize and pageNumber,
 * most an id list (repeated or comma-joined), some a name (matched by
 * prefix: a name condition is sent, and rechecked locally) and a division.
 */
#define ID_LIST {GC_LEVEL_ENTITY, "id", GC_PUSH_IDS, "id", "", \
	GC_SHAPE_EQ | GC_SHAPE_JOIN | GC_SHAPE_UUID, NULL, NULL}
/* wrap-up code ids are not all UUIDs (ININ-WRAP-UP-TIMEOUT) */
#define TEXT_ID_LIST {GC_LEVEL_ENTITY, "id", GC_PUSH_IDS, "id", "", GC_SHAPE_EQ | GC_SHAPE_JOIN, \
	NULL, NULL}
#define NAME_PARAM {GC_LEVEL_ENTITY, "name", GC_PUSH_PARAM, "name", "", \
	GC_SHAPE_EQ | GC_SHAPE_SCALAR_ONLY, NULL, NULL}
#define DIVISION_PARAM {GC_LEVEL_ENTITY, "division.id", GC_PUSH_PARAM, "divisionId", "", \
	GC_SHAPE_EQ | GC_SHAPE_UUID, NULL, NULL}
#define END_OF_PUSHABLES {0, NULL, 0, NULL, NULL, 0, NULL, NULL}

/* Entity-listing defaults of the directory's APIs, and their largest page */
#define DIRECTORY_LISTING(max) \
	.driver = &gc_listing_driver, \
	.method = "GET", \
	.array_key = "entities", \
	.top_id_key = "id", \
	.default_page_size = 100, \
	.max_page_size = max

/* The service level settings of one media type of a queue */
#define SERVICE_LEVEL(media) \
	{#media "_service_level_percentage", "float8", "mediaSettings." #media ".serviceLevel.percentage"}, \
	{#media "_service_level_duration_ms", "bigint", "mediaSettings." #media ".serviceLevel.durationMs"}

/* GET /api/v2/routing/queues */
static const GcColumnDef queues_columns[] = {
	{"id", "uuid", "id"},
	{"name", "text", "name"},
	{"division_id", "uuid", "division.id"},
	{"division_name", "text", "division.name"},
	{"description", "text", "description"},
	{"member_count", "integer", "memberCount"},
	{"joined_member_count", "integer", "joinedMemberCount"},
	{"date_created", "timestamptz", "dateCreated"},
	{"date_modified", "timestamptz", "dateModified"},
	SERVICE_LEVEL(call),
	SERVICE_LEVEL(chat),
	SERVICE_LEVEL(email),
	SERVICE_LEVEL(message),
	SERVICE_LEVEL(callback),
	{"acw_timeout_ms", "bigint", "acwSettings.timeoutMs"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

static const GcPushableDef queues_pushables[] = {
	ID_LIST, NAME_PARAM, DIVISION_PARAM, END_OF_PUSHABLES
};

static const GcApiDef queues_api = {
	DIRECTORY_LISTING(500),
	.id_param = "id",
	.noun = "queues",
	.item = "queue",
	.family = "queues",
	.path = "/api/v2/routing/queues",
	.pushables = queues_pushables,
	.default_rows = 200,
};

/*
 * GET /api/v2/routing/queues/{queueId}/members: a member is a user (its id
 * is the user's) or a group's users; the listing carries no total.
 */
static const GcColumnDef queue_members_columns[] = {
	{"queue_id", "uuid", "queueId"},
	{"user_id", "uuid", "id"},
	{"name", "text", "name"},
	{"ring_number", "integer", "ringNumber"},
	{"joined", "boolean", "joined"},
	{"member_by", "text", "memberBy"},
	{"routing_status", "text", "routingStatus.status"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

static const GcPushableDef queue_members_pushables[] = {
	{GC_LEVEL_ENTITY, "queueId", GC_PUSH_PATH, "queueId", "",
	GC_SHAPE_EQ | GC_SHAPE_JOIN | GC_SHAPE_UUID, NULL, NULL},
	END_OF_PUSHABLES
};

static const GcApiDef queue_members_api = {
	DIRECTORY_LISTING(100),
	.noun = "queue members",
	.item = "queue member",
	.family = "queue members",
	.path = "/api/v2/routing/queues/{queueId}/members",
	.parent = &queues_api,
	.parent_key = "queueId",
	.pushables = queue_members_pushables,
	.default_rows = 2000,
};

/*
 * GET /api/v2/routing/wrapupcodes: ids are text, so that a segment's
 * wrap_up_code joins directly (system codes such as ININ-WRAP-UP-TIMEOUT
 * are not in the listing)
 */
static const GcColumnDef wrapup_codes_columns[] = {
	{"id", "text", "id"},
	{"name", "text", "name"},
	{"division_id", "uuid", "division.id"},
	{"description", "text", "description"},
	{"date_created", "timestamptz", "dateCreated"},
	{"date_modified", "timestamptz", "dateModified"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

static const GcPushableDef wrapup_codes_pushables[] = {
	TEXT_ID_LIST, NAME_PARAM, DIVISION_PARAM, END_OF_PUSHABLES
};

static const GcApiDef wrapup_codes_api = {
	DIRECTORY_LISTING(500),
	.id_param = "id",
	.noun = "wrap-up codes",
	.item = "wrap-up code",
	.family = "wrap-up codes",
	.path = "/api/v2/routing/wrapupcodes",
	.pushables = wrapup_codes_pushables,
	.default_rows = 200,
};

/* GET /api/v2/authorization/divisions */
static const GcColumnDef divisions_columns[] = {
	{"id", "uuid", "id"},
	{"name", "text", "name"},
	{"description", "text", "description"},
	{"home_division", "boolean", "homeDivision"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

static const GcPushableDef divisions_pushables[] = {
	ID_LIST, NAME_PARAM, END_OF_PUSHABLES
};

static const GcApiDef divisions_api = {
	DIRECTORY_LISTING(500),
	.id_param = "id",
	.noun = "divisions",
	.item = "division",
	.family = "divisions",
	.path = "/api/v2/authorization/divisions",
	.pushables = divisions_pushables,
	.default_rows = 20,
};

/* GET /api/v2/groups */
static const GcColumnDef groups_columns[] = {
	{"id", "uuid", "id"},
	{"name", "text", "name"},
	{"description", "text", "description"},
	{"type", "text", "type"},
	{"state", "text", "state"},
	{"member_count", "integer", "memberCount"},
	{"visibility", "text", "visibility"},
	{"date_modified", "timestamptz", "dateModified"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

static const GcPushableDef id_list_pushables[] = {
	ID_LIST, END_OF_PUSHABLES
};

static const GcApiDef groups_api = {
	DIRECTORY_LISTING(500),
	.id_param = "id",
	.noun = "groups",
	.item = "group",
	.family = "groups",
	.path = "/api/v2/groups",
	.pushables = id_list_pushables,
	.default_rows = 100,
};

/* GET /api/v2/routing/skills and /api/v2/routing/languages */
static const GcColumnDef skills_columns[] = {
	{"id", "uuid", "id"},
	{"name", "text", "name"},
	{"state", "text", "state"},
	{"date_modified", "timestamptz", "dateModified"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

static const GcPushableDef id_name_pushables[] = {
	ID_LIST, NAME_PARAM, END_OF_PUSHABLES
};

static const GcApiDef skills_api = {
	DIRECTORY_LISTING(500),
	.id_param = "id",
	.noun = "skills",
	.item = "skill",
	.family = "skills",
	.path = "/api/v2/routing/skills",
	.pushables = id_name_pushables,
	.default_rows = 100,
};

static const GcApiDef languages_api = {
	DIRECTORY_LISTING(500),
	.id_param = "id",
	.noun = "languages",
	.item = "language",
	.family = "languages",
	.path = "/api/v2/routing/languages",
	.pushables = id_name_pushables,
	.default_rows = 50,
};

/* GET /api/v2/locations */
static const GcColumnDef locations_columns[] = {
	{"id", "uuid", "id"},
	{"name", "text", "name"},
	{"street", "text", "address.street1"},
	{"city", "text", "address.city"},
	{"region", "text", "address.state"},
	{"country", "text", "address.country"},
	{"postal_code", "text", "address.zipcode"},
	{"state", "text", "state"},
	{"path", "text[]", "path"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

static const GcApiDef locations_api = {
	DIRECTORY_LISTING(500),
	.id_param = "id",
	.noun = "locations",
	.item = "location",
	.family = "locations",
	.path = "/api/v2/locations",
	.pushables = id_list_pushables,
	.default_rows = 50,
};

/*
 * GET /api/v2/presencedefinitions: the organization's presences, the
 * deactivated ones too (deleted=all); name is the label in the
 * organization's default language, labels every label
 */
static const GcColumnDef presence_definitions_columns[] = {
	{"id", "uuid", "id"},
	{"name", "text", "name"},
	{"system_presence", "text", "systemPresence"},
	{"deactivated", "boolean", "deactivated"},
	{"primary", "boolean", "primary"},
	{"labels", "jsonb", "languageLabels"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

static const GcApiDef presence_definitions_api = {
	DIRECTORY_LISTING(500),
	.noun = "presence definitions",
	.item = "presence definition",
	.family = "presence definitions",
	.path = "/api/v2/presencedefinitions",
	.fixed_params = "deleted=all",
	.default_rows = 20,
};

const GcResourceDef gc_directory_resources[] = {
	{"users", &users_api, GC_LEVEL_USER, "id", users_columns, 1, true},
	{"queues", &queues_api, GC_LEVEL_ENTITY, "id", queues_columns, 1, false},
	{"queue_members", &queue_members_api, GC_LEVEL_ENTITY, "id", queue_members_columns, 1, false},
	{"wrapup_codes", &wrapup_codes_api, GC_LEVEL_ENTITY, "id", wrapup_codes_columns, 1, false},
	{"divisions", &divisions_api, GC_LEVEL_ENTITY, "id", divisions_columns, 1, false},
	{"groups", &groups_api, GC_LEVEL_ENTITY, "id", groups_columns, 1, false},
	{"skills", &skills_api, GC_LEVEL_ENTITY, "id", skills_columns, 1, false},
	{"languages", &languages_api, GC_LEVEL_ENTITY, "id", skills_columns, 1, false},
	{"locations", &locations_api, GC_LEVEL_ENTITY, "id", locations_columns, 1, false},
	{"presence_definitions", &presence_definitions_api, GC_LEVEL_ENTITY, "id",
	presence_definitions_columns, 1, false},
	{.name = NULL}
};
