/*-------------------------------------------------------------------------
 *
 * json_rows.h
 *		  What json_page.c (a parsed page and the cursor over its rows) and
 *		  json_tuple.c (a row's values as Datums) share, and nothing else
 *		  includes: the page, the chain of levels down to a table's rows, the
 *		  cursor's state, and the helpers both use to read a value.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GC_JSON_ROWS_H
#define GC_JSON_ROWS_H

#include "gc_fdw.h"

struct GcPage
{
	GcJson	   *root;			/* NULL when the body failed to parse */
	size_t		len;			/* bytes of the body */
	bool		too_large;		/* not parsed: len is INT_MAX or more */
	GcJsonError error;			/* why the parse failed, when it did */
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
	GcJson	   *tops;			/* the page's array of top-level objects */
	int			top_index;
	GcLevelChain chain;
	GcJson	   *obj[GC_MAX_DEPTH];	/* for attribute rows: the member */
	GcJsonNames *attr_names;	/* the attribute object's, if large */
	const char *attr_name;
	int			started;		/* 0: no row yet under the current top */
	int			anchor;			/* depth whose objects give a row even
								 * with nothing under them, or -1 */
	int			anchor_rows;	/* rows given under the anchor object */
	bool		null_row;		/* the current row is such a row */
};

/* json_page.c */
extern void gc_level_chain(GcLevel level, GcLevelChain *chain);
extern GcJson *gc_json_follow(GcJson *obj, char **path, int path_len);

/* json_tuple.c */
extern char *gc_json_sent_text(GcJson *val, bool as_json);
extern char *gc_json_value_text(GcJson *val, bool as_json);

#endif							/* GC_JSON_ROWS_H */
