"""What a fired fault rule does: the answer it gives or the change it makes.

Owns: the answers of the kinds that replace the endpoint's (status,
echo_credentials, redirect), the rewrites of a 2xx JSON answer (extra
fields, huge strings, deep nesting, splices, wrong types, totalHits),
replaced bodies (malformed, empty_200, short_200, gzip_bomb), the
transport modes a reply is given (delay, stream, truncate, reset, stall),
conversations arriving during a scan (late_arrivals), and refunding a rule
that found nothing to act on.

Must not: choose which rule fires (faults.py does) or route a request.
"""

import html
import json
import zlib

from .exchange import ERROR_CODES, Reply, oauth_error, platform_error
from .faults import BODY_KINDS
from .wire import dumps_bytes, iso_ms, parse_interval, parse_iso

ERROR_MESSAGES = {500: "The server encountered an unexpected condition.",
                  502: "The gateway received an invalid response.",
                  503: "Service Unavailable - The server is currently unavailable "
                       "(because it is overloaded or down for maintenance).",
                  504: "The request timed out.", 408: "The request timed out.",
                  403: "You are not authorized to perform the requested action.",
                  404: "The requested resource was not found."}
OAUTH_ERRORS = {400: "invalid_request", 401: "invalid_client", 403: "unauthorized_client"}
HTML_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
                503: "Service Temporarily Unavailable", 504: "Gateway Time-out",
                300: "Multiple Choices", 301: "Moved Permanently", 302: "Found",
                303: "See Other", 307: "Temporary Redirect", 308: "Permanent Redirect"}
# where a redirect points when its rule gives no location: a host that
# never resolves, so a client that follows it goes nowhere
REDIRECT_HOST = "https://api.example.invalid"
# the fields huge_string and wrong_type change by default, per endpoint class
# (conversations otherwise: externalTag, which most lack, and conversationStart)
DEFAULT_FIELDS = {"users": ("title", "version"), "directory": ("name", "name"),
                  "userdetails": ("userId", "primaryPresence"),
                  "userjobs": ("userId", "primaryPresence")}
# what a body cut short or a gzip bomb holds when the answer had no body
EMPTY_PAGE = b'{"conversations":[],"totalHits":0}'



def huge_text(size):
    """The 'huge_string' value: "00000000|00000001|..." cut to size characters
    (ASCII, so size bytes too).  Each 9-character cell holds its own index,
    so a lost or repeated piece shows."""
    return "".join("%08d|" % i for i in range(size // 9 + 1))[:size]


DEEP_PLACEHOLDER = "\u0000emu-deep-nesting\u0000"


def body_rows(obj):
    """The rows of an API answer: the entities of a listing, the
    conversations of a details query, lookup or job results page, the
    userDetails of a user details page, or a single conversation."""
    if not isinstance(obj, dict):
        return []
    for key in ("entities", "conversations", "userDetails"):
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
    for key in ("entities", "conversations", "userDetails"):
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
        if not rows and kind == "wrong_type" and rule.get("field") in obj:
            rows = [obj]        # an answer without rows (a job status): its own field
        if not rows:
            return False
        first = rows[0]
        huge_field, wrong_field = DEFAULT_FIELDS.get(cls, ("externalTag", "conversationStart"))
        if kind == "huge_string":
            first[rule.get("field") or huge_field] = \
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
            field = rule.get("field") or wrong_field
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



def fault_answer(fault, corr, cls, target, authorization):
    """The answer of a rule in faults.ANSWER_KINDS, which replaces the
    endpoint's: target is the request's path and query string,
    authorization its Authorization header (echo_credentials sends it
    back)."""
    kind = fault.get("kind", "status")
    if kind == "echo_credentials":
        return echo_credentials(fault, corr, cls, authorization)
    if kind == "redirect":
        return redirect(fault, target)
    return fault_status(fault, corr)


def echo_credentials(fault, corr, cls, authorization):
    """echo_credentials: an error (401 unless status says) whose text holds
    the request's Authorization header as sent: Basic base64(id:secret)
    from the token endpoint (OAuth shape), Bearer <token> from the API
    (platform shape), as a careless endpoint or proxy would."""
    status = int(fault.get("status", 401))
    shown = authorization if authorization is not None else "(none)"
    if cls == "token":
        return oauth_error(status, OAUTH_ERRORS.get(status, "invalid_client"),
                           "Client authentication failed for Authorization: %s" % shown)
    return platform_error(corr, status, ERROR_CODES.get(status, "bad.request"),
                          "Request refused for Authorization: %s" % shown)


def redirect(fault, target):
    """redirect: a 3xx (302 unless status says) with a Location header and
    the small HTML page servers send with one."""
    status = int(fault.get("status", 302))
    location = fault.get("location") or REDIRECT_HOST + target
    reason = HTML_REASONS.get(status, "Redirect")
    page = ("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<h1>%s</h1>\r\n"
            "<p>The document has moved <a href=\"%s\">here</a>.</p>\r\n</body>\r\n</html>\r\n"
            % (status, reason, reason, html.escape(location)))
    return Reply(status, raw=page.encode(), ctype="text/html", headers={"Location": location})


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
    if kind in ("repeat_page", "late_arrivals") and rep.status != 200:
        st.faults.refund(post)
        entry["fault"] = None
        return
    rep.fault = kind
    if kind == "late_arrivals" and cls == "userdetails":
        answers = st.mutate_all(late_user_arrivals(st.dataset, post, entry["body"], rep.body))
        st.faults.record(post, "added", [a["userId"] for a in answers])
    elif kind == "late_arrivals":
        answers = st.mutate_all(late_arrivals(post, entry["body"]))
        st.faults.record(post, "added", [a["conversationId"] for a in answers])
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
    elif kind in ("empty_200", "short_200"):
        body = rep.body if len(rep.body) >= 2 else EMPTY_PAGE
        keep = 0 if kind == "empty_200" else min(int(post.get("size", len(body) // 2)),
                                                 len(body) - 1)
        rep.status = 200
        rep.body = body[:keep]
        rep.ctype = "application/json"
        rep.headers.pop("Retry-After", None)
    elif kind == "gzip_bomb":
        rep.status = 200
        rep.body = b""
        rep.ctype = "application/json"
        rep.headers.pop("Retry-After", None)
        rep.mode = "gzip_bomb"
        rep.bomb = GzipBomb(post.get("size"))
        rep.seconds = float(post.get("seconds", 60.0))


def late_arrivals(rule, query_body):
    """The /__emu/mutate actions of a late_arrivals firing: rule.add (1 by
    default) conversations starting at rule.start, else at the start of
    the query's interval, where they sort before every row of the interval
    already returned (order asc)."""
    if "start" in rule:
        start = parse_iso(rule["start"])
    else:
        start = parse_interval(query_body["interval"])[0]
    action = {"action": "add", "start": iso_ms(start)}
    if rule.get("media"):
        action["media"] = rule["media"]
    return [dict(action) for _ in range(int(rule.get("add", 1)))]


def late_user_arrivals(ds, rule, query_body, page):
    """The /__emu/mutate actions of a late_arrivals firing on a user details
    page: rule.add users (1 by default) who had no record in the query's
    interval get one of each kind at rule.start, else at the interval's
    start.  They are the users with the smallest ids among those that sort
    before the last user of the page just answered (order asc), so the
    later pages shift; when there are too few, the smallest ids after it."""
    lo, hi = parse_interval(query_body["interval"])
    start = parse_iso(rule["start"]) if "start" in rule else lo
    answered = [u.get("userId") for u in json.loads(page.decode("utf-8")).get("userDetails", [])]
    last = answered[-1] if answered else ""
    status = ds.agent_status
    free = sorted(u["id"] for u in ds.users
                  if u["state"] != "deleted" and not any(status.user_records(u["id"], lo, hi)))
    chosen = ([u for u in free if u < last] + [u for u in free if u >= last])[:int(rule.get("add", 1))]
    return [{"action": "add_user_status", "userId": uid, "start": iso_ms(start)} for uid in chosen]


class GzipBomb:
    """A gzip body (Content-Encoding: gzip) that inflates to size bytes,
    or without end when size is None: '{"conversations":[', spaces,
    '],"totalHits":0}', valid JSON once whole.

    The spaces are one deflate block of BOMB_UNIT spaces, compressed once
    and sent again and again: each block ends with a full flush, so the
    compressor's output for it never depends on what came before, and the
    stream stays valid however many are sent.  About 1 KB on the wire
    inflates to 1 MiB."""

    UNIT = 1 << 20
    HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, no name, no mtime
    PREFIX = b'{"conversations":['
    SUFFIX = b'],"totalHits":0}'

    def __init__(self, size):
        self.size = size
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        self.prefix = comp.compress(self.PREFIX) + comp.flush(zlib.Z_FULL_FLUSH)
        self.unit = comp.compress(b" " * self.UNIT) + comp.flush(zlib.Z_FULL_FLUSH)
        if size is None:
            self.units, self.rest_plain, self.tail = None, b"", b""
            return
        spaces = max(0, size - len(self.PREFIX) - len(self.SUFFIX))
        self.units = spaces // self.UNIT
        self.rest_plain = b" " * (spaces % self.UNIT)
        self.tail = (comp.compress(self.rest_plain) + comp.flush(zlib.Z_FULL_FLUSH)
                     + comp.compress(self.SUFFIX) + comp.flush(zlib.Z_FINISH))

    def content_length(self):
        """The bytes on the wire, or None for a body without end."""
        if self.units is None:
            return None
        return (len(self.HEADER) + len(self.prefix) + self.units * len(self.unit)
                + len(self.tail) + 8)

    def chunks(self, batch=64):
        """The body's bytes, batch units to a chunk; the CRC-32 and length
        of the trailer are computed on the way."""
        yield self.HEADER + self.prefix
        crc = zlib.crc32(self.PREFIX)
        plain_unit = b" " * self.UNIT
        sent = 0
        while self.units is None or sent < self.units:
            n = batch if self.units is None else min(batch, self.units - sent)
            if self.units is not None:
                for _ in range(n):
                    crc = zlib.crc32(plain_unit, crc)
            yield self.unit * n
            sent += n
        crc = zlib.crc32(self.SUFFIX, zlib.crc32(self.rest_plain, crc))
        length = len(self.PREFIX) + sent * self.UNIT + len(self.rest_plain) + len(self.SUFFIX)
        yield self.tail + crc.to_bytes(4, "little") + (length & 0xffffffff).to_bytes(4, "little")
