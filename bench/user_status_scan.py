#!/usr/bin/env python3
"""Reading the agents' status history: rows/s, requests and backend memory.

Run by bench/user_status_scan.sh in a pg_virtualenv cluster, with the
emulator at GC_EMU_URL started with --directory-scale 4 (1,000 users, of
whom about 500 have presence records; the 80 who handle conversations also
have routing-status records).  For each table and range, in a fresh
session warmed by a tiny scan (token, catalogue caches): the rows, wall and
backend CPU time, the API requests the scan made (from gc_fdw.stats(),
tokens apart) beside the pages the emulator fills for the same windows
(plus the empty page that ends each) and ceil(users with records / page
size) per window, and the growth of the backend's
peak resident set (VmHWM).  Flat memory means that growth does not rise
with the rows.  Prints a markdown table and writes it to docs/performance.md
between the user-status-scan markers.
"""
import base64
import datetime
import json
import math
import os
import subprocess
import sys
import time
import urllib.request

from scan_memory import cpu_seconds, vm_hwm_kb  # the backend's /proc readings

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.environ.get("BENCH_DOC", os.path.join(HERE, "..", "docs", "performance.md"))
URL = os.environ["GC_EMU_URL"]
BEGIN, END = "<!-- user-status-scan:begin -->", "<!-- user-status-scan:end -->"
PAGE_SIZE = 100         # the user details query's default page size
WINDOW_DAYS = 7         # its longest window without a filter

SETUP = """
\\getenv emu_url GC_EMU_URL
CREATE EXTENSION IF NOT EXISTS gc_fdw;
DROP SERVER IF EXISTS bench CASCADE;
CREATE SERVER bench FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url :'emu_url', login_url :'emu_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench
  OPTIONS (client_id 'demo-client', client_secret 'demo-secret-PLUGH');
DROP SCHEMA IF EXISTS gs CASCADE;
CREATE SCHEMA gs;
IMPORT FOREIGN SCHEMA genesys LIMIT TO (user_presence, user_routing_status)
  FROM SERVER bench INTO gs;
"""

RANGES = [("1 day", "2024-03-04", "2024-03-05"),
          ("1 week", "2024-03-04", "2024-03-11"),
          ("a month", "2024-03-01", "2024-04-01")]
TABLES = ["user_presence", "user_routing_status"]

STATS = ("SELECT coalesce(sum(requests) FILTER (WHERE endpoint <> 'POST /oauth/token'), 0),"
         " coalesce(sum(pages), 0) FROM gc_fdw.stats();")


def users_in(lo, hi):
    """The users the API lists for [lo, hi) (those with a record of either
    kind overlapping it: the query returns both kinds, so both tables page
    through the same users), and the pages that hold them, asked of the
    emulator directly, to the first empty page: a page can hold fewer users
    than pageSize, so only an empty one ends a window."""
    basic = base64.b64encode(b"demo-client:demo-secret-PLUGH").decode()
    token = json.load(urllib.request.urlopen(urllib.request.Request(
        URL + "/oauth/token", data=b"grant_type=client_credentials",
        headers={"Authorization": "Basic " + basic,
                 "Content-Type": "application/x-www-form-urlencoded"})))["access_token"]
    users, page = set(), 1
    while True:
        body = {"interval": "%sT00:00:00.000Z/%sT00:00:00.000Z" % (lo, hi),
                "paging": {"pageSize": PAGE_SIZE, "pageNumber": page}}
        req = urllib.request.Request(URL + "/api/v2/analytics/users/details/query",
                                     data=json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + token,
                                              "Content-Type": "application/json"})
        details = json.load(urllib.request.urlopen(req)).get("userDetails", [])
        if not details:
            return len(users), page - 1
        users |= {d["userId"] for d in details}
        page += 1


def least_requests(lo, hi):
    """Over the windows of at most WINDOW_DAYS: the sum of ceil(users /
    page size), and of the pages the API fills plus the empty page that
    ends each window."""
    ideal = needed = 0
    start, end = datetime.date.fromisoformat(lo), datetime.date.fromisoformat(hi)
    while start < end:
        stop = min(start + datetime.timedelta(days=WINDOW_DAYS), end)
        users, pages = users_in(start.isoformat(), stop.isoformat())
        ideal += math.ceil(users / PAGE_SIZE)
        needed += pages + 1
        start = stop
    return ideal, needed


def run_one(table, lo, hi):
    proc = subprocess.Popen(["psql", "-X", "-q", "-A", "-t"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(sql):
        proc.stdin.write(sql + "\n")
        proc.stdin.flush()
        return proc.stdout.readline().strip()

    pid = int(ask("SELECT pg_backend_pid();"))
    ask("SELECT count(*) FROM gs.%s WHERE start_time >= '2024-03-04' "
        "AND start_time < '2024-03-04 00:10';" % table)
    req0, pages0 = map(int, ask(STATS).split("|"))
    before, cpu0 = vm_hwm_kb(pid), cpu_seconds(pid)
    t0 = time.monotonic()
    # raw forces every record through jsonb
    rows = int(ask("SELECT count(*), sum(length(raw::text)) FROM gs.%s WHERE start_time >= '%s'"
                   " AND start_time < '%s';" % (table, lo, hi)).split("|")[0])
    wall = time.monotonic() - t0
    cpu = cpu_seconds(pid) - cpu0
    growth = vm_hwm_kb(pid) - before
    req1, pages1 = map(int, ask(STATS).split("|"))
    proc.stdin.close()
    proc.wait()
    return {"rows": rows, "wall": wall, "cpu": cpu, "requests": req1 - req0,
            "pages": pages1 - pages0, "growth_kb": growth}


def main():
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], input=SETUP, text=True,
                   check=True)
    L = ["| table | range | records | wall s | records/s | backend CPU s | requests |"
         " pages the API filled + one empty per window | ceil(users / 100) per window |"
         " peak RSS growth (KiB) |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for table in TABLES:
        for label, lo, hi in RANGES:
            r = run_one(table, lo, hi)
            ideal, needed = least_requests(lo, hi)
            L.append("| `%s` | %s (%s..%s) | %d | %.2f | %.0f | %.2f | %d | %d | %d | %d |" % (
                table, label, lo, hi, r["rows"], r["wall"], r["rows"] / r["wall"], r["cpu"],
                r["requests"], needed, ideal, r["growth_kb"]))
            print(L[-1], flush=True)
    text = "\n".join([BEGIN, "_Generated by `bench/user_status_scan.sh` (%s); the text between"
                      " the `user-status-scan:` markers is rewritten on each run._"
                      % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), ""] + L + [END])
    with open(DOC) as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        sys.exit("%s has no %s ... %s section" % (DOC, BEGIN, END))
    doc = doc[:doc.index(BEGIN)] + text + doc[doc.index(END) + len(END):]
    with open(DOC, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
