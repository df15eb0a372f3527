/*-------------------------------------------------------------------------
 *
 * pg_shim.c
 *		  A stand-in for the PostgreSQL backend, just large enough to link and
 *		  run gc_fdw's real parsing code (src/json_tuple.c, src/catalog.c,
 *		  src/option.c, src/http.c, src/auth.c, src/jobs.c) inside libFuzzer.
 *
 * What it models, and how:
 *	  - memory contexts: every palloc chunk is its own malloc block (so ASan
 *		sees overruns of palloc'd buffers) with a header whose last word is
 *		the owning context, as PostgreSQL's GetMemoryChunkContext() expects;
 *		contexts keep their chunks on a list, reset/delete free them and run
 *		reset callbacks LIFO as mcxt.c does.  Fresh non-zeroed chunks are
 *		filled with 0x7f, like CLOBBER_FREED_MEMORY/RANDOMIZE_ALLOCATED_MEMORY
 *		builds, so reads of uninitialised palloc memory misbehave loudly.
 *	  - ereport/elog: errstart/errfinish and the errmsg family format every
 *		message (so format strings and their arguments are exercised at every
 *		level), errfinish runs the error_context_stack callbacks as elog.c
 *		does, and an ERROR siglongjmps to PG_exception_stack like the real
 *		one.  An ERROR with no PG_TRY around it aborts: that is a harness bug.
 *	  - fmgr and types: fmgr_info/InputFunctionCall call shim input functions
 *		for the types gc_fdw's catalogue uses (text, uuid, integer, bigint,
 *		boolean, float8, timestamptz, json, jsonb and arrays of them).  They
 *		validate like PostgreSQL's (uuid, integers, booleans, floats and JSON
 *		closely; timestamptz only for ISO 8601 shapes) and return Datums of
 *		the right representation, except jsonb and numeric (below).
 *	  - jsonb: pushJsonbValue keeps jsonb_util.c's stack of containers and
 *		aborts on what the real one only Assert()s (unbalanced BEGIN/END, a
 *		KEY outside an object, a VALUE without a KEY, ...); it reads every
 *		string byte and refuses NUL bytes and invalid encoding.
 *		JsonbValueToJsonb returns a varlena of canonical JSON text (keys
 *		sorted and de-duplicated as jsonb does), which jsonb_in also
 *		produces, so a jsonb built by gc_fdw can be compared with jsonb_in's.
 *		numeric_in has PostgreSQL 15's grammar and overflow errors; its
 *		Numeric is the number's text.  check_stack_depth() measures the
 *		stack from the harness's frame against a 2MB max_stack_depth.
 *	  - arrays: construct_md_array/construct_empty_array build real
 *		ArrayType varlenas (null bitmap, alignment) as arrayfuncs.c does.
 *	  - catalog: fake relations with a TupleDesc, column "key" options
 *		(GetForeignColumnOptions) and attribute names (get_attname);
 *		untransformRelOptions parses a text[] of "name=value" as reloptions.c.
 *	  - encodings: pg_verifymbstr/pg_mbcliplen/pg_any_to_server for a UTF8
 *		or SQL_ASCII database use libpgcommon's pg_wchar_table, as mbutils.c
 *		does; conversion to other encodings is not modelled.
 *	  - everything else the linked objects reference but the fuzzed paths do
 *		not reach (latches, syscache, progress, stats) aborts if called.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <sys/time.h>

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/tupdesc.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "nodes/makefuncs.h"
#include "nodes/memnodes.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "pg_shim.h"

/* ----------------------------------------------------------------
 * Memory contexts
 * ----------------------------------------------------------------
 */
#define SHIM_CHUNK_MAGIC	UINT64CONST(0x6763666466757a7a)	/* "gcfdfuzz" */
#define SHIM_FREED_MAGIC	UINT64CONST(0x6465616464656164)

typedef struct ShimContext ShimContext;

/* 48 bytes, so user memory stays 16-byte aligned; context is last */
typedef struct ShimChunk
{
	struct ShimChunk *prev;
	struct ShimChunk *next;
	Size		size;
	uint64		magic;
	uint64		pad;
	MemoryContext context;		/* GetMemoryChunkContext() reads this */
} ShimChunk;

struct ShimContext
{
	MemoryContextData header;	/* first: MemoryContext points here */
	ShimChunk	chunks;			/* list head (circular) */
	long		nchunks;
};

MemoryContext CurrentMemoryContext = NULL;
MemoryContext TopMemoryContext = NULL;
MemoryContext ErrorContext = NULL;

static void
shim_chunk_unlink(ShimChunk *chunk)
{
	ShimContext *cxt = (ShimContext *) chunk->context;

	chunk->prev->next = chunk->next;
	chunk->next->prev = chunk->prev;
	cxt->nchunks--;
	cxt->header.mem_allocated -= chunk->size;
}

static ShimChunk *
shim_chunk_of(void *pointer)
{
	ShimChunk  *chunk = (ShimChunk *) ((char *) pointer - sizeof(ShimChunk));

	if (chunk->magic != SHIM_CHUNK_MAGIC)
		shim_unreachable("pfree/repalloc of a pointer that is not a live palloc chunk");
	return chunk;
}

static void *
shim_alloc(MemoryContext context, Size size, int flags)
{
	ShimContext *cxt = (ShimContext *) context;
	ShimChunk  *chunk;

	if (context == NULL)
		shim_unreachable("palloc with no CurrentMemoryContext");
	if (((flags & MCXT_ALLOC_HUGE) != 0 && !AllocHugeSizeIsValid(size)) ||
		((flags & MCXT_ALLOC_HUGE) == 0 && !AllocSizeIsValid(size)))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	chunk = malloc(sizeof(ShimChunk) + size);
	if (chunk == NULL)
	{
		if (flags & MCXT_ALLOC_NO_OOM)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu in memory context \"%s\".",
						   size, context->name)));
	}
	chunk->size = size;
	chunk->magic = SHIM_CHUNK_MAGIC;
	chunk->pad = 0;
	chunk->context = context;
	chunk->next = cxt->chunks.next;
	chunk->prev = &cxt->chunks;
	cxt->chunks.next->prev = chunk;
	cxt->chunks.next = chunk;
	cxt->nchunks++;
	cxt->header.mem_allocated += size;
	cxt->header.isReset = false;
	memset(chunk + 1, (flags & MCXT_ALLOC_ZERO) ? 0 : 0x7f, size);
	return chunk + 1;
}

MemoryContext
shim_context_create(MemoryContext parent, const char *name)
{
	ShimContext *cxt = calloc(1, sizeof(ShimContext));

	if (cxt == NULL)
		shim_unreachable("out of memory creating a context");
	cxt->header.type = T_AllocSetContext;
	cxt->header.isReset = true;
	cxt->header.name = name;
	cxt->header.parent = parent;
	cxt->chunks.next = cxt->chunks.prev = &cxt->chunks;
	if (parent)
	{
		cxt->header.nextchild = parent->firstchild;
		if (parent->firstchild)
			parent->firstchild->prevchild = &cxt->header;
		parent->firstchild = &cxt->header;
	}
	return &cxt->header;
}

long
shim_context_chunks(MemoryContext context)
{
	return ((ShimContext *) context)->nchunks;
}

MemoryContext
AllocSetContextCreateInternal(MemoryContext parent, const char *name,
							  Size minContextSize, Size initBlockSize,
							  Size maxBlockSize)
{
	return shim_context_create(parent, name);
}

static void
shim_call_reset_callbacks(MemoryContext context)
{
	MemoryContextCallback *cb;

	/* as mcxt.c: unlink each callback before calling it */
	while ((cb = context->reset_cbs) != NULL)
	{
		context->reset_cbs = cb->next;
		cb->func(cb->arg);
	}
}

static void
shim_free_chunks(MemoryContext context)
{
	ShimContext *cxt = (ShimContext *) context;

	while (cxt->chunks.next != &cxt->chunks)
	{
		ShimChunk  *chunk = cxt->chunks.next;

		shim_chunk_unlink(chunk);
		chunk->magic = SHIM_FREED_MAGIC;
		free(chunk);
	}
	context->isReset = true;
}

void
MemoryContextDelete(MemoryContext context)
{
	while (context->firstchild)
		MemoryContextDelete(context->firstchild);
	shim_call_reset_callbacks(context);
	if (context->parent)
	{
		if (context->prevchild)
			context->prevchild->nextchild = context->nextchild;
		else
			context->parent->firstchild = context->nextchild;
		if (context->nextchild)
			context->nextchild->prevchild = context->prevchild;
	}
	shim_free_chunks(context);
	if (CurrentMemoryContext == context)
		shim_unreachable("deleting CurrentMemoryContext");
	free(context);
}

void
MemoryContextDeleteChildren(MemoryContext context)
{
	while (context->firstchild)
		MemoryContextDelete(context->firstchild);
}

void
MemoryContextReset(MemoryContext context)
{
	MemoryContextDeleteChildren(context);
	shim_call_reset_callbacks(context);
	shim_free_chunks(context);
}

void
MemoryContextResetOnly(MemoryContext context)
{
	shim_call_reset_callbacks(context);
	shim_free_chunks(context);
}

void
MemoryContextRegisterResetCallback(MemoryContext context,
								   MemoryContextCallback *cb)
{
	cb->next = context->reset_cbs;
	context->reset_cbs = cb;
	context->isReset = false;
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return shim_alloc(context, size, 0);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	return shim_alloc(context, size, MCXT_ALLOC_ZERO);
}

void *
MemoryContextAllocZeroAligned(MemoryContext context, Size size)
{
	return shim_alloc(context, size, MCXT_ALLOC_ZERO);
}

void *
MemoryContextAllocExtended(MemoryContext context, Size size, int flags)
{
	return shim_alloc(context, size, flags);
}

void *
MemoryContextAllocHuge(MemoryContext context, Size size)
{
	return shim_alloc(context, size, MCXT_ALLOC_HUGE);
}

void *
palloc(Size size)
{
	return shim_alloc(CurrentMemoryContext, size, 0);
}

void *
palloc0(Size size)
{
	return shim_alloc(CurrentMemoryContext, size, MCXT_ALLOC_ZERO);
}

void *
palloc_extended(Size size, int flags)
{
	return shim_alloc(CurrentMemoryContext, size, flags);
}

void
pfree(void *pointer)
{
	ShimChunk  *chunk = shim_chunk_of(pointer);

	shim_chunk_unlink(chunk);
	chunk->magic = SHIM_FREED_MAGIC;
	free(chunk);
}

static void *
shim_realloc(void *pointer, Size size, int flags)
{
	ShimChunk  *chunk = shim_chunk_of(pointer);
	MemoryContext context = chunk->context;
	void	   *copy;

	/* a new chunk each time, so stale pointers to the old one are caught */
	copy = shim_alloc(context, size, flags);
	if (copy == NULL)
		return NULL;
	memcpy(copy, pointer, Min(size, chunk->size));
	pfree(pointer);
	return copy;
}

void *
repalloc(void *pointer, Size size)
{
	return shim_realloc(pointer, size, 0);
}

void *
repalloc_huge(void *pointer, Size size)
{
	return shim_realloc(pointer, size, MCXT_ALLOC_HUGE);
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	Size		len = strlen(string) + 1;
	char	   *copy = shim_alloc(context, len, 0);

	memcpy(copy, string, len);
	return copy;
}

char *
pstrdup(const char *in)
{
	return MemoryContextStrdup(CurrentMemoryContext, in);
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

/* psprintf.c */
size_t
pvsnprintf(char *buf, size_t len, const char *fmt, va_list args)
{
	int			nprinted;

	nprinted = vsnprintf(buf, len, fmt, args);
	if (unlikely(nprinted < 0))
		elog(ERROR, "vsnprintf failed: %m with format string \"%s\"", fmt);
	if ((size_t) nprinted < len)
		return (size_t) nprinted;
	if (unlikely((size_t) nprinted > MaxAllocSize - 1))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("out of memory")));
	return nprinted + 1;
}

char *
psprintf(const char *fmt,...)
{
	int			save_errno = errno;
	size_t		len = 128;

	for (;;)
	{
		char	   *result;
		va_list		args;
		size_t		newlen;

		result = (char *) palloc(len);
		errno = save_errno;
		va_start(args, fmt);
		newlen = pvsnprintf(result, len, fmt, args);
		va_end(args);
		if (newlen < len)
			return result;
		pfree(result);
		len = newlen;
	}
}

/* ----------------------------------------------------------------
 * StringInfo (lib/stringinfo.c)
 * ----------------------------------------------------------------
 */
void
initStringInfo(StringInfo str)
{
	int			size = 1024;

	str->data = (char *) palloc(size);
	str->maxlen = size;
	resetStringInfo(str);
}

StringInfo
makeStringInfo(void)
{
	StringInfo	res = (StringInfo) palloc(sizeof(StringInfoData));

	initStringInfo(res);
	return res;
}

void
resetStringInfo(StringInfo str)
{
	str->data[0] = '\0';
	str->len = 0;
	str->cursor = 0;
}

void
enlargeStringInfo(StringInfo str, int needed)
{
	int			newlen;

	if (needed < 0)
		elog(ERROR, "invalid string enlargement request size: %d", needed);
	if (((Size) needed) >= (MaxAllocSize - (Size) str->len))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("out of memory"),
				 errdetail("Cannot enlarge string buffer containing %d bytes by %d more bytes.",
						   str->len, needed)));
	needed += str->len + 1;
	if (needed <= str->maxlen)
		return;
	newlen = 2 * str->maxlen;
	while (needed > newlen)
		newlen = 2 * newlen;
	if (newlen > (int) MaxAllocSize)
		newlen = (int) MaxAllocSize;
	str->data = (char *) repalloc(str->data, newlen);
	str->maxlen = newlen;
}

int
appendStringInfoVA(StringInfo str, const char *fmt, va_list args)
{
	int			avail;
	size_t		nprinted;

	avail = str->maxlen - str->len;
	if (avail < 16)
		return 32;
	nprinted = pvsnprintf(str->data + str->len, (size_t) avail, fmt, args);
	if (nprinted < (size_t) avail)
	{
		str->len += (int) nprinted;
		return 0;
	}
	str->data[str->len] = '\0';
	return (int) nprinted;
}

void
appendStringInfo(StringInfo str, const char *fmt,...)
{
	int			save_errno = errno;

	for (;;)
	{
		va_list		args;
		int			needed;

		errno = save_errno;
		va_start(args, fmt);
		needed = appendStringInfoVA(str, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(str, needed);
	}
}

void
appendBinaryStringInfo(StringInfo str, const char *data, int datalen)
{
	enlargeStringInfo(str, datalen);
	memcpy(str->data + str->len, data, datalen);
	str->len += datalen;
	str->data[str->len] = '\0';
}

void
appendStringInfoString(StringInfo str, const char *s)
{
	appendBinaryStringInfo(str, s, strlen(s));
}

void
appendStringInfoChar(StringInfo str, char ch)
{
	if (str->len + 1 >= str->maxlen)
		enlargeStringInfo(str, 1);
	str->data[str->len] = ch;
	str->len++;
	str->data[str->len] = '\0';
}

void
appendStringInfoSpaces(StringInfo str, int count)
{
	if (count > 0)
	{
		enlargeStringInfo(str, count);
		while (--count >= 0)
			str->data[str->len++] = ' ';
		str->data[str->len] = '\0';
	}
}

/* ----------------------------------------------------------------
 * ereport/elog (utils/error/elog.c)
 * ----------------------------------------------------------------
 */
sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;
long		shim_errors_raised = 0;

/* the error being built, and the last ERROR raised */
static ShimError building;
static ShimError last_error;
static int	error_depth = 0;
static int	building_saved_errno;

static void
shim_error_clear(ShimError *e)
{
	free(e->message);
	free(e->detail);
	free(e->hint);
	free(e->context);
	memset(e, 0, sizeof(*e));
}

/* vsnprintf into a malloc'd string: errors must not depend on palloc */
static char *
shim_vformat(const char *fmt, va_list args)
{
	va_list		copy;
	int			n;
	char	   *buf;

	errno = building_saved_errno;
	va_copy(copy, args);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		shim_unreachable("vsnprintf failed in an error message");
	buf = malloc((size_t) n + 1);
	if (buf == NULL)
		shim_unreachable("out of memory formatting an error message");
	errno = building_saved_errno;
	vsnprintf(buf, (size_t) n + 1, fmt, args);
	return buf;
}

static void
shim_append_line(char **field, char *line)
{
	if (*field == NULL)
		*field = line;
	else
	{
		size_t		a = strlen(*field);
		size_t		b = strlen(line);
		char	   *joined = malloc(a + b + 2);

		if (joined == NULL)
			shim_unreachable("out of memory joining error context lines");
		memcpy(joined, *field, a);
		joined[a] = '\n';
		memcpy(joined + a + 1, line, b + 1);
		free(*field);
		free(line);
		*field = joined;
	}
}

bool
message_level_is_interesting(int elevel)
{
	return true;
}

bool
errstart(int elevel, const char *domain)
{
	/* format messages at every level: their arguments are code too */
	if (error_depth > 0)
		shim_unreachable("ereport inside an error context callback or message");
	error_depth++;
	building_saved_errno = errno;
	shim_error_clear(&building);
	building.elevel = elevel;
	building.sqlerrcode = (elevel >= ERROR) ? ERRCODE_INTERNAL_ERROR : 0;
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	ErrorContextCallback *econtext;

	building.filename = filename;
	building.lineno = lineno;

	/* the context callbacks run inside the error, as in elog.c */
	for (econtext = error_context_stack; econtext != NULL;
		 econtext = econtext->previous)
		econtext->callback(econtext->arg);

	error_depth--;
	if (building.elevel < ERROR)
	{
		shim_error_clear(&building);
		errno = building_saved_errno;
		return;
	}
	if (building.elevel >= FATAL)
		shim_unreachable("FATAL or PANIC raised");

	shim_errors_raised++;
	shim_error_clear(&last_error);
	last_error = building;
	memset(&building, 0, sizeof(building));
	if (PG_exception_stack == NULL)
	{
		fprintf(stderr, "shim: uncaught ERROR at %s:%d: %s\n", filename, lineno,
				last_error.message ? last_error.message : "(no message)");
		abort();
	}
	siglongjmp(*PG_exception_stack, 1);
}

void
pg_re_throw(void)
{
	if (PG_exception_stack == NULL)
	{
		fprintf(stderr, "shim: uncaught re-thrown ERROR: %s\n",
				last_error.message ? last_error.message : "(no message)");
		abort();
	}
	siglongjmp(*PG_exception_stack, 1);
}

const ShimError *
shim_last_error(void)
{
	return &last_error;
}

void
FlushErrorState(void)
{
	shim_error_clear(&last_error);
}

int
errcode(int sqlerrcode)
{
	building.sqlerrcode = sqlerrcode;
	return 0;
}

#define SHIM_FORMAT_INTO(field) \
	do { \
		va_list		args; \
		char	   *text; \
		va_start(args, fmt); \
		text = shim_vformat(fmt, args); \
		va_end(args); \
		free(building.field); \
		building.field = text; \
	} while (0)

int
errmsg(const char *fmt,...)
{
	SHIM_FORMAT_INTO(message);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	SHIM_FORMAT_INTO(message);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	SHIM_FORMAT_INTO(detail);
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	SHIM_FORMAT_INTO(detail);
	return 0;
}

int
errhint(const char *fmt,...)
{
	SHIM_FORMAT_INTO(hint);
	return 0;
}

int
set_errcontext_domain(const char *domain)
{
	return 0;
}

int
errcontext_msg(const char *fmt,...)
{
	va_list		args;
	char	   *text;

	va_start(args, fmt);
	text = shim_vformat(fmt, args);
	va_end(args);
	shim_append_line(&building.context, text);
	return 0;
}

int
errhidestmt(bool hide_stmt)
{
	return 0;
}

int
errhidecontext(bool hide_ctx)
{
	return 0;
}

/* ----------------------------------------------------------------
 * Encodings (utils/mb/mbutils.c over common/wchar.c's pg_wchar_table)
 * ----------------------------------------------------------------
 */
static int	database_encoding = PG_UTF8;

void
shim_set_database_encoding(int encoding)
{
	database_encoding = encoding;
}

int
GetDatabaseEncoding(void)
{
	return database_encoding;
}

const char *
GetDatabaseEncodingName(void)
{
	return pg_enc2name_tbl[database_encoding].name;
}

static void
shim_report_invalid_encoding(int encoding, const char *mbstr, int len)
{
	int			l = pg_encoding_mblen(encoding, mbstr);
	char		buf[8 * 5 + 1];
	char	   *p = buf;
	int			j,
				jlimit;

	jlimit = Min(l, len);
	jlimit = Min(jlimit, 8);
	for (j = 0; j < jlimit; j++)
	{
		p += sprintf(p, "0x%02x", (unsigned char) mbstr[j]);
		if (j < jlimit - 1)
			p += sprintf(p, " ");
	}
	ereport(ERROR,
			(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
			 errmsg("invalid byte sequence for encoding \"%s\": %s",
					pg_enc2name_tbl[encoding].name, buf)));
}

bool
pg_verify_mbstr(int encoding, const char *mbstr, int len, bool noError)
{
	int			oklen;

	oklen = pg_wchar_table[encoding].mbverifystr((const unsigned char *) mbstr, len);
	if (oklen != len)
	{
		if (noError)
			return false;
		shim_report_invalid_encoding(encoding, mbstr + oklen, len - oklen);
	}
	return true;
}

bool
pg_verifymbstr(const char *mbstr, int len, bool noError)
{
	return pg_verify_mbstr(database_encoding, mbstr, len, noError);
}

int
pg_encoding_mbcliplen(int encoding, const char *mbstr, int len, int limit)
{
	mblen_converter mblen_fn;
	int			clen = 0;
	int			l;

	if (pg_encoding_max_length(encoding) == 1)
	{
		/* cliplen() of mbutils.c */
		int			l1 = 0;

		len = Min(len, limit);
		while (l1 < len && mbstr[l1])
			l1++;
		return l1;
	}
	mblen_fn = pg_wchar_table[encoding].mblen;
	while (len > 0 && *mbstr)
	{
		l = (*mblen_fn) ((const unsigned char *) mbstr);
		if ((clen + l) > limit)
			break;
		clen += l;
		if (clen == limit)
			break;
		len -= l;
		mbstr += l;
	}
	return clen;
}

int
pg_mbcliplen(const char *mbstr, int len, int limit)
{
	return pg_encoding_mbcliplen(database_encoding, mbstr, len, limit);
}

char *
pg_any_to_server(const char *s, int len, int encoding)
{
	if (len <= 0)
		return unconstify(char *, s);
	if (encoding == database_encoding || encoding == PG_SQL_ASCII)
	{
		(void) pg_verify_mbstr(database_encoding, s, len, false);
		return unconstify(char *, s);
	}
	if (database_encoding == PG_SQL_ASCII)
	{
		/* mbutils.c: only ASCII passes into a SQL_ASCII database unchecked */
		int			i;

		for (i = 0; i < len; i++)
			if (s[i] == '\0' || IS_HIGHBIT_SET(s[i]))
				ereport(ERROR,
						(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
						 errmsg("invalid byte value for encoding \"%s\": 0x%02x",
								pg_enc2name_tbl[PG_SQL_ASCII].name,
								(unsigned char) s[i])));
		return unconstify(char *, s);
	}
	shim_unreachable("encoding conversion is not modelled");
}

/* ----------------------------------------------------------------
 * Bitmapsets and lists (nodes/bitmapset.c, nodes/list.c, makefuncs.c)
 * ----------------------------------------------------------------
 */
#define WORDNUM(x)	((x) / BITS_PER_BITMAPWORD)
#define BITNUM(x)	((x) % BITS_PER_BITMAPWORD)

bool
bms_is_member(int x, const Bitmapset *a)
{
	if (x < 0)
		elog(ERROR, "negative bitmapset member not allowed");
	if (a == NULL)
		return false;
	if (WORDNUM(x) >= a->nwords)
		return false;
	return (a->words[WORDNUM(x)] & ((bitmapword) 1 << BITNUM(x))) != 0;
}

Bitmapset *
bms_add_member(Bitmapset *a, int x)
{
	int			wordnum = WORDNUM(x);

	if (x < 0)
		elog(ERROR, "negative bitmapset member not allowed");
	if (a == NULL || wordnum >= a->nwords)
	{
		int			nwords = wordnum + 1;
		Bitmapset  *b = palloc0(offsetof(Bitmapset, words) + nwords * sizeof(bitmapword));

		b->nwords = nwords;
		if (a)
		{
			memcpy(b->words, a->words, a->nwords * sizeof(bitmapword));
			pfree(a);
		}
		a = b;
	}
	a->words[wordnum] |= ((bitmapword) 1 << BITNUM(x));
	return a;
}

List *
lappend(List *list, void *datum)
{
	if (list == NIL)
	{
		list = palloc(offsetof(List, initial_elements) + 4 * sizeof(ListCell));
		list->type = T_List;
		list->length = 0;
		list->max_length = 4;
		list->elements = list->initial_elements;
	}
	else if (list->length == list->max_length)
	{
		int			newmax = list->max_length * 2;
		ListCell   *cells = palloc(newmax * sizeof(ListCell));

		memcpy(cells, list->elements, list->length * sizeof(ListCell));
		if (list->elements != list->initial_elements)
			pfree(list->elements);
		list->elements = cells;
		list->max_length = newmax;
	}
	list->elements[list->length++].ptr_value = datum;
	return list;
}

String *
makeString(char *str)
{
	String	   *v = palloc0(sizeof(String));

	v->type = T_String;
	v->sval = str;
	return v;
}

DefElem *
makeDefElem(char *name, Node *arg, int location)
{
	DefElem    *res = palloc0(sizeof(DefElem));

	res->type = T_DefElem;
	res->defnamespace = NULL;
	res->defname = name;
	res->arg = arg;
	res->defaction = DEFELEM_UNSPEC;
	res->location = location;
	return res;
}

/* commands/define.c, for the String arguments reloptions produce */
char *
defGetString(DefElem *def)
{
	if (def->arg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("%s requires a parameter", def->defname)));
	if (!IsA(def->arg, String))
		shim_unreachable("defGetString of a non-String node");
	return strVal(def->arg);
}

/* utils/adt/bool.c */
static bool
shim_parse_bool_with_len(const char *value, size_t len, bool *result)
{
	switch (*value)
	{
		case 't':
		case 'T':
			if (pg_strncasecmp(value, "true", len) == 0)
			{
				*result = true;
				return true;
			}
			break;
		case 'f':
		case 'F':
			if (pg_strncasecmp(value, "false", len) == 0)
			{
				*result = false;
				return true;
			}
			break;
		case 'y':
		case 'Y':
			if (pg_strncasecmp(value, "yes", len) == 0)
			{
				*result = true;
				return true;
			}
			break;
		case 'n':
		case 'N':
			if (pg_strncasecmp(value, "no", len) == 0)
			{
				*result = false;
				return true;
			}
			break;
		case 'o':
		case 'O':
			if (pg_strncasecmp(value, "on", (len > 2 ? len : 2)) == 0)
			{
				*result = true;
				return true;
			}
			else if (pg_strncasecmp(value, "off", (len > 2 ? len : 2)) == 0)
			{
				*result = false;
				return true;
			}
			break;
		case '1':
			if (len == 1)
			{
				*result = true;
				return true;
			}
			break;
		case '0':
			if (len == 1)
			{
				*result = false;
				return true;
			}
			break;
		default:
			break;
	}
	*result = false;
	return false;
}

bool
parse_bool(const char *value, bool *result)
{
	return shim_parse_bool_with_len(value, strlen(value), result);
}

/* ----------------------------------------------------------------
 * Types and input functions
 * ----------------------------------------------------------------
 */
typedef struct ShimType
{
	const char *name;
	Oid			oid;
	Oid			elem;			/* element type of an array, else 0 */
	int16		typlen;
	bool		byval;
	char		align;
	Oid			input;			/* input function */
} ShimType;

static const ShimType shim_types[] = {
	{"text", TEXTOID, 0, -1, false, TYPALIGN_INT, F_TEXTIN},
	{"uuid", UUIDOID, 0, UUID_LEN, false, TYPALIGN_CHAR, F_UUID_IN},
	{"integer", INT4OID, 0, 4, true, TYPALIGN_INT, F_INT4IN},
	{"bigint", INT8OID, 0, 8, true, TYPALIGN_DOUBLE, F_INT8IN},
	{"boolean", BOOLOID, 0, 1, true, TYPALIGN_CHAR, F_BOOLIN},
	{"float8", FLOAT8OID, 0, 8, true, TYPALIGN_DOUBLE, F_FLOAT8IN},
	{"timestamptz", TIMESTAMPTZOID, 0, 8, true, TYPALIGN_DOUBLE, F_TIMESTAMPTZ_IN},
	{"json", JSONOID, 0, -1, false, TYPALIGN_INT, F_JSON_IN},
	{"jsonb", JSONBOID, 0, -1, false, TYPALIGN_INT, F_JSONB_IN},
	{"text[]", TEXTARRAYOID, TEXTOID, -1, false, TYPALIGN_INT, F_ARRAY_IN},
	{"uuid[]", UUIDARRAYOID, UUIDOID, -1, false, TYPALIGN_INT, F_ARRAY_IN},
	{"integer[]", INT4ARRAYOID, INT4OID, -1, false, TYPALIGN_INT, F_ARRAY_IN},
	{"bigint[]", INT8ARRAYOID, INT8OID, -1, false, TYPALIGN_DOUBLE, F_ARRAY_IN},
	{"boolean[]", BOOLARRAYOID, BOOLOID, -1, false, TYPALIGN_INT, F_ARRAY_IN},
	{"float8[]", FLOAT8ARRAYOID, FLOAT8OID, -1, false, TYPALIGN_DOUBLE, F_ARRAY_IN},
	{"timestamptz[]", TIMESTAMPTZARRAYOID, TIMESTAMPTZOID, -1, false, TYPALIGN_DOUBLE, F_ARRAY_IN},
	{"json[]", JSONARRAYOID, JSONOID, -1, false, TYPALIGN_INT, F_ARRAY_IN},
	{"jsonb[]", JSONBARRAYOID, JSONBOID, -1, false, TYPALIGN_INT, F_ARRAY_IN},
	{NULL}
};

static const ShimType *
shim_type(Oid typid)
{
	const ShimType *t;

	for (t = shim_types; t->name; t++)
		if (t->oid == typid)
			return t;
	elog(ERROR, "cache lookup failed for type %u", typid);
	pg_unreachable();
}

Oid
shim_type_oid(const char *type_name)
{
	const ShimType *t;

	for (t = shim_types; t->name; t++)
		if (strcmp(t->name, type_name) == 0)
			return t->oid;
	shim_unreachable(type_name);
}

Oid
get_element_type(Oid typid)
{
	return shim_type(typid)->elem;
}

void
get_typlenbyvalalign(Oid typid, int16 *typlen, bool *typbyval, char *typalign)
{
	const ShimType *t = shim_type(typid);

	*typlen = t->typlen;
	*typbyval = t->byval;
	*typalign = t->align;
}

void
getTypeInputInfo(Oid type, Oid *typInput, Oid *typIOParam)
{
	const ShimType *t = shim_type(type);

	*typInput = t->input;
	*typIOParam = t->elem ? t->elem : t->oid;
}

static text *
shim_cstring_to_text(const char *s)
{
	int			len = strlen(s);
	text	   *result = (text *) palloc(len + VARHDRSZ);

	SET_VARSIZE(result, len + VARHDRSZ);
	memcpy(VARDATA(result), s, len);
	return result;
}

static Datum
shim_textin(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(shim_cstring_to_text(PG_GETARG_CSTRING(0)));
}

/* utils/adt/uuid.c: string_to_uuid */
static Datum
shim_uuid_in(PG_FUNCTION_ARGS)
{
	char	   *source = PG_GETARG_CSTRING(0);
	pg_uuid_t  *uuid = (pg_uuid_t *) palloc(sizeof(pg_uuid_t));
	const char *src = source;
	bool		braces = false;
	int			i;

	if (src[0] == '{')
	{
		src++;
		braces = true;
	}
	for (i = 0; i < UUID_LEN; i++)
	{
		char		str_buf[3];

		if (src[0] == '\0' || src[1] == '\0')
			goto syntax_error;
		memcpy(str_buf, src, 2);
		if (!isxdigit((unsigned char) str_buf[0]) ||
			!isxdigit((unsigned char) str_buf[1]))
			goto syntax_error;
		str_buf[2] = '\0';
		uuid->data[i] = (unsigned char) strtoul(str_buf, NULL, 16);
		src += 2;
		if (src[0] == '-' && (i % 2) == 1 && i < UUID_LEN - 1)
			src++;
	}
	if (braces)
	{
		if (*src != '}')
			goto syntax_error;
		src++;
	}
	if (*src != '\0')
		goto syntax_error;
	PG_RETURN_UUID_P(uuid);

syntax_error:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", "uuid", source)));
}

/* utils/adt/numutils.c: pg_strtoint32/pg_strtoint64 */
static int64
shim_strtoint(const char *s, int64 min, const char *type_name)
{
	const char *ptr = s;
	int64		tmp = 0;
	bool		neg = false;

	while (*ptr && isspace((unsigned char) *ptr))
		ptr++;
	if (*ptr == '-')
	{
		ptr++;
		neg = true;
	}
	else if (*ptr == '+')
		ptr++;
	if (!isdigit((unsigned char) *ptr))
		goto invalid_syntax;
	while (*ptr && isdigit((unsigned char) *ptr))
	{
		int8		digit = (*ptr++ - '0');

		if (pg_mul_s64_overflow(tmp, 10, &tmp) ||
			pg_sub_s64_overflow(tmp, digit, &tmp) || tmp < min)
			goto out_of_range;
	}
	while (*ptr != '\0' && isspace((unsigned char) *ptr))
		ptr++;
	if (*ptr != '\0')
		goto invalid_syntax;
	if (!neg)
	{
		if (tmp == min)
			goto out_of_range;
		tmp = -tmp;
	}
	return tmp;

out_of_range:
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value \"%s\" is out of range for type %s", s, type_name)));
invalid_syntax:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", type_name, s)));
}

static Datum
shim_int4in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) shim_strtoint(PG_GETARG_CSTRING(0), PG_INT32_MIN, "integer"));
}

static Datum
shim_int8in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(shim_strtoint(PG_GETARG_CSTRING(0), PG_INT64_MIN, "bigint"));
}

static Datum
shim_boolin(PG_FUNCTION_ARGS)
{
	const char *in_str = PG_GETARG_CSTRING(0);
	const char *str = in_str;
	size_t		len;
	bool		result;

	while (isspace((unsigned char) *str))
		str++;
	len = strlen(str);
	while (len > 0 && isspace((unsigned char) str[len - 1]))
		len--;
	if (shim_parse_bool_with_len(str, len, &result))
		PG_RETURN_BOOL(result);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", "boolean", in_str)));
}

/* utils/adt/float.c: float8in_internal, without the locale subtleties */
static Datum
shim_float8in(PG_FUNCTION_ARGS)
{
	char	   *orig = PG_GETARG_CSTRING(0);
	char	   *num = orig;
	char	   *endptr;
	double		val;

	while (*num != '\0' && isspace((unsigned char) *num))
		num++;
	if (*num == '\0')
		goto invalid_syntax;
	errno = 0;
	val = strtod(num, &endptr);
	if (endptr == num || errno != 0)
	{
		int			save_errno = errno;

		if (pg_strncasecmp(num, "NaN", 3) == 0)
		{
			val = get_float8_nan();
			endptr = num + 3;
		}
		else if (pg_strncasecmp(num, "Infinity", 8) == 0)
		{
			val = get_float8_infinity();
			endptr = num + 8;
		}
		else if (pg_strncasecmp(num, "-Infinity", 9) == 0)
		{
			val = -get_float8_infinity();
			endptr = num + 9;
		}
		else if (save_errno == ERANGE)
		{
			if (val == 0.0 || val >= HUGE_VAL || val <= -HUGE_VAL)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("\"%s\" is out of range for type double precision",
								num)));
		}
		else
			goto invalid_syntax;
	}
	while (*endptr != '\0' && isspace((unsigned char) *endptr))
		endptr++;
	if (*endptr != '\0')
		goto invalid_syntax;
	PG_RETURN_FLOAT8(val);

invalid_syntax:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"",
					"double precision", orig)));
}

/* Read exactly n digits; false when they are not there */
static bool
shim_digits(const char **p, int n, int *out)
{
	int			v = 0;

	while (n-- > 0)
	{
		if (!isdigit((unsigned char) **p))
			return false;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return true;
}

/*
 * timestamptz input, ISO 8601 shapes only (what Genesys sends):
 * YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][Z|(+|-)HH[[:]MM]], or infinity.
 * PostgreSQL's DateTime parser accepts far more; the shim rejects the rest.
 */
static Datum
shim_timestamptz_in(PG_FUNCTION_ARGS)
{
	const char *str = PG_GETARG_CSTRING(0);
	const char *p = str;
	int			year,
				mon,
				mday,
				hour = 0,
				min = 0,
				sec = 0,
				tz = 0;
	int64		fsec = 0;
	int64		days;
	TimestampTz result;

	if (strlen(str) > MAXDATELEN)
		goto invalid;
	while (isspace((unsigned char) *p))
		p++;
	if (pg_strcasecmp(p, "infinity") == 0)
		PG_RETURN_TIMESTAMPTZ(DT_NOEND);
	if (pg_strcasecmp(p, "-infinity") == 0)
		PG_RETURN_TIMESTAMPTZ(DT_NOBEGIN);
	if (!shim_digits(&p, 4, &year) || *p++ != '-' ||
		!shim_digits(&p, 2, &mon) || *p++ != '-' ||
		!shim_digits(&p, 2, &mday))
		goto invalid;
	if (*p == 'T' || *p == ' ')
	{
		p++;
		if (!shim_digits(&p, 2, &hour) || *p++ != ':' ||
			!shim_digits(&p, 2, &min))
			goto invalid;
		if (*p == ':')
		{
			p++;
			if (!shim_digits(&p, 2, &sec))
				goto invalid;
			if (*p == '.')
			{
				int64		scale = 100000;

				p++;
				if (!isdigit((unsigned char) *p))
					goto invalid;
				while (isdigit((unsigned char) *p))
				{
					fsec += (*p++ - '0') * scale;
					scale /= 10;
				}
			}
		}
		if (*p == 'Z' || *p == 'z')
			p++;
		else if (*p == '+' || *p == '-')
		{
			int			sign = (*p++ == '-') ? -1 : 1;
			int			tzh,
						tzm = 0;

			if (!shim_digits(&p, 2, &tzh))
				goto invalid;
			if (*p == ':')
				p++;
			if (isdigit((unsigned char) *p) && !shim_digits(&p, 2, &tzm))
				goto invalid;
			if (tzh > 15 || tzm > 59)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TIME_ZONE_DISPLACEMENT_VALUE),
						 errmsg("time zone displacement out of range: \"%s\"", str)));
			tz = sign * (tzh * 3600 + tzm * 60);
		}
	}
	while (isspace((unsigned char) *p))
		p++;
	if (*p != '\0')
		goto invalid;
	if (mon < 1 || mon > 12 || mday < 1 || mday > 31 || hour > 24 ||
		min > 59 || sec > 60 || (hour == 24 && (min > 0 || sec > 0 || fsec > 0)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_FIELD_OVERFLOW),
				 errmsg("date/time field value out of range: \"%s\"", str)));
	days = date2j(year, mon, mday) - POSTGRES_EPOCH_JDATE;
	result = ((days * 24 + hour) * 60 + min) * 60 + sec - tz;
	result = result * USECS_PER_SEC + fsec;
	PG_RETURN_TIMESTAMPTZ(result);

invalid:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
			 errmsg("invalid input syntax for type %s: \"%s\"",
					"timestamp with time zone", str)));
}

/* utils/adt/datetime.c */
int
date2j(int y, int m, int d)
{
	int			julian;
	int			century;

	if (m > 2)
	{
		m += 1;
		y += 4800;
	}
	else
	{
		m += 13;
		y += 4799;
	}
	century = y / 100;
	julian = y * 365 - 32167;
	julian += y / 4 - century + century / 4;
	julian += 7834 * m / 256 + d;
	return julian;
}

/* ----------------------------------------------------------------
 * numeric input (utils/adt/numeric.c)
 * ----------------------------------------------------------------
 *
 * numeric_in's grammar and range checks as in PostgreSQL 15 (leading and
 * trailing spaces, a sign, digits with at most one '.', an exponent read by
 * strtol, NaN and the infinities; "value overflows numeric format" past a
 * display scale of 16383 or a base-10000 weight of 32767).  The Numeric it
 * returns is a varlena holding the number's text, not numeric.c's format.
 */
#define SHIM_NUMERIC_DSCALE_MAX 0x3FFF
#define SHIM_NUMERIC_WEIGHT_MAX PG_INT16_MAX
#define SHIM_NUMERIC_WEIGHT_MIN (-SHIM_NUMERIC_WEIGHT_MAX - 1)

static void pg_attribute_noreturn()
shim_numeric_syntax_error(const char *str)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", "numeric", str)));
}

static void pg_attribute_noreturn()
shim_numeric_overflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value overflows numeric format")));
}

Datum
numeric_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	const char *cp = str;
	const char *start;
	const char *end;
	text	   *result;

	if (typmod != -1)
		shim_unreachable("numeric_in with a typmod");
	while (*cp != '\0' && isspace((unsigned char) *cp))
		cp++;
	start = cp;
	if (pg_strncasecmp(cp, "NaN", 3) == 0)
		cp += 3;
	else if (pg_strncasecmp(cp, "Infinity", 8) == 0)
		cp += 8;
	else if (pg_strncasecmp(cp, "+Infinity", 9) == 0)
		cp += 9;
	else if (pg_strncasecmp(cp, "-Infinity", 9) == 0)
		cp += 9;
	else if (pg_strncasecmp(cp, "inf", 3) == 0)
		cp += 3;
	else if (pg_strncasecmp(cp, "+inf", 4) == 0)
		cp += 4;
	else if (pg_strncasecmp(cp, "-inf", 4) == 0)
		cp += 4;
	else
	{
		/* set_var_from_str() */
		bool		have_dp = false;
		int			nint = 0;	/* digits before the point */
		int			dscale = 0; /* digits after it */
		int			first_nz = -1;	/* index of the first non-zero digit */
		int			ndigits = 0;
		int			e10 = 0;	/* decimal weight of the first non-zero digit */

		if (*cp == '+' || *cp == '-')
			cp++;
		if (*cp == '.')
		{
			have_dp = true;
			cp++;
		}
		if (!isdigit((unsigned char) *cp))
			shim_numeric_syntax_error(str);
		while (*cp)
		{
			if (isdigit((unsigned char) *cp))
			{
				if (*cp != '0' && first_nz < 0)
					first_nz = ndigits;
				ndigits++;
				if (have_dp)
					dscale++;
				else
					nint++;
				cp++;
			}
			else if (*cp == '.')
			{
				if (have_dp)
					shim_numeric_syntax_error(str);
				have_dp = true;
				cp++;
			}
			else
				break;
		}
		if (first_nz >= 0)
			e10 = nint - 1 - first_nz;
		if (*cp == 'e' || *cp == 'E')
		{
			long		exponent;
			char	   *endptr;

			cp++;
			exponent = strtol(cp, &endptr, 10);
			if (endptr == cp)
				shim_numeric_syntax_error(str);
			cp = endptr;
			if (exponent >= INT_MAX / 2 || exponent <= -(INT_MAX / 2))
				shim_numeric_overflow();
			e10 += (int) exponent;
			dscale -= (int) exponent;
			if (dscale < 0)
				dscale = 0;
		}
		end = cp;
		while (*cp)
		{
			if (!isspace((unsigned char) *cp))
				shim_numeric_syntax_error(str);
			cp++;
		}
		/* make_result(): the weight (base 10000) and dscale must fit */
		if (dscale > SHIM_NUMERIC_DSCALE_MAX)
			shim_numeric_overflow();
		if (first_nz >= 0)
		{
			int			weight = (e10 >= 0) ? e10 / 4 : -((-e10 - 1) / 4 + 1);

			if (weight > SHIM_NUMERIC_WEIGHT_MAX || weight < SHIM_NUMERIC_WEIGHT_MIN)
				shim_numeric_overflow();
		}
		goto done;
	}
	end = cp;
	while (*cp)
	{
		if (!isspace((unsigned char) *cp))
			shim_numeric_syntax_error(str);
		cp++;
	}
done:
	result = (text *) palloc(VARHDRSZ + (end - start));
	SET_VARSIZE(result, VARHDRSZ + (end - start));
	memcpy(VARDATA(result), start, end - start);
	PG_RETURN_POINTER(result);
}

/* the shim's Numeric: its text, read byte by byte */
static void
shim_numeric_check(Numeric num, StringInfo out)
{
	const struct varlena *v = (const struct varlena *) num;
	const char *p;
	int			len;
	int			i;

	if (v == NULL)
		shim_unreachable("jsonb numeric with a NULL Numeric");
	if (!VARATT_IS_4B_U(v))
		shim_unreachable("jsonb numeric that is not a plain varlena");
	p = VARDATA(v);
	len = VARSIZE(v) - VARHDRSZ;
	if (len <= 0)
		shim_unreachable("jsonb numeric with no digits");
	for (i = 0; i < len; i++)
		if (p[i] == '\0' || isspace((unsigned char) p[i]))
			shim_unreachable("jsonb numeric that numeric_in did not make");
	if (out == NULL)
		return;
	/* convertJsonbScalar(): a NaN is stored as the string "NaN" */
	if (len == 3 && pg_strncasecmp(p, "NaN", 3) == 0)
		appendStringInfoString(out, "\"NaN\"");
	else
		appendBinaryStringInfo(out, p, len);
}

/* ----------------------------------------------------------------
 * Building jsonb (utils/adt/jsonb_util.c)
 * ----------------------------------------------------------------
 *
 * pushJsonbValue() keeps jsonb_util.c's stack of JsonbParseStates and its
 * containers, but what the real one only Assert()s (and, in a production
 * build, then writes out of bounds) aborts here: an END that does not match
 * the open container, a KEY outside an object or after a KEY, a VALUE with
 * no KEY before it, an ELEM outside an array, a container opened in an
 * object without a KEY, a non-scalar VALUE/ELEM.  Strings are read byte by
 * byte for their length when pushed and again when converted (so ASan sees
 * short or dangling ones), and must hold no NUL byte and be valid in the
 * database encoding, as everything jsonb_in produces is.  Objects are
 * sorted and de-duplicated at END_OBJECT as jsonb does ("last observed
 * wins").  JsonbValueToJsonb() returns a palloc'd varlena with the value's
 * canonical JSON text instead of jsonb's binary format: the same jsonb
 * gives the same bytes whether pushed by gc_fdw or parsed by jsonb_in.
 */
#define SHIM_JSONB_MAGIC	UINT64CONST(0x6a736f6e62737461)	/* "jsonbsta" */
#define SHIM_JSONB_MAX_ELEMS (Min(MaxAllocSize / sizeof(JsonbValue), JB_CMASK))
#define SHIM_JSONB_MAX_PAIRS (Min(MaxAllocSize / sizeof(JsonbPair), JB_CMASK))

typedef struct ShimJsonbLevel
{
	JsonbParseState pub;		/* first: callers hold pointers to this */
	uint64		magic;
	bool		key_pending;	/* object: a KEY waits for its value */
} ShimJsonbLevel;

static void
shim_jsonb_check_string(const char *s, int len, const char *what)
{
	volatile unsigned char sum = 0;
	int			i;

	if (len < 0)
		shim_unreachable(psprintf("jsonb %s with a negative length", what));
	if (s == NULL && len > 0)
		shim_unreachable(psprintf("jsonb %s with a NULL pointer", what));
	for (i = 0; i < len; i++)
	{
		sum ^= (unsigned char) s[i];
		if (s[i] == '\0')
			shim_unreachable(psprintf("jsonb %s with a NUL byte (jsonb_in refuses \\u0000)", what));
	}
	(void) sum;
	if (len > 0 && !pg_verify_mbstr(database_encoding, s, len, true))
		shim_unreachable(psprintf("jsonb %s not valid in the database encoding", what));
}

static void
shim_jsonb_check_scalar(const JsonbValue *v, const char *what)
{
	switch (v->type)
	{
		case jbvNull:
			break;
		case jbvBool:
			{
				volatile bool b = v->val.boolean;

				(void) b;
			}
			break;
		case jbvString:
			shim_jsonb_check_string(v->val.string.val, v->val.string.len, what);
			break;
		case jbvNumeric:
			shim_numeric_check(v->val.numeric, NULL);
			break;
		case jbvBinary:
		case jbvDatetime:
			shim_unreachable("pushJsonbValue of a jbvBinary or jbvDatetime: not modelled");
		default:
			shim_unreachable(psprintf("jsonb %s that is not a scalar (type %d)", what,
									  (int) v->type));
	}
}

static ShimJsonbLevel *
shim_jsonb_top(JsonbParseState **pstate)
{
	ShimJsonbLevel *top;

	if (pstate == NULL)
		shim_unreachable("pushJsonbValue with a NULL JsonbParseState **");
	top = (ShimJsonbLevel *) *pstate;
	if (top != NULL && top->magic != SHIM_JSONB_MAGIC)
		shim_unreachable("pushJsonbValue on something that is not a JsonbParseState");
	return top;
}

/* appendKey()/appendValue()/appendElement() */
static void
shim_jsonb_add_value(ShimJsonbLevel *level, const JsonbValue *v)
{
	JsonbValue *cont = &level->pub.contVal;

	if (cont->type == jbvObject)
	{
		if (!level->key_pending)
			shim_unreachable("pushJsonbValue: an object value without a KEY before it");
		cont->val.object.pairs[cont->val.object.nPairs++].value = *v;
		level->key_pending = false;
		return;
	}
	if (cont->val.array.rawScalar && cont->val.array.nElems > 0)
		shim_unreachable("pushJsonbValue: a second element in a raw scalar array");
	if (cont->val.array.rawScalar && !IsAJsonbScalar(v))
		shim_unreachable("pushJsonbValue: a container in a raw scalar array");
	if ((Size) cont->val.array.nElems >= SHIM_JSONB_MAX_ELEMS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("number of jsonb array elements exceeds the maximum allowed (%zu)",
						SHIM_JSONB_MAX_ELEMS)));
	if ((Size) cont->val.array.nElems >= level->pub.size)
	{
		level->pub.size *= 2;
		cont->val.array.elems = repalloc(cont->val.array.elems,
										 sizeof(JsonbValue) * level->pub.size);
	}
	cont->val.array.elems[cont->val.array.nElems++] = *v;
}

static int
shim_jsonb_key_cmp(const JsonbValue *a, const JsonbValue *b)
{
	if (a->val.string.len != b->val.string.len)
		return a->val.string.len > b->val.string.len ? 1 : -1;
	return memcmp(a->val.string.val, b->val.string.val, a->val.string.len);
}

/* lengthCompareJsonbPair(): equal keys, the later one first */
static int
shim_jsonb_pair_cmp(const void *a, const void *b)
{
	const JsonbPair *pa = a;
	const JsonbPair *pb = b;
	int			res = shim_jsonb_key_cmp(&pa->key, &pb->key);

	if (res == 0)
		res = (pa->order > pb->order) ? -1 : 1;
	return res;
}

/* uniqueifyJsonbObject() */
static void
shim_jsonb_uniqueify(JsonbValue *object)
{
	JsonbPair  *pairs = object->val.object.pairs;
	int			n = object->val.object.nPairs;
	int			i,
				out;

	if (n <= 1)
		return;
	qsort(pairs, n, sizeof(JsonbPair), shim_jsonb_pair_cmp);
	for (i = 1, out = 0; i < n; i++)
		if (shim_jsonb_key_cmp(&pairs[i].key, &pairs[out].key) != 0)
		{
			out++;
			if (out != i)
				pairs[out] = pairs[i];
		}
	object->val.object.nPairs = out + 1;
}

JsonbValue *
pushJsonbValue(JsonbParseState **pstate, JsonbIteratorToken seq,
			   JsonbValue *jbval)
{
	ShimJsonbLevel *top = shim_jsonb_top(pstate);
	ShimJsonbLevel *level;
	JsonbValue *result = NULL;

	switch (seq)
	{
		case WJB_BEGIN_ARRAY:
		case WJB_BEGIN_OBJECT:
			{
				bool		raw = false;

				if (seq == WJB_BEGIN_OBJECT && jbval != NULL)
					shim_unreachable("pushJsonbValue: BEGIN_OBJECT with a value");
				if (seq == WJB_BEGIN_ARRAY && jbval != NULL)
				{
					if (jbval->type != jbvArray || !jbval->val.array.rawScalar)
						shim_unreachable("pushJsonbValue: BEGIN_ARRAY with a value that is not a raw scalar array");
					if (top != NULL)
						shim_unreachable("pushJsonbValue: a raw scalar array inside a container");
					raw = true;
				}
				if (top != NULL && top->pub.contVal.type == jbvObject && !top->key_pending)
					shim_unreachable("pushJsonbValue: a container in an object without a KEY before it");
				if (top != NULL && top->pub.contVal.type == jbvArray &&
					top->pub.contVal.val.array.rawScalar)
					shim_unreachable("pushJsonbValue: a container in a raw scalar array");
				level = palloc0(sizeof(ShimJsonbLevel));
				level->magic = SHIM_JSONB_MAGIC;
				level->pub.next = *pstate;
				level->pub.size = 4;
				if (seq == WJB_BEGIN_OBJECT)
				{
					level->pub.contVal.type = jbvObject;
					level->pub.contVal.val.object.nPairs = 0;
					level->pub.contVal.val.object.pairs =
						palloc(sizeof(JsonbPair) * level->pub.size);
				}
				else
				{
					level->pub.contVal.type = jbvArray;
					level->pub.contVal.val.array.nElems = 0;
					level->pub.contVal.val.array.rawScalar = raw;
					level->pub.contVal.val.array.elems =
						palloc(sizeof(JsonbValue) * level->pub.size);
				}
				*pstate = &level->pub;
				result = &level->pub.contVal;
				break;
			}
		case WJB_KEY:
			{
				JsonbValue *object;

				if (top == NULL || top->pub.contVal.type != jbvObject)
					shim_unreachable("pushJsonbValue: a KEY outside an object");
				if (top->key_pending)
					shim_unreachable("pushJsonbValue: a KEY after a KEY with no value");
				if (jbval == NULL || jbval->type != jbvString)
					shim_unreachable("pushJsonbValue: a KEY that is not a string");
				shim_jsonb_check_string(jbval->val.string.val, jbval->val.string.len, "key");
				object = &top->pub.contVal;
				if ((Size) object->val.object.nPairs >= SHIM_JSONB_MAX_PAIRS)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("number of jsonb object pairs exceeds the maximum allowed (%zu)",
									SHIM_JSONB_MAX_PAIRS)));
				if ((Size) object->val.object.nPairs >= top->pub.size)
				{
					top->pub.size *= 2;
					object->val.object.pairs = repalloc(object->val.object.pairs,
														sizeof(JsonbPair) * top->pub.size);
				}
				object->val.object.pairs[object->val.object.nPairs].key = *jbval;
				object->val.object.pairs[object->val.object.nPairs].order =
					object->val.object.nPairs;
				top->key_pending = true;
				break;
			}
		case WJB_VALUE:
		case WJB_ELEM:
			if (top == NULL)
				shim_unreachable("pushJsonbValue: a VALUE or ELEM outside any container");
			if (seq == WJB_VALUE && top->pub.contVal.type != jbvObject)
				shim_unreachable("pushJsonbValue: a VALUE outside an object");
			if (seq == WJB_ELEM && top->pub.contVal.type != jbvArray)
				shim_unreachable("pushJsonbValue: an ELEM outside an array");
			if (seq == WJB_VALUE && !top->key_pending)
				shim_unreachable("pushJsonbValue: a VALUE without a KEY before it");
			if (jbval == NULL)
				shim_unreachable("pushJsonbValue: a VALUE or ELEM with no value");
			shim_jsonb_check_scalar(jbval, seq == WJB_VALUE ? "value" : "element");
			shim_jsonb_add_value(top, jbval);
			break;
		case WJB_END_OBJECT:
		case WJB_END_ARRAY:
			if (top == NULL)
				shim_unreachable("pushJsonbValue: an END with no open container");
			if (jbval != NULL)
				shim_unreachable("pushJsonbValue: an END with a value");
			if (seq == WJB_END_OBJECT)
			{
				if (top->pub.contVal.type != jbvObject)
					shim_unreachable("pushJsonbValue: END_OBJECT closing an array");
				if (top->key_pending)
					shim_unreachable("pushJsonbValue: END_OBJECT after a KEY with no value");
				shim_jsonb_uniqueify(&top->pub.contVal);
			}
			else
			{
				if (top->pub.contVal.type != jbvArray)
					shim_unreachable("pushJsonbValue: END_ARRAY closing an object");
				if (top->pub.contVal.val.array.rawScalar &&
					top->pub.contVal.val.array.nElems != 1)
					shim_unreachable("pushJsonbValue: a raw scalar array without exactly one element");
			}
			result = &top->pub.contVal;
			*pstate = top->pub.next;
			top->magic = 0;		/* a popped state must not be pushed on again */
			if (*pstate)
				shim_jsonb_add_value((ShimJsonbLevel *) *pstate, result);
			break;
		default:
			shim_unreachable(psprintf("pushJsonbValue: token %d", (int) seq));
	}
	return result;
}

/* escape_json() */
static void
shim_jsonb_out_string(StringInfo out, const char *s, int len)
{
	int			i;

	appendStringInfoChar(out, '"');
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		switch (c)
		{
			case '\b':
				appendStringInfoString(out, "\\b");
				break;
			case '\f':
				appendStringInfoString(out, "\\f");
				break;
			case '\n':
				appendStringInfoString(out, "\\n");
				break;
			case '\r':
				appendStringInfoString(out, "\\r");
				break;
			case '\t':
				appendStringInfoString(out, "\\t");
				break;
			case '"':
				appendStringInfoString(out, "\\\"");
				break;
			case '\\':
				appendStringInfoString(out, "\\\\");
				break;
			default:
				if (c < ' ')
					appendStringInfo(out, "\\u%04x", c);
				else
					appendStringInfoChar(out, (char) c);
				break;
		}
	}
	appendStringInfoChar(out, '"');
}

/* convertJsonbValue(), into canonical JSON text */
static void
shim_jsonb_out(StringInfo out, const JsonbValue *v)
{
	int			i;

	check_stack_depth();
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoString(out, "null");
			break;
		case jbvBool:
			appendStringInfoString(out, v->val.boolean ? "true" : "false");
			break;
		case jbvNumeric:
			shim_numeric_check(v->val.numeric, out);
			break;
		case jbvString:
			shim_jsonb_check_string(v->val.string.val, v->val.string.len, "string");
			shim_jsonb_out_string(out, v->val.string.val, v->val.string.len);
			break;
		case jbvArray:
			if (v->val.array.nElems < 0 ||
				(v->val.array.nElems > 0 && v->val.array.elems == NULL))
				shim_unreachable("jsonb array with a bad element list");
			if (v->val.array.rawScalar)
			{
				if (v->val.array.nElems != 1 || !IsAJsonbScalar(&v->val.array.elems[0]))
					shim_unreachable("raw scalar jsonb array that is not one scalar");
				shim_jsonb_out(out, &v->val.array.elems[0]);
				break;
			}
			appendStringInfoChar(out, '[');
			for (i = 0; i < v->val.array.nElems; i++)
			{
				if (i > 0)
					appendStringInfoString(out, ", ");
				shim_jsonb_out(out, &v->val.array.elems[i]);
			}
			appendStringInfoChar(out, ']');
			break;
		case jbvObject:
			if (v->val.object.nPairs < 0 ||
				(v->val.object.nPairs > 0 && v->val.object.pairs == NULL))
				shim_unreachable("jsonb object with a bad pair list");
			appendStringInfoChar(out, '{');
			for (i = 0; i < v->val.object.nPairs; i++)
			{
				const JsonbPair *pair = &v->val.object.pairs[i];

				if (pair->key.type != jbvString)
					shim_unreachable("jsonb object key that is not a string");
				if (i > 0 && shim_jsonb_key_cmp(&v->val.object.pairs[i - 1].key,
												&pair->key) >= 0)
					shim_unreachable("jsonb object keys not sorted and unique");
				if (i > 0)
					appendStringInfoString(out, ", ");
				shim_jsonb_out(out, &pair->key);
				appendStringInfoString(out, ": ");
				shim_jsonb_out(out, &pair->value);
			}
			appendStringInfoChar(out, '}');
			break;
		default:
			shim_unreachable(psprintf("JsonbValueToJsonb of a value of type %d: not modelled",
									  (int) v->type));
	}
}

Jsonb *
JsonbValueToJsonb(JsonbValue *val)
{
	StringInfoData out;
	Jsonb	   *result;

	if (val == NULL)
		shim_unreachable("JsonbValueToJsonb(NULL)");
	if (IsAJsonbScalar(val))
		shim_jsonb_check_scalar(val, "scalar");
	else if (val->type != jbvArray && val->type != jbvObject)
		shim_unreachable("JsonbValueToJsonb of a jbvBinary: not modelled");
	initStringInfo(&out);
	shim_jsonb_out(&out, val);
	result = (Jsonb *) palloc(VARHDRSZ + out.len);
	SET_VARSIZE(result, VARHDRSZ + out.len);
	memcpy(VARDATA(result), out.data, out.len);
	pfree(out.data);
	return result;
}

/* ----------------------------------------------------------------
 * json and jsonb input (common/jsonapi.c, utils/adt/json.c, jsonb.c)
 * ----------------------------------------------------------------
 *
 * A strict RFC 8259 parser standing in for PostgreSQL's JSON lexer and
 * parser: the same grammar, the same surrogate-pair rules, and a nesting
 * limit in place of check_stack_depth().  json keeps its text.  jsonb
 * de-escapes strings as jsonapi.c does (\u0000 refused, other escapes to
 * UTF-8 in a UTF8 database, only ASCII in others), reads numbers with
 * numeric_in and builds the value with pushJsonbValue(), a top-level scalar
 * in a raw scalar array as jsonb_in_scalar() does.
 */
typedef struct ShimJson
{
	const char *p;
	const char *input;
	bool		jsonb;
	int			depth;
	JsonbParseState *state;		/* jsonb: the value under construction */
	JsonbValue *result;			/* jsonb: the completed value */
	StringInfoData str;			/* jsonb: the last string, de-escaped */
} ShimJson;

#define SHIM_JSON_MAX_DEPTH 6400

static void pg_attribute_noreturn()
shim_json_error(ShimJson *js, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s", "json"),
			 errdetail("%s", detail)));
}

static void
shim_json_ws(ShimJson *js)
{
	while (*js->p == ' ' || *js->p == '\t' || *js->p == '\n' || *js->p == '\r')
		js->p++;
}

static int
shim_json_hex4(ShimJson *js)
{
	int			v = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		char		c = *js->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			shim_json_error(js, "\"\\u\" must be followed by four hexadecimal digits.");
	}
	return v;
}

/* a code point from a \u escape into the de-escaped string (jsonb) */
static void
shim_json_add_codepoint(ShimJson *js, pg_wchar ch)
{
	if (ch == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("unsupported Unicode escape sequence"),
				 errdetail("\\u0000 cannot be converted to text.")));
	if (!js->jsonb)
		return;
	if (database_encoding == PG_UTF8)
	{
		unsigned char utf8[8];

		unicode_to_utf8(ch, utf8);
		appendBinaryStringInfo(&js->str, (char *) utf8, pg_utf_mblen(utf8));
	}
	else if (ch <= 0x7f)
		appendStringInfoChar(&js->str, (char) ch);
	else
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("unsupported Unicode escape sequence"),
				 errdetail("Unicode escape value could not be translated to the server's encoding %s.",
						   GetDatabaseEncodingName())));
}

static void
shim_json_string(ShimJson *js)
{
	int			hi_surrogate = -1;

	if (js->jsonb)
		resetStringInfo(&js->str);
	js->p++;					/* opening quote */
	for (;;)
	{
		unsigned char c = (unsigned char) *js->p;

		if (c == '\0')
			shim_json_error(js, "The input string ended unexpectedly.");
		if (c < 0x20)
			shim_json_error(js, "A control character in a string must be escaped.");
		js->p++;
		if (c == '"')
			break;
		if (c == '\\')
		{
			c = (unsigned char) *js->p++;
			if (c == 'u')
			{
				int			ch = shim_json_hex4(js);

				if (ch >= 0xd800 && ch <= 0xdbff)
				{
					if (hi_surrogate != -1)
						shim_json_error(js, "Unicode high surrogate must not follow a high surrogate.");
					hi_surrogate = ch;
					continue;
				}
				else if (ch >= 0xdc00 && ch <= 0xdfff)
				{
					if (hi_surrogate == -1)
						shim_json_error(js, "Unicode low surrogate must follow a high surrogate.");
					ch = 0x10000 + ((hi_surrogate & 0x3ff) << 10) + (ch & 0x3ff);
					hi_surrogate = -1;
				}
				if (hi_surrogate != -1)
					shim_json_error(js, "Unicode low surrogate must follow a high surrogate.");
				/* json_in validates without de-escaping: only jsonb refuses \u0000 */
				if (js->jsonb)
					shim_json_add_codepoint(js, (pg_wchar) ch);
				continue;
			}
			if (hi_surrogate != -1)
				shim_json_error(js, "Unicode low surrogate must follow a high surrogate.");
			switch (c)
			{
				case '"':
				case '\\':
				case '/':
					break;
				case 'b':
					c = '\b';
					break;
				case 'f':
					c = '\f';
					break;
				case 'n':
					c = '\n';
					break;
				case 'r':
					c = '\r';
					break;
				case 't':
					c = '\t';
					break;
				default:
					shim_json_error(js, "Escape sequence is invalid.");
			}
			if (js->jsonb)
				appendStringInfoChar(&js->str, (char) c);
			continue;
		}
		if (hi_surrogate != -1)
			shim_json_error(js, "Unicode low surrogate must follow a high surrogate.");
		if (js->jsonb)
			appendStringInfoChar(&js->str, (char) c);
	}
	if (hi_surrogate != -1)
		shim_json_error(js, "Unicode low surrogate must follow a high surrogate.");
}

/* the de-escaped string as a jbvString (jsonb) */
static void
shim_json_string_value(ShimJson *js, JsonbValue *v)
{
	char	   *copy = palloc(js->str.len + 1);

	memcpy(copy, js->str.data, js->str.len + 1);
	v->type = jbvString;
	v->val.string.len = js->str.len;
	v->val.string.val = copy;
}

static void
shim_json_number(ShimJson *js, JsonbValue *v)
{
	const char *start = js->p;

	if (*js->p == '-')
		js->p++;
	if (*js->p == '0')
		js->p++;
	else if (*js->p >= '1' && *js->p <= '9')
		while (isdigit((unsigned char) *js->p))
			js->p++;
	else
		shim_json_error(js, "Token is invalid.");
	if (*js->p == '.')
	{
		js->p++;
		if (!isdigit((unsigned char) *js->p))
			shim_json_error(js, "Token is invalid.");
		while (isdigit((unsigned char) *js->p))
			js->p++;
	}
	if (*js->p == 'e' || *js->p == 'E')
	{
		js->p++;
		if (*js->p == '+' || *js->p == '-')
			js->p++;
		if (!isdigit((unsigned char) *js->p))
			shim_json_error(js, "Token is invalid.");
		while (isdigit((unsigned char) *js->p))
			js->p++;
	}
	/* as json_lex_number(): letters, digits, '_' or high-bit bytes after it */
	if (isalnum((unsigned char) *js->p) || *js->p == '_' || IS_HIGHBIT_SET(*js->p))
		shim_json_error(js, "Token is invalid.");
	if (js->jsonb)
	{
		v->type = jbvNumeric;
		v->val.numeric =
			DatumGetNumeric(DirectFunctionCall3(numeric_in,
												CStringGetDatum(pnstrdup(start, js->p - start)),
												ObjectIdGetDatum(InvalidOid),
												Int32GetDatum(-1)));
	}
}

/* jsonb_in_scalar(): a scalar into the value under construction */
static void
shim_json_push_scalar(ShimJson *js, JsonbIteratorToken tok, JsonbValue *v)
{
	if (!js->jsonb)
		return;
	if (js->state == NULL)
	{
		JsonbValue	va;

		va.type = jbvArray;
		va.val.array.rawScalar = true;
		va.val.array.nElems = 1;
		va.val.array.elems = NULL;
		pushJsonbValue(&js->state, WJB_BEGIN_ARRAY, &va);
		pushJsonbValue(&js->state, WJB_ELEM, v);
		js->result = pushJsonbValue(&js->state, WJB_END_ARRAY, NULL);
	}
	else
		pushJsonbValue(&js->state, tok, v);
}

static void
shim_json_value(ShimJson *js, JsonbIteratorToken tok)
{
	JsonbValue	v;

	shim_json_ws(js);
	if (++js->depth > SHIM_JSON_MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
				 errmsg("stack depth limit exceeded")));
	switch (*js->p)
	{
		case '{':
			js->p++;
			if (js->jsonb)
				pushJsonbValue(&js->state, WJB_BEGIN_OBJECT, NULL);
			shim_json_ws(js);
			if (*js->p == '}')
				js->p++;
			else
				for (;;)
				{
					shim_json_ws(js);
					if (*js->p != '"')
						shim_json_error(js, "Expected string or \"}\".");
					shim_json_string(js);
					if (js->jsonb)
					{
						shim_json_string_value(js, &v);
						pushJsonbValue(&js->state, WJB_KEY, &v);
					}
					shim_json_ws(js);
					if (*js->p++ != ':')
						shim_json_error(js, "Expected \":\".");
					shim_json_value(js, WJB_VALUE);
					shim_json_ws(js);
					if (*js->p == ',')
					{
						js->p++;
						continue;
					}
					if (*js->p++ != '}')
						shim_json_error(js, "Expected \",\" or \"}\".");
					break;
				}
			if (js->jsonb)
				js->result = pushJsonbValue(&js->state, WJB_END_OBJECT, NULL);
			break;
		case '[':
			js->p++;
			if (js->jsonb)
				pushJsonbValue(&js->state, WJB_BEGIN_ARRAY, NULL);
			shim_json_ws(js);
			if (*js->p == ']')
				js->p++;
			else
				for (;;)
				{
					shim_json_value(js, WJB_ELEM);
					shim_json_ws(js);
					if (*js->p == ',')
					{
						js->p++;
						continue;
					}
					if (*js->p++ != ']')
						shim_json_error(js, "Expected \",\" or \"]\".");
					break;
				}
			if (js->jsonb)
				js->result = pushJsonbValue(&js->state, WJB_END_ARRAY, NULL);
			break;
		case '"':
			shim_json_string(js);
			if (js->jsonb)
				shim_json_string_value(js, &v);
			shim_json_push_scalar(js, tok, &v);
			break;
		case 't':
			if (strncmp(js->p, "true", 4) != 0)
				shim_json_error(js, "Token is invalid.");
			js->p += 4;
			v.type = jbvBool;
			v.val.boolean = true;
			shim_json_push_scalar(js, tok, &v);
			break;
		case 'f':
			if (strncmp(js->p, "false", 5) != 0)
				shim_json_error(js, "Token is invalid.");
			js->p += 5;
			v.type = jbvBool;
			v.val.boolean = false;
			shim_json_push_scalar(js, tok, &v);
			break;
		case 'n':
			if (strncmp(js->p, "null", 4) != 0)
				shim_json_error(js, "Token is invalid.");
			js->p += 4;
			v.type = jbvNull;
			shim_json_push_scalar(js, tok, &v);
			break;
		default:
			shim_json_number(js, &v);
			shim_json_push_scalar(js, tok, &v);
			break;
	}
	js->depth--;
}

static Datum
shim_json_input(char *str, bool jsonb)
{
	ShimJson	js;

	memset(&js, 0, sizeof(js));
	js.p = js.input = str;
	js.jsonb = jsonb;
	if (jsonb)
		initStringInfo(&js.str);
	shim_json_value(&js, WJB_ELEM);
	shim_json_ws(&js);
	if (*js.p != '\0')
		shim_json_error(&js, "Expected end of input.");
	if (!jsonb)
		PG_RETURN_TEXT_P(shim_cstring_to_text(str));
	if (js.state != NULL || js.result == NULL)
		shim_unreachable("jsonb input left an open container");
	pfree(js.str.data);
	PG_RETURN_POINTER(JsonbValueToJsonb(js.result));
}

static Datum
shim_json_in(PG_FUNCTION_ARGS)
{
	return shim_json_input(PG_GETARG_CSTRING(0), false);
}

static Datum
shim_jsonb_in(PG_FUNCTION_ARGS)
{
	return shim_json_input(PG_GETARG_CSTRING(0), true);
}

void
fmgr_info(Oid functionId, FmgrInfo *finfo)
{
	memset(finfo, 0, sizeof(*finfo));
	finfo->fn_oid = functionId;
	finfo->fn_nargs = 3;
	finfo->fn_strict = true;
	finfo->fn_mcxt = CurrentMemoryContext;
	switch (functionId)
	{
		case F_TEXTIN:
			finfo->fn_addr = shim_textin;
			break;
		case F_UUID_IN:
			finfo->fn_addr = shim_uuid_in;
			break;
		case F_INT4IN:
			finfo->fn_addr = shim_int4in;
			break;
		case F_INT8IN:
			finfo->fn_addr = shim_int8in;
			break;
		case F_BOOLIN:
			finfo->fn_addr = shim_boolin;
			break;
		case F_FLOAT8IN:
			finfo->fn_addr = shim_float8in;
			break;
		case F_TIMESTAMPTZ_IN:
			finfo->fn_addr = shim_timestamptz_in;
			break;
		case F_JSON_IN:
			finfo->fn_addr = shim_json_in;
			break;
		case F_JSONB_IN:
			finfo->fn_addr = shim_jsonb_in;
			break;
		default:
			elog(ERROR, "shim: no input function with OID %u", functionId);
	}
}

/* utils/fmgr/fmgr.c */
Datum
InputFunctionCall(FmgrInfo *flinfo, char *str, Oid typioparam, int32 typmod)
{
	LOCAL_FCINFO(fcinfo, 3);
	Datum		result;

	if (str == NULL && flinfo->fn_strict)
		return (Datum) 0;
	InitFunctionCallInfoData(*fcinfo, flinfo, 3, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = CStringGetDatum(str);
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = ObjectIdGetDatum(typioparam);
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = Int32GetDatum(typmod);
	fcinfo->args[2].isnull = false;
	result = FunctionCallInvoke(fcinfo);
	if (str == NULL)
	{
		if (!fcinfo->isnull)
			elog(ERROR, "input function %u returned non-NULL", flinfo->fn_oid);
	}
	else if (fcinfo->isnull)
		elog(ERROR, "input function %u returned NULL", flinfo->fn_oid);
	return result;
}

Datum
OidInputFunctionCall(Oid functionId, char *str, Oid typioparam, int32 typmod)
{
	FmgrInfo	flinfo;

	fmgr_info(functionId, &flinfo);
	return InputFunctionCall(&flinfo, str, typioparam, typmod);
}

Datum
DirectFunctionCall3Coll(PGFunction func, Oid collation, Datum arg1, Datum arg2,
						Datum arg3)
{
	LOCAL_FCINFO(fcinfo, 3);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 3, collation, NULL, NULL);
	fcinfo->args[0].value = arg1;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = arg2;
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = arg3;
	fcinfo->args[2].isnull = false;
	result = (*func) (fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function %p returned NULL", (void *) func);
	return result;
}

/*
 * tcop/postgres.c: the stack below the frame that called shim_init() may
 * grow by max_stack_depth (PostgreSQL's usual 2MB) before an ERROR.
 */
#define SHIM_MAX_STACK_DEPTH_KB 2048
static char *shim_stack_base = NULL;

void
check_stack_depth(void)
{
	char	   *here = (char *) __builtin_frame_address(0);
	long		depth;

	if (shim_stack_base == NULL)
		return;
	depth = (long) (shim_stack_base - here);
	if (depth < 0)
		depth = -depth;
	if (depth > SHIM_MAX_STACK_DEPTH_KB * 1024L)
		ereport(ERROR,
				(errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
				 errmsg("stack depth limit exceeded"),
				 errhint("Increase the configuration parameter \"max_stack_depth\" (currently %dkB), after ensuring the platform's stack depth limit is adequate.",
						 SHIM_MAX_STACK_DEPTH_KB)));
}

/* ----------------------------------------------------------------
 * Arrays (utils/adt/arrayfuncs.c)
 * ----------------------------------------------------------------
 */
ArrayType *
construct_empty_array(Oid elmtype)
{
	ArrayType  *result = (ArrayType *) palloc0(sizeof(ArrayType));

	SET_VARSIZE(result, sizeof(ArrayType));
	result->ndim = 0;
	result->dataoffset = 0;
	result->elemtype = elmtype;
	return result;
}

ArrayType *
construct_md_array(Datum *elems, bool *nulls, int ndims, int *dims, int *lbs,
				   Oid elmtype, int elmlen, bool elmbyval, char elmalign)
{
	ArrayType  *result;
	bool		hasnulls = false;
	int32		nbytes = 0;
	int32		dataoffset;
	int			nelems;
	int			i;
	char	   *p;
	bits8	   *bitmap;
	int			bitval = 0;
	int			bitmask = 1;

	if (ndims != 1)
		shim_unreachable("construct_md_array with ndims other than 1");
	if (dims[0] < 0 || dims[0] > (int) MaxArraySize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("array size exceeds the maximum allowed (%d)",
						(int) MaxArraySize)));
	nelems = dims[0];
	if (nelems == 0)
		return construct_empty_array(elmtype);
	for (i = 0; i < nelems; i++)
	{
		if (nulls && nulls[i])
		{
			hasnulls = true;
			continue;
		}
		if (elmlen == -1 && !VARATT_IS_4B_U(DatumGetPointer(elems[i])))
			shim_unreachable("array element is not a plain varlena");
		nbytes = att_addlength_datum(nbytes, elmlen, elems[i]);
		nbytes = att_align_nominal(nbytes, elmalign);
		if (!AllocSizeIsValid(nbytes))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("array size exceeds the maximum allowed (%d)",
							(int) MaxAllocSize)));
	}
	if (hasnulls)
	{
		dataoffset = ARR_OVERHEAD_WITHNULLS(ndims, nelems);
		nbytes += dataoffset;
	}
	else
	{
		dataoffset = 0;
		nbytes += ARR_OVERHEAD_NONULLS(ndims);
	}
	result = (ArrayType *) palloc0(nbytes);
	SET_VARSIZE(result, nbytes);
	result->ndim = ndims;
	result->dataoffset = dataoffset;
	result->elemtype = elmtype;
	memcpy(ARR_DIMS(result), dims, ndims * sizeof(int));
	memcpy(ARR_LBOUND(result), lbs, ndims * sizeof(int));

	/* CopyArrayEls */
	p = ARR_DATA_PTR(result);
	bitmap = ARR_NULLBITMAP(result);
	for (i = 0; i < nelems; i++)
	{
		if (nulls && nulls[i])
		{
			if (!bitmap)
				shim_unreachable("null element without a bitmap");
		}
		else
		{
			bitval |= bitmask;
			if (elmbyval)
			{
				store_att_byval(p, elems[i], elmlen);
				p += att_align_nominal(elmlen, elmalign);
			}
			else
			{
				int			inc = att_addlength_datum(0, elmlen, elems[i]);

				memmove(p, DatumGetPointer(elems[i]), inc);
				p += att_align_nominal(inc, elmalign);
			}
		}
		if (bitmap)
		{
			bitmask <<= 1;
			if (bitmask == 0x100)
			{
				*bitmap++ = bitval;
				bitval = 0;
				bitmask = 1;
			}
		}
	}
	if (bitmap && bitmask != 1)
		*bitmap = bitval;
	if (p - (char *) result != nbytes)
		shim_unreachable("construct_md_array size mismatch");
	return result;
}

/* ----------------------------------------------------------------
 * Catalog fakes: relations, column options, reloptions
 * ----------------------------------------------------------------
 */
typedef struct ShimRel
{
	Oid			relid;
	Relation	rel;
	char	  **keys;			/* column option "key" per attnum - 1 */
	struct ShimRel *next;
} ShimRel;

static ShimRel *shim_rels = NULL;
static Oid	shim_next_relid = 90000;

/*
 * A fake relation, allocated in the current memory context: it must be
 * forgotten (shim_relation_forget) before that context is reset.
 */
Relation
shim_relation_create(const char *relname, const ShimColumn *cols, int ncols)
{
	ShimRel    *sr = palloc0(sizeof(ShimRel));
	Relation	rel = palloc0(sizeof(RelationData));
	TupleDesc	desc = palloc0(offsetof(struct TupleDescData, attrs) +
							   Max(ncols, 1) * sizeof(FormData_pg_attribute));
	int			i;

	rel->rd_id = sr->relid = shim_next_relid++;
	rel->rd_rel = palloc0(sizeof(FormData_pg_class));
	namestrcpy(&rel->rd_rel->relname, relname);
	desc->natts = ncols;
	desc->tdtypeid = RECORDOID;
	desc->tdtypmod = -1;
	desc->tdrefcount = -1;
	rel->rd_att = desc;
	sr->keys = palloc0(sizeof(char *) * Max(ncols, 1));
	for (i = 0; i < ncols; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);
		const ShimType *t = shim_type(shim_type_oid(cols[i].type));

		attr->attrelid = sr->relid;
		namestrcpy(&attr->attname, cols[i].name);
		attr->atttypid = t->oid;
		attr->attlen = t->typlen;
		attr->attbyval = t->byval;
		attr->attalign = t->align;
		attr->attnum = i + 1;
		attr->atttypmod = -1;
		attr->attisdropped = cols[i].dropped;
		attr->attndims = t->elem ? 1 : 0;
		if (cols[i].key)
			sr->keys[i] = pstrdup(cols[i].key);
	}
	rel->rd_rel->relnatts = ncols;
	sr->rel = rel;
	sr->next = shim_rels;
	shim_rels = sr;
	return rel;
}

void
shim_relation_forget(Relation rel)
{
	ShimRel   **link;

	for (link = &shim_rels; *link; link = &(*link)->next)
		if ((*link)->rel == rel)
		{
			*link = (*link)->next;
			return;
		}
	shim_unreachable("shim_relation_forget of an unknown relation");
}

static ShimRel *
shim_rel(Oid relid)
{
	ShimRel    *sr;

	for (sr = shim_rels; sr; sr = sr->next)
		if (sr->relid == relid)
			return sr;
	elog(ERROR, "cache lookup failed for relation %u", relid);
	pg_unreachable();
}

List *
GetForeignColumnOptions(Oid relid, AttrNumber attnum)
{
	ShimRel    *sr = shim_rel(relid);

	if (attnum < 1 || attnum > sr->rel->rd_att->natts)
		elog(ERROR, "cache lookup failed for attribute %d of relation %u",
			 attnum, relid);
	if (sr->keys[attnum - 1] == NULL)
		return NIL;
	return list_make1(makeDefElem(pstrdup("key"),
								  (Node *) makeString(pstrdup(sr->keys[attnum - 1])),
								  -1));
}

char *
get_attname(Oid relid, AttrNumber attnum, bool missing_ok)
{
	ShimRel    *sr = shim_rel(relid);

	if (attnum < 1 || attnum > sr->rel->rd_att->natts)
		elog(ERROR, "cache lookup failed for attribute %d of relation %u",
			 attnum, relid);
	return pstrdup(NameStr(TupleDescAttr(sr->rel->rd_att, attnum - 1)->attname));
}

char *
get_rel_name(Oid relid)
{
	return pstrdup(NameStr(shim_rel(relid)->rel->rd_rel->relname));
}

/*
 * access/common/reloptions.c: a text[] of "name=value" into DefElems; an
 * element without '=' has no argument.
 */
List *
untransformRelOptions(Datum options)
{
	ArrayType  *array;
	List	   *result = NIL;
	char	   *p;
	int			nelems;
	int			i;

	if (DatumGetPointer(options) == NULL)
		return NIL;
	array = DatumGetArrayTypeP(options);
	if (ARR_NDIM(array) == 0)
		return NIL;
	if (ARR_ELEMTYPE(array) != TEXTOID || ARR_NDIM(array) != 1 || ARR_HASNULL(array))
		shim_unreachable("untransformRelOptions: not a one-dimensional text[] without nulls");
	nelems = ARR_DIMS(array)[0];
	p = ARR_DATA_PTR(array);
	for (i = 0; i < nelems; i++)
	{
		int			len = VARSIZE(p) - VARHDRSZ;
		char	   *s = pnstrdup(VARDATA(p), len);
		char	   *eq = strchr(s, '=');
		Node	   *val = NULL;

		if (eq)
		{
			*eq = '\0';
			val = (Node *) makeString(pstrdup(eq + 1));
		}
		result = lappend(result, makeDefElem(pstrdup(s), val, -1));
		p += INTALIGN(VARSIZE(p));
	}
	return result;
}

ForeignServer *
GetForeignServer(Oid serverid)
{
	ForeignServer *server = palloc0(sizeof(ForeignServer));

	server->serverid = serverid;
	server->servername = pstrdup("fuzz_server");
	server->options = NIL;
	return server;
}

/* ----------------------------------------------------------------
 * A backend-local hash (utils/hash/dynahash.c), as a small array
 * ----------------------------------------------------------------
 */
struct HTAB
{
	Size		keysize;
	Size		entrysize;
	int			nentries;
	int			capacity;
	char	  **entries;
};

HTAB *
hash_create(const char *tabname, long nelem, const HASHCTL *info, int flags)
{
	HTAB	   *htab = calloc(1, sizeof(HTAB));

	if (htab == NULL || !(flags & HASH_ELEM) || !(flags & HASH_BLOBS))
		shim_unreachable("hash_create");
	htab->keysize = info->keysize;
	htab->entrysize = info->entrysize;
	return htab;
}

void *
hash_search(HTAB *hashp, const void *keyPtr, HASHACTION action, bool *foundPtr)
{
	int			i;

	for (i = 0; i < hashp->nentries; i++)
		if (memcmp(hashp->entries[i], keyPtr, hashp->keysize) == 0)
		{
			void	   *entry = hashp->entries[i];

			if (foundPtr)
				*foundPtr = true;
			if (action == HASH_REMOVE)
			{
				hashp->entries[i] = hashp->entries[--hashp->nentries];
				/* dynahash keeps removed entries on a freelist */
				return entry;
			}
			return entry;
		}
	if (foundPtr)
		*foundPtr = false;
	if (action == HASH_FIND || action == HASH_REMOVE)
		return NULL;
	if (hashp->nentries == hashp->capacity)
	{
		hashp->capacity = Max(8, hashp->capacity * 2);
		hashp->entries = realloc(hashp->entries, sizeof(char *) * hashp->capacity);
		if (hashp->entries == NULL)
			shim_unreachable("out of memory in hash_search");
	}
	hashp->entries[hashp->nentries] = calloc(1, hashp->entrysize);
	memset(hashp->entries[hashp->nentries], 0x7f, hashp->entrysize);
	memcpy(hashp->entries[hashp->nentries], keyPtr, hashp->keysize);
	return hashp->entries[hashp->nentries++];
}

void
hash_seq_init(HASH_SEQ_STATUS *status, HTAB *hashp)
{
	status->hashp = hashp;
	status->curBucket = 0;
	status->curEntry = NULL;
}

void *
hash_seq_search(HASH_SEQ_STATUS *status)
{
	if (status->curBucket < (uint32) status->hashp->nentries)
		return status->hashp->entries[status->curBucket++];
	return NULL;
}

/* ----------------------------------------------------------------
 * Time, transactions, syscache: what auth.c and jobs.c touch
 * ----------------------------------------------------------------
 */
TimestampTz
GetCurrentTimestamp(void)
{
	struct timeval tp;
	TimestampTz result;

	gettimeofday(&tp, NULL);
	result = (TimestampTz) tp.tv_sec -
		((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
	return (result * USECS_PER_SEC) + tp.tv_usec;
}

long
TimestampDifferenceMilliseconds(TimestampTz start_time, TimestampTz stop_time)
{
	TimestampTz diff = stop_time - start_time;

	if (diff <= 0)
		return 0;
	return (long) ((diff + 999) / 1000);
}

uint32
GetSysCacheHashValue(int cacheId, Datum key1, Datum key2, Datum key3, Datum key4)
{
	return (uint32) (DatumGetObjectId(key1) * 2654435761u) ^ (uint32) cacheId;
}

void
CacheRegisterSyscacheCallback(int cacheid, SyscacheCallbackFunction func, Datum arg)
{
}

void
RegisterXactCallback(XactCallback callback, void *arg)
{
}

void
RegisterSubXactCallback(SubXactCallback callback, void *arg)
{
}

SubTransactionId
GetCurrentSubTransactionId(void)
{
	return TopSubTransactionId;
}

/* utils/error/elog.c */
char *
unpack_sql_state(int sql_state)
{
	static char buf[12];
	int			i;

	for (i = 0; i < 5; i++)
	{
		buf[i] = PGUNSIXBIT(sql_state);
		sql_state >>= 6;
	}
	buf[i] = '\0';
	return buf;
}

/* utils/adt/name.c */
void
namestrcpy(Name name, const char *str)
{
	strncpy(NameStr(*name), str, NAMEDATALEN);
	NameStr(*name)[NAMEDATALEN - 1] = '\0';
}

/* nodes/list.c */
List *
list_make1_impl(NodeTag t, ListCell datum1)
{
	List	   *list = lappend(NIL, datum1.ptr_value);

	list->type = t;
	return list;
}

/* fmgr.c: the shim's varlenas are never toasted or short-headed */
struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	if (!VARATT_IS_4B_U(datum))
		shim_unreachable("pg_detoast_datum of a toasted or short varlena");
	return datum;
}

/* ----------------------------------------------------------------
 * Referenced by http.c's transport paths, never reached by the harnesses
 * ----------------------------------------------------------------
 */
volatile sig_atomic_t InterruptPending = false;
volatile sig_atomic_t QueryCancelPending = false;
volatile sig_atomic_t ProcDiePending = false;
struct Latch *MyLatch = NULL;

void
ProcessInterrupts(void)
{
	shim_unreachable("ProcessInterrupts");
}

int
WaitLatch(Latch *latch, int wakeEvents, long timeout, uint32 wait_event_info)
{
	shim_unreachable("WaitLatch");
}

void
ResetLatch(Latch *latch)
{
	shim_unreachable("ResetLatch");
}

/* miscadmin.h: whether the current role is a superuser, as the harness says */
static bool shim_is_superuser = false;

void
shim_set_superuser(bool is_superuser)
{
	shim_is_superuser = is_superuser;
}

bool
superuser(void)
{
	return shim_is_superuser;
}

/* option.c's gc_get_connection(): not fuzzed (it reads the catalogs) */
bool
SearchSysCacheExists(int cacheId, Datum key1, Datum key2, Datum key3, Datum key4)
{
	shim_unreachable("SearchSysCacheExists");
}

UserMapping *
GetUserMapping(Oid userid, Oid serverid)
{
	shim_unreachable("GetUserMapping");
}

char *
GetUserNameFromId(Oid roleid, bool noerr)
{
	shim_unreachable("GetUserNameFromId");
}

const char *
quote_identifier(const char *ident)
{
	shim_unreachable("quote_identifier");
}

void
shim_unreachable(const char *what)
{
	fprintf(stderr, "shim: unexpected: %s\n", what);
	abort();
}

/* ----------------------------------------------------------------
 * Harness helpers
 * ----------------------------------------------------------------
 */
uint32
shim_touch_datum(Datum value, Oid typid)
{
	const ShimType *t = shim_type(typid);
	const unsigned char *p;
	Size		len;
	uint32		sum = 0;
	Size		i;

	if (t->byval)
		return (uint32) value;
	p = (const unsigned char *) DatumGetPointer(value);
	len = (t->typlen == -1) ? VARSIZE_ANY(p) : (Size) t->typlen;
	for (i = 0; i < len; i++)
		sum = sum * 31 + p[i];
	if (t->elem)
	{
		ArrayType  *arr = (ArrayType *) p;

		if (ARR_ELEMTYPE(arr) != t->elem || ARR_NDIM(arr) > 1)
			shim_unreachable("array of the wrong element type or shape");
	}
	return sum;
}

/*
 * shim_caught
 *		Called in a harness's PG_CATCH block: checks the error is one a user
 *		could be shown (an errcode other than XX000, which elog(ERROR) and
 *		"can't happen" paths give, and a message), then forgets it.
 */
void
shim_caught(const char *where)
{
	if (last_error.message == NULL ||
		last_error.sqlerrcode == ERRCODE_INTERNAL_ERROR)
	{
		fprintf(stderr, "shim: internal error in %s at %s:%d: %s\n", where,
				last_error.filename ? last_error.filename : "?", last_error.lineno,
				last_error.message ? last_error.message : "(no message)");
		abort();
	}
	if (getenv("GC_FUZZ_VERBOSE"))
		fprintf(stderr, "caught in %s: [%s] %s%s%s%s%s\n", where,
				unpack_sql_state(last_error.sqlerrcode), last_error.message,
				last_error.detail ? " DETAIL: " : "",
				last_error.detail ? last_error.detail : "",
				last_error.context ? " CONTEXT: " : "",
				last_error.context ? last_error.context : "");
	FlushErrorState();
}

void
shim_init(void)
{
	if (TopMemoryContext != NULL)
		return;
	/* the harness's frame: check_stack_depth() measures from here */
	shim_stack_base = (char *) __builtin_frame_address(0);
	TopMemoryContext = shim_context_create(NULL, "TopMemoryContext");
	ErrorContext = shim_context_create(TopMemoryContext, "ErrorContext");
	CurrentMemoryContext = TopMemoryContext;
}
