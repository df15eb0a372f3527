/*-------------------------------------------------------------------------
 *
 * json_parse.c
 *		  The parser of result pages: one pass over a response body into a
 *		  tree of GcJson nodes allocated in the page's memory context.
 *
 * A result page (100 conversations, a few hundred kilobytes) becomes tens of
 * thousands of small values.  json-c gave each its own malloc'd object, each
 * JSON object its own hash table, and freed the tree value by value after
 * the page: about a third of a load's CPU went there (docs/performance.md,
 * "The page parser").  Here the body is copied once into the page context,
 * strings are unescaped in place in that copy, nodes come from large blocks,
 * and the memory context reset that ends the page frees it all at once.
 *
 * Owns: the JSON grammar (RFC 8259, with json-c's leniencies that earlier
 * releases accepted: raw control characters inside strings, and unpaired
 * UTF-16 surrogates read as U+FFFD), the nesting limit, the reasons given
 * for a malformed body, and writing a value back as compact JSON text.
 * Does not: convert values to Datums (json_tuple.c) or do I/O.  json-c
 * stays for the small documents (token answers, job status, error bodies).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "gc_fdw.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"

/* As json-c's default: deeper documents are refused, not recursed into */
#define GC_JSON_MAX_DEPTH 32

/* Node blocks: the first is small (error bodies), later ones grow */
#define GC_JSON_FIRST_BLOCK (8 * 1024)
#define GC_JSON_MAX_BLOCK (1024 * 1024)

/*
 * Under AddressSanitizer (tests/fuzz) every node is its own allocation, so
 * that an access past a node is caught, not only one past a block.
 */
#if defined(__SANITIZE_ADDRESS__)
#define GC_JSON_ALLOC_EACH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GC_JSON_ALLOC_EACH 1
#endif
#endif

typedef struct GcJsonParser
{
	char	   *buf;			/* the copy being parsed (and unescaped) */
	char	   *p;				/* next byte */
	char	   *end;			/* buf + len; *end == '\0' */
	int			depth;
	MemoryContext cxt;
	char	   *block;			/* free space of the current node block */
	size_t		block_left;
	size_t		next_block;
	const char *what;			/* the request, for messages */
	size_t		len;
} GcJsonParser;

/*
 * json_fail
 *		Report a malformed body.  reason is a fixed phrase; the byte offset
 *		locates the fault without quoting the body (which may hold anything).
 */
static void
pg_attribute_noreturn()
json_fail(GcJsonParser *ps, const char *reason)
{
	if (ps->p >= ps->end)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("Genesys Cloud sent a malformed JSON response to %s", ps->what),
				 errdetail("the document ends early (%zu bytes received).", ps->len),
				 errhint("Retry the query; if it persists, a proxy between PostgreSQL and Genesys Cloud may be rewriting responses.")));
	if (*ps->p == '\0')
		reason = "unexpected NUL byte";
	ereport(ERROR,
			(errcode(ERRCODE_FDW_REPLY_HANDLE),
			 errmsg("Genesys Cloud sent a malformed JSON response to %s", ps->what),
			 errdetail("%s at byte %zu (%zu bytes received).",
					   reason ? reason : "unexpected character",
					   (size_t) (ps->p - ps->buf), ps->len),
			 errhint("Retry the query; if it persists, a proxy between PostgreSQL and Genesys Cloud may be rewriting responses.")));
}

/*
 * json_alloc
 *		Memory for nodes and number texts from the current block.
 */
static inline void *
json_alloc(GcJsonParser *ps, size_t size)
{
	void	   *result;

#ifdef GC_JSON_ALLOC_EACH
	return MemoryContextAlloc(ps->cxt, size);
#endif
	size = MAXALIGN(size);
	if (ps->block_left < size)
	{
		size_t		want = Max(size, ps->next_block);

		ps->block = MemoryContextAlloc(ps->cxt, want);
		ps->block_left = want;
		if (ps->next_block < GC_JSON_MAX_BLOCK)
			ps->next_block *= 2;
	}
	result = ps->block;
	ps->block += size;
	ps->block_left -= size;
	return result;
}

static inline void
skip_space(GcJsonParser *ps)
{
	char	   *p = ps->p;

	while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
		p++;
	ps->p = p;
}

static inline int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at p (the end of the buffer is a NUL, never a digit) */
static int
read_hex4(const char *p)
{
	int			code = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		int			v = hex_value(p[i]);

		if (v < 0)
			return -1;
		code = (code << 4) | v;
	}
	return code;
}

/* UTF-8 of a code point at w; returns the byte count */
static int
put_utf8(char *w, unsigned int code)
{
	if (code < 0x80)
	{
		w[0] = (char) code;
		return 1;
	}
	if (code < 0x800)
	{
		w[0] = (char) (0xC0 | (code >> 6));
		w[1] = (char) (0x80 | (code & 0x3F));
		return 2;
	}
	if (code < 0x10000)
	{
		w[0] = (char) (0xE0 | (code >> 12));
		w[1] = (char) (0x80 | ((code >> 6) & 0x3F));
		w[2] = (char) (0x80 | (code & 0x3F));
		return 3;
	}
	w[0] = (char) (0xF0 | (code >> 18));
	w[1] = (char) (0x80 | ((code >> 12) & 0x3F));
	w[2] = (char) (0x80 | ((code >> 6) & 0x3F));
	w[3] = (char) (0x80 | (code & 0x3F));
	return 4;
}

/*
 * parse_string
 *		The string whose opening quote is at ps->p, unescaped in place: the
 *		result never outgrows the text it comes from (at most 4 bytes from
 *		a 6- or 12-byte escape), and its closing quote becomes its NUL.
 *		*len counts bytes, including any NUL a \u0000 made.
 */
static char *
parse_string(GcJsonParser *ps, int *len)
{
	char	   *start = ps->p + 1;
	char	   *p = start;
	char	   *w = start;

	for (;;)
	{
		char	   *run = p;

		/* the common case: a run of bytes that stand for themselves */
		while (*p != '"' && *p != '\\' && *p != '\0')
			p++;
		if (w != run)
			memmove(w, run, p - run);
		w += p - run;

		if (*p == '"')
			break;
		if (*p == '\0')
		{
			ps->p = p;
			json_fail(ps, NULL);
		}

		/* an escape */
		switch (p[1])
		{
			case '"':
			case '\\':
			case '/':
				*w++ = p[1];
				p += 2;
				break;
			case 'b':
				*w++ = '\b';
				p += 2;
				break;
			case 'f':
				*w++ = '\f';
				p += 2;
				break;
			case 'n':
				*w++ = '\n';
				p += 2;
				break;
			case 'r':
				*w++ = '\r';
				p += 2;
				break;
			case 't':
				*w++ = '\t';
				p += 2;
				break;
			case 'u':
				{
					int			code = read_hex4(p + 2);

					if (code < 0)
					{
						char	   *q = p + 2;

						while (hex_value(*q) >= 0)
							q++;
						ps->p = (q == ps->end) ? ps->end : p;
						json_fail(ps, "invalid \\u escape");
					}
					p += 6;
					if (code >= 0xD800 && code <= 0xDBFF)
					{
						int			low = (p[0] == '\\' && p[1] == 'u') ? read_hex4(p + 2) : -1;

						if (low >= 0xDC00 && low <= 0xDFFF)
						{
							code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
							p += 6;
						}
						else
							code = 0xFFFD;	/* unpaired, as json-c reads it */
					}
					else if (code >= 0xDC00 && code <= 0xDFFF)
						code = 0xFFFD;
					w += put_utf8(w, (unsigned int) code);
					break;
				}
			default:
				ps->p = (p + 1 >= ps->end) ? ps->end : p;
				json_fail(ps, "invalid escape in a string");
		}
	}
	*w = '\0';
	*len = (int) (w - start);
	ps->p = p + 1;
	return start;
}

/*
 * parse_number
 *		A number in JSON's grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?
 *		[0-9]+)?, kept as the digits sent (as jsonb_in keeps them), copied
 *		with a NUL because the byte after it belongs to the structure.
 */
static void
parse_number(GcJsonParser *ps, GcJson *node)
{
	char	   *start = ps->p;
	char	   *p = start;
	char	   *copy;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		goto bad;
	if (*p == '.')
	{
		p++;
		if (!(*p >= '0' && *p <= '9'))
			goto bad;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			goto bad;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	node->type = GC_JSON_NUMBER;
	node->len = (int) (p - start);
	copy = json_alloc(ps, node->len + 1);
	memcpy(copy, start, node->len);
	copy[node->len] = '\0';
	node->str = copy;
	ps->p = p;
	return;

bad:
	ps->p = p;
	json_fail(ps, "invalid number");
}

static void parse_value(GcJsonParser *ps, GcJson *node);

/* true, false or null at ps->p */
static void
parse_literal(GcJsonParser *ps, GcJson *node, const char *word, GcJsonType type)
{
	size_t		n = strlen(word);
	size_t		left = ps->end - ps->p;

	if (memcmp(ps->p, word, Min(n, left)) != 0)
		json_fail(ps, NULL);
	if (left < n)
	{
		ps->p = ps->end;
		json_fail(ps, NULL);
	}
	node->type = type;
	node->boolean = (word[0] == 't');
	ps->p += n;
}

/*
 * parse_container
 *		An array or object whose bracket is at ps->p.  Children are linked
 *		in document order; an object's children carry their member names.
 */
static void
parse_container(GcJsonParser *ps, GcJson *node, bool is_object)
{
	char		close = is_object ? '}' : ']';
	GcJson	  **tail = &node->first;

	if (++ps->depth > GC_JSON_MAX_DEPTH)
		json_fail(ps, "nesting too deep");
	node->type = is_object ? GC_JSON_OBJECT : GC_JSON_ARRAY;
	ps->p++;
	skip_space(ps);
	if (*ps->p == close)
	{
		ps->p++;
		ps->depth--;
		return;
	}
	for (;;)
	{
		GcJson	   *child = json_alloc(ps, sizeof(GcJson));

		memset(child, 0, sizeof(GcJson));
		if (is_object)
		{
			if (*ps->p != '"')
				json_fail(ps, "a quoted member name was expected");
			child->key = parse_string(ps, &child->keylen);
			skip_space(ps);
			if (*ps->p != ':')
				json_fail(ps, "a colon after a member name was expected");
			ps->p++;
			skip_space(ps);
		}
		parse_value(ps, child);
		*tail = child;
		tail = &child->next;
		node->len++;

		skip_space(ps);
		if (*ps->p == ',')
		{
			ps->p++;
			skip_space(ps);
			continue;
		}
		if (*ps->p == close)
			break;
		json_fail(ps, is_object ? "a comma or '}' was expected"
				  : "a comma or ']' was expected");
	}
	ps->p++;
	ps->depth--;
}

static void
parse_value(GcJsonParser *ps, GcJson *node)
{
	switch (*ps->p)
	{
		case '{':
			parse_container(ps, node, true);
			break;
		case '[':
			parse_container(ps, node, false);
			break;
		case '"':
			node->type = GC_JSON_STRING;
			node->str = parse_string(ps, &node->len);
			break;
		case 't':
			parse_literal(ps, node, "true", GC_JSON_BOOL);
			break;
		case 'f':
			parse_literal(ps, node, "false", GC_JSON_BOOL);
			break;
		case 'n':
			parse_literal(ps, node, "null", GC_JSON_NULL);
			break;
		case '-':
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
			parse_number(ps, node);
			break;
		default:
			json_fail(ps, NULL);
	}
}

/*
 * gc_json_parse
 *		Parse body (len bytes) into a tree allocated in cxt, which owns it
 *		all: nothing outside cxt is allocated, so resetting cxt frees the
 *		page, on error too.  A malformed body is an HV00K error naming what
 *		(the request) and the reason; trailing whitespace is allowed.
 */
GcJson *
gc_json_parse(MemoryContext cxt, const char *body, size_t len, const char *what)
{
	GcJsonParser ps;
	GcJson	   *root;

	ps.cxt = cxt;
	ps.what = what;
	ps.len = len;
	ps.depth = 0;
	ps.block = NULL;
	ps.block_left = 0;
	ps.next_block = GC_JSON_FIRST_BLOCK;
	ps.buf = MemoryContextAllocHuge(cxt, len + 1);
	memcpy(ps.buf, body, len);
	ps.buf[len] = '\0';
	ps.p = ps.buf;
	ps.end = ps.buf + len;

	root = json_alloc(&ps, sizeof(GcJson));
	memset(root, 0, sizeof(GcJson));
	skip_space(&ps);
	parse_value(&ps, root);
	skip_space(&ps);
	if (ps.p < ps.end)
		json_fail(&ps, "unexpected data after the document");
	return root;
}

/*
 * gc_json_get
 *		The member named key of an object, NULL if absent or obj is not an
 *		object.  With a name given twice the last wins, as in json-c and
 *		jsonb.
 */
GcJson *
gc_json_get(const GcJson *obj, const char *key)
{
	GcJson	   *member;
	GcJson	   *found = NULL;
	int			keylen;

	if (obj == NULL || obj->type != GC_JSON_OBJECT)
		return NULL;
	keylen = (int) strlen(key);
	for (member = obj->first; member != NULL; member = member->next)
		if (member->keylen == keylen && member->key[0] == key[0] &&
			memcmp(member->key, key, keylen) == 0)
			found = member;
	return found;
}

/*
 * The names of a large object, for reading its members one per name: a
 * hash set of the last member of each name.  Small objects (all Genesys
 * sends) are checked by a scan of the members after one; a large one would
 * make that quadratic, which a hostile page could use to hold a backend
 * uninterruptibly.
 */
#define GC_JSON_NAMES_MIN 32

struct GcJsonNames
{
	uint32		mask;			/* buckets - 1, a power of two minus one */
	const GcJson **buckets;
};

static bool
same_name(const GcJson *a, const GcJson *b)
{
	return a->keylen == b->keylen && memcmp(a->key, b->key, a->keylen) == 0;
}

/*
 * gc_json_names_create
 *		An index of obj's member names, or NULL when obj is small enough to
 *		scan (or not an object).  Allocated in cxt.
 */
GcJsonNames *
gc_json_names_create(MemoryContext cxt, const GcJson *obj)
{
	GcJsonNames *names;
	const GcJson *member;
	uint32		size = 64;

	if (obj == NULL || obj->type != GC_JSON_OBJECT || obj->len <= GC_JSON_NAMES_MIN)
		return NULL;
	while (size < (uint32) obj->len * 2)
		size *= 2;
	/* one chunk, so that a pfree() of the index frees all of it */
	names = MemoryContextAllocZero(cxt, MAXALIGN(sizeof(GcJsonNames)) +
								   sizeof(GcJson *) * size);
	names->mask = size - 1;
	names->buckets = (const GcJson **) ((char *) names + MAXALIGN(sizeof(GcJsonNames)));
	for (member = obj->first; member != NULL; member = member->next)
	{
		uint32		i = hash_bytes((const unsigned char *) member->key,
								   member->keylen) & names->mask;

		/* a later member of the same name takes its place */
		while (names->buckets[i] != NULL && !same_name(names->buckets[i], member))
			i = (i + 1) & names->mask;
		names->buckets[i] = member;
	}
	return names;
}

/*
 * gc_json_is_last_of_name
 *		Whether no later member of the same object has member's name: an
 *		object read as rows (participant attributes) gives a name once.
 *		names is the object's gc_json_names_create(), NULL for a small one.
 */
bool
gc_json_is_last_of_name(const GcJsonNames *names, const GcJson *member)
{
	const GcJson *later;

	if (names != NULL)
	{
		uint32		i = hash_bytes((const unsigned char *) member->key,
								   member->keylen) & names->mask;

		while (!same_name(names->buckets[i], member))
			i = (i + 1) & names->mask;
		return names->buckets[i] == member;
	}
	for (later = member->next; later != NULL; later = later->next)
		if (same_name(later, member))
			return false;
	return true;
}

/* A string as JSON text: escapes as json-c wrote them ('/' left alone) */
static void
append_json_string(StringInfo buf, const char *s, int len)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	const char *p;

	appendStringInfoCharMacro(buf, '"');
	for (p = s; p < s + len; p++)
	{
		unsigned char c = (unsigned char) *p;
		const char *esc;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		appendBinaryStringInfo(buf, run, p - run);
		run = p + 1;
		switch (c)
		{
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			default:
				appendStringInfo(buf, "\\u00%c%c", hex[c >> 4], hex[c & 0xF]);
				continue;
		}
		appendStringInfoString(buf, esc);
	}
	appendBinaryStringInfo(buf, run, p - run);
	appendStringInfoCharMacro(buf, '"');
}

/*
 * gc_json_append_text
 *		val as compact JSON text (no spaces, members in document order,
 *		numbers in the digits sent).
 */
void
gc_json_append_text(StringInfo buf, const GcJson *val)
{
	const GcJson *child;

	check_stack_depth();
	switch (val->type)
	{
		case GC_JSON_NULL:
			appendStringInfoString(buf, "null");
			break;
		case GC_JSON_BOOL:
			appendStringInfoString(buf, val->boolean ? "true" : "false");
			break;
		case GC_JSON_NUMBER:
			appendBinaryStringInfo(buf, val->str, val->len);
			break;
		case GC_JSON_STRING:
			append_json_string(buf, val->str, val->len);
			break;
		case GC_JSON_ARRAY:
		case GC_JSON_OBJECT:
			appendStringInfoCharMacro(buf, val->type == GC_JSON_OBJECT ? '{' : '[');
			for (child = val->first; child != NULL; child = child->next)
			{
				if (child != val->first)
					appendStringInfoCharMacro(buf, ',');
				if (val->type == GC_JSON_OBJECT)
				{
					append_json_string(buf, child->key, child->keylen);
					appendStringInfoCharMacro(buf, ':');
				}
				gc_json_append_text(buf, child);
			}
			appendStringInfoCharMacro(buf, val->type == GC_JSON_OBJECT ? '}' : ']');
			break;
	}
}
