/*-------------------------------------------------------------------------
 *
 * json_page.c
 *		  A response page parsed into a tree (json_parse.c) in its memory
 *		  context, the page's own members (counts, cursors, a nested
 *		  listing's parent id), and the cursor that walks, depth first, the
 *		  nested objects that are a table's rows.
 *
 * The parse errors' wording is here.  Must not convert values to Datums
 * (json_tuple.c) or do network I/O.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "json_rows.h"
#include "utils/memutils.h"

/*
 * context_alloc
 *		The page parser's allocator (json_parse.h) in a backend: memory from
 *		the memory context arg, which raises rather than return NULL.
 */
static void *
context_alloc(void *arg, size_t size)
{
	return MemoryContextAllocHuge((MemoryContext) arg, size);
}

/*
 * report_parse_error
 *		Raise what json_parse.c found wrong with the response to what.  The
 *		detail locates the fault by byte offset, never quoting the body.
 *		(Out of memory cannot happen: context_alloc raises first.)
 */
static void
pg_attribute_noreturn()
report_parse_error(const char *what, size_t len, const GcJsonError *error)
{
	Assert(error->status != GC_JSON_NO_MEMORY);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_REPLY_HANDLE),
			 errmsg("Genesys Cloud sent a malformed JSON response to %s", what),
			 error->status == GC_JSON_ENDS_EARLY ?
			 errdetail("the document ends early (%zu bytes received).", len) :
			 errdetail("%s at byte %zu (%zu bytes received).",
					   error->reason, error->offset, len),
			 errhint("Retry the query; if it persists, a proxy between PostgreSQL and Genesys Cloud may be rewriting responses.")));
}

/*
 * gc_page_read
 *		Parse a response body into cxt (json_parse.c), raising nothing but
 *		out of memory: a body that fails to parse gives a page whose root
 *		is NULL, for gc_page_check to report.  The page is freed when cxt
 *		is reset, on error too.
 */
GcPage *
gc_page_read(MemoryContext cxt, const char *body, size_t len)
{
	GcPage	   *page = MemoryContextAllocZero(cxt, sizeof(GcPage));
	GcJsonAlloc alloc = {context_alloc, cxt};

	page->len = len;
	page->too_large = (len >= INT_MAX);
	if (!page->too_large)
		page->root = gc_json_parse(&alloc, body, len, &page->error);
	return page;
}

/*
 * gc_page_parsed
 *		Whether gc_page_read parsed the body.
 */
bool
gc_page_parsed(const GcPage *page)
{
	return page->root != NULL;
}

/*
 * gc_page_check
 *		The page gc_page_read made of the response to what, raising when it
 *		failed to parse or is not one JSON object.
 */
GcPage *
gc_page_check(GcPage *page, const char *what)
{
	if (page->too_large)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("Genesys Cloud response to %s is too large (%zu bytes)",
						what, page->len)));
	if (page->root == NULL)
		report_parse_error(what, page->len, &page->error);
	if (page->root->type != GC_JSON_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("Genesys Cloud sent a malformed JSON response to %s", what),
				 errdetail("the document is not a JSON object (%zu bytes received).",
						   page->len),
				 errhint("Retry the query; if it persists, a proxy between PostgreSQL and Genesys Cloud may be rewriting responses.")));
	return page;
}

/*
 * gc_page_parse
 *		Parse a response body into cxt; it must be one JSON object.  The
 *		page is freed when cxt is reset, on error too.
 */
GcPage *
gc_page_parse(MemoryContext cxt, const char *body, size_t len, const char *what)
{
	return gc_page_check(gc_page_read(cxt, body, len), what);
}

/*
 * gc_page_row_count
 *		Number of top-level objects in the page's array_key array (0 when
 *		absent, as on pages past the end).
 */
int
gc_page_row_count(GcPage *page, const char *array_key)
{
	GcJson	   *arr = gc_json_get(page->root, array_key);

	if (arr == NULL || arr->type != GC_JSON_ARRAY)
		return 0;
	return arr->len;
}

/* Follow a dotted path from obj; NULL when any step is missing or null */
GcJson *
gc_json_follow(GcJson *obj, char **path, int path_len)
{
	int			i;

	for (i = 0; i < path_len && obj; i++)
		obj = gc_json_get(obj, path[i]);
	if (obj && obj->type == GC_JSON_NULL)
		return NULL;
	return obj;
}

/*
 * gc_level_chain
 *		Fill chain for rows of level, from the catalogue's nesting.
 */
void
gc_level_chain(GcLevel level, GcLevelChain *chain)
{
	int			l = (int) level;
	int			d = 0;
	int			i;

	/* from the rows up to the top, then turned round */
	while (l >= 0 && d < GC_MAX_DEPTH)
	{
		chain->levels[d] = (GcLevel) l;
		chain->keys[d] = gc_level_def((GcLevel) l)->member;
		l = gc_level_def((GcLevel) l)->parent;
		d++;
	}
	Assert(l < 0);
	chain->depth = d - 1;
	for (i = 0; i < d / 2; i++)
	{
		GcLevel		lv = chain->levels[i];
		const char *key = chain->keys[i];

		chain->levels[i] = chain->levels[d - 1 - i];
		chain->keys[i] = chain->keys[d - 1 - i];
		chain->levels[d - 1 - i] = lv;
		chain->keys[d - 1 - i] = key;
	}
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
	cur->tops = gc_json_get(page->root, array_key);
	if (cur->tops != NULL && cur->tops->type != GC_JSON_ARRAY)
		cur->tops = NULL;
	cur->top_index = -1;
	cur->anchor = -1;
	gc_level_chain(level, &cur->chain);
	return cur;
}

/*
 * gc_cursor_set_anchor
 *		Make objects of level (an ancestor of the rows) give one row, with
 *		NULL for everything below them, when nothing below them gives one:
 *		a pushed LEFT JOIN from a parent table to a child table.
 */
void
gc_cursor_set_anchor(GcRowCursor *cur, GcLevel level)
{
	int			d;

	for (d = 0; d < cur->chain.depth; d++)
		if (cur->chain.levels[d] == level)
			cur->anchor = d;
}

/*
 * gc_cursor_next_top
 *		Move to the next top-level object; false past the last one.
 */
bool
gc_cursor_next_top(GcRowCursor *cur)
{
	GcJson	   *next;

	if (cur->tops == NULL)
		return false;
	next = (cur->top_index < 0) ? cur->tops->first : cur->obj[0]->next;
	if (next == NULL)
		return false;
	cur->top_index++;
	cur->obj[0] = next;
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
	GcJson	   *val = gc_json_get(cur->obj[0], key);

	if (val == NULL || val->type != GC_JSON_STRING)
		return NULL;
	return pstrdup(val->str);
}

/*
 * gc_cursor_row_string
 *		A string field of the cursor's current row, palloc'd, or NULL.
 */
char *
gc_cursor_row_string(GcRowCursor *cur, const char *key)
{
	GcJson	   *val = gc_json_get(cur->obj[cur->chain.depth], key);

	if (val == NULL || val->type != GC_JSON_STRING)
		return NULL;
	return pstrdup(val->str);
}

/* The first child of obj's array (or attribute map) named key, or NULL */
static GcJson *
first_child_of(GcJson *obj, const char *key, GcJsonType type)
{
	GcJson	   *child = gc_json_get(obj, key);

	if (child == NULL || child->type != type)
		return NULL;
	return child->first;
}

/*
 * gc_cursor_next_row
 *		Move to the next row under the current top-level object, depth
 *		first; false when its rows are exhausted.  Missing or empty arrays
 *		simply have no rows.  Attribute rows are the members of an object,
 *		one per name (the last, if a name is given twice).
 */
bool
gc_cursor_next_row(GcRowCursor *cur)
{
	GcLevelChain *chain = &cur->chain;
	int			d;
	GcJson	   *next;

	if (chain->depth == 0)
		return cur->started++ == 0;

	if (!cur->started)
	{
		cur->started = 1;
		d = 1;
		cur->obj[1] = NULL;
		cur->anchor_rows = 0;
		cur->null_row = false;
	}
	else if (cur->null_row)
	{
		/* after the row of an anchor object with nothing under it */
		cur->null_row = false;
		if (cur->anchor == 0)
			return false;
		d = cur->anchor;
	}
	else
		d = chain->depth;

	for (;;)
	{
		GcJsonType	type = gc_level_def(chain->levels[d])->members_are_rows
			? GC_JSON_OBJECT : GC_JSON_ARRAY;

		if (cur->obj[d] != NULL)
			next = cur->obj[d]->next;
		else
		{
			next = first_child_of(cur->obj[d - 1], chain->keys[d], type);
			if (type == GC_JSON_OBJECT)
			{
				/* in the cursor's context, which lives as long as the page */
				GcJsonAlloc alloc = {context_alloc, GetMemoryChunkContext(cur)};

				if (cur->attr_names)
					pfree(cur->attr_names);
				cur->attr_names = gc_json_names_create(&alloc,
													   gc_json_get(cur->obj[d - 1],
																   chain->keys[d]));
			}
		}
		if (type == GC_JSON_OBJECT)
			while (next != NULL && !gc_json_is_last_of_name(cur->attr_names, next))
				next = next->next;
		cur->obj[d] = next;
		if (next != NULL)
		{
			if (d == cur->anchor)
				cur->anchor_rows = 0;
			if (d == chain->depth)
			{
				if (type == GC_JSON_OBJECT)
					cur->attr_name = next->key;
				cur->anchor_rows++;
				return true;	/* attributes are always the deepest level */
			}
			d++;
			cur->obj[d] = NULL;
			continue;
		}

		/* the anchor object had nothing under it: its own row */
		if (d == cur->anchor + 1 && cur->anchor >= 0 && cur->anchor_rows == 0)
		{
			int			i;

			for (i = d; i <= chain->depth; i++)
				cur->obj[i] = NULL;
			cur->attr_name = NULL;
			cur->anchor_rows = 1;
			cur->null_row = true;
			return true;
		}

		/* this level is exhausted: advance its parent */
		d--;
		if (d == 0)
			return false;
	}
}

/*
 * gc_page_add_member
 *		Give each object of the page's array_key array a string member key
 *		with value (a nested listing's parent id, which its objects do not
 *		carry), first, in the page's memory.  An object that has the member
 *		already keeps its own.
 */
void
gc_page_add_member(GcPage *page, const char *array_key, const char *key,
				   const char *value)
{
	GcJson	   *arr = gc_json_get(page->root, array_key);
	MemoryContext cxt = GetMemoryChunkContext(page);
	GcJson	   *obj;

	if (arr == NULL || arr->type != GC_JSON_ARRAY)
		return;
	for (obj = arr->first; obj != NULL; obj = obj->next)
	{
		GcJson	   *member;

		if (obj->type != GC_JSON_OBJECT || gc_json_get(obj, key) != NULL)
			continue;
		member = MemoryContextAllocZero(cxt, sizeof(GcJson));
		member->type = GC_JSON_STRING;
		member->str = MemoryContextStrdup(cxt, value);
		member->len = strlen(value);
		member->key = key;
		member->keylen = strlen(key);
		member->next = obj->first;
		obj->first = member;
		obj->len++;
	}
}

/*
 * gc_page_has_key
 *		Whether the page's top-level object has a non-null key.
 */
bool
gc_page_has_key(GcPage *page, const char *key)
{
	GcJson	   *val = gc_json_get(page->root, key);

	return val != NULL && val->type != GC_JSON_NULL;
}

/*
 * gc_page_string
 *		A top-level string or number of the page as text, palloc'd, or NULL.
 *		Bytes as sent, not converted to the server encoding: the callers
 *		read counts and cursors, and check what they get.
 */
char *
gc_page_string(GcPage *page, const char *key)
{
	GcJson	   *val = gc_json_get(page->root, key);

	if (val == NULL || val->type == GC_JSON_NULL)
		return NULL;
	return pstrdup(gc_json_sent_text(val, false));
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
	GcJson	   *val;

	for (part = strtok_r(copy, ".", &saveptr); part && path_len < (int) lengthof(path);
		 part = strtok_r(NULL, ".", &saveptr))
		path[path_len++] = part;
	val = gc_json_follow(page->root, path, path_len);
	return val ? gc_json_value_text(val, false) : NULL;
}
