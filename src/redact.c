/*-------------------------------------------------------------------------
 *
 * redact.c
 *		  The secrets this backend must never print, and their removal from
 *		  text a remote end sent.
 *
 * Owns the fingerprints of the client secrets, Basic credentials (the
 * base64 of client_id:client_secret) and access tokens this backend has
 * used: the current ones and the most recent before them, up to
 * GC_REDACT_SECRETS.  A fingerprint is the secret's length and two seeded
 * 64-bit hashes of it, never its bytes, so remembering a replaced token
 * keeps no copy of it.  gc_redact() finds every occurrence of a remembered
 * secret in a text (a rolling hash over each window of a secret's length,
 * confirmed by the second hash) and replaces it by GC_REDACTED, as it
 * does the string value of any access_token, refresh_token or id_token
 * member, remembered or not (a token in a refused answer is still one).
 *
 * Remote text reaches messages through gc_one_line (retry.c), which calls
 * gc_redact before it cuts the text short, so that no secret is ever cut
 * in two with its first half shown.
 *
 * Layering: a leaf.  auth.c remembers secrets; retry.c redacts.
 *
 * Must not: keep the bytes of a secret; raise an error (it runs while
 * errors are being worded); allocate outside the current memory context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "gc_fdw.h"

/* Secrets remembered at once: the current ones of every mapping in use,
 * and the most recently replaced */
#define GC_REDACT_SECRETS	64

/* One remembered secret */
typedef struct GcFingerprint
{
	size_t		len;			/* 0: the slot is empty */
	uint64		rolling;		/* polynomial hash, base gc_base */
	uint64		confirm;		/* hash_bytes_extended, seed gc_seed */
	uint64		used;			/* gc_clock when last remembered */
} GcFingerprint;

static GcFingerprint gc_prints[GC_REDACT_SECRETS];
static uint64 gc_clock = 0;
static uint64 gc_base = 0;		/* odd; random per backend */
static uint64 gc_seed = 0;
static size_t gc_longest = 0;

/*
 * gc_redact_seed
 *		Choose this backend's hash base and seed, once.  Random so that
 *		the fingerprints in one backend's memory say nothing about another's.
 */
static void
gc_redact_seed(void)
{
	uint64		random_bits[2];

	if (gc_base != 0)
		return;
	if (!pg_strong_random(random_bits, sizeof(random_bits)))
	{
		random_bits[0] = (uint64) MyProcPid * UINT64CONST(0x9E3779B97F4A7C15);
		random_bits[1] = (uint64) GetCurrentTimestamp();
	}
	gc_base = random_bits[0] | 1;
	gc_seed = random_bits[1];
}

/*
 * gc_rolling_hash
 *		Polynomial hash of len bytes, base gc_base, modulo 2^64.
 */
static uint64
gc_rolling_hash(const char *bytes, size_t len)
{
	uint64		h = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		h = h * gc_base + (unsigned char) bytes[i];
	return h;
}

/*
 * gc_redact_remember
 *		Remember a secret of len bytes: from now on gc_redact replaces it.
 *		Remembering one again keeps it among the most recent; the least
 *		recently remembered makes room for a new one.
 */
void
gc_redact_remember(const char *secret, size_t len)
{
	GcFingerprint *slot = NULL;
	uint64		rolling;
	uint64		confirm;
	int			i;

	if (secret == NULL || len == 0)
		return;
	gc_redact_seed();
	rolling = gc_rolling_hash(secret, len);
	confirm = hash_bytes_extended((const unsigned char *) secret, (int) len, gc_seed);
	gc_clock++;
	for (i = 0; i < GC_REDACT_SECRETS; i++)
	{
		GcFingerprint *fp = &gc_prints[i];

		if (fp->len == len && fp->rolling == rolling && fp->confirm == confirm)
		{
			fp->used = gc_clock;
			return;
		}
		if (slot == NULL || fp->used < slot->used)
			slot = fp;
	}
	slot->len = len;
	slot->rolling = rolling;
	slot->confirm = confirm;
	slot->used = gc_clock;
	gc_longest = 0;
	for (i = 0; i < GC_REDACT_SECRETS; i++)
		gc_longest = Max(gc_longest, gc_prints[i].len);
}

/*
 * gc_redact_longest
 *		Length of the longest secret remembered (0: none).  A text cut at
 *		n bytes must be redacted over n + gc_redact_longest() bytes first.
 */
size_t
gc_redact_longest(void)
{
	return gc_longest;
}

/*
 * gc_redact_mark
 *		Set mark[i] for every byte of text that belongs to an occurrence of
 *		a remembered secret of length len.  Returns whether any did.
 */
static bool
gc_redact_mark(const char *text, size_t text_len, size_t len, bool *mark)
{
	uint64		top = 1;		/* gc_base^(len - 1): the leaving byte's weight */
	uint64		h;
	bool		found = false;
	size_t		start;
	size_t		i;
	int			k;

	for (i = 1; i < len; i++)
		top *= gc_base;
	h = gc_rolling_hash(text, len);
	for (start = 0;; start++)
	{
		for (k = 0; k < GC_REDACT_SECRETS; k++)
		{
			const GcFingerprint *fp = &gc_prints[k];

			if (fp->len == len && fp->rolling == h &&
				hash_bytes_extended((const unsigned char *) text + start,
									(int) len, gc_seed) == fp->confirm)
			{
				memset(mark + start, true, len);
				found = true;
				break;
			}
		}
		if (start + len >= text_len)
			break;
		h = (h - top * (unsigned char) text[start]) * gc_base +
			(unsigned char) text[start + len];
	}
	return found;
}

/*
 * The JSON members whose string value is a credential whoever sent it: an
 * access token in an answer that also says it failed (a proxy, a
 * misbehaving endpoint) was never remembered, yet must not be shown.
 */
static const char *const gc_token_members[] = {
	"access_token", "refresh_token", "id_token", NULL
};

/* Skip JSON white space in text from j; returns the first other byte's index */
static size_t
gc_skip_space(const char *text, size_t len, size_t j)
{
	while (j < len && (text[j] == ' ' || text[j] == '\t' ||
					   text[j] == '\r' || text[j] == '\n'))
		j++;
	return j;
}

/* Skip a quote, escaped (\") or not; returns len when there is none at j */
static size_t
gc_skip_quote(const char *text, size_t len, size_t j)
{
	if (j + 1 < len && text[j] == '\\' && text[j + 1] == '"')
		return j + 2;
	if (j < len && text[j] == '"')
		return j + 1;
	return len;
}

/*
 * gc_redact_members
 *		Set mark[i] for every byte of the string value of a token member
 *		(gc_token_members) in text, from after its opening quote to its
 *		closing one, or to the end of text when the text stops inside it.
 *		The member may be quoted as JSON text inside a JSON string (\"),
 *		and text that is not JSON is scanned the same way: the pattern is
 *		what matters, not whether the whole parses.  Returns whether any
 *		byte was marked.
 */
static bool
gc_redact_members(const char *text, size_t len, bool *mark)
{
	bool		found = false;
	int			m;

	for (m = 0; gc_token_members[m] != NULL; m++)
	{
		const char *key = gc_token_members[m];
		size_t		key_len = strlen(key);
		size_t		i;

		for (i = 1; i + key_len <= len; i++)
		{
			size_t		j;

			if (text[i - 1] != '"' || memcmp(text + i, key, key_len) != 0)
				continue;
			j = gc_skip_quote(text, len, i + key_len);
			j = gc_skip_space(text, len, j);
			if (j >= len || text[j] != ':')
				continue;
			j = gc_skip_quote(text, len, gc_skip_space(text, len, j + 1));
			/* the value, up to a quote (an escaped one ends it too) */
			for (; j < len && text[j] != '"'; j++)
			{
				if (text[j] == '\\' && j + 1 < len && text[j + 1] == '"')
					break;
				mark[j] = true;
				found = true;
			}
			i = j;
		}
	}
	return found;
}

/*
 * gc_redact
 *		palloc'd, NUL-terminated copy of len bytes of text in which every
 *		occurrence of a remembered secret is replaced by GC_REDACTED (a run
 *		of overlapping or adjacent ones by a single marker); its length in
 *		*out_len.  The text may hold NUL bytes.
 */
char *
gc_redact(const char *text, size_t len, size_t *out_len)
{
	bool	   *mark = NULL;
	bool		found = false;
	StringInfoData out;
	size_t		done[GC_REDACT_SECRETS];
	int			lengths = 0;
	size_t		i;
	int			k;

	for (k = 0; k < GC_REDACT_SECRETS; k++)
	{
		size_t		secret_len = gc_prints[k].len;
		int			j;

		if (secret_len == 0 || secret_len > len)
			continue;
		/* one pass per distinct length */
		for (j = 0; j < lengths && done[j] != secret_len; j++)
			;
		if (j < lengths)
			continue;
		done[lengths++] = secret_len;
		if (mark == NULL)
			mark = palloc0(len);
		found |= gc_redact_mark(text, len, secret_len, mark);
	}

	/* token members' values, remembered or not */
	if (len > 0)
	{
		if (mark == NULL)
			mark = palloc0(len);
		found |= gc_redact_members(text, len, mark);
	}

	initStringInfo(&out);
	if (!found)
		appendBinaryStringInfo(&out, text, (int) len);
	else
	{
		for (i = 0; i < len; i++)
		{
			if (!mark[i])
				appendStringInfoChar(&out, text[i]);
			else if (i == 0 || !mark[i - 1])
				appendStringInfoString(&out, GC_REDACTED);
		}
	}
	if (mark != NULL)
		pfree(mark);
	*out_len = (size_t) out.len;
	return out.data;
}
