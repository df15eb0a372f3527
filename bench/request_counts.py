#!/usr/bin/python3
"""Requests and time: join pushdown on and off, and full directory reads.

Run by bench/request_counts.sh in a pg_virtualenv cluster with the emulator at
GC_EMU_URL (started with --scale SCALE --directory-scale 8).  For each
measurement: the emulator's request log is reset, the query runs RUNS
times, and the median wall time and the requests of one run are kept.
"""
import json
import os
import statistics
import sys
import time
import urllib.request

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
URL = os.environ["GC_EMU_URL"]
RUNS = int(os.environ.get("RUNS", "3"))
SCALE = os.environ.get("SCALE", "40")
DOC = os.path.join(ROOT, "docs", "performance.md")
WEEK = ("2024-03-04", "2024-03-11")

JOIN = """SELECT count(*), count(DISTINCT s.conversation_id)
  FROM j.conversations c
  JOIN j.participants p ON p.conversation_id = c.conversation_id
  JOIN j.segments s ON s.conversation_id = p.conversation_id AND s.participant_id = p.participant_id
 WHERE c.conversation_start >= %(lo)s AND c.conversation_start < %(hi)s
   AND p.conversation_start >= %(lo)s AND p.conversation_start < %(hi)s
   AND s.conversation_start >= %(lo)s AND s.conversation_start < %(hi)s"""
SINGLE = """SELECT count(*) FROM j.segments
 WHERE conversation_start >= %(lo)s AND conversation_start < %(hi)s"""
DIRECTORY = ["users", "queues", "queue_members", "wrapup_codes", "divisions", "groups",
             "skills", "languages", "locations", "presence_definitions"]


def emu(path, body=None):
    req = urllib.request.Request(URL + path,
                                 data=None if body is None else json.dumps(body).encode(),
                                 method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"null")


def api_requests():
    return len([e for e in emu("/__emu/log") if e["path"].startswith("/api/")])


def measure(cur, query, args=None):
    """(median seconds, requests of one run, first row)"""
    times = []
    requests = None
    row = None
    for _ in range(RUNS):
        emu("/__emu/reset", {})
        t = time.monotonic()
        cur.execute(query, args)
        row = cur.fetchone()
        times.append(time.monotonic() - t)
        requests = api_requests()
    return statistics.median(times), requests, row


def main():
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS gc_fdw")
    cur.execute("DROP SERVER IF EXISTS bench CASCADE")
    cur.execute("CREATE SERVER bench FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url %s, login_url %s)",
                (URL, URL))
    cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER bench OPTIONS "
                "(client_id 'demo-client', client_secret 'demo-secret-PLUGH')")
    cur.execute("DROP SCHEMA IF EXISTS j CASCADE; CREATE SCHEMA j")
    cur.execute("IMPORT FOREIGN SCHEMA genesys FROM SERVER bench INTO j")
    args = {"lo": WEEK[0], "hi": WEEK[1]}
    res = {"scale": SCALE, "runs": RUNS, "week": WEEK}

    log = sys.stderr.write
    log("== requests: the week's join, pushed\n")
    res["join_pushed"] = measure(cur, JOIN, args)
    log("== requests: the week's join, pushdown off\n")
    cur.execute("ALTER SERVER bench OPTIONS (ADD pushdown 'false')")
    res["join_local"] = measure(cur, JOIN, args)
    cur.execute("ALTER SERVER bench OPTIONS (DROP pushdown)")
    res["segments_alone"] = measure(cur, SINGLE, args)
    res["directory"] = {}
    for t in DIRECTORY:
        log("== requests: %s\n" % t)
        res["directory"][t] = measure(cur, "SELECT count(*) FROM j.%s" % t)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "requests.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    write_doc(res)


def write_doc(res):
    jp, jl, sa = res["join_pushed"], res["join_local"], res["segments_alone"]
    lines = ["<!-- requests:begin (written by bench/request_counts.py) -->", "",
             "Measured with `bench/request_counts.sh` (emulator `--scale %s --directory-scale 8`, "
             "default server options, medians of %d runs, this machine as described above)."
             % (res["scale"], res["runs"]), "",
             "**A week of conversations ⋈ participants ⋈ segments** (%s to %s, %d joined rows "
             "of %d conversations):" % (res["week"][0], res["week"][1], jp[2][0], jp[2][1]), "",
             "| | API requests | time |", "|---|---|---|",
             "| join pushed down (one read of segments) | %d | %.2f s |" % (jp[1], jp[0]),
             "| pushdown off (PostgreSQL joins three reads) | %d | %.2f s |" % (jl[1], jl[0]),
             "| segments alone, for reference | %d | %.2f s |" % (sa[1], sa[0]), "",
             "**A full read of each directory table** (%d queues, %d queue members, %d "
             "users):" % tuple(res["directory"][t][2][0] for t in ("queues", "queue_members",
                                                                   "users")), "", "| table | rows | API requests | time |", "|---|---|---|---|"]
    for t, (secs, requests, row) in res["directory"].items():
        lines.append("| `%s` | %d | %d | %.1f ms |" % (t, row[0], requests, secs * 1000))
    lines += ["", "<!-- requests:end -->"]
    text = open(DOC).read()
    begin, end = "<!-- requests:begin", "<!-- requests:end -->"
    if begin in text:
        a = text.index(begin)
        b = text.index(end) + len(end)
        text = text[:a] + "\n".join(lines) + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n## Requests of joins and directory reads\n\n" + \
            "\n".join(lines) + "\n"
    with open(DOC, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
