"""The analytics conversation details API.

Owns: POST .../conversations/details/query (the sync query), the lookups
by id (GET .../conversations/{id}/details, GET .../details?id=), and which
conversations an async job holds (jobs.py runs the job itself).

Must not: validate filters or intervals itself (queries.py) or build page
bytes (pages.py).
"""

from . import jobs
from .exchange import Reply
from .pages import details_page_body, job_page_body, serve_page
from .queries import (conversation_matches, details_offset, parse_details_query,
                      parse_query_common, sort_conversations)
from .wire import DAY_MS, QueryError, parse_json, split_list


def route(call):
    """The conversation endpoints; None when the path is not one of them."""
    parts, m = call.parts, call.method
    if parts[:2] != ["analytics", "conversations"]:
        return None
    rest = parts[2:]
    if rest == ["details", "query"] and m == "POST":
        return details_query(call, parse_json(call.raw))
    if rest == ["details"] and m == "GET":
        ids = split_list(call.query.get("id"))
        ds = call.state.dataset
        return Reply(200, {"conversations": [ds.conv_by_id[i]["plain"] for i in ids
                                             if i in ds.conv_by_id]})
    if len(rest) == 2 and rest[1] == "details" and m == "GET":
        c = call.state.dataset.conv_by_id.get(rest[0])
        return Reply(200, c["plain"]) if c else None
    if rest[:2] == ["details", "jobs"]:
        return jobs.route(call, rest[2:], JOBS)
    return None


def details_query(call, body):
    """POST /api/v2/analytics/conversations/details/query."""
    ds = call.state.dataset
    page_shift = int(call.state.settings.get("page_shift") or 0)
    q = parse_details_query(body, int(call.state.settings["max_results"]))
    qkey, hits = ds.cache.query_hits(*q["match"])
    offset = details_offset(q["page_number"], q["page_size"], page_shift)
    return serve_page(call, ds, ("details", qkey, offset, q["page_size"]),
                      lambda: details_page_body(hits, offset, q["page_size"]))


def job_rows(st, body):
    """The conversation ids a job of body (AsyncConversationQuery) holds,
    chosen when it is submitted: overlap matching, the filters, order,
    limit and the max_job_results cap."""
    start, end, cf, sf, order, order_by = parse_query_common(body)
    if "paging" in body:
        raise QueryError("paging is not supported for async queries; use cursor on results")
    limit = body.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise QueryError("limit must be a positive integer", "invalid.value")
    sod = bool(body.get("startOfDayIntervalMatching"))
    sod_floor = (start // DAY_MS) * DAY_MS
    hits = []
    for c in st.dataset.conversations:
        cs, ce = c["meta"]["start"], c["meta"]["end"]
        if not (cs < end and (ce is None or ce >= start)):
            continue
        if sod and cs < sod_floor:
            continue
        if conversation_matches(c["plain"], cf, sf):
            hits.append(c)
    hits = sort_conversations(hits, order, order_by)
    cap = int(st.settings["max_job_results"])
    n = len(hits) if limit is None else min(limit, len(hits))
    if n > cap:
        raise QueryError("The number of results (%d) may not exceed %d results. "
                         "Use a smaller interval or more filters." % (n, cap))
    return [c["meta"]["id"] for c in hits[:n]]


JOBS = jobs.JobFamily("conversations", job_rows, job_page_body)
