/*-------------------------------------------------------------------------
 *
 * bodies.c
 *		  The response body buffers of a backend and their one memory budget.
 *
 * Owns the setting gc_fdw.max_response_memory and what it bounds: every
 * malloc'd buffer a response body is received into (GcBody), counted
 * together however many transfers are in flight, so that concurrency
 * cannot multiply what a backend holds.  A buffer grows by doubling within
 * what the budget leaves and within GC_HTTP_MAX_BODY for one body; past
 * either it refuses more and says which limit was met and how much was in
 * flight.  A buffer that grew past its first allocation is freed as soon as
 * its body is copied out or given up (gc_body_release), so idle transfer
 * slots hold little and the budget counts what is in flight.  Because the
 * pages of a scan are much alike in size, a buffer that has to grow past
 * its first allocation grows at once to what the last such body needed
 * (gc_body_hint), instead of doubling its way there copy by copy.
 *
 * Layering: used by the transport (http.c) only, from libcurl's write
 * callback among others; calls nothing of gc_fdw.
 *
 * Must not: ereport, palloc or longjmp in gc_body_append (it runs inside a
 * libcurl callback: it records why and returns false); word the error
 * (retry.c does, from what GcBody recorded).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "gc_fdw.h"

/* A buffer's first allocation, kept between requests by an idle slot */
#define GC_BODY_FIRST_ALLOC		((size_t) 64 * 1024)

/* gc_fdw.max_response_memory, in kB */
int			gc_max_response_memory_kb = 256 * 1024;

/* Bytes every GcBody of the backend holds (the sum of their cap) */
static size_t gc_bodies_held = 0;

/*
 * What the last body that outgrew its first allocation needed, rounded up
 * to a doubling of GC_BODY_FIRST_ALLOC; 0 before any did.  A page of 100
 * conversations is about a megabyte: grown by doubling from 64 kB it would
 * be copied four times on the way (docs/performance.md, "The redesign:
 * loads before and after").  Capped, so that one huge answer does not make
 * every later one claim as much of the budget.
 */
#define GC_BODY_HINT_MAX		((size_t) 16 * 1024 * 1024)
static size_t gc_body_hint = 0;

/*
 * gc_body_define_budget
 *		Define gc_fdw.max_response_memory; called once per process, from
 *		_PG_init() through gc_http_init().
 *
 * The budget is a setting, not a server option: it bounds what one backend
 * holds, whichever servers its query reads (a join of two servers shares
 * it).  Superusers set it (per role or database too): a limit that guards
 * the database server's memory against a misbehaving remote end is not
 * each user's to raise.
 */
void
gc_body_define_budget(void)
{
	DefineCustomIntVariable("gc_fdw.max_response_memory",
							"Memory the Genesys Cloud response bodies one backend receives at once may take.",
							"Counted over every request in flight in the backend, whatever the concurrency.",
							&gc_max_response_memory_kb,
							256 * 1024, 1024, INT_MAX,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
}

/*
 * gc_body_start
 *		Make body ready for a new response: empty, no limit met.  Its
 *		buffer stays for reuse.
 */
void
gc_body_start(GcBody *body)
{
	body->len = 0;
	body->refused = GC_BODY_ACCEPTED;
	body->in_flight = 0;
}

/*
 * gc_body_append
 *		Append len bytes of data, growing the buffer within the budget and
 *		GC_HTTP_MAX_BODY (and one byte more for a terminator).  False, with
 *		body->refused and body->in_flight saying why, when it cannot.
 */
bool
gc_body_append(GcBody *body, const char *data, size_t len)
{
	size_t		needed = body->len + len + 1;

	if (len > GC_HTTP_MAX_BODY - body->len)
	{
		body->refused = GC_BODY_TOO_LARGE;
		body->in_flight = gc_bodies_held - body->cap + needed;
		return false;
	}
	if (needed > body->cap)
	{
		size_t		budget = (size_t) gc_max_response_memory_kb * 1024;
		size_t		others = gc_bodies_held - body->cap;
		size_t		new_cap = Max(body->cap, GC_BODY_FIRST_ALLOC);
		char	   *grown;

		while (new_cap < needed)
			new_cap *= 2;
		/* likely as large as the last one that grew: go there in one step */
		if (new_cap < gc_body_hint && others + gc_body_hint <= budget)
			new_cap = gc_body_hint;
		new_cap = Min(new_cap, GC_HTTP_MAX_BODY + 1);
		if (others + new_cap > budget)
		{
			/* doubling would pass the budget: take what is left, if enough */
			if (others + needed > budget)
			{
				body->refused = GC_BODY_OVER_BUDGET;
				body->in_flight = others + needed;
				return false;
			}
			new_cap = budget - others;
		}
		grown = realloc(body->data, new_cap);
		if (grown == NULL)
		{
			body->refused = GC_BODY_NO_MEMORY;
			return false;
		}
		gc_bodies_held += new_cap - body->cap;
		body->data = grown;
		body->cap = new_cap;
	}
	memcpy(body->data + body->len, data, len);
	body->len += len;
	return true;
}

/*
 * gc_body_release
 *		The response in body has been copied out or given up: wipe it when
 *		it may hold a secret (a token answer), and free the buffer when it
 *		grew past its first allocation.  What was received (len) and why it
 *		was refused stay readable.
 */
void
gc_body_release(GcBody *body, bool wipe)
{
	if (wipe && body->data != NULL)
		explicit_bzero(body->data, Min(body->len, body->cap));
	if (body->cap <= GC_BODY_FIRST_ALLOC)
		return;
	/* what this body needed, as doubling would have grown to it */
	if (body->refused == GC_BODY_ACCEPTED)
	{
		size_t		hint = GC_BODY_FIRST_ALLOC;

		while (hint < body->len + 1 && hint < GC_BODY_HINT_MAX)
			hint *= 2;
		gc_body_hint = hint;
	}
	free(body->data);
	gc_bodies_held -= body->cap;
	body->data = NULL;
	body->cap = 0;
}
