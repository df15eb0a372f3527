"""Dataset mutations (POST /__emu/mutate): the org changing under a sync.

Owns: the actions (late wrap-up codes, conversations ending or appearing,
users changing or disappearing), their validation (MutationError) and the
rebuilding of a changed conversation's entry.

Must not: touch a published dataset: every action runs on a fork that
State.mutate publishes in one step.
"""

import bisect
import copy
import json
import random

from .dataset import iter_segments, make_entry
from .directory_data import (DATASET_END, ROUTING_STATUSES, SYSTEM_PRESENCES,
                             TABLES as DIRECTORY_TABLES)
from .wire import iso_ms, parse_iso


class MutationError(Exception):
    """Bad input for /__emu/mutate; answered with 400 {"error": message}."""


MEDIA_TYPES = ("voice", "chat", "email", "message", "callback")
WRAPUP_MS = 30000                     # length of a wrapup segment a mutation appends
SYSTEM_WRAPUP_CODE = "ININ-WRAP-UP-TIMEOUT"   # a platform code, not in the listing
USER_STATES = ("active", "inactive", "deleted")
# user fields update_user may change -> kind of value accepted ("?" = may be null)
USER_FIELDS = {"name": "str", "email": "str", "jabber": "str", "state": "state",
               "division": "division", "acdAutoAnswer": "bool", "employerInfo": "dict?",
               "department": "str?", "title": "str?", "phone": "str?", "work_phone": "str?",
               "image": "str?", "preferredName": "str?", "manager": "str?",
               "dateLastLogin": "time?"}


def metric_dict(name, value, at):
    """A session metric as the API renders it."""
    return {"emitDate": iso_ms(at), "name": name, "value": value}


def check_keys(body, allowed):
    """Reject keys an action does not know (a typo must not pass silently)."""
    extra = sorted(set(body) - set(allowed) - {"action"})
    if extra:
        raise MutationError("unknown keys for action %s: %s" % (body["action"], ", ".join(extra)))


def req_str(body, key):
    """A required non-empty string member of the body."""
    v = body.get(key)
    if not isinstance(v, str) or not v:
        raise MutationError("%s must be a non-empty string" % key)
    return v


def req_time(body, key):
    """A required ISO-8601 instant member of the body -> epoch ms."""
    v = body.get(key)
    try:
        return parse_iso(v)
    except (ValueError, TypeError, AttributeError):
        raise MutationError("%s must be an ISO-8601 date-time, not %s" % (key, json.dumps(v)))


def opt_bool(body, key, default):
    """An optional boolean member of the body."""
    v = body.get(key, default)
    if not isinstance(v, bool):
        raise MutationError("%s must be true or false" % key)
    return v


def take_conversation(ds, body):
    """(entry, deep copy of its "full" conversation) for body.conversationId."""
    cid = req_str(body, "conversationId")
    entry = ds.conv_by_id.get(cid)
    if entry is None:
        raise MutationError("unknown conversationId %s" % cid)
    return entry, copy.deepcopy(entry["full"])


def put_conversation(ds, old, conv):
    """Replace entry old by the changed conversation (its start is unchanged).

    Keys are put back in the generator's order (alphabetical, segments
    last in a session) so the JSON reads as if generated that way."""
    for p in conv["participants"]:
        for s in p["sessions"]:
            segs = [dict(sorted(g.items())) for g in s.pop("segments")]
            s["segments"] = segs
    conv = dict(sorted(conv.items()))
    new = make_entry(conv, old["meta"]["media"])
    i = next(k for k, c in enumerate(ds.conversations) if c is old)
    ds.conversations[i] = new
    ds.conv_by_id[new["meta"]["id"]] = new
    return new


def append_wrapup(session, t0, code):
    """Append a closed wrapup segment t0 .. t0+30 s and its tAcw/tHandle metrics."""
    segs = session["segments"]
    g = {"segmentStart": iso_ms(t0), "segmentEnd": iso_ms(t0 + WRAPUP_MS),
         "segmentType": "wrapup", "wrapUpCode": code}
    if "queueId" in segs[-1]:
        g["queueId"] = segs[-1]["queueId"]
    segs.append(g)
    mets = session.setdefault("metrics", [])
    mets.append(metric_dict("tAcw", WRAPUP_MS, t0 + WRAPUP_MS))
    answered = [parse_iso(x["segmentStart"]) for x in segs if x["segmentType"] == "interact"]
    if answered:
        mets.append(metric_dict("tHandle", t0 - answered[0] + WRAPUP_MS, t0 + WRAPUP_MS))
    return g


def mutate_wrapup(ds, body):
    """A wrap-up code arrives late or changes.

    Sets wrapUpCode (and wrapUpNote when given; null removes it) on the
    conversation's last wrapup segment; without one, appends a wrapup
    segment to the last session of an agent whose last segment is closed."""
    check_keys(body, ("conversationId", "wrapUpCode", "wrapUpNote"))
    old, conv = take_conversation(ds, body)
    code = req_str(body, "wrapUpCode")
    note = body.get("wrapUpNote")
    if note is not None and not isinstance(note, str):
        raise MutationError("wrapUpNote must be a string or null")
    wraps = [g for _, _, g in iter_segments(conv) if g["segmentType"] == "wrapup"]
    if wraps:
        # the latest by segmentStart; on a tie the later one in the document
        g = max(enumerate(wraps), key=lambda kg: (parse_iso(kg[1]["segmentStart"]), kg[0]))[1]
    else:
        agents = [p for p in conv["participants"] if p["purpose"] == "agent"
                  and p["sessions"] and "segmentEnd" in p["sessions"][-1]["segments"][-1]]
        if not agents:
            raise MutationError("conversation %s has no wrapup segment and no agent whose last "
                                "segment is closed" % conv["conversationId"])
        s = agents[-1]["sessions"][-1]
        g = append_wrapup(s, parse_iso(s["segments"][-1]["segmentEnd"]), code)
    g["wrapUpCode"] = code
    if "wrapUpNote" in body:
        if note is None:
            g.pop("wrapUpNote", None)
        else:
            g["wrapUpNote"] = note
    put_conversation(ds, old, conv)
    return {"ok": True, "conversationId": conv["conversationId"]}


def mutate_end(ds, body):
    """An in-progress conversation ends at body.at.

    Closes every open segment, sets conversationEnd and adds the agents'
    talk metrics; unless "wrapup" is false each agent also gets a closed
    wrapup segment (at .. at+30 s) with a wrap-up code (body.wrapUpCode,
    else one of the dataset's codes picked from the conversation id)."""
    check_keys(body, ("conversationId", "at", "wrapup", "wrapUpCode"))
    old, conv = take_conversation(ds, body)
    cid = conv["conversationId"]
    at = req_time(body, "at")
    with_wrapup = opt_bool(body, "wrapup", True)
    code = body.get("wrapUpCode")
    if code is not None:
        code = req_str(body, "wrapUpCode")
    if old["meta"]["end"] is not None:
        raise MutationError("conversation %s is not in progress" % cid)
    latest = max(parse_iso(g["segmentStart"]) for _, _, g in iter_segments(conv))
    if at <= latest:
        raise MutationError("at must be after every segmentStart of conversation %s (the latest "
                            "is %s)" % (cid, iso_ms(latest)))
    code = code or random.Random("end:%s" % cid).choice(ds.wrapups)
    out = {"ok": True, "conversationId": cid}
    for p in conv["participants"]:
        closed = False
        for s in p["sessions"]:
            for g in s["segments"]:
                if "segmentEnd" not in g:
                    g["segmentEnd"] = iso_ms(at)
                    g.setdefault("disconnectType",
                                 "client" if p["purpose"] == "agent" else "endpoint")
                    closed = True
        if not closed or p["purpose"] != "agent":
            continue
        s = p["sessions"][-1]
        talk = sum(parse_iso(g["segmentEnd"]) - parse_iso(g["segmentStart"])
                   for g in s["segments"] if g["segmentType"] == "interact")
        s.setdefault("metrics", []).extend([metric_dict("tTalk", talk, at),
                                            metric_dict("tTalkComplete", talk, at)])
        if with_wrapup:
            append_wrapup(s, at, code)
            out["wrapUpCode"] = code
    conv["conversationEnd"] = iso_ms(at)
    put_conversation(ds, old, conv)
    return out


def mutate_add(ds, body):
    """A new conversation appears at body.start (possibly in an old interval).

    Generated like the dataset's own (optionally of body.media, or still
    in progress with inProgress: true) from a random.Random seeded by the
    dataset seed, the start instant and the number of adds so far, so the
    same sequence of mutations always yields the same conversations."""
    check_keys(body, ("start", "media", "inProgress"))
    start = req_time(body, "start")
    media = body.get("media")
    if media is not None and media not in MEDIA_TYPES:
        raise MutationError("media must be one of %s" % ", ".join(MEDIA_TYPES))
    in_progress = opt_bool(body, "inProgress", False)
    agents = [u for u in ds.users if u["state"] == "active"][:80]
    if not agents:
        raise MutationError("there is no active user to take the conversation")
    ds.added += 1
    rng = random.Random("add:%d:%d:%d" % (ds.seed, start, ds.added))
    entry = ds._gen_conversation(rng, start, agents, in_progress, media)
    cid = entry["meta"]["id"]
    if cid in ds.conv_by_id:
        raise MutationError("generated conversation id %s already exists" % cid)
    keys = [(c["meta"]["start"], c["meta"]["id"]) for c in ds.conversations]
    ds.conversations.insert(bisect.bisect_left(keys, (start, cid)), entry)
    ds.conv_by_id[cid] = entry
    return {"ok": True, "conversationId": cid}


def take_user(ds, body):
    """The stored user dict for body.id."""
    uid = req_str(body, "id")
    u = ds.users_by_id.get(uid)
    if u is None:
        raise MutationError("unknown user id %s" % uid)
    return u


def mutate_remove_user(ds, body):
    """A user disappears from /api/v2/users (every state) and by-id requests."""
    check_keys(body, ("id",))
    u = take_user(ds, body)
    ds.users = [x for x in ds.users if x is not u]
    del ds.users_by_id[u["id"]]
    return {"ok": True, "id": u["id"]}


USER_FIELD_KINDS = {
    "str": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "dict": (lambda v: isinstance(v, dict), "an object"),
    "state": (lambda v: isinstance(v, str) and v in USER_STATES,
              "one of " + ", ".join(USER_STATES)),
    "division": (lambda v: isinstance(v, dict) and isinstance(v.get("id"), str)
                 and isinstance(v.get("name"), str), "an object with id and name"),
    "time": (lambda v: isinstance(v, str), "an ISO-8601 date-time"),
}


def check_user_field(key, value):
    """Validate one update_user field -> the value to store."""
    kind = USER_FIELDS.get(key)
    if kind is None:
        raise MutationError("%s is not a user field update_user can change" % key)
    nullable = kind.endswith("?")
    if nullable and value is None:
        return None
    test, want = USER_FIELD_KINDS[kind.rstrip("?")]
    ok = test(value)
    if ok and kind.startswith("time"):
        try:
            value = iso_ms(parse_iso(value))
        except ValueError:
            ok = False
    if not ok:
        raise MutationError("%s must be %s%s" % (key, want, " or null" if nullable else ""))
    return copy.deepcopy(value)


def mutate_update_user(ds, body):
    """Change some fields of a user and bump its version by 1."""
    check_keys(body, ("id", "fields"))
    u = take_user(ds, body)
    fields = body.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise MutationError("fields must be a non-empty object")
    new = copy.deepcopy(u)
    for k in sorted(fields):
        if k not in u:
            raise MutationError("%s is not a user field" % k)
        new[k] = check_user_field(k, fields[k])
    new["version"] += 1
    ds.replace_user(u, new)
    return {"ok": True, "id": new["id"], "version": new["version"]}


def take_entity(ds, body):
    """(table, entity) for body.table and body.id, in the fork's directory."""
    table = body.get("table")
    if table not in DIRECTORY_TABLES or table == "queue_members":
        raise MutationError("table must be one of %s" % ", ".join(
            t for t in DIRECTORY_TABLES if t != "queue_members"))
    eid = req_str(body, "id")
    entity = ds.directory.by_id[table].get(eid)
    if entity is None:
        raise MutationError("unknown %s id %s" % (table, eid))
    return table, entity


def mutate_remove_entity(ds, body):
    """A directory entity disappears from its listing (a queue: its members
    listing too, which then answers 404), or, with table queue_members and
    queueId, a user stops being a member of that queue."""
    if body.get("table") == "queue_members":
        check_keys(body, ("table", "queueId", "id"))
        qid, uid = req_str(body, "queueId"), req_str(body, "id")
        members = ds.directory.members.get(qid)
        if members is None or not any(m["userId"] == uid for m in members):
            raise MutationError("user %s is not a member of queue %s" % (uid, qid))
        ds.directory.members[qid] = [m for m in members if m["userId"] != uid]
        return {"ok": True, "queueId": qid, "id": uid}
    check_keys(body, ("table", "id"))
    table, entity = take_entity(ds, body)
    ds.directory.replace(table, entity, None)
    return {"ok": True, "table": table, "id": entity["id"]}


def mutate_rename_entity(ds, body):
    """A directory entity gets a new name (a presence definition: its
    en_US label too) and dateModified/modifiedDate = the dataset's end.
    What refers to it by name elsewhere keeps the old name."""
    check_keys(body, ("table", "id", "name"))
    table, entity = take_entity(ds, body)
    name = body.get("name")
    if not isinstance(name, str):
        raise MutationError("name must be a string")
    new = dict(entity, name=name)
    for key in ("dateModified", "modifiedDate"):
        if key in new:
            new[key] = iso_ms(DATASET_END)
    if "languageLabels" in new:
        new["languageLabels"] = dict(new["languageLabels"], en_US=name)
    ds.directory.replace(table, entity, new)
    return {"ok": True, "table": table, "id": entity["id"]}


def mutate_system_wrapups(ds, body):
    """Every Nth conversation (default 10, in dataset order) that has a
    wrapup segment gets the system code (default ININ-WRAP-UP-TIMEOUT) on
    its last one, as when agents let the after-call work time out: codes
    the wrap-up code listing does not hold."""
    check_keys(body, ("code", "every"))
    code = body.get("code", SYSTEM_WRAPUP_CODE)
    every = body.get("every", 10)
    if not isinstance(code, str) or not code:
        raise MutationError("code must be a non-empty string")
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise MutationError("every must be an integer >= 1")
    with_wrapup = [c for c in ds.conversations
                   if any(g["segmentType"] == "wrapup" for _, _, g in iter_segments(c["full"]))]
    changed = []
    for entry in with_wrapup[every - 1::every]:
        mutate_wrapup(ds, {"action": "wrapup", "conversationId": entry["meta"]["id"],
                           "wrapUpCode": code})
        changed.append(entry["meta"]["id"])
    return {"ok": True, "code": code, "conversations": len(changed)}


def primary_presence_id(ds, system):
    """The id of the system (primary) presence definition of system."""
    for p in ds.directory.tables["presence_definitions"]:
        if p["primary"] and p["systemPresence"] == system:
            return p["id"]
    raise MutationError("systemPresence must be one of %s"
                        % ", ".join(s for s, _ in SYSTEM_PRESENCES))


def status_choice(body, key, default, allowed):
    """An optional member of body that must be one of allowed."""
    v = body.get(key, default)
    if v not in allowed:
        raise MutationError("%s must be one of %s" % (key, ", ".join(allowed)))
    return v


def mutate_add_user_status(ds, body):
    """A user gets one presence record and one routing-status record,
    start .. start + minutes (default 5), where they had none: status that
    arrives late, for a user without a timeline there."""
    check_keys(body, ("userId", "start", "minutes", "systemPresence", "routingStatus"))
    uid = req_str(body, "userId")
    if uid not in ds.users_by_id:
        raise MutationError("unknown user id %s" % uid)
    start = req_time(body, "start")
    minutes = body.get("minutes", 5)
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1:
        raise MutationError("minutes must be an integer >= 1")
    end = start + minutes * 60000
    system = status_choice(body, "systemPresence", "AVAILABLE",
                           [s for s, _ in SYSTEM_PRESENCES])
    routing = status_choice(body, "routingStatus", "OFF_QUEUE", ROUTING_STATUSES)
    status = ds.agent_status
    if any(status.user_records(uid, start, end)):
        raise MutationError("user %s already has status records in that time" % uid)
    presence = sorted(status.presence.get(uid, []) + [
        (start, end, system, primary_presence_id(ds, system))])
    routes = sorted(status.routing.get(uid, []) + [(start, end, routing)])
    status.set_user(uid, presence, routes)
    return {"ok": True, "userId": uid}


def mutate_end_user_status(ds, body):
    """A user's open presence and routing-status records end at at, and new
    open ones begin (systemPresence, default OFFLINE, and routingStatus,
    default OFF_QUEUE): records that close after a sync read them open."""
    check_keys(body, ("userId", "at", "systemPresence", "routingStatus"))
    uid = req_str(body, "userId")
    status = ds.agent_status
    presence, routes = status.presence.get(uid), status.routing.get(uid)
    if not presence or presence[-1][1] is not None:
        raise MutationError("user %s has no open status record" % uid)
    at = req_time(body, "at")
    system = status_choice(body, "systemPresence", "OFFLINE", [s for s, _ in SYSTEM_PRESENCES])
    routing = status_choice(body, "routingStatus", "OFF_QUEUE", ROUTING_STATUSES)
    if at <= presence[-1][0] or (routes and at <= routes[-1][0]):
        raise MutationError("at must be after the start of the open records of user %s" % uid)
    presence = presence[:-1] + [presence[-1][:1] + (at,) + presence[-1][2:],
                                (at, None, system, primary_presence_id(ds, system))]
    if routes and routes[-1][1] is None:
        routes = routes[:-1] + [(routes[-1][0], at, routes[-1][2]), (at, None, routing)]
    status.set_user(uid, presence, routes or [])
    return {"ok": True, "userId": uid}


MUTATIONS = {"wrapup": mutate_wrapup, "end": mutate_end, "add": mutate_add,
             "remove_user": mutate_remove_user, "update_user": mutate_update_user,
             "remove_entity": mutate_remove_entity, "rename_entity": mutate_rename_entity,
             "system_wrapups": mutate_system_wrapups,
             "add_user_status": mutate_add_user_status,
             "end_user_status": mutate_end_user_status}


def apply_mutation(ds, body):
    """Apply one /__emu/mutate action to ds (a fork) -> the answer dict."""
    if not isinstance(body, dict):
        raise MutationError("the body must be a JSON object with an action")
    action = body.get("action")
    fn = MUTATIONS.get(action) if isinstance(action, str) else None
    if fn is None:
        raise MutationError("unknown action %s; expected one of %s"
                            % (json.dumps(action), ", ".join(MUTATIONS)))
    return fn(ds, body)
