#!/usr/bin/env python3
"""emuctl: control and query a running Genesys emulator (tests/emulator).

Output is plain deterministic text (no timestamps, no ports) so it can be
used in pg_regress expected output.  The emulator base URL comes from
--url, else $GC_EMU_URL, else the port in $GC_EMU_PORT_FILE
(http://127.0.0.1:PORT).

Subcommands:
  reset [--tokens]            clear faults, settings, log (and tokens);
                              restore a mutated dataset
  fault JSON                  add a fault rule (object) or rules (list)
  faults                      one line per fault rule: KIND ENDPOINT fired=N spent=yes|no
  clear-faults                remove every fault rule (the log, settings and
                              dataset stay as they are)
  settings JSON               change settings
  mutate JSON                 change the dataset (one action, see the emulator README):
                              prints the answer as compact JSON with sorted keys;
                              a rejected action prints its error and exits 1
  log-count [--endpoint E] [--status N] [--grant TYPE] [--method M] [--fault K]
                              number of logged requests matching
  log-json                    the raw request log
  log-summary                 one line per request: METHOD PATH?QUERY STATUS FAULT
  log-intervals               one line per details query: INTERVAL page N size N -> STATUS
  log-bodies                  one line per details query: its JSON body, keys sorted
  log-patches                 one line per PATCH /api/v2/users/{id}:
                              PATH fields=A,B version=N -> STATUS
  waits                       per 429 answer: whole seconds until the next request
  csv users|conversations     the dataset as CSV with a header
"""

import argparse
import csv
import json
import re
import os
import sys
import urllib.error
import urllib.request

# the emulator's own endpoint classes (what fault rules select on), so the
# two never disagree about which family a logged path belongs to
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "emulator"))
from gcemu.endpoints import FAULT_ENDPOINTS, endpoint_class, endpoint_matches  # noqa: E402

USER_COLS = ["id", "name", "email", "username", "state", "title", "department",
             "division_id", "division_name", "manager_id", "version", "acd_auto_answer",
             "date_last_login"]
CONV_COLS = ["conversation_id", "conversation_start", "conversation_end",
             "originating_direction", "division_ids", "media_stats_min_conversation_mos",
             "external_tag"]


def base_url(args):
    """Resolve the emulator base URL or exit with a message."""
    url = args.url or os.environ.get("GC_EMU_URL")
    if not url and os.environ.get("GC_EMU_PORT_FILE"):
        try:
            with open(os.environ["GC_EMU_PORT_FILE"]) as f:
                url = "http://127.0.0.1:%d" % int(f.read().strip())
        except (OSError, ValueError) as e:
            die("cannot read GC_EMU_PORT_FILE: %s" % e)
    if not url:
        die("no emulator URL: use --url or set GC_EMU_URL")
    return url.rstrip("/")


def die(msg):
    """Print an error and exit non-zero."""
    sys.stderr.write("emuctl: %s\n" % msg)
    sys.exit(2)


def call(url, method, path, body=None):
    """Call the control API; returns parsed JSON or exits on failure."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        die("%s %s failed: HTTP %d %s" % (method, path, e.code, e.read().decode("utf-8", "replace")))
    except (urllib.error.URLError, OSError) as e:
        die("cannot reach the emulator at %s: %s" % (url, getattr(e, "reason", e)))


def mutate(url, body):
    """POST /__emu/mutate; print the answer, or its error and exit 1 on a 400."""
    req = urllib.request.Request(url + "/__emu/mutate", data=json.dumps(body).encode("utf-8"),
                                 method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            out = json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace")
        if e.code != 400:
            die("POST /__emu/mutate failed: HTTP %d %s" % (e.code, text))
        try:
            text = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            pass
        sys.stderr.write("emuctl: mutate rejected: %s\n" % text)
        sys.exit(1)
    except (urllib.error.URLError, OSError) as e:
        die("cannot reach the emulator at %s: %s" % (url, getattr(e, "reason", e)))
    print(json.dumps(out, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def entry_matches(e, a):
    """Filter a log entry by the log-count options."""
    ep = endpoint_class(e["path"])
    if not endpoint_matches(a.endpoint, ep):
        return False
    if a.status is not None and e.get("status") != a.status:
        return False
    if a.grant is not None and (ep != "token" or (e.get("body") or {}).get("grant_type") != a.grant):
        return False
    if a.method and e.get("method") != a.method.upper():
        return False
    if a.fault and e.get("fault") != a.fault:
        return False
    return True


def query_text(e):
    """The logged query string, in the order the client sent it."""
    pairs = ["%s=%s" % (k, v) for k, vs in (e.get("query") or {}).items() for v in vs]
    return "?" + "&".join(pairs) if pairs else ""


def json_arg(text):
    """Parse a JSON command-line argument or exit."""
    try:
        return json.loads(text)
    except ValueError as e:
        die("invalid JSON argument: %s" % e)


def fmt(v):
    """CSV cell text: '' for absent, true/false for booleans."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def write_csv(kind, url):
    """Print the dataset as CSV (PostgreSQL COPY ... CSV HEADER compatible)."""
    w = csv.writer(sys.stdout, lineterminator="\n")
    if kind == "users":
        w.writerow(USER_COLS)
        for u in call(url, "GET", "/__emu/dataset/users"):
            d = u.get("division") or {}
            w.writerow([fmt(x) for x in (
                u.get("id"), u.get("name"), u.get("email"), u.get("username"), u.get("state"),
                u.get("title"), u.get("department"), d.get("id"), d.get("name"),
                (u.get("manager") or {}).get("id"), u.get("version"), u.get("acdAutoAnswer"),
                u.get("dateLastLogin"))])
    else:
        w.writerow(CONV_COLS)
        for c in call(url, "GET", "/__emu/dataset/conversations"):
            divs = c.get("divisionIds")
            w.writerow([fmt(x) for x in (
                c.get("conversationId"), c.get("conversationStart"), c.get("conversationEnd"),
                c.get("originatingDirection"),
                None if divs is None else "{" + ",".join(divs) + "}",
                c.get("mediaStatsMinConversationMos"), c.get("externalTag"))])


def main(argv=None):
    """Entry point."""
    ap = argparse.ArgumentParser(prog="emuctl", description="Control the Genesys emulator")
    ap.add_argument("--url", help="emulator base URL (default $GC_EMU_URL)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("reset")
    p.add_argument("--tokens", action="store_true", help="also invalidate tokens")
    p = sub.add_parser("fault")
    p.add_argument("json")
    sub.add_parser("faults")
    sub.add_parser("clear-faults")
    p = sub.add_parser("settings")
    p.add_argument("json")
    p = sub.add_parser("mutate")
    p.add_argument("json")
    p = sub.add_parser("log-count")
    p.add_argument("--endpoint", choices=FAULT_ENDPOINTS)
    p.add_argument("--status", type=int)
    p.add_argument("--grant")
    p.add_argument("--method")
    p.add_argument("--fault")
    sub.add_parser("log-json")
    sub.add_parser("log-summary")
    sub.add_parser("log-intervals")
    sub.add_parser("log-bodies")
    sub.add_parser("log-patches")
    sub.add_parser("waits")
    p = sub.add_parser("csv")
    p.add_argument("kind", choices=["users", "conversations"])
    a = ap.parse_args(argv)
    if getattr(a, "endpoint", None) == "any":
        a.endpoint = None
    url = base_url(a)

    if a.cmd == "reset":
        call(url, "POST", "/__emu/reset", {"tokens": a.tokens})
        print("ok")
    elif a.cmd == "fault":
        call(url, "POST", "/__emu/faults", json_arg(a.json))
        print("ok")
    elif a.cmd == "faults":
        for r in call(url, "GET", "/__emu/faults"):
            print("%s %s fired=%d spent=%s" % (r.get("kind", "status"), r.get("endpoint", "any"),
                                               r["fired"], "yes" if r["spent"] else "no"))
    elif a.cmd == "clear-faults":
        call(url, "DELETE", "/__emu/faults")
        print("ok")
    elif a.cmd == "settings":
        call(url, "POST", "/__emu/settings", json_arg(a.json))
        print("ok")
    elif a.cmd == "mutate":
        mutate(url, json_arg(a.json))
    elif a.cmd == "log-count":
        print(sum(1 for e in call(url, "GET", "/__emu/log") if entry_matches(e, a)))
    elif a.cmd == "log-json":
        print(json.dumps(call(url, "GET", "/__emu/log"), indent=1, ensure_ascii=False))
    elif a.cmd == "log-summary":
        for e in call(url, "GET", "/__emu/log"):
            # job ids are random: show where they go, not what they are
            path = re.sub(r"/jobs/[0-9a-f-]{36}", "/jobs/{jobId}", e["path"])
            print("%s %s%s %s %s" % (e["method"], path, query_text(e), e.get("status"),
                                     e.get("fault") or "-"))
    elif a.cmd == "log-bodies":
        for e in call(url, "GET", "/__emu/log"):
            if endpoint_class(e["path"]) == "details" and e.get("body"):
                body = dict(e["body"])
                print(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    elif a.cmd == "log-patches":
        for e in call(url, "GET", "/__emu/log"):
            if e["method"] != "PATCH" or endpoint_class(e["path"]) != "users":
                continue
            body = e.get("body") or {}
            print("%s fields=%s version=%s -> %s" % (
                e["path"], ",".join(body.get("fields") or []) or "-",
                json.dumps(body.get("version")), e.get("status")))
    elif a.cmd == "log-intervals":
        for e in call(url, "GET", "/__emu/log"):
            body = e.get("body") or {}
            if endpoint_class(e["path"]) != "details" or "interval" not in body:
                continue
            paging = body.get("paging") or {}
            print("%s page %s size %s -> %s" % (body["interval"], paging.get("pageNumber"),
                                                paging.get("pageSize"), e.get("status")))
    elif a.cmd == "waits":
        log = sorted(call(url, "GET", "/__emu/log"), key=lambda e: e["seq"])
        for i, e in enumerate(log):
            if e.get("status") == 429 and i + 1 < len(log):
                gap = log[i + 1]["time"] - (e.get("end_time") or e["time"])
                print(int(max(0.0, gap) // 1))
    elif a.cmd == "csv":
        write_csv(a.kind, url)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
