"""The directory API: the entity listings of queues, queue members,
wrap-up codes, divisions, groups, skills, languages, locations and
presence definitions.

Owns: each listing's path, its parameters as the real API takes them
(id repeated or comma-joined, name by prefix with * wildcards, divisionId,
sortOrder; the queue members' joined, memberBy, routingStatus, presence and
name; the presence definitions' deleted and localeCode), their validation
errors, the order of the rows (by name, then id), and 404 for the members
of a queue that does not exist.

Must not: generate or change the data (directory_data.py, mutations.py)
or page by itself (listings.py).
"""

from .directory_data import ROUTING_STATUSES, SYSTEM_PRESENCES
from .listings import listing_page, paging, sort_order
from .wire import QueryError, split_list


class Listing:
    """One directory listing: its table, the largest pageSize it takes,
    the list parameters it honours, whether it takes sortOrder, and how
    name matches ("prefix", with * wildcards, or "contains")."""

    def __init__(self, table, size_max=500, params=("id",), sortable=True, name="prefix"):
        self.table = table
        self.size_max = size_max
        self.params = params
        self.sortable = sortable
        self.name = name


# path after /api/v2 -> its listing (pageSize maxima are unverified: 500
# like users, 100 for queue members as the SDK documents)
LISTINGS = {
    ("routing", "queues"): Listing("queues", params=("id", "name", "divisionId")),
    ("routing", "wrapupcodes"): Listing("wrapup_codes", params=("id", "name", "divisionId")),
    ("routing", "skills"): Listing("skills", params=("id", "name"), sortable=False),
    ("routing", "languages"): Listing("languages", params=("id", "name")),
    ("authorization", "divisions"): Listing("divisions", params=("id", "name"),
                                            sortable=False),
    ("groups",): Listing("groups"),
    ("locations",): Listing("locations"),
    ("presencedefinitions",): Listing("presence_definitions", params=(), sortable=False),
}
MEMBERS = Listing("queue_members", size_max=100, params=("name",), name="contains")


def route(call):
    """The directory endpoints; None when the path is not one of them."""
    parts = call.parts
    if call.method != "GET":
        return None
    listing = LISTINGS.get(tuple(parts))
    if listing is not None:
        return list_entities(call, listing, "/api/v2/" + "/".join(parts))
    if len(parts) == 4 and parts[:2] == ["routing", "queues"] and parts[3] == "members":
        return list_members(call, parts[2])
    return None


def name_matches(pattern, name, how):
    """The name parameter as the API applies it, ignoring case: a prefix
    (a leading * lets it start anywhere, a trailing * changes nothing), or
    contains for the queue members' contains-style search."""
    name = name.casefold()
    pattern = pattern.casefold()
    if how == "contains":
        return pattern in name
    anywhere = pattern.startswith("*")
    pattern = pattern.strip("*")
    return pattern in name if anywhere else name.startswith(pattern)


def filtered(rows, query, listing, name_of):
    """rows kept by the listing's id, name and divisionId parameters."""
    ids = set(split_list(query.get("id"))) if "id" in listing.params else set()
    divisions = (set(split_list(query.get("divisionId")))
                 if "divisionId" in listing.params else set())
    pattern = (query.get("name") or [""])[-1] if "name" in listing.params else ""
    return [r for r in rows
            if (not ids or r["id"] in ids)
            and (not divisions or (r.get("division") or {}).get("id") in divisions)
            and (not pattern or name_matches(pattern, name_of(r), listing.name))]


def in_order(rows, query, listing, name_of):
    """rows by name (ignoring case), then id; DESC reverses (sortOrder)."""
    order = sort_order(query) if listing.sortable else "ASC"
    return sorted(rows, key=lambda r: (name_of(r).casefold(), r["id"]),
                  reverse=(order == "DESC"))


def list_entities(call, listing, path):
    """GET of one of the LISTINGS."""
    ds = call.state.dataset
    query = call.query
    page_size, page_number = paging(query, listing.size_max)
    rows = ds.directory.tables[listing.table]
    render = list
    if listing.table == "presence_definitions":
        rows, render = presence_rows(rows, query)
    rows = in_order(filtered(rows, query, listing, lambda r: r["name"]), query, listing,
                    lambda r: r["name"])
    return listing_page(call, ds, path, rows, render, page_size, page_number)


def presence_rows(rows, query):
    """The presence definitions deleted= keeps (false by default: active
    ones; true: deactivated ones; all), and a renderer keeping only the
    label of localeCode (all labels without it, or with ALL)."""
    deleted = ((query.get("deleted") or ["false"])[-1] or "false").lower()
    if deleted not in ("true", "false", "all"):
        raise QueryError("Invalid value '%s' for deleted: TRUE, FALSE or ALL" % deleted,
                         "invalid.value")
    if deleted != "all":
        rows = [p for p in rows if p["deactivated"] == (deleted == "true")]
    locale = (query.get("localeCode") or [""])[-1]
    if not locale or locale.upper() == "ALL":
        return rows, list

    def render(chunk):
        return [dict(p, languageLabels={k: v for k, v in p["languageLabels"].items()
                                        if k == locale}) for p in chunk]
    return rows, render


def one_of(query, key, allowed):
    """The values of a list parameter, each one of allowed (any case) ->
    in allowed's spelling; QueryError(invalid.value) otherwise."""
    out = set()
    by_case = {a.casefold(): a for a in allowed}
    for v in split_list(query.get(key)):
        if v.casefold() not in by_case:
            raise QueryError("Invalid value '%s' for %s" % (v, key), "invalid.value")
        out.add(by_case[v.casefold()])
    return out


def list_members(call, queue_id):
    """GET /api/v2/routing/queues/{queueId}/members: QueueMemberEntityListing
    (no total, pageCount or lastUri), sorted by member name."""
    ds = call.state.dataset
    query = call.query
    directory = ds.directory
    if queue_id not in directory.by_id["queues"]:
        raise QueryError("Queue %s not found" % queue_id, "not.found", 404)
    page_size, page_number = paging(query, MEMBERS.size_max)
    joined = (query.get("joined") or [""])[-1].lower()
    if joined not in ("", "true", "false"):
        raise QueryError("Invalid value '%s' for joined: true or false" % joined,
                         "invalid.value")
    member_by = (query.get("memberBy") or [""])[-1].lower()
    if member_by not in ("", "user", "group"):
        raise QueryError("Invalid value '%s' for memberBy: user or group" % member_by,
                         "invalid.value")
    statuses = one_of(query, "routingStatus", ROUTING_STATUSES)
    presences = one_of(query, "presence", [s for s, _ in SYSTEM_PRESENCES])
    rows = []
    for m in directory.members[queue_id]:
        u = ds.users_by_id.get(m["userId"])
        status = ds.agent_status.current(m["userId"])
        if (u is None or (joined and m["joined"] != (joined == "true"))
                or (member_by and m["memberBy"] != member_by)
                or (statuses and status.get("routing") not in statuses)
                or (presences and status.get("presence") not in presences)):
            continue
        rows.append(dict(m, id=u["id"], name=u["name"]))
    rows = in_order(filtered(rows, query, MEMBERS, lambda r: r["name"]), query, MEMBERS,
                    lambda r: r["name"])
    return listing_page(call, ds, "/api/v2/routing/queues/%s/members" % queue_id, rows,
                        lambda chunk: [directory.render_member(ds, m) for m in chunk],
                        page_size, page_number, totals=False)
