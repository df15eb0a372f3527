/*-------------------------------------------------------------------------
 *
 * pg_shim.h
 *		  What the fuzz harnesses need from pg_shim.c, the stand-in for the
 *		  parts of the PostgreSQL backend that gc_fdw's parsing code calls.
 *
 * The shim is linked into libFuzzer binaries together with the real
 * source files of gc_fdw (src/); it is never part of the extension.  See
 * tests/fuzz/README.md for what it models faithfully and what it does not.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GC_FUZZ_PG_SHIM_H
#define GC_FUZZ_PG_SHIM_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/relcache.h"

/* One column of a fake foreign table */
typedef struct ShimColumn
{
	const char *name;
	const char *type;			/* SQL type name: "text", "uuid[]", ... */
	const char *key;			/* column option "key", or NULL for none */
	bool		dropped;
} ShimColumn;

/* The last error raised through ereport(ERROR) and caught by PG_CATCH */
typedef struct ShimError
{
	int			elevel;
	int			sqlerrcode;
	char	   *message;
	char	   *detail;
	char	   *hint;
	char	   *context;		/* errcontext lines, '\n' separated */
	const char *filename;
	int			lineno;
} ShimError;

/* memory */
extern MemoryContext shim_context_create(MemoryContext parent, const char *name);
extern long shim_context_chunks(MemoryContext context);

/* errors */
extern const ShimError *shim_last_error(void);
extern long shim_errors_raised;
extern void shim_caught(const char *where);

/* superuser() answers this (false by default) */
extern void shim_set_superuser(bool is_superuser);

/* database encoding (PG_UTF8 by default) */
extern void shim_set_database_encoding(int encoding);

/* catalog fakes */
extern Oid	shim_type_oid(const char *type_name);
extern Relation shim_relation_create(const char *relname, const ShimColumn *cols,
									 int ncols);
extern void shim_relation_forget(Relation rel);

/* abort with a message: a path the harness assumes unreachable was reached */
extern void shim_unreachable(const char *what) pg_attribute_noreturn();

/* a byte-by-byte read of a datum, so ASan sees dangling or short values */
extern uint32 shim_touch_datum(Datum value, Oid typid);

/* one-time setup: TopMemoryContext, CurrentMemoryContext */
extern void shim_init(void);

#endif							/* GC_FUZZ_PG_SHIM_H */
