/*-------------------------------------------------------------------------
 *
 * windows.c
 *		  Interval windows, shared by the analytics drivers (details query
 *		  and jobs): cutting a scan's interval at UTC midnights into windows
 *		  the API accepts, splitting a window the API refuses as too large,
 *		  and remembering the ids a window returned, so that a row returned
 *		  twice (pages shifting under live traffic, a split) counts once.
 *
 * The analytics API matches whole UTC days: a window's requests return
 * every object of the days it touches, and each driver keeps only the
 * objects whose start falls in the window (gc_windows_holds), so windows
 * partition the interval and each object belongs to exactly one.
 *
 * Memory: the id sets live in the window context, reset when a new window
 * starts (not when a split half does: a half must not repeat what its
 * parent returned); the halves still to read live in the list context.
 * Owns no I/O.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "gc_fdw.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* Longest id kept (a UUID, or a UUID and an ISO 8601 timestamp) */
#define GC_ID_MAX 96

typedef struct GcIdEntry
{
	char		id[GC_ID_MAX];
} GcIdEntry;

struct GcIdSet
{
	HTAB	   *hash;
};

static bool next_window(GcWindows *w);

/*
 * gc_id_set_create
 *		An empty set of ids in cxt (freed with it).
 */
GcIdSet *
gc_id_set_create(MemoryContext cxt)
{
	GcIdSet    *set = MemoryContextAlloc(cxt, sizeof(GcIdSet));
	HASHCTL		ctl;

	ctl.keysize = GC_ID_MAX;
	ctl.entrysize = sizeof(GcIdEntry);
	ctl.hcxt = cxt;
	set->hash = hash_create("gc_fdw ids", 1024, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	return set;
}

/*
 * gc_id_set_add
 *		Add id to set; true when it was there already.  Ids too long to be
 *		Genesys ids are never taken for repeats.
 */
bool
gc_id_set_add(GcIdSet *set, const char *id)
{
	bool		found;

	if (id == NULL || strlen(id) >= GC_ID_MAX)
		return false;
	hash_search(set->hash, id, HASH_ENTER, &found);
	return found;
}

/*
 * gc_utc_day_floor
 *		UTC midnight at or before ts.
 */
TimestampTz
gc_utc_day_floor(TimestampTz ts)
{
	TimestampTz rem = ts % USECS_PER_DAY;

	return ts - (rem < 0 ? rem + USECS_PER_DAY : rem);
}

/*
 * gc_windows_init
 *		Prepare to read [lo, hi) in windows of at most max_days, newest first
 *		when descending.  No window is current until gc_windows_next.
 */
void
gc_windows_init(GcWindows *w, TimestampTz lo, TimestampTz hi, int max_days,
				bool descending, MemoryContext window_cxt,
				MemoryContext list_cxt)
{
	memset(w, 0, sizeof(GcWindows));
	w->lo = lo;
	w->hi = hi;
	w->max_days = max_days;
	w->descending = descending;
	/* windows are cut from this end towards the other */
	w->start = w->end = descending ? hi : lo;
	w->window_cxt = window_cxt;
	w->list_cxt = list_cxt;
}

/*
 * gc_windows_overlap
 *		Read the records overlapping [lo, hi) rather than those starting in
 *		it: a record is returned by every window it touches, so no window
 *		owns it, and its repeats are met across windows (the ids are kept
 *		for the whole interval, in the list context).
 */
void
gc_windows_overlap(GcWindows *w)
{
	w->overlap = true;
	w->seen = gc_id_set_create(w->list_cxt);
}

/*
 * gc_windows_next
 *		Move scan's series of windows w to its next window: the other half
 *		of a split window if one is pending, else the next window of at most
 *		max_days, cut at UTC midnights (the window context reset).  Counts
 *		it in EXPLAIN's Windows Read and shows it in gc_fdw.progress.  False
 *		when the interval is done.
 */
bool
gc_windows_next(GcScan *scan, GcWindows *w)
{
	if (!next_window(w))
		return false;
	scan->stats.windows++;
	gc_progress_window(scan->progress_id, w->start, w->end, w->started);
	return true;
}

/* gc_windows_next's move, on the series alone */
static bool
next_window(GcWindows *w)
{
	TimestampTz span = (TimestampTz) w->max_days * USECS_PER_DAY;

	if (w->pending != NIL)
	{
		/* its parent's ids stay in carried: nothing returned again */
		TimestampTz *half = linitial(w->pending);

		w->pending = list_delete_first(w->pending);
		w->start = half[0];
		w->end = half[1];
		w->started++;
		return true;
	}
	if (!w->descending)
	{
		if (w->end >= w->hi)
			return false;
		w->start = w->end;
		w->end = Min(w->hi, gc_utc_day_floor(w->start) + span);
	}
	else
	{
		if (w->start <= w->lo)
			return false;
		w->end = w->start;
		w->start = Max(w->lo, gc_utc_day_floor(w->end - 1) + USECS_PER_DAY - span);
	}
	w->started++;
	MemoryContextReset(w->window_cxt);
	if (!w->overlap)
	{
		w->carried = NULL;
		w->seen = gc_id_set_create(w->window_cxt);
	}
	return true;
}

/*
 * gc_windows_split
 *		Split the current window at a UTC midnight near its middle and make
 *		the half read first current (the other waits in pending).  The ids
 *		returned so far are carried, so the halves return none of them
 *		again.  False, changing nothing, when the window is one UTC day:
 *		the API matches whole days, so it cannot shrink.
 */
bool
gc_windows_split(GcWindows *w)
{
	TimestampTz first_day = gc_utc_day_floor(w->start);
	TimestampTz mid;
	TimestampTz *later;
	TimestampTz *earlier;
	HASH_SEQ_STATUS scan;
	GcIdEntry  *entry;

	if (first_day == gc_utc_day_floor(w->end - 1))
		return false;
	mid = gc_utc_day_floor(w->start + (w->end - w->start) / 2);
	if (mid <= w->start)
		mid = first_day + USECS_PER_DAY;

	earlier = MemoryContextAlloc(w->list_cxt, 2 * sizeof(TimestampTz));
	later = MemoryContextAlloc(w->list_cxt, 2 * sizeof(TimestampTz));
	earlier[0] = w->start;
	earlier[1] = mid;
	later[0] = mid;
	later[1] = w->end;
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(w->list_cxt);

		w->pending = lcons(w->descending ? earlier : later, w->pending);
		MemoryContextSwitchTo(oldcxt);
	}
	if (w->descending)
		w->start = mid;
	else
		w->end = mid;

	/* overlapping records: the interval's ids are kept already */
	if (w->overlap)
		return true;
	if (w->carried == NULL)
		w->carried = gc_id_set_create(w->window_cxt);
	hash_seq_init(&scan, w->seen->hash);
	while ((entry = hash_seq_search(&scan)) != NULL)
		hash_search(w->carried->hash, entry->id, HASH_ENTER, NULL);
	hash_destroy(w->seen->hash);
	w->seen = gc_id_set_create(w->window_cxt);
	elog(DEBUG1, "gc_fdw: window too large for the API, split at %s",
		 gc_format_timestamp(mid, false));
	return true;
}

/*
 * gc_windows_holds
 *		Whether an object whose start is the ISO 8601 timestamp given (NULL
 *		when it has none) belongs to the current window.
 */
bool
gc_windows_holds(GcWindows *w, const char *timestamp)
{
	TimestampTz ts;

	if (timestamp == NULL)
		return true;
	ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												 CStringGetDatum(timestamp),
												 ObjectIdGetDatum(InvalidOid),
												 Int32GetDatum(-1)));
	return ts >= w->start && ts < w->end;
}

/*
 * gc_windows_repeat
 *		Whether the current window (or the window it split from) already
 *		returned id, remembering it as met by this window either way: met
 *		twice in one window (or half) is GC_REPEAT_WINDOW, even when the
 *		window it split from returned it too.  Ids too long to be Genesys
 *		ids are never taken for repeats.
 */
GcRepeat
gc_windows_repeat(GcWindows *w, const char *id)
{
	if (id == NULL || strlen(id) >= GC_ID_MAX)
		return GC_REPEAT_NONE;
	if (gc_id_set_add(w->seen, id))
		return GC_REPEAT_WINDOW;
	if (w->carried != NULL && hash_search(w->carried->hash, id, HASH_FIND, NULL))
		return GC_REPEAT_CARRIED;
	return GC_REPEAT_NONE;
}

/*
 * gc_windows_count
 *		How many windows of at most days gc_windows_next cuts [lo, hi) into.
 */
int
gc_windows_count(TimestampTz lo, TimestampTz hi, int days, bool descending)
{
	TimestampTz span = (TimestampTz) days * USECS_PER_DAY;
	int			n = 0;

	while (lo < hi)
	{
		if (descending)
			hi = Max(lo, gc_utc_day_floor(hi - 1) + USECS_PER_DAY - span);
		else
			lo = Min(hi, gc_utc_day_floor(lo) + span);
		n++;
	}
	return n;
}

/*
 * gc_windows_judge_top
 *		For an API whose interval field is on its top objects (a
 *		conversation's start): whether the cursor's object belongs to the
 *		current window (the API returns whole UTC days) and whether it was
 *		returned before (pages shift under live traffic; a split).  For an
 *		API whose rows are judged instead, always new.
 */
GcWindowVerdict
gc_windows_judge_top(GcScan *scan, GcWindows *w)
{
	if (scan->api->interval_on_rows)
		return GC_WINDOW_NEW;
	if (!w->overlap &&
		!gc_windows_holds(w, gc_scan_top_string(scan, scan->api->interval_field)))
		return GC_WINDOW_OUTSIDE;
	return gc_windows_repeat(w, gc_scan_top_string(scan, scan->api->top_id_key)) !=
		GC_REPEAT_NONE ? GC_WINDOW_REPEAT : GC_WINDOW_NEW;
}

/*
 * gc_windows_judge_row
 *		For an API whose records carry the interval field (a status
 *		record's start): the same for the cursor's row, a record being
 *		known by its object's id and its start.  Otherwise always new.
 */
GcWindowVerdict
gc_windows_judge_row(GcScan *scan, GcWindows *w)
{
	char	   *start;

	if (!scan->api->interval_on_rows)
		return GC_WINDOW_NEW;
	start = gc_scan_row_string(scan, scan->api->interval_field);
	if (!w->overlap && !gc_windows_holds(w, start))
		return GC_WINDOW_OUTSIDE;
	return gc_windows_repeat(w, psprintf("%s/%s",
										 gc_scan_top_string(scan, scan->api->top_id_key),
										 start ? start : "")) != GC_REPEAT_NONE ?
		GC_WINDOW_REPEAT : GC_WINDOW_NEW;
}
