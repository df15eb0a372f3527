/*-------------------------------------------------------------------------
 *
 * json_parse.c
 *		  The parser of result pages: one pass over a response body into a
 *		  tree of GcJson nodes taken from the caller's allocator.
 *
 * A result page (100 conversations, a few hundred kilobytes) becomes tens of
 * thousands of small values.  json-c gave each its own malloc'd object, each
 * JSON object its own hash table, and freed the tree value by value after
 * the page: about a third of a load's CPU went there (docs/performance.md,
 * "The page parser").  Here the body is copied once, strings are unescaped
 * in place in that copy, nodes come from large blocks, and the caller frees
 * it all at once (in the backend, the page's memory context reset).
 *
 * Owns: the JSON grammar (RFC 8259, with json-c's leniencies that earlier
 * releases accepted: raw control characters inside strings, and unpaired
 * UTF-16 surrogates read as U+FFFD), the nesting limit, the reasons given
 * for a malformed body, and finding members by name.  Does not: include
 * anything from PostgreSQL (json_parse.h says why), raise errors (it
 * returns them; json_page.c maps them, and the allocator, in a backend),
 * write values back as text (json_write.c), convert values to Datums
 * (json_tuple.c) or do I/O.  json-c stays for the small documents (token
 * answers, job status, error bodies).
 *
 *-------------------------------------------------------------------------
 */
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include "json_parse.h"

/* Node blocks: the first is small (error bodies), later ones grow */
#define GC_JSON_FIRST_BLOCK (8 * 1024)
#define GC_JSON_MAX_BLOCK (1024 * 1024)

/* What a node block hands out is aligned for a node */
#define GC_JSON_ALIGN(size) \
	(((size) + _Alignof(GcJson) - 1) & ~((size_t) _Alignof(GcJson) - 1))

/*
 * Under AddressSanitizer (tests/fuzz) every node is its own allocation, so
 * that an access past a node is caught, not only one past a block; unless
 * GC_JSON_NODE_BLOCKS asks for the blocks (tests/fuzz fuzzes both ways).
 */
#if defined(GC_JSON_NODE_BLOCKS)
/* node blocks, as in the backend build */
#elif defined(__SANITIZE_ADDRESS__)
#define GC_JSON_ALLOC_EACH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GC_JSON_ALLOC_EACH 1
#endif
#endif

/*
 * JSON's two-character escapes, \" \\ \/ \b \f \n \r \t: the letters after
 * the backslash and the bytes they stand for.
 */
static const char escape_letters[] = "\"\\/bfnrt";
static const char escaped_bytes[] = "\"\\/\b\f\n\r\t";

typedef struct GcJsonParser
{
	char	   *buf;			/* the copy being parsed (and unescaped) */
	char	   *p;				/* next byte */
	char	   *end;			/* buf + len; *end == '\0' */
	int			depth;
	const GcJsonAlloc *alloc;
	char	   *block;			/* free space of the current node block */
	size_t		block_left;
	size_t		next_block;
	GcJsonError *error;
	jmp_buf		fail;			/* where a fault ends the parse (json_fail) */
} GcJsonParser;

/*
 * json_error
 *		Fill the caller's error.
 */
static void
json_error(GcJsonError *error, GcJsonStatus status, const char *reason,
		   size_t offset)
{
	error->status = status;
	error->reason = reason;
	error->offset = offset;
}

/*
 * json_fail
 *		The body is not JSON at ps->p: fill the caller's error and end the
 *		parse, jumping back to gc_json_parse (which returns NULL).  reason
 *		is a fixed phrase (NULL: "unexpected character"); past the end the
 *		document ended early, and a NUL inside the body is named as such
 *		whatever was expected there.
 *
 * A jump rather than a result checked at every level: a page is millions
 * of values, and testing each one's outcome on the way up cost about 2% of
 * a scan (docs/performance.md, "The redesign: loads before and after").
 * Nothing is held between the jump and its target: the nodes belong to the
 * caller's allocator, and the allocator has returned before any jump.
 */
static _Noreturn void
json_fail(GcJsonParser *ps, const char *reason)
{
	if (ps->p >= ps->end)
		json_error(ps->error, GC_JSON_ENDS_EARLY, "the document ends early",
				   ps->end - ps->buf);
	else
		json_error(ps->error, GC_JSON_MALFORMED,
				   *ps->p == '\0' ? "unexpected NUL byte" :
				   reason ? reason : "unexpected character", ps->p - ps->buf);
	longjmp(ps->fail, 1);
}

/*
 * json_no_memory
 *		The allocator gave nothing: the same jump as json_fail.
 */
static _Noreturn void
json_no_memory(GcJsonParser *ps)
{
	json_error(ps->error, GC_JSON_NO_MEMORY, "out of memory", ps->p - ps->buf);
	longjmp(ps->fail, 1);
}

/*
 * json_alloc
 *		Memory for nodes and number texts from the current block; a fault
 *		(json_no_memory) when the allocator has none.
 */
static inline void *
json_alloc(GcJsonParser *ps, size_t size)
{
	void	   *result;

#ifdef GC_JSON_ALLOC_EACH
	result = ps->alloc->alloc(ps->alloc->arg, size);
	if (result == NULL)
		json_no_memory(ps);
	return result;
#endif
	size = GC_JSON_ALIGN(size);
	if (ps->block_left < size)
	{
		size_t		want = size > ps->next_block ? size : ps->next_block;

		ps->block = ps->alloc->alloc(ps->alloc->arg, want);
		if (ps->block == NULL)
		{
			ps->block_left = 0;
			json_no_memory(ps);
		}
		ps->block_left = want;
		if (ps->next_block < GC_JSON_MAX_BLOCK)
			ps->next_block *= 2;
	}
	result = ps->block;
	ps->block += size;
	ps->block_left -= size;
	return result;
}

/*
 * new_node
 *		A zeroed node.
 */
static inline GcJson *
new_node(GcJsonParser *ps)
{
	GcJson	   *node = json_alloc(ps, sizeof(GcJson));

	memset(node, 0, sizeof(GcJson));
	return node;
}

/*
 * skip_space
 *		Move past JSON whitespace (the NUL after the body is not any).
 */
static inline void
skip_space(GcJsonParser *ps)
{
	char	   *p = ps->p;

	while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
		p++;
	ps->p = p;
}

/*
 * hex_value
 *		The value of a hex digit, -1 for any other byte.
 */
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

/*
 * read_hex4
 *		Four hex digits at p as a number, -1 when they are not (the end of
 *		the buffer is a NUL, never a digit, so this never reads past it).
 */
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

/*
 * put_utf8
 *		The UTF-8 of a code point at w; returns the byte count.
 */
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
		int			code;

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

		/* an escape: a letter standing for one byte, or \uXXXX */
		if (p[1] != 'u')
		{
			const char *letter = (p[1] == '\0') ? NULL :
				memchr(escape_letters, p[1], sizeof(escape_letters) - 1);

			if (letter == NULL)
			{
				ps->p = (p + 1 >= ps->end) ? ps->end : p;
				json_fail(ps, "invalid escape in a string");
			}
			*w++ = escaped_bytes[letter - escape_letters];
			p += 2;
			continue;
		}
		code = read_hex4(p + 2);
		if (code < 0)
		{
			char	   *q = p + 2;

			/* digits up to the end: a document cut short */
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

/*
 * parse_literal
 *		true, false or null at ps->p.
 */
static void
parse_literal(GcJsonParser *ps, GcJson *node, const char *word, GcJsonType type)
{
	size_t		n = strlen(word);
	size_t		left = ps->end - ps->p;

	if (memcmp(ps->p, word, n < left ? n : left) != 0)
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
		GcJson	   *child = new_node(ps);

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

/*
 * parse_value
 *		Any value at ps->p into node.
 */
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
 *		Parse body (len bytes) into a tree from alloc, which owns all of it.
 *		NULL with *error filled when the body is not one JSON value (bar
 *		whitespace around it) or memory ran out.
 */
GcJson *
gc_json_parse(const GcJsonAlloc *alloc, const char *body, size_t len,
			  GcJsonError *error)
{
	GcJsonParser ps;
	GcJson	   *root;

	json_error(error, GC_JSON_OK, NULL, 0);
	ps.alloc = alloc;
	ps.error = error;
	ps.depth = 0;
	ps.block = NULL;
	ps.block_left = 0;
	ps.next_block = GC_JSON_FIRST_BLOCK;
	/* the int lengths of nodes must hold any part of the body */
	if (len >= INT32_MAX)
	{
		json_error(error, GC_JSON_NO_MEMORY, "the document is too large to parse", 0);
		return NULL;
	}
	ps.buf = alloc->alloc(alloc->arg, len + 1);
	if (ps.buf == NULL)
	{
		json_error(error, GC_JSON_NO_MEMORY, "out of memory", 0);
		return NULL;
	}
	memcpy(ps.buf, body, len);
	ps.buf[len] = '\0';
	ps.p = ps.buf;
	ps.end = ps.buf + len;

	/* a fault jumps back here, with *error filled; nothing to undo */
	if (setjmp(ps.fail) != 0)
		return NULL;
	root = new_node(&ps);
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
	uint32_t	mask;			/* buckets - 1, a power of two minus one */
	const GcJson **buckets;
};

/*
 * same_name
 *		Whether two members have the same name, byte for byte.
 */
static bool
same_name(const GcJson *a, const GcJson *b)
{
	return a->keylen == b->keylen && memcmp(a->key, b->key, a->keylen) == 0;
}

/*
 * name_hash
 *		A 32-bit hash of a member name: FNV-1a over its bytes, then a final
 *		mix so that the low bits, which pick the bucket, depend on them all.
 */
static uint32_t
name_hash(const GcJson *member)
{
	const unsigned char *p = (const unsigned char *) member->key;
	const unsigned char *end = p + member->keylen;
	uint32_t	h = 2166136261u;

	for (; p < end; p++)
		h = (h ^ *p) * 16777619u;
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	return h;
}

/*
 * gc_json_names_create
 *		An index of obj's member names in one allocation, or NULL when obj is
 *		small enough to scan (or not an object, or alloc gave nothing).
 */
GcJsonNames *
gc_json_names_create(const GcJsonAlloc *alloc, const GcJson *obj)
{
	GcJsonNames *names;
	const GcJson *member;
	uint32_t	size = 64;
	size_t		header = GC_JSON_ALIGN(sizeof(GcJsonNames));

	if (obj == NULL || obj->type != GC_JSON_OBJECT || obj->len <= GC_JSON_NAMES_MIN)
		return NULL;
	while (size < (uint32_t) obj->len * 2)
		size *= 2;
	/* one chunk, so that freeing the index frees all of it */
	names = alloc->alloc(alloc->arg, header + sizeof(GcJson *) * size);
	if (names == NULL)
		return NULL;
	names->mask = size - 1;
	names->buckets = (const GcJson **) ((char *) names + header);
	memset(names->buckets, 0, sizeof(GcJson *) * size);
	for (member = obj->first; member != NULL; member = member->next)
	{
		uint32_t	i = name_hash(member) & names->mask;

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
		uint32_t	i = name_hash(member) & names->mask;

		while (!same_name(names->buckets[i], member))
			i = (i + 1) & names->mask;
		return names->buckets[i] == member;
	}
	for (later = member->next; later != NULL; later = later->next)
		if (same_name(later, member))
			return false;
	return true;
}
