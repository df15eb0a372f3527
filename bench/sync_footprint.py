#!/usr/bin/python3
"""What the warehouse gc_fdw.sync_conversations builds costs: its footprint
against the JSON it received, and its time against a plain load and against
COPY of the same rows, measured in the same run.

`sync_footprint.py measure DATASET SETTINGS` runs inside a throwaway
pg_virtualenv cluster (PG* set) with the emulator up (GC_EMU_URL); DATASET
is `week` (SYNC_WEEK, default 2024-03-01..2024-03-08) or `month` (SYNC_MONTH,
default the emulator's whole 2024-03-01..2024-03-22), SETTINGS names the
cluster's settings for the report (`default`, `recommended`).  RUNS rounds
(default 3), each in fresh sessions, of:

1. plain: `INSERT INTO plain SELECT * FROM src.conversations WHERE ...`, the
   conversations with raw into a table like the foreign table with its
   primary key, created with the server's defaults;
2. sync: a first `CALL gc_fdw.sync_conversations(...)` of the range into an
   empty schema; the JSON received is the bytes of the details pages it read
   (gc_fdw.stats() of its session), the footprint the total relation size
   of every table it created (heap, TOAST and indexes); then a re-run over
   the same range, which must write nothing;
3. COPY: every table of that warehouse written to a file (untimed), then
   `COPY FROM` each file into an empty table `LIKE ... INCLUDING ALL` (same
   columns, compression and primary key): storing the very same rows the
   fastest way PostgreSQL has.

Every page is rendered into the emulator's cache beforehand, so no run pays
for rendering.  Results merge into bench/results/sync_footprint.json under
the installed gc_fdw's version (so a run on the build before a change and
one after sit side by side); `sync_footprint.py report` rewrites the section
of docs/performance.md between <!-- sync-footprint:begin --> and
<!-- sync-footprint:end --> from that file.

`sync_footprint.py shapes DATASET SETTINGS` makes one first sync of the
range instead, then runs bench/sync_shapes.sql on its warehouse: the same
rows stored in other table shapes (keys, columns, compression of raw), each
one's size, into bench/results/sync_shapes.json, which the report shows as
well.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import perf  # noqa: E402  (emulator, database and /proc helpers)

RUNS = int(os.environ.get("RUNS", "3"))
RANGES = {"week": tuple(os.environ.get("SYNC_WEEK", "2024-03-01,2024-03-08").split(",")),
          "month": tuple(os.environ.get("SYNC_MONTH", "2024-03-01,2024-03-22").split(","))}
RESULTS = os.path.join(perf.RESULTS, "sync_footprint.json")
SHAPES = os.path.join(perf.RESULTS, "sync_shapes.json")
TABLES = ["conversations", "participants", "sessions", "segments", "session_metrics",
          "participant_attributes"]
BEGIN, END = "<!-- sync-footprint:begin -->", "<!-- sync-footprint:end -->"

SETUP = """
CREATE EXTENSION IF NOT EXISTS gc_fdw;
DROP SERVER IF EXISTS fp CASCADE;
CREATE SERVER fp FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url %(url)s, login_url %(url)s);
CREATE USER MAPPING FOR CURRENT_USER SERVER fp
  OPTIONS (client_id %(client)s, client_secret %(secret)s);
DROP SCHEMA IF EXISTS src CASCADE;
CREATE SCHEMA src;
IMPORT FOREIGN SCHEMA genesys LIMIT TO (conversations) FROM SERVER fp INTO src;
"""


def session(stmt_before=None):
    """A fresh session: (connection, cursor, backend pid, its CPU so far)."""
    conn = perf.db()
    cur = conn.cursor()
    if stmt_before:
        cur.execute(stmt_before)
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
    return conn, cur, pid, perf.proc_stat(pid)[1]


def sizes(schema):
    """{table: {heap, toast, indexes, total}} in bytes, for the tables of schema."""
    rows = perf.sql(
        "SELECT c.relname, pg_relation_size(c.oid),"
        " pg_total_relation_size(c.oid) - pg_relation_size(c.oid) - pg_indexes_size(c.oid),"
        " pg_indexes_size(c.oid), pg_total_relation_size(c.oid)"
        " FROM pg_class c WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r'",
        (schema,), fetch=True)
    return {r[0]: {"heap": r[1], "toast": r[2], "indexes": r[3], "total": r[4]} for r in rows}


def timed(cur, stmt, args=None):
    t0 = time.monotonic()
    cur.execute(stmt, args)
    return time.monotonic() - t0


def run_plain(lo, hi):
    perf.sql("DROP TABLE IF EXISTS plain")
    perf.sql("CREATE TABLE plain (LIKE src.conversations, PRIMARY KEY (conversation_id))")
    perf.sql("CHECKPOINT")
    perf.emu_reset()
    conn, cur, pid, cpu0 = session()
    wall = timed(cur, "INSERT INTO plain SELECT * FROM src.conversations"
                 " WHERE conversation_start >= %s AND conversation_start < %s", (lo, hi))
    rows = cur.rowcount
    cpu = perf.proc_stat(pid)[1] - cpu0
    conn.close()
    size = perf.sql("SELECT pg_total_relation_size('plain')", fetch=True)[0][0]
    return {"wall": wall, "backend_cpu": cpu, "rows": rows, "total": size}


def run_sync(lo, hi, days):
    perf.sql("DROP SCHEMA IF EXISTS wh CASCADE")
    perf.sql("DELETE FROM gc_fdw.sync_state")
    perf.sql("DELETE FROM gc_fdw.sync_log")
    perf.sql("CHECKPOINT")
    perf.emu_reset()
    conn, cur, pid, cpu0 = session("SET client_min_messages = warning")
    cur.execute("SELECT gc_fdw.stats_reset()")
    wall = timed(cur, "CALL gc_fdw.sync_conversations('fp', 'wh', start_from => %s, until => %s)",
                 (lo, hi))
    cpu = perf.proc_stat(pid)[1] - cpu0
    cur.execute("SELECT coalesce(sum(bytes), 0), coalesce(sum(requests), 0) FROM gc_fdw.stats()"
                " WHERE endpoint <> 'POST /oauth/token'")
    json_bytes, requests = cur.fetchone()
    conn.close()
    log = perf.sql("SELECT status, rows_read, rows_upserted, child_rows FROM gc_fdw.sync_log"
                   " WHERE entry = 'run' ORDER BY run_id DESC LIMIT 1", fetch=True)[0]
    out = {"wall": wall, "backend_cpu": cpu, "json_bytes": int(json_bytes),
           "requests": int(requests), "status": log[0], "rows": log[1], "written": log[2],
           "child_rows": log[3], "tables": sizes("wh"),
           "rows_per_table": {t: perf.sql("SELECT count(*) FROM wh.%s" % t, fetch=True)[0][0]
                              for t in TABLES}}
    out["total"] = sum(t["total"] for t in out["tables"].values())

    # the same range again: nothing changed, nothing may be written
    perf.emu_reset()
    conn, cur, pid, cpu0 = session("SET client_min_messages = warning")
    rerun = timed(cur, "CALL gc_fdw.sync_conversations('fp', 'wh', until => %s,"
                  " lookback => make_interval(days => %s))", (hi, days))
    conn.close()
    log = perf.sql("SELECT status, rows_read, rows_upserted, child_rows FROM gc_fdw.sync_log"
                   " WHERE entry = 'run' ORDER BY run_id DESC LIMIT 1", fetch=True)[0]
    out["rerun"] = {"wall": rerun, "status": log[0], "rows": log[1], "written": log[2],
                    "child_rows": log[3]}
    return out


def run_copy():
    """COPY of the warehouse's rows into empty tables like its own."""
    files = {}
    perf.sql("DROP SCHEMA IF EXISTS cp CASCADE")
    perf.sql("CREATE SCHEMA cp")
    for t in TABLES:
        files[t] = os.path.join(tempfile.gettempdir(), "gc_fdw-footprint-%d-%s" % (os.getpid(), t))
        perf.sql("COPY wh.%s TO '%s'" % (t, files[t]))
        perf.sql("CREATE TABLE cp.%s (LIKE wh.%s INCLUDING ALL)" % (t, t))
    perf.sql("CHECKPOINT")
    try:
        conn, cur, pid, cpu0 = session()
        wall = sum(timed(cur, "COPY cp.%s FROM '%s'" % (t, files[t])) for t in TABLES)
        cpu = perf.proc_stat(pid)[1] - cpu0
        conn.close()
    finally:
        for f in files.values():
            os.unlink(f)
    out = {"wall": wall, "backend_cpu": cpu, "tables": sizes("cp")}
    out["total"] = sum(t["total"] for t in out["tables"].values())
    perf.sql("DROP SCHEMA cp CASCADE")
    return out


def median_of(runs, *path):
    vals = []
    for r in runs:
        for k in path:
            r = r[k]
        vals.append(r)
    return perf.statistics.median(vals)


def cluster():
    """Set the cluster up for a run (server fp, src.conversations); returns
    what a result records of it: (gc_fdw version, settings, PostgreSQL)."""
    with perf.db() as c, c.cursor() as cur:
        cur.execute(SETUP, {"url": perf.URL, "client": perf.CLIENT, "secret": perf.SECRET})
        cur.execute("SHOW data_directory")
        datadir = cur.fetchone()[0]
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'gc_fdw'")
        version = cur.fetchone()[0]
        cur.execute("SELECT name, current_setting(name) FROM pg_settings WHERE name IN"
                    " ('shared_buffers', 'max_wal_size', 'wal_compression',"
                    " 'default_toast_compression', 'work_mem', 'checkpoint_timeout')")
        server_settings = dict(cur.fetchall())
        cur.execute("SHOW server_version")
        pg_version = cur.fetchone()[0]
    c.close()
    with open(os.path.join(datadir, "postmaster.pid")) as f:
        perf.POSTMASTER = int(f.readline())
    return version, server_settings, pg_version


def measure(dataset, settings):
    lo, hi = RANGES[dataset]
    version, server_settings, pg_version = cluster()
    rng = perf.range_of(perf.day_counts(), lo, hi)
    perf.log("%s (%s..%s, %d conversations in %d windows), settings %s, gc_fdw %s"
             % (dataset, lo, hi, rng["rows"], len(rng["windows"]), settings, version))
    perf.prerender(rng)
    days = rng["days"]
    rounds = []
    for i in range(RUNS):
        r = {"plain": run_plain(lo, hi), "sync": run_sync(lo, hi, days), "copy": run_copy()}
        s, p, c = r["sync"], r["plain"], r["copy"]
        perf.log("round %d/%d: plain %.2f s; sync %.2f s (%d conversations, %s child rows,"
                 " %.1f MB of JSON, warehouse %.1f MB = %.2fx; re-run %.2f s, %s written);"
                 " COPY %.2f s" % (i + 1, RUNS, p["wall"], s["wall"], s["rows"], s["child_rows"],
                                   s["json_bytes"] / 1e6, s["total"] / 1e6,
                                   s["total"] / s["json_bytes"], s["rerun"]["wall"],
                                   s["rerun"]["written"], c["wall"]))
        rounds.append(r)
    perf.sql("DROP SCHEMA IF EXISTS wh CASCADE")
    perf.sql("DROP TABLE IF EXISTS plain")
    summary = {k: median_of(rounds, *k.split(".")) for k in (
        "plain.wall", "plain.backend_cpu", "plain.total", "sync.wall", "sync.backend_cpu",
        "sync.total", "sync.json_bytes", "sync.rerun.wall", "copy.wall", "copy.backend_cpu",
        "copy.total")}
    summary["tables"] = {t: {k: median_of(rounds, "sync", "tables", t, k)
                             for k in ("heap", "toast", "indexes", "total")}
                         for t in rounds[0]["sync"]["tables"]}
    first = rounds[0]["sync"]
    summary.update({"conversations": first["rows"], "child_rows": first["child_rows"],
                    "requests": first["requests"], "rows_per_table": first["rows_per_table"],
                    "rerun_written": max(r["sync"]["rerun"]["written"] for r in rounds)})
    entry = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "range": [lo, hi],
             "windows": len(rng["windows"]), "runs": RUNS, "scale": os.environ.get("SCALE"),
             "settings": server_settings, "postgresql": pg_version, "machine": perf.machine(),
             "rounds": rounds, "summary": summary}
    results = load()
    results.setdefault(version, {}).setdefault(dataset, {})[settings] = entry
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)


def shapes(dataset, settings):
    """A first sync of the range, then bench/sync_shapes.sql on its
    warehouse: the sizes of the same rows in other shapes."""
    lo, hi = RANGES[dataset]
    version, server_settings, pg_version = cluster()
    rng = perf.range_of(perf.day_counts(), lo, hi)
    perf.log("shapes: %s (%s..%s, %d conversations), settings %s, gc_fdw %s"
             % (dataset, lo, hi, rng["rows"], settings, version))
    sync = run_sync(lo, hi, rng["days"])
    subprocess.run(["psql", "-X", "-q", "-v", "wh=wh", "-v", "src=gc_fdw_src_fp",
                    "-f", os.path.join(HERE, "sync_shapes.sql")], check=True,
                   stdout=subprocess.DEVNULL)
    rows = perf.sql("SELECT variant, table_name, heap, toast, indexes, total, seconds::float8"
                    " FROM shapes.result ORDER BY variant, table_name", fetch=True)
    perf.sql("DROP SCHEMA shapes CASCADE")
    perf.sql("DROP SCHEMA wh CASCADE")
    entry = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "range": [lo, hi],
             "conversations": sync["rows"], "json_bytes": sync["json_bytes"],
             "warehouse": sync["tables"], "settings": server_settings, "postgresql": pg_version,
             "variants": [dict(zip(("variant", "table", "heap", "toast", "indexes", "total",
                                    "seconds"), r)) for r in rows]}
    results = load(SHAPES)
    results.setdefault(version, {}).setdefault(dataset, {})[settings] = entry
    with open(SHAPES, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    perf.log("shapes: %d variants measured, in %s" % (len(rows), SHAPES))


def load(path=RESULTS):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return {}


def mb(n):
    return "%.1f" % (n / 1e6)


def shapes_report(a):
    """The newest version's shapes of the week on the default server, if
    measured: each child-table shape, and each way of storing
    conversations.raw, with what the warehouse would total."""
    results = load(SHAPES)
    versions = sorted(results, key=lambda v: [int(x) for x in v.split(".")])
    e = versions and results[versions[-1]].get("week", {}).get("default")
    if not e:
        return
    children = ("participants", "sessions", "segments", "session_metrics")
    by = {}
    for r in e["variants"]:
        by.setdefault(r["variant"], {})[r["table"]] = r
    stored = e["warehouse"]
    conv = stored["conversations"]["total"]
    kept = sum(stored[t]["total"] for t in stored if t not in children and t != "conversations")
    a("**The same rows in other shapes** (`MODE=shapes`, gc_fdw %s, %s): after a first sync"
      " of the week (%d conversations, %s MB of JSON), `bench/sync_shapes.sql` derives every"
      " child table again from the stored `conversations.raw`, in `conversation_id` order with"
      " its index in place, as the sync writes it, in each shape below, and stores"
      " `conversations.raw` again with each type and compression. MB, total relation size;"
      " *warehouse* adds the tables a shape leaves as the sync made them (`conversations` as"
      " stored, jsonb with lz4, %s MB)."
      % (versions[-1], e["date"], e["conversations"], mb(e["json_bytes"]), mb(conv)))
    a("")
    a("| child tables | " + " | ".join(children) + " | indexes | child tables | warehouse |"
      " warehouse / JSON |")
    a("|---|" + "---|" * (len(children) + 4))
    for v in sorted(k for k in by if "conversations" not in by[k]):
        total = sum(by[v][t]["total"] for t in children)
        a("| %s | %s | %s | %s | %s | %.2fx |" % (
            v.split(" ", 1)[1], " | ".join(mb(by[v][t]["total"]) for t in children),
            mb(sum(by[v][t]["indexes"] for t in children)), mb(total),
            mb(total + conv + kept), (total + conv + kept) / e["json_bytes"]))
    a("")
    sync_children = sum(stored[t]["total"] for t in children)
    a("| `conversations.raw` | heap | TOAST | total | seconds to store | warehouse | warehouse / JSON |")
    a("|---|---|---|---|---|---|---|")
    for v in sorted(k for k in by if "conversations" in by[k]):
        c = by[v]["conversations"]
        total = c["total"] + sync_children + kept
        a("| %s | %s | %s | %s | %.2f | %s | %.2fx |" % (
            v.split(" ", 1)[1], mb(c["heap"]), mb(c["toast"]), mb(c["total"]), c["seconds"],
            mb(total), total / e["json_bytes"]))
    a("")


def report():
    results = load()
    versions = sorted(results, key=lambda v: [int(x) for x in v.split(".")])
    L = []
    a = L.append
    any_entry = next((results[v][d][s] for v in versions for d in results[v]
                      for s in results[v][d]), None)
    if any_entry is None:
        return
    m = any_entry["machine"]
    a("_Generated by `bench/sync_footprint.sh` from `bench/results/sync_footprint.json`;"
      " the text between the `sync-footprint:` markers is rewritten on each run._")
    a("")
    a("**Setup.** %s CPUs (%s), %s GiB RAM, PostgreSQL %s. The emulator's details pages"
      " are rendered into its cache before any timed run. Each dataset is one emulator"
      " (`--scale` below), each settings row one throwaway cluster (`pg_virtualenv`);"
      " in each, rounds of: a plain `INSERT INTO plain SELECT * FROM src.conversations"
      " WHERE ...` (the foreign table's twelve columns with `raw`, its primary key, the"
      " server's default compression), a first `CALL gc_fdw.sync_conversations(...)` of the"
      " range into an empty schema, a re-run over the same range, and `COPY FROM` files of"
      " the warehouse's rows into empty tables `LIKE ... INCLUDING ALL` of its tables."
      " Medians of %s rounds, each statement in a fresh session. *JSON* is the bytes of the"
      " details pages the sync received (`gc_fdw.stats()`), *warehouse* the total relation"
      " size (heap, TOAST, indexes) of every table it created. *CPU* is the backend's (from"
      " `/proc`): on a machine shared with other work, wall times wander more than CPU"
      " times." % (m["nproc"], m["cpu"], m["ram_gib"], any_entry["postgresql"],
                    any_entry["runs"]))
    a("")
    a("| dataset | settings | gc_fdw | conversations | child rows | JSON MB | warehouse MB |"
      " warehouse / JSON | sync s (CPU) | plain load s (CPU) | sync / plain, wall (CPU) |"
      " COPY s (CPU) | sync / COPY, wall (CPU) | re-run s (written) |")
    a("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for d in ("week", "month"):
        for s in ("default", "recommended"):
            for v in versions:
                e = results[v].get(d, {}).get(s)
                if not e:
                    continue
                x = e["summary"]
                a("| %s (%s..%s, scale %s) | %s | %s | %d | %d | %s | %s | %.2fx |"
                  " %.2f (%.2f) | %.2f (%.2f) | %.2fx (%.2fx) | %.2f (%.2f) | %.2fx (%.2fx) |"
                  " %.2f (%d) |" % (
                      d, e["range"][0], e["range"][1], e.get("scale") or "?", s, v,
                      x["conversations"], x["child_rows"], mb(x["sync.json_bytes"]),
                      mb(x["sync.total"]), x["sync.total"] / x["sync.json_bytes"],
                      x["sync.wall"], x["sync.backend_cpu"], x["plain.wall"],
                      x["plain.backend_cpu"], x["sync.wall"] / x["plain.wall"],
                      x["sync.backend_cpu"] / x["plain.backend_cpu"], x["copy.wall"],
                      x["copy.backend_cpu"], x["sync.wall"] / x["copy.wall"],
                      x["sync.backend_cpu"] / x["copy.backend_cpu"], x["sync.rerun.wall"],
                      x["rerun_written"]))
    a("")
    a("Where the space goes (MB: heap + TOAST + indexes = total), the week on the default"
      " server:")
    a("")
    a("| table | " + " | ".join("gc_fdw %s" % v for v in versions) + " |")
    a("|---|" + "---|" * len(versions))
    week = {v: results[v].get("week", {}).get("default") for v in versions}
    for t in TABLES:
        cells = []
        for v in versions:
            e = week[v]
            z = e and e["summary"]["tables"].get(t)
            cells.append("%s + %s + %s = **%s**" % (mb(z["heap"]), mb(z["toast"]), mb(z["indexes"]),
                                                   mb(z["total"])) if z else "-")
        a("| %s | %s |" % (t, " | ".join(cells)))
    a("")
    for s in ("default", "recommended"):
        e = next((results[v]["week"][s] for v in versions
                  if results[v].get("week", {}).get(s)), None)
        if e:
            a("Settings `%s`: %s." % (s, ", ".join("`%s = %s`" % kv
                                                   for kv in sorted(e["settings"].items()))))
    a("")
    shapes_report(a)
    a("Reproduce: `bench/sync_footprint.sh` (on a build of each version: `BENCH_TREE=<checkout>`);"
      " `RUNS=N`, `DATASETS=week,month`, `SETTINGS=default,recommended`; the shapes:"
      " `MODE=shapes DATASETS=week SETTINGS=default bench/sync_footprint.sh`.")
    text = "\n".join(L)
    with open(perf.DOC) as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        raise SystemExit("docs/performance.md has no %s ... %s section" % (BEGIN, END))
    pre, rest = doc.split(BEGIN, 1)
    doc = pre + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1]
    with open(perf.DOC, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    if sys.argv[1:2] == ["measure"] and len(sys.argv) == 4:
        measure(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["shapes"] and len(sys.argv) == 4:
        shapes(sys.argv[2], sys.argv[3])
    elif sys.argv[1:] == ["report"]:
        report()
    else:
        raise SystemExit("usage: sync_footprint.py measure|shapes week|month SETTINGS | report")
