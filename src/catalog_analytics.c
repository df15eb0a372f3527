/*-------------------------------------------------------------------------
 *
 * catalog_analytics.c
 *		  The catalogue's analytics families: the conversation details
 *		  (query, async jobs, lookup by id) and the six tables of the
 *		  conversation model, and the users' status history (user details
 *		  query and jobs) as user_presence and user_routing_status.
 *
 * Entries only (catalog.c has the functions that read them): each API's
 * paths, paging, the fields that narrow it and its driver; each table's
 * columns with their JSON keys and SQL types.  Owns no I/O.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "gc_fdw.h"

/*
 * Column keys are JSON keys or dotted paths relative to the row's own object.
 * A "level:" prefix reads an ancestor instead ("conversation:conversationId"
 * on a segment row), so every child row carries its ancestors' ids and
 * conversation_start: joins are natural and intervals push from any table.
 */

/* Ancestor columns every conversation-derived table starts with */
#define GC_CONVERSATION_KEYS \
	{"conversation_id", "uuid", "conversation:conversationId"}, \
	{"conversation_start", "timestamptz", "conversation:conversationStart"}

/* One row per conversation */
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
	{"self_served", "boolean", "selfServed"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

/* One row per participant: key (conversation_id, participant_id) */
static const GcColumnDef participants_columns[] = {
	GC_CONVERSATION_KEYS,
	{"participant_id", "uuid", "participantId"},
	{"participant_name", "text", "participantName"},
	{"purpose", "text", "purpose"},
	{"user_id", "uuid", "userId"},
	{"external_contact_id", "uuid", "externalContactId"},
	{"external_organization_id", "uuid", "externalOrganizationId"},
	{"team_id", "uuid", "teamId"},
	{"flagged_reason", "text", "flaggedReason"},
	{"screen_recording", "boolean", "screenRecording"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

/* One row per session: key (conversation_id, session_id) */
static const GcColumnDef sessions_columns[] = {
	GC_CONVERSATION_KEYS,
	{"participant_id", "uuid", "participant:participantId"},
	{"session_id", "uuid", "sessionId"},
	{"media_type", "text", "mediaType"},
	{"direction", "text", "direction"},
	{"ani", "text", "ani"},
	{"dnis", "text", "dnis"},
	{"session_dnis", "text", "sessionDnis"},
	{"address_from", "text", "addressFrom"},
	{"address_to", "text", "addressTo"},
	{"address_self", "text", "addressSelf"},
	{"address_other", "text", "addressOther"},
	{"provider", "text", "provider"},
	{"remote", "text", "remote"},
	{"edge_id", "uuid", "edgeId"},
	{"protocol_call_id", "text", "protocolCallId"},
	{"recording", "boolean", "recording"},
	{"requested_routings", "text[]", "requestedRoutings"},
	{"used_routing", "text", "usedRouting"},
	{"flow_id", "uuid", "flow.flowId"},
	{"flow_name", "text", "flow.flowName"},
	{"flow_type", "text", "flow.flowType"},
	{"flow_version", "text", "flow.flowVersion"},
	{"outbound_campaign_id", "uuid", "outboundCampaignId"},
	{"callback_numbers", "text[]", "callbackNumbers"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

/* One row per segment: key (conversation_id, session_id, segment_start, segment_type) */
static const GcColumnDef segments_columns[] = {
	GC_CONVERSATION_KEYS,
	{"participant_id", "uuid", "participant:participantId"},
	{"session_id", "uuid", "session:sessionId"},
	{"segment_start", "timestamptz", "segmentStart"},
	{"segment_end", "timestamptz", "segmentEnd"},
	{"segment_type", "text", "segmentType"},
	{"queue_id", "uuid", "queueId"},
	{"wrap_up_code", "text", "wrapUpCode"},
	{"wrap_up_note", "text", "wrapUpNote"},
	{"disconnect_type", "text", "disconnectType"},
	{"conference", "boolean", "conference"},
	{"sip_response_codes", "integer[]", "sipResponseCodes"},
	{"q850_response_codes", "integer[]", "q850ResponseCodes"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

/* One row per metric: key (conversation_id, session_id, name, emit_date) */
static const GcColumnDef session_metrics_columns[] = {
	GC_CONVERSATION_KEYS,
	{"participant_id", "uuid", "participant:participantId"},
	{"session_id", "uuid", "session:sessionId"},
	{"name", "text", "name"},
	{"value", "bigint", "value"},
	{"emit_date", "timestamptz", "emitDate"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

/* One row per participant attribute (async job results carry them) */
static const GcColumnDef participant_attributes_columns[] = {
	GC_CONVERSATION_KEYS,
	{"participant_id", "uuid", "participant:participantId"},
	{"name", "text", "name"},
	{"value", "text", "value"},
	{NULL, NULL, NULL}
};

/*
 * The users' status history (analytics user details): one row per record,
 * a record known by (user_id, start_time); a record still open has no
 * end_time.
 */
static const GcColumnDef user_presence_columns[] = {
	{"user_id", "uuid", "user_detail:userId"},
	{"start_time", "timestamptz", "startTime"},
	{"end_time", "timestamptz", "endTime"},
	{"system_presence", "text", "systemPresence"},
	{"organization_presence_id", "uuid", "organizationPresenceId"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

static const GcColumnDef user_routing_status_columns[] = {
	{"user_id", "uuid", "user_detail:userId"},
	{"start_time", "timestamptz", "startTime"},
	{"end_time", "timestamptz", "endTime"},
	{"routing_status", "text", "routingStatus"},
	{"raw", "jsonb", "."},
	{NULL, NULL, NULL}
};

/*
 * The fields each API narrows its request by.  A condition is pushed only
 * where the request it becomes returns a superset of the rows that satisfy
 * it (every condition also stays a local qual).  A segment filter on a
 * participant's or session's field matches the conversation of every row
 * with that value, since in Genesys every participant has sessions and
 * every session segments.
 */
#define CONV_FILTER(level, field, dimension, shapes) \
	{level, field, GC_PUSH_FILTER, "conversationFilters", dimension, shapes, NULL, NULL}
#define SEG_FILTER(level, field) \
	{level, field, GC_PUSH_FILTER, "segmentFilters", field, GC_SHAPE_EQ, NULL, NULL}

static const GcPushableDef conversation_pushables[] = {
	{GC_LEVEL_CONVERSATION, "conversationId", GC_PUSH_IDS, "id", "",
	GC_SHAPE_EQ | GC_SHAPE_UUID, NULL, NULL},
	CONV_FILTER(GC_LEVEL_CONVERSATION, "originatingDirection", "originatingDirection", GC_SHAPE_EQ),
	CONV_FILTER(GC_LEVEL_CONVERSATION, "externalTag", "externalTag", GC_SHAPE_EQ),
	CONV_FILTER(GC_LEVEL_CONVERSATION, "divisionIds", "divisionId", GC_SHAPE_MEMBER | GC_SHAPE_UUID),
	CONV_FILTER(GC_LEVEL_CONVERSATION, "conversationEnd", "conversationEnd", GC_SHAPE_NULLTEST),
	SEG_FILTER(GC_LEVEL_PARTICIPANT, "purpose"),
	SEG_FILTER(GC_LEVEL_PARTICIPANT, "userId"),
	SEG_FILTER(GC_LEVEL_SESSION, "mediaType"),
	SEG_FILTER(GC_LEVEL_SESSION, "direction"),
	SEG_FILTER(GC_LEVEL_SEGMENT, "queueId"),
	SEG_FILTER(GC_LEVEL_SEGMENT, "segmentType"),
	SEG_FILTER(GC_LEVEL_SEGMENT, "wrapUpCode"),
	SEG_FILTER(GC_LEVEL_SEGMENT, "disconnectType"),
	{0, NULL, 0, NULL, NULL, 0, NULL, NULL}
};

static const char *const system_presences[] = {
	"AVAILABLE", "AWAY", "BUSY", "BREAK", "MEAL", "MEETING", "TRAINING", "ON_QUEUE",
	"IDLE", "OFFLINE", NULL
};
static const char *const routing_statuses[] = {
	"OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING", NULL
};

static const GcPushableDef user_details_pushables[] = {
	{GC_LEVEL_USER_DETAIL, "userId", GC_PUSH_FILTER, "userFilters", "userId",
	GC_SHAPE_EQ | GC_SHAPE_JOIN | GC_SHAPE_UUID, NULL, NULL},
	{GC_LEVEL_PRESENCE, "systemPresence", GC_PUSH_FILTER, "presenceFilters",
	"systemPresence", GC_SHAPE_EQ, system_presences, NULL},
	{GC_LEVEL_PRESENCE, "organizationPresenceId", GC_PUSH_FILTER, "presenceFilters",
	"organizationPresenceId", GC_SHAPE_EQ, NULL, NULL},
	{GC_LEVEL_ROUTING_STATUS, "routingStatus", GC_PUSH_FILTER, "routingStatusFilters",
	"routingStatus", GC_SHAPE_EQ, routing_statuses, NULL},
	{0, NULL, 0, NULL, NULL, 0, NULL, NULL}
};

/* The conversation details: query, async jobs and lookup by id */
static const GcApiDef conversations_api = {
	.noun = "conversations",
	.item = "conversation",
	.filter_examples = "media_type, queue_id, purpose, ...",
	.family = "conversation details",
	.driver = &gc_details_driver,
	.method = "POST",
	.path = "/api/v2/analytics/conversations/details/query",
	.array_key = "conversations",
	.top_id_key = "conversationId",
	.default_page_size = 100,
	.max_page_size = 100,
	.interval_level = GC_LEVEL_CONVERSATION,
	.interval_field = "conversationStart",
	.interval_column = "conversation_start",
	.order_by = "conversationStart",
	.jobs_path = "/api/v2/analytics/conversations/details/jobs",
	.lookup_path = "/api/v2/analytics/conversations/details",
	.pushables = conversation_pushables,
	.default_rows = 1000,
};

/*
 * The users' presence and routing-status history: the analytics user
 * details query and its jobs.  A user appears when a record of theirs
 * overlaps the interval; records come unclipped, so each is kept only in
 * the window its start falls in (or, asked for the records overlapping an
 * interval, once over all windows).
 */
static const GcApiDef user_details_api = {
	.noun = "user status records",
	.item = "user detail",
	.family = "user status details",
	.filter_examples = "user_id, system_presence, routing_status, ...",
	.driver = &gc_details_driver,
	.method = "POST",
	.path = "/api/v2/analytics/users/details/query",
	.array_key = "userDetails",
	.top_id_key = "userId",
	.default_page_size = 100,
	.max_page_size = 100,
	.interval_on_rows = true,
	.short_pages = true,
	.interval_field = "startTime",
	.interval_column = "start_time",
	.interval_end_field = "endTime",
	.jobs_path = "/api/v2/analytics/users/details/jobs",
	.pushables = user_details_pushables,
	.default_rows = 200,
};

const GcResourceDef gc_analytics_resources[] = {
	{"conversations", &conversations_api, GC_LEVEL_CONVERSATION,
	"conversationId", conversations_columns, 1, false},
	{"participants", &conversations_api, GC_LEVEL_PARTICIPANT,
	"participantId", participants_columns, 3.5, false},
	{"sessions", &conversations_api, GC_LEVEL_SESSION,
	"sessionId", sessions_columns, 3.5, false},
	{"segments", &conversations_api, GC_LEVEL_SEGMENT,
	"segmentStart", segments_columns, 6, false},
	{"session_metrics", &conversations_api, GC_LEVEL_METRIC,
	"name", session_metrics_columns, 11, false},
	{"participant_attributes", &conversations_api, GC_LEVEL_ATTRIBUTE,
	"name", participant_attributes_columns, 2, false},
	{"user_presence", &user_details_api, GC_LEVEL_PRESENCE,
	"startTime", user_presence_columns, 15, false},
	{"user_routing_status", &user_details_api, GC_LEVEL_ROUTING_STATUS,
	"startTime", user_routing_status_columns, 25, false},
	{.name = NULL}
};
