"""The analytics conversation details API.

Owns: POST .../conversations/details/query (the sync query), the lookups
by id (GET .../conversations/{id}/details, GET .../details?id=), and the
async jobs (submit, status polling, cursor results, delete, availability).

Must not: validate filters or intervals itself (queries.py) or build page
bytes (pages.py).
"""

import base64
import binascii
import time
import uuid

from .exchange import Reply
from .pages import details_page_body, job_page_body, serve_page
from .queries import (conversation_matches, details_offset, parse_details_query,
                      parse_query_common, sort_conversations)
from .wire import DAY_MS, QueryError, int_param, iso_ms, parse_json, split_list


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
        return jobs(call, rest[2:])
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


def jobs(call, rest):
    """The /details/jobs family (submit, availability, status, results, delete)."""
    st = call.state
    m = call.method
    query = call.query
    if rest == [] and m == "POST":
        return job_submit(st, parse_json(call.raw))
    if rest == ["availability"] and m == "GET":
        return Reply(200, {"dataAvailabilityDate": st.settings["availability_date"]})
    if not rest:
        return None
    with st.lock:
        job = st.jobs.get(rest[0])
    if job is None:
        return None
    if len(rest) == 1 and m == "GET":
        with st.lock:
            if job["state"] in ("QUEUED", "PENDING"):
                job["polls"] += 1
                n = int(st.settings["job_polls"])
                if job["polls"] > n and st.settings.get("job_fail"):
                    job["state"] = "FAILED"
                    job["error"] = st.settings["job_fail"]
                elif job["polls"] > n:
                    job["state"] = "FULFILLED"
                    job["completion"] = int(time.time() * 1000)
                elif job["polls"] > 1:
                    job["state"] = "PENDING"
            out = {"state": job["state"]}
            if job["state"] == "FAILED":
                out["errorMessage"] = job.get("error", "")
            out["expirationDate"] = iso_ms(job["submission"] + DAY_MS)
            out["submissionDate"] = iso_ms(job["submission"])
            if job.get("completion"):
                out["completionDate"] = iso_ms(job["completion"])
        return Reply(200, out)
    if len(rest) == 1 and m == "DELETE":
        with st.lock:
            job["state"] = "CANCELLED"
        return Reply(204)
    if rest[1:] == ["results"] and m == "GET":
        if job["state"] != "FULFILLED":
            raise QueryError("Results are not available: job %s is %s" % (rest[0], job["state"]))
        page_size = int_param(query, "pageSize", 1000)
        if not 1 <= page_size <= 1000:
            raise QueryError("pageSize must be between 1 and 1000", "invalid.value")
        offset = 0
        cur = (query.get("cursor") or [""])[-1]
        if cur:
            try:
                jid, _, off = base64.urlsafe_b64decode(cur.encode()).decode().partition(":")
                offset = int(off)
                if jid != rest[0] or offset < 0:
                    raise ValueError
            except (ValueError, binascii.Error, UnicodeDecodeError):
                raise QueryError("Invalid cursor", "invalid.value")
        ids = job["ids"]
        page = ids[offset: offset + page_size]
        ds = st.dataset
        cursor = None
        if offset + page_size < len(ids):
            cursor = base64.urlsafe_b64encode(
                ("%s:%d" % (rest[0], offset + page_size)).encode()).decode()
        avail = st.settings["availability_date"]
        # job ids are unique uuids, and the job's ids never change
        key = ("job", rest[0], offset, page_size, avail)
        return serve_page(call, ds, key, lambda: job_page_body(ds, page, cursor, avail))
    return None


def job_submit(st, body):
    """POST .../details/jobs -> 202 {jobId}; resolves the result set at once."""
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
    jid = str(uuid.uuid4())
    with st.lock:
        st.jobs[jid] = {"state": "QUEUED", "polls": 0, "ids": [c["meta"]["id"] for c in hits[:n]],
                        "submission": int(time.time() * 1000), "completion": None}
    return Reply(202, {"jobId": jid})
