"""Fault rules: what a test asks to go wrong, and which request it hits.

Owns: the rule kinds and the validation of a rule (check_rule), and the
rule book of one emulator (FaultRules): selecting a request by endpoint
class, method, path prefix and page, counting (after, every, count),
seeded probability, refunds, and what a rule records of its firings.

Must not: carry a fault out (effects.py builds the answer or the change)
or route a request.
"""

import random
import threading

from .endpoints import FAULT_ENDPOINTS, endpoint_matches
from .jobs import results_page_number
from .mutations import MEDIA_TYPES
from .wire import parse_iso

FAULT_KINDS = ("status", "delay", "revoke", "malformed", "truncate", "content_type", "reset",
               "stall", "extra_fields", "huge_string", "deep_nesting", "empty_200",
               "total_hits", "repeat_page", "wrong_type", "splice", "late_arrivals",
               "short_200", "echo_credentials", "gzip_bomb", "redirect")
# kinds whose answer replaces the endpoint's, given before any auth check
ANSWER_KINDS = ("status", "echo_credentials", "redirect")
# kinds that rewrite a 2xx JSON answer; a rule of such a kind that meets
# any other answer (a 401, a 404, ...) lets it through and is not counted
BODY_KINDS = ("extra_fields", "huge_string", "deep_nesting", "total_hits", "wrong_type",
              "splice")
# kinds that only match details query pages (POST .../details/query, of
# conversations or of users)
QUERY_PAGE_KINDS = ("total_hits", "repeat_page", "late_arrivals")
SIZE_MAX = 64 * 1024 * 1024         # size and depth of the body rewrites
BOMB_SIZE_MAX = 1 << 40             # gzip_bomb: inflated bytes (1 TiB)
LATE_ARRIVALS_MAX = 1000            # late_arrivals: conversations added at once


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

    def take(self, endpoint_class, method, path, query_page=None, page=None):
        """Return the fault rule that fires for this request, or None.

        query_page is the pageNumber of a details query (POST .../details/query),
        None for any other request: kinds in QUERY_PAGE_KINDS only match
        details query pages (repeat_page: page 2 and later).  page is the
        request's page number for the "page" selector (request_page)."""
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
                if r.get("page") is not None and r["page"] != page:
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

    def record(self, rule, key, values):
        """Note what a firing of rule did (e.g. the ids late_arrivals added):
        GET /__emu/faults lists it under key."""
        with self.lock:
            for r in self.rules:
                if r["_id"] == rule["_id"]:
                    r.setdefault("_" + key, []).extend(values)
                    return

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
    kind = r.get("kind", "status")
    for k in ("status", "after", "count", "delta", "size", "depth", "every", "page", "add"):
        if k in r and r[k] is not None and (not isinstance(r[k], int) or isinstance(r[k], bool)):
            return "%s must be an integer" % k
    if "every" in r and r["every"] < 1:
        return "every must be at least 1"
    if "page" in r and r["page"] < 1:
        return "page must be at least 1"
    for k in ("size", "depth"):
        top = BOMB_SIZE_MAX if (k, kind) == ("size", "gzip_bomb") else SIZE_MAX
        if k in r and not 1 <= r[k] <= top:
            return "%s must be between 1 and %d" % (k, top)
    if "add" in r and not 1 <= r["add"] <= LATE_ARRIVALS_MAX:
        return "add must be between 1 and %d" % LATE_ARRIVALS_MAX
    if kind == "redirect" and "status" in r and not 300 <= r["status"] <= 399:
        return "a redirect's status must be a 3xx"
    if r.get("media") is not None and r["media"] not in MEDIA_TYPES:
        return "media must be one of %s" % ", ".join(MEDIA_TYPES)
    if "start" in r:
        try:
            parse_iso(r["start"])
        except (ValueError, TypeError, AttributeError):
            return "start must be an ISO-8601 date-time"
    if "seconds" in r and (not isinstance(r["seconds"], (int, float)) or
                           isinstance(r["seconds"], bool)):
        return "seconds must be a number"
    if "probability" in r:
        p = r["probability"]
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
            return "probability must be a number between 0 and 1"
    for k in ("ctype", "field", "location", "media"):
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


def request_page(method, path, query, body):
    """The page a request asks for, for the "page" selector, or None:
    pageNumber of a details query body (1 when absent), the page of a job
    results request (by its cursor and pageSize: 1, 2, ...), and
    pageNumber (1 when absent) of a GET listing that sends pageSize or
    pageNumber."""
    trimmed = path.rstrip("/")
    if method == "POST" and trimmed.endswith("/details/query"):
        return query_page_number(body)
    if method == "GET" and trimmed.endswith("/results") and "/jobs/" in trimmed:
        return results_page_number(trimmed.split("/")[-2], query)
    if method == "GET" and ("pageNumber" in query or "pageSize" in query):
        try:
            return int((query.get("pageNumber") or ["1"])[-1] or 1)
        except ValueError:
            return None
    return None
