#!/usr/bin/python3
"""The loader benchmark: gc_fdw against the loaders users write today and
against curl, on the same emulator, the same data and in the same run.

Run by bench/perf.sh inside a throwaway pg_virtualenv cluster (PG* set) with
the emulator started at a large --scale (GC_EMU_URL).  What it does:

1. asks the emulator how many conversations each UTC day holds and picks,
   for each target size (SIZES, default 10000,50000,200000), the run of
   whole UTC days whose count is nearest to it; every loader reads exactly
   that range;
2. pre-renders every details-query page of those ranges in the emulator
   (POST /__emu/prerender), so that no loader pays for rendering, then
   checks per run that the emulator served them from its cache
   (/__emu/stats cache_misses) and how much of the run's wall time the
   emulator spent handling requests (handler_seconds);
3. per size, RUNS rounds of: the curl floor (sequential and parallel),
   gc_fdw `INSERT INTO local SELECT * FROM conversations WHERE ...`, the
   Python loader and the JS SDK loader, into tables of the same columns
   with `raw jsonb COMPRESSION lz4`, truncated (and CHECKPOINTed) before
   each run; then the two halves of a load on their own: gc_fdw reading
   (SELECT count(*), nothing converted or stored) and PostgreSQL storing
   the same rows (COPY FROM a server-side file);
4. the flattened child tables over the smallest range, a week of
   gc_fdw.sync_conversations, the concurrency sweep at 100 ms and 0 ms
   emulator latency, and rate-limit pacing against a 300 requests/min budget;
5. writes bench/results/latest.json, PNG plots (gnuplot, bench/plot.gp) to
   docs/img/ and the section of docs/performance.md between
   <!-- bench:begin --> and <!-- bench:end -->.

Environment: GC_EMU_URL (required), GC_LOADER_SECRET (default the emulator's
demo-client secret), RUNS (3), SIZES, SLOW_SECS (a Python/JS run slower
than this is not repeated at that size; 300), LEVELS (concurrency sweep,
1,2,4,8,16), LATENCY_MS (100), PACE_LIMIT/PACE_WINDOW/PACE_REQUESTS
(300/60/425), SYNC_FROM/SYNC_TO (2024-03-01/2024-03-08), SKIP (comma list
of: curl,gc_fdw,python,js,floors,children,sync,sweep,pacing), BENCH_LABEL (a note
for the report, e.g. "QUICK"), SCALE (for the report only).

`perf.py --report` rebuilds the plots and the documentation section from
bench/results/latest.json without measuring anything.
"""
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import curl_floor  # noqa: E402

URL = os.environ.get("GC_EMU_URL", "")   # required, except for --report
CLIENT = os.environ.get("GC_LOADER_CLIENT", "demo-client")
SECRET = os.environ.get("GC_LOADER_SECRET", "demo-secret-PLUGH")
RUNS = int(os.environ.get("RUNS", "3"))
SIZES = [int(x) for x in os.environ.get("SIZES", "10000,50000,200000").split(",")]
SLOW_SECS = float(os.environ.get("SLOW_SECS", "300"))
LEVELS = [int(x) for x in os.environ.get("LEVELS", "1,2,4,8,16").split(",")]
LATENCY_MS = float(os.environ.get("LATENCY_MS", "100"))
PACE_LIMIT = int(os.environ.get("PACE_LIMIT", "300"))
PACE_WINDOW = float(os.environ.get("PACE_WINDOW", "60"))
PACE_REQUESTS = int(os.environ.get("PACE_REQUESTS", "425"))
SYNC_RANGE = (os.environ.get("SYNC_FROM", "2024-03-01"), os.environ.get("SYNC_TO", "2024-03-08"))
DATA_RANGE = (os.environ.get("DATA_FROM", "2024-03-01"), os.environ.get("DATA_TO", "2024-03-22"))
SKIP = set(x for x in os.environ.get("SKIP", "").split(",") if x)
LABEL = os.environ.get("BENCH_LABEL", "")
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(HERE, "results"))
DOC = os.environ.get("BENCH_DOC", os.path.join(ROOT, "docs", "performance.md"))
IMG = os.environ.get("BENCH_IMG", os.path.join(ROOT, "docs", "img"))
PAGE = 100
PY_LOADER = os.path.join(HERE, "alternatives", "python_loader.py")
JS_DIR = os.path.join(HERE, "alternatives", "js_loader")
CLK = os.sysconf("SC_CLK_TCK")

COLUMNS = """conversation_id uuid PRIMARY KEY, conversation_start timestamptz,
  conversation_end timestamptz, originating_direction text, division_ids uuid[],
  media_stats_min_conversation_mos float8, media_stats_min_conversation_r_factor float8,
  conversation_initiator text, customer_participation boolean, external_tag text,
  self_served boolean, raw jsonb COMPRESSION lz4"""
CHILD_KEYS = {"participants": "conversation_id, participant_id",
              "sessions": "conversation_id, session_id",
              "segments": "conversation_id, session_id, segment_start, segment_type",
              "session_metrics": "conversation_id, session_id, name, emit_date"}
SYNC_TABLES = ["conversations", "participants", "sessions", "segments", "session_metrics",
               "participant_attributes"]
LOADERS = ("curl", "curl_par", "gc_fdw", "python", "js")
LOADER_NAMES = {"curl": "curl floor, sequential (1 connection)",
                "curl_par": "curl floor, parallel (N connections)",
                "gc_fdw": "gc_fdw `INSERT ... SELECT`",
                "python": "Python requests + psycopg2 executemany",
                "js": "JS SDK + node pg"}


def log(msg):
    sys.stderr.write("== perf: %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# emulator, database and /proc helpers
# ---------------------------------------------------------------------------

def emu(path, body=None):
    req = urllib.request.Request(URL + path,
                                 data=None if body is None else json.dumps(body).encode(),
                                 method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"null")


def emu_reset(**settings):
    """Fresh counters, log and rate windows; the page cache stays warm."""
    emu("/__emu/reset", {})
    if settings:
        emu("/__emu/settings", settings)


def emu_log_summary():
    entries = emu("/__emu/log")
    st = {}
    for e in entries:
        st[str(e.get("status"))] = st.get(str(e.get("status")), 0) + 1
    return {"statuses": st, "http_429": st.get("429", 0),
            "token_requests": sum(1 for e in entries if e["path"] == "/oauth/token"),
            "logged": len(entries)}


def db(autocommit=True):
    c = psycopg2.connect("")
    c.autocommit = autocommit
    return c


def sql(q, args=None, fetch=False):
    with db() as c, c.cursor() as cur:
        cur.execute(q, args)
        out = cur.fetchall() if fetch else None
    c.close()
    return out


def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK, \
        (int(fields[13]) + int(fields[14])) / CLK


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[k] = int(v.split()[0])
    return out


POSTMASTER = None


def server_cpu():
    """CPU seconds of the whole cluster so far: the postmaster with its
    reaped children, plus every live child (backends, walwriter, ...)."""
    _, own, reaped = proc_stat(POSTMASTER)
    total = own + reaped
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid, cpu, _ = proc_stat(int(d))
        except (OSError, ValueError, IndexError):
            continue
        if ppid == POSTMASTER:
            total += cpu
    return total


class RssSampler(threading.Thread):
    """Polls /proc/PID/status: peak private (RssAnon) and total resident set."""

    def __init__(self, pid, every=0.02):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_anon = self.peak_rss = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                s = proc_status(self.pid)
            except OSError:
                return
            self.peak_anon = max(self.peak_anon, s.get("RssAnon", 0))
            self.peak_rss = max(self.peak_rss, s.get("VmRSS", 0))
            self.stop.wait(self.every)

    def finish(self):
        self.stop.set()
        self.join()
        return self


def prepare_run(table):
    sql("TRUNCATE %s" % table)
    sql("CHECKPOINT")


# ---------------------------------------------------------------------------
# ranges
# ---------------------------------------------------------------------------

def day_counts():
    tok = curl_floor.token_urllib(URL, CLIENT, SECRET)
    lo = curl_floor.parse_utc(DATA_RANGE[0])
    hi = curl_floor.parse_utc(DATA_RANGE[1])
    out = []
    while lo < hi:
        nxt = lo + dt.timedelta(days=1)
        out.append((lo.date().isoformat(), curl_floor.total_hits(URL, tok, lo, nxt)))
        lo = nxt
    return out


def window_counts(days, lo, hi):
    """[(w_lo, w_hi, conversations)] of gc_fdw's windows over [lo, hi)."""
    counts = dict(days)
    out = []
    for w_lo, w_hi in curl_floor.windows(lo, hi):
        n, d = 0, w_lo
        while d < w_hi:
            n += counts.get(d.date().isoformat(), 0)
            d += dt.timedelta(days=1)
        out.append((w_lo, w_hi, n))
    return out


def gc_fdw_requests(wins):
    """Pages gc_fdw needs: ceil(n/page) per window, plus the empty page that
    ends a window whose last page is full (or empty)."""
    return sum(math.ceil(n / PAGE) + (1 if n % PAGE == 0 else 0) for _, _, n in wins)


def loader_requests(wins):
    """The Python and JS loaders page until an empty page."""
    return sum(math.ceil(n / PAGE) + 1 for _, _, n in wins)


def make_range(days, i, j):
    lo = dt.date.fromisoformat(days[i][0])
    return range_of(days, lo, lo + dt.timedelta(days=j - i))


def range_of(days, lo, hi):
    """The range [lo, hi) of whole UTC days (dates or ISO date strings)."""
    lo = dt.date.fromisoformat(str(lo)[:10])
    hi = dt.date.fromisoformat(str(hi)[:10])
    wins = window_counts(days, lo.isoformat(), hi.isoformat())
    rows = sum(n for _, _, n in wins)
    return {"from": lo.isoformat(), "to": hi.isoformat(), "days": (hi - lo).days, "rows": rows,
            "windows": [[curl_floor.iso_ms(a), curl_floor.iso_ms(b), n] for a, b, n in wins],
            "pages": sum(max(1, math.ceil(n / PAGE)) for _, _, n in wins),
            "gc_fdw_expected_requests": gc_fdw_requests(wins) + 1,
            "loader_expected_requests": loader_requests(wins) + 1}


def pick_range(days, key):
    """The run of whole days minimising key(range) (ties: earliest, shortest)."""
    best = None
    for i in range(len(days)):
        for j in range(i + 1, len(days) + 1):
            r = make_range(days, i, j)
            k = (key(r), i, j - i)
            if best is None or k < best[0]:
                best = (k, r)
    return best[1]


def prerender(rng):
    out = []
    for w_lo, w_hi, _ in rng["windows"]:
        out.append(emu("/__emu/prerender", {
            "interval": "%s/%s" % (w_lo, w_hi), "order": "asc", "orderBy": "conversationStart",
            "paging": {"pageSize": PAGE, "pageNumber": 1}}))
    return {"pages": sum(o["pages"] for o in out), "seconds": sum(o["seconds"] for o in out),
            "bytes": sum(o["bytes"] for o in out)}


# ---------------------------------------------------------------------------
# one run of each loader
# ---------------------------------------------------------------------------

def finish_run(res, wall):
    stats = emu("/__emu/stats")
    res.update({"wall": wall, "emu_requests": stats["requests"],
                "emu_handler_seconds": stats["handler_seconds"],
                "emu_latency_seconds": stats["latency_seconds"],
                "cache_hits": stats["cache_hits"], "cache_misses": stats["cache_misses"]})
    res.update(emu_log_summary())
    res["requests"] = stats["requests"]
    if res.get("rows"):
        res["rows_per_s"] = res["rows"] / wall
    return res


def run_curl(rng, parallel=0, settings=None):
    emu_reset(**(settings or {}))
    plan = [(curl_floor.parse_utc(a), curl_floor.parse_utc(b), n, max(1, math.ceil(n / PAGE)))
            for a, b, n in rng["windows"]]
    r = curl_floor.run_floor(URL, CLIENT, SECRET, rng["from"], rng["to"], parallel, plan)
    res = {"rows": r["rows"], "client_cpu": r["cpu"], "server_cpu": 0.0, "peak_rss_kib": None,
           "connections": r["connections"], "curl_statuses": r["statuses"],
           "bytes_downloaded": r["bytes_downloaded"]}
    return finish_run(res, r["wall"])


def run_fdw(stmt, table=None, settings=None, explain=False):
    """One gc_fdw statement in a fresh session (its backend's VmHWM is this
    run's peak)."""
    if table:
        prepare_run(table)
    emu_reset(**(settings or {}))
    conn = db()
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
    base = proc_status(pid)
    _, cpu0, _ = proc_stat(pid)
    scpu0 = server_cpu()
    sampler = RssSampler(pid)
    sampler.start()
    t0 = time.monotonic()
    plan = None
    if explain:
        cur.execute("EXPLAIN (ANALYZE, TIMING OFF, VERBOSE, FORMAT JSON) " + stmt)
        plan = cur.fetchone()[0]
        rows = plan[0]["Plan"].get("Actual Rows", 0)
        for node in walk_plan(plan[0]["Plan"]):
            if node.get("Node Type") == "Foreign Scan":
                rows = node.get("Actual Rows", rows)
    else:
        cur.execute(stmt)
        rows = cur.rowcount
    wall = time.monotonic() - t0
    _, cpu1, _ = proc_stat(pid)
    st = proc_status(pid)
    sampler.finish()
    scpu1 = server_cpu()
    conn.close()
    res = {"rows": rows, "client_cpu": 0.0, "backend_cpu": cpu1 - cpu0,
           "server_cpu": scpu1 - scpu0,
           "peak_rss_kib": st["VmHWM"], "base_rss_kib": base["VmRSS"],
           "peak_anon_kib": max(sampler.peak_anon, st.get("RssAnon", 0)),
           "base_anon_kib": base.get("RssAnon", 0),
           "peak_sampled_rss_kib": sampler.peak_rss, "end_shmem_kib": st.get("RssShmem", 0)}
    if plan is not None:
        res["explain"] = {k: v for node in walk_plan(plan[0]["Plan"])
                          if node.get("Node Type") == "Foreign Scan"
                          for k, v in node.items() if not isinstance(v, (list, dict))}
    return finish_run(res, wall)


def walk_plan(node):
    yield node
    for sub in node.get("Plans", []):
        yield from walk_plan(sub)


def fdw_insert(table, source, rng):
    return ("INSERT INTO %s SELECT * FROM %s WHERE conversation_start >= '%s' "
            "AND conversation_start < '%s'" % (table, source, rng["from"], rng["to"]))


def run_external(kind, rng, settings=None):
    table = {"python": "t_py", "js": "t_js"}[kind]
    prepare_run(table)
    emu_reset(**(settings or {}))
    if kind == "python":
        cmd = ["/usr/bin/python3", PY_LOADER]
    else:
        cmd = ["node", os.path.join(JS_DIR, "loader.js")]
    cmd += [URL, CLIENT, rng["from"], rng["to"], table]
    scpu0 = server_cpu()
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=dict(os.environ, GC_LOADER_SECRET=SECRET),
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    time.sleep(0.2)             # let the postmaster reap the loader's backend
    scpu1 = server_cpu()
    if p.returncode != 0:
        raise RuntimeError("%s loader failed: %s" % (kind, p.stderr.strip()[-800:]))
    rows, reqs, cpu, rss = p.stdout.split()[:4]
    res = {"rows": int(rows), "loader_requests": int(reqs), "client_cpu": float(cpu),
           "server_cpu": scpu1 - scpu0, "peak_rss_kib": int(rss)}
    return finish_run(res, wall)


# ---------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------

def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def summarize(runs):
    if not runs:
        return None
    s = {"runs": len(runs)}
    for k in ("wall", "rows", "client_cpu", "server_cpu", "backend_cpu", "peak_rss_kib",
              "peak_anon_kib", "base_anon_kib", "base_rss_kib", "emu_handler_seconds",
              "emu_latency_seconds", "cache_misses", "requests", "http_429"):
        v = med(runs, k)
        if v is not None:
            s[k] = v
    s["rows"] = runs[0]["rows"]
    s["requests_all"] = sorted(set(r["requests"] for r in runs))
    s["rows_per_s"] = s["rows"] / s["wall"] if s["wall"] else None
    s["total_cpu"] = (s.get("client_cpu") or 0) + (s.get("server_cpu") or 0)
    if s["rows"]:
        s["cpu_per_10k"] = s["total_cpu"] * 10000 / s["rows"]
        if "backend_cpu" in s:
            s["backend_cpu_per_10k"] = s["backend_cpu"] * 10000 / s["rows"]
    s["emu_share"] = s["emu_handler_seconds"] / s["wall"] if s["wall"] else None
    return s


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1])
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "ram_gib": round(mem / 1048576, 1),
            "os": os_name, "kernel": platform.release()}


def first_line(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().split("\n")[0]
    except OSError:
        return None


def versions():
    v = {"postgresql": sql("SHOW server_version", fetch=True)[0][0],
         "gc_fdw": sql("SELECT extversion FROM pg_extension WHERE extname = 'gc_fdw'",
                       fetch=True)[0][0],
         "curl": first_line(["curl", "--version"]),
         "node": first_line(["node", "--version"]),
         "python": platform.python_version(),
         "gnuplot": first_line(["gnuplot", "--version"])}
    for name, pkg in (("sdk", "purecloud-platform-client-v2"), ("node_pg", "pg")):
        try:
            with open(os.path.join(JS_DIR, "node_modules", pkg, "package.json")) as f:
                v[name] = json.load(f)["version"]
        except OSError:
            v[name] = None
    try:
        import requests
        v["requests"] = requests.__version__
    except ImportError:
        v["requests"] = None
    v["psycopg2"] = psycopg2.__version__.split()[0]
    return v


# ---------------------------------------------------------------------------
# the benchmark
# ---------------------------------------------------------------------------

SETUP = """
CREATE EXTENSION IF NOT EXISTS gc_fdw;
DROP SERVER IF EXISTS bench CASCADE;
DROP SCHEMA IF EXISTS gc CASCADE;
CREATE SERVER bench FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url %(url)s, login_url %(url)s);
CREATE USER MAPPING FOR CURRENT_USER SERVER bench
  OPTIONS (client_id %(client)s, client_secret %(secret)s);
CREATE SCHEMA gc;
IMPORT FOREIGN SCHEMA genesys FROM SERVER bench INTO gc;
DROP TABLE IF EXISTS t_fdw, t_py, t_js, t_copy;
CREATE TABLE t_fdw (%(cols)s);
CREATE TABLE t_copy (%(cols)s);
CREATE TABLE t_py (%(cols)s);
CREATE TABLE t_js (%(cols)s);
"""


def setup():
    global POSTMASTER
    with db() as c, c.cursor() as cur:
        cur.execute(SETUP % {"url": "%(url)s", "client": "%(client)s", "secret": "%(secret)s",
                             "cols": COLUMNS},
                    {"url": URL, "client": CLIENT, "secret": SECRET})
        for t, key in CHILD_KEYS.items():
            cur.execute("DROP TABLE IF EXISTS c_%s" % t)
            cur.execute("CREATE TABLE c_%s (LIKE gc.%s, PRIMARY KEY (%s))" % (t, t, key))
            cur.execute("SELECT attname FROM pg_attribute WHERE attrelid = 'c_%s'::regclass "
                        "AND atttypid = 'jsonb'::regtype AND attnum > 0" % t)
            for (col,) in cur.fetchall():
                cur.execute("ALTER TABLE c_%s ALTER COLUMN %s SET COMPRESSION lz4" % (t, col))
        cur.execute("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', '"
                    " ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'gc.conversations'"
                    "::regclass AND attnum > 0 AND NOT attisdropped")
        fdw_cols = cur.fetchone()[0]
        cur.execute("SHOW data_directory")
        datadir = cur.fetchone()[0]
    c.close()
    with open(os.path.join(datadir, "postmaster.pid")) as f:
        POSTMASTER = int(f.readline())
    return fdw_cols


def loader_round(kind, rng, out, slow):
    """One run of loader kind over rng, appended to out (errors recorded)."""
    if kind in slow:
        return
    try:
        if kind == "curl":
            r = run_curl(rng)
        elif kind == "curl_par":
            r = run_curl(rng, parallel=CURL_PAR)
        elif kind == "gc_fdw":
            r = run_fdw(fdw_insert("t_fdw", "gc.conversations", rng), "t_fdw")
        else:
            r = run_external(kind, rng)
    except Exception as e:  # keep benchmarking the others
        log("%s failed: %s" % (kind, e))
        out.setdefault("errors", []).append(str(e)[:500])
        slow.add(kind)
        return
    out.setdefault("runs", []).append(r)
    log("%-8s %7d rows %7.2f s %8.0f rows/s %5d requests (emulator busy %.0f%%, misses %d)"
        % (kind, r["rows"], r["wall"], r["rows"] / r["wall"], r["requests"],
           100 * r["emu_handler_seconds"] / r["wall"], r["cache_misses"]))
    if kind in ("python", "js") and r["wall"] > SLOW_SECS:
        slow.add(kind)
        out["note"] = "one run only: a run took %.0f s (> SLOW_SECS %.0f)" % (r["wall"], SLOW_SECS)


def bench_sizes(ranges, res):
    kinds = [k for k in LOADERS if not ({"curl"} if k == "curl_par" else {k}) & SKIP]
    res["loads"] = []
    for rng in ranges:
        entry = {"target": rng["target"], "range": rng, "loaders": {}}
        res["loads"].append(entry)
        slow = set()
        for rnd in range(RUNS):
            log("size %d (%d rows, %s..%s), round %d/%d"
                % (rng["target"], rng["rows"], rng["from"], rng["to"], rnd + 1, RUNS))
            for kind in kinds:
                loader_round(kind, rng, entry["loaders"].setdefault(kind, {}), slow)
        for kind, d in entry["loaders"].items():
            d["summary"] = summarize(d.get("runs", []))
        if "floors" not in SKIP and loader_summary(res, len(res["loads"]) - 1, "gc_fdw"):
            entry["floors"] = bench_floors(rng)
        sql("TRUNCATE t_fdw, t_py, t_js, t_copy")


def bench_floors(rng):
    """What the two halves of a load cost on their own, over the rows gc_fdw
    has just loaded (t_fdw): PostgreSQL storing them (COPY from a server-side
    file of those rows, into a table like the loaders') and gc_fdw reading
    them (SELECT count(*) through the foreign table: fetch, inflate, parse,
    no column converted, nothing stored)."""
    path = os.path.join(tempfile.gettempdir(), "gc_fdw-bench-copy-%d.tsv" % os.getpid())
    out = {"copy": [], "scan": []}
    sql("COPY t_fdw TO '%s'" % path)
    try:
        for rnd in range(RUNS):
            r = run_fdw("COPY t_copy FROM '%s'" % path, "t_copy")
            out["copy"].append(r)
            r = run_fdw("SELECT count(*) FROM gc.conversations WHERE conversation_start >= '%s'"
                        " AND conversation_start < '%s'" % (rng["from"], rng["to"]),
                        explain=True)
            out["scan"].append(r)
            log("floors   %7d rows: COPY %.2f s (backend %.2f), scan only %.2f s (backend %.2f)"
                % (r["rows"], out["copy"][-1]["wall"], out["copy"][-1]["backend_cpu"],
                   r["wall"], r["backend_cpu"]))
    finally:
        os.unlink(path)
    return {k: summarize(v) for k, v in out.items()}


def bench_children(rng, res):
    res["children"] = {}
    for t in CHILD_KEYS:
        runs = []
        for _ in range(RUNS):
            r = run_fdw(fdw_insert("c_" + t, "gc." + t, rng), "c_" + t)
            log("child %-15s %7d rows %6.2f s %5d requests" % (t, r["rows"], r["wall"],
                                                            r["requests"]))
            runs.append(r)
        res["children"][t] = {"runs": runs, "summary": summarize(runs)}
        sql("TRUNCATE c_%s" % t)


def bench_sync(res):
    lo, hi = SYNC_RANGE
    runs = []
    tables = SYNC_TABLES
    for _ in range(RUNS):
        sql("DROP SCHEMA IF EXISTS wh CASCADE")
        sql("DELETE FROM gc_fdw.sync_state")
        sql("DELETE FROM gc_fdw.sync_log")
        sql("CHECKPOINT")
        emu_reset()
        conn = db()
        cur = conn.cursor()
        # the sync creates its target tables itself: lz4 like the loaders' raw
        cur.execute("SET default_toast_compression = lz4; SET client_min_messages = warning")
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        _, cpu0, _ = proc_stat(pid)
        scpu0 = server_cpu()
        t0 = time.monotonic()
        cur.execute("CALL gc_fdw.sync_conversations('bench', 'wh', start_from => %s, "
                    "until => %s)", (lo, hi))
        wall = time.monotonic() - t0
        _, cpu1, _ = proc_stat(pid)
        peak = proc_status(pid)["VmHWM"]
        conn.close()
        scpu1 = server_cpu()
        row = sql("SELECT requests, pages, rows_read, rows_upserted, child_rows, status "
                  "FROM gc_fdw.sync_log WHERE entry = 'run' ORDER BY log_id DESC LIMIT 1",
                  fetch=True)[0]
        counts = {t: sql("SELECT count(*) FROM wh.%s" % t, fetch=True)[0][0] for t in tables}
        r = finish_run({"rows": counts["conversations"], "sync_requests": row[0],
                        "sync_pages": row[1], "rows_read": row[2], "rows_upserted": row[3],
                        "child_rows": row[4], "status": row[5], "tables": counts,
                        "backend_cpu": cpu1 - cpu0, "server_cpu": scpu1 - scpu0,
                        "client_cpu": 0.0, "peak_rss_kib": peak}, wall)
        log("sync week: %d conversations + %s child rows in %.2f s (%d requests)"
            % (r["rows"], r["child_rows"], wall, r["requests"]))
        runs.append(r)
    s = summarize(runs)
    s["child_rows"] = runs[0]["child_rows"]
    s["tables"] = runs[0]["tables"]
    res["sync"] = {"from": lo, "to": hi, "runs": runs, "summary": s}
    sql("DROP SCHEMA IF EXISTS wh CASCADE")


def set_concurrency(c):
    have = sql("SELECT 1 FROM pg_foreign_server, unnest(srvoptions) o WHERE srvname = 'bench' "
               "AND o LIKE 'concurrency=%'", fetch=True)
    if c is None:
        if have:
            sql("ALTER SERVER bench OPTIONS (DROP concurrency)")
        return
    sql("ALTER SERVER bench OPTIONS (%s concurrency '%d')" % ("SET" if have else "ADD", c))


def bench_sweep(rng, res):
    res["sweep"] = {"range": rng, "levels": LEVELS, "latencies": {}}
    for lat in (LATENCY_MS, 0):
        d = res["sweep"]["latencies"][str(int(lat))] = {"gc_fdw": {}, "curl": {}}
        settings = {"latency_ms": lat} if lat else None
        for c in LEVELS:
            set_concurrency(c)
            runs, cruns = [], []
            for _ in range(RUNS):
                runs.append(run_fdw(fdw_insert("t_fdw", "gc.conversations", rng), "t_fdw",
                                    settings))
                cruns.append(run_curl(rng, parallel=c if c > 1 else 0, settings=settings))
            d["gc_fdw"][str(c)] = summarize(runs)
            d["curl"][str(c)] = summarize(cruns)
            log("latency %g ms, concurrency %2d: gc_fdw %.2f s, curl %.2f s"
                % (lat, c, d["gc_fdw"][str(c)]["wall"], d["curl"][str(c)]["wall"]))
    set_concurrency(None)
    sql("TRUNCATE t_fdw")
    res["sweep"]["chosen_default"] = choose_default(res["sweep"])


def choose_default(sweep):
    """What the sweep at LATENCY_MS suggests for the default, by three rules
    (choosing between them is a judgement the report leaves to the reader):
    fastest: the fewest connections within 10% of the best time;
    knee: the fewest connections whose doubling gains less than 1.5x;
    target: the fewest connections at least 3x faster than concurrency 1.
    A level slower than concurrency 1 by more than 10% without latency is
    never suggested (a remote API is never 0 ms away, a local one might be)."""
    lat = sweep["latencies"][str(int(LATENCY_MS))]["gc_fdw"]
    zero = sweep["latencies"].get("0", {}).get("gc_fdw", {})
    ok = [c for c in LEVELS if str(c) in lat and
          (not zero or "1" not in zero or zero[str(c)]["wall"] <= 1.10 * zero["1"]["wall"])]
    if not ok:
        return {}
    best = min(lat[str(c)]["wall"] for c in ok)
    out = {"fastest": next(c for c in ok if lat[str(c)]["wall"] <= 1.10 * best)}
    knee = [c for c in ok if 2 * c in ok and lat[str(c)]["wall"] / lat[str(2 * c)]["wall"] < 1.5]
    out["knee"] = knee[0] if knee else ok[-1]
    if "1" in lat:
        hit = [c for c in ok if lat["1"]["wall"] / lat[str(c)]["wall"] >= 3]
        out["target"] = hit[0] if hit else None
    return out


RULES = (("fastest", "the fewest connections within 10% of the best time"),
         ("knee", "the fewest connections whose doubling gains less than 1.5x"),
         ("target", "the fewest connections at least 3x faster than concurrency 1"))


def describe_choice(ch):
    return "; ".join("%s: **%s**" % (text, ch.get(k)) for k, text in RULES if k in ch)


def bench_pacing(days, res):
    rng = pick_range(days, lambda r: abs(r["gc_fdw_expected_requests"] - 1 - PACE_REQUESTS))
    res["pacing"] = {"range": rng, "limit": PACE_LIMIT, "window": PACE_WINDOW}
    log("pacing: %s..%s, %d rows, %d requests expected, budget %d per %g s"
        % (rng["from"], rng["to"], rng["rows"], rng["gc_fdw_expected_requests"], PACE_LIMIT,
           PACE_WINDOW))
    prerender(rng)
    settings = {"rate_limit": PACE_LIMIT, "rate_window": PACE_WINDOW}
    r = run_fdw(fdw_insert("t_fdw", "gc.conversations", rng), "t_fdw", settings, explain=True)
    ex = r.get("explain", {})
    log("pacing gc_fdw: %.1f s, %d requests, %d 429s, pacing waits %s"
        % (r["wall"], r["requests"], r["http_429"], ex.get("Rate Limit Pacing Waits")))
    res["pacing"]["gc_fdw"] = r
    if "python" not in SKIP:
        try:
            p = run_external("python", rng, settings)
            log("pacing python: %.1f s, %d requests, %d 429s" % (p["wall"], p["requests"],
                                                                 p["http_429"]))
            res["pacing"]["python"] = p
        except Exception as e:
            res["pacing"]["python_error"] = str(e)[:500]
    sql("TRUNCATE t_fdw, t_py")


def main():
    t_start = time.monotonic()
    res = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "label": LABEL, "scale": os.environ.get("SCALE"), "runs": RUNS, "sizes": SIZES,
           "machine": machine(), "skip": sorted(SKIP),
           "config": {"latency_ms": LATENCY_MS, "levels": LEVELS, "pace_limit": PACE_LIMIT,
                      "pace_window": PACE_WINDOW, "pace_requests": PACE_REQUESTS,
                      "slow_secs": SLOW_SECS, "sync_range": SYNC_RANGE}}
    res["fdw_columns"] = setup()
    res["versions"] = versions()
    log("counting conversations per UTC day")
    days = day_counts()
    res["days"] = days
    res["dataset_rows"] = sum(n for _, n in days)
    ranges = []
    for size in SIZES:
        r = pick_range(days, lambda r, s=size: abs(r["rows"] - s))
        r["target"] = size
        ranges.append(r)
    res["ranges"] = ranges
    log("ranges: " + ", ".join("%d: %s..%s (%d rows)" % (r["target"], r["from"], r["to"], r["rows"])
                               for r in ranges))
    # warm-up: every page every loader will read, rendered before any run
    res["prerender"] = []
    seen = set()
    for r in ranges + ([range_of(days, *SYNC_RANGE)] if "sync" not in SKIP else []):
        if (r["from"], r["to"]) in seen:
            continue
        seen.add((r["from"], r["to"]))
        p = prerender(r)
        p.update({"from": r["from"], "to": r["to"]})
        res["prerender"].append(p)
        log("prerendered %s..%s: %d pages in %.1f s" % (r["from"], r["to"], p["pages"],
                                                        p["seconds"]))
    res["concurrency_default"] = fdw_default_concurrency(ranges[0])
    set_parallel(res)
    if not {"curl", "gc_fdw", "python", "js"} <= SKIP:
        bench_sizes(ranges, res)
    if "children" not in SKIP:
        bench_children(ranges[0], res)
    if "sync" not in SKIP:
        bench_sync(res)
    if "sweep" not in SKIP:
        bench_sweep(ranges[0], res)
    if "pacing" not in SKIP:
        bench_pacing(days, res)
    res["seconds"] = time.monotonic() - t_start
    report(res)
    log("done in %.0f s; results in %s, report in %s" % (res["seconds"], RESULTS, DOC))
    for t in res["targets"]:
        log("target %-60s %s" % (t["target"], t["status"]))


def report(res):
    """latest.json, the plots and the section of docs/performance.md."""
    if res.get("sweep"):
        res["sweep"]["chosen_default"] = choose_default(res["sweep"])
    res["targets"] = targets(res)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(res, f, indent=1, sort_keys=True, default=str)
    plots(res)
    write_doc(res)


def report_only():
    """`perf.py --report`: rebuild plots and docs from bench/results/latest.json."""
    global LATENCY_MS, LEVELS, PACE_LIMIT, PACE_WINDOW, PACE_REQUESTS
    with open(os.path.join(RESULTS, "latest.json")) as f:
        res = json.load(f)
    cfg = res.get("config", {})
    LATENCY_MS = cfg.get("latency_ms", LATENCY_MS)
    LEVELS = cfg.get("levels", LEVELS)
    set_parallel(res)
    PACE_LIMIT = cfg.get("pace_limit", PACE_LIMIT)
    PACE_WINDOW = cfg.get("pace_window", PACE_WINDOW)
    PACE_REQUESTS = cfg.get("pace_requests", PACE_REQUESTS)
    report(res)
    for t in res["targets"]:
        log("target %-60s %s" % (t["target"], t["status"]))


CURL_PAR = 4


def set_parallel(res):
    """curl's parallel floor uses as many connections as gc_fdw's default
    concurrency, and the sweep always includes that default."""
    global CURL_PAR, LEVELS
    CURL_PAR = res.get("concurrency_default") or 4
    if CURL_PAR not in LEVELS:
        LEVELS = sorted(LEVELS + [CURL_PAR])
    res.setdefault("config", {}).update({"curl_parallel": CURL_PAR, "levels": LEVELS})
    LOADER_NAMES["curl_par"] = "curl floor, parallel (%d connections)" % CURL_PAR


def fdw_default_concurrency(rng):
    # BENCH_CONCURRENCY_DEFAULT: tell the harness the default instead of
    # asking the build (to compare builds whose EXPLAIN differs, or a build
    # from before EXPLAIN showed it)
    if os.environ.get("BENCH_CONCURRENCY_DEFAULT"):
        return int(os.environ["BENCH_CONCURRENCY_DEFAULT"])
    plan = sql("EXPLAIN (VERBOSE, FORMAT JSON) " + fdw_insert("t_fdw", "gc.conversations", rng),
               fetch=True)[0][0]
    for node in walk_plan(plan[0]["Plan"]):
        if "Concurrency" in node:
            return node["Concurrency"]
    return None


# ---------------------------------------------------------------------------
# targets, plots, report
# ---------------------------------------------------------------------------

def loader_summary(res, i, kind):
    try:
        return res["loads"][i]["loaders"][kind]["summary"]
    except (KeyError, IndexError, TypeError):
        return None


def targets(res):
    out = []

    def add(name, ok, detail):
        out.append({"target": name, "status": "n/a" if ok is None else ("met" if ok else "NOT met"),
                    "detail": detail})

    loads = res.get("loads", [])
    for kind, want, label in (("python", 5, "Python"), ("js", 3, "JS")):
        ratios = []
        for i, l in enumerate(loads):
            g, o = loader_summary(res, i, "gc_fdw"), loader_summary(res, i, kind)
            if g and o:
                ratios.append((l["range"]["rows"], o["wall"] / g["wall"]))
        add("load throughput >= %dx %s" % (want, label),
            all(r >= want for _, r in ratios) if ratios else None,
            ", ".join("%.2fx at %d rows" % (r, n) for n, r in ratios))
    ratios = []
    for i, l in enumerate(loads):
        g, c = loader_summary(res, i, "gc_fdw"), loader_summary(res, i, "curl")
        if g and c:
            ratios.append((l["range"]["rows"], g["wall"] / c["wall"]))
    add("within 1.5x of the curl floor (no latency)",
        all(r <= 1.5 for _, r in ratios) if ratios else None,
        ", ".join("gc_fdw takes %.1fx the floor's time at %d rows" % (r, n) for n, r in ratios))
    parts = []
    for i, l in enumerate(loads):
        g, c, fl = (loader_summary(res, i, "gc_fdw"), loader_summary(res, i, "curl"),
                    l.get("floors") or {})
        cpar = loader_summary(res, i, "curl_par") or c
        if g and c and fl.get("scan") and fl.get("copy"):
            parts.append((l["range"]["rows"], fl["scan"]["wall"] / c["wall"],
                          fl["scan"]["wall"] / cpar["wall"],
                          g["wall"] / (c["wall"] + fl["copy"]["wall"]),
                          fl["copy"]["wall"] / c["wall"]))
    if parts:
        add("reading alone (scan, nothing stored) within 1.5x of the curl floor",
            all(max(r, rp) <= 1.5 for _, r, rp, _, _ in parts),
            ", ".join("%.2fx (%.2fx of the parallel floor) at %d rows" % (r, rp, n)
                      for n, r, rp, _, _ in parts) +
            "; storing the rows alone (COPY) takes " +
            ", ".join("%.1fx" % cf for _, _, _, _, cf in parts) +
            " the floor, and the whole load " + ", ".join("%.2fx" % q for _, _, _, q, _ in parts) +
            " the floor plus that COPY")
    sw = res.get("sweep")
    if sw:
        lat = sw["latencies"][str(int(LATENCY_MS))]
        d = res.get("concurrency_default") or 4
        if str(d) in lat["gc_fdw"] and str(d) in lat["curl"]:
            r = lat["gc_fdw"][str(d)]["wall"] / lat["curl"][str(d)]["wall"]
            add("within 1.5x of the curl floor (%g ms latency, %d connections each)"
                % (LATENCY_MS, d), r <= 1.5, "gc_fdw takes %.2fx the floor's time" % r)
    g = [loader_summary(res, i, "gc_fdw") for i in range(len(loads))]
    g = [(l["range"]["rows"], s) for l, s in zip(loads, g) if s]
    if len(g) >= 2:
        (n0, s0), (n1, s1) = g[0], g[-1]
        grow_anon = (s1["peak_anon_kib"] - s0["peak_anon_kib"]) / 1024
        grow_hwm = (s1["peak_rss_kib"] - s0["peak_rss_kib"]) / 1024
        add("backend peak RSS grows <= 32 MB from %d to %d rows" % (n0, n1), grow_anon <= 32,
            "private (RssAnon) peak +%.1f MiB; VmHWM, which also counts the shared buffers the"
            " backend touched, +%.1f MiB" % (grow_anon, grow_hwm))
    bad = []
    for l, (n, s) in zip([l for l in loads if loader_summary(res, loads.index(l), "gc_fdw")], g):
        want = l["range"]["gc_fdw_expected_requests"]
        if any(x != want for x in s["requests_all"]):
            bad.append("%d rows: %s sent, %d expected" % (n, s["requests_all"], want))
    if g:
        add("requests = ceil(rows/page) per window + one token", not bad,
            "; ".join(bad) if bad else "exact at every size (%s)" % ", ".join(
                "%d" % s["requests"] for _, s in g))
    p = res.get("pacing")
    if p and "gc_fdw" in p:
        r = p["gc_fdw"]
        add("zero 429s against %d requests / %g s" % (PACE_LIMIT, PACE_WINDOW),
            r["http_429"] == 0, "%d requests, %d 429s, %.1f s" % (r["requests"], r["http_429"],
                                                                  r["wall"]))
    if sw:
        lat = sw["latencies"][str(int(LATENCY_MS))]["gc_fdw"]
        one = lat.get("1")
        best_c = min(lat, key=lambda c: lat[c]["wall"])
        if one:
            sp = {c: one["wall"] / v["wall"] for c, v in lat.items()}
            d = str(res.get("concurrency_default") or 4)
            add("concurrency >= 3x faster than concurrency 1 at %g ms latency" % LATENCY_MS,
                sp.get(d, 0) >= 3,
                "default %s: %.2fx; best %s: %.2fx" % (d, sp.get(d, 0), best_c, sp[best_c]))
        zero = sw["latencies"]["0"]["gc_fdw"]
        ch, dflt = sw.get("chosen_default") or {}, res.get("concurrency_default")
        out.append({"target": "default concurrency chosen by measurement",
                    "status": "judgement",
                    "detail": "gc_fdw's default %s; at %g ms, %s; wall at %g ms: %s; without"
                    " latency, against concurrency 1: %s" % (
                dflt, LATENCY_MS, describe_choice(ch).replace("**", ""), LATENCY_MS,
                ", ".join("%s: %.2f s" % (c, lat[str(c)]["wall"]) for c in LEVELS),
                ", ".join("%s: %+.0f%%" % (c, 100 * (zero[str(c)]["wall"] / zero["1"]["wall"] - 1))
                          for c in LEVELS if str(c) != "1" and "1" in zero))})
    return out


def plots(res):
    if not shutil.which("gnuplot"):
        log("gnuplot missing: no plots")
        return
    os.makedirs(IMG, exist_ok=True)
    loads = res.get("loads", [])
    with open(os.path.join(RESULTS, "throughput.dat"), "w") as f:
        f.write("# rows gc_fdw python js curl curl_par (rows/s; NaN = not run)\n")
        for i, l in enumerate(loads):
            vals = []
            for k in ("gc_fdw", "python", "js", "curl", "curl_par"):
                s = loader_summary(res, i, k)
                vals.append("%.1f" % s["rows_per_s"] if s else "NaN")
            f.write("%d %s\n" % (l["range"]["rows"], " ".join(vals)))
    with open(os.path.join(RESULTS, "memory.dat"), "w") as f:
        f.write("# rows gc_fdw_anon gc_fdw_vmhwm python js (peak MiB; NaN = not run)\n")
        for i, l in enumerate(loads):
            g = loader_summary(res, i, "gc_fdw")
            p, j = loader_summary(res, i, "python"), loader_summary(res, i, "js")
            f.write("%d %s %s %s %s\n" % (
                l["range"]["rows"],
                "%.1f" % (g["peak_anon_kib"] / 1024) if g else "NaN",
                "%.1f" % (g["peak_rss_kib"] / 1024) if g else "NaN",
                "%.1f" % (p["peak_rss_kib"] / 1024) if p else "NaN",
                "%.1f" % (j["peak_rss_kib"] / 1024) if j else "NaN"))
    sw = res.get("sweep")
    if sw:
        with open(os.path.join(RESULTS, "concurrency.dat"), "w") as f:
            f.write("# concurrency gc_fdw_lat curl_lat gc_fdw_0 curl_0 (wall s)\n")
            lat = sw["latencies"][str(int(LATENCY_MS))]
            zero = sw["latencies"]["0"]
            for c in LEVELS:
                f.write("%d %.3f %.3f %.3f %.3f\n" % (
                    c, lat["gc_fdw"][str(c)]["wall"], lat["curl"][str(c)]["wall"],
                    zero["gc_fdw"][str(c)]["wall"], zero["curl"][str(c)]["wall"]))
    subprocess.run(["gnuplot", "-e", "datadir='%s'; imgdir='%s'; latency='%g'; sweeprows='%s';"
                    " parallel='%d'" % (RESULTS, IMG, LATENCY_MS, sw["range"]["rows"] if sw else "",
                                        CURL_PAR),
                    os.path.join(HERE, "plot.gp")], check=True)


def f2(v, fmt="%.2f"):
    return "-" if v is None else fmt % v


def mib(kib):
    return "-" if kib is None else "%.1f" % (kib / 1024)


def write_doc(res):
    m, v = res["machine"], res["versions"]
    L = []
    a = L.append
    a("_Generated by `bench/perf.sh` (%s)%s; the text between the `bench:` markers is"
      " rewritten on each run._" % (res["date"], ", " + res["label"] if res["label"] else ""))
    a("")
    a("**Machine.** %s CPUs (%s), %s GiB RAM, %s, kernel %s. **Versions.** PostgreSQL %s,"
      " gc_fdw %s, %s, node %s with purecloud-platform-client-v2 %s and pg %s, Python %s with"
      " requests %s and psycopg2 %s." % (
          m["nproc"], m["cpu"], m["ram_gib"], m["os"], m["kernel"], v["postgresql"], v["gc_fdw"],
          (v["curl"] or "").split(" (")[0], v["node"], v["sdk"], v["node_pg"], v["python"],
          v["requests"], v["psycopg2"]))
    a("")
    a("**Method.** One emulator (`tests/emulator/genesys_emulator.py --scale %s`: %d"
      " conversations from %s to %s inclusive, about 3 KB of JSON each), one throwaway PostgreSQL cluster"
      " (`pg_virtualenv`, default settings), one run of `bench/perf.sh`. For each size the"
      " range is the run of whole UTC days whose conversation count is nearest to it, and every"
      " loader reads that range. Before any timed run, every details-query page of every range"
      " is rendered into the emulator's page cache (`POST /__emu/prerender`, gzip and identity"
      " bodies), so each request is answered with stored bytes; each run starts from"
      " `/__emu/reset` (counters and log cleared, cache kept), and its `/__emu/stats` show"
      " `cache_misses` (only the loaders' extra empty page per window is not pre-rendered) and"
      " the seconds the emulator spent handling requests (`emu busy` below: handler seconds"
      " over the run's wall time). Each loader writes into its own table with the twelve"
      " columns of gc_fdw's `conversations` (`conversation_id uuid PRIMARY KEY`, ...,"
      " `raw jsonb COMPRESSION lz4` for every loader: the default, pglz, compresses these"
      " documents so much more slowly that, in a side measurement, gc_fdw's load took 1.5x as"
      " long with it), `TRUNCATE`d and `CHECKPOINT`ed before each run (untimed)."
      " Medians of %d runs, rounds interleaved (curl, gc_fdw, Python, JS, then again). The"
      " emulator listens with a backlog of 128 (with socketserver's default of 5, the SYNs of 8"
      " or 16 simultaneous connections were dropped and retried a second later)." % (
          res.get("scale") or "?", res["dataset_rows"], res["days"][0][0], res["days"][-1][0],
          res["runs"]))
    a("")
    a("- **Timed**: wall time from the start of the statement or process to its end. gc_fdw:"
      " `INSERT INTO t SELECT * FROM gc.conversations WHERE conversation_start >= FROM AND"
      " conversation_start < TO` in a fresh session (token included), default options"
      " (`concurrency` %s). Python: `bench/alternatives/python_loader.py`; JS:"
      " `node bench/alternatives/js_loader/loader.js` (process start included). curl floor:"
      " `bench/curl_floor.py`, a token then the very pages gc_fdw requests (same bodies,"
      " `--compressed`) to `/dev/null` in one curl process (`-K` config of `next` entries: one"
      " keep-alive connection), and the same with `--parallel --parallel-max %d` (gc_fdw's default concurrency)." % (
          res.get("concurrency_default"), CURL_PAR))
    a("- **CPU**: client = the loader process (`getrusage`), server = every process of the"
      " cluster (the postmaster's own and reaped children's CPU plus its live children, from"
      " `/proc`), so `CPU s / 10k` = (client + server) per 10,000 conversations. For gc_fdw"
      " the client (the harness's psycopg2 session) only waits; the backend's own share is given separately.")
    a("- **Peak RSS**: gc_fdw = the backend (fresh per run). `VmHWM` counts the shared buffers"
      " the backend touched while writing (up to `shared_buffers`, 128 MB), so the private"
      " part (`RssAnon`, sampled every 20 ms) is given too; it is what grows with gc_fdw's own"
      " allocations. Python/JS = the loader process's `ru_maxrss`.")
    a("- **Requests**: counted by the emulator (`/__emu/stats`), token requests included;"
      " `expected` is ceil(rows/100) per window, plus the empty page that ends a window whose"
      " last page is full, plus one token for gc_fdw, and one empty page per window more for"
      " the Python and JS loaders, which page until a page comes back empty.")
    a("")
    loads = res.get("loads", [])
    if loads:
        a("### Loading conversations")
        a("")
        a("| size | range | loader | runs | rows | wall s | rows/s | requests (expected) |"
          " client CPU s | server CPU s | CPU s / 10k | peak RSS MiB | emu busy |")
        a("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for i, l in enumerate(loads):
            rng = l["range"]
            for kind in LOADERS:
                s = loader_summary(res, i, kind)
                d = l["loaders"].get(kind, {})
                if not s:
                    if d.get("errors"):
                        a("| %d | %s..%s | %s | failed: %s |||||||||" % (
                            l["target"], rng["from"], rng["to"], LOADER_NAMES[kind],
                            d["errors"][0].replace("|", "/")[:120]))
                    continue
                exp = rng["gc_fdw_expected_requests"] if kind == "gc_fdw" else (
                    rng["loader_expected_requests"] if kind in ("python", "js")
                    else rng["pages"] + 1)
                server = f2(s.get("server_cpu"))
                if kind == "gc_fdw":
                    server += " (backend %s)" % f2(s.get("backend_cpu"))
                rss = mib(s.get("peak_rss_kib"))
                if kind == "gc_fdw":
                    rss = "%s (private %s)" % (rss, mib(s.get("peak_anon_kib")))
                elif kind.startswith("curl"):
                    rss = "-"
                a("| %d | %s..%s (%d d) | %s | %d%s | %d | %.2f | %.0f | %s (%d) | %s | %s | %s |"
                  " %s | %.0f%% |" % (
                      l["target"], rng["from"], rng["to"], rng["days"], LOADER_NAMES[kind],
                      s["runs"], "*" if d.get("note") else "", s["rows"], s["wall"],
                      s["rows_per_s"], "/".join(str(x) for x in s["requests_all"]), exp,
                      f2(s.get("client_cpu")), server, f2(s.get("cpu_per_10k")), rss,
                      100 * (s.get("emu_share") or 0)))
        notes = [(l["target"], k, d["note"]) for l in loads for k, d in l["loaders"].items()
                 if d.get("note")]
        if notes:
            a("")
            for t, k, n in notes:
                a("\\* %s at %d: %s." % (LOADER_NAMES[k], t, n))
        a("")
        a("Ratios (medians; speed = the other's wall time over gc_fdw's, floor = gc_fdw's wall"
          " time over curl's):")
        a("")
        a("| size | rows | gc_fdw rows/s | vs Python | vs JS | / curl floor (1 conn.) |"
          " / curl floor (%d conn.) | CPU vs Python | CPU vs JS |" % CURL_PAR)
        a("|---|---|---|---|---|---|---|---|---|")
        for i, l in enumerate(loads):
            g = loader_summary(res, i, "gc_fdw")
            if not g:
                continue
            def ratio(kind, inv=False, key="wall"):
                s = loader_summary(res, i, kind)
                if not s or not s.get(key):
                    return "-"
                return "%.2fx" % ((g[key] / s[key]) if inv else (s[key] / g[key]))
            a("| %d | %d | %.0f | %s | %s | %s | %s | %s | %s |" % (
                l["target"], g["rows"], g["rows_per_s"], ratio("python"), ratio("js"),
                ratio("curl", True), ratio("curl_par", True),
                ratio("python", key="total_cpu"), ratio("js", key="total_cpu")))
        a("")
        fl = [(i, l) for i, l in enumerate(loads) if (l.get("floors") or {}).get("copy")]
        if fl:
            a("**The two halves of a load.** The curl floor moves the pages and stores nothing;"
              " a load also stores the rows, which costs PostgreSQL the same whoever sends them."
              " Measured over the rows gc_fdw loaded, %s: *reading* is"
              " `SELECT count(*) FROM gc.conversations WHERE ...` (gc_fdw fetches, inflates"
              " and parses every page, converts no column, stores nothing); *storing* is"
              " `COPY t FROM` a server-side file of the same rows, into a table like the"
              " loaders' (PostgreSQL's fastest way in: text input functions, heap insert, lz4"
              " TOAST)." % ("medians of %d runs" % res["runs"] if res["runs"] > 1 else "one run"))
            a("")
            a("| size | rows | curl floor s (1 / %d conn.) | gc_fdw reading s (backend CPU) |"
              " reading / curl (1 / %d conn.) | COPY storing s (backend CPU) | curl + COPY s |"
              " gc_fdw load s | load / (curl + COPY) |" % (CURL_PAR, CURL_PAR))
            a("|---|---|---|---|---|---|---|---|---|")
            for i, l in fl:
                g, c = loader_summary(res, i, "gc_fdw"), loader_summary(res, i, "curl")
                cpar = loader_summary(res, i, "curl_par") or c
                sc, cp = l["floors"]["scan"], l["floors"]["copy"]
                if not (g and c and sc and cp):
                    continue
                a("| %d | %d | %.2f / %.2f | %.2f (%.2f) | %.2fx / %.2fx | %.2f (%.2f) | %.2f |"
                  " %.2f | %.2fx |" % (
                      l["target"], g["rows"], c["wall"], cpar["wall"], sc["wall"],
                      sc["backend_cpu"], sc["wall"] / c["wall"], sc["wall"] / cpar["wall"],
                      cp["wall"], cp["backend_cpu"], c["wall"] + cp["wall"], g["wall"],
                      g["wall"] / (c["wall"] + cp["wall"])))
            a("")
            both = [(l["floors"]["copy"]["wall"] / c["wall"],
                     l["floors"]["scan"]["wall"] / (loader_summary(res, i, "curl_par") or c)["wall"])
                    for i, l in fl for c in [loader_summary(res, i, "curl")] if c]
            if both:
                a("Storing the same rows with COPY, PostgreSQL's fastest way in for a loader"
                  " that holds them as text, takes %.1f-%.1fx the curl floor's time by itself"
                  " (turning JSON text into jsonb, writing heap and lz4 TOAST); gc_fdw's whole"
                  " load takes about as long as that COPY plus the floor (last column), and what"
                  " gc_fdw adds on its own, reading, is within %.2fx of the floor at the same"
                  " number of connections." % (
                      min(x for x, _ in both), max(x for x, _ in both), max(y for _, y in both)))
            a("")
        gl = [(loader_summary(res, i, "gc_fdw"), l) for i, l in enumerate(loads)]
        gl = [(s, l) for s, l in gl if s]
        busy = [s.get("emu_share") or 0 for i in range(len(loads)) for k in LOADERS
                for s in [loader_summary(res, i, k)] if s]
        if gl:
            a("gc_fdw's backend was on CPU for %s of its wall time (at %s rows): the load is"
              " bound by the backend's CPU (fetching, decompressing, parsing, converting and"
              " writing in one process), not by waiting for pages. The emulator was busy for at"
              " most %.0f%% of any run's wall time (handler seconds summed over its threads);"
              " gc_fdw's runs asked for %s pages that were not pre-rendered (`cache_misses`)."
              % (
                  "/".join("%.0f%%" % (100 * s["backend_cpu"] / s["wall"]) for s, _ in gl),
                  "/".join(str(l["range"]["rows"]) for _, l in gl), 100 * max(busy),
                  "/".join("%d" % s.get("cache_misses", 0) for s, _ in gl)))
            a("")
        g = [(l["range"]["rows"], loader_summary(res, i, "gc_fdw")) for i, l in enumerate(loads)]
        g = [(n, s) for n, s in g if s]
        if len(g) >= 2:
            a("**Memory.** gc_fdw's backend: " + "; ".join(
                "%d rows: VmHWM %s MiB, private peak %s MiB (%s MiB at the start of the session)"
                % (n, mib(s["peak_rss_kib"]), mib(s["peak_anon_kib"]), mib(s["base_anon_kib"]))
                for n, s in g) + ". Growth from %d to %d rows: private %+.1f MiB, VmHWM %+.1f MiB."
              % (g[0][0], g[-1][0], (g[-1][1]["peak_anon_kib"] - g[0][1]["peak_anon_kib"]) / 1024,
                 (g[-1][1]["peak_rss_kib"] - g[0][1]["peak_rss_kib"]) / 1024))
            a("")
        a("![rows/s against result size](img/bench-rows-per-second.png)")
        a("![peak memory against result size](img/bench-peak-rss.png)")
        a("")
    ch = res.get("children")
    if ch:
        rng = loads[0]["range"] if loads else None
        a("### Flattened child tables")
        a("")
        a("`INSERT INTO local SELECT * FROM gc.<table> WHERE conversation_start ...` over the"
          " %s range (%s..%s, %s conversations), into tables with the sync's primary keys,"
          " medians of %d runs:" % (
              loads[0]["target"] if loads else "", rng and rng["from"], rng and rng["to"],
              rng and rng["rows"], res["runs"]))
        a("")
        a("| table | rows | wall s | rows/s | conversations/s | requests | backend CPU s |"
          " peak RSS MiB (private) |")
        a("|---|---|---|---|---|---|---|---|")
        for t in [t for t in CHILD_KEYS if t in ch]:
            s = ch[t]["summary"]
            a("| %s | %d | %.2f | %.0f | %.0f | %s | %.2f | %s (%s) |" % (
                t, s["rows"], s["wall"], s["rows_per_s"], (rng["rows"] / s["wall"]) if rng else 0,
                "/".join(str(x) for x in s["requests_all"]), s["backend_cpu"],
                mib(s["peak_rss_kib"]), mib(s["peak_anon_kib"])))
        a("")
    sy = res.get("sync")
    if sy:
        s = sy["summary"]
        a("### A week through `gc_fdw.sync_conversations`")
        a("")
        a("`CALL gc_fdw.sync_conversations('bench', 'wh', start_from => '%s', until => '%s')`"
          " into an empty schema (dropped before each run; `default_toast_compression = lz4`),"
          " medians of %d runs:" % (sy["from"], sy["to"], s["runs"]))
        a("")
        a("| conversations | child rows | wall s | conversations/s | rows written/s | requests |"
          " backend CPU s | server CPU s | backend VmHWM MiB |")
        a("|---|---|---|---|---|---|---|---|---|")
        a("| %d | %d | %.2f | %.0f | %.0f | %s | %.2f | %.2f | %s |" % (
            s["rows"], s["child_rows"] or 0, s["wall"], s["rows"] / s["wall"],
            (s["rows"] + (s["child_rows"] or 0)) / s["wall"],
            "/".join(str(x) for x in s["requests_all"]), s["backend_cpu"], s["server_cpu"],
            mib(s["peak_rss_kib"])))
        a("")
        a("Rows per table: " + ", ".join("%s %d" % (t, s["tables"][t]) for t in SYNC_TABLES
                                         if t in s["tables"]) + ".")
        a("")
    sw = res.get("sweep")
    if sw:
        rng = sw["range"]
        a("### Latency hiding: the `concurrency` option")
        a("")
        a("The %s range (%d conversations, %d pages) with the emulator answering every API"
          " request %g ms late (`latency_ms`, slept in the connection's thread, so parallel"
          " requests overlap), then without latency. gc_fdw: `ALTER SERVER bench OPTIONS (SET"
          " concurrency 'N')`; curl: `--parallel-max N` (sequential for 1). Medians of %d runs;"
          " speedup against concurrency 1." % (
              loads[0]["target"] if loads else "", rng["rows"], rng["pages"], LATENCY_MS,
              res["runs"]))
        a("")
        a("| concurrency | gc_fdw s (%g ms) | speedup | curl s (%g ms) | gc_fdw / curl |"
          " gc_fdw s (0 ms) | speedup | curl s (0 ms) | gc_fdw / curl |" % (LATENCY_MS,
                                                                          LATENCY_MS))
        a("|---|---|---|---|---|---|---|---|---|")
        lat = sw["latencies"][str(int(LATENCY_MS))]
        zero = sw["latencies"]["0"]
        for c in LEVELS:
            k = str(c)
            a("| %d | %.2f | %.2fx | %.2f | %.2fx | %.2f | %.2fx | %.2f | %.2fx |" % (
                c, lat["gc_fdw"][k]["wall"], lat["gc_fdw"]["1"]["wall"] / lat["gc_fdw"][k]["wall"]
                if "1" in lat["gc_fdw"] else 0, lat["curl"][k]["wall"],
                lat["gc_fdw"][k]["wall"] / lat["curl"][k]["wall"], zero["gc_fdw"][k]["wall"],
                zero["gc_fdw"]["1"]["wall"] / zero["gc_fdw"][k]["wall"]
                if "1" in zero["gc_fdw"] else 0, zero["curl"][k]["wall"],
                zero["gc_fdw"][k]["wall"] / zero["curl"][k]["wall"]))
        a("")
        a("What the sweep at %g ms suggests for the default (levels more than 10%% slower than"
          " concurrency 1 without latency excluded): %s. gc_fdw's default is **%s**. Peak private"
          " memory of the backend by concurrency: %s." % (
              LATENCY_MS, describe_choice(sw.get("chosen_default") or {}),
              res.get("concurrency_default"),
              ", ".join("%d: %s MiB" % (c, mib(lat["gc_fdw"][str(c)].get("peak_anon_kib")))
                        for c in LEVELS)))
        a("")
        a("![wall time against concurrency](img/bench-concurrency.png)")
        a("")
    p = res.get("pacing")
    if p and "gc_fdw" in p:
        r, rng = p["gc_fdw"], p["range"]
        ex = r.get("explain", {})
        a("### Pacing under the rate limit")
        a("")
        a("Emulator budget `rate_limit` %d requests per `rate_window` %g s per client (429 with"
          " `Retry-After` beyond it); %s..%s, %d conversations, %d requests expected; one run,"
          " through `EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) INSERT ...` for gc_fdw's"
          " counters." % (p["limit"], p["window"], rng["from"], rng["to"], rng["rows"],
                          rng["gc_fdw_expected_requests"]))
        a("")
        a("| loader | rows | requests | 429s | wall s | pacing waits | pacing s |")
        a("|---|---|---|---|---|---|---|")
        a("| gc_fdw | %d | %d | %d | %.1f | %s | %s |" % (
            r["rows"], r["requests"], r["http_429"], r["wall"],
            ex.get("Rate Limit Pacing Waits", 0), ex.get("Rate Limit Pacing Time", 0)))
        if "python" in p:
            q = p["python"]
            a("| Python loader (sleeps on 429 as `Retry-After` says) | %d | %d | %d | %.1f | - |"
              " - |" % (q["rows"], q["requests"], q["http_429"], q["wall"]))
        a("")
        a("Waiting out the budget's windows takes at least %d x %g s = %.0f s." % (
            (rng["gc_fdw_expected_requests"] - 1) // p["limit"], p["window"],
            ((rng["gc_fdw_expected_requests"] - 1) // p["limit"]) * p["window"]))
        a("")
    a("### Targets")
    a("")
    a("| target | status | measured |")
    a("|---|---|---|")
    for t in res.get("targets", []):
        a("| %s | %s | %s |" % (t["target"], "**%s**" % t["status"] if t["status"] == "NOT met"
                               else t["status"], t["detail"]))
    a("")
    a("Raw numbers of every run: `bench/results/latest.json`. Reproduce: `bench/perf.sh`"
      " (`QUICK=1` for a small smoke run, `SCALE=N`, `RUNS=N`).")
    text = "\n".join(L)
    with open(DOC) as f:
        doc = f.read()
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    if begin in doc and end in doc:
        pre, rest = doc.split(begin, 1)
        post = rest.split(end, 1)[1]
        doc = pre + begin + "\n" + text + "\n" + end + post
    else:
        # a new section below the title, above the first existing section
        m = re.search(r"^## ", doc, re.M)
        head, tail = (doc[:m.start()], doc[m.start():]) if m else (doc, "")
        doc = head + "## Benchmarks\n\n" + begin + "\n" + text + "\n" + end + "\n\n" + tail
    with open(DOC, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    if sys.argv[1:] == ["--report"]:
        report_only()
    else:
        main()
