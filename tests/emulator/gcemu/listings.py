"""The platform's entity listing: how GET collections page.

Owns: the paging parameters every entity listing takes (pageSize within
the listing's maximum, pageNumber, sortOrder) and their validation, and
the listing body: entities, pageSize, pageNumber, total, firstUri,
selfUri, nextUri (absent on the last page), previousUri (absent on the
first), lastUri and pageCount, or without total, pageCount and lastUri
for the listings the SDK types that way (queue members); plus the cached
rendering of a page.

Must not: choose or filter the rows (each family does) or know a path's
meaning.
"""

import math
import urllib.parse

from .pages import serve_page
from .wire import QueryError, dumps_bytes, int_param


def paging(query, page_size_max, default_size=25):
    """(pageSize, pageNumber) of a listing request, validated as the API does."""
    page_size = int_param(query, "pageSize", default_size)
    page_number = int_param(query, "pageNumber", 1)
    if not 1 <= page_size <= page_size_max:
        raise QueryError("pageSize must be between 1 and %d" % page_size_max, "invalid.value")
    if page_number < 1:
        raise QueryError("pageNumber must be at least 1", "invalid.value")
    return page_size, page_number


def sort_order(query, default="ASC"):
    """ASC or DESC from sortOrder (any case), or QueryError(invalid.value)."""
    order = ((query.get("sortOrder") or [default])[-1] or default).upper()
    if order not in ("ASC", "DESC"):
        raise QueryError("Invalid value '%s' for sortOrder" % order, "invalid.value")
    return order


def listing_page(call, ds, path, rows, render, page_size, page_number, totals=True):
    """The 200 answer of one page of a listing of rows (from dataset ds) at path.

    render(chunk) -> the entities of the page; every query parameter but
    pageSize and pageNumber is repeated in the URIs, in the order sent,
    and so is part of the cache key."""
    query = call.query
    total = len(rows)
    page_count = int(math.ceil(total / page_size))
    chunk = rows[(page_number - 1) * page_size: page_number * page_size]
    extra = [(k, v) for k in query if k not in ("pageSize", "pageNumber") for v in query[k]]

    def uri(n):
        q = [("pageSize", page_size), ("pageNumber", n)] + extra
        return path + "?" + urllib.parse.urlencode(q)

    def body():
        out = {"entities": render(chunk), "pageSize": page_size, "pageNumber": page_number}
        if totals:
            out["total"] = total
        out["firstUri"] = uri(1)
        out["selfUri"] = uri(page_number)
        if page_number < page_count:
            out["nextUri"] = uri(page_number + 1)
        if page_number > 1:
            out["previousUri"] = uri(page_number - 1)
        if totals:
            out["lastUri"] = uri(max(1, page_count))
            out["pageCount"] = page_count
        return dumps_bytes(out)
    key = (path, page_size, page_number,
           tuple((k, tuple(v)) for k, v in query.items() if k not in ("pageSize", "pageNumber")))
    return serve_page(call, ds, key, body)
