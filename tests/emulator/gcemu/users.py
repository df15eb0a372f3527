"""The users API: GET /api/v2/users, GET and PATCH /api/v2/users/{userId}.

Owns: the UserEntityListing (parameters, validation, sort, paging URIs),
the user by id, and the validation of an UpdateUser body (what PATCH may
change, its order of checks and its log entry).  State.patch_user applies
a valid PATCH under the state lock.

Must not: change the dataset itself (State publishes a changed copy).
"""

import datetime as dt
import json

from .exchange import Reply
from .listings import listing_page, paging, sort_order
from .wire import QueryError, split_list


def route(call):
    """The users endpoints; None when the path is not one of them."""
    parts, m = call.parts, call.method
    if parts == ["users"] and m == "GET":
        return list_users(call)
    if len(parts) == 2 and parts[0] == "users" and m == "PATCH":
        return Reply(200, call.state.patch_user(parts[1], call.raw))
    if len(parts) == 2 and parts[0] == "users" and m == "GET":
        u = call.state.dataset.users_by_id.get(parts[1])
        if not u:
            return None
        exp = split_list(call.query.get("expand"))
        return Reply(200, call.state.dataset.render_user(u, "dateLastLogin" in exp))
    return None


def list_users(call):
    """GET /api/v2/users."""
    ds = call.state.dataset
    query = call.query
    page_size, page_number = paging(query, 500)
    state = (query.get("state") or ["active"])[-1] or "active"
    if state not in ("active", "inactive", "deleted", "any"):
        raise QueryError("Invalid value '%s' for state" % state, "invalid.value")
    order = sort_order(query)
    ids = set(split_list(query.get("id")))
    expand = split_list(query.get("expand"))
    users = [u for u in ds.users if (state == "any" or u["state"] == state)
             and (not ids or u["id"] in ids)]
    users.sort(key=lambda u: (u["name"].casefold(), u["id"]), reverse=(order == "DESC"))
    return listing_page(call, ds, "/api/v2/users", users,
                        lambda chunk: [ds.render_user(u, "dateLastLogin" in expand)
                                       for u in chunk],
                        page_size, page_number)


# UpdateUser fields (SDK typings) the emulator stores -> kind of value.
# "?" = null (or "") clears the field.
PATCH_FIELDS = {"name": "str", "email": "str", "username": "str", "department": "str?",
                "title": "str?", "preferredName": "str?", "manager": "str?",
                "acdAutoAnswer": "bool", "employerInfo": "employerInfo?", "state": "state"}
# UpdateUser fields the API takes but the emulator does not emulate.
PATCH_UNEMULATED = ("chat", "addresses", "images", "profileSkills", "locations", "groups",
                    "certifications", "biography")
# Read-only: set by the platform (UpdateUser id/selfUri/primaryContactInfo have no
# setter in the SDKs) or only on User, never on UpdateUser.
PATCH_READ_ONLY = ("id", "selfUri", "primaryContactInfo", "division", "dateLastLogin",
                   "routingStatus", "presence", "integrationPresence", "conversationSummary",
                   "outOfOffice", "geolocation", "station", "authorization", "team",
                   "workPlanBidRanks", "skills", "languages", "languagePreference",
                   "lastTokenIssued", "dateWelcomeSent")
EMPLOYER_INFO_KEYS = ("officialName", "employeeId", "employeeType", "dateHire")


def parse_user_patch(body):
    """Validate an UpdateUser body -> (version, {stored field: value}).

    Raises QueryError (400) naming the first offending field; the checks
    here need no dataset (the caller checks the user, the manager and the
    version under the state lock)."""
    if not isinstance(body, dict):
        raise QueryError("The request body must be a JSON object (UpdateUser)")
    for k in sorted(body):
        if k == "version" or k in PATCH_FIELDS:
            continue
        if k in PATCH_READ_ONLY:
            raise QueryError("%s is read-only and cannot be changed with PATCH /api/v2/users/"
                             "{userId}" % k, "bad.request")
        if k in PATCH_UNEMULATED:
            raise QueryError("%s is an UpdateUser field the emulator does not emulate" % k)
        raise QueryError("Unrecognized field %s: not a field of UpdateUser" % json.dumps(k))
    if "version" not in body:
        raise QueryError("version: may not be null (the current version of the user is "
                         "required)")
    version = body["version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise QueryError("version must be an integer, not %s" % json.dumps(version))
    changes = {}
    for k in sorted(set(body) - {"version"}):
        v = body[k]
        kind = PATCH_FIELDS[k]
        nullable = kind.endswith("?")
        kind = kind.rstrip("?")
        if nullable and (v is None or v == ""):
            changes[k] = None
        elif kind == "str":
            if not isinstance(v, str) or not v:
                raise QueryError("%s must be a non-empty string%s" % (k, ", or null" if nullable
                                                                      else ""))
            changes[k] = v
        elif kind == "bool":
            if not isinstance(v, bool):
                raise QueryError("%s must be true or false" % k)
            changes[k] = v
        elif kind == "state":
            if v == "deleted":
                raise QueryError("state cannot be set to deleted with PATCH; use "
                                 "DELETE /api/v2/users/{userId}")
            if v not in ("active", "inactive"):
                raise QueryError("state must be active or inactive", "invalid.value")
            changes[k] = v
        elif kind == "employerInfo":
            if not isinstance(v, dict):
                raise QueryError("employerInfo must be an object or null")
            ei = {}
            for ek in sorted(v):
                if ek not in EMPLOYER_INFO_KEYS:
                    raise QueryError("Unrecognized field employerInfo.%s" % ek)
                ev = v[ek]
                if ev is None or ev == "":
                    continue
                if not isinstance(ev, str):
                    raise QueryError("employerInfo.%s must be a string or null" % ek)
                if ek == "dateHire":
                    try:
                        dt.date.fromisoformat(ev)
                    except ValueError:
                        raise QueryError("employerInfo.dateHire must be a date YYYY-MM-DD",
                                         "invalid.date")
                ei[ek] = ev
            # keys in the generator's order
            changes[k] = {ek: ei[ek] for ek in EMPLOYER_INFO_KEYS if ek in ei} or None
    if "state" in changes and len(changes) > 1:
        raise QueryError("state must be the only field changed when it is specified (with "
                         "version)")
    return version, changes


def version_conflict(supplied, current):
    """The 409 answer to a stale version (code and wording: see the README)."""
    return QueryError("The version supplied (%d) does not match the current version (%d)"
                      % (supplied, current), "general.conflict", 409)


def patch_log_body(raw):
    """What the request log keeps of a PATCH user body: field names and version."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    return {"fields": sorted(k for k in body if k != "version"), "version": body.get("version")}
