/*-------------------------------------------------------------------------
 *
 * fuzz_json.c
 *		  libFuzzer target: src/json_parse.c, the parser of result pages, on
 *		  its own.  Links that file, json_oracle.c and nothing from
 *		  PostgreSQL.
 *
 * Every input is parsed by gc_json_parse() and, independently, read by the
 * oracle (json_oracle.c, written from RFC 8259 and the contract of
 * src/json_parse.h).  Checked, beyond ASan, UBSan and LeakSanitizer:
 *
 *	  - verdict: the parser accepts exactly what the oracle calls a JSON
 *		document, says "ends early" exactly when the input is a valid start
 *		of one, and otherwise reports a byte offset within the input: the
 *		first byte the oracle finds no document can have there, or up to
 *		five bytes before it where that byte is inside an escape or a
 *		literal (the parser names the escape or literal); "nesting too
 *		deep" exactly when the nesting limit is what stopped the oracle,
 *		"unexpected NUL byte" exactly when the offset holds a NUL;
 *	  - values: the tree written back (gc_json_write_text) is the compact
 *		JSON text the oracle made of the input, byte for byte, so strings
 *		were decoded and numbers kept as sent; gc_json_text_size() is the
 *		size written, for every node; the tree has as many nodes as the
 *		oracle counted values, every container as many children as its
 *		len, strings and names NUL-terminated at their length;
 *	  - round trip: that text parses again and writes back the same text;
 *	  - names: gc_json_is_last_of_name(), with and without the index of
 *		gc_json_names_create(), and gc_json_get() agree with a sorted list
 *		of each object's member names;
 *	  - memory: every allocation goes through the harness's allocator,
 *		which frees it all after each input (LeakSanitizer sees anything
 *		else); the parse is repeated with the allocator failing at one
 *		allocation, and must then fail cleanly with GC_JSON_NO_MEMORY, or
 *		give the first result when it made fewer allocations than that.
 *
 * GC_FUZZ_VERBOSE=1 prints each input's verdicts (to replay an artifact).
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_oracle.h"
#include "json_parse.h"

static bool verbose;

/*
 * fail
 *		Report a broken property and abort, so that libFuzzer keeps the input.
 */
static void
__attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt,...)
{
	va_list		args;

	fputs("fuzz_json: ", stderr);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	abort();
}

/* ----------------------------------------------------------------
 * The allocator handed to the parser: a list of malloc'd chunks, all
 * freed after the input, that can be told to fail at one allocation.
 * ----------------------------------------------------------------
 */
typedef struct Chunk
{
	struct Chunk *next;
	max_align_t data[];			/* aligned for any type, as promised */
} Chunk;

typedef struct Arena
{
	Chunk	   *chunks;
	long		calls;			/* allocations asked for */
	long		fail_at;		/* the call that gets NULL; 0: none */
} Arena;

/*
 * arena_alloc
 *		The GcJsonAlloc callback: size bytes, or NULL at call fail_at.
 */
static void *
arena_alloc(void *arg, size_t size)
{
	Arena	   *arena = arg;
	Chunk	   *chunk;

	if (++arena->calls == arena->fail_at)
		return NULL;
	chunk = malloc(sizeof(Chunk) + size);
	if (chunk == NULL)
		fail("the harness is out of memory (%zu bytes)", size);
	chunk->next = arena->chunks;
	arena->chunks = chunk;
	return chunk->data;
}

/*
 * arena_free
 *		Free everything the arena gave, as a memory context reset would.
 */
static void
arena_free(Arena *arena)
{
	while (arena->chunks)
	{
		Chunk	   *next = arena->chunks->next;

		free(arena->chunks);
		arena->chunks = next;
	}
	arena->calls = 0;
}

/* ----------------------------------------------------------------
 * Checks of the parser against the oracle
 * ----------------------------------------------------------------
 */
/*
 * status_name
 *		A parse status, for messages.
 */
static const char *
status_name(GcJsonStatus status)
{
	switch (status)
	{
		case GC_JSON_OK:
			return "ok";
		case GC_JSON_MALFORMED:
			return "malformed";
		case GC_JSON_ENDS_EARLY:
			return "ends early";
		case GC_JSON_NO_MEMORY:
			return "no memory";
	}
	return "?";
}

/*
 * verdict_name
 *		An oracle verdict, for messages.
 */
static const char *
verdict_name(Verdict v)
{
	return v == DOCUMENT ? "a document" : v == VALID_START ? "a valid start" : "not JSON";
}

/*
 * check_verdict
 *		The parser's result against the oracle's verdict (header comment).
 */
static void
check_verdict(const uint8_t *s, size_t n, const GcJson *root,
			  const GcJsonError *err, const Oracle *o)
{
	bool		named_escape_or_literal;

	if ((root != NULL) != (err->status == GC_JSON_OK))
		fail("gc_json_parse returned %s with status %s", root ? "a tree" : "NULL",
			 status_name(err->status));
	if (err->status == GC_JSON_NO_MEMORY)
		fail("out of memory (%s) with an allocator that never fails", err->reason);
	if ((err->status == GC_JSON_OK) != (o->verdict == DOCUMENT) ||
		(err->status == GC_JSON_ENDS_EARLY) != (o->verdict == VALID_START) ||
		(err->status == GC_JSON_MALFORMED) != (o->verdict == NOT_JSON))
		fail("the parser says %s (%s at byte %zu), the oracle %s (byte %zu)",
			 status_name(err->status), err->reason ? err->reason : "-", err->offset,
			 verdict_name(o->verdict), o->bad);
	if (err->status == GC_JSON_OK)
		return;
	if (err->reason == NULL || err->reason[0] == '\0')
		fail("a failed parse gave no reason");
	if (err->status == GC_JSON_ENDS_EARLY)
	{
		if (err->offset != n)
			fail("ends early at byte %zu of %zu", err->offset, n);
		return;
	}
	if (err->offset >= n)
		fail("malformed at byte %zu, past the input (%zu bytes)", err->offset, n);
	named_escape_or_literal = s[err->offset] == '\\' || s[err->offset] == 't' ||
		s[err->offset] == 'f' || s[err->offset] == 'n';
	if (err->offset != o->bad &&
		!(named_escape_or_literal && err->offset < o->bad && o->bad - err->offset <= 5))
		fail("\"%s\" at byte %zu, but the first impossible byte is %zu",
			 err->reason, err->offset, o->bad);
	if ((strcmp(err->reason, "nesting too deep") == 0) != o->too_deep)
		fail("\"%s\" at byte %zu, the oracle %s the nesting limit", err->reason,
			 err->offset, o->too_deep ? "stopped at" : "did not reach");
	if ((strcmp(err->reason, "unexpected NUL byte") == 0) != (s[err->offset] == '\0'))
		fail("\"%s\" at byte %zu, which holds 0x%02x", err->reason, err->offset,
			 s[err->offset]);
}

/*
 * written
 *		node as JSON text in a malloc'd buffer of gc_json_text_size() bytes
 *		and one guard byte; checks the writer stops exactly at that size.
 */
static char *
written(const GcJson *node, size_t *len)
{
	size_t		size = gc_json_text_size(node);
	char	   *buf = malloc(size + 1);
	char	   *end;

	if (buf == NULL)
		fail("the harness is out of memory (%zu bytes)", size);
	buf[size] = '#';
	end = gc_json_write_text(node, buf);
	if (end != buf + size || buf[size] != '#')
		fail("gc_json_text_size says %zu bytes, gc_json_write_text wrote %td",
			 size, end - buf);
	*len = size;
	return buf;
}

/*
 * check_node
 *		Shape checks of node and everything under it; returns its values.
 */
static long
check_node(const GcJson *node, int depth)
{
	const GcJson *child;
	long		values = 1;
	int			children = 0;
	size_t		len;

	if (depth > GC_JSON_MAX_DEPTH + 1)
		fail("a tree deeper than the nesting limit");
	free(written(node, &len));
	switch (node->type)
	{
		case GC_JSON_NULL:
		case GC_JSON_BOOL:
			if (node->first != NULL)
				fail("a scalar with children");
			break;
		case GC_JSON_NUMBER:
		case GC_JSON_STRING:
			if (node->str == NULL || node->len < 0 || node->str[node->len] != '\0')
				fail("a string or number not NUL-terminated at its length");
			if (node->type == GC_JSON_NUMBER && strlen(node->str) != (size_t) node->len)
				fail("a number's text holds a NUL");
			if (node->first != NULL)
				fail("a scalar with children");
			break;
		case GC_JSON_ARRAY:
		case GC_JSON_OBJECT:
			for (child = node->first; child != NULL; child = child->next)
			{
				children++;
				if (node->type == GC_JSON_OBJECT &&
					(child->key == NULL || child->keylen < 0 ||
					 child->key[child->keylen] != '\0'))
					fail("a member name not NUL-terminated at its length");
				if (node->type == GC_JSON_ARRAY && child->key != NULL)
					fail("an array element with a member name");
				values += check_node(child, depth + 1);
			}
			if (children != node->len)
				fail("a container of len %d with %d children", node->len, children);
			break;
		default:
			fail("a node of unknown type %d", (int) node->type);
	}
	return values;
}

/* A member and its place in its object, sorted by name */
typedef struct NamedMember
{
	const GcJson *member;
	int			place;
} NamedMember;

/*
 * name_order
 *		qsort order of members: by name bytes, then length, then place.
 */
static int
name_order(const void *a, const void *b)
{
	const NamedMember *x = a;
	const NamedMember *y = b;
	int			common = x->member->keylen < y->member->keylen ?
		x->member->keylen : y->member->keylen;
	int			c = memcmp(x->member->key, y->member->key, common);

	if (c != 0)
		return c;
	if (x->member->keylen != y->member->keylen)
		return x->member->keylen < y->member->keylen ? -1 : 1;
	return x->place - y->place;
}

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
 * check_names
 *		gc_json_is_last_of_name and gc_json_get on obj against its members
 *		sorted by name: within a name, the last in document order wins.
 */
static void
check_names(Arena *arena, const GcJson *obj)
{
	GcJsonAlloc alloc = {arena_alloc, arena};
	GcJsonNames *names = gc_json_names_create(&alloc, obj);
	NamedMember *sorted = malloc(sizeof(NamedMember) * (obj->len + 1));
	const GcJson *m;
	int			i = 0;
	int			gets = 0;

	if (sorted == NULL)
		fail("the harness is out of memory");
	for (m = obj->first; m != NULL; m = m->next, i++)
	{
		sorted[i].member = m;
		sorted[i].place = i;
	}
	qsort(sorted, obj->len, sizeof(NamedMember), name_order);
	for (i = 0; i < obj->len; i++)
	{
		const GcJson *member = sorted[i].member;
		bool		last = i + 1 == obj->len || !same_name(member, sorted[i + 1].member);

		if (gc_json_is_last_of_name(names, member) != last)
			fail("gc_json_is_last_of_name (%s) says %d for member %d of %d",
				 names ? "indexed" : "scanned", !last, sorted[i].place, obj->len);
		if (names != NULL && gc_json_is_last_of_name(NULL, member) != last)
			fail("gc_json_is_last_of_name (scanned) says %d for member %d of %d",
				 !last, sorted[i].place, obj->len);

		/* gc_json_get takes a C string: names holding a NUL are cut there */
		if (!last || memchr(member->key, '\0', member->keylen) != NULL || gets++ > 64)
			continue;
		if (gc_json_get(obj, member->key) != member)
			fail("gc_json_get(\"%.40s\") is not the last member of that name",
				 member->key);
	}
	if (gc_json_get(obj, "\x01 no such name \x02") != NULL)
	{
		/* only if the object really has it */
		for (m = obj->first; m != NULL; m = m->next)
			if (m->keylen == 16 && memcmp(m->key, "\x01 no such name \x02", 16) == 0)
				break;
		if (m == NULL)
			fail("gc_json_get found a name the object does not have");
	}
	free(sorted);
}

/*
 * walk_objects
 *		check_names on every object of the tree; gc_json_get on what is not
 *		an object must find nothing.
 */
static void
walk_objects(Arena *arena, const GcJson *node)
{
	const GcJson *child;

	if (node->type == GC_JSON_OBJECT)
		check_names(arena, node);
	else if (gc_json_get(node, "") != NULL)
		fail("gc_json_get found a member in a value that is not an object");
	for (child = node->first; child != NULL; child = child->next)
		walk_objects(arena, child);
}

/*
 * check_document
 *		A parsed document: its shape, its text against the oracle's, the
 *		round trip and the names.
 */
static void
check_document(Arena *arena, const GcJson *root, const Oracle *o)
{
	size_t		len;
	char	   *text = written(root, &len);
	long		values = check_node(root, 0);
	Arena		again = {0};
	GcJsonAlloc alloc = {arena_alloc, &again};
	GcJsonError err;
	GcJson	   *reparsed;
	char	   *text2;
	size_t		len2;

	if (values != o->values)
		fail("the tree holds %ld values, the oracle counted %ld", values, o->values);
	if (len != o->text.len || memcmp(text, o->text.data, len) != 0)
		fail("written back:\n  parser: %.*s\n  oracle: %.*s", (int) (len < 400 ? len : 400),
			 text, (int) (o->text.len < 400 ? o->text.len : 400), o->text.data);

	reparsed = gc_json_parse(&alloc, text, len, &err);
	if (reparsed == NULL)
		fail("the text written back does not parse: %s at byte %zu", err.reason, err.offset);
	text2 = written(reparsed, &len2);
	if (len2 != len || memcmp(text, text2, len) != 0)
		fail("the text written back reads differently the second time");
	free(text2);
	free(text);
	arena_free(&again);

	walk_objects(arena, root);
}

/*
 * check_failing_allocator
 *		Parse again with the allocator failing at call fail_at: a clean
 *		GC_JSON_NO_MEMORY if the first parse needed that many allocations,
 *		else the first result.  Everything allocated is still freed.
 */
static void
check_failing_allocator(const uint8_t *s, size_t n, long fail_at,
						const GcJsonError *first, long first_calls)
{
	Arena		arena = {0};
	GcJsonAlloc alloc = {arena_alloc, &arena};
	GcJsonError err;
	GcJson	   *root;

	arena.fail_at = fail_at;
	root = gc_json_parse(&alloc, (const char *) s, n, &err);
	if (fail_at <= first_calls)
	{
		if (root != NULL || err.status != GC_JSON_NO_MEMORY || err.reason == NULL)
			fail("allocation %ld of %ld failed, yet the parse says %s",
				 fail_at, first_calls, status_name(err.status));
	}
	else if ((root == NULL) != (first->status != GC_JSON_OK) ||
			 err.status != first->status || err.offset != first->offset)
		fail("a parse that made its %ld allocations differs the second time",
			 first_calls);
	arena_free(&arena);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * LLVMFuzzerTestOneInput
 *		libFuzzer's entry: one input through every check above.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Arena		arena = {0};
	GcJsonAlloc alloc = {arena_alloc, &arena};
	GcJsonError err;
	GcJson	   *root;
	Oracle		o;
	long		calls;
	uint32_t	h = 2166136261u;
	size_t		i;

	if (!verbose && getenv("GC_FUZZ_VERBOSE") != NULL)
		verbose = true;
	oracle_read(data, size, &o);
	root = gc_json_parse(&alloc, (const char *) data, size, &err);
	calls = arena.calls;
	if (verbose)
		fprintf(stderr, "fuzz_json: %zu bytes: parser %s%s%s at byte %zu; oracle: %s "
				"(byte %zu)%s; %ld allocations\n", size, status_name(err.status),
				err.reason ? ", " : "", err.reason ? err.reason : "", err.offset,
				verdict_name(o.verdict), o.bad, o.too_deep ? ", too deep" : "", calls);
	check_verdict(data, size, root, &err, &o);
	if (root != NULL)
		check_document(&arena, root, &o);
	arena_free(&arena);

	/* which allocation fails depends on the input, so each is reached */
	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	check_failing_allocator(data, size, 1 + (long) (h % (uint32_t) (calls + 1)),
							&err, calls);
	free(o.text.data);
	return 0;
}
