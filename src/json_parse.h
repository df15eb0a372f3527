/*-------------------------------------------------------------------------
 *
 * json_parse.h
 *		  The page parser's interface: a JSON document parsed into a tree of
 *		  GcJson nodes, with memory from an allocator the caller gives and
 *		  errors returned to the caller rather than raised.
 *
 * Includes only standard C headers, so that src/json_parse.c and
 * src/json_write.c build and run outside a PostgreSQL backend (tests/fuzz
 * links them alone).  In the
 * backend, json_page.c maps the allocator to a memory context and a
 * returned error to an ereport.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GC_JSON_PARSE_H
#define GC_JSON_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Deeper documents are refused, not recursed into (json-c's default) */
#define GC_JSON_MAX_DEPTH 32

typedef enum GcJsonType
{
	GC_JSON_NULL,
	GC_JSON_BOOL,
	GC_JSON_NUMBER,
	GC_JSON_STRING,
	GC_JSON_ARRAY,
	GC_JSON_OBJECT
} GcJsonType;

/*
 * One JSON value.  Children of an array or object are a list in document
 * order; a child of an object carries its member name.  Strings are
 * unescaped UTF-8 (len bytes, which a \u0000 can make hold a NUL) and
 * numbers the digits sent; both are NUL-terminated.
 */
typedef struct GcJson
{
	GcJsonType	type;
	int			len;			/* string bytes, number chars, or children */
	int			keylen;
	bool		boolean;
	const char *str;			/* string or number text */
	const char *key;			/* member name, when a child of an object */
	struct GcJson *first;		/* first element or member */
	struct GcJson *next;		/* next sibling */
} GcJson;

/*
 * Where the parser's memory comes from.  alloc(arg, size) returns size
 * bytes aligned for any type, or NULL when it has none to give.  Nothing
 * is ever freed by the parser: all it allocates belongs to the caller, who
 * frees it at once when the document is no longer needed (in the backend,
 * by resetting the page's memory context).
 */
typedef struct GcJsonAlloc
{
	void	   *(*alloc) (void *arg, size_t size);
	void	   *arg;
} GcJsonAlloc;

typedef enum GcJsonStatus
{
	GC_JSON_OK,
	GC_JSON_MALFORMED,			/* not JSON at offset; reason says why */
	GC_JSON_ENDS_EARLY,			/* a valid start of a document, cut short */
	GC_JSON_NO_MEMORY			/* the allocator returned NULL */
} GcJsonStatus;

/*
 * Why a parse failed.  reason is a fixed English phrase ("invalid number",
 * "nesting too deep", ...) and offset the byte of the body where the parse
 * stopped (the body's length when it ends early).  Neither quotes the
 * body, which may hold anything.
 */
typedef struct GcJsonError
{
	GcJsonStatus status;
	const char *reason;
	size_t		offset;
} GcJsonError;

/*
 * Parse body (len bytes, NULs included) into a tree taken from alloc.  On
 * failure returns NULL and fills *error; what was allocated until then
 * stays the caller's.  Whitespace may follow the document, nothing else.
 */
extern GcJson *gc_json_parse(const GcJsonAlloc *alloc, const char *body,
							 size_t len, GcJsonError *error);

/* The member named key of an object (the last, if repeated), or NULL */
extern GcJson *gc_json_get(const GcJson *obj, const char *key);

/*
 * Reading an object's members one per name: gc_json_names_create() indexes
 * a large object's names in one allocation (NULL for a small object, which
 * is scanned instead, and when alloc has no memory: the scan gives the same
 * answers, only slower); gc_json_is_last_of_name() says whether no later
 * member has the same name.
 */
typedef struct GcJsonNames GcJsonNames;

extern GcJsonNames *gc_json_names_create(const GcJsonAlloc *alloc,
										 const GcJson *obj);
extern bool gc_json_is_last_of_name(const GcJsonNames *names,
									const GcJson *member);

/*
 * json_write.c: a value as compact JSON text, gc_json_text_size() bytes
 * (no NUL counted), which gc_json_write_text() writes at out, returning
 * the end.
 */
extern size_t gc_json_text_size(const GcJson *val);
extern char *gc_json_write_text(const GcJson *val, char *out);

#endif							/* GC_JSON_PARSE_H */
