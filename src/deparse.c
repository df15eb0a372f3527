/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		  Turns WHERE clauses into Genesys API requests: finds the
 *		  conversation_start bounds that become the details query interval and
 *		  the users state filter, and writes request bodies and query strings.
 *
 * Only conditions that map exactly (or to a documented superset the
 * executor re-checks) are recognised here; every condition is still
 * evaluated locally by the executor.  No I/O happens in this file.
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
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

/*
 * is_rel_column
 *		Whether node is (a relabeling of) the given column of baserel.
 */
static bool
is_rel_column(Node *node, RelOptInfo *baserel, AttrNumber attno)
{
	Var		   *var;

	if (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL || !IsA(node, Var))
		return false;
	var = (Var *) node;
	return (Index) var->varno == baserel->relid && var->varlevelsup == 0 &&
		var->varattno == attno;
}

/*
 * is_scan_constant
 *		Whether expr can be evaluated once when the scan starts: no column
 *		references and nothing volatile.  Stable functions such as now() and
 *		parameters qualify.
 */
static bool
is_scan_constant(Node *expr)
{
	return !contain_var_clause(expr) && !contain_volatile_functions(expr);
}

/*
 * bound_kind_for
 *		Map a btree strategy of a "column op value" comparison to a bound;
 *		returns false when the strategy is no bound (<>).
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

/*
 * gc_classify_conditions
 *		Find, among baserel's restriction clauses, the conversation_start
 *		bounds (column start_attno, compared with a timestamptz, timestamp or
 *		date value through the datetime btree operators) and the users state
 *		equality (column state_attno = text value).  Either attno may be
 *		InvalidAttrNumber.  The clauses all stay local quals as well.
 */
void
gc_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
					   AttrNumber start_attno, AttrNumber state_attno,
					   List **bounds, List **state_conds)
{
	Oid			datetime_family = InvalidOid;
	ListCell   *lc;

	*bounds = NIL;
	*state_conds = NIL;

	if (start_attno != InvalidAttrNumber)
		datetime_family = get_opclass_family(GetDefaultOpClass(TIMESTAMPTZOID,
															   BTREE_AM_OID));

	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		OpExpr	   *op;
		Node	   *left;
		Node	   *right;
		bool		column_on_left;
		Node	   *value;

		if (!IsA(ri->clause, OpExpr))
			continue;
		op = (OpExpr *) ri->clause;
		if (list_length(op->args) != 2)
			continue;
		left = linitial(op->args);
		right = lsecond(op->args);

		/* conversation_start <op> value, or value <op> conversation_start */
		if (start_attno != InvalidAttrNumber &&
			(is_rel_column(left, baserel, start_attno) ||
			 is_rel_column(right, baserel, start_attno)))
		{
			int			strategy;
			Oid			value_type;
			GcBoundKind kind;
			GcPushedCond *cond;

			column_on_left = is_rel_column(left, baserel, start_attno);
			value = column_on_left ? right : left;
			value_type = exprType(value);
			if (exprType(column_on_left ? left : right) != TIMESTAMPTZOID ||
				(value_type != TIMESTAMPTZOID && value_type != TIMESTAMPOID &&
				 value_type != DATEOID) ||
				!is_scan_constant(value))
				continue;
			strategy = get_op_opfamily_strategy(op->opno, datetime_family);
			if (strategy == 0 || !bound_kind_for(strategy, column_on_left, &kind))
				continue;

			cond = palloc(sizeof(GcPushedCond));
			cond->kind = kind;
			cond->expr = (Expr *) value;
			cond->clause = (Expr *) op;
			*bounds = lappend(*bounds, cond);
			continue;
		}

		/* state = value (users) */
		if (state_attno != InvalidAttrNumber &&
			op->opno == TextEqualOperator &&
			(is_rel_column(left, baserel, state_attno) ||
			 is_rel_column(right, baserel, state_attno)))
		{
			GcPushedCond *cond;

			value = is_rel_column(left, baserel, state_attno) ? right : left;
			if (!is_scan_constant(value))
				continue;
			cond = palloc(sizeof(GcPushedCond));
			cond->kind = GC_BOUND_EQUAL;
			cond->expr = (Expr *) value;
			cond->clause = (Expr *) op;
			*state_conds = lappend(*state_conds, cond);
		}
	}
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
 * gc_build_details_query
 *		The ConversationQuery body for one page of one interval window.
 */
void
gc_build_details_query(StringInfo buf, TimestampTz win_start,
					   TimestampTz win_end, int page_size, int page_number)
{
	appendStringInfo(buf,
					 "{\"interval\":\"%s/%s\","
					 "\"order\":\"asc\",\"orderBy\":\"conversationStart\","
					 "\"paging\":{\"pageSize\":%d,\"pageNumber\":%d}}",
					 gc_format_timestamp(win_start, false),
					 gc_format_timestamp(win_end, true),
					 page_size, page_number);
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

/*
 * gc_build_users_query
 *		Path and query string of one page of GET /api/v2/users.  state NULL
 *		means every state.
 */
void
gc_build_users_query(StringInfo buf, const char *state, int page_size,
					 int page_number, bool want_last_login)
{
	appendStringInfo(buf, "/api/v2/users?pageSize=%d&pageNumber=%d&state=",
					 page_size, page_number);
	gc_append_url_encoded(buf, state ? state : "any");
	if (want_last_login)
		appendStringInfoString(buf, "&expand=dateLastLogin");
}
