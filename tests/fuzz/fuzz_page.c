/*-------------------------------------------------------------------------
 *
 * fuzz_page.c
 *		  libFuzzer target: a result page from the Genesys Cloud API, as
 *		  src/json_tuple.c parses it and turns its rows into Datums.
 *
 * The input is a response body as the scanner receives it.  It goes
 * through gc_page_parse(), the page-level accessors the scanner and UPDATE
 * use (gc_page_row_count, gc_page_has_key, gc_page_string,
 * gc_page_value_text), and then, for every table of the catalogue (users,
 * conversations, participants, sessions, segments, session_metrics,
 * participant_attributes), a cursor over every top-level object and every
 * row with gc_cursor_values() into a column map built by the real
 * gc_column_map_create() (so src/option.c's gc_get_column_key() and
 * src/catalog.c resolve the keys).  Each table has the catalogue's columns
 * plus extra ones: scoped keys ("conversation:.", "participant:purpose"),
 * dotted paths, arrays of every element type, json/jsonb columns, a dropped
 * column and names resolved by gc_snake_to_camel().
 *
 * Memory is handled as src/scan.c does: the page in batch_cxt, reset per
 * page; each row in temp_cxt, reset per row.  Every Datum produced is read
 * back byte by byte.  Errors raised while converting a value are caught as
 * PG_TRY would, checked (no internal errors) and the walk goes on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/bitmapset.h"
#include "utils/elog.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "gc_fdw.h"
#include "pg_shim.h"

#define MAX_COLUMNS 64

/* Extra columns of one table, after the catalogue's */
typedef struct ExtraColumns
{
	const char *resource;
	ShimColumn	cols[16];
} ExtraColumns;

/* Valid at every level: keys relative to the row */
static const ShimColumn generic_extras[] = {
	{"raw_text", "text", "."},
	{"raw_json", "json", "."},
	{"raw_jsonb", "jsonb", "."},
	{"unknown_column", "text", NULL},
	{"_odd__column_name_", "text", NULL},
	{"gone", "text", NULL, true},
	{"deep_path", "text", "a.b.c.d.e"},
	{"loose_dots", "jsonb", ".a..b."},
	{"n_int", "integer", "n"},
	{"n_bigint", "bigint", "n"},
	{"n_float", "float8", "n"},
	{"b_bool", "boolean", "b"},
	{"id_uuid", "uuid", "id"},
	{"t_ts", "timestamptz", "t"},
	{"list_text", "text[]", "list"},
	{"list_int", "integer[]", "list"},
	{"list_bigint", "bigint[]", "list"},
	{"list_bool", "boolean[]", "list"},
	{"list_float", "float8[]", "list"},
	{"list_ts", "timestamptz[]", "list"},
	{"list_uuid", "uuid[]", "list"},
	{"list_json", "json[]", "list"},
	{"list_jsonb", "jsonb[]", "list"},
	{NULL}
};

/* Per table: scoped keys and real keys read as other types */
static const ExtraColumns table_extras[] = {
	{"users", {
		{"division_raw", "jsonb", "division"},
		{"manager_text", "text", "manager"},
		{"self_raw", "jsonb", "user:."},
		{"self_version", "bigint", "user:version"},
		{NULL}}},
	{"conversations", {
		{"participants_json", "jsonb", "participants"},
		{"participants_arr", "jsonb[]", "participants"},
		{"self_id", "text", "conversation:conversationId"},
		{"division_text", "text[]", "divisionIds"},
		{NULL}}},
	{"participants", {
		{"conv_raw", "jsonb", "conversation:."},
		{"conv_divisions", "text[]", "conversation:divisionIds"},
		{"conv_deep", "text", "conversation:a.b"},
		{"attributes_json", "jsonb", "attributes"},
		{"sessions_arr", "json[]", "sessions"},
		{NULL}}},
	{"sessions", {
		{"conv_raw", "jsonb", "conversation:."},
		{"part_raw", "json", "participant:."},
		{"part_purpose", "text", "participant:purpose"},
		{"segments_json", "json[]", "segments"},
		{"metrics_json", "jsonb", "metrics"},
		{"flow_raw", "jsonb", "flow"},
		{NULL}}},
	{"segments", {
		{"conv_raw", "jsonb", "conversation:."},
		{"part_raw", "json", "participant:."},
		{"sess_raw", "jsonb", "session:."},
		{"sess_media", "text", "session:mediaType"},
		{"sip_text", "text[]", "sipResponseCodes"},
		{"sip_bigint", "bigint[]", "sipResponseCodes"},
		{NULL}}},
	{"session_metrics", {
		{"conv_start_text", "text", "conversation:conversationStart"},
		{"part_raw", "json", "participant:."},
		{"sess_raw", "jsonb", "session:."},
		{"value_float", "float8", "value"},
		{"value_int", "integer", "value"},
		{NULL}}},
	{"participant_attributes", {
		{"conv_raw", "jsonb", "conversation:."},
		{"part_attrs", "jsonb", "participant:attributes"},
		{"value_json", "jsonb", "value"},
		{"value_int", "integer", "value"},
		{"value_arr", "text[]", "value"},
		{"name_uuid", "uuid", "name"},
		{"name_arr", "text[]", "name"},
		{"other_key", "text", "other"},
		{"whole", "text", "."},
		{NULL}}},
};

typedef struct FuzzTable
{
	const GcResourceDef *res;
	const char *array_key;		/* "entities" or "conversations" */
	Relation	rel;
	GcColumnMap *map;			/* every column but the first */
	GcColumnMap *single[MAX_COLUMNS];	/* column i alone */
	int			raw_json;		/* index of column raw_json */
	int			raw_jsonb;		/* index of column raw_jsonb */
} FuzzTable;

static FuzzTable tables[lengthof(table_extras)];
static MemoryContext query_cxt;
static MemoryContext batch_cxt;
static MemoryContext temp_cxt;
static Datum values[MAX_COLUMNS];
static bool isnull[MAX_COLUMNS];

static void
add_column(ShimColumn *cols, int *ncols, const ShimColumn *col)
{
	if (*ncols >= MAX_COLUMNS)
		shim_unreachable("too many harness columns");
	cols[(*ncols)++] = *col;
}

/*
 * build_tables
 *		One fake foreign table per resource and its column map, once.  All
 *		columns are used but the first (to exercise the skip), as a query
 *		listing every other column would.
 */
static void
build_tables(void)
{
	int			i;

	query_cxt = shim_context_create(TopMemoryContext, "fuzz query");
	batch_cxt = shim_context_create(query_cxt, "fuzz batch");
	temp_cxt = shim_context_create(query_cxt, "fuzz temp");
	MemoryContextSwitchTo(query_cxt);

	for (i = 0; i < (int) lengthof(table_extras); i++)
	{
		FuzzTable  *t = &tables[i];
		ShimColumn	cols[MAX_COLUMNS];
		int			ncols = 0;
		const GcColumnDef *cd;
		const ShimColumn *extra;
		Bitmapset  *attrs_used = NULL;
		int			a;

		t->res = gc_resource_lookup(table_extras[i].resource);
		if (t->res == NULL)
			shim_unreachable(table_extras[i].resource);
		t->array_key = t->res->kind == GC_RESOURCE_USERS ? "entities" : "conversations";
		for (cd = t->res->columns; cd->name; cd++)
		{
			ShimColumn	c = {cd->name, cd->type, NULL, false};

			add_column(cols, &ncols, &c);
		}
		for (extra = generic_extras; extra->name; extra++)
			add_column(cols, &ncols, extra);
		for (extra = table_extras[i].cols; extra->name; extra++)
			add_column(cols, &ncols, extra);
		t->rel = shim_relation_create(t->res->name, cols, ncols);
		t->raw_json = t->raw_jsonb = -1;
		for (a = 0; a < ncols; a++)
		{
			if (strcmp(cols[a].name, "raw_json") == 0)
				t->raw_json = a;
			if (strcmp(cols[a].name, "raw_jsonb") == 0)
				t->raw_jsonb = a;
		}
		if (t->raw_json < 0 || t->raw_jsonb < 0)
			shim_unreachable("raw_json/raw_jsonb columns missing");
		for (a = 2; a <= ncols; a++)
			attrs_used = bms_add_member(attrs_used,
										a - FirstLowInvalidHeapAttributeNumber);
		t->map = gc_column_map_create(t->rel, t->res, attrs_used);
		(void) gc_column_map_uses_key(t->map, "dateLastLogin");
		for (a = 1; a <= ncols; a++)
			t->single[a - 1] =
				gc_column_map_create(t->rel, t->res,
									 bms_add_member(NULL, a - FirstLowInvalidHeapAttributeNumber));
	}
}

/*
 * round_trip
 *		A document json_parse.c accepted, written back as JSON text, must
 *		parse again (the writer escapes what the reader needs escaped) and
 *		give the same text: json columns hold that text.
 */
static void
round_trip(const uint8_t *data, size_t size)
{
	GcJson	   *first;
	GcJson	   *second;
	StringInfoData a;
	StringInfoData b;

	first = gc_json_parse(batch_cxt, (const char *) data, size, "a fuzzed page");
	initStringInfo(&a);
	gc_json_append_text(&a, first);
	second = gc_json_parse(batch_cxt, a.data, a.len, "its own JSON text");
	initStringInfo(&b);
	gc_json_append_text(&b, second);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
	{
		fprintf(stderr, "fuzz_page: JSON text written back reads differently\n"
				"  first:  %.400s\n  second: %.400s\n", a.data, b.data);
		abort();
	}
}

/* The page, or NULL when gc_page_parse() refused it */
static GcPage *
parse_page(const uint8_t *data, size_t size)
{
	GcPage	   *volatile page = NULL;

	PG_TRY();
	{
		page = gc_page_parse(batch_cxt, (const char *) data, size, "a fuzzed page");
	}
	PG_CATCH();
	{
		shim_caught("gc_page_parse");
	}
	PG_END_TRY();
	if (page != NULL)
	{
		/* the text of a value that may not be valid UTF-8 cannot fail here */
		PG_TRY();
		{
			round_trip(data, size);
		}
		PG_CATCH();
		{
			shim_unreachable("a page that parsed once failed to parse again");
		}
		PG_END_TRY();
	}
	return page;
}

/* gc_page_value_text() converts to the server encoding, so it may raise */
static void
page_value_text(GcPage *page, const char *dotted_key)
{
	PG_TRY();
	{
		char	   *text = gc_page_value_text(page, dotted_key);

		if (text)
			(void) strlen(text);
	}
	PG_CATCH();
	{
		shim_caught("gc_page_value_text");
	}
	PG_END_TRY();
}

static void
page_accessors(GcPage *page)
{
	static const char *const keys[] = {
		"entities", "conversations", "nextUri", "cursor", "totalHits",
		"pageCount", "pageNumber", "pageSize", "total", "version", "id",
		"", NULL
	};
	static const char *const dotted[] = {
		"version", "name", "manager.id", "division.name", "a.b.c.d.e.f.g.h.i",
		"a.b.c.d.e.f.g.h", ".", "..", "", "entities", "conversations", NULL
	};
	int			i;

	for (i = 0; keys[i]; i++)
	{
		char	   *s;

		(void) gc_page_row_count(page, keys[i]);
		(void) gc_page_has_key(page, keys[i]);
		s = gc_page_string(page, keys[i]);
		if (s)
			(void) strlen(s);
	}
	for (i = 0; dotted[i]; i++)
		page_value_text(page, dotted[i]);
}

/* A varlena result or an error, copied out of temp_cxt */
typedef struct Outcome
{
	bool		ok;
	bool		null;			/* ok, and the column is NULL */
	char	   *bytes;			/* ok: the varlena's data (malloc'd) */
	int			len;
	char	   *error;			/* !ok: SQLSTATE and message (malloc'd) */
} Outcome;

static void
outcome_datum(Outcome *o, Datum d, bool null)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);

	o->ok = true;
	/* "." is NULL on participant_attributes: its rows are not objects */
	o->null = null;
	if (null)
		return;
	o->len = VARSIZE(v) - VARHDRSZ;
	o->bytes = malloc(o->len + 1);
	if (o->bytes == NULL)
		shim_unreachable("out of memory");
	memcpy(o->bytes, VARDATA(v), o->len);
	o->bytes[o->len] = '\0';
}

static void
outcome_error(Outcome *o)
{
	const ShimError *e = shim_last_error();
	const char *detail = e->detail ? e->detail : "";
	size_t		n = strlen(e->message ? e->message : "") + strlen(detail) + 32;

	o->ok = false;
	o->error = malloc(n);
	if (o->error == NULL)
		shim_unreachable("out of memory");
	snprintf(o->error, n, "[%s] %s%s%s", unpack_sql_state(e->sqlerrcode),
			 e->message ? e->message : "", *detail ? " DETAIL: " : "", detail);
}

/*
 * One row's values into map, read back; false when a value failed to
 * convert (the error is checked and dropped).  The raw_json and raw_jsonb
 * columns' outcomes go to *json and *jsonb when these are given: both for
 * the map of all columns (values only), one for a column's own map.
 */
static bool
row_values(FuzzTable *t, GcColumnMap *map, GcRowCursor *cur,
		   Outcome *json, Outcome *jsonb)
{
	MemoryContext old = MemoryContextSwitchTo(temp_cxt);
	volatile bool ok = true;

	PG_TRY();
	{
		TupleDesc	desc = RelationGetDescr(t->rel);
		int			i;

		gc_cursor_values(cur, map, values, isnull);
		for (i = 0; i < desc->natts; i++)
			if (!isnull[i])
			{
				if (TupleDescAttr(desc, i)->attisdropped)
					shim_unreachable("a dropped column got a value");
				(void) shim_touch_datum(values[i], TupleDescAttr(desc, i)->atttypid);
			}
		if (json)
			outcome_datum(json, values[t->raw_json], isnull[t->raw_json]);
		if (jsonb)
			outcome_datum(jsonb, values[t->raw_jsonb], isnull[t->raw_jsonb]);
	}
	PG_CATCH();
	{
		if (json && !jsonb)
			outcome_error(json);
		if (jsonb && !json)
			outcome_error(jsonb);
		shim_caught("gc_cursor_values");
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextReset(temp_cxt);
	return ok;
}

static void pg_attribute_noreturn()
jsonb_mismatch(const char *what, const Outcome *json, const Outcome *text_path,
			   const Outcome *tree_path)
{
	fprintf(stderr, "fuzz_page: jsonb built from the tree differs from jsonb_in: %s\n", what);
	fprintf(stderr, "  json column:          %.400s\n",
			json->ok ? json->bytes : json->error);
	if (text_path)
		fprintf(stderr, "  jsonb_in of its text: %.400s\n",
				text_path->ok ? text_path->bytes : text_path->error);
	fprintf(stderr, "  jsonb column (tree):  %.400s\n",
			tree_path->ok ? tree_path->bytes : tree_path->error);
	abort();
}

/*
 * Since f30fb27 a jsonb column is pushed straight from the page's tree
 * (push_jsonb in src/json_tuple.c) instead of printing the value as JSON
 * text and reading that with jsonb_in, as a json column still does.  Both
 * ways must give the same jsonb, or both fail: raw_jsonb (the tree) against
 * jsonb_in of raw_json's text, over the same row.  The shim's jsonb is
 * canonical text (keys sorted and de-duplicated), so equal jsonb values are
 * equal bytes.
 *
 * There were two known differences, from push_jsonb handing json-c's
 * number text to numeric_in: a number json-c read as an infinite double
 * (1e400) was refused, and numbers json-c's lenient grammar let through
 * (1., 00.5, 1.e5) were accepted.  src/json_parse.c now keeps JSON's number
 * grammar and the digits sent, so both are gone;
 * GC_FUZZ_ALLOW_NUMBER_DIFFS=1 still lets the fuzzer go past such
 * differences, and every other difference aborts.
 */
static bool allow_number_diffs;

static void
jsonb_differential(Outcome json, Outcome tree_path)
{
	Outcome		text_path = {0};

	if (!json.ok && !json.error)
		shim_unreachable("raw_json was not converted");
	if (!tree_path.ok && !tree_path.error)
		shim_unreachable("raw_jsonb was not converted");
	if (json.null || tree_path.null)
	{
		if (!json.null || !tree_path.null)
			shim_unreachable("raw_json and raw_jsonb differ in being NULL");
	}
	else if (!json.ok)
	{
		/* the text could not be made or is not JSON: jsonb_in fails too */
		if (tree_path.ok &&
			!(allow_number_diffs && strstr(json.error, "DETAIL: Token is invalid.")))
			jsonb_mismatch("the tree path accepts what the text path refuses",
						   &json, NULL, &tree_path);
	}
	else
	{
		MemoryContext old = MemoryContextSwitchTo(temp_cxt);

		PG_TRY();
		{
			outcome_datum(&text_path,
						  OidInputFunctionCall(F_JSONB_IN, pstrdup(json.bytes),
											   JSONBOID, -1), false);
		}
		PG_CATCH();
		{
			outcome_error(&text_path);
			shim_caught("jsonb_in");
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old);
		MemoryContextReset(temp_cxt);
		if (text_path.ok && !tree_path.ok &&
			!(allow_number_diffs &&
			  strstr(tree_path.error, "JSON numbers cannot be NaN or infinite.")))
			jsonb_mismatch("the tree path refuses what jsonb_in accepts",
						   &json, &text_path, &tree_path);
		if (!text_path.ok && tree_path.ok)
			jsonb_mismatch("the tree path accepts what jsonb_in refuses",
						   &json, &text_path, &tree_path);
		if (text_path.ok && tree_path.ok &&
			(text_path.len != tree_path.len ||
			 memcmp(text_path.bytes, tree_path.bytes, text_path.len) != 0))
			jsonb_mismatch("different values", &json, &text_path, &tree_path);
	}
	free(json.bytes);
	free(json.error);
	free(text_path.bytes);
	free(text_path.error);
	free(tree_path.bytes);
	free(tree_path.error);
}

/*
 * The scanner stops at the first value that fails to convert; to reach the
 * columns after it, a failing row is converted again one column at a time.
 */
static void
row(FuzzTable *t, GcRowCursor *cur)
{
	Outcome		json = {0};
	Outcome		jsonb = {0};
	int			i;

	if (!row_values(t, t->map, cur, &json, &jsonb))
		for (i = 0; i < RelationGetDescr(t->rel)->natts; i++)
			(void) row_values(t, t->single[i], cur,
							  i == t->raw_json ? &json : NULL,
							  i == t->raw_jsonb ? &jsonb : NULL);
	jsonb_differential(json, jsonb);
}

static void
walk_table(FuzzTable *t, GcPage *page)
{
	GcRowCursor *cur = gc_cursor_create(page, t->array_key, t->res->level);
	int			tops = 0;

	while (gc_cursor_next_top(cur))
	{
		char	   *s;

		tops++;
		s = gc_cursor_top_string(cur, "conversationId");
		if (s)
			(void) strlen(s);
		s = gc_cursor_top_string(cur, "conversationStart");
		if (s)
			(void) strlen(s);
		/* callers move to the next top once this returns false */
		while (gc_cursor_next_row(cur))
			row(t, cur);
	}
	if (tops != gc_page_row_count(page, t->array_key))
		shim_unreachable("cursor tops differ from gc_page_row_count");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GcPage	   *page;
	int			i;

	if (query_cxt == NULL)
	{
		shim_init();
		build_tables();
		allow_number_diffs = getenv("GC_FUZZ_ALLOW_NUMBER_DIFFS") != NULL;
	}
	MemoryContextSwitchTo(batch_cxt);
	page = parse_page(data, size);
	if (page != NULL)
	{
		page_accessors(page);
		for (i = 0; i < (int) lengthof(tables); i++)
			walk_table(&tables[i], page);
	}
	MemoryContextSwitchTo(query_cxt);
	MemoryContextReset(batch_cxt);
	if (shim_context_chunks(batch_cxt) != 0 || shim_context_chunks(temp_cxt) != 0)
		shim_unreachable("memory left in a reset context");
	return 0;
}
