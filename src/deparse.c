/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		  Turns WHERE clauses into Genesys API requests: finds the conditions
 *		  that narrow a request (conversation_start bounds -> interval;
 *		  equality and IN on dimensions -> conversationFilters and
 *		  segmentFilters; conversation_id -> lookup by id; users id and
 *		  state -> query parameters) and writes request bodies and query
 *		  strings.
 *
 * A condition is recognised only when the request it becomes returns a
 * superset of the rows that satisfy it; every condition also stays a local
 * qual, so results are exact whatever the API adds.  No I/O happens here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "gc_fdw.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

/*
 * The fields a condition can be pushed on: the level the field lives at,
 * its JSON key there, and what it becomes.
 */
typedef struct GcPushable
{
	GcLevel		level;
	const char *field;
	GcPushKind	kind;
	const char *dimension;
} GcPushable;

static const GcPushable pushables[] = {
	{GC_LEVEL_USER, "id", GC_PUSH_USER_ID, ""},
	{GC_LEVEL_USER, "state", GC_PUSH_STATE, ""},
	{GC_LEVEL_CONVERSATION, "conversationId", GC_PUSH_CONVERSATION_ID, ""},
	{GC_LEVEL_CONVERSATION, "originatingDirection", GC_PUSH_CONVERSATION_FILTER, "originatingDirection"},
	{GC_LEVEL_CONVERSATION, "externalTag", GC_PUSH_CONVERSATION_FILTER, "externalTag"},
	{GC_LEVEL_CONVERSATION, "divisionIds", GC_PUSH_CONVERSATION_FILTER, "divisionId"},
	{GC_LEVEL_CONVERSATION, "conversationEnd", GC_PUSH_CONVERSATION_FILTER, "conversationEnd"},
	{GC_LEVEL_PARTICIPANT, "purpose", GC_PUSH_SEGMENT_FILTER, "purpose"},
	{GC_LEVEL_PARTICIPANT, "userId", GC_PUSH_SEGMENT_FILTER, "userId"},
	{GC_LEVEL_SESSION, "mediaType", GC_PUSH_SEGMENT_FILTER, "mediaType"},
	{GC_LEVEL_SESSION, "direction", GC_PUSH_SEGMENT_FILTER, "direction"},
	{GC_LEVEL_SEGMENT, "queueId", GC_PUSH_SEGMENT_FILTER, "queueId"},
	{GC_LEVEL_SEGMENT, "segmentType", GC_PUSH_SEGMENT_FILTER, "segmentType"},
	{GC_LEVEL_SEGMENT, "wrapUpCode", GC_PUSH_SEGMENT_FILTER, "wrapUpCode"},
	{GC_LEVEL_SEGMENT, "disconnectType", GC_PUSH_SEGMENT_FILTER, "disconnectType"},
	{0, NULL, 0, NULL}
};

/*
 * level_holds
 *		Whether a row of level row_level sits in (or is) an object of level:
 *		segment and metric rows in a session, in a participant, in a
 *		conversation.  A segment filter on a field of such an object then
 *		matches the conversation of every row that has that value, since in
 *		Genesys every participant has sessions and every session segments.
 */
static bool
level_holds(GcLevel level, GcLevel row_level)
{
	if (level == row_level)
		return true;
	switch (level)
	{
		case GC_LEVEL_CONVERSATION:
			return row_level >= GC_LEVEL_CONVERSATION;
		case GC_LEVEL_PARTICIPANT:
			return row_level >= GC_LEVEL_PARTICIPANT;
		case GC_LEVEL_SESSION:
			return row_level == GC_LEVEL_SEGMENT || row_level == GC_LEVEL_METRIC;
		default:
			return false;
	}
}

/*
 * gc_key_reads
 *		Whether a column key reads field of the object of level above (or
 *		at) the rows of res: "conversation:conversationStart" anywhere, or
 *		plain "conversationStart" on rows of that level.
 */
bool
gc_key_reads(const char *key, const GcResourceDef *res, GcLevel level,
			 const char *field)
{
	const char *colon = strchr(key, ':');

	if (colon)
		return gc_level_lookup(key, colon - key) == (int) level &&
			level_holds(level, res->level) && strcmp(colon + 1, field) == 0;
	return res->level == level && strcmp(key, field) == 0;
}

/*
 * column_of
 *		If node is (a relabeling of) a column of baserel, its attno.
 */
static AttrNumber
column_of(Node *node, RelOptInfo *baserel)
{
	Var		   *var;

	if (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL || !IsA(node, Var))
		return InvalidAttrNumber;
	var = (Var *) node;
	if ((Index) var->varno != baserel->relid || var->varlevelsup != 0 ||
		var->varattno <= 0)
		return InvalidAttrNumber;
	return var->varattno;
}

/*
 * is_scan_constant
 *		Whether expr can be evaluated once when the scan (or a rescan)
 *		starts: nothing volatile, no column of this relation, and columns of
 *		other relations only in a parameterised path's join clauses (they
 *		become executor parameters).
 */
static bool
is_scan_constant(Node *expr, RelOptInfo *baserel, Relids outer_relids)
{
	Relids		varnos;

	if (contain_volatile_functions(expr))
		return false;
	varnos = pull_varnos(NULL, expr);
	if (bms_is_empty(varnos))
		return true;
	return outer_relids != NULL && bms_is_subset(varnos, outer_relids) &&
		!bms_is_member(baserel->relid, varnos);
}

/* The pushable field a column reads, or NULL */
static const GcPushable *
pushable_of(const char *key, const GcResourceDef *res)
{
	const GcPushable *p;

	for (p = pushables; p->field; p++)
		if (gc_key_reads(key, res, p->level, p->field))
			return p;
	return NULL;
}

/*
 * scalar_dimension
 *		Whether a pushable field takes "column = value" matches: text-like
 *		or uuid columns, not the division list (membership) nor
 *		conversationEnd (exists / notExists only).
 */
static bool
scalar_dimension(const GcPushable *p, Oid type)
{
	return (type == TEXTOID || type == UUIDOID || type == VARCHAROID) &&
		strcmp(p->field, "divisionIds") != 0 &&
		strcmp(p->field, "conversationEnd") != 0;
}

/* Whether opno is the default equality of type */
static bool
is_equality(Oid opno, Oid type)
{
	TypeCacheEntry *tce = lookup_type_cache(type, TYPECACHE_EQ_OPR);

	return OidIsValid(tce->eq_opr) && tce->eq_opr == opno;
}

/*
 * bound_kind_for
 *		Map a btree strategy of a "column op value" comparison to a bound;
 *		false when the strategy is no bound (<>).
 */
static bool
bound_kind_for(int strategy, bool column_on_left, GcBoundKind *kind)
{
	/* "value op column" reads as the commuted comparison */
	if (!column_on_left)
	{
		if (strategy == BTLessStrategyNumber)
			strategy = BTGreaterStrategyNumber;
		else if (strategy == BTLessEqualStrategyNumber)
			strategy = BTGreaterEqualStrategyNumber;
		else if (strategy == BTGreaterStrategyNumber)
			strategy = BTLessStrategyNumber;
		else if (strategy == BTGreaterEqualStrategyNumber)
			strategy = BTLessEqualStrategyNumber;
	}
	switch (strategy)
	{
		case BTLessStrategyNumber:
			*kind = GC_BOUND_UPPER_STRICT;
			return true;
		case BTLessEqualStrategyNumber:
			*kind = GC_BOUND_UPPER;
			return true;
		case BTEqualStrategyNumber:
			*kind = GC_BOUND_EQUAL;
			return true;
		case BTGreaterEqualStrategyNumber:
			*kind = GC_BOUND_LOWER;
			return true;
		case BTGreaterStrategyNumber:
			*kind = GC_BOUND_LOWER_STRICT;
			return true;
	}
	return false;
}

static GcPushedCond *
make_cond(GcPushKind kind, const char *dimension, const char *op,
		  GcValueShape shape, Expr *expr, Expr *clause)
{
	GcPushedCond *cond = palloc0(sizeof(GcPushedCond));

	cond->kind = kind;
	cond->dimension = dimension;
	cond->op = op;
	cond->shape = shape;
	cond->expr = expr;
	cond->clause = clause;
	return cond;
}

/*
 * classify_opexpr
 *		A binary operator clause: a conversation_start bound, or
 *		"column = value" on a pushable field.
 */
static GcPushedCond *
classify_opexpr(OpExpr *op, RelOptInfo *baserel, Oid relid,
				const GcResourceDef *res, bool pushdown, Relids outer_relids,
				Oid datetime_family)
{
	Node	   *left;
	Node	   *right;
	AttrNumber	attno;
	bool		column_on_left;
	Node	   *value;
	Oid			coltype;
	char	   *key;
	const GcPushable *p;

	if (list_length(op->args) != 2)
		return NULL;
	left = linitial(op->args);
	right = lsecond(op->args);
	attno = column_of(left, baserel);
	column_on_left = attno != InvalidAttrNumber;
	if (!column_on_left)
		attno = column_of(right, baserel);
	if (attno == InvalidAttrNumber)
		return NULL;
	value = column_on_left ? right : left;
	if (!is_scan_constant(value, baserel, outer_relids))
		return NULL;
	coltype = get_atttype(relid, attno);
	key = gc_get_column_key(relid, attno, res);

	/* conversation_start bounds (needed even with pushdown off) */
	if (res->kind == GC_RESOURCE_CONVERSATIONS && coltype == TIMESTAMPTZOID &&
		gc_key_reads(key, res, GC_LEVEL_CONVERSATION, "conversationStart"))
	{
		Oid			value_type = exprType(value);
		int			strategy;
		GcBoundKind bound;
		GcPushedCond *cond;

		if (value_type != TIMESTAMPTZOID && value_type != TIMESTAMPOID &&
			value_type != DATEOID)
			return NULL;
		strategy = get_op_opfamily_strategy(op->opno, datetime_family);
		if (strategy == 0 || !bound_kind_for(strategy, column_on_left, &bound))
			return NULL;
		cond = make_cond(GC_PUSH_BOUND, "", "", GC_VALUE_SCALAR, (Expr *) value,
						 (Expr *) op);
		cond->bound = bound;
		return cond;
	}

	/* the users state narrows the listing even with pushdown off */
	p = pushable_of(key, res);
	if (p == NULL || (!pushdown && p->kind != GC_PUSH_STATE) ||
		!is_equality(op->opno, coltype) || !scalar_dimension(p, coltype))
		return NULL;
	return make_cond(p->kind, p->dimension, "matches", GC_VALUE_SCALAR,
					 (Expr *) value, (Expr *) op);
}

/*
 * classify_saop
 *		"column = ANY (array)" / "column IN (...)" on a pushable field, or
 *		"value = ANY (division_ids)".
 */
static GcPushedCond *
classify_saop(ScalarArrayOpExpr *saop, RelOptInfo *baserel, Oid relid,
			  const GcResourceDef *res, Relids outer_relids)
{
	Node	   *scalar = linitial(saop->args);
	Node	   *array = lsecond(saop->args);
	AttrNumber	attno;
	char	   *key;
	const GcPushable *p;
	Oid			type;

	if (!saop->useOr)
		return NULL;

	/* value = ANY (division_ids): membership */
	attno = column_of(array, baserel);
	if (attno != InvalidAttrNumber)
	{
		key = gc_get_column_key(relid, attno, res);
		type = get_element_type(get_atttype(relid, attno));
		if (!gc_key_reads(key, res, GC_LEVEL_CONVERSATION, "divisionIds") ||
			type != UUIDOID || !is_equality(saop->opno, UUIDOID) ||
			!is_scan_constant(scalar, baserel, outer_relids))
			return NULL;
		return make_cond(GC_PUSH_CONVERSATION_FILTER, "divisionId", "matches",
						 GC_VALUE_SCALAR, (Expr *) scalar, (Expr *) saop);
	}

	/* column = ANY (values) */
	attno = column_of(scalar, baserel);
	if (attno == InvalidAttrNumber || !is_scan_constant(array, baserel, outer_relids))
		return NULL;
	key = gc_get_column_key(relid, attno, res);
	type = get_atttype(relid, attno);
	p = pushable_of(key, res);
	if (p == NULL || p->kind == GC_PUSH_STATE || !is_equality(saop->opno, type) ||
		!scalar_dimension(p, type))
		return NULL;
	return make_cond(p->kind, p->dimension, "matches", GC_VALUE_ANY,
					 (Expr *) array, (Expr *) saop);
}

/*
 * gc_classify_conditions
 *		The conditions among clauses (RestrictInfos, or bare clauses) that
 *		narrow the request for a scan of res.  With pushdown off only the
 *		conversation_start bounds and the users state are used: the
 *		interval is required, the state cannot make a listing wrong.
 *		outer_relids names the relations whose columns may appear as
 *		values (a parameterised path's join clauses), or NULL.
 */
List *
gc_classify_conditions(PlannerInfo *root, RelOptInfo *baserel, Oid relid,
					   const GcResourceDef *res, List *clauses, bool pushdown,
					   Relids outer_relids)
{
	Oid			datetime_family = get_opclass_family(GetDefaultOpClass(TIMESTAMPTZOID,
																	   BTREE_AM_OID));
	List	   *conds = NIL;
	ListCell   *lc;

	foreach(lc, clauses)
	{
		Node	   *clause = lfirst(lc);
		GcPushedCond *cond = NULL;

		if (IsA(clause, RestrictInfo))
			clause = (Node *) ((RestrictInfo *) clause)->clause;

		if (IsA(clause, OpExpr))
		{
			OpExpr	   *op = (OpExpr *) clause;

			cond = classify_opexpr(op, baserel, relid, res, pushdown,
								   outer_relids, datetime_family);
			/* division_ids @> ARRAY[...]: every value a member */
			if (cond == NULL && pushdown && get_opcode(op->opno) == F_ARRAYCONTAINS &&
				list_length(op->args) == 2)
			{
				AttrNumber	attno = column_of(linitial(op->args), baserel);

				if (attno != InvalidAttrNumber &&
					gc_key_reads(gc_get_column_key(relid, attno, res), res,
								 GC_LEVEL_CONVERSATION, "divisionIds") &&
					get_atttype(relid, attno) == UUIDARRAYOID &&
					exprType(lsecond(op->args)) == UUIDARRAYOID &&
					is_scan_constant(lsecond(op->args), baserel, outer_relids))
					cond = make_cond(GC_PUSH_CONVERSATION_FILTER, "divisionId",
									 "matches", GC_VALUE_ALL,
									 lsecond(op->args), (Expr *) op);
			}
		}
		else if (IsA(clause, ScalarArrayOpExpr) && pushdown)
			cond = classify_saop((ScalarArrayOpExpr *) clause, baserel, relid,
								 res, outer_relids);
		else if (IsA(clause, NullTest) && pushdown)
		{
			NullTest   *nt = (NullTest *) clause;
			AttrNumber	attno = column_of((Node *) nt->arg, baserel);

			if (attno != InvalidAttrNumber && !nt->argisrow &&
				gc_key_reads(gc_get_column_key(relid, attno, res), res,
							 GC_LEVEL_CONVERSATION, "conversationEnd"))
				cond = make_cond(GC_PUSH_CONVERSATION_FILTER, "conversationEnd",
								 nt->nulltesttype == IS_NULL ? "notExists" : "exists",
								 GC_VALUE_NONE, NULL, (Expr *) nt);
		}
		if (cond)
			conds = lappend(conds, cond);
	}
	return conds;
}

/*
 * gc_serialize_conds
 *		Conditions as a plan-copyable list; their value expressions are
 *		appended to *fdw_exprs (so setrefs and parameter replacement see
 *		them) and found again by position.
 */
List *
gc_serialize_conds(List *conds, List **fdw_exprs)
{
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, conds)
	{
		GcPushedCond *cond = lfirst(lc);

		out = lappend(out, list_make5(makeInteger(cond->kind),
									  makeInteger(cond->bound),
									  makeString(pstrdup(cond->dimension)),
									  makeString(pstrdup(cond->op)),
									  makeInteger(cond->shape)));
		if (cond->expr)
			*fdw_exprs = lappend(*fdw_exprs, cond->expr);
	}
	return out;
}

/*
 * gc_deserialize_conds
 *		The conditions of a plan, with expr pointing into fdw_exprs.
 */
List *
gc_deserialize_conds(List *private, List *fdw_exprs)
{
	List	   *conds = NIL;
	ListCell   *lc;
	int			next_expr = 0;

	foreach(lc, private)
	{
		List	   *item = lfirst(lc);
		GcPushedCond *cond = palloc0(sizeof(GcPushedCond));

		cond->kind = intVal(linitial(item));
		cond->bound = intVal(lsecond(item));
		cond->dimension = strVal(lthird(item));
		cond->op = strVal(lfourth(item));
		cond->shape = intVal(list_nth(item, 4));
		if (cond->shape != GC_VALUE_NONE)
			cond->expr = list_nth(fdw_exprs, next_expr++);
		conds = lappend(conds, cond);
	}
	return conds;
}

/*
 * gc_bound_timestamptz
 *		A conversation_start bound's value as timestamptz: date and
 *		timestamp values convert as the cross-type comparison operators do
 *		(in the session time zone).
 */
TimestampTz
gc_bound_timestamptz(Datum value, Oid type)
{
	if (type == TIMESTAMPOID)
		value = DirectFunctionCall1(timestamp_timestamptz, value);
	else if (type == DATEOID)
		value = DirectFunctionCall1(date_timestamptz, value);
	return DatumGetTimestampTz(value);
}

/*
 * gc_format_timestamp
 *		ISO-8601 UTC with milliseconds, as Genesys writes them:
 *		2024-04-29T17:30:43.090Z.  round_up rounds sub-millisecond parts up
 *		(for exclusive interval ends), otherwise they are truncated.
 */
char *
gc_format_timestamp(TimestampTz ts, bool round_up)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int64		ms_part;

	if (round_up && ts % 1000 != 0)
		ts += 1000 - ((ts % 1000) + 1000) % 1000;
	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for a Genesys Cloud interval")));
	ms_part = fsec / 1000;
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) ms_part);
}

/*
 * append_filter
 *		"key":[{"type":"and","clauses":[{"type":"or","predicates":[...]}]}]
 *		Each clause is one SQL condition; its predicates are its values.
 */
static void
append_filter(StringInfo buf, const char *key, List *clauses)
{
	ListCell   *lc;
	ListCell   *lv;
	bool		first_clause = true;

	if (clauses == NIL)
		return;
	appendStringInfo(buf, ",\"%s\":[{\"type\":\"and\",\"clauses\":[", key);
	foreach(lc, clauses)
	{
		GcFilterClause *fc = lfirst(lc);
		bool		first_pred = true;

		appendStringInfo(buf, "%s{\"type\":\"or\",\"predicates\":[", first_clause ? "" : ",");
		first_clause = false;
		if (fc->values == NIL)
			appendStringInfo(buf, "{\"type\":\"dimension\",\"dimension\":\"%s\",\"operator\":\"%s\"}",
							 fc->dimension, fc->op);
		foreach(lv, fc->values)
		{
			appendStringInfo(buf, "%s{\"type\":\"dimension\",\"dimension\":\"%s\",\"operator\":\"%s\",\"value\":",
							 first_pred ? "" : ",", fc->dimension, fc->op);
			escape_json(buf, (const char *) lfirst(lv));
			appendStringInfoChar(buf, '}');
			first_pred = false;
		}
		appendStringInfoString(buf, "]}");
	}
	appendStringInfoString(buf, "]}]");
}

/*
 * gc_build_details_query
 *		The ConversationQuery body for one page of one interval window.
 */
void
gc_build_details_query(StringInfo buf, TimestampTz win_start,
					   TimestampTz win_end, int page_size, int page_number,
					   List *conversation_filters, List *segment_filters,
					   bool descending)
{
	appendStringInfo(buf,
					 "{\"interval\":\"%s/%s\","
					 "\"order\":\"%s\",\"orderBy\":\"conversationStart\","
					 "\"paging\":{\"pageSize\":%d,\"pageNumber\":%d}",
					 gc_format_timestamp(win_start, false),
					 gc_format_timestamp(win_end, true),
					 descending ? "desc" : "asc", page_size, page_number);
	append_filter(buf, "conversationFilters", conversation_filters);
	append_filter(buf, "segmentFilters", segment_filters);
	appendStringInfoChar(buf, '}');
}

/*
 * gc_build_job_body
 *		The AsyncConversationQuery body of a jobs API window.
 */
void
gc_build_job_body(StringInfo buf, TimestampTz win_start, TimestampTz win_end,
				  List *conversation_filters, List *segment_filters)
{
	appendStringInfo(buf, "{\"interval\":\"%s/%s\"",
					 gc_format_timestamp(win_start, false),
					 gc_format_timestamp(win_end, true));
	append_filter(buf, "conversationFilters", conversation_filters);
	append_filter(buf, "segmentFilters", segment_filters);
	appendStringInfoChar(buf, '}');
}

/*
 * gc_append_url_encoded
 *		Append value percent-encoded for a query string (RFC 3986 unreserved
 *		characters pass through).
 */
void
gc_append_url_encoded(StringInfo buf, const char *value)
{
	const unsigned char *p;

	for (p = (const unsigned char *) value; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
			*p == '_' || *p == '~')
			appendStringInfoChar(buf, (char) *p);
		else
			appendStringInfo(buf, "%%%02X", *p);
	}
}

/* Append ids as a comma-joined, URL-encoded list */
static void
append_id_list(StringInfo buf, List *ids)
{
	ListCell   *lc;

	foreach(lc, ids)
	{
		if (lc != list_head(ids))
			appendStringInfoString(buf, "%2C");
		gc_append_url_encoded(buf, (const char *) lfirst(lc));
	}
}

/*
 * gc_build_users_query
 *		Path and query string of one page of GET /api/v2/users.  state NULL
 *		means every state; ids, when given, restrict the listing to them.
 */
void
gc_build_users_query(StringInfo buf, const char *state, int page_size,
					 int page_number, bool want_last_login, List *ids)
{
	appendStringInfo(buf, "/api/v2/users?pageSize=%d&pageNumber=%d&state=",
					 page_size, page_number);
	gc_append_url_encoded(buf, state ? state : "any");
	if (ids != NIL)
	{
		appendStringInfoString(buf, "&id=");
		append_id_list(buf, ids);
	}
	if (want_last_login)
		appendStringInfoString(buf, "&expand=dateLastLogin");
}

/*
 * gc_build_lookup_path
 *		GET path that fetches the given conversations by id.
 */
void
gc_build_lookup_path(StringInfo buf, List *ids)
{
	appendStringInfoString(buf, "/api/v2/analytics/conversations/details?id=");
	append_id_list(buf, ids);
}
