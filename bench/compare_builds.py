#!/usr/bin/env python3
"""Two builds of gc_fdw.so in one cluster, run after run: which one costs
more backend CPU to read, and to load, the same conversations.

    compare_builds.py BEFORE.so AFTER.so "before label" "after label" [MARKER]

Run by bench/compare_builds.sh inside a pg_virtualenv cluster, with the
emulator's URL and credentials in GC_EMU_URL, GC_EMU_CLIENT_ID and
GC_EMU_SECRET, and the after build installed.  Each build reads through a
database of its own, made while it was the installed library: the
extension at the version its commit installs (CMP_BEFORE_VERSION for the
before build; the after build's default) and the foreign tables its own
IMPORT FOREIGN SCHEMA made, as a bench/perf.sh run of that commit has.

A backend loads gc_fdw.so when a session first uses it, so each run copies
the build it measures over the installed library and opens a fresh session.
The builds alternate (A B, then B A, ...), so that whatever else the machine
does in a stretch of time weighs on both; round 0 only fills the emulator's
page cache and is not counted.  Two statements over [LO, HI):

  scan: SELECT count(*) FROM gc.conversations (fetch, inflate, parse;
        nothing converted or stored): gc_fdw's own work;
  load: INSERT INTO t SELECT * FROM gc.conversations into a table like
        bench/perf.sh's (TRUNCATE and CHECKPOINT first, untimed).

For each: the backend's CPU seconds (utime + stime from /proc/self/stat,
read by the backend itself before and after the statement; the system
part and the minor page faults are reported too), wall seconds and VmHWM.  Prints a markdown table of medians; with MARKER, also rewrites
the section of docs/performance.md (BENCH_DOC) between <!-- MARKER:begin -->
and <!-- MARKER:end -->.  CMP_RUNS (default 8 scans, CMP_LOAD_RUNS 6 loads),
CMP_LO and CMP_HI (2024-03-01, 2024-03-21) change what is run.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

from compare_loads import publish

HERE = os.path.dirname(os.path.abspath(__file__))
URL = os.environ["GC_EMU_URL"]
LO = os.environ.get("CMP_LO", "2024-03-01")
HI = os.environ.get("CMP_HI", "2024-03-21")
RUNS = {"scan": int(os.environ.get("CMP_RUNS", "8")),
        "load": int(os.environ.get("CMP_LOAD_RUNS", "6"))}
CLK = os.sysconf("SC_CLK_TCK")
LIBDIR = subprocess.check_output(["pg_config", "--pkglibdir"], text=True).strip()
# the columns of bench/perf.py's tables
COLUMNS = """conversation_id uuid PRIMARY KEY, conversation_start timestamptz,
  conversation_end timestamptz, originating_direction text, division_ids uuid[],
  media_stats_min_conversation_mos float8, media_stats_min_conversation_r_factor float8,
  conversation_initiator text, customer_participation boolean, external_tag text,
  self_served boolean, raw jsonb COMPRESSION lz4"""
RANGE = "conversation_start >= '%s' AND conversation_start < '%s'" % (LO, HI)
STATEMENTS = {"scan": "SELECT count(*) FROM gc.conversations WHERE " + RANGE,
              "load": "INSERT INTO t SELECT * FROM gc.conversations WHERE " + RANGE +
                      ";\nSELECT count(*) FROM t"}


def log(msg):
    print("== compare_builds: " + msg, file=sys.stderr, flush=True)


def emu(path, payload=None):
    req = urllib.request.Request(URL + path,
                                 data=None if payload is None else json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"null")


def psql(sql, db="postgres"):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                           "-d", db], input=sql, text=True, capture_output=True,
                          check=True).stdout


def stat_fields(stat):
    """User and system CPU seconds and minor page faults from /proc/<pid>/stat."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK, int(fields[12]) / CLK, int(fields[7])


def use(build):
    """Make build the library the next session loads (a new file: sessions
    still running keep theirs)."""
    tmp = os.path.join(LIBDIR, ".gc_fdw.so.compare")
    shutil.copy(build, tmp)
    os.rename(tmp, os.path.join(LIBDIR, "gc_fdw.so"))


def run_once(mode, db):
    if mode == "load":
        psql("TRUNCATE t; CHECKPOINT;", db)
    emu("/__emu/reset", {})
    t0 = time.monotonic()
    out = psql("SELECT pg_read_file('/proc/self/stat');\n%s;\n"
               "SELECT pg_read_file('/proc/self/stat');\n"
               "SELECT substring(pg_read_file('/proc/self/status') from 'VmHWM:\\s+(\\d+)');\n"
               % STATEMENTS[mode], db)
    wall = time.monotonic() - t0
    lines = [line for line in out.split("\n") if line.strip()]
    misses = emu("/__emu/stats").get("cache_misses")
    (u0, s0, f0), (u1, s1, f1) = stat_fields(lines[0]), stat_fields(lines[2])
    return {"cpu": (u1 - u0) + (s1 - s0), "user": u1 - u0, "sys": s1 - s0,
            "minflt": f1 - f0, "rows": int(lines[1]), "wall": wall,
            "vmhwm_kb": int(lines[3]), "cache_misses": misses}


def measure(builds, mode):
    runs = {b: [] for b in builds}
    order = list(builds)
    for i in range(RUNS[mode] + 1):
        for b in (order if i % 2 == 0 else order[::-1]):
            use(b)
            r = run_once(mode, builds[b])
            log("%s round %d %s: %d rows, %.2f s CPU (%.2f user, %.2f system), %.2f s wall,"
                " %d minor faults, VmHWM %d kB, %s pages not pre-rendered"
                % (mode, i, os.path.basename(b), r["rows"], r["cpu"], r["user"], r["sys"],
                   r["wall"], r["minflt"], r["vmhwm_kb"], r["cache_misses"]))
            if i > 0:
                runs[b].append(r)
    return runs


def summary(rs):
    med = lambda k: statistics.median(r[k] for r in rs)
    return {"runs": len(rs), "rows": rs[0]["rows"], "cpu": med("cpu"),
            "cpu_min": min(r["cpu"] for r in rs), "cpu_max": max(r["cpu"] for r in rs),
            "wall": med("wall"), "rows_per_s": rs[0]["rows"] / med("wall"),
            "sys": med("sys"), "minflt": med("minflt"),
            "vmhwm_mib": med("vmhwm_kb") / 1024.0}


def main():
    before, after, before_label, after_label = sys.argv[1:5]
    marker = sys.argv[5] if len(sys.argv) > 5 else None
    databases(before, after, os.environ.get("CMP_BEFORE_VERSION"), "cmp")
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "range": [LO, HI],
              "labels": [before_label, after_label], "modes": {}}
    for mode in ("scan", "load"):
        if RUNS[mode] > 0:
            runs = measure({before: "cmp_before", after: "cmp_after"}, mode)
            result["modes"][mode] = {"before": summary(runs[before]),
                                     "after": summary(runs[after]),
                                     "raw": {"before": runs[before], "after": runs[after]}}
    use(after)
    report(result, before_label, after_label, marker)


def databases(before, after, before_version, prefix):
    """Each build reads through a database of its own, PREFIX_before and
    PREFIX_after: the extension at the version its commit installs (the
    after build's default), and the foreign tables its own IMPORT made."""
    for b, db, version in ((before, prefix + "_before", before_version),
                           (after, prefix + "_after", None)):
        use(b)
        psql("CREATE DATABASE %s;" % db)
        setup(db, version)


def setup(db, version):
    psql("""\\getenv url GC_EMU_URL
\\getenv client GC_EMU_CLIENT_ID
\\getenv secret GC_EMU_SECRET
CREATE EXTENSION gc_fdw%s;
CREATE SERVER bench FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url :'url', login_url :'url');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench
  OPTIONS (client_id :'client', client_secret :'secret');
CREATE SCHEMA gc;
IMPORT FOREIGN SCHEMA genesys FROM SERVER bench INTO gc;
CREATE TABLE t (%s);
""" % (" VERSION '%s'" % version if version else "", COLUMNS), db)


def report(result, before_label, after_label, marker):
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "compare_builds.json"), "w") as f:
        json.dump(result, f, indent=1)

    L = ["| statement | conversations | runs | %s backend CPU s (min-max) | %s backend CPU s"
         " (min-max) | after / before CPU | rows/s (before, after) | after / before rows/s |"
         " minor page faults (before, after) | VmHWM MiB (before, after) |"
         % (before_label, after_label),
         "|---|---|---|---|---|---|---|---|---|---|"]
    for mode, m in result["modes"].items():
        b, a = m["before"], m["after"]
        L.append("| %s | %d | %d | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) | %.3f | %.0f, %.0f | %.3f |"
                 " %.0f, %.0f | %.1f, %.1f |"
                 % ("`SELECT count(*)` (scan only)" if mode == "scan" else "`INSERT ... SELECT`",
                    b["rows"], b["runs"], b["cpu"], b["cpu_min"], b["cpu_max"], a["cpu"],
                    a["cpu_min"], a["cpu_max"], a["cpu"] / b["cpu"], b["rows_per_s"],
                    a["rows_per_s"], a["rows_per_s"] / b["rows_per_s"], b["minflt"],
                    a["minflt"], b["vmhwm_mib"],
                    a["vmhwm_mib"]))
    L += ["", "Medians; builds alternating run after run in one cluster and one session of "
          "the emulator, %s; range %s..%s." % (result["date"], LO, HI)]
    publish(L, marker)


if __name__ == "__main__":
    main()
