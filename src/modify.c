/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  UPDATE on the users foreign table: one PATCH /api/v2/users/{userId}
 *		  per row, carrying the version read by the same statement and only
 *		  the writable fields whose value changes.
 *
 * The scan adds the user's id and version (and the old value of every
 * column being set) as junk columns; a row whose values do not change is
 * not sent.  A 409 means the user changed since it was read: it is an
 * error naming both versions, or, with on_conflict 'retry', the user is
 * read again and the PATCH retried once if the columns being set did not
 * change remotely.  A PATCH is never repeated blindly: the transport may
 * retry it after a network failure or a 5xx, but it carries the same
 * version, so a repeat of an applied PATCH fails with 409 instead of
 * applying twice, and such a 409 is resolved by reading the user back.
 * RETURNING shows the user as the API answered.  The API is not
 * transactional: errors say how many users were already updated, and a
 * transaction that rolls back after updating users warns that they stay.
 *
 * INSERT and DELETE on users, and any change to the conversation tables,
 * are refused at plan time, before anything is sent.
 *
 * Must not: send a field that is not writable, or put a token or secret in
 * a message (the transport owns credentials).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "gc_fdw.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#define GC_JUNK_ID			"gc_fdw_user_id"
#define GC_JUNK_VERSION		"gc_fdw_user_version"
#define GC_JUNK_OLD			"gc_fdw_old_%d"

/* How a writable field is written in the PATCH body */
typedef enum GcFieldKind
{
	GC_FIELD_TEXT,				/* JSON string */
	GC_FIELD_BOOL,				/* JSON true/false */
	GC_FIELD_ID					/* JSON string holding an id */
} GcFieldKind;

/* A user field PATCH /api/v2/users/{userId} changes (UpdateUser) */
typedef struct GcWritableField
{
	const char *key;			/* JSON key the column reads */
	const char *field;			/* UpdateUser field sent */
	GcFieldKind kind;
	bool		nullable;		/* may be cleared (JSON null) */
} GcWritableField;

static const GcWritableField gc_user_fields[] = {
	{"name", "name", GC_FIELD_TEXT, false},
	{"email", "email", GC_FIELD_TEXT, false},
	{"username", "username", GC_FIELD_TEXT, false},
	{"department", "department", GC_FIELD_TEXT, true},
	{"title", "title", GC_FIELD_TEXT, true},
	{"preferredName", "preferredName", GC_FIELD_TEXT, true},
	{"acdAutoAnswer", "acdAutoAnswer", GC_FIELD_BOOL, false},
	{"manager.id", "manager", GC_FIELD_ID, true},
	{NULL, NULL, GC_FIELD_TEXT, false}
};

#define GC_WRITABLE_KEYS "name, email, username, department, title, preferredName, acdAutoAnswer, manager.id"

/* Indexes of the modify plan's fdw_private */
enum GcModifyPrivateIndex
{
	GcModAttnums,				/* Integer list: columns being set */
	GcModFields					/* Integer list: their gc_user_fields index */
};

/* One column being set */
typedef struct GcSetColumn
{
	AttrNumber	attnum;
	const GcWritableField *field;
	AttrNumber	old_junk;		/* junk column with the value read */
	Oid			typid;
	FmgrInfo	output;
} GcSetColumn;

typedef struct GcModifyState
{
	Relation	rel;
	const GcResourceDef *res;	/* its API entry gives the paths */
	GcConnection *conn;
	bool		retry_conflicts;
	List	   *set_columns;	/* GcSetColumn * */
	AttrNumber	id_junk;
	AttrNumber	version_junk;
	FmgrInfo	id_output;
	FmgrInfo	version_output;
	GcColumnMap *map;			/* the API's answer to a RETURNING row */
	MemoryContext row_cxt;
	GcScanStats stats;
	int64		updated;		/* PATCHes the API accepted */
	int64		unchanged;		/* rows with nothing to send */
	int64		conflicts_retried;
	const char *in_flight;		/* user whose PATCH was sent, answer pending */
} GcModifyState;

/* Users updated by the current transaction, for the warning at rollback */
static int64 gc_xact_user_updates = 0;

/* ----------------------------------------------------------------
 * Planning
 * ----------------------------------------------------------------
 */

static const GcResourceDef *
table_resource(Oid relid)
{
	GcTableOptions opts;

	gc_get_table_options(GetForeignTable(relid), &opts);
	return opts.resource;
}

/* The writable field a column's key names, or NULL */
static const GcWritableField *
writable_field(const char *key)
{
	const GcWritableField *f;

	for (f = gc_user_fields; f->key; f++)
		if (strcmp(f->key, key) == 0)
			return f;
	return NULL;
}

/* The column of rel reading key (its first), or InvalidAttrNumber */
static AttrNumber
column_reading(Relation rel, const GcResourceDef *res, const char *key)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < tupdesc->natts; i++)
	{
		if (TupleDescAttr(tupdesc, i)->attisdropped)
			continue;
		if (strcmp(gc_get_column_key(RelationGetRelid(rel), i + 1, res), key) == 0)
			return i + 1;
	}
	return InvalidAttrNumber;
}

static void
add_junk_column(PlannerInfo *root, Index rtindex, Relation rel, AttrNumber attnum,
				const char *name)
{
	Form_pg_attribute attr = TupleDescAttr(RelationGetDescr(rel), attnum - 1);

	add_row_identity_var(root, makeVar(rtindex, attnum, attr->atttypid, attr->atttypmod,
									   attr->attcollation, 0),
						 rtindex, name);
}

/*
 * gcIsForeignRelUpdatable
 *		users allows UPDATE; everything else is read-only.
 */
int
gcIsForeignRelUpdatable(Relation rel)
{
	const GcResourceDef *res = table_resource(RelationGetRelid(rel));

	return (res && res->updatable) ? (1 << CMD_UPDATE) : 0;
}

/*
 * gcAddForeignUpdateTargets
 *		The row identity of a user is its id; its version goes with it, and
 *		so does the old value of every column being set.
 */
void
gcAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
						  RangeTblEntry *target_rte, Relation target_relation)
{
	const GcResourceDef *res = table_resource(RelationGetRelid(target_relation));
	const char *relname = RelationGetRelationName(target_relation);
	AttrNumber	id_col;
	AttrNumber	version_col;
	int			col;

	if (res == NULL || !res->updatable || root->parse->commandType != CMD_UPDATE)
		return;					/* refused by gcPlanForeignModify */

	id_col = column_reading(target_relation, res, "id");
	version_col = column_reading(target_relation, res, "version");
	if (id_col == InvalidAttrNumber || version_col == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("UPDATE on foreign table \"%s\" needs columns reading the user's \"id\" and \"version\"",
						relname),
				 errdetail("PATCH /api/v2/users/{userId} names the user by id and must carry the version the statement read."),
				 errhint("ALTER FOREIGN TABLE %s ADD COLUMN %s;", quote_identifier(relname),
						 id_col == InvalidAttrNumber ? "id uuid" : "version integer")));
	add_junk_column(root, rtindex, target_relation, id_col, GC_JUNK_ID);
	add_junk_column(root, rtindex, target_relation, version_col, GC_JUNK_VERSION);

	col = -1;
	while ((col = bms_next_member(target_rte->updatedCols, col)) >= 0)
	{
		AttrNumber	attnum = col + FirstLowInvalidHeapAttributeNumber;

		if (attnum > 0)
			add_junk_column(root, rtindex, target_relation, attnum,
							psprintf(GC_JUNK_OLD, attnum));
	}
}

/* Refuse a statement gc_fdw cannot carry out */
static void
pg_attribute_noreturn()
refuse(const char *relname, CmdType operation, const GcResourceDef *res)
{
	const char *verb = operation == CMD_INSERT ? "INSERT into" :
		operation == CMD_DELETE ? "DELETE from" : "UPDATE";

	if (!res->updatable)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("foreign table \"%s\" is read-only", relname),
				 errdetail("gc_fdw only reads Genesys Cloud %s; of all its tables, only users can be changed (UPDATE).",
						   res->api->family),
				 errhint("To work on the rows, copy them into local tables, with INSERT INTO ... SELECT or the sync procedures (docs/warehousing.md).")));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("gc_fdw does not support %s foreign table \"%s\"", verb, relname),
			 operation == CMD_INSERT ?
			 errdetail("Creating Genesys Cloud users is not supported; UPDATE of existing users is.") :
			 errdetail("Deleting Genesys Cloud users is not supported; UPDATE of existing users is."),
			 operation == CMD_INSERT ?
			 errhint("Create users in Genesys Cloud Admin or with POST /api/v2/users.") :
			 errhint("Deactivate or delete users in Genesys Cloud Admin.")));
}

/*
 * gcPlanForeignModify
 *		Check every column being set before anything is sent: it must read
 *		a field PATCH /api/v2/users/{userId} changes.
 */
List *
gcPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
					int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	Relation	rel = table_open(rte->relid, NoLock);
	const GcResourceDef *res = table_resource(rte->relid);
	const char *relname = pstrdup(RelationGetRelationName(rel));
	List	   *attnums = NIL;
	List	   *fields = NIL;
	Bitmapset  *updated;
	int			col;

	if (plan->operation != CMD_UPDATE || !res->updatable)
	{
		table_close(rel, NoLock);
		refuse(relname, plan->operation, res);
	}

	/*
	 * The columns the statement sets, not get_rel_all_updated_cols(): that
	 * adds generated columns, which are computed locally and never sent.
	 */
	updated = rte->updatedCols;
	col = -1;
	while ((col = bms_next_member(updated, col)) >= 0)
	{
		AttrNumber	attnum = col + FirstLowInvalidHeapAttributeNumber;
		Form_pg_attribute attr;
		const GcWritableField *field;
		char	   *key;

		if (attnum <= 0)
			continue;
		attr = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
		if (attr->attgenerated)
			continue;
		key = gc_get_column_key(rte->relid, attnum, res);
		field = writable_field(key);
		if (field == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of foreign table \"%s\" cannot be updated",
							NameStr(attr->attname), relname),
					 errdetail("It reads the JSON key \"%s\", which PATCH /api/v2/users/{userId} does not change.", key),
					 errhint("Writable columns read one of the keys %s.", GC_WRITABLE_KEYS)));
		if (field->kind == GC_FIELD_BOOL && attr->atttypid != BOOLOID)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of foreign table \"%s\" must be boolean to be updated",
							NameStr(attr->attname), relname),
					 errdetail("Genesys Cloud's %s is a boolean.", field->field)));
		attnums = lappend_int(attnums, attnum);
		fields = lappend_int(fields, (int) (field - gc_user_fields));
	}
	table_close(rel, NoLock);
	return list_make2(attnums, fields);
}

/* ----------------------------------------------------------------
 * Execution
 * ----------------------------------------------------------------
 */

static void
modify_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT && gc_xact_user_updates > 0)
		ereport(WARNING,
				(errmsg("%lld Genesys Cloud user update(s) made in the rolled-back transaction stay in effect",
						(long long) gc_xact_user_updates),
				 errdetail("The Genesys Cloud API is not transactional: a PATCH it accepted cannot be rolled back.")));
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		gc_xact_user_updates = 0;
}

/* From _PG_init */
void
gc_modify_init(void)
{
	RegisterXactCallback(modify_xact_callback, NULL);
}

/*
 * gcBeginForeignModify
 *		Connection, the columns being set and where their junk values are.
 */
void
gcBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					 List *fdw_private, int subplan_index, int eflags)
{
	GcModifyState *st = palloc0(sizeof(GcModifyState));
	Relation	rel = rinfo->ri_RelationDesc;
	Plan	   *subplan = outerPlanState(mtstate)->plan;
	EState	   *estate = mtstate->ps.state;
	ForeignTable *table = GetForeignTable(RelationGetRelid(rel));
	GcTableOptions opts;
	ListCell   *a;
	ListCell   *f;
	Oid			func;
	bool		varlena;
	RangeTblEntry *rte;

	rinfo->ri_FdwState = st;
	st->rel = rel;
	gc_get_table_options(table, &opts);
	st->res = opts.resource;
	st->retry_conflicts = opts.retry_conflicts;
	forboth(a, list_nth(fdw_private, GcModAttnums), f, list_nth(fdw_private, GcModFields))
	{
		GcSetColumn *sc = palloc0(sizeof(GcSetColumn));

		sc->attnum = lfirst_int(a);
		sc->field = &gc_user_fields[lfirst_int(f)];
		sc->typid = TupleDescAttr(RelationGetDescr(rel), sc->attnum - 1)->atttypid;
		getTypeOutputInfo(sc->typid, &func, &varlena);
		fmgr_info(func, &sc->output);
		sc->old_junk = ExecFindJunkAttributeInTlist(subplan->targetlist,
													psprintf(GC_JUNK_OLD, sc->attnum));
		if (!AttributeNumberIsValid(sc->old_junk) && !(eflags & EXEC_FLAG_EXPLAIN_ONLY))
			elog(ERROR, "gc_fdw: the junk column with the old value of column %d is missing",
				 sc->attnum);
		st->set_columns = lappend(st->set_columns, sc);
	}
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	/* the user whose mapping is used: the view owner's under a view */
	rte = exec_rt_fetch(rinfo->ri_RangeTableIndex, estate);
	st->conn = gc_get_connection(table, OidIsValid(rte->checkAsUser) ?
								 rte->checkAsUser : GetUserId());
	st->id_junk = ExecFindJunkAttributeInTlist(subplan->targetlist, GC_JUNK_ID);
	st->version_junk = ExecFindJunkAttributeInTlist(subplan->targetlist, GC_JUNK_VERSION);
	if (!AttributeNumberIsValid(st->id_junk) || !AttributeNumberIsValid(st->version_junk))
		elog(ERROR, "gc_fdw: the user id or version junk column is missing");
	getTypeOutputInfo(exprType((Node *) ((TargetEntry *) list_nth(subplan->targetlist,
																	st->id_junk - 1))->expr),
					  &func, &varlena);
	fmgr_info(func, &st->id_output);
	getTypeOutputInfo(exprType((Node *) ((TargetEntry *) list_nth(subplan->targetlist,
																	st->version_junk - 1))->expr),
					  &func, &varlena);
	fmgr_info(func, &st->version_output);
	st->map = gc_column_map_create(rel, opts.resource,
								   bms_make_singleton(0 - FirstLowInvalidHeapAttributeNumber));
	st->row_cxt = AllocSetContextCreate(estate->es_query_cxt, "gc_fdw modify row",
										ALLOCSET_DEFAULT_SIZES);
}

/* The text of a junk value, or NULL */
static char *
junk_text(TupleTableSlot *planSlot, AttrNumber attno, FmgrInfo *output)
{
	bool		isnull;
	Datum		d = ExecGetJunkAttribute(planSlot, attno, &isnull);

	return isnull ? NULL : OutputFunctionCall(output, d);
}

/* A column's value as the JSON the PATCH body carries */
static void
append_json_value(StringInfo buf, GcSetColumn *sc, Datum value, bool isnull)
{
	if (isnull)
		appendStringInfoString(buf, "null");
	else if (sc->field->kind == GC_FIELD_BOOL)
		appendStringInfoString(buf, DatumGetBool(value) ? "true" : "false");
	else
		escape_json(buf, OutputFunctionCall(&sc->output, value));
}

/* The text a column's value has in the API's JSON (NULL for null) */
static char *
value_as_api_text(GcSetColumn *sc, Datum value, bool isnull)
{
	if (isnull)
		return NULL;
	if (sc->field->kind == GC_FIELD_BOOL)
		return pstrdup(DatumGetBool(value) ? "true" : "false");
	return OutputFunctionCall(&sc->output, value);
}

static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* GET /api/v2/users/{id}: the user as the API has it now */
static GcPage *
read_user(GcModifyState *st, const char *id)
{
	GcHttpResponse resp;
	char	   *path = psprintf("%s/%s", st->res->api->path, id);

	gc_api_call(st->conn, "GET", path, NULL, &st->stats, &resp);
	return gc_page_parse(CurrentMemoryContext, resp.body, resp.body_len,
						 psprintf("GET %s/{userId}", st->res->api->path));
}

/* Fill slot with the user the API answered (for RETURNING) */
static void
store_answer(GcModifyState *st, TupleTableSlot *slot, const char *body, size_t len)
{
	StringInfoData doc;
	GcPage	   *page;
	GcRowCursor *cursor;

	initStringInfo(&doc);
	appendStringInfo(&doc, "{\"%s\":[", st->res->api->array_key);
	appendBinaryStringInfo(&doc, body, len);
	appendStringInfoString(&doc, "]}");
	page = gc_page_parse(CurrentMemoryContext, doc.data, doc.len,
						 psprintf("PATCH %s/{userId}", st->res->api->path));
	cursor = gc_cursor_create(page, st->res->api->array_key, st->res->level);
	ExecClearTuple(slot);
	if (!gc_cursor_next_top(cursor) || !gc_cursor_next_row(cursor))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("Genesys Cloud answered PATCH %s/{userId} without the updated user",
						st->res->api->path)));
	gc_cursor_values(cursor, st->map, slot->tts_values, slot->tts_isnull);
	ExecStoreVirtualTuple(slot);
}

/*
 * update_user
 *		PATCH one user; see the file header.  Returns false when there was
 *		nothing to send.
 */
static bool
update_user(GcModifyState *st, TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	char	   *id = junk_text(planSlot, st->id_junk, &st->id_output);
	char	   *version_text = junk_text(planSlot, st->version_junk, &st->version_output);
	long		version;
	List	   *changed = NIL;
	ListCell   *lc;
	GcHttpResponse resp;
	char	   *path;
	bool		retried = false;

	if (id == NULL || version_text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("cannot update a user of foreign table \"%s\" whose %s is NULL",
						RelationGetRelationName(st->rel), id == NULL ? "id" : "version")));
	version = strtol(version_text, NULL, 10);

	/* the columns whose value changes; an unchanged row sends nothing */
	slot_getallattrs(slot);
	foreach(lc, st->set_columns)
	{
		GcSetColumn *sc = lfirst(lc);
		bool		old_null;
		Datum		old = ExecGetJunkAttribute(planSlot, sc->old_junk, &old_null);
		bool		new_null = slot->tts_isnull[sc->attnum - 1];
		Datum		new = slot->tts_values[sc->attnum - 1];

		if (new_null && !sc->field->nullable)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("cannot set %s of Genesys Cloud user %s to NULL",
							sc->field->field, id),
					 errdetail("Column \"%s\" of foreign table \"%s\" writes the user's %s, which Genesys Cloud requires.",
							   get_attname(RelationGetRelid(st->rel), sc->attnum, false),
							   RelationGetRelationName(st->rel), sc->field->field)));
		/*
		 * Compared as the text the API would get: the old value went through
		 * a tuple (short varlena header), the new one may not have.
		 */
		if (same_text(value_as_api_text(sc, old, old_null),
					  value_as_api_text(sc, new, new_null)))
			continue;
		changed = lappend(changed, sc);
	}
	/*
	 * Nothing to send: the slot already holds the whole user as this
	 * statement read it (PostgreSQL fetches the whole row for an UPDATE of
	 * a foreign table), which is what RETURNING shows.
	 */
	if (changed == NIL)
		return false;

	path = psprintf("%s/%s", st->res->api->path, id);

	for (;;)
	{
		StringInfoData body;
		GcPage	   *now;
		long		now_version;
		char	   *why = NULL;

		initStringInfo(&body);
		appendStringInfo(&body, "{\"version\":%ld", version);
		foreach(lc, changed)
		{
			GcSetColumn *sc = lfirst(lc);

			appendStringInfoChar(&body, ',');
			escape_json(&body, sc->field->field);
			appendStringInfoChar(&body, ':');
			append_json_value(&body, sc, slot->tts_values[sc->attnum - 1],
							  slot->tts_isnull[sc->attnum - 1]);
		}
		appendStringInfoChar(&body, '}');

		/* sent as UTF-8 whatever the database encoding */
		st->in_flight = id;
		gc_api_call_ex(st->conn, "PATCH", path,
					   pg_server_to_any(body.data, body.len, PG_UTF8),
					   &st->stats, &resp, 409, NULL);
		st->in_flight = NULL;
		if (resp.status != 409)
		{
			/* applied: counted before anything else can fail */
			st->updated++;
			gc_xact_user_updates++;
			store_answer(st, slot, resp.body, resp.body_len);
			return true;
		}

		/* 409: the version sent is not the user's version now */
		now = read_user(st, id);
		now_version = strtol(gc_page_value_text(now, "version") ?
							 gc_page_value_text(now, "version") : "0", NULL, 10);

		/*
		 * An attempt the transport repeated may have been applied: then the
		 * user is at the next version with exactly the values sent.
		 */
		if (resp.retried_uncertain && now_version == version + 1)
		{
			bool		ours = true;

			foreach(lc, changed)
			{
				GcSetColumn *sc = lfirst(lc);

				ours = ours && same_text(gc_page_value_text(now, sc->field->key),
										 value_as_api_text(sc, slot->tts_values[sc->attnum - 1],
														   slot->tts_isnull[sc->attnum - 1]));
			}
			if (ours)
			{
				GcHttpResponse again;

				st->updated++;
				gc_xact_user_updates++;
				gc_api_call(st->conn, "GET", path, NULL, &st->stats, &again);
				store_answer(st, slot, again.body, again.body_len);
				return true;
			}
		}

		/* on_conflict 'retry': once, if what is being set did not change */
		if (st->retry_conflicts && !retried)
		{
			foreach(lc, changed)
			{
				GcSetColumn *sc = lfirst(lc);
				bool		old_null;
				Datum		old = ExecGetJunkAttribute(planSlot, sc->old_junk, &old_null);
				char	   *remote = gc_page_value_text(now, sc->field->key);
				char	   *read = value_as_api_text(sc, old, old_null);

				if (!same_text(remote, read) && why == NULL)
					why = psprintf("Column \"%s\" changed remotely from %s to %s, so the retry was not attempted.",
								   get_attname(RelationGetRelid(st->rel), sc->attnum, false),
								   read ? quote_literal_cstr(read) : "NULL",
								   remote ? quote_literal_cstr(remote) : "NULL");
			}
			if (why == NULL)
			{
				retried = true;
				st->conflicts_retried++;
				version = now_version;
				continue;
			}
		}

		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("Genesys Cloud user %s (%s) changed since this statement read it",
						id, gc_page_value_text(now, "name") ?
						quote_literal_cstr(gc_page_value_text(now, "name")) : "no name"),
				 errdetail("The statement %s version %ld; the API has version %ld (%s).%s%s",
						   retried ? "retried with" : "read", version, now_version,
						   gc_describe_response(&resp), why ? " " : "", why ? why : ""),
				 st->retry_conflicts ?
				 errhint("Run the UPDATE again to apply it to the user's current version.") :
				 errhint("Run the UPDATE again to apply it to the user's current version, or set on_conflict 'retry' on foreign table \"%s\" to retry once when the columns being set did not change remotely.",
						 RelationGetRelationName(st->rel))));
	}
}

/*
 * gcExecForeignUpdate
 *		One row: PATCH the user, or nothing when no value changes.  Any
 *		error says how many users this statement had already updated.
 */
TupleTableSlot *
gcExecForeignUpdate(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					TupleTableSlot *planSlot)
{
	GcModifyState *st = rinfo->ri_FdwState;
	MemoryContext oldcxt;
	MemoryContext caller = CurrentMemoryContext;

	MemoryContextReset(st->row_cxt);
	oldcxt = MemoryContextSwitchTo(st->row_cxt);
	PG_TRY();
	{
		if (!update_user(st, slot, planSlot))
			st->unchanged++;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		const char *note;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		note = st->updated == 0 ?
			"No user had been updated by this statement." :
			psprintf("%lld user(s) had already been updated by this statement and stay updated: the Genesys Cloud API is not transactional.",
					 (long long) st->updated);
		if (st->in_flight && gc_api_failure_uncertain)
			note = psprintf("%s The PATCH of user %s had been sent and may have been applied.",
							note, st->in_flight);
		st->in_flight = NULL;
		edata->detail = edata->detail ? psprintf("%s %s", edata->detail, note) : pstrdup(note);
		ReThrowError(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	return slot;
}

void
gcEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
}

/*
 * gcExplainForeignModify
 *		The request each row sends; under ANALYZE, what was sent.
 */
void
gcExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					   List *fdw_private, int subplan_index, ExplainState *es)
{
	GcModifyState *st = rinfo->ri_FdwState;
	StringInfoData fields;
	ListCell   *lc;

	initStringInfo(&fields);
	foreach(lc, st->set_columns)
		appendStringInfo(&fields, "%s%s", fields.len ? ", " : "",
						 ((GcSetColumn *) lfirst(lc))->field->field);
	ExplainPropertyText("Genesys Cloud Request",
						psprintf("PATCH %s/{userId}", st->res->api->path), es);
	ExplainPropertyText("Fields Sent When Changed", fields.data, es);
	ExplainPropertyText("On Conflict", st->retry_conflicts ? "retry" : "error", es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Users Updated", NULL, st->updated, es);
		ExplainPropertyInteger("Users Unchanged (not sent)", NULL, st->unchanged, es);
		ExplainPropertyInteger("Conflicts Retried", NULL, st->conflicts_retried, es);
		ExplainPropertyInteger("API Requests", NULL, st->stats.requests, es);
		ExplainPropertyInteger("Retries", NULL, st->stats.retries, es);
		ExplainPropertyInteger("429 Waits", NULL, st->stats.waits_429, es);
		ExplainPropertyInteger("Re-authentications", NULL, st->stats.reauths, es);
	}
}
