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

struct GcPage
{
	json_object *root;
};

/*
 * The chain of nested arrays from a page's top-level objects down to a
 * table's rows: levels[0] is the top (user or conversation), levels[depth]
 * are reached through the array (or, for attributes, the object) named
 * keys[depth] of the object above.
 */
#define GC_MAX_DEPTH 4

typedef struct GcLevelChain
{
	int			depth;			/* depth of the table's rows */
	GcLevel		levels[GC_MAX_DEPTH];
	const char *keys[GC_MAX_DEPTH];
} GcLevelChain;

/*
 * Depth-first walk over one page's rows.  obj[d] is the current object at
 * depth d; for attribute rows obj[depth] is the attribute's value and
 * attr_name its name.
 */
struct GcRowCursor
{
	GcPage	   *page;
	json_object *tops;			/* the page's array of top-level objects */
	int			top_index;
	GcLevelChain chain;
	json_object *obj[GC_MAX_DEPTH];
	int			idx[GC_MAX_DEPTH];
	struct lh_entry *attr_entry;	/* current attribute (attribute rows) */
	const char *attr_name;
	int			started;		/* 0: no row yet under the current top */
};

/*
 * level_chain
 *		Fill chain for rows of level.
 */
static void
level_chain(GcLevel level, GcLevelChain *chain)
{
	int			d = 0;

	if (level == GC_LEVEL_USER)
	{
		chain->levels[0] = GC_LEVEL_USER;
		chain->keys[0] = NULL;
		chain->depth = 0;
		return;
	}
	chain->levels[d] = GC_LEVEL_CONVERSATION;
	chain->keys[d] = NULL;
	if (level != GC_LEVEL_CONVERSATION)
	{
		chain->levels[++d] = GC_LEVEL_PARTICIPANT;
		chain->keys[d] = "participants";
	}
	if (level == GC_LEVEL_ATTRIBUTE)
	{
		chain->levels[++d] = GC_LEVEL_ATTRIBUTE;
		chain->keys[d] = "attributes";
	}
	else if (level >= GC_LEVEL_SESSION)
	{
		chain->levels[++d] = GC_LEVEL_SESSION;
		chain->keys[d] = "sessions";
		if (level == GC_LEVEL_SEGMENT || level == GC_LEVEL_METRIC)
		{
			chain->levels[++d] = level;
			chain->keys[d] = level == GC_LEVEL_SEGMENT ? "segments" : "metrics";
		}
	}
	chain->depth = d;
}

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

	GcLevelChain chain;

	level_chain(res->level, &chain);
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
		col->depth = chain.depth;

		{
			/* "level:" prefix: read an ancestor's object */
			const char *colon = strchr(col->key, ':');
			const char *rel_key = col->key;

			if (colon)
			{
				int			level = gc_level_lookup(col->key, colon - col->key);
				int			d;

				col->depth = -1;
				for (d = 0; d <= chain.depth && level >= 0; d++)
					if ((int) chain.levels[d] == level)
						col->depth = d;
				if (col->depth < 0)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("key \"%s\" of column \"%s\" of foreign table \"%s\" names no level above %s rows",
									col->key, col->colname, map->relname, res->name),
							 errhint("Prefix a key with one of the levels its rows are nested in (conversation, participant, session), or give a key relative to the row.")));
				rel_key = colon + 1;
			}
			col->key_rel = pstrdup(rel_key);
		}

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
			 * A key of dots only ("..", or "conversation:" with nothing after
			 * the prefix) names no field: read the whole object, as ".".  The
			 * fuzzer (tests/fuzz) found such keys left path[0] unset for
			 * gc_column_map_uses_key() to read.
			 */
			if (col->path_len == 0)
			{
				pfree(col->path);
				col->path = NULL;
			}
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
			/* a domain over jsonb goes through its input function */
			col->is_jsonb = (col->typid == JSONBOID);
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

/*
 * gc_page_row_count
 *		Number of top-level objects in the page's array_key array (0 when
 *		absent, as on pages past the end).
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

/* utils/builtins.h would clash with json-c's json_object */
extern Datum numeric_in(PG_FUNCTION_ARGS);

/*
 * is_json_number
 *		Whether text is a number as JSON (and so jsonb_in) writes one:
 *		-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.  json-c also accepts
 *		NaN, Infinity, "1." and "00.5"; the fuzzer (tests/fuzz) found those
 *		reaching numeric_in, and 1e400 refused as an infinite double.
 */
static bool
is_json_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (*p == '.')
	{
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/*
 * push_jsonb
 *		Add a JSON value (and what it contains) to a jsonb under
 *		construction, as jsonb_in would have from its text: same numbers,
 *		same strings, and the same refusals (numbers outside JSON's grammar,
 *		such as NaN or "1.", which json-c accepts, and \u0000).  tok is
 *		WJB_VALUE or WJB_ELEM for scalars.
 */
static JsonbValue *
push_jsonb(JsonbParseState **state, json_object *val, JsonbIteratorToken tok)
{
	JsonbValue	v;

	check_stack_depth();
	switch (json_object_get_type(val))
	{
		case json_type_object:
			{
				struct lh_entry *entry;

				pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
				for (entry = json_object_get_object(val)->head; entry != NULL;
					 entry = entry->next)
				{
					const char *key = (const char *) lh_entry_k(entry);
					json_object *child = (json_object *) lh_entry_v(entry);
					int			klen = (int) strlen(key);
					JsonbValue	k;

					k.type = jbvString;
					k.val.string.val = pg_any_to_server(key, klen, PG_UTF8);
					k.val.string.len = (k.val.string.val == key) ? klen :
						(int) strlen(k.val.string.val);
					pushJsonbValue(state, WJB_KEY, &k);
					if (child == NULL)
					{
						v.type = jbvNull;
						pushJsonbValue(state, WJB_VALUE, &v);
					}
					else
						push_jsonb(state, child, WJB_VALUE);
				}
				return pushJsonbValue(state, WJB_END_OBJECT, NULL);
			}
		case json_type_array:
			{
				size_t		n = json_object_array_length(val);
				size_t		i;

				pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
				for (i = 0; i < n; i++)
				{
					json_object *e = json_object_array_get_idx(val, i);

					if (e == NULL)
					{
						v.type = jbvNull;
						pushJsonbValue(state, WJB_ELEM, &v);
					}
					else
						push_jsonb(state, e, WJB_ELEM);
				}
				return pushJsonbValue(state, WJB_END_ARRAY, NULL);
			}
		case json_type_null:
			v.type = jbvNull;
			break;
		case json_type_boolean:
			v.type = jbvBool;
			v.val.boolean = json_object_get_boolean(val);
			break;
		case json_type_double:
		case json_type_int:
			{
				/* the digits Genesys sent, as jsonb_in reads them */
				const char *num = json_object_get_string(val);

				if (!is_json_number(num))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							 errmsg("invalid input syntax for type %s", "json"),
							 errdetail("Token \"%s\" is invalid.", num)));
				v.type = jbvNumeric;
				v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																	CStringGetDatum(num),
																	ObjectIdGetDatum(InvalidOid),
																	Int32GetDatum(-1)));
				break;
			}
		case json_type_string:
			{
				const char *s = json_object_get_string(val);
				int			len = json_object_get_string_len(val);

				if (memchr(s, '\0', len) != NULL)
					ereport(ERROR,
							(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
							 errmsg("unsupported Unicode escape sequence"),
							 errdetail("\\u0000 cannot be converted to text.")));
				v.type = jbvString;
				v.val.string.val = pg_any_to_server(s, len, PG_UTF8);
				v.val.string.len = (v.val.string.val == s) ? len :
					(int) strlen(v.val.string.val);
				break;
			}
	}
	return pushJsonbValue(state, tok, &v);
}

/*
 * value_jsonb
 *		A jsonb Datum built from the json-c tree, without printing it as text
 *		and parsing that again: half the cost of a raw column.  A top-level
 *		scalar takes the text path (jsonb wraps it in a raw-scalar array).
 */
static Datum
value_jsonb(GcColumnConv *col, json_object *val)
{
	JsonbParseState *state = NULL;
	json_type	type = json_object_get_type(val);

	if (type != json_type_object && type != json_type_array)
		return InputFunctionCall(&col->input, value_text(val, true),
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
 * gc_cursor_create
 *		A cursor over the rows of level in page, whose top-level objects are
 *		the array array_key.  Allocated in the current memory context.
 */
GcRowCursor *
gc_cursor_create(GcPage *page, const char *array_key, GcLevel level)
{
	GcRowCursor *cur = palloc0(sizeof(GcRowCursor));

	cur->page = page;
	if (!json_object_object_get_ex(page->root, array_key, &cur->tops) ||
		json_object_get_type(cur->tops) != json_type_array)
		cur->tops = NULL;
	cur->top_index = -1;
	level_chain(level, &cur->chain);
	return cur;
}

/*
 * gc_cursor_next_top
 *		Move to the next top-level object; false past the last one.
 */
bool
gc_cursor_next_top(GcRowCursor *cur)
{
	if (cur->tops == NULL ||
		cur->top_index + 1 >= (int) json_object_array_length(cur->tops))
		return false;
	cur->top_index++;
	cur->obj[0] = json_object_array_get_idx(cur->tops, cur->top_index);
	cur->started = 0;
	return true;
}

/*
 * gc_cursor_top_string
 *		A string field of the current top-level object, palloc'd, or NULL.
 */
char *
gc_cursor_top_string(GcRowCursor *cur, const char *key)
{
	json_object *val;

	if (cur->obj[0] == NULL ||
		json_object_get_type(cur->obj[0]) != json_type_object ||
		!json_object_object_get_ex(cur->obj[0], key, &val) ||
		json_object_get_type(val) != json_type_string)
		return NULL;
	return pstrdup(json_object_get_string(val));
}

/* The child array (or attribute map) named key of obj, or NULL */
static json_object *
child_of(json_object *obj, const char *key, json_type type)
{
	json_object *child;

	if (obj == NULL || json_object_get_type(obj) != json_type_object ||
		!json_object_object_get_ex(obj, key, &child) ||
		json_object_get_type(child) != type)
		return NULL;
	return child;
}

/*
 * gc_cursor_next_row
 *		Move to the next row under the current top-level object, depth
 *		first; false when its rows are exhausted.  Missing or empty arrays
 *		simply have no rows.
 */
bool
gc_cursor_next_row(GcRowCursor *cur)
{
	GcLevelChain *chain = &cur->chain;
	int			d;

	if (chain->depth == 0)
		return cur->started++ == 0;

	if (!cur->started)
	{
		cur->started = 1;
		d = 1;
		cur->idx[1] = -1;
		cur->attr_entry = NULL;
	}
	else
		d = chain->depth;

	for (;;)
	{
		if (chain->levels[d] == GC_LEVEL_ATTRIBUTE)
		{
			json_object *attrs = child_of(cur->obj[d - 1], chain->keys[d], json_type_object);

			cur->attr_entry = (cur->attr_entry == NULL)
				? (attrs ? json_object_get_object(attrs)->head : NULL)
				: cur->attr_entry->next;
			if (cur->attr_entry != NULL)
			{
				cur->attr_name = (const char *) cur->attr_entry->k;
				cur->obj[d] = (json_object *) cur->attr_entry->v;
				return true;	/* attributes are always the deepest level */
			}
		}
		else
		{
			json_object *arr = child_of(cur->obj[d - 1], chain->keys[d], json_type_array);

			cur->idx[d]++;
			if (arr != NULL && cur->idx[d] < (int) json_object_array_length(arr))
			{
				cur->obj[d] = json_object_array_get_idx(arr, cur->idx[d]);
				if (d == chain->depth)
					return true;
				d++;
				cur->idx[d] = -1;
				cur->attr_entry = NULL;
				continue;
			}
		}
		/* this level is exhausted: advance its parent */
		d--;
		if (d == 0)
			return false;
	}
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
	json_object *row = cur->obj[depth];
	bool		attribute_row = cur->chain.levels[depth] == GC_LEVEL_ATTRIBUTE;
	json_object *id_val = NULL;
	GcConvContext ctx;
	ErrorContextCallback errcb;
	int			i;

	ctx.map = map;
	ctx.attidx = -1;
	ctx.row_index = cur->top_index;
	ctx.row_id = NULL;
	if (attribute_row)
		ctx.row_id = cur->attr_name;
	else if (row && json_object_get_type(row) == json_type_object &&
			 json_object_object_get_ex(row, map->res->id_key, &id_val) &&
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
		if (!col->used || col->colname == NULL)
			continue;

		if (attribute_row && col->depth == depth)
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
											  pg_any_to_server(cur->attr_name,
															   strlen(cur->attr_name),
															   PG_UTF8),
											  col->ioparam, col->typmod);
				isnull[i] = false;
				ctx.attidx = -1;
				continue;
			}
			else if (col->path_len == 1 && strcmp(col->path[0], "value") == 0)
				val = row;
			else
				val = NULL;
			if (val && json_object_get_type(val) == json_type_null)
				val = NULL;
		}
		else
			val = col->path ? follow_path(cur->obj[col->depth], col->path, col->path_len)
				: cur->obj[col->depth];
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
		else if (col->is_jsonb)
			values[i] = value_jsonb(col, val);
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

/*
 * gc_page_value_text
 *		The text of the scalar at a dotted key of the page's top-level
 *		object ("version", "manager.id"): strings as they are, booleans as
 *		true/false, numbers as written.  NULL when absent or JSON null.
 */
char *
gc_page_value_text(GcPage *page, const char *dotted_key)
{
	char	   *copy = pstrdup(dotted_key);
	char	   *path[GC_MAX_DEPTH * 2];
	int			path_len = 0;
	char	   *part;
	char	   *saveptr = NULL;
	json_object *val;

	for (part = strtok_r(copy, ".", &saveptr); part && path_len < (int) lengthof(path);
		 part = strtok_r(NULL, ".", &saveptr))
		path[path_len++] = part;
	val = follow_path(page->root, path, path_len);
	return val ? value_text(val, false) : NULL;
}
