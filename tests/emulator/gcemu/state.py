"""Everything mutable in a running emulator, and its lock.

Owns: the settings and their defaults, the tokens (issue, revoke, expiry),
the dataset versions (pristine, current, publishing a changed copy for a
mutation or a user PATCH), the fault rules' book, the request log, the
rate-limit windows, the jobs and the /__emu/stats counters.

Must not: speak HTTP or render pages; it answers the handler's and the
endpoints' questions under the lock.
"""

import copy
import secrets
import threading
import time

from .faults import FaultRules
from .mutations import apply_mutation
from .pages import ServeCache
from .users import parse_user_patch, version_conflict
from .wire import QueryError, parse_json

DEFAULT_SETTINGS = {
    "token_lifetime": 86399,          # expires_in of new tokens, seconds
    "max_results": 100000,            # sync query pageNumber*pageSize cap
    "page_shift": 0,                  # details pages after the first start N rows early,
                                      # as when live traffic shifts results while paging
    "rate_limit": 0,                  # requests per window per client; 0 = off
    "rate_window": 60,                # rate limit window, seconds
    "availability_date": "2024-03-20T00:00:00.000Z",
    "job_polls": 2,                   # status polls before FULFILLED
    "job_fail": "",                   # when set, jobs end FAILED with this errorMessage
    "max_job_results": 400000,        # async job result cap
    "job_results_cap": 0,             # N > 0: a job results page past the Nth row gets
                                      # 400 "Pagination may not exceed N results"
    "user_details_gaps": 10,          # percent of a user details query's users with an
                                      # empty page slot before them: short pages
    "patch_conflict_every": 0,        # N > 0: every Nth accepted PATCH /api/v2/users/{id}
                                      # meets a simulated remote edit and gets 409
    "fault_seed": 0,                  # seed of the RNG behind fault rules' "probability"
    "latency_ms": 0,                  # delay before each /api/ answer's status line, as a
                                      # network round trip would (benchmarks: 100)
}


class State:
    """Everything mutable, guarded by one lock."""

    def __init__(self, clients, dataset):
        self.lock = threading.RLock()
        self.clients = clients
        self.pristine = dataset   # never modified; /__emu/mutate publishes forks
        self.dataset = dataset
        self.mutated = False
        self.tokens = {}          # token -> {seq, client_id, expires, revoked}
        self.token_seq = 0
        self.stats_lock = threading.Lock()    # not self.lock: taken on every request
        self.reset(tokens=False)

    def reset(self, tokens=False, caches=False):
        """Clear faults, settings, log, rate windows, jobs and stats (and tokens).

        A mutated dataset goes back to the pristine one.  Its rendered pages
        stay (they are still right) unless caches is true, which also drops
        the conversations' serialized JSON, for a cold-start measurement."""
        with self.lock:
            if self.mutated:
                self.dataset = self.pristine
                self.mutated = False
            if caches:
                self.pristine.cache = ServeCache(self.pristine)
                for c in self.pristine.conversations:
                    c.pop("plain_json", None)
                    c.pop("full_json", None)
            with self.stats_lock:
                self.stats = {"requests": 0, "handler_seconds": 0.0, "latency_seconds": 0.0,
                              "cache_hits": 0, "cache_misses": 0}
            self.settings = dict(DEFAULT_SETTINGS)
            self.faults = FaultRules(self.settings["fault_seed"])
            self.log = []
            self.log_seq = 0
            self.windows = {}
            self.jobs = {}
            self.patches = 0      # accepted user PATCHes, for patch_conflict_every
            if tokens:
                self.tokens = {}

    def mutate(self, body):
        """Apply one /__emu/mutate action; raises MutationError on bad input."""
        return self.mutate_all([body])[0]

    def mutate_all(self, bodies):
        """Apply /__emu/mutate actions in one step -> their answers.

        The actions change a fork of the dataset, which then replaces the
        current one in a single assignment: a request already running keeps
        the version it started with, and a failed action changes nothing."""
        with self.lock:
            ds = self.dataset.fork()
            out = [apply_mutation(ds, body) for body in bodies]
            self.dataset = ds
            self.mutated = True
        return out

    def publish_user(self, old, new):
        """Publish a dataset where user dict new replaces old (lock held)."""
        ds = self.dataset.fork()
        ds.replace_user(old, new)
        self.dataset = ds
        self.mutated = True
        return ds

    def patch_user(self, uid, raw):
        """PATCH /api/v2/users/{uid}: the updated user as rendered, or QueryError.

        Checks, changes and publishes under the lock, so two PATCHes with
        the same version cannot both succeed; the stored user is replaced
        by a changed copy (copy-on-write), never edited."""
        version, changes = parse_user_patch(parse_json(raw))
        with self.lock:
            u = self.dataset.users_by_id.get(uid)
            if u is None or (u["state"] == "deleted" and "state" not in changes):
                raise QueryError("User %s not found" % uid, "not.found", 404)
            mid = changes.get("manager")
            if mid is not None:
                m = self.dataset.users_by_id.get(mid)
                if m is None or m["state"] == "deleted" or mid == uid:
                    raise QueryError("manager %s is not the id of another user who is not "
                                     "deleted" % mid, "invalid.value")
            if version != u["version"]:
                raise version_conflict(version, u["version"])
            self.patches += 1
            every = int(self.settings.get("patch_conflict_every") or 0)
            if every > 0 and self.patches % every == 0:
                remote = copy.deepcopy(u)     # someone else saved first
                remote["version"] += 1
                remote["title"] = "Changed remotely"
                self.publish_user(u, remote)
                raise version_conflict(version, remote["version"])
            new = copy.deepcopy(u)
            if "email" in changes and "username" not in new:
                new["username"] = u["email"]  # the username stays what it was
            new.update(copy.deepcopy(changes))
            new["version"] += 1
            return self.publish_user(u, new).render_user(new)

    def issue_token(self, client_id):
        """Mint a new opaque token; returns (token, lifetime)."""
        with self.lock:
            self.token_seq += 1
            tok = secrets.token_urlsafe(32)
            life = int(self.settings["token_lifetime"])
            self.tokens[tok] = {"seq": self.token_seq, "client_id": client_id,
                                "expires": time.time() + life, "revoked": False}
            return tok, life

    def revoke_all(self):
        """Invalidate every token issued so far."""
        with self.lock:
            for t in self.tokens.values():
                t["revoked"] = True


    def rate_check(self, key):
        """Count a request in the client's window -> (allowed, count, reset_s, over)."""
        with self.lock:
            now = time.time()
            limit = int(self.settings["rate_limit"] or 0)
            window = float(self.settings["rate_window"] or 60)
            w = self.windows.get(key)
            if w is None or now >= w["start"] + window:
                w = {"start": now, "count": 0}
                self.windows[key] = w
            reset = max(0.0, w["start"] + window - now)
            if limit > 0 and w["count"] >= limit:
                return limit, w["count"], reset, True
            w["count"] += 1
            # no budget configured (limit 0): announce none, or clients that
            # pace themselves from the headers would wait for a limit the
            # emulator never enforces
            return (limit if limit > 0 else None), w["count"], reset, False

    def count_request(self, seconds, latency):
        """Add one answered request to /__emu/stats (latency = the latency_ms
        sleep, which is not part of seconds)."""
        with self.stats_lock:
            self.stats["requests"] += 1
            self.stats["handler_seconds"] += seconds
            self.stats["latency_seconds"] += latency

    def count_cache(self, hit):
        """Add one page served from (hit) or rendered into the page cache."""
        with self.stats_lock:
            self.stats["cache_hits" if hit else "cache_misses"] += 1

    def add_log(self, entry):
        """Append a request log entry, assigning its seq."""
        with self.lock:
            self.log_seq += 1
            entry["seq"] = self.log_seq
            self.log.append(entry)
