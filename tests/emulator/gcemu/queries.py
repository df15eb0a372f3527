"""Analytics conversation queries: filters, validation, paging and order.

Owns: the ConversationQuery rules (interval and its 7/31-day limits, the
paging cap, order and orderBy; the interval, its limits and paging are
shared with the user details query), the dimension filters and their evaluation
against a conversation, the first row of a page (page_shift) and the sort.

Must not: read the dataset or the settings itself (callers pass what they
need) or render answers (pages.py does).
"""

from .wire import DAY_MS, QueryError, parse_interval


CONV_DIMS = {"conversationId", "divisionId", "externalTag", "originatingDirection",
             "conversationEnd", "conversationStart", "conversationInitiator",
             "customerParticipation", "mediaStatsMinConversationMos",
             "mediaStatsMinConversationRFactor"}
SESSION_DIMS = {"mediaType", "direction", "ani", "dnis", "sessionDnis", "addressFrom",
                "addressTo", "addressSelf", "provider", "remote", "sessionId", "edgeId",
                "usedRouting", "requestedRoutings", "protocolCallId", "recording"}
PART_DIMS = {"purpose", "userId", "participantName", "participantId", "externalContactId",
             "externalOrganizationId", "teamId"}
SEG_DIMS = {"queueId", "segmentType", "wrapUpCode", "wrapUpNote", "disconnectType",
            "conference", "segmentStart", "segmentEnd"}
FLOW_DIMS = {"flowId": "flowId", "flowName": "flowName", "flowType": "flowType"}


def _as_values(v):
    """Normalise a field value to a list of comparable strings."""
    if v is None:
        return []
    if isinstance(v, list):
        return [_as_values(x)[0] for x in v if x is not None]
    if isinstance(v, bool):
        return ["true" if v else "false"]
    return [str(v)]


def conv_dim(conv, dim):
    """Values of a conversation-level dimension."""
    if dim == "divisionId":
        return conv.get("divisionIds", [])
    return _as_values(conv.get(dim))


def seg_dim(ctx, dim):
    """Values of a segment-level dimension for (participant, session, segment)."""
    p, s, g = ctx
    if dim in SESSION_DIMS:
        return _as_values(s.get(dim))
    if dim in PART_DIMS:
        return _as_values(p.get(dim))
    if dim in SEG_DIMS:
        return _as_values(g.get(dim))
    if dim in FLOW_DIMS:
        return _as_values((s.get("flow") or {}).get(FLOW_DIMS[dim]))
    return []


def validate_filter(f, dims, what):
    """Check a filter's structure and dimension names; raise QueryError."""
    if not isinstance(f, dict):
        raise QueryError("%s must be objects" % what)
    if str(f.get("type", "")).lower() not in ("and", "or"):
        raise QueryError("%s type must be 'and' or 'or'" % what)
    preds = list(f.get("predicates") or [])
    for c in f.get("clauses") or []:
        if not isinstance(c, dict) or str(c.get("type", "")).lower() not in ("and", "or"):
            raise QueryError("%s clause type must be 'and' or 'or'" % what)
        preds.extend(c.get("predicates") or [])
    if not preds:
        raise QueryError("%s must contain at least one predicate or clause" % what)
    for p in preds:
        if not isinstance(p, dict):
            raise QueryError("predicates must be objects")
        if p.get("type", "dimension") != "dimension":
            raise QueryError("Predicate type '%s' is not supported by the emulator" % p.get("type"))
        if p.get("dimension") not in dims:
            raise QueryError("Invalid dimension '%s' for %s" % (p.get("dimension"), what),
                             "invalid.value")
        op = p.get("operator", "matches")
        if op not in ("matches", "exists", "notExists"):
            raise QueryError("Invalid operator '%s'" % op, "invalid.value")
        if op == "matches" and p.get("value") is None:
            raise QueryError("A 'matches' predicate requires a value")


def eval_filter(f, getter):
    """Evaluate a filter against one subject; getter(dim) -> list of strings."""
    def pred(p):
        vals = getter(p["dimension"])
        op = p.get("operator", "matches")
        if op == "exists":
            return bool(vals)
        if op == "notExists":
            return not vals
        return str(p.get("value")) in vals

    def combine(kind, results):
        return all(results) if kind.lower() == "and" else any(results)

    items = [pred(p) for p in f.get("predicates") or []]
    for c in f.get("clauses") or []:
        items.append(combine(c["type"], [pred(p) for p in c.get("predicates") or []]))
    return combine(f["type"], items)


def conversation_matches(conv, conv_filters, seg_filters):
    """True when the conversation satisfies every filter."""
    for f in conv_filters:
        if not eval_filter(f, lambda d: conv_dim(conv, d)):
            return False
    for f in seg_filters:
        hit = False
        for p in conv.get("participants", []):
            for s in p.get("sessions", []):
                for g in s.get("segments", []):
                    if eval_filter(f, lambda d: seg_dim((p, s, g), d)):
                        hit = True
                        break
                if hit:
                    break
            if hit:
                break
        if not hit:
            return False
    return True


def query_interval(body):
    """The interval of an analytics query body (a dict) -> (start, end) ms;
    QueryError when it is missing (bad.request), unparseable or empty
    (invalid.date)."""
    if "interval" not in body or body.get("interval") in (None, ""):
        raise QueryError("interval: may not be null", "bad.request")
    try:
        start, end = parse_interval(body["interval"])
    except (ValueError, TypeError) as e:
        raise QueryError("Invalid interval '%s': %s" % (body.get("interval"), e), "invalid.date")
    if start >= end:
        raise QueryError("Interval start must be before interval end", "invalid.date")
    return start, end


def check_interval_length(start, end, filtered):
    """The sync queries' interval limit: 7 days, 31 with filters."""
    days = (end - start) / DAY_MS
    limit_days = 31 if filtered else 7
    if days > limit_days:
        raise QueryError("Interval length of %.2f days exceeds the maximum of %d days%s. "
                         "Use a smaller interval." % (days, limit_days,
                                                      "" if filtered else
                                                      " for queries without filters"))


def query_paging(body, max_results):
    """(pageSize, pageNumber) of a sync query's paging: pageSize 1..100
    (25 by default), pageNumber >= 1, and no page past max_results."""
    paging = body.get("paging") or {}
    if not isinstance(paging, dict):
        raise QueryError("paging must be an object")
    try:
        page_size = int(paging.get("pageSize", 25) if paging.get("pageSize") is not None else 25)
        page_number = int(paging.get("pageNumber", 1) if paging.get("pageNumber") is not None else 1)
    except (TypeError, ValueError):
        raise QueryError("paging values must be integers", "invalid.value")
    if not 1 <= page_size <= 100:
        raise QueryError("paging.pageSize must be between 1 and 100", "invalid.value")
    if page_number < 1:
        raise QueryError("paging.pageNumber must be at least 1", "invalid.value")
    if page_number * page_size > max_results:
        raise QueryError("Pagination may not exceed %d results" % max_results)
    return page_size, page_number


def parse_query_common(body):
    """Validate shared parts of a details query -> (start, end, cf, sf, order, orderBy)."""
    if not isinstance(body, dict):
        raise QueryError("Request body must be a JSON object")
    start, end = query_interval(body)
    cf = body.get("conversationFilters") or []
    sf = body.get("segmentFilters") or []
    if not isinstance(cf, list) or not isinstance(sf, list):
        raise QueryError("conversationFilters and segmentFilters must be arrays")
    for f in cf:
        validate_filter(f, CONV_DIMS, "conversationFilters")
    for f in sf:
        validate_filter(f, SESSION_DIMS | PART_DIMS | SEG_DIMS | set(FLOW_DIMS), "segmentFilters")
    order = body.get("order", "asc") or "asc"
    if order not in ("asc", "desc", "unordered"):
        raise QueryError("Invalid order '%s'" % order, "invalid.value")
    order_by = body.get("orderBy", "conversationStart") or "conversationStart"
    if order_by not in ("conversationStart", "conversationEnd", "segmentStart", "segmentEnd"):
        raise QueryError("Invalid orderBy '%s'" % order_by, "invalid.value")
    return start, end, cf, sf, order, order_by


def parse_details_query(body, max_results):
    """Validate a sync details query -> {"match": (first_day, last_day, cf,
    sf, order, orderBy) for ServeCache.query_hits, "page_size", "page_number"}.

    Raises QueryError as the API answers it."""
    start, end, cf, sf, order, order_by = parse_query_common(body)
    check_interval_length(start, end, bool(cf or sf))
    page_size, page_number = query_paging(body, max_results)
    # day-touch matching: start day D with D_start < end and D_end > start
    first_day = start // DAY_MS
    last_day = (end - 1) // DAY_MS
    return {"match": (first_day, last_day, cf, sf, order, order_by),
            "page_size": page_size, "page_number": page_number}


def details_offset(page_number, page_size, page_shift):
    """The first row of a sync query page; pages after the first start
    page_shift rows early (the setting page_shift)."""
    offset = (page_number - 1) * page_size
    if page_number > 1:
        offset = max(0, offset - page_shift)
    return offset


def sort_conversations(items, order, order_by):
    """Sort dataset entries; open ends sort as +infinity; tie-break on id."""
    inf = float("inf")
    key_field = {"conversationStart": "start", "conversationEnd": "end",
                 "segmentStart": "seg_start", "segmentEnd": "seg_end"}[order_by]

    def key(c):
        v = c["meta"][key_field]
        return (inf if v is None else v, c["meta"]["id"])
    return sorted(items, key=key, reverse=(order == "desc"))
