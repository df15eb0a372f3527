/*-------------------------------------------------------------------------
 *
 * json_oracle.c
 *		  An oracle for tests/fuzz/fuzz_json.c: reads a JSON text the way
 *		  RFC 8259 and src/json_parse.h's contract say it reads, to judge
 *		  src/json_parse.c by.
 *
 * The contract's choices where RFC 8259 leaves room: raw control
 * characters are allowed in strings; a \u escape of a UTF-16 high surrogate
 * followed at once by one of a low surrogate is one code point, and any
 * other surrogate is U+FFFD; nesting deeper than GC_JSON_MAX_DEPTH is
 * refused at the bracket that goes past it; a NUL byte is never part of a
 * document; whitespace may follow it.  Written as a loop over an explicit
 * stack of open containers, one token at a time, where the parser is a
 * recursive descent, so that the two do not share a way of going wrong.
 * Owns: the verdict on an input, the first byte no document can have
 * there, and the compact text a document is written back as (the parser's
 * documented escapes).  Does not: call the parser, or allocate through it.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_oracle.h"
#include "json_parse.h"

/* ----------------------------------------------------------------
 * A growable byte buffer (the oracle's text)
 * ----------------------------------------------------------------
 */

/*
 * text_put
 *		Append n bytes to t, growing it as needed.
 */
static void
text_put(Text *t, const void *bytes, size_t n)
{
	if (t->len + n > t->cap)
	{
		size_t		cap = t->cap ? t->cap : 256;

		while (cap < t->len + n)
			cap *= 2;
		t->data = realloc(t->data, cap);
		if (t->data == NULL)
		{
			fprintf(stderr, "json_oracle: out of memory (%zu bytes)\n", cap);
			abort();
		}
		t->cap = cap;
	}
	memcpy(t->data + t->len, bytes, n);
	t->len += n;
}

/*
 * text_byte
 *		Append one byte to t.
 */
static void
text_byte(Text *t, char c)
{
	text_put(t, &c, 1);
}

/* ----------------------------------------------------------------
 * The oracle
 * ----------------------------------------------------------------
 */

/* What may come next, between tokens */
typedef enum Expect
{
	EXPECT_VALUE,
	EXPECT_VALUE_OR_CLOSE,		/* just after '[' */
	EXPECT_NAME,				/* after ',' in an object */
	EXPECT_NAME_OR_CLOSE,		/* just after '{' */
	EXPECT_COLON,
	EXPECT_COMMA_OR_CLOSE,
	EXPECT_NOTHING				/* the document is complete */
} Expect;

/* How a token scan ended */
typedef enum Scan
{
	SCAN_OK,
	SCAN_CUT,					/* the input ended inside it */
	SCAN_BAD					/* at *bad */
} Scan;

/*
 * is_hex
 *		Whether c is a hex digit (RFC 8259's HEXDIG, either case).
 */
static bool
is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * hex_of
 *		The value of hex digit c.
 */
static unsigned
hex_of(uint8_t c)
{
	if (c <= '9')
		return c - '0';
	return (c | 0x20) - 'a' + 10;
}

/*
 * four_hex
 *		The four hex digits at s[i..i+3] as a code unit: SCAN_CUT when the
 *		input ends first, SCAN_BAD (at *bad) at a byte that is not a digit.
 */
static Scan
four_hex(const uint8_t *s, size_t n, size_t i, unsigned *unit, size_t *bad)
{
	size_t		k;

	*unit = 0;
	for (k = 0; k < 4; k++)
	{
		if (i + k >= n)
			return SCAN_CUT;
		if (!is_hex(s[i + k]))
		{
			*bad = i + k;
			return SCAN_BAD;
		}
		*unit = (*unit << 4) | hex_of(s[i + k]);
	}
	return SCAN_OK;
}

/*
 * put_code_point
 *		A code point's UTF-8 bytes, as RFC 3629 encodes them.
 */
static void
put_code_point(Text *out, unsigned cp)
{
	uint8_t		b[4];
	size_t		n;

	if (cp <= 0x7F)
	{
		b[0] = (uint8_t) cp;
		n = 1;
	}
	else if (cp <= 0x7FF)
	{
		b[0] = 0xC0 + (cp >> 6);
		b[1] = 0x80 + (cp & 0x3F);
		n = 2;
	}
	else if (cp <= 0xFFFF)
	{
		b[0] = 0xE0 + (cp >> 12);
		b[1] = 0x80 + ((cp >> 6) & 0x3F);
		b[2] = 0x80 + (cp & 0x3F);
		n = 3;
	}
	else
	{
		b[0] = 0xF0 + (cp >> 18);
		b[1] = 0x80 + ((cp >> 12) & 0x3F);
		b[2] = 0x80 + ((cp >> 6) & 0x3F);
		b[3] = 0x80 + (cp & 0x3F);
		n = 4;
	}
	text_put(out, b, n);
}

/*
 * put_string_text
 *		Decoded string bytes as the contract says they are written: '"' and
 *		'\' escaped, bytes below 0x20 as \b \f \n \r \t or \u00xx (lower
 *		case), every other byte as it is (bytes above 0x7F included).
 */
static void
put_string_text(Text *out, const Text *decoded)
{
	static const char digits[] = "0123456789abcdef";
	size_t		i;

	text_byte(out, '"');
	for (i = 0; i < decoded->len; i++)
	{
		uint8_t		c = (uint8_t) decoded->data[i];
		char		esc[6] = {'\\', 0, 0, 0, 0, 0};

		if (c == '"' || c == '\\')
		{
			esc[1] = c;
			text_put(out, esc, 2);
		}
		else if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
		{
			esc[1] = c == '\b' ? 'b' : c == '\f' ? 'f' : c == '\n' ? 'n' :
				c == '\r' ? 'r' : 't';
			text_put(out, esc, 2);
		}
		else if (c < 0x20)
		{
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = digits[c >> 4];
			esc[5] = digits[c & 15];
			text_put(out, esc, 6);
		}
		else
			text_byte(out, (char) c);
	}
	text_byte(out, '"');
}

/*
 * oracle_string
 *		The string whose quote is at s[*i]: decoded, then written to out.
 *		The decoding reads a high surrogate escape followed at once by a
 *		low one as one code point, and any other surrogate as U+FFFD; the
 *		escape after an unpaired high surrogate is read on its own.
 */
static Scan
oracle_string(const uint8_t *s, size_t n, size_t *i, size_t *bad, Text *out)
{
	Text		decoded = {0};
	size_t		j = *i + 1;
	Scan		result = SCAN_OK;

	for (;;)
	{
		uint8_t		c;

		if (j >= n)
		{
			result = SCAN_CUT;
			break;
		}
		c = s[j];
		if (c == '"')
		{
			j++;
			break;
		}
		if (c == '\0')
		{
			*bad = j;
			result = SCAN_BAD;
			break;
		}
		if (c != '\\')
		{
			text_byte(&decoded, (char) c);
			j++;
			continue;
		}
		if (j + 1 >= n)
		{
			result = SCAN_CUT;
			break;
		}
		c = s[j + 1];
		if (c == 'u')
		{
			unsigned	unit;
			unsigned	low;
			size_t		ignored;

			result = four_hex(s, n, j + 2, &unit, bad);
			if (result != SCAN_OK)
				break;
			j += 6;
			if (unit >= 0xD800 && unit <= 0xDBFF && j + 1 < n &&
				s[j] == '\\' && s[j + 1] == 'u' &&
				four_hex(s, n, j + 2, &low, &ignored) == SCAN_OK &&
				low >= 0xDC00 && low <= 0xDFFF)
			{
				put_code_point(&decoded,
							   0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
				j += 6;
			}
			else if (unit >= 0xD800 && unit <= 0xDFFF)
				put_code_point(&decoded, 0xFFFD);
			else
				put_code_point(&decoded, unit);
			continue;
		}
		if (c == '"' || c == '\\' || c == '/')
			text_byte(&decoded, (char) c);
		else if (c == 'b')
			text_byte(&decoded, '\b');
		else if (c == 'f')
			text_byte(&decoded, '\f');
		else if (c == 'n')
			text_byte(&decoded, '\n');
		else if (c == 'r')
			text_byte(&decoded, '\r');
		else if (c == 't')
			text_byte(&decoded, '\t');
		else
		{
			*bad = j + 1;
			result = SCAN_BAD;
			break;
		}
		j += 2;
	}
	if (result == SCAN_OK)
		put_string_text(out, &decoded);
	free(decoded.data);
	*i = j;
	return result;
}

/*
 * oracle_number
 *		RFC 8259's number at s[*i]: minus? int frac? exp?, copied as sent.
 */
static Scan
oracle_number(const uint8_t *s, size_t n, size_t *i, size_t *bad, Text *out)
{
	size_t		j = *i;

#define NEED_DIGIT() \
	do { \
		if (j >= n) \
			return SCAN_CUT; \
		if (s[j] < '0' || s[j] > '9') \
		{ \
			*bad = j; \
			return SCAN_BAD; \
		} \
	} while (0)

	if (j < n && s[j] == '-')
		j++;
	NEED_DIGIT();
	if (s[j] == '0')
		j++;
	else
		while (j < n && s[j] >= '0' && s[j] <= '9')
			j++;
	if (j < n && s[j] == '.')
	{
		j++;
		NEED_DIGIT();
		while (j < n && s[j] >= '0' && s[j] <= '9')
			j++;
	}
	if (j < n && (s[j] == 'e' || s[j] == 'E'))
	{
		j++;
		if (j < n && (s[j] == '+' || s[j] == '-'))
			j++;
		NEED_DIGIT();
		while (j < n && s[j] >= '0' && s[j] <= '9')
			j++;
	}
#undef NEED_DIGIT
	text_put(out, s + *i, j - *i);
	*i = j;
	return SCAN_OK;
}

/*
 * oracle_word
 *		The literal word at s[*i], byte by byte.
 */
static Scan
oracle_word(const uint8_t *s, size_t n, size_t *i, size_t *bad, const char *word,
			Text *out)
{
	size_t		k;

	for (k = 0; word[k]; k++)
	{
		if (*i + k >= n)
			return SCAN_CUT;
		if (s[*i + k] != (uint8_t) word[k])
		{
			*bad = *i + k;
			return SCAN_BAD;
		}
	}
	text_put(out, word, k);
	*i += k;
	return SCAN_OK;
}

/*
 * oracle_read
 *		Read s (n bytes) into o: its verdict and, for a document, its
 *		compact text and number of values.
 */
void
oracle_read(const uint8_t *s, size_t n, Oracle *o)
{
	char		open[GC_JSON_MAX_DEPTH];	/* '{' or '[' per level */
	int			depth = 0;
	Expect		expect = EXPECT_VALUE;
	size_t		i = 0;

	memset(o, 0, sizeof(*o));
	for (;;)
	{
		Scan		scan = SCAN_OK;
		uint8_t		c;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
			i++;
		if (i >= n)
		{
			o->verdict = expect == EXPECT_NOTHING ? DOCUMENT : VALID_START;
			return;
		}
		c = s[i];
		switch (expect)
		{
			case EXPECT_NOTHING:
				scan = SCAN_BAD;
				o->bad = i;
				break;
			case EXPECT_COLON:
				if (c != ':')
				{
					scan = SCAN_BAD;
					o->bad = i;
					break;
				}
				text_byte(&o->text, ':');
				i++;
				expect = EXPECT_VALUE;
				break;
			case EXPECT_NAME:
			case EXPECT_NAME_OR_CLOSE:
				if (c == '}' && expect == EXPECT_NAME_OR_CLOSE)
					goto close;
				if (c != '"')
				{
					scan = SCAN_BAD;
					o->bad = i;
					break;
				}
				scan = oracle_string(s, n, &i, &o->bad, &o->text);
				expect = EXPECT_COLON;
				break;
			case EXPECT_COMMA_OR_CLOSE:
				if (c == ',')
				{
					text_byte(&o->text, ',');
					i++;
					expect = open[depth - 1] == '{' ? EXPECT_NAME : EXPECT_VALUE;
					break;
				}
				if (c == (open[depth - 1] == '{' ? '}' : ']'))
					goto close;
				scan = SCAN_BAD;
				o->bad = i;
				break;
			case EXPECT_VALUE_OR_CLOSE:
				if (c == ']')
					goto close;
				/* FALLTHROUGH */
			case EXPECT_VALUE:
				o->values++;
				if (c == '{' || c == '[')
				{
					if (depth == GC_JSON_MAX_DEPTH)
					{
						scan = SCAN_BAD;
						o->bad = i;
						o->too_deep = true;
						break;
					}
					open[depth++] = (char) c;
					text_byte(&o->text, (char) c);
					i++;
					expect = c == '{' ? EXPECT_NAME_OR_CLOSE : EXPECT_VALUE_OR_CLOSE;
					break;
				}
				if (c == '"')
					scan = oracle_string(s, n, &i, &o->bad, &o->text);
				else if (c == 't')
					scan = oracle_word(s, n, &i, &o->bad, "true", &o->text);
				else if (c == 'f')
					scan = oracle_word(s, n, &i, &o->bad, "false", &o->text);
				else if (c == 'n')
					scan = oracle_word(s, n, &i, &o->bad, "null", &o->text);
				else if (c == '-' || (c >= '0' && c <= '9'))
					scan = oracle_number(s, n, &i, &o->bad, &o->text);
				else
				{
					scan = SCAN_BAD;
					o->bad = i;
				}
				expect = depth == 0 ? EXPECT_NOTHING : EXPECT_COMMA_OR_CLOSE;
				break;
		}
		if (scan == SCAN_CUT)
		{
			o->verdict = VALID_START;
			return;
		}
		if (scan == SCAN_BAD)
		{
			o->verdict = NOT_JSON;
			return;
		}
		continue;

close:
		text_byte(&o->text, (char) c);
		i++;
		depth--;
		expect = depth == 0 ? EXPECT_NOTHING : EXPECT_COMMA_OR_CLOSE;
	}
}

