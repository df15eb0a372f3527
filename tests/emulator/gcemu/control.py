"""The control API under /__emu/: how tests drive and read the emulator.

Owns: reset, mutate, fault rules, settings and their validation, the
request log, revoking tokens, the dataset's truth (/__emu/dataset/*),
health, prerender and stats.  No auth; never logged.

Must not: answer as the Genesys API does (handler.py and the families do)
or hand out a secret or a token.
"""

import json

from . import user_details
from .directory_data import TABLES as DIRECTORY_TABLES
from .exchange import Reply
from .faults import check_rule
from .mutations import MutationError
from .pages import prerender_details
from .state import DEFAULT_SETTINGS
from .wire import QueryError, iso_ms, parse_iso


def control(st, method, path, query, raw):
    """The /__emu/ control API (no auth, never logged) -> Reply."""
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        return Reply(400, {"error": "body is not valid JSON"})
    if path == "/__emu/health":
        return Reply(200, {"ok": True, "users": len(st.dataset.users),
                           "conversations": len(st.dataset.conversations),
                           "mutated": st.mutated})
    if path == "/__emu/reset" and method == "POST":
        st.reset(tokens=bool(body and body.get("tokens")),
                 caches=bool(body and body.get("caches")))
        return Reply(200, {"ok": True})
    if path == "/__emu/prerender" and method == "POST":
        try:
            return Reply(200, prerender_details(st, body))
        except QueryError as e:
            return Reply(400, {"error": str(e)})
    if path == "/__emu/stats" and method == "GET":
        cache = st.dataset.cache
        with st.stats_lock:
            out = dict(st.stats)
        with cache.lock:
            out.update({"cached_pages": len(cache.pages), "cache_bytes": cache.page_bytes,
                        "cache_evictions": cache.evictions})
        return Reply(200, out)
    if path == "/__emu/mutate" and method == "POST":
        try:
            return Reply(200, st.mutate(body))
        except MutationError as e:
            return Reply(400, {"error": str(e)})
    if path == "/__emu/faults":
        if method == "POST":
            rules = body if isinstance(body, list) else [body]
            for r in rules:
                err = check_rule(r)
                if err:
                    return Reply(400, {"error": err})
            return Reply(200, {"ok": True, "faults": st.faults.add(rules)})
        if method == "DELETE":
            st.faults.clear()
            return Reply(200, {"ok": True})
        return Reply(200, st.faults.listing())
    if path == "/__emu/settings":
        if method == "POST":
            if not isinstance(body, dict):
                return Reply(400, {"error": "settings must be a JSON object"})
            bad = [k for k in body if k not in DEFAULT_SETTINGS]
            if bad:
                return Reply(400, {"error": "unknown settings: %s" % ", ".join(bad)})
            for key in ("patch_conflict_every", "job_results_cap", "user_details_gaps"):
                n = body.get(key, 0)
                if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                    return Reply(400, {"error": "%s must be an integer >= 0" % key})
            if body.get("user_details_gaps", 0) > 100:
                return Reply(400, {"error": "user_details_gaps is a percentage: 0 to 100"})
            fs = body.get("fault_seed", 0)
            if not isinstance(fs, int) or isinstance(fs, bool):
                return Reply(400, {"error": "fault_seed must be an integer"})
            lat = body.get("latency_ms", 0)
            if not isinstance(lat, (int, float)) or isinstance(lat, bool) or \
                    not 0 <= lat <= 600000:
                return Reply(400, {"error": "latency_ms must be a number from 0 to 600000"})
            if "availability_date" in body:
                try:
                    body["availability_date"] = iso_ms(parse_iso(body["availability_date"]))
                except (ValueError, TypeError, AttributeError):
                    return Reply(400, {"error": "availability_date must be ISO-8601"})
            with st.lock:
                st.settings.update(body)
                if "patch_conflict_every" in body:
                    st.patches = 0    # count from this setting on
                if "fault_seed" in body:
                    st.faults.reseed(body["fault_seed"])
        with st.lock:
            return Reply(200, dict(st.settings))
    if path == "/__emu/log":
        with st.lock:
            return Reply(200, [dict(e) for e in st.log])
    if path == "/__emu/revoke" and method == "POST":
        st.revoke_all()
        return Reply(200, {"ok": True})
    if path == "/__emu/dataset/users":
        return Reply(200, [st.dataset.render_user(u, True) for u in st.dataset.users])
    if path == "/__emu/dataset/conversations":
        return Reply(200, [c["plain"] for c in st.dataset.conversations])
    table = path[len("/__emu/dataset/"):] if path.startswith("/__emu/dataset/") else None
    if table in DIRECTORY_TABLES:
        ds = st.dataset
        return Reply(200, ds.directory.truth(ds, table))
    if table in ("user_presence", "user_routing_status"):
        return Reply(200, user_details.truth(st.dataset, table))
    return Reply(404, {"error": "unknown control endpoint %s %s" % (method, path)})
