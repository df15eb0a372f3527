/*-------------------------------------------------------------------------
 *
 * join.c
 *		  Join pushdown: an inner join, or a left join from a parent table
 *		  to a child table, of tables that read the same documents of one
 *		  API (the conversation model: conversations, participants,
 *		  sessions, segments, ...) on their keys runs as one read of the
 *		  deepest table, each of whose rows carries its ancestors' objects.
 *		  One request series instead of one per table, and bounds on
 *		  conversation_start written on any of the tables apply to it.
 *
 * When the result is exactly what PostgreSQL's own join would give:
 *	- the tables share one API and their rows' levels form a chain (each an
 *	  ancestor of the next: conversation, participant, session, segment);
 *	  siblings (segments and session metrics) would be a product, and stay
 *	  local;
 *	- each child is joined to its parent on the parent's key and the top
 *	  level's (conversation_id, and participant_id or session_id), known
 *	  equal through the query's equivalences (inner joins) or written in the
 *	  join's own clauses (left joins): a child row then pairs with exactly
 *	  its own parent object, as the keys are unique within a conversation;
 *	- a left join has the ancestors on its left: a parent with no child row
 *	  gives one row with NULL for the child (the cursor's anchor), so the
 *	  child side may carry no condition of its own and the join no clause
 *	  but the keys.
 * Every condition of every table, and every join clause, is still checked
 * on the joined rows (the keys hold by construction).  Any other join shape
 * is left to PostgreSQL, as before.
 *
 * Must not: push a join that could change a row (a FOR UPDATE, a
 * modification), or read anything but the deepest table's API.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "gc_fdw.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/* A table of a pushed join */
typedef struct GcJoinMember
{
	Index		rti;			/* range table index */
	GcRelInfo  *info;			/* its planner state */
	GcLevel		level;
	bool		nullable;		/* on the nullable side of the left join */
} GcJoinMember;

/* Planner state kept in a pushed join's fdw_private */
typedef struct GcJoinInfo
{
	List	   *members;		/* GcJoinMember, ancestors first */
	Oid			userid;			/* whose user mapping reads */
	int			anchor;			/* GcLevel of the left join's parent, -1 */
	List	   *conds;			/* GcPushedCond of the non-nullable tables */
	List	   *explain;		/* String per cond, for EXPLAIN VERBOSE */
	List	   *join_quals;		/* join clauses checked on the joined rows */
	List	   *local_quals;	/* ... and the tables' own conditions */
	char	   *text;			/* "c INNER JOIN s", for EXPLAIN */
} GcJoinInfo;

/* The planner state of a base relation of ours, or NULL */
static GcRelInfo *
rel_info(PlannerInfo *root, RelOptInfo *rel)
{
	if (rel->reloptkind != RELOPT_BASEREL || rel->fdw_private == NULL ||
		rel->fdwroutine == NULL || rel->fdwroutine->GetForeignJoinPaths != gcGetForeignJoinPaths)
		return NULL;
	return rel->fdw_private;
}

/* The user whose mapping reads a base relation */
static Oid
rel_userid(PlannerInfo *root, Index rti)
{
	RangeTblEntry *rte = planner_rt_fetch(rti, root);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
}

/* The depth of level: how many levels it sits in */
static int
level_depth(GcLevel level)
{
	int			depth = 0;
	int			l = gc_level_def(level)->parent;

	for (; l >= 0; l = gc_level_def((GcLevel) l)->parent)
		depth++;
	return depth;
}

/* list_sort comparator: ancestors first */
static int
member_cmp(const ListCell *a, const ListCell *b)
{
	return level_depth(((GcJoinMember *) lfirst(a))->level) -
		level_depth(((GcJoinMember *) lfirst(b))->level);
}

/*
 * side_members
 *		The tables of one side of a join, as pushed-join members (copies), or
 *		NIL when the side is not ours to push.
 */
static List *
side_members(PlannerInfo *root, RelOptInfo *rel, GcJoinInfo **join)
{
	GcRelInfo  *info = rel_info(root, rel);
	GcJoinMember *m;
	ListCell   *lc;
	List	   *out = NIL;

	*join = NULL;
	if (info != NULL)
	{
		m = palloc0(sizeof(GcJoinMember));
		m->rti = rel->relid;
		m->info = info;
		m->level = info->table_opts.resource->level;
		return list_make1(m);
	}
	if (rel->reloptkind != RELOPT_JOINREL || rel->fdw_private == NULL ||
		rel->fdwroutine == NULL || rel->fdwroutine->GetForeignJoinPaths != gcGetForeignJoinPaths)
		return NIL;
	*join = rel->fdw_private;
	foreach(lc, (*join)->members)
	{
		m = palloc(sizeof(GcJoinMember));
		*m = *(GcJoinMember *) lfirst(lc);
		out = lappend(out, m);
	}
	return out;
}

/*
 * key_var
 *		A Var for the column of member that reads field of level, or NULL.
 */
static Var *
key_var(PlannerInfo *root, GcJoinMember *m, GcLevel level, const char *field)
{
	Relation	rel = table_open(m->info->relid, NoLock);
	AttrNumber	attno = gc_find_field_attno(rel, m->info->table_opts.resource, level,
											field, InvalidOid);
	Var		   *var = NULL;

	if (attno != InvalidAttrNumber)
	{
		Form_pg_attribute attr = TupleDescAttr(RelationGetDescr(rel), attno - 1);

		var = makeVar(m->rti, attno, attr->atttypid, attr->atttypmod,
					  attr->attcollation, 0);
	}
	table_close(rel, NoLock);
	return var;
}

/* Whether clauses hold "a = b" (either way round) */
static bool
clauses_equate(List *clauses, Var *a, Var *b)
{
	ListCell   *lc;

	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		OpExpr	   *op = (OpExpr *) ri->clause;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2 ||
			!op_mergejoinable(op->opno, exprType(linitial(op->args))))
			continue;
		if ((equal(linitial(op->args), a) && equal(lsecond(op->args), b)) ||
			(equal(linitial(op->args), b) && equal(lsecond(op->args), a)))
			return true;
	}
	return false;
}

/*
 * keys_joined
 *		Whether child is joined to parent on parent's key and the top
 *		level's: through the query's equivalences, or (across a left join)
 *		in its own clauses.
 */
static bool
keys_joined(PlannerInfo *root, GcJoinMember *parent, GcJoinMember *child,
			List *clauses)
{
	GcLevel		levels[2];
	int			n = 0;
	int			i;
	int			top = (int) parent->level;

	while (gc_level_def((GcLevel) top)->parent >= 0)
		top = gc_level_def((GcLevel) top)->parent;
	levels[n++] = (GcLevel) top;
	if ((int) parent->level != top)
		levels[n++] = parent->level;
	for (i = 0; i < n; i++)
	{
		const char *key = gc_level_def(levels[i])->key;
		Var		   *pv;
		Var		   *cv;

		if (key == NULL)
			return false;
		pv = key_var(root, parent, levels[i], key);
		cv = key_var(root, child, levels[i], key);
		if (pv == NULL || cv == NULL)
			return false;
		if (clauses ? !clauses_equate(clauses, pv, cv) :
			!exprs_known_equal(root, (Node *) pv, (Node *) cv))
			return false;
	}
	return true;
}

/* Whether a relation's output needs a whole row or a system column */
static bool
needs_whole_rows(RelOptInfo *rel)
{
	ListCell   *lc;

	foreach(lc, rel->reltarget->exprs)
	{
		Node	   *expr = lfirst(lc);

		if (!IsA(expr, Var) || ((Var *) expr)->varattno <= 0)
			return true;
	}
	return false;
}

/*
 * gcGetForeignJoinPaths
 *		A path that reads the join as one read of its deepest table, when it
 *		is exactly the join (see the file header).
 */
void
gcGetForeignJoinPaths(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
					  RelOptInfo *innerrel, JoinType jointype,
					  JoinPathExtraData *extra)
{
	GcJoinInfo *outer_join;
	GcJoinInfo *inner_join;
	List	   *outer_m;
	List	   *inner_m;
	List	   *members;
	GcJoinInfo *info;
	GcJoinMember *first;
	GcJoinMember *deepest;
	List	   *key_clauses = NIL;
	ListCell   *lc;
	ListCell   *lp;
	double		rows;
	Cost		total;

	if (joinrel->fdw_private != NULL ||
		(jointype != JOIN_INNER && jointype != JOIN_LEFT) ||
		root->parse->commandType != CMD_SELECT || root->rowMarks != NIL ||
		!bms_is_empty(joinrel->lateral_relids) || needs_whole_rows(joinrel))
		return;
	outer_m = side_members(root, outerrel, &outer_join);
	inner_m = side_members(root, innerrel, &inner_join);
	if (outer_m == NIL || inner_m == NIL)
		return;
	/* one left join at most, its nullable side a pushed one's inner */
	if ((outer_join && outer_join->anchor >= 0) || (inner_join && inner_join->anchor >= 0))
		return;

	members = list_concat(list_copy(outer_m), inner_m);
	first = linitial(members);
	foreach(lc, members)
	{
		GcJoinMember *m = lfirst(lc);

		if (m->info->table_opts.resource->api != first->info->table_opts.resource->api ||
			m->info->serverid != first->info->serverid ||
			rel_userid(root, m->rti) != rel_userid(root, first->rti) ||
			!m->info->table_opts.pushdown)
			return;
		if (jointype == JOIN_LEFT && list_member_ptr(inner_m, m))
			m->nullable = true;
	}
	list_sort(members, member_cmp);

	/* a left join's own clauses (the others are conditions on its rows) */
	if (jointype == JOIN_LEFT)
		foreach(lc, extra->restrictlist)
			if (!RINFO_IS_PUSHED_DOWN(lfirst_node(RestrictInfo, lc), joinrel->relids))
				key_clauses = lappend(key_clauses, lfirst(lc));

	/* a chain, each table within the one before; joined on their keys */
	for (lp = list_head(members), lc = lnext(members, lp); lc != NULL;
		 lp = lc, lc = lnext(members, lc))
	{
		GcJoinMember *parent = lfirst(lp);
		GcJoinMember *child = lfirst(lc);
		bool		crossing = !parent->nullable && child->nullable;

		if (parent->level == child->level || !gc_level_within(child->level, parent->level))
			return;
		if (parent->nullable && !child->nullable)
			return;				/* the nullable side must be the children */
		if (!keys_joined(root, parent, child, crossing ? key_clauses : NIL))
			return;
	}
	deepest = llast(members);

	info = palloc0(sizeof(GcJoinInfo));
	info->members = members;
	info->userid = rel_userid(root, first->rti);
	info->anchor = -1;
	foreach(lc, members)
	{
		GcJoinMember *m = lfirst(lc);
		RelOptInfo *base = find_base_rel(root, m->rti);
		ListCell   *lcond;

		if (m->nullable)
		{
			/* the child side takes no condition of its own */
			if (base->baserestrictinfo != NIL)
				return;
			continue;
		}
		info->anchor = jointype == JOIN_LEFT ? (int) m->level : -1;
		info->conds = list_concat(info->conds, list_copy(m->info->conds));
		foreach(lcond, m->info->conds)
			info->explain = lappend(info->explain,
									makeString(gc_explain_cond(root, base, lfirst(lcond))));
		info->local_quals = list_concat(info->local_quals, list_copy(base->baserestrictinfo));
	}
	if (outer_join)
		info->join_quals = list_copy(outer_join->join_quals);
	if (inner_join)
		info->join_quals = list_concat(info->join_quals, inner_join->join_quals);
	foreach(lc, extra->restrictlist)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		/* a left join's own clauses are its keys, which hold */
		if (jointype == JOIN_LEFT && !RINFO_IS_PUSHED_DOWN(ri, joinrel->relids))
		{
			if (!list_member_ptr(key_clauses, ri))
				return;
			continue;
		}
		info->join_quals = list_append_unique_ptr(info->join_quals, ri);
	}
	info->local_quals = list_concat_unique_ptr(info->local_quals, info->join_quals);
	info->text = psprintf("(%s) %s JOIN (%s)",
						  outer_join ? outer_join->text :
						  get_rel_name(((GcJoinMember *) linitial(outer_m))->info->relid),
						  jointype == JOIN_LEFT ? "LEFT" : "INNER",
						  inner_join ? inner_join->text :
						  get_rel_name(((GcJoinMember *) linitial(inner_m))->info->relid));
	joinrel->fdw_private = info;

	/* one read of the deepest table: cheaper than reading each */
	rows = joinrel->rows;
	total = gc_scan_cost(find_base_rel(root, deepest->rti)->rows,
						 deepest->info->table_opts.page_size);
	add_path(joinrel, (Path *)
			 create_foreign_join_path(root, joinrel, NULL, rows, 100.0, total,
									  NIL, joinrel->lateral_relids, NULL, NIL));
}

/*
 * gc_join_plan
 *		The ForeignScan of a pushed join: its scan tuple is the tables'
 *		columns the query needs; the conditions of every table narrow the
 *		request; every condition and join clause is checked on the rows.
 */
ForeignScan *
gc_join_plan(PlannerInfo *root, RelOptInfo *joinrel, List *tlist,
			 List *scan_clauses, Plan *outer_plan)
{
	GcJoinInfo *info = joinrel->fdw_private;
	GcJoinMember *deepest = llast(info->members);
	List	   *quals = extract_actual_clauses(info->local_quals, false);
	List	   *scan_tlist;
	List	   *fdw_exprs = NIL;
	List	   *explain = NIL;
	List	   *members = NIL;
	List	   *private = NIL;
	ListCell   *lc;

	scan_tlist = add_to_flat_tlist(NIL, pull_var_clause((Node *) joinrel->reltarget->exprs,
														PVC_RECURSE_PLACEHOLDERS));
	scan_tlist = add_to_flat_tlist(scan_tlist,
								   pull_var_clause((Node *) quals, PVC_RECURSE_PLACEHOLDERS));
	explain = info->explain;
	foreach(lc, info->members)
	{
		GcJoinMember *m = lfirst(lc);

		members = lappend(members, list_make2(makeInteger(m->info->relid),
											  makeInteger(m->level)));
	}

	private = lappend(private, gc_serialize_conds(deepest->info->table_opts.resource,
												  info->conds, &fdw_exprs));
	private = lappend(private, NIL);	/* GcPrivAttrsUsed: the scan tlist */
	private = lappend(private, explain);	/* GcPrivExplain */
	private = lappend(private,	/* GcPrivIntervalColumn */
					  makeString(deepest->info->start_attno != InvalidAttrNumber ?
								 get_attname(deepest->info->relid, deepest->info->start_attno, false) :
								 pstrdup("")));
	private = lappend(private, makeInteger(GC_ORDER_NONE));	/* GcPrivOrder */
	private = lappend(private, makeInteger(0));	/* GcPrivParameterized */
	private = lappend(private, members);	/* GcPrivJoinMembers */
	private = lappend(private, makeInteger(deepest->info->relid));	/* GcPrivJoinDeepest */
	private = lappend(private, makeInteger(info->anchor));	/* GcPrivJoinAnchor */
	private = lappend(private, makeString(info->text));	/* GcPrivJoinText */
	Assert(list_length(private) == GcPrivJoinText + 1);

	return make_foreignscan(tlist, quals, 0, fdw_exprs, private, scan_tlist, NIL,
							outer_plan);
}

/*
 * gc_join_deepest_rte
 *		The range table entry of a pushed join's deepest table (the tables
 *		of a pushed join are distinct: a self-join is never pushed).  The
 *		plan names tables by OID: setrefs may renumber range tables.
 */
RangeTblEntry *
gc_join_deepest_rte(ForeignScanState *node)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	Oid			relid = (Oid) intVal(list_nth(fsplan->fdw_private, GcPrivJoinDeepest));
	int			rti = -1;

	while ((rti = bms_next_member(fsplan->fs_relids, rti)) >= 0)
	{
		RangeTblEntry *rte = exec_rt_fetch(rti, node->ss.ps.state);

		if (rte->relid == relid)
			return rte;
	}
	elog(ERROR, "gc_fdw: the deepest table of a pushed join is not in its plan");
	return NULL;				/* keep compiler quiet */
}

/*
 * gc_join_begin
 *		Set up a pushed join's scan: the deepest table is the scan's
 *		relation, and each column of the scan tuple reads its table's key
 *		from the deepest table's rows (an ancestor's through its level).
 */
void
gc_join_begin(GcScan *scan, ForeignScanState *node)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	List	   *private = fsplan->fdw_private;
	EState	   *estate = node->ss.ps.state;
	int			n = list_length(fsplan->fdw_scan_tlist);
	GcColumnSpec *specs = palloc0(sizeof(GcColumnSpec) * Max(n, 1));
	ListCell   *lc;
	int			i = 0;

	scan->anchor = intVal(list_nth(private, GcPrivJoinAnchor));
	foreach(lc, fsplan->fdw_scan_tlist)
	{
		Var		   *var = (Var *) lfirst_node(TargetEntry, lc)->expr;
		Oid			relid = exec_rt_fetch(var->varno, estate)->relid;
		GcTableOptions opts;
		const char *key;
		ListCell   *lm;
		GcLevel		level = scan->res->level;

		foreach(lm, (List *) list_nth(private, GcPrivJoinMembers))
			if ((Oid) intVal(linitial(lfirst(lm))) == relid)
				level = intVal(lsecond(lfirst(lm)));
		gc_get_table_options(GetForeignTable(relid), &opts);
		key = gc_get_column_key(relid, var->varattno, opts.resource);
		/* an ancestor's own key, read from the rows through its level */
		if (level != scan->res->level && strchr(key, ':') == NULL)
			key = psprintf("%s:%s", gc_level_def(level)->name, key);
		specs[i].colname = get_attname(relid, var->varattno, false);
		specs[i].key = key;
		specs[i].typid = var->vartype;
		specs[i].typmod = var->vartypmod;
		i++;
	}
	scan->map = gc_column_map_create_for(RelationGetRelationName(scan->rel), scan->res,
										 n, specs);
}

/*
 * gc_join_explain
 *		EXPLAIN of a pushed join: which join, read how.
 */
void
gc_join_explain(ForeignScanState *node, ExplainState *es)
{
	List	   *private = ((ForeignScan *) node->ss.ps.plan)->fdw_private;

	ExplainPropertyText("Relations", strVal(list_nth(private, GcPrivJoinText)), es);
	if (es->verbose)
		ExplainPropertyText("Genesys Join",
							psprintf("one read of %s, each row with its ancestors' objects",
									 get_rel_name((Oid) intVal(list_nth(private, GcPrivJoinDeepest)))),
							es);
}
