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
  log-intervals [--endpoint E]  one line per details query (E details, the default, or
                              userdetails): INTERVAL page N size N -> STATUS
  log-bodies [--endpoint E]   one line per details query (E as above): its JSON body,
                              keys sorted
  log-patches                 one line per PATCH /api/v2/users/{id}:
                              PATH fields=A,B version=N -> STATUS
  waits                       per 429 answer: whole seconds until the next request
  csv TABLE                   the dataset as CSV with a header: users, conversations,
                              or a directory table (queues, queue_members,
                              wrapup_codes, divisions, groups, skills, languages,
                              locations, presence_definitions), or agent status
                              history (user_presence, user_routing_status)
"""

import argparse
import csv
import io
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

def dig(obj, path):
    """obj's member at a dotted path ("division.id"), None when absent."""
    for key in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def array_literal(values):
    """A PostgreSQL array literal of ids ({a,b}), None for absent."""
    return None if values is None else "{" + ",".join(values) + "}"


def service_levels():
    """The queues' service-level columns, per media type."""
    out = []
    for media in ("call", "chat", "email", "message", "callback"):
        out += [("%s_service_level_percentage" % media,
                 "mediaSettings.%s.serviceLevel.percentage" % media),
                ("%s_service_level_duration_ms" % media,
                 "mediaSettings.%s.serviceLevel.durationMs" % media)]
    return out


# csv KIND -> (the /__emu/dataset path, [(column, dotted path or function of the row)])
CSV_TABLES = {
    "users": ("users", [
        ("id", "id"), ("name", "name"), ("email", "email"), ("username", "username"),
        ("state", "state"), ("title", "title"), ("department", "department"),
        ("division_id", "division.id"), ("division_name", "division.name"),
        ("manager_id", "manager.id"), ("version", "version"),
        ("acd_auto_answer", "acdAutoAnswer"), ("date_last_login", "dateLastLogin")]),
    "conversations": ("conversations", [
        ("conversation_id", "conversationId"), ("conversation_start", "conversationStart"),
        ("conversation_end", "conversationEnd"),
        ("originating_direction", "originatingDirection"),
        ("division_ids", lambda c: array_literal(c.get("divisionIds"))),
        ("media_stats_min_conversation_mos", "mediaStatsMinConversationMos"),
        ("external_tag", "externalTag")]),
    "queues": ("queues", [
        ("id", "id"), ("name", "name"), ("division_id", "division.id"),
        ("division_name", "division.name"), ("description", "description"),
        ("member_count", "memberCount"), ("joined_member_count", "joinedMemberCount"),
        ("date_created", "dateCreated"), ("date_modified", "dateModified")]
        + service_levels() + [("acw_timeout_ms", "acwSettings.timeoutMs")]),
    "queue_members": ("queue_members", [
        ("queue_id", "queueId"), ("user_id", "id"), ("name", "name"),
        ("ring_number", "ringNumber"), ("joined", "joined"), ("member_by", "memberBy"),
        ("routing_status", "routingStatus.status")]),
    "wrapup_codes": ("wrapup_codes", [
        ("id", "id"), ("name", "name"), ("division_id", "division.id"),
        ("description", "description"), ("date_created", "dateCreated"),
        ("date_modified", "dateModified")]),
    "divisions": ("divisions", [
        ("id", "id"), ("name", "name"), ("description", "description"),
        ("home_division", "homeDivision")]),
    "groups": ("groups", [
        ("id", "id"), ("name", "name"), ("description", "description"), ("type", "type"),
        ("state", "state"), ("member_count", "memberCount"), ("visibility", "visibility"),
        ("date_modified", "dateModified")]),
    "skills": ("skills", [("id", "id"), ("name", "name"), ("state", "state"),
                          ("date_modified", "dateModified")]),
    "languages": ("languages", [("id", "id"), ("name", "name"), ("state", "state"),
                                ("date_modified", "dateModified")]),
    "locations": ("locations", [
        ("id", "id"), ("name", "name"), ("street", "address.street1"),
        ("city", "address.city"), ("region", "address.state"),
        ("country", "address.country"), ("postal_code", "address.zipcode"),
        ("state", "state"), ("path", lambda r: array_literal(r.get("path")))]),
    "presence_definitions": ("presence_definitions", [
        ("id", "id"), ("name", "name"), ("system_presence", "systemPresence"),
        ("deactivated", "deactivated"), ("primary", "primary"),
        ("labels", lambda r: json.dumps(r.get("languageLabels"), sort_keys=True,
                                        ensure_ascii=False))]),
    "user_presence": ("user_presence", [
        ("user_id", "userId"), ("start_time", "startTime"), ("end_time", "endTime"),
        ("system_presence", "systemPresence"),
        ("organization_presence_id", "organizationPresenceId")]),
    "user_routing_status": ("user_routing_status", [
        ("user_id", "userId"), ("start_time", "startTime"), ("end_time", "endTime"),
        ("routing_status", "routingStatus")]),
}
# csv.writer leaves an empty string unquoted, which COPY reads as NULL: it
# goes out as this marker and is then written "" (an empty string)
EMPTY_MARK = "\x00empty\x00"


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
    """Print a dataset table as CSV (PostgreSQL COPY ... CSV HEADER
    compatible: an absent value is an empty unquoted field, NULL)."""
    table, columns = CSV_TABLES[kind]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([name for name, _ in columns])
    for row in call(url, "GET", "/__emu/dataset/" + table):
        cells = []
        for _, key in columns:
            v = key(row) if callable(key) else dig(row, key)
            cells.append(EMPTY_MARK if v == "" else fmt(v))
        w.writerow(cells)
    sys.stdout.write(out.getvalue().replace(EMPTY_MARK, '""'))


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
    for name in ("log-intervals", "log-bodies"):
        p = sub.add_parser(name)
        p.add_argument("--endpoint", choices=["details", "userdetails"], default="details")
    sub.add_parser("log-patches")
    sub.add_parser("waits")
    p = sub.add_parser("csv")
    p.add_argument("kind", choices=list(CSV_TABLES))
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
            if endpoint_class(e["path"]) == a.endpoint and e.get("body"):
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
            if endpoint_class(e["path"]) != a.endpoint or "interval" not in body:
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
