#!/usr/bin/env python3
"""The cost of gc_fdw.sync_directory and gc_fdw.sync_user_status.

Run by bench/sync_status_directory.sh in a pg_virtualenv cluster with the
emulator at GC_EMU_URL (--directory-scale 8: 200 queues, 2,000 users).
The figures come from gc_fdw.sync_log (requests, pages, rows per table or
chunk), the emulator's request log (requests by path, cross-checking the
log) and the client's clock around each CALL; times are medians of RUNS.
"""
import json
import os
import statistics
import subprocess
import time
import urllib.request
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
URL = os.environ["GC_EMU_URL"]
RUNS = int(os.environ.get("RUNS", "3"))
SCALE = os.environ.get("SCALE", "1")
WEEK = ("2024-03-04", "2024-03-11")

SETUP = """
\\getenv emu_url GC_EMU_URL
CREATE EXTENSION IF NOT EXISTS gc_fdw;
DROP SERVER IF EXISTS bench CASCADE;
CREATE SERVER bench FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url :'emu_url', login_url :'emu_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench
  OPTIONS (client_id 'demo-client', client_secret 'demo-secret-PLUGH');
"""
FRESH = ("SET client_min_messages = warning; DROP SCHEMA IF EXISTS bench_wh CASCADE;"
         " DELETE FROM gc_fdw.sync_state; DELETE FROM gc_fdw.sync_log;")


def psql(sql):
    proc = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
                          input=sql, text=True, capture_output=True, check=True)
    return proc.stdout.strip()


def emu(path, body=None):
    req = urllib.request.Request(URL + path,
                                 data=None if body is None else json.dumps(body).encode(),
                                 method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"null")


def timed(sql):
    t0 = time.monotonic()
    psql("SET client_min_messages = warning; " + sql)
    return time.monotonic() - t0


def log_rows(entry):
    """The last run's rows of the given entry, as dicts."""
    return [json.loads(line) for line in psql(
        "SELECT row_to_json(l) FROM gc_fdw.sync_log l WHERE entry = '%s' AND run_id ="
        " (SELECT max(run_id) FROM gc_fdw.sync_log) ORDER BY log_id" % entry).splitlines()]


def api_paths():
    """Requests to the API by path (ids as {id}), from the emulator's log."""
    out = Counter()
    for e in emu("/__emu/log"):
        if e["path"].startswith("/api/"):
            parts = e["path"].split("/")
            out["/".join("{id}" if len(p) == 36 and p.count("-") == 4 else p for p in parts)] += 1
    return out


def directory():
    first, again = [], []
    for _ in range(RUNS):
        psql(FRESH)
        emu("/__emu/reset", {})
        first.append(timed("CALL gc_fdw.sync_directory('bench', 'bench_wh');"))
        tables = log_rows("chunk")
        paths = api_paths()
        again.append(timed("CALL gc_fdw.sync_directory('bench', 'bench_wh');"))
        unchanged = log_rows("chunk")
    return {"first_s": statistics.median(first), "rerun_s": statistics.median(again),
            "tables": [{k: t[k] for k in ("mode", "requests", "pages", "rows_read")}
                       | {"seconds": round((time_of(t["finished_at"]) - time_of(t["started_at"])), 3)}
                       for t in tables],
            "rerun_written": sum(t["rows_upserted"] for t in unchanged),
            "emulator_paths": dict(paths)}


def time_of(ts):
    return float(psql("SELECT extract(epoch FROM '%s'::timestamptz)" % ts))


def user_status():
    first, again = [], []
    for _ in range(RUNS):
        psql(FRESH)
        emu("/__emu/reset", {})
        first.append(timed("CALL gc_fdw.sync_user_status('bench', 'bench_wh', '%s', '%s');" % WEEK))
        run = log_rows("run")[0]
        again.append(timed("CALL gc_fdw.sync_user_status('bench', 'bench_wh', until => '%s',"
                           " lookback => '7 days');" % WEEK[1]))
        rerun = log_rows("run")[0]
    counts = psql("SELECT (SELECT count(*) FROM bench_wh.user_presence) || '|' ||"
                  " (SELECT count(*) FROM bench_wh.user_routing_status)").split("|")
    return {"week": WEEK, "first_s": statistics.median(first), "rerun_s": statistics.median(again),
            "requests": run["requests"], "pages": run["pages"], "records": run["rows_read"],
            "presence": int(counts[0]), "routing": int(counts[1]),
            "rerun_requests": rerun["requests"], "rerun_written": rerun["rows_upserted"]}


def main():
    psql(SETUP)
    res = {"scale": SCALE, "runs": RUNS, "directory": directory(), "user_status": user_status()}
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "sync_status_directory.json"), "w") as f:
        json.dump(res, f, indent=1)
    d, u = res["directory"], res["user_status"]
    print("gc_fdw.sync_directory, emulator --scale %s --directory-scale 8, medians of %d runs"
          % (SCALE, RUNS))
    print()
    print("| table | rows | API requests | pages | seconds (first load) |")
    print("|---|---|---|---|---|")
    for t in d["tables"]:
        print("| `%s` | %d | %d | %d | %.2f |" % (t["mode"], t["rows_read"], t["requests"],
                                               t["pages"], t["seconds"]))
    print()
    print("whole run: %.2f s first load, %.2f s unchanged re-run (%d rows written)"
          % (d["first_s"], d["rerun_s"], d["rerun_written"]))
    print("emulator log, requests by path (first load): %s" % json.dumps(d["emulator_paths"]))
    print()
    print("gc_fdw.sync_user_status, one week (%s to %s): %d records (%d presence, %d routing),"
          " %d API requests, %d pages; %.2f s first load, %.2f s unchanged re-run"
          " (%d requests, %d rows written)"
          % (u["week"][0], u["week"][1], u["records"], u["presence"], u["routing"], u["requests"],
             u["pages"], u["first_s"], u["rerun_s"], u["rerun_requests"], u["rerun_written"]))


if __name__ == "__main__":
    main()
