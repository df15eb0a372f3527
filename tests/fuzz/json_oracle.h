/*-------------------------------------------------------------------------
 *
 * json_oracle.h
 *		  An oracle for tests/fuzz/fuzz_json.c: what a JSON text is, by RFC
 *		  8259 and src/json_parse.h's contract, read without the parser.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GC_JSON_ORACLE_H
#define GC_JSON_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer (malloc'd: free data when done) */
typedef struct Text
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Text;

typedef enum Verdict
{
	DOCUMENT,					/* one JSON value, whitespace around it */
	VALID_START,				/* not yet one, but bytes could follow */
	NOT_JSON					/* byte bad can start no continuation */
} Verdict;

typedef struct Oracle
{
	Verdict		verdict;
	size_t		bad;			/* NOT_JSON: the first impossible byte */
	bool		too_deep;		/* NOT_JSON because of the nesting limit */
	long		values;			/* DOCUMENT: its values, containers too */
	Text		text;			/* DOCUMENT: as compact JSON text */
} Oracle;

/* Read s (n bytes) into o; free o->text.data when done */
extern void oracle_read(const uint8_t *s, size_t n, Oracle *o);

#endif							/* GC_JSON_ORACLE_H */
