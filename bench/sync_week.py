#!/usr/bin/env python3
"""A full sync of one week with gc_fdw.sync_conversations, then an
incremental re-run, and a users sync: wall time, requests, rows per table.

Run by bench/run.sh inside a pg_virtualenv cluster with a scaled emulator
(GC_EMU_URL, credentials demo-client).  Prints markdown tables for
docs/performance.md; the numbers come from gc_fdw.sync_log and the tables
themselves, the times from the client's clock around each CALL.
"""
import subprocess
import time

SETUP = """
\\getenv emu_url GC_EMU_URL
CREATE EXTENSION IF NOT EXISTS gc_fdw;
DROP SERVER IF EXISTS week CASCADE;
DROP SCHEMA IF EXISTS week_wh CASCADE;
DELETE FROM gc_fdw.sync_state; DELETE FROM gc_fdw.sync_log;
CREATE SERVER week FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url :'emu_url', login_url :'emu_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER week
  OPTIONS (client_id 'demo-client', client_secret 'demo-secret-PLUGH');
"""

TABLES = ["conversations", "participants", "sessions", "segments", "session_metrics",
          "participant_attributes", "users"]


def psql(sql):
    proc = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
                          input=sql, text=True, capture_output=True, check=True)
    return proc.stdout.strip()


def timed_call(sql):
    t0 = time.monotonic()
    psql("SET client_min_messages = warning; " + sql)
    return time.monotonic() - t0


def last_run():
    cols = ["procedure", "requests", "pages", "rows_read", "rows_upserted", "rows_unchanged",
            "child_rows"]
    line = psql("SELECT %s FROM gc_fdw.sync_log WHERE entry = 'run' ORDER BY run_id DESC LIMIT 1"
                % ", ".join("coalesce(%s::text, '')" % c for c in cols))
    return dict(zip(cols, line.split("|")))


def main():
    psql(SETUP)
    runs = []
    secs = timed_call("CALL gc_fdw.sync_conversations('week', 'week_wh', "
                      "'2024-03-01', '2024-03-08');")
    runs.append(("full week, first run", secs, last_run()))
    secs = timed_call("CALL gc_fdw.sync_conversations('week', 'week_wh', "
                      "until => '2024-03-08', lookback => '7 days');")
    runs.append(("same week again (nothing changed)", secs, last_run()))
    secs = timed_call("CALL gc_fdw.sync_conversations('week', 'week_wh', "
                      "until => '2024-03-08');")
    runs.append(("incremental run, 2-day lookback", secs, last_run()))
    secs = timed_call("CALL gc_fdw.sync_users('week', 'week_wh');")
    runs.append(("users, all states", secs, last_run()))

    print("| run | wall s | requests | pages | rows read | written | unchanged | child rows written | rows/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, secs, r in runs:
        print("| %s | %.2f | %s | %s | %s | %s | %s | %s | %.0f |" % (
            name, secs, r["requests"], r["pages"], r["rows_read"], r["rows_upserted"],
            r["rows_unchanged"], r["child_rows"] or "-", int(r["rows_read"]) / secs))
    print()
    print("| table | rows |")
    print("|---|---|")
    for t in TABLES:
        print("| %s | %s |" % (t, psql("SELECT count(*) FROM week_wh.%s" % t)))


if __name__ == "__main__":
    main()
