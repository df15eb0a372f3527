/*-------------------------------------------------------------------------
 *
 * json_write.c
 *		  A parsed value (json_parse.c) written back as compact JSON text:
 *		  json and text columns holding objects or arrays, and numbers kept
 *		  in the digits Genesys sent.
 *
 * Owns the text form: no spaces, members in document order, the short
 * escapes (\" \\ \b \f \n \r \t; '/' is written as it is, as json-c
 * did) and \u00XX for the other bytes below 0x20.  Like the parser it
 * includes nothing from PostgreSQL (tests/fuzz links both), allocates
 * nothing (the caller sizes the buffer with gc_json_text_size) and raises
 * nothing.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "json_parse.h"

/*
 * short_escape
 *		The letter after the backslash of c's two-character escape, or 0
 *		when c has none.
 */
static inline char
short_escape(unsigned char c)
{
	switch (c)
	{
		case '"':
			return '"';
		case '\\':
			return '\\';
		case '\b':
			return 'b';
		case '\f':
			return 'f';
		case '\n':
			return 'n';
		case '\r':
			return 'r';
		case '\t':
			return 't';
	}
	return 0;
}

/*
 * string_text_size
 *		Bytes of a string (len bytes at s) as JSON text, quotes included.
 */
static size_t
string_text_size(const char *s, int len)
{
	size_t		size = 2 + (size_t) len;
	int			i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		size += short_escape(c) ? 1 : 5;
	}
	return size;
}

/*
 * write_string
 *		A string as JSON text at w; returns the end.
 */
static char *
write_string(const char *s, int len, char *w)
{
	const char *run = s;
	const char *p;

	*w++ = '"';
	for (p = s; p < s + len; p++)
	{
		unsigned char c = (unsigned char) *p;
		char		letter;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		memcpy(w, run, p - run);
		w += p - run;
		run = p + 1;
		*w++ = '\\';
		letter = short_escape(c);
		if (letter)
			*w++ = letter;
		else
		{
			/* other bytes below 0x20 */
			memcpy(w, "u00", 3);
			w[3] = "0123456789abcdef"[c >> 4];
			w[4] = "0123456789abcdef"[c & 0xF];
			w += 5;
		}
	}
	memcpy(w, run, p - run);
	w += p - run;
	*w++ = '"';
	return w;
}

/*
 * literal_text
 *		The word of a null or boolean value.
 */
static inline const char *
literal_text(const GcJson *val)
{
	if (val->type == GC_JSON_NULL)
		return "null";
	return val->boolean ? "true" : "false";
}

/*
 * gc_json_text_size
 *		Bytes of val as compact JSON text (what gc_json_write_text writes).
 *		Recursion is bounded by the parser's nesting limit.
 */
size_t
gc_json_text_size(const GcJson *val)
{
	const GcJson *child;
	size_t		size;

	switch (val->type)
	{
		case GC_JSON_NULL:
		case GC_JSON_BOOL:
			return strlen(literal_text(val));
		case GC_JSON_NUMBER:
			return (size_t) val->len;
		case GC_JSON_STRING:
			return string_text_size(val->str, val->len);
		case GC_JSON_ARRAY:
		case GC_JSON_OBJECT:
			/* brackets, and a comma between children */
			size = val->first ? 1 + (size_t) val->len : 2;
			for (child = val->first; child != NULL; child = child->next)
			{
				if (val->type == GC_JSON_OBJECT)
					size += string_text_size(child->key, child->keylen) + 1;
				size += gc_json_text_size(child);
			}
			return size;
	}
	return 0;
}

/*
 * gc_json_write_text
 *		val as compact JSON text at out (no spaces, members in document
 *		order, numbers in the digits sent), gc_json_text_size(val) bytes
 *		with no NUL after them; returns the end.
 */
char *
gc_json_write_text(const GcJson *val, char *out)
{
	const GcJson *child;

	switch (val->type)
	{
		case GC_JSON_NULL:
		case GC_JSON_BOOL:
			memcpy(out, literal_text(val), strlen(literal_text(val)));
			return out + strlen(literal_text(val));
		case GC_JSON_NUMBER:
			memcpy(out, val->str, val->len);
			return out + val->len;
		case GC_JSON_STRING:
			return write_string(val->str, val->len, out);
		case GC_JSON_ARRAY:
		case GC_JSON_OBJECT:
			*out++ = val->type == GC_JSON_OBJECT ? '{' : '[';
			for (child = val->first; child != NULL; child = child->next)
			{
				if (child != val->first)
					*out++ = ',';
				if (val->type == GC_JSON_OBJECT)
				{
					out = write_string(child->key, child->keylen, out);
					*out++ = ':';
				}
				out = gc_json_write_text(child, out);
			}
			*out++ = val->type == GC_JSON_OBJECT ? '}' : ']';
			return out;
	}
	return out;
}
