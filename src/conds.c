/*-------------------------------------------------------------------------
 *
 * conds.c
 *		  The WHERE conditions that narrow a Genesys request: found among a
 *		  relation's clauses at plan time (bounds on the interval column,
 *		  and the fields the catalogue lists as pushable for the API: id
 *		  lists, query parameters, filter clauses), and carried in the plan
 *		  (conds_eval.c evaluates them when a scan or rescan starts).
 *
 * A condition is recognised only when the request it becomes returns a
 * superset of the rows that satisfy it; every condition also stays a local
 * qual, so results are exact whatever the API adds.  Which conditions an
 * API takes comes from the catalogue, never from the resource's name.
 * No I/O happens here; deparse.c writes the requests.  EXPLAIN's text of
 * a pushed condition is made here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "gc_fdw.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

/* Slots of one serialized condition in ForeignScan.fdw_private */
enum GcCondSlot
{
	GcCondKind,					/* Integer: GcPushKind */
	GcCondBound,				/* Integer: GcBoundKind */
	GcCondPushable,				/* Integer: index in the API's pushables, -1 */
	GcCondOp,					/* String: filter operator */
	GcCondShape,				/* Integer: GcValueShape */
	GcCondExpr,					/* Integer: index of the value in fdw_exprs,
								 * -1 when the condition has none */
	GcCondSlots
};

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
			gc_level_within(res->level, level) && strcmp(colon + 1, field) == 0;
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

/* The pushable field a column of res reads, or NULL */
static const GcPushableDef *
pushable_of(const char *key, const GcResourceDef *res)
{
	const GcPushableDef *p;

	for (p = res->api->pushables; p && p->field; p++)
		if (gc_key_reads(key, res, p->level, p->field))
			return p;
	return NULL;
}

/* Whether type is one whose values the API compares as text */
static bool
is_text_like(Oid type)
{
	return type == TEXTOID || type == UUIDOID || type == VARCHAROID;
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
make_cond(const GcPushableDef *p, const char *op, GcValueShape shape,
		  Expr *expr, Expr *clause)
{
	GcPushedCond *cond = palloc0(sizeof(GcPushedCond));

	cond->kind = p ? p->kind : GC_PUSH_BOUND;
	cond->pushable = p;
	cond->op = op;
	cond->shape = shape;
	cond->expr = expr;
	cond->clause = clause;
	return cond;
}

/* Whether a value compares with a timestamptz column as a bound can */
static bool
is_datetime(Oid type)
{
	return type == TIMESTAMPTZOID || type == TIMESTAMPOID || type == DATEOID;
}

/*
 * classify_end_bound
 *		"end > value" or "end >= value" on a record's end field: the records
 *		ending after a time, i.e. (with an upper bound on the start) those
 *		overlapping an interval.
 */
static GcPushedCond *
classify_end_bound(OpExpr *op, bool column_on_left, Node *value, Oid datetime_family)
{
	int			strategy = get_op_opfamily_strategy(op->opno, datetime_family);
	GcBoundKind bound;
	GcPushedCond *cond;

	if (!is_datetime(exprType(value)) || strategy == 0 ||
		!bound_kind_for(strategy, column_on_left, &bound) ||
		(bound != GC_BOUND_LOWER && bound != GC_BOUND_LOWER_STRICT))
		return NULL;
	cond = make_cond(NULL, "", GC_VALUE_SCALAR, (Expr *) value, (Expr *) op);
	cond->bound = bound == GC_BOUND_LOWER ? GC_BOUND_END_FROM : GC_BOUND_END_AFTER;
	return cond;
}

/*
 * classify_open_or_end_bound
 *		"end IS NULL OR end > value" (either order, > or >=): the records
 *		still open or ending after a time, the way "who was in which state
 *		at time T" reads.  A record still open has no end.
 */
static GcPushedCond *
classify_open_or_end_bound(BoolExpr *or, RelOptInfo *baserel, Oid relid,
						   const GcResourceDef *res, Relids outer_relids,
						   Oid datetime_family)
{
	const char *end_field = res->api->interval_end_field;
	NullTest   *nt = NULL;
	OpExpr	   *op = NULL;
	AttrNumber	null_attno;
	AttrNumber	op_attno;
	bool		column_on_left;
	Node	   *value;
	ListCell   *lc;

	if (or->boolop != OR_EXPR || list_length(or->args) != 2 || end_field == NULL)
		return NULL;
	foreach(lc, or->args)
	{
		if (IsA(lfirst(lc), NullTest))
			nt = lfirst(lc);
		else if (IsA(lfirst(lc), OpExpr))
			op = lfirst(lc);
	}
	if (nt == NULL || op == NULL || nt->nulltesttype != IS_NULL || nt->argisrow ||
		list_length(op->args) != 2)
		return NULL;
	null_attno = column_of((Node *) nt->arg, baserel);
	op_attno = column_of(linitial(op->args), baserel);
	column_on_left = op_attno != InvalidAttrNumber;
	if (!column_on_left)
		op_attno = column_of(lsecond(op->args), baserel);
	if (null_attno == InvalidAttrNumber || null_attno != op_attno ||
		get_atttype(relid, op_attno) != TIMESTAMPTZOID ||
		!gc_key_reads(gc_get_column_key(relid, op_attno, res), res,
					  gc_interval_level(res), end_field))
		return NULL;
	value = column_on_left ? lsecond(op->args) : linitial(op->args);
	if (!is_scan_constant(value, baserel, outer_relids))
		return NULL;
	return classify_end_bound(op, column_on_left, value, datetime_family);
}

/*
 * classify_opexpr
 *		A binary operator clause: an interval bound, "column = value" on a
 *		pushable field, or "array column @> values" on a membership field.
 */
static GcPushedCond *
classify_opexpr(OpExpr *op, RelOptInfo *baserel, Oid relid,
				const GcResourceDef *res, bool pushdown, Relids outer_relids,
				Oid datetime_family)
{
	const GcApiDef *api = res->api;
	AttrNumber	attno;
	bool		column_on_left;
	Node	   *value;
	Oid			coltype;
	char	   *key;
	const GcPushableDef *p;

	if (list_length(op->args) != 2)
		return NULL;
	attno = column_of(linitial(op->args), baserel);
	column_on_left = attno != InvalidAttrNumber;
	if (!column_on_left)
		attno = column_of(lsecond(op->args), baserel);
	if (attno == InvalidAttrNumber)
		return NULL;
	value = column_on_left ? lsecond(op->args) : linitial(op->args);
	if (!is_scan_constant(value, baserel, outer_relids))
		return NULL;
	coltype = get_atttype(relid, attno);
	key = gc_get_column_key(relid, attno, res);

	/* a lower bound on a record's end: the records overlapping a time */
	if (api->interval_end_field && coltype == TIMESTAMPTZOID &&
		gc_key_reads(key, res, gc_interval_level(res), api->interval_end_field))
		return classify_end_bound(op, column_on_left, value, datetime_family);

	/* interval bounds (needed even with pushdown off) */
	if (api->interval_field && coltype == TIMESTAMPTZOID &&
		gc_key_reads(key, res, gc_interval_level(res), api->interval_field))
	{
		int			strategy;
		GcBoundKind bound;
		GcPushedCond *cond;

		if (!is_datetime(exprType(value)))
			return NULL;
		strategy = get_op_opfamily_strategy(op->opno, datetime_family);
		if (strategy == 0 || !bound_kind_for(strategy, column_on_left, &bound))
			return NULL;
		cond = make_cond(NULL, "", GC_VALUE_SCALAR, (Expr *) value, (Expr *) op);
		cond->bound = bound;
		return cond;
	}

	p = pushable_of(key, res);
	if (p == NULL || (!pushdown && !(p->shapes & GC_SHAPE_ALWAYS)))
		return NULL;

	/* array column @> ARRAY[...]: every value a member */
	if ((p->shapes & GC_SHAPE_MEMBER) && column_on_left &&
		get_opcode(op->opno) == F_ARRAYCONTAINS &&
		is_text_like(get_element_type(coltype)) && exprType(value) == coltype)
		return make_cond(p, "matches", GC_VALUE_ALL, (Expr *) value, (Expr *) op);

	if (!(p->shapes & GC_SHAPE_EQ) || !is_equality(op->opno, coltype) ||
		!is_text_like(coltype))
		return NULL;
	return make_cond(p, "matches", GC_VALUE_SCALAR, (Expr *) value, (Expr *) op);
}

/*
 * classify_saop
 *		"column = ANY (array)" / "column IN (...)" on a pushable field, or
 *		"value = ANY (array column)" on a membership field.
 */
static GcPushedCond *
classify_saop(ScalarArrayOpExpr *saop, RelOptInfo *baserel, Oid relid,
			  const GcResourceDef *res, Relids outer_relids)
{
	Node	   *scalar = linitial(saop->args);
	Node	   *array = lsecond(saop->args);
	AttrNumber	attno;
	const GcPushableDef *p;
	Oid			type;

	if (!saop->useOr)
		return NULL;

	/* value = ANY (array column): membership */
	attno = column_of(array, baserel);
	if (attno != InvalidAttrNumber)
	{
		p = pushable_of(gc_get_column_key(relid, attno, res), res);
		type = get_element_type(get_atttype(relid, attno));
		if (p == NULL || !(p->shapes & GC_SHAPE_MEMBER) || !is_text_like(type) ||
			!is_equality(saop->opno, type) ||
			!is_scan_constant(scalar, baserel, outer_relids))
			return NULL;
		return make_cond(p, "matches", GC_VALUE_SCALAR, (Expr *) scalar,
						 (Expr *) saop);
	}

	/* column = ANY (values) */
	attno = column_of(scalar, baserel);
	if (attno == InvalidAttrNumber || !is_scan_constant(array, baserel, outer_relids))
		return NULL;
	p = pushable_of(gc_get_column_key(relid, attno, res), res);
	type = get_atttype(relid, attno);
	if (p == NULL || !(p->shapes & GC_SHAPE_EQ) ||
		(p->shapes & GC_SHAPE_SCALAR_ONLY) || !is_equality(saop->opno, type) ||
		!is_text_like(type))
		return NULL;
	return make_cond(p, "matches", GC_VALUE_ANY, (Expr *) array, (Expr *) saop);
}

/*
 * classify_nulltest
 *		"column IS [NOT] NULL" on a field the API tests for existence.
 */
static GcPushedCond *
classify_nulltest(NullTest *nt, RelOptInfo *baserel, Oid relid,
				  const GcResourceDef *res)
{
	AttrNumber	attno = column_of((Node *) nt->arg, baserel);
	const GcPushableDef *p;

	if (attno == InvalidAttrNumber || nt->argisrow)
		return NULL;
	p = pushable_of(gc_get_column_key(relid, attno, res), res);
	if (p == NULL || !(p->shapes & GC_SHAPE_NULLTEST))
		return NULL;
	return make_cond(p, nt->nulltesttype == IS_NULL ? "notExists" : "exists",
					 GC_VALUE_NONE, NULL, (Expr *) nt);
}

/*
 * gc_classify_conditions
 *		The conditions among clauses (RestrictInfos, or bare clauses) that
 *		narrow the request for a scan of res.  With pushdown off only the
 *		interval bounds and the fields marked GC_SHAPE_ALWAYS are used: the
 *		interval is required, and those cannot make a listing wrong.
 *		outer_relids names the relations whose columns may appear as values
 *		(a parameterised path's join clauses), or NULL.
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
			cond = classify_opexpr((OpExpr *) clause, baserel, relid, res,
								   pushdown, outer_relids, datetime_family);
		else if (IsA(clause, ScalarArrayOpExpr) && pushdown)
			cond = classify_saop((ScalarArrayOpExpr *) clause, baserel, relid,
								 res, outer_relids);
		else if (IsA(clause, NullTest) && pushdown)
			cond = classify_nulltest((NullTest *) clause, baserel, relid, res);
		else if (IsA(clause, BoolExpr))
			cond = classify_open_or_end_bound((BoolExpr *) clause, baserel, relid,
											  res, outer_relids, datetime_family);
		if (cond)
			conds = lappend(conds, cond);
	}
	return conds;
}

/*
 * gc_push_target_text
 *		What a condition becomes, for EXPLAIN: "interval", "id list",
 *		"lookup by id", a parameter's name, or a filter's group, dimension
 *		and operator.
 */
const char *
gc_push_target_text(const GcResourceDef *res, const GcPushedCond *cond)
{
	switch (cond->kind)
	{
		case GC_PUSH_BOUND:
			return (cond->bound == GC_BOUND_END_AFTER || cond->bound == GC_BOUND_END_FROM) ?
				"interval (records overlapping it)" : "interval";
		case GC_PUSH_IDS:
			return res->api->lookup_path ? "lookup by id" : "id list";
		case GC_PUSH_PARAM:
			return cond->pushable->target;
		case GC_PUSH_PATH:
			return psprintf("{%s} in the path", cond->pushable->target);
		case GC_PUSH_FILTER:
			break;
	}
	return psprintf("%s %s %s", cond->pushable->target,
					cond->pushable->dimension, cond->op);
}

/*
 * gc_serialize_conds
 *		Conditions as a plan-copyable list, one list of GcCondSlots values
 *		each.  Each value expression is appended to *fdw_exprs (so setrefs
 *		and parameter replacement see it) and the condition records where:
 *		a condition has a value exactly when its GcCondExpr slot is not -1.
 */
List *
gc_serialize_conds(const GcResourceDef *res, List *conds, List **fdw_exprs)
{
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, conds)
	{
		GcPushedCond *cond = lfirst(lc);
		Node	   *slots[GcCondSlots];
		List	   *item = NIL;
		int			expr_index = -1;
		int			i;

		if (cond->expr != NULL)
		{
			*fdw_exprs = lappend(*fdw_exprs, cond->expr);
			expr_index = list_length(*fdw_exprs) - 1;
		}
		slots[GcCondKind] = (Node *) makeInteger(cond->kind);
		slots[GcCondBound] = (Node *) makeInteger(cond->bound);
		slots[GcCondPushable] = (Node *)
			makeInteger(cond->pushable ? (int) (cond->pushable - res->api->pushables) : -1);
		slots[GcCondOp] = (Node *) makeString(pstrdup(cond->op));
		slots[GcCondShape] = (Node *) makeInteger(cond->shape);
		slots[GcCondExpr] = (Node *) makeInteger(expr_index);
		for (i = 0; i < GcCondSlots; i++)
			item = lappend(item, slots[i]);
		out = lappend(out, item);
	}
	return out;
}

/*
 * gc_deserialize_conds
 *		The conditions of a plan, their values taken from fdw_exprs (as
 *		setrefs left them).
 */
List *
gc_deserialize_conds(const GcResourceDef *res, List *serialized, List *fdw_exprs)
{
	List	   *conds = NIL;
	ListCell   *lc;

	foreach(lc, serialized)
	{
		List	   *item = lfirst(lc);
		GcPushedCond *cond = palloc0(sizeof(GcPushedCond));
		int			pushable = intVal(list_nth(item, GcCondPushable));
		int			expr_index = intVal(list_nth(item, GcCondExpr));

		cond->kind = intVal(list_nth(item, GcCondKind));
		cond->bound = intVal(list_nth(item, GcCondBound));
		cond->pushable = pushable >= 0 ? &res->api->pushables[pushable] : NULL;
		cond->op = strVal(list_nth(item, GcCondOp));
		cond->shape = intVal(list_nth(item, GcCondShape));
		cond->expr = expr_index >= 0 ? list_nth(fdw_exprs, expr_index) : NULL;
		conds = lappend(conds, cond);
	}
	return conds;
}
