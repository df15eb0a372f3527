"""Wire-level helpers every part of the emulator shares.

Owns: instants as the API writes and reads them (epoch milliseconds,
'2024-03-01T12:34:56.789Z', intervals 'start/end'), the emulator's one JSON
encoding, query-string parameters, request bodies, and QueryError, the
exception an endpoint raises to answer with a platform error.

Must not: know about the dataset, the HTTP server or the state.
"""

import datetime as dt
import json

DAY_MS = 86400 * 1000


def epoch_ms(d):
    """Aware datetime -> integer epoch milliseconds."""
    return int(round(d.timestamp() * 1000))


def iso_ms(ms):
    """Epoch milliseconds -> '2024-03-01T12:34:56.789Z'."""
    d = dt.datetime.fromtimestamp(ms // 1000, tz=dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def parse_iso(text):
    """Parse an ISO-8601 instant (Z or offset; naive = UTC) -> epoch ms.

    Raises ValueError on bad input."""
    t = text.strip()
    if not t or "T" not in t:
        raise ValueError("not an ISO-8601 date-time: %r" % text)
    if t.endswith("z"):
        t = t[:-1] + "Z"
    d = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return epoch_ms(d)


def parse_interval(text):
    """Parse 'start/end' -> (start_ms, end_ms); raises ValueError."""
    if not isinstance(text, str) or text.count("/") != 1:
        raise ValueError("interval must be 'start/end'")
    a, b = text.split("/")
    return parse_iso(a), parse_iso(b)



class QueryError(Exception):
    """An error answer (400 unless told) with its platform error code."""

    def __init__(self, message, code="bad.request", status=400):
        super().__init__(message)
        self.code = code
        self.status = status



def dumps_bytes(obj):
    """The emulator's one JSON encoding (compact, UTF-8, not ASCII-escaped)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")



def canonical_json(value):
    """A hashable text for filters: equal JSON gives equal text, whatever
    the key order the client sent."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))



def split_list(values):
    """Flatten repeated and comma-joined query values."""
    out = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def int_param(query, name, default):
    """An integer query parameter or QueryError(invalid.value)."""
    v = (query.get(name) or [None])[-1]
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise QueryError("Invalid value '%s' for %s" % (v, name), "invalid.value")


def parse_json(raw):
    """Parse a JSON request body or raise QueryError."""
    try:
        return json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise QueryError("Unable to parse the request body as JSON")
