"""Pre-rendered pages: serving fast enough not to be the benchmark bottleneck.

Owns: the caches one dataset version serves repeatedly (conversations by
UTC start day, the hit list of each sync query, rendered page bodies in
identity and gzip), the byte-exact page bodies of the details query and of
job results, POST /__emu/prerender, and serve_page, through which an
endpoint answers a cacheable page.

Must not: decide whether a request is answered at all (auth, rate limit,
validation and faults come first), or cache a page a fault fired on.
"""

import gzip
import threading
import time
from collections import OrderedDict

from .exchange import Reply
from .queries import conversation_matches, details_offset, parse_details_query, sort_conversations
from .wire import DAY_MS, canonical_json, dumps_bytes

# gzip level of every compressed answer.  Measured on a 100-conversation
# details page (368 KB) at --scale 40: level 1 gives 71 KB in 1.9 ms, 6 gives
# 54 KB in 4.3 ms, 9 gives 53 KB in 8.3 ms; decompressing level 6 is also
# faster for the client (0.54 ms against 0.70 ms at level 1).  Cached pages
# pay the compression once, so 6 (zlib's default, what gateways send) costs
# nothing per request and keeps the bytes on the wire close to the real API.
GZIP_LEVEL = 6
# Rendered-page cache budget per dataset version (identity plus gzip bytes;
# least recently used pages go first).  --page-cache-mb changes it.
PAGE_CACHE_BYTES = 2048 * 1024 * 1024
# Hit lists (the matching conversations of one query, sorted) kept per
# dataset version; a week at --scale 250 is ~70,000 references (0.5 MB).
QUERY_CACHE_ENTRIES = 128

# ---------------------------------------------------------------------------
# Pre-rendered pages: serving fast enough not to be the benchmark bottleneck
# ---------------------------------------------------------------------------
#
# A published Dataset is never modified (mutations publish forks), so
# everything derived from one version can be kept with it and needs no
# invalidation: /__emu/mutate and user PATCHes publish a fork with an empty
# ServeCache, and /__emu/reset switches back to the pristine dataset, whose
# cache is still right.  Settings that change a body (page_shift,
# availability_date) are part of the cache keys; the ones that only decide
# whether a request is answered at all (max_results, rate_limit, tokens)
# are checked before the cache is consulted, per request.  A request that a
# fault rule fires on never reads or fills the page cache.

def entry_json(entry, which):
    """The serialized "plain" or "full" conversation of a dataset entry.

    Kept in the entry itself: entries are never edited (make_entry), so
    the bytes stay right for every dataset version sharing the entry.  Two
    threads may both compute it; they store equal bytes."""
    key = which + "_json"
    raw = entry.get(key)
    if raw is None:
        raw = dumps_bytes(entry[which])
        entry[key] = raw
    return raw



def details_page_body(hits, offset, page_size):
    """A sync query page, byte for byte what dumps_bytes() makes of
    {"conversations": [...], "totalHits": n} ("conversations" absent when
    the page is empty), built from the conversations' cached JSON."""
    page = hits[offset: offset + page_size]
    if not page:
        return b'{"totalHits":%d}' % len(hits)
    return (b'{"conversations":[' + b",".join(entry_json(c, "plain") for c in page)
            + b'],"totalHits":%d}' % len(hits))


def job_page_body(ds, ids, cursor, availability):
    """An async job results page, as dumps_bytes() renders {conversations,
    cursor?, dataAvailabilityDate}; rows read from ds (a job's ids are fixed
    at submission, its rows are not)."""
    parts = [b'{"conversations":[',
             b",".join(entry_json(ds.conv_by_id[i], "full") for i in ids if i in ds.conv_by_id),
             b"]"]
    if cursor is not None:
        parts.append(b',"cursor":' + dumps_bytes(cursor))
    parts.append(b',"dataAvailabilityDate":' + dumps_bytes(availability) + b"}")
    return b"".join(parts)


class RenderedPage:
    """One cached answer body: identity bytes, and gzip once asked for."""
    __slots__ = ("identity", "gzip")

    def __init__(self, identity):
        self.identity = identity
        self.gzip = None

    def size(self):
        return len(self.identity) + (len(self.gzip) if self.gzip is not None else 0)


class ServeCache:
    """What one Dataset version serves repeatedly, computed on first use:
    the conversations grouped by UTC start day, the hit list of each sync
    query and the rendered page bodies (identity and gzip)."""

    def __init__(self, ds):
        self.ds = ds
        self.lock = threading.Lock()
        self.days = None              # UTC day number -> entries in (start, id) order
        self.hits = OrderedDict()     # query key -> sorted entries (LRU)
        self.pages = OrderedDict()    # page key -> RenderedPage (LRU)
        self.page_bytes = 0
        self.evictions = 0

    def by_day(self):
        """The day index; ds.conversations is kept in (start, id) order, so
        each day's list is too."""
        days = self.days
        if days is None:
            days = {}
            for c in self.ds.conversations:
                days.setdefault(c["meta"]["start"] // DAY_MS, []).append(c)
            self.days = days
        return days

    def query_hits(self, first_day, last_day, cf, sf, order, order_by):
        """(key, hits): the sorted entries a sync query matches (day-touch
        matching over first_day..last_day, then the filters), reading only
        the days the interval touches.  The key names the query for the
        page cache: the days, not the exact instants, decide the hits."""
        order = "desc" if order == "desc" else "asc"     # unordered behaves as asc
        key = (first_day, last_day, canonical_json(cf), canonical_json(sf), order, order_by)
        with self.lock:
            hits = self.hits.get(key)
            if hits is not None:
                self.hits.move_to_end(key)
                return key, hits
        days = self.by_day()
        hits = []
        for d in range(first_day, last_day + 1):
            for c in days.get(d, ()):
                if not (cf or sf) or conversation_matches(c["plain"], cf, sf):
                    hits.append(c)
        hits = sort_conversations(hits, order, order_by)
        with self.lock:
            self.hits[key] = hits
            while len(self.hits) > QUERY_CACHE_ENTRIES:
                self.hits.popitem(last=False)
        return key, hits

    def page(self, key, render, want_gzip):
        """(RenderedPage, hit): the page for key, rendering (render() ->
        identity bytes) and compressing only what is not cached yet.  hit
        says whether the encoding asked for was already there.  Rendering
        happens outside the lock; two threads missing the same page both
        render it and one copy is kept."""
        with self.lock:
            rp = self.pages.get(key)
            if rp is not None:
                self.pages.move_to_end(key)
                if rp.gzip is not None or not want_gzip:
                    return rp, True
        if rp is None:
            rp = RenderedPage(render())
        gz = None
        if want_gzip:
            gz = gzip.compress(rp.identity, compresslevel=GZIP_LEVEL, mtime=0)
        with self.lock:
            kept = self.pages.get(key)
            if kept is None:
                kept = rp
                self.pages[key] = rp
                self.page_bytes += len(rp.identity)
            if gz is not None and kept.gzip is None:
                kept.gzip = gz
                self.page_bytes += len(gz)
            while self.page_bytes > PAGE_CACHE_BYTES and len(self.pages) > 1:
                _, old = self.pages.popitem(last=False)
                self.page_bytes -= old.size()
                self.evictions += 1
        return kept, False



def serve_page(call, ds, key, render):
    """A 200 answer whose body render() makes from ds, served from ds's
    rendered-page cache (identity or gzip, as the client asks).  A
    request a fault fired on renders afresh and caches nothing."""
    if not call.page_cache_ok:
        return Reply(200, raw=render())
    want_gzip = call.wants_gzip
    rp, hit = ds.cache.page(key, render, want_gzip)
    call.state.count_cache(hit)
    rep = Reply(200, raw=rp.identity)
    if want_gzip:
        rep.gzip = rp.gzip
    return rep


def prerender_details(st, body):
    """POST /__emu/prerender: render every page of a sync query (identity
    and gzip) into the current dataset's page cache, so that a benchmark's
    first pass is served like any later one.

    body is a details query (interval, filters, order, orderBy,
    paging.pageSize; pageNumber is ignored), validated as the API does.
    Pages run from 1 to the last one holding rows (at least 1), under the
    current page_shift, and stop where max_results would refuse them."""
    t0 = time.perf_counter()
    if isinstance(body, dict) and isinstance(body.get("paging"), dict):
        body = dict(body, paging={k: v for k, v in body["paging"].items() if k != "pageNumber"})
    with st.lock:
        cap = int(st.settings["max_results"])
        shift = int(st.settings.get("page_shift") or 0)
        ds = st.dataset
    q = parse_details_query(body, cap)
    size = q["page_size"]
    qkey, hits = ds.cache.query_hits(*q["match"])
    pages = identity = compressed = 0
    number = 1
    while number * size <= cap:
        offset = details_offset(number, size, shift)
        rp, _ = ds.cache.page(("details", qkey, offset, size),
                              lambda: details_page_body(hits, offset, size), True)
        pages += 1
        identity += len(rp.identity)
        compressed += len(rp.gzip)
        if offset + size >= len(hits):
            break
        number += 1
    return {"pages": pages, "totalHits": len(hits), "bytes": identity + compressed,
            "identity_bytes": identity, "gzip_bytes": compressed,
            "seconds": round(time.perf_counter() - t0, 6)}
