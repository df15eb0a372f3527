/*-------------------------------------------------------------------------
 *
 * json_tuple.c
 *		  JSON to tuples: how each column of a table reads its value (the
 *		  column map), and the values of the row a cursor (json_page.c) is
 *		  on, turned into Datums through each column type's input function
 *		  (jsonb columns are built from the tree directly).
 *
 * The only file that builds Datums from a page's JSON, and the wording of
 * conversion errors.  Must not walk pages (json_page.c) or do network I/O.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "json_rows.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/* How one column reads its value */
typedef struct GcColumnConv
{
	bool		used;			/* column needed by the query */
	char	   *colname;
	char	   *key;			/* as configured, for messages */
	int			depth;			/* cursor depth of the object it reads */
	char	   *key_rel;		/* key without its "level:" prefix */
	char	  **path;			/* key split on '.'; NULL = whole object */
	int			path_len;
	Oid			typid;
	int32		typmod;
	bool		is_json;		/* json/jsonb: store JSON text of the value */
	bool		is_jsonb;		/* plain jsonb: built from the tree directly */
	FmgrInfo	input;			/* input function of the type (or element) */
	Oid			ioparam;
	/* arrays: element type details */
	Oid			elemtype;		/* InvalidOid if not an array */
	bool		elem_is_json;
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
} GcColumnConv;

struct GcColumnMap
{
	char	   *relname;
	const GcResourceDef *res;
	int			natts;
	GcColumnConv *cols;			/* indexed by attnum - 1 */
};

/* State for the conversion error context callback */
typedef struct GcConvContext
{
	GcColumnMap *map;
	int			attidx;			/* column being converted, -1 if none */
	const char *row_id;
	int			row_index;
} GcConvContext;

/*
 * column_setup
 *		Work out how col reads its value: the depth of the object its key
 *		names (a "level:" prefix reads an ancestor), the JSON path in it,
 *		and the type's input function.
 */
static void
column_setup(GcColumnMap *map, GcColumnConv *col, const GcLevelChain *chain,
			 const char *colname, const char *key, Oid typid, int32 typmod)
{
	const char *colon = strchr(key, ':');
	const char *rel_key = key;
	Oid			funcid;
	Oid			elemtype;

	col->colname = pstrdup(colname);
	col->key = pstrdup(key);
	col->typid = typid;
	col->typmod = typmod;
	col->depth = chain->depth;
	if (colon)
	{
		int			level = gc_level_lookup(key, colon - key);
		int			d;

		col->depth = -1;
		for (d = 0; d <= chain->depth && level >= 0; d++)
			if ((int) chain->levels[d] == level)
				col->depth = d;
		if (col->depth < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("key \"%s\" of column \"%s\" of foreign table \"%s\" names no level above %s rows",
							key, colname, map->relname, map->res->name),
					 errhint("Prefix a key with one of the levels its rows are nested in (conversation, participant, session), or give a key relative to the row.")));
		rel_key = colon + 1;
	}
	col->key_rel = pstrdup(rel_key);

	if (strcmp(col->key_rel, ".") != 0)
	{
		char	   *copy = pstrdup(col->key_rel);
		char	   *part;
		char	   *saveptr = NULL;

		col->path = palloc(sizeof(char *) * (strlen(copy) + 1));
		for (part = strtok_r(copy, ".", &saveptr); part;
			 part = strtok_r(NULL, ".", &saveptr))
			col->path[col->path_len++] = part;

		/*
		 * A key of dots only ("..", or "conversation:" with nothing after the
		 * prefix) names no field: read the whole object, as ".".  The fuzzer
		 * (tests/fuzz) found such keys left path[0] unset for
		 * gc_column_map_uses_key() to read.
		 */
		if (col->path_len == 0)
		{
			pfree(col->path);
			col->path = NULL;
		}
	}

	elemtype = get_element_type(col->typid);
	if (OidIsValid(elemtype) && get_typlen(col->typid) == -1)
	{
		col->elemtype = elemtype;
		col->elem_is_json = (elemtype == JSONBOID || elemtype == JSONOID);
		get_typlenbyvalalign(elemtype, &col->elemlen, &col->elembyval,
							 &col->elemalign);
		getTypeInputInfo(elemtype, &funcid, &col->ioparam);
	}
	else
	{
		col->is_json = (col->typid == JSONBOID || col->typid == JSONOID);
		/* a domain over jsonb goes through its input function */
		col->is_jsonb = (col->typid == JSONBOID);
		getTypeInputInfo(col->typid, &funcid, &col->ioparam);
	}
	fmgr_info(funcid, &col->input);
}

/*
 * gc_column_map_create
 *		Work out, for each column of rel the query uses, the JSON path it
 *		reads and how to convert the value.  Allocated in the current context.
 */
GcColumnMap *
gc_column_map_create(Relation rel, const GcResourceDef *res,
					 Bitmapset *attrs_used)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	GcColumnMap *map = palloc0(sizeof(GcColumnMap));
	GcLevelChain chain;
	int			i;

	gc_level_chain(res->level, &chain);
	map->relname = pstrdup(RelationGetRelationName(rel));
	map->res = res;
	map->natts = tupdesc->natts;
	map->cols = palloc0(sizeof(GcColumnConv) * Max(tupdesc->natts, 1));

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		GcColumnConv *col = &map->cols[i];

		if (attr->attisdropped)
			continue;
		col->used = bms_is_member(i + 1 - FirstLowInvalidHeapAttributeNumber, attrs_used) ||
			bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs_used);
		column_setup(map, col, &chain, NameStr(attr->attname),
					 gc_get_column_key(RelationGetRelid(rel), i + 1, res),
					 attr->atttypid, attr->atttypmod);
	}
	return map;
}

/*
 * gc_column_map_create_for
 *		A column map for the natts columns described by specs (a pushed
 *		join's scan tuple), reading rows of res; relname names them in
 *		messages.  Every column is used.
 */
GcColumnMap *
gc_column_map_create_for(const char *relname, const GcResourceDef *res,
						 int natts, const GcColumnSpec *specs)
{
	GcColumnMap *map = palloc0(sizeof(GcColumnMap));
	GcLevelChain chain;
	int			i;

	gc_level_chain(res->level, &chain);
	map->relname = pstrdup(relname);
	map->res = res;
	map->natts = natts;
	map->cols = palloc0(sizeof(GcColumnConv) * Max(natts, 1));
	for (i = 0; i < natts; i++)
	{
		map->cols[i].used = true;
		column_setup(map, &map->cols[i], &chain, specs[i].colname, specs[i].key,
					 specs[i].typid, specs[i].typmod);
	}
	return map;
}

/*
 * gc_column_map_uses_key
 *		Whether a column the query needs reads the given top-level key (used
 *		to ask for optional expansions such as dateLastLogin).
 */
bool
gc_column_map_uses_key(GcColumnMap *map, const char *key)
{
	int			i;

	for (i = 0; i < map->natts; i++)
	{
		GcColumnConv *col = &map->cols[i];

		if (!col->used || col->colname == NULL)
			continue;
		if (col->path == NULL || strcmp(col->path[0], key) == 0)
			return true;
	}
	return false;
}

/* A string of the page for PostgreSQL: \u0000 is refused as jsonb_in does */
static char *
string_to_server(const char *s, int len)
{
	if (memchr(s, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("unsupported Unicode escape sequence"),
				 errdetail("\\u0000 cannot be converted to text.")));
	return pg_any_to_server(s, len, PG_UTF8);
}

/*
 * json_text
 *		A value as compact JSON text (json_parse.c), palloc'd with a NUL.
 */
static char *
json_text(const GcJson *val)
{
	size_t		size = gc_json_text_size(val);
	char	   *text;

	if (size >= MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("JSON value is too large to store"),
				 errdetail("Its JSON text takes %zu bytes; a value holds at most %zu.",
						   size, (size_t) MaxAllocSize - 1)));
	text = palloc(size + 1);
	*gc_json_write_text(val, text) = '\0';
	return text;
}

/*
 * gc_json_sent_text
 *		The text of a JSON value as sent, in UTF-8: strings decoded (up to
 *		a NUL a \u0000 made), numbers in the digits Genesys sent, booleans as
 *		true/false, objects and arrays (and anything, with as_json) as
 *		compact JSON text.
 */
char *
gc_json_sent_text(GcJson *val, bool as_json)
{
	if (!as_json && (val->type == GC_JSON_STRING || val->type == GC_JSON_NUMBER))
		return (char *) val->str;
	if (!as_json && val->type == GC_JSON_BOOL)
		return val->boolean ? "true" : "false";
	return json_text(val);
}

/*
 * gc_json_value_text
 *		gc_json_sent_text() for a type input function: in the database encoding,
 *		and a string holding \u0000 refused, as jsonb_in does.  Numbers and
 *		booleans are ASCII and need no conversion.
 */
char *
gc_json_value_text(GcJson *val, bool as_json)
{
	char	   *text = gc_json_sent_text(val, as_json);

	if (!as_json && val->type == GC_JSON_STRING)
		return string_to_server(text, val->len);
	if (!as_json && (val->type == GC_JSON_NUMBER || val->type == GC_JSON_BOOL))
		return text;
	return pg_any_to_server(text, strlen(text), PG_UTF8);
}

/* utils/builtins.h is not needed for this one function */
extern Datum numeric_in(PG_FUNCTION_ARGS);

/*
 * push_jsonb
 *		Add a JSON value (and what it contains) to a jsonb under
 *		construction, as jsonb_in would have from its text: same numbers
 *		(json_parse.c keeps JSON's number grammar), same strings, and the
 *		same refusal of \u0000.  tok is WJB_VALUE or WJB_ELEM for scalars.
 */
static JsonbValue *
push_jsonb(JsonbParseState **state, GcJson *val, JsonbIteratorToken tok)
{
	JsonbValue	v;
	GcJson	   *child;

	check_stack_depth();
	switch (val->type)
	{
		case GC_JSON_OBJECT:
			pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
			for (child = val->first; child != NULL; child = child->next)
			{
				JsonbValue	k;

				k.type = jbvString;
				k.val.string.val = string_to_server(child->key, child->keylen);
				k.val.string.len = (k.val.string.val == child->key) ? child->keylen :
					(int) strlen(k.val.string.val);
				pushJsonbValue(state, WJB_KEY, &k);
				push_jsonb(state, child, WJB_VALUE);
			}
			return pushJsonbValue(state, WJB_END_OBJECT, NULL);
		case GC_JSON_ARRAY:
			pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			for (child = val->first; child != NULL; child = child->next)
				push_jsonb(state, child, WJB_ELEM);
			return pushJsonbValue(state, WJB_END_ARRAY, NULL);
		case GC_JSON_NULL:
			v.type = jbvNull;
			break;
		case GC_JSON_BOOL:
			v.type = jbvBool;
			v.val.boolean = val->boolean;
			break;
		case GC_JSON_NUMBER:
			v.type = jbvNumeric;
			v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																CStringGetDatum(val->str),
																ObjectIdGetDatum(InvalidOid),
																Int32GetDatum(-1)));
			break;
		case GC_JSON_STRING:
			v.type = jbvString;
			v.val.string.val = string_to_server(val->str, val->len);
			v.val.string.len = (v.val.string.val == val->str) ? val->len :
				(int) strlen(v.val.string.val);
			break;
	}
	return pushJsonbValue(state, tok, &v);
}

/*
 * value_jsonb
 *		A jsonb Datum built from the page's tree, without printing it as
 *		text and parsing that again: half the cost of a raw column.  A
 *		top-level scalar takes the text path (jsonb wraps it in a raw-scalar
 *		array).
 */
static Datum
value_jsonb(GcColumnConv *col, GcJson *val)
{
	JsonbParseState *state = NULL;

	if (val->type != GC_JSON_OBJECT && val->type != GC_JSON_ARRAY)
		return InputFunctionCall(&col->input, gc_json_value_text(val, true),
								 col->ioparam, col->typmod);
	return JsonbPGetDatum(JsonbValueToJsonb(push_jsonb(&state, val, WJB_VALUE)));
}

static void
conversion_error_callback(void *arg)
{
	GcConvContext *ctx = (GcConvContext *) arg;
	GcColumnConv *col;

	if (ctx->attidx < 0)
		return;
	col = &ctx->map->cols[ctx->attidx];
	errcontext("column \"%s\" of foreign table \"%s\", JSON key \"%s\", row %d (%s \"%s\")",
			   col->colname, ctx->map->relname, col->key, ctx->row_index + 1,
			   ctx->map->res->id_key, ctx->row_id ? ctx->row_id : "(none)");
}

/*
 * convert_array
 *		A JSON array into a PostgreSQL array of the column's element type.
 */
static Datum
convert_array(GcColumnConv *col, GcJson *val)
{
	int			n = val->len;
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1];
	int			lbs[1] = {1};
	GcJson	   *e;
	int			i = 0;

	for (e = val->first; e != NULL; e = e->next, i++)
	{
		nulls[i] = (e->type == GC_JSON_NULL);
		elems[i] = nulls[i] ? (Datum) 0 :
			InputFunctionCall(&col->input, gc_json_value_text(e, col->elem_is_json),
							  col->ioparam, -1);
	}
	dims[0] = n;
	if (n == 0)
		return PointerGetDatum(construct_empty_array(col->elemtype));
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  col->elemtype, col->elemlen,
											  col->elembyval, col->elemalign));
}

/*
 * gc_cursor_values
 *		Fill values/isnull for the cursor's current row.  Unused columns and
 *		missing keys are NULL.  Allocates in the current memory context (the
 *		scanner's per-row context).
 */
void
gc_cursor_values(GcRowCursor *cur, GcColumnMap *map, Datum *values, bool *isnull)
{
	int			depth = cur->chain.depth;
	GcJson	   *row = cur->obj[depth];
	bool		attribute_row = gc_level_def(cur->chain.levels[depth])->members_are_rows;
	GcConvContext ctx;
	ErrorContextCallback errcb;
	int			i;

	ctx.map = map;
	ctx.attidx = -1;
	ctx.row_index = cur->top_index;
	ctx.row_id = NULL;
	if (row == NULL)
		ctx.row_id = NULL;
	else if (attribute_row)
		ctx.row_id = cur->attr_name;
	else
	{
		GcJson	   *id_val = gc_json_get(row, map->res->id_key);

		if (id_val != NULL && id_val->type == GC_JSON_STRING)
			ctx.row_id = id_val->str;
	}

	errcb.callback = conversion_error_callback;
	errcb.arg = &ctx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	for (i = 0; i < map->natts; i++)
	{
		GcColumnConv *col = &map->cols[i];
		GcJson	   *val;

		values[i] = (Datum) 0;
		isnull[i] = true;
		if (!col->used || col->colname == NULL)
			continue;

		if (attribute_row && col->depth == depth && row != NULL)
		{
			/* an attribute row is a name and a value, not an object */
			if (col->path_len == 1 && strcmp(col->path[0], "name") == 0)
			{
				ctx.attidx = i;

				/*
				 * The name is a string, never an array: the fuzzer
				 * (tests/fuzz) found an array column got the element
				 * type's Datum here, read later as an array.
				 */
				if (OidIsValid(col->elemtype))
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
							 errmsg("JSON value is not an array"),
							 errhint("Declare the column with a scalar type, or point its \"key\" option at a JSON array.")));
				values[i] = InputFunctionCall(&col->input,
											  string_to_server(row->key, row->keylen),
											  col->ioparam, col->typmod);
				isnull[i] = false;
				ctx.attidx = -1;
				continue;
			}
			else if (col->path_len == 1 && strcmp(col->path[0], "value") == 0)
				val = row;
			else
				val = NULL;
		}
		else
			val = col->path ? gc_json_follow(cur->obj[col->depth], col->path, col->path_len)
				: cur->obj[col->depth];
		/* JSON null is SQL NULL, also for a row that is itself null */
		if (val == NULL || val->type == GC_JSON_NULL)
			continue;

		ctx.attidx = i;
		if (OidIsValid(col->elemtype))
		{
			if (val->type != GC_JSON_ARRAY)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("JSON value is not an array"),
						 errhint("Declare the column with a scalar type, or point its \"key\" option at a JSON array.")));
			values[i] = convert_array(col, val);
		}
		else if (col->is_jsonb)
			values[i] = value_jsonb(col, val);
		else
			values[i] = InputFunctionCall(&col->input,
										  gc_json_value_text(val, col->is_json),
										  col->ioparam, col->typmod);
		isnull[i] = false;
		ctx.attidx = -1;
	}

	error_context_stack = errcb.previous;
}
