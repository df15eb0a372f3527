"""The analytics user details API: agent status history, query and jobs.

Owns: POST /api/v2/analytics/users/details/query (UserDetailsQuery: the
interval and its 7/31-day limits, userFilters, presenceFilters,
routingStatusFilters, order, paging and its cap), which users and records
it returns (a user appears when one of their records overlaps the
interval, records unclipped, open ones without endTime), its pages (short
now and then, totalHits the number of users, so only an empty page says
the end), which users an async job holds (jobs.py runs it), and the
truth: every record, flat.

Must not: generate or change the timelines (agent_status_data.py,
mutations.py) or run a job's lifecycle (jobs.py).
"""

import hashlib

from . import jobs
from .pages import serve_page
from .queries import (check_interval_length, details_offset, eval_filter, query_interval,
                      query_paging, validate_filter)
from .wire import QueryError, canonical_json, dumps_bytes, iso_ms, parse_json

USER_DIMS = {"userId"}
PRESENCE_DIMS = {"systemPresence", "organizationPresenceId"}
ROUTING_DIMS = {"routingStatus"}
FILTERS = (("userFilters", USER_DIMS), ("presenceFilters", PRESENCE_DIMS),
           ("routingStatusFilters", ROUTING_DIMS))


def route(call):
    """The user details endpoints; None when the path is not one of them."""
    parts = call.parts
    if parts[:3] != ["analytics", "users", "details"]:
        return None
    rest = parts[3:]
    if rest == ["query"] and call.method == "POST":
        return details_query(call, parse_json(call.raw))
    if rest[:1] == ["jobs"]:
        return jobs.route(call, rest[1:], JOBS)
    return None


def parse_user_query(body, max_results=None):
    """Validate a UserDetailsQuery (max_results given: the sync query, with
    its interval limits and paging) or an AsyncUserDetailsQuery -> a dict
    of interval, filters, order and, for the sync query, paging."""
    if not isinstance(body, dict):
        raise QueryError("Request body must be a JSON object")
    start, end = query_interval(body)
    q = {"start": start, "end": end}
    for key, dims in FILTERS:
        filters = body.get(key) or []
        if not isinstance(filters, list):
            raise QueryError("%s must be an array" % key)
        for f in filters:
            validate_filter(f, dims, key)
        q[key] = filters
    for key in ("presenceAggregations", "routingStatusAggregations"):
        if body.get(key):
            raise QueryError("%s are not emulated" % key)
    q["order"] = body.get("order", "asc") or "asc"
    if q["order"] not in ("asc", "desc"):
        raise QueryError("Invalid order '%s'" % q["order"], "invalid.value")
    filtered = any(q[key] for key, _ in FILTERS)
    if max_results is not None:
        check_interval_length(start, end, filtered)
        q["page_size"], q["page_number"] = query_paging(body, max_results)
    return q


def matching_users(ds, q):
    """[(userId, presence records, routing records)] the query returns, in
    its order: users with a record overlapping the interval (userFilters
    choose users; presence and routing filters choose records, and a user
    must keep a record of each kind a filter names)."""
    status = ds.agent_status
    out = []
    for uid in sorted(set(status.presence) | set(status.routing),
                      reverse=(q["order"] == "desc")):
        if not all(eval_filter(f, lambda d: [uid]) for f in q["userFilters"]):
            continue
        presence, routing = status.user_records(uid, q["start"], q["end"])
        presence = [r for r in presence if all(
            eval_filter(f, lambda d: [r[2] if d == "systemPresence" else r[3]])
            for f in q["presenceFilters"])]
        routing = [r for r in routing if all(
            eval_filter(f, lambda d: [r[2]]) for f in q["routingStatusFilters"])]
        if (not presence and not routing) or (q["presenceFilters"] and not presence) \
                or (q["routingStatusFilters"] and not routing):
            continue
        out.append((uid, presence, routing))
    return out


def record_span(r):
    """startTime and, unless the record is still open, endTime of a record."""
    out = {"startTime": iso_ms(r[0])}
    if r[1] is not None:
        out["endTime"] = iso_ms(r[1])
    return out


def render_presence(r):
    """An AnalyticsUserPresenceRecord (no endTime while open)."""
    return dict(record_span(r), systemPresence=r[2], organizationPresenceId=r[3])


def render_routing(r):
    """An AnalyticsRoutingStatusRecord (no endTime while open)."""
    return dict(record_span(r), routingStatus=r[2])


def render_user(uid, presence, routing):
    """An AnalyticsUserDetail; a kind without records is left out."""
    out = {"userId": uid}
    if presence:
        out["primaryPresence"] = [render_presence(r) for r in presence]
    if routing:
        out["routingStatus"] = [render_routing(r) for r in routing]
    return out


def slots(users, interval, gaps):
    """The page slots of a query's users: before some users (gaps percent,
    chosen from the user and the interval) an empty slot, so that pages
    come short now and then, as the real API's do."""
    out = []
    for u in users:
        digest = hashlib.md5(("%s|%s" % (u[0], interval)).encode()).digest()
        if digest[0] * 100 // 256 < gaps:
            out.append(None)
        out.append(u)
    return out


def details_query(call, body):
    """POST /api/v2/analytics/users/details/query."""
    st = call.state
    ds = st.dataset
    q = parse_user_query(body, int(st.settings["max_results"]))
    gaps = int(st.settings.get("user_details_gaps") or 0)
    shift = int(st.settings.get("page_shift") or 0)
    offset = details_offset(q["page_number"], q["page_size"], shift)
    key = ("userdetails", q["start"], q["end"], canonical_json([q[k] for k, _ in FILTERS]),
           q["order"], gaps, offset, q["page_size"])

    def render():
        users = matching_users(ds, q)
        page = [u for u in slots(users, body["interval"], gaps)[offset: offset + q["page_size"]]
                if u is not None]
        out = {}
        if page:
            out["userDetails"] = [render_user(*u) for u in page]
        out["totalHits"] = len(users)
        return dumps_bytes(out)
    return serve_page(call, ds, key, render)


def job_rows(st, body):
    """The user details a job of body (AsyncUserDetailsQuery) holds, chosen
    when it is submitted: no interval limit, order, limit (users) and the
    max_job_results cap."""
    q = parse_user_query(body)
    if "paging" in body:
        raise QueryError("paging is not supported for async queries; use cursor on results")
    limit = body.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                              or limit < 1):
        raise QueryError("limit must be a positive integer", "invalid.value")
    users = matching_users(st.dataset, q)
    n = len(users) if limit is None else min(limit, len(users))
    cap = int(st.settings["max_job_results"])
    if n > cap:
        raise QueryError("The number of results (%d) may not exceed %d results. "
                         "Use a smaller interval or more filters." % (n, cap))
    return [dumps_bytes(render_user(*u)) for u in users[:n]]


def job_page_body(ds, rows, cursor, availability):
    """A user details job results page: {userDetails, cursor?,
    dataAvailabilityDate}, from the rows serialized at submission."""
    parts = [b'{"userDetails":[', b",".join(rows), b"]"]
    if cursor is not None:
        parts.append(b',"cursor":' + dumps_bytes(cursor))
    parts.append(b',"dataAvailabilityDate":' + dumps_bytes(availability) + b"}")
    return b"".join(parts)


JOBS = jobs.JobFamily("user_details", job_rows, job_page_body)


def truth(ds, kind):
    """/__emu/dataset/user_presence or user_routing_status: every record,
    flat, with its userId, by user and start."""
    status = ds.agent_status
    records = status.presence if kind == "user_presence" else status.routing
    render = render_presence if kind == "user_presence" else render_routing
    return [dict({"userId": uid}, **render(r)) for uid in sorted(records)
            for r in records[uid]]
