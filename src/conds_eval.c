/*-------------------------------------------------------------------------
 *
 * conds_eval.c
 *		  The pushed conditions (conds.c) evaluated when a scan or rescan
 *		  starts: their values, parameters included, into the GcRequestSpec
 *		  the read plan and the request are made from (interval bounds, id
 *		  lists, query parameters, filter clauses), and the values no
 *		  Genesys object can hold, which send no request.
 *
 * Must not: decide which conditions are pushed (conds.c, at plan time),
 * write requests (deparse.c) or do I/O.  The NOTICE about an impossible
 * value is worded here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "gc_fdw.h"
#include "nodes/nodeFuncs.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

/*
 * value_strings
 *		The text of a condition's value: one string, or one per non-null
 *		array element.  *isnull is set for a NULL scalar (no row can match).
 */
static List *
value_strings(ExprState *es, ExprContext *econtext, GcValueShape shape,
			  bool *isnull)
{
	Datum		d = ExecEvalExpr(es, econtext, isnull);
	Oid			type = exprType((Node *) es->expr);
	Oid			outfunc;
	bool		varlena;
	ArrayType  *arr;
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	List	   *out = NIL;

	if (*isnull)
		return NIL;
	if (shape == GC_VALUE_SCALAR)
	{
		getTypeOutputInfo(type, &outfunc, &varlena);
		return list_make1(OidOutputFunctionCall(outfunc, d));
	}
	arr = DatumGetArrayTypeP(d);
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &elemlen, &elembyval, &elemalign);
	getTypeOutputInfo(ARR_ELEMTYPE(arr), &outfunc, &varlena);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), elemlen, elembyval, elemalign,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i])
			out = lappend(out, OidOutputFunctionCall(outfunc, elems[i]));
	return out;
}

/* Whether s is among list (strings) */
static bool
string_in(const char *s, List *list)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp(s, lfirst(lc)) == 0)
			return true;
	return false;
}

/* The strings of a that are also in b, and only the first of repeats */
static List *
narrow_ids(List *a, List *b)
{
	List	   *out = NIL;
	ListCell   *la;

	foreach(la, a)
		if ((b == NIL || string_in(lfirst(la), b)) && !string_in(lfirst(la), out))
			out = lappend(out, lfirst(la));
	return out;
}

/* Whether text is a UUID as Genesys writes its ids (any case) */
static bool
is_uuid_text(const char *text)
{
	int			i;

	for (i = 0; i < 36; i++)
	{
		char		c = text[i];

		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (c != '-')
				return false;
		}
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
				   (c >= 'A' && c <= 'F')))
			return false;
	}
	return text[36] == '\0';
}

/* Whether the API can hold value for a field */
static bool
value_possible(const GcPushableDef *p, const char *value)
{
	const char *const *v;

	if ((p->shapes & GC_SHAPE_UUID) && !is_uuid_text(value))
		return false;
	if (p->values == NULL)
		return true;
	for (v = p->values; *v; v++)
		if (strcmp(*v, value) == 0)
			return true;
	return false;
}

/*
 * possible_values
 *		The values of a condition the API can hold.  The others can match no
 *		row (the API never sends them): they are not sent, and the first one
 *		met in a scan gets a NOTICE naming the valid values, so a query that
 *		returns nothing because of a misspelt or mis-cased value says why.
 */
static List *
possible_values(const GcPushedCond *cond, List *values, const char *relname,
				bool *noticed)
{
	const GcPushableDef *p = cond->pushable;
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, values)
	{
		const char *value = lfirst(lc);
		StringInfoData valid;
		const char *const *v;

		if (value_possible(p, value))
		{
			out = lappend(out, (char *) value);
			continue;
		}
		if (*noticed)
			continue;
		*noticed = true;
		if ((p->shapes & GC_SHAPE_UUID) && !is_uuid_text(value))
		{
			ereport(NOTICE,
					(errmsg("\"%s\" is not a Genesys Cloud id, so the condition on \"%s\" of foreign table \"%s\" matches no row",
							value, p->field, relname),
					 errdetail("Genesys Cloud ids are UUIDs, such as 6e4e2b6c-5e8a-4f0b-9c3e-2a1d7f00b1c4."),
					 errhint("Compare with the id itself, not a name; the directory tables give ids their names.")));
			continue;
		}
		initStringInfo(&valid);
		for (v = p->values; *v; v++)
			appendStringInfo(&valid, "%s%s", valid.len ? ", " : "", *v);
		ereport(NOTICE,
				(errmsg("Genesys Cloud has no %s \"%s\", so the condition on it matches no row of foreign table \"%s\"",
						p->field, value, relname),
				 errhint("The values Genesys Cloud uses are (case matters): %s.", valid.data)));
	}
	return out;
}

/*
 * add_param
 *		A parameter condition's values: when several conditions name one
 *		parameter, any of them alone asks for a superset of what they all
 *		match, so the last one is kept.
 */
static void
add_param(GcRequestSpec *spec, const GcPushedCond *cond, List *values)
{
	GcQueryParam *qp = NULL;
	ListCell   *lc;

	foreach(lc, spec->params)
		if (strcmp(((GcQueryParam *) lfirst(lc))->name, cond->pushable->target) == 0)
			qp = lfirst(lc);
	if (qp == NULL)
	{
		qp = palloc(sizeof(GcQueryParam));
		qp->name = cond->pushable->target;
		spec->params = lappend(spec->params, qp);
	}
	qp->values = values;
}

/*
 * add_bound
 *		Narrow spec's interval by a bound's value.  "> -infinity" and
 *		"< infinity" bound nothing; any other infinite bound, or a NULL,
 *		excludes every row.
 */
static void
add_bound(GcRequestSpec *spec, GcBoundKind bound, Datum d, Oid type, bool isnull)
{
	bool		is_lower = bound == GC_BOUND_LOWER || bound == GC_BOUND_LOWER_STRICT;
	bool		is_upper = bound == GC_BOUND_UPPER || bound == GC_BOUND_UPPER_STRICT;
	TimestampTz v;

	if (isnull)
	{
		spec->empty = true;
		return;
	}
	v = gc_bound_timestamptz(d, type);
	if (bound == GC_BOUND_END_AFTER || bound == GC_BOUND_END_FROM)
	{
		/*
		 * The records ending after v (or at it, asked with >=: a record
		 * ending exactly at v does not overlap an interval starting at v,
		 * so ask from a millisecond earlier).  An infinite value bounds
		 * nothing, or excludes every record.
		 */
		if (TIMESTAMP_IS_NOEND(v))
			spec->empty = true;
		else if (!TIMESTAMP_IS_NOBEGIN(v))
		{
			v -= (bound == GC_BOUND_END_FROM) ? 1000 : 0;
			spec->end_lo = spec->have_end_lo ? Max(spec->end_lo, v) : v;
			spec->have_end_lo = true;
		}
		return;
	}
	if (TIMESTAMP_NOT_FINITE(v))
	{
		if (!((TIMESTAMP_IS_NOBEGIN(v) && is_lower) ||
			  (TIMESTAMP_IS_NOEND(v) && is_upper)))
			spec->empty = true;
		return;
	}
	if (!is_upper)
	{
		spec->lo = spec->have_lo ? Max(spec->lo, v) : v;
		spec->have_lo = true;
	}
	if (!is_lower)
	{
		/* exclusive end: "<" is v itself, "<=" and "=" include v */
		TimestampTz end = bound == GC_BOUND_UPPER_STRICT ? v : v + 1;

		spec->hi = spec->have_hi ? Min(spec->hi, end) : end;
		spec->have_hi = true;
	}
}

/*
 * add_filter
 *		A filter condition's clauses: one clause of all its values, or for
 *		"@> ARRAY[...]" a clause per value (each must match).
 */
static void
add_filter(GcRequestSpec *spec, const GcPushedCond *cond, List *values)
{
	ListCell   *lv;

	if (cond->shape != GC_VALUE_ALL)
	{
		GcFilterClause *fc = palloc0(sizeof(GcFilterClause));

		fc->group = cond->pushable->target;
		fc->dimension = cond->pushable->dimension;
		fc->op = cond->op;
		fc->values = values;
		spec->filters = lappend(spec->filters, fc);
		return;
	}
	foreach(lv, values)
	{
		GcFilterClause *fc = palloc0(sizeof(GcFilterClause));

		fc->group = cond->pushable->target;
		fc->dimension = cond->pushable->dimension;
		fc->op = cond->op;
		fc->values = list_make1(lfirst(lv));
		spec->filters = lappend(spec->filters, fc);
	}
}

/*
 * gc_evaluate_conds
 *		Evaluate every pushed condition (once per scan or rescan) into the
 *		request: interval, ids, parameters, filters.  spec->empty when no
 *		row can match (a NULL value, an empty id list, an infinite bound, a
 *		value the API cannot hold).  *noticed says whether a NOTICE about
 *		such a value was given for this scan already.  Allocates in the
 *		current memory context.
 */
void
gc_evaluate_conds(List *conds, List *states, ExprContext *econtext,
				  const char *relname, bool *noticed, GcRequestSpec *spec)
{
	ListCell   *lc;
	ListCell   *ls;

	memset(spec, 0, sizeof(GcRequestSpec));
	forboth(lc, conds, ls, states)
	{
		GcPushedCond *cond = lfirst(lc);
		ExprState  *es = lfirst(ls);
		bool		isnull = false;
		List	   *values = NIL;

		if (cond->kind == GC_PUSH_BOUND)
		{
			Datum		d = ExecEvalExpr(es, econtext, &isnull);

			add_bound(spec, cond->bound, d, exprType((Node *) es->expr), isnull);
			continue;
		}
		if (cond->shape != GC_VALUE_NONE)
		{
			values = value_strings(es, econtext, cond->shape, &isnull);
			if (isnull || (values == NIL && cond->shape == GC_VALUE_ANY))
			{
				spec->empty = true; /* = NULL, or IN () of nulls: nothing */
				continue;
			}
			if (cond->pushable)
			{
				List	   *possible = possible_values(cond, values, relname, noticed);

				/* nothing possible, or a member that cannot be: no row */
				if (possible == NIL ||
					(cond->shape == GC_VALUE_ALL &&
					 list_length(possible) < list_length(values)))
				{
					spec->empty = true;
					continue;
				}
				values = possible;
			}
		}
		switch (cond->kind)
		{
			case GC_PUSH_IDS:
				spec->ids = narrow_ids(spec->have_ids ? spec->ids : values,
									   spec->have_ids ? values : NIL);
				spec->have_ids = true;
				if (spec->ids == NIL)
					spec->empty = true;
				break;
			case GC_PUSH_PARAM:
				add_param(spec, cond, values);
				break;
			case GC_PUSH_PATH:
				spec->parents = narrow_ids(spec->have_parents ? spec->parents : values,
										   spec->have_parents ? values : NIL);
				spec->have_parents = true;
				if (spec->parents == NIL)
					spec->empty = true;
				break;
			case GC_PUSH_FILTER:
				add_filter(spec, cond, values);
				break;
			case GC_PUSH_BOUND:
				break;
		}
	}
}
