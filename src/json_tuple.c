/*-------------------------------------------------------------------------
 *
 * json_tuple.c
 *		  JSON to tuples: parses one response page with json-c and turns its
 *		  row objects into Datums through each column type's input function.
 *
 * The only file that walks json-c objects to build Datums.  A parsed page
 * lives exactly as long as the memory context it was parsed into: a reset
 * callback frees the json-c tree (malloc'd by json-c) when the context is
 * reset or deleted, including on error.  No network I/O here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <json.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "gc_fdw.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/* How one column reads its value */
typedef struct GcColumnConv
{
	bool		used;			/* column needed by the query */
	char	   *colname;
	char	   *key;			/* as configured, for messages */
	char	  **path;			/* key split on '.'; NULL = whole object */
	int			path_len;
	Oid			typid;
	int32		typmod;
	bool		is_json;		/* json/jsonb: store JSON text of the value */
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

struct GcPage
{
	json_object *root;
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
	int			i;

	map->relname = pstrdup(RelationGetRelationName(rel));
	map->res = res;
	map->natts = tupdesc->natts;
	map->cols = palloc0(sizeof(GcColumnConv) * Max(tupdesc->natts, 1));

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		GcColumnConv *col = &map->cols[i];
		Oid			funcid;
		Oid			elemtype;

		if (attr->attisdropped)
			continue;
		col->used = bms_is_member(i + 1 - FirstLowInvalidHeapAttributeNumber, attrs_used) ||
			bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs_used);
		col->colname = pstrdup(NameStr(attr->attname));
		col->key = gc_get_column_key(RelationGetRelid(rel), i + 1, res);
		col->typid = attr->atttypid;
		col->typmod = attr->atttypmod;

		if (strcmp(col->key, ".") != 0)
		{
			char	   *copy = pstrdup(col->key);
			char	   *part;
			char	   *saveptr = NULL;

			col->path = palloc(sizeof(char *) * (strlen(copy) + 1));
			for (part = strtok_r(copy, ".", &saveptr); part;
				 part = strtok_r(NULL, ".", &saveptr))
				col->path[col->path_len++] = part;
		}

		elemtype = get_element_type(col->typid);
		if (OidIsValid(elemtype) && attr->attlen == -1)
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
			getTypeInputInfo(col->typid, &funcid, &col->ioparam);
		}
		fmgr_info(funcid, &col->input);
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

static void
page_free_callback(void *arg)
{
	GcPage	   *page = (GcPage *) arg;

	if (page->root)
		json_object_put(page->root);
	page->root = NULL;
}

/*
 * gc_page_parse
 *		Parse a response body.  The tree is freed when cxt is reset.
 */
GcPage *
gc_page_parse(MemoryContext cxt, const char *body, size_t len, const char *what)
{
	GcPage	   *page = MemoryContextAllocZero(cxt, sizeof(GcPage));
	MemoryContextCallback *cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));
	json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *root;

	if (len > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("Genesys Cloud response to %s is too large (%zu bytes)", what, len)));

	tok = json_tokener_new();
	if (tok == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while parsing a Genesys Cloud response")));
	root = json_tokener_parse_ex(tok, body, (int) len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue)
	{
		/* input ended inside a value: the body was cut short */
		if (root)
			json_object_put(root);
		root = NULL;
	}
	else if (jerr == json_tokener_success && root != NULL &&
			 (size_t) json_tokener_get_parse_end(tok) < len)
	{
		/* trailing garbage after a complete value: accept only whitespace */
		size_t		end = json_tokener_get_parse_end(tok);

		while (end < len && (body[end] == ' ' || body[end] == '\n' ||
							 body[end] == '\r' || body[end] == '\t'))
			end++;
		if (end < len)
		{
			json_object_put(root);
			root = NULL;
			jerr = json_tokener_error_parse_unexpected;
		}
	}
	json_tokener_free(tok);

	if (root == NULL || json_object_get_type(root) != json_type_object)
	{
		const char *reason = (root == NULL)
			? (jerr == json_tokener_continue ? "the document ends early"
			   : json_tokener_error_desc(jerr))
			: "the document is not a JSON object";

		if (root)
			json_object_put(root);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("Genesys Cloud sent a malformed JSON response to %s", what),
				 errdetail("%s (%zu bytes received).", reason, len),
				 errhint("Retry the query; if it persists, a proxy between PostgreSQL and Genesys Cloud may be rewriting responses.")));
	}

	page->root = root;
	cb->func = page_free_callback;
	cb->arg = page;
	MemoryContextRegisterResetCallback(cxt, cb);
	return page;
}

static json_object *
page_row(GcPage *page, const char *array_key, int index)
{
	json_object *arr;

	if (!json_object_object_get_ex(page->root, array_key, &arr) ||
		json_object_get_type(arr) != json_type_array ||
		index >= (int) json_object_array_length(arr))
		return NULL;
	return json_object_array_get_idx(arr, index);
}

/*
 * gc_page_row_count
 *		Number of rows in the page's array_key array (0 when absent, as on
 *		pages past the end).
 */
int
gc_page_row_count(GcPage *page, const char *array_key)
{
	json_object *arr;

	if (!json_object_object_get_ex(page->root, array_key, &arr) ||
		json_object_get_type(arr) != json_type_array)
		return 0;
	return (int) json_object_array_length(arr);
}

/* Follow a dotted path from obj; NULL when any step is missing or null */
static json_object *
follow_path(json_object *obj, char **path, int path_len)
{
	int			i;

	for (i = 0; i < path_len && obj; i++)
	{
		if (json_object_get_type(obj) != json_type_object ||
			!json_object_object_get_ex(obj, path[i], &obj))
			return NULL;
	}
	if (obj && json_object_get_type(obj) == json_type_null)
		return NULL;
	return obj;
}

/*
 * value_text
 *		Text form of a JSON value for a type input function: strings as
 *		they are, numbers in the digits Genesys sent, booleans as true/false,
 *		objects and arrays (and anything for a json column) as JSON text.
 *		Converted to the database encoding.
 */
static char *
value_text(json_object *val, bool as_json)
{
	const char *s;

	if (as_json || json_object_get_type(val) == json_type_object ||
		json_object_get_type(val) == json_type_array)
		s = json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN |
										   JSON_C_TO_STRING_NOSLASHESCAPE);
	else if (json_object_get_type(val) == json_type_boolean)
		s = json_object_get_boolean(val) ? "true" : "false";
	else
		s = json_object_get_string(val);
	return pg_any_to_server(s, strlen(s), PG_UTF8);
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
convert_array(GcColumnConv *col, json_object *val)
{
	int			n = (int) json_object_array_length(val);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1];
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i < n; i++)
	{
		json_object *e = json_object_array_get_idx(val, i);

		nulls[i] = (e == NULL || json_object_get_type(e) == json_type_null);
		elems[i] = nulls[i] ? (Datum) 0 :
			InputFunctionCall(&col->input, value_text(e, col->elem_is_json),
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
 * gc_page_row_values
 *		Fill values/isnull for row index of the page's array_key array.
 *		Unused columns and missing keys are NULL.  Allocates in the current
 *		memory context (the scanner's per-row context).
 */
void
gc_page_row_values(GcPage *page, const char *array_key, int index,
				   GcColumnMap *map, Datum *values, bool *isnull)
{
	json_object *row = page_row(page, array_key, index);
	json_object *id_val = NULL;
	GcConvContext ctx;
	ErrorContextCallback errcb;
	int			i;

	ctx.map = map;
	ctx.attidx = -1;
	ctx.row_index = index;
	ctx.row_id = NULL;
	if (row && json_object_object_get_ex(row, map->res->id_key, &id_val) &&
		json_object_get_type(id_val) == json_type_string)
		ctx.row_id = json_object_get_string(id_val);

	errcb.callback = conversion_error_callback;
	errcb.arg = &ctx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	for (i = 0; i < map->natts; i++)
	{
		GcColumnConv *col = &map->cols[i];
		json_object *val;

		values[i] = (Datum) 0;
		isnull[i] = true;
		if (!col->used || row == NULL)
			continue;
		val = col->path ? follow_path(row, col->path, col->path_len) : row;
		if (val == NULL)
			continue;

		ctx.attidx = i;
		if (OidIsValid(col->elemtype))
		{
			if (json_object_get_type(val) != json_type_array)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("JSON value is not an array"),
						 errhint("Declare the column with a scalar type, or point its \"key\" option at a JSON array.")));
			values[i] = convert_array(col, val);
		}
		else
			values[i] = InputFunctionCall(&col->input,
										  value_text(val, col->is_json),
										  col->ioparam, col->typmod);
		isnull[i] = false;
		ctx.attidx = -1;
	}

	error_context_stack = errcb.previous;
}

/*
 * gc_page_row_string
 *		A top-level string of row index (e.g. its id), palloc'd, or NULL.
 */
char *
gc_page_row_string(GcPage *page, const char *array_key, int index,
				   const char *key)
{
	json_object *row = page_row(page, array_key, index);
	json_object *val;

	if (row == NULL || !json_object_object_get_ex(row, key, &val) ||
		json_object_get_type(val) != json_type_string)
		return NULL;
	return pstrdup(json_object_get_string(val));
}

/*
 * gc_page_has_key
 *		Whether the page's top-level object has a non-null key.
 */
bool
gc_page_has_key(GcPage *page, const char *key)
{
	json_object *val;

	return json_object_object_get_ex(page->root, key, &val) &&
		json_object_get_type(val) != json_type_null;
}

/*
 * gc_page_string
 *		A top-level string or number of the page as text, palloc'd, or NULL.
 */
char *
gc_page_string(GcPage *page, const char *key)
{
	json_object *val;

	if (!json_object_object_get_ex(page->root, key, &val) ||
		json_object_get_type(val) == json_type_null)
		return NULL;
	return pstrdup(json_object_get_string(val));
}
