"""Fault rules: what a test asks to go wrong, and making it go wrong.

Owns: the rule kinds and their validation (check_rule), the rule book of
one emulator (FaultRules: selecting, counting and firing rules, seeded
probability), the answers of kind status, and what the other kinds do to
an answer: body rewrites (extra fields, huge strings, deep nesting,
splices, wrong types, totalHits), transport modes (delay, stream,
truncate, reset, stall) and replaced bodies (malformed, empty_200).

Must not: route, authenticate or read the dataset; a fault acts on the
request or on the answer the endpoint built.
"""

import json
import random
import threading

from .endpoints import FAULT_ENDPOINTS, endpoint_matches
from .exchange import ERROR_CODES, Reply, oauth_error, platform_error
from .wire import dumps_bytes, parse_iso

FAULT_KINDS = ("status", "delay", "revoke", "malformed", "truncate", "content_type", "reset",
               "stall", "extra_fields", "huge_string", "deep_nesting", "empty_200",
               "total_hits", "repeat_page", "wrong_type", "splice")
# kinds that rewrite a 2xx JSON answer; a rule of such a kind that meets
# any other answer (a 401, a 404, ...) lets it through and is not counted
BODY_KINDS = ("extra_fields", "huge_string", "deep_nesting", "total_hits", "wrong_type",
              "splice")
# kinds that only match details query pages (POST .../details/query)
QUERY_PAGE_KINDS = ("total_hits", "repeat_page")


ERROR_MESSAGES = {500: "The server encountered an unexpected condition.",
                  502: "The gateway received an invalid response.",
                  503: "Service Unavailable - The server is currently unavailable "
                       "(because it is overloaded or down for maintenance).",
                  504: "The request timed out.", 408: "The request timed out.",
                  403: "You are not authorized to perform the requested action.",
                  404: "The requested resource was not found."}
OAUTH_ERRORS = {400: "invalid_request", 401: "invalid_client", 403: "unauthorized_client"}
HTML_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
                503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}



class FaultRules:
    """The fault rules of one emulator (POST /__emu/faults), in order.

    Each rule keeps its counters (_seen, _n, _fired, _spent) and an _id;
    probability draws come from one RNG seeded by the setting fault_seed,
    so the same sequence of requests fires the same rules."""

    def __init__(self, seed):
        self.lock = threading.Lock()
        self.rules = []
        self.rng = random.Random(seed)
        self.seq = 0              # ids of rules (for refunds)

    def reseed(self, seed):
        """Restart the probability sequence (the setting fault_seed)."""
        with self.lock:
            self.rng = random.Random(seed)

    def add(self, rules):
        """Append checked rules; returns the number of rules now held."""
        with self.lock:
            for r in rules:
                r = dict(r)
                self.seq += 1
                r.update({"_seen": 0, "_n": 0, "_fired": 0, "_spent": False, "_id": self.seq})
                self.rules.append(r)
            return len(self.rules)

    def clear(self):
        """Remove every rule (the RNG and the id sequence go on)."""
        with self.lock:
            self.rules = []

    def listing(self):
        """The rules with their counters, as GET /__emu/faults shows them."""
        with self.lock:
            return [dict((k.lstrip("_"), v) for k, v in r.items()) for r in self.rules]

    def take(self, endpoint_class, method, path, query_page=None):
        """Return the fault rule that fires for this request, or None.

        query_page is the pageNumber of a details query (POST .../details/query),
        None for any other request: kinds in QUERY_PAGE_KINDS only match
        details query pages (repeat_page: page 2 and later)."""
        with self.lock:
            for r in self.rules:
                if r["_spent"]:
                    continue
                ep = r.get("endpoint", "any")
                if not endpoint_matches(ep, endpoint_class):
                    continue
                if r.get("method") and r["method"].upper() != method:
                    continue
                if r.get("path") and not path.startswith(r["path"]):
                    continue
                kind = r.get("kind", "status")
                if kind in QUERY_PAGE_KINDS and (query_page is None or
                                                 (kind == "repeat_page" and query_page < 2)):
                    continue
                if r["_seen"] < int(r.get("after", 0) or 0):
                    r["_seen"] += 1
                    continue
                every = int(r.get("every", 1) or 1)
                if every > 1:
                    r["_n"] += 1
                    if r["_n"] % every:
                        continue
                p = r.get("probability")
                if p is not None and p < 1 and self.rng.random() >= p:
                    continue
                r["_fired"] += 1
                cnt = int(r.get("count", 1) if r.get("count") is not None else 1)
                if cnt > 0 and r["_fired"] >= cnt:
                    r["_spent"] = True
                return dict(r)
        return None

    def refund(self, rule):
        """Undo the firing of rule (a copy take_fault returned): it had
        nothing to act on, so it does not count."""
        with self.lock:
            for r in self.rules:
                if r["_id"] == rule["_id"]:
                    r["_fired"] -= 1
                    cnt = int(r.get("count", 1) if r.get("count") is not None else 1)
                    r["_spent"] = cnt > 0 and r["_fired"] >= cnt
                    return


def check_rule(r):
    """Validate a fault rule; returns an error string or None."""
    if not isinstance(r, dict):
        return "a fault rule must be a JSON object"
    if r.get("kind", "status") not in FAULT_KINDS:
        return "kind must be one of %s" % ", ".join(FAULT_KINDS)
    if r.get("endpoint", "any") not in FAULT_ENDPOINTS:
        return "endpoint must be one of %s" % ", ".join(FAULT_ENDPOINTS)
    if r.get("body", "json") not in ("json", "html", "empty", "oauth"):
        return "body must be json, html, empty or oauth"
    for k in ("status", "after", "count", "delta", "size", "depth", "every"):
        if k in r and r[k] is not None and (not isinstance(r[k], int) or isinstance(r[k], bool)):
            return "%s must be an integer" % k
    if "every" in r and r["every"] < 1:
        return "every must be at least 1"
    for k in ("size", "depth"):
        if k in r and not 1 <= r[k] <= 64 * 1024 * 1024:
            return "%s must be between 1 and 67108864" % k
    if "seconds" in r and (not isinstance(r["seconds"], (int, float)) or
                           isinstance(r["seconds"], bool)):
        return "seconds must be a number"
    if "probability" in r:
        p = r["probability"]
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
            return "probability must be a number between 0 and 1"
    for k in ("ctype", "field"):
        if k in r and (not isinstance(r[k], str) or not r[k]):
            return "%s must be a non-empty string" % k
    if r.get("kind") == "splice" and not isinstance(r.get("text"), str):
        return "a splice rule needs text, a string"
    return None



def query_page_number(body):
    """pageNumber of a details query body (1 when absent), None if unusable."""
    if not isinstance(body, dict):
        return None
    paging = body.get("paging")
    if paging is None:
        return 1
    if not isinstance(paging, dict):
        return None
    n = paging.get("pageNumber", 1)
    if n is None:
        return 1
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def huge_text(size):
    """The 'huge_string' value: "00000000|00000001|..." cut to size characters
    (ASCII, so size bytes too).  Each 9-character cell holds its own index,
    so a lost or repeated piece shows."""
    return "".join("%08d|" % i for i in range(size // 9 + 1))[:size]


DEEP_PLACEHOLDER = "\u0000emu-deep-nesting\u0000"


def body_rows(obj):
    """The rows of an API answer: users of a listing, conversations of a
    details query, lookup or job results page, or a single conversation."""
    if not isinstance(obj, dict):
        return []
    for key in ("entities", "conversations"):
        if isinstance(obj.get(key), list):
            return [r for r in obj[key] if isinstance(r, dict)]
    if "conversationId" in obj:
        return [obj]
    return []


def with_extra_fields(obj, level):
    """obj with unknown fields before and after its own ones.

    The values have every JSON type, and the nested object reuses key names
    a client looks for (id, conversationId, entities, conversations), so a
    client that searches by name instead of reading the right level picks
    the wrong one."""
    first = {"emuExtra%sFirst" % level: {
        "id": "not-an-id", "conversationId": "not-a-conversation", "name": "shadow",
        "entities": [{"id": "shadow"}], "conversations": [{"conversationId": "shadow"}],
        "nested": [1, -2.5e-3, "text", None, True, False, {"deeper": {"deepest": []}}]}}
    last = {"emuExtra%sText" % level: "unknown \"quoted\" \\ \u00e9 \U0001f3a7",
            "emuExtra%sNull" % level: None,
            "emuExtra%sNumber" % level: 123456789012345678901234567890,
            "emuExtra%sList" % level: [[], {}, [[{"segments": []}]]]}
    out = dict(first)
    out.update(obj)
    out.update(last)
    return out


def add_extra_fields(obj):
    """extra_fields: unknown fields at the top level and in every user,
    conversation, participant, session, segment and metric."""
    def conversation(c):
        parts = []
        for p in c.get("participants") or []:
            if not isinstance(p, dict):
                parts.append(p)
                continue
            sessions = []
            for se in p.get("sessions") or []:
                if not isinstance(se, dict):
                    sessions.append(se)
                    continue
                se = dict(se)
                if isinstance(se.get("segments"), list):
                    se["segments"] = [with_extra_fields(g, "Segment") if isinstance(g, dict)
                                      else g for g in se["segments"]]
                if isinstance(se.get("metrics"), list):
                    se["metrics"] = [with_extra_fields(m, "Metric") if isinstance(m, dict)
                                     else m for m in se["metrics"]]
                sessions.append(with_extra_fields(se, "Session"))
            p = dict(p)
            if "sessions" in p:
                p["sessions"] = sessions
            parts.append(with_extra_fields(p, "Participant"))
        c = dict(c)
        if "participants" in c:
            c["participants"] = parts
        return with_extra_fields(c, "Row")

    def row(r):
        return conversation(r) if "conversationId" in r else with_extra_fields(r, "Row")
    if "conversationId" in obj:
        return conversation(obj)
    out = dict(obj)
    for key in ("entities", "conversations"):
        if isinstance(out.get(key), list):
            out[key] = [row(r) if isinstance(r, dict) else r for r in out[key]]
    return with_extra_fields(out, "Top")


def wrong_type_value(value):
    """A value of another JSON type than value, for wrong_type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        try:
            return parse_iso(value)          # an instant as epoch ms
        except ValueError:
            return 12345
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return 12345


def rewrite_body(rep, rule, cls):
    """Apply a BODY_KINDS rule to a 2xx JSON answer in place.

    Returns False (and leaves rep alone) when there is nothing to act on:
    not a 2xx JSON object, or no rows for the kinds that change a row."""
    if not 200 <= rep.status < 300 or not rep.body:
        return False
    try:
        obj = json.loads(rep.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(obj, dict):
        return False
    kind = rule["kind"]
    rows = body_rows(obj)
    splice = None
    if kind == "extra_fields":
        obj = add_extra_fields(obj)
    elif kind == "total_hits":
        if not isinstance(obj.get("totalHits"), int):
            return False
        obj["totalHits"] = max(0, obj["totalHits"] + int(rule.get("delta", 50)))
    else:
        if not rows:
            return False
        first = rows[0]
        is_user = cls == "users"
        if kind == "huge_string":
            first[rule.get("field") or ("title" if is_user else "externalTag")] = \
                huge_text(int(rule.get("size", 1048576)))
        elif kind == "deep_nesting":
            first[rule.get("field") or "emuDeep"] = DEEP_PLACEHOLDER
            depth = int(rule.get("depth", 10000))
            splice = b"[" * depth + b"]" * depth
        elif kind == "splice":
            # raw text, JSON or not, that json.dumps could not write
            first[rule.get("field") or "emuSplice"] = DEEP_PLACEHOLDER
            splice = rule["text"].encode("utf-8", "surrogatepass")
        elif kind == "wrong_type":
            field = rule.get("field") or ("version" if is_user else "conversationStart")
            first[field] = (rule["value"] if "value" in rule
                            else wrong_type_value(first.get(field)))
    body = dumps_bytes(obj)
    if splice is not None:
        # json.dumps cannot nest 10,000 levels (recursion limit) nor write
        # what is not JSON: splice the bytes in
        body = body.replace(json.dumps(DEEP_PLACEHOLDER).encode(), splice, 1)
    rep.body = body
    rep.ctype = "application/json"
    return True



def fault_status(fault, corr):
    """Build the answer for a kind=status fault."""
    status = int(fault.get("status", 500))
    kind = fault.get("body", "json")
    headers = {}
    ra = fault.get("retry_after")
    if ra is not None:
        headers["Retry-After"] = str(ra)
    if kind == "html":
        reason = HTML_REASONS.get(status, "Error")
        html = ("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s"
                "</h1></center>\r\n<hr><center>awselb/2.0</center>\r\n</body>\r\n</html>\r\n"
                % (status, reason, status, reason))
        return Reply(status, raw=html.encode(), ctype="text/html", headers=headers)
    if kind == "empty":
        return Reply(status, raw=b"", headers=headers)
    if kind == "oauth":
        rep = oauth_error(status, fault.get("code") or OAUTH_ERRORS.get(status, "server_error"),
                          fault.get("message") or "HTTP %d from the login service" % status)
        rep.headers.update(headers)
        return rep
    code = fault.get("code") or ERROR_CODES.get(status, "internal.server.error")
    if status == 429 and not fault.get("code") and ra is None:
        code = "too.many.requests"
    msg = fault.get("message")
    if not msg:
        if status == 429:
            secs = ra if ra is not None and str(ra).isdigit() else "60"
            msg = "Rate limit exceeded the maximum. Retry the request in [%s] seconds" % secs
        else:
            msg = ERROR_MESSAGES.get(status, "HTTP %d" % status)
    return platform_error(corr, status, code, msg, headers)


def repeat_page_body(body, query_page):
    """repeat_page: the body of the same query asking for the page before."""
    body = dict(body)
    body["paging"] = dict(body["paging"], pageNumber=query_page - 1)
    return json.dumps(body).encode("utf-8")


def apply_after(st, post, rep, cls, entry):
    """Apply a fired rule that acts on the answer (post) to rep, in place.

    A body rewrite, or repeat_page, that finds nothing to act on (an error
    answer, no rows) lets the answer through and is refunded, so that it
    fires on the next suitable answer instead."""
    rep.gzip = None     # the body may change below; compress what is sent
    kind = post["kind"]
    if kind in BODY_KINDS and not rewrite_body(rep, post, cls):
        # nothing to rewrite (an error answer, no rows): not counted
        st.faults.refund(post)
        entry["fault"] = None
        return
    if kind == "repeat_page" and rep.status != 200:
        st.faults.refund(post)
        entry["fault"] = None
        return
    rep.fault = kind
    if kind == "delay":
        rep.mode = "stream" if post.get("stream") else "delay"
        rep.seconds = float(post.get("seconds", 1.0))
    elif kind == "malformed":
        body = rep.body if rep.body else b'{"entities":[{"id":"x"}]}'
        if cls == "token":      # never hand out part of a live token
            body = b'{"access_token":"tr","token_type":"bearer","expires_in":86399}'
        rep.status = 200
        rep.ctype = "application/json"
        rep.body = body[:max(1, len(body) // 2)] + b'\x00{"\x7f'
        rep.headers.pop("Retry-After", None)
    elif kind in ("truncate", "reset", "stall"):
        if len(rep.body) < 2:
            rep.body = b'{"conversations":[],"totalHits":0}'
        if cls == "token" and rep.status == 200:
            # never hand out part of a live token
            rep.body = b'{"access_token":"tr","token_type":"bearer","expires_in":86399}'
        rep.mode = kind
        if kind == "stall":
            rep.seconds = float(post.get("seconds", 30.0))
    elif kind == "content_type":
        rep.ctype = post.get("ctype", "text/html")
        rep.ctype_exact = True
    elif kind == "empty_200":
        rep.status = 200
        rep.body = b""
        rep.ctype = "application/json"
        rep.headers.pop("Retry-After", None)
