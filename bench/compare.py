#!/usr/bin/env python3
"""gc_fdw against the loader users run today (bench/alternatives/
python_loader.py: requests + psycopg2 executemany), same emulator, same
range, same run: wall time, rows/s and requests, medians of RUNS runs.

Run by bench/compare.sh inside a pg_virtualenv cluster with a scaled
emulator (GC_EMU_URL, client demo-client).  Groundwork for the performance
issue: the JS SDK loader, the curl floor and the plots are still to come.
"""
import json
import os
import statistics
import subprocess
import time
import urllib.request

RUNS = int(os.environ.get("RUNS", "3"))
RANGE = (os.environ.get("FROM", "2024-03-01"), os.environ.get("TO", "2024-03-08"))
URL = os.environ["GC_EMU_URL"]
SECRET = "demo-secret-PLUGH"

SETUP = """
\\getenv emu_url GC_EMU_URL
CREATE EXTENSION IF NOT EXISTS gc_fdw;
DROP SERVER IF EXISTS cmp CASCADE;
CREATE SERVER cmp FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url :'emu_url', login_url :'emu_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER cmp
  OPTIONS (client_id 'demo-client', client_secret 'demo-secret-PLUGH');
CREATE FOREIGN TABLE cmp_conversations (conversation_id uuid, conversation_start timestamptz,
  conversation_end timestamptz, raw jsonb) SERVER cmp OPTIONS (resource 'conversations');
DROP TABLE IF EXISTS t_fdw, t_py;
CREATE TABLE t_fdw (conversation_id uuid PRIMARY KEY, conversation_start timestamptz,
  conversation_end timestamptz, raw jsonb);
CREATE TABLE t_py (LIKE t_fdw INCLUDING ALL);
"""


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"], input=sql,
                          text=True, capture_output=True, check=True).stdout.strip()


def emu(path, body=None):
    req = urllib.request.Request(URL + path, data=None if body is None else json.dumps(body).encode(),
                                 method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def api_requests():
    return sum(1 for e in emu("/__emu/log") if e["path"].startswith(("/api/", "/oauth/")))


def run_fdw():
    psql("TRUNCATE t_fdw")
    emu("/__emu/reset", {})
    t0 = time.monotonic()
    psql("INSERT INTO t_fdw SELECT * FROM cmp_conversations WHERE conversation_start >= '%s'"
         " AND conversation_start < '%s'" % RANGE)
    return time.monotonic() - t0, int(psql("SELECT count(*) FROM t_fdw")), api_requests()


def run_python():
    psql("TRUNCATE t_py")
    emu("/__emu/reset", {})
    t0 = time.monotonic()
    out = subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(__file__),
                                                            "alternatives/python_loader.py"),
                          URL, "demo-client", RANGE[0], RANGE[1], "t_py"],
                         env=dict(os.environ, GC_LOADER_SECRET=SECRET),
                         capture_output=True, text=True, check=True).stdout.split()
    return time.monotonic() - t0, int(out[0]), api_requests()


def main():
    psql(SETUP)
    results = {}
    for name, fn in (("gc_fdw INSERT ... SELECT", run_fdw), ("Python requests + psycopg2", run_python)):
        runs = [fn() for _ in range(RUNS)]
        results[name] = (statistics.median(r[0] for r in runs), runs[0][1], runs[0][2])
    base = results["Python requests + psycopg2"][0]
    print("| loader | rows | requests | wall s (median of %d) | rows/s | speed vs Python |" % RUNS)
    print("|---|---|---|---|---|---|")
    for name, (secs, rows, reqs) in results.items():
        print("| %s | %d | %d | %.2f | %.0f | %.2fx |" % (name, rows, reqs, secs, rows / secs,
                                                          base / secs))
    same = psql("SELECT count(*) FROM (SELECT conversation_id, conversation_start, conversation_end"
                " FROM t_fdw EXCEPT SELECT conversation_id, conversation_start, conversation_end"
                " FROM t_py) x")
    print("\nrows in gc_fdw's table missing from the Python loader's: %s" % same)


if __name__ == "__main__":
    main()
