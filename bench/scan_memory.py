#!/usr/bin/env python3
"""Peak backend memory and throughput of gc_fdw scans as results grow.

Run by bench/run.sh inside a pg_virtualenv cluster with a scaled emulator
(GC_EMU_URL).  For each range it opens a fresh session, reads the backend's
VmHWM (peak resident set) from /proc before and after the scan, and prints
rows, seconds, rows/s and the peak growth.  Flat memory means the growth
does not rise with the row count.
"""
import os
import subprocess
import sys
import time

SETUP = """
\\getenv emu_url GC_EMU_URL
CREATE EXTENSION IF NOT EXISTS gc_fdw;
DROP SERVER IF EXISTS bench CASCADE;
CREATE SERVER bench FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url :'emu_url', login_url :'emu_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench
  OPTIONS (client_id 'demo-client', client_secret 'demo-secret-PLUGH');
CREATE FOREIGN TABLE bench_conversations (conversation_id uuid, conversation_start timestamptz,
  conversation_end timestamptz, division_ids uuid[], raw jsonb)
  SERVER bench OPTIONS (resource 'conversations');
"""

RANGES = [("1 day", "2024-03-01", "2024-03-02"),
          ("7 days", "2024-03-01", "2024-03-08"),
          ("21 days", "2024-03-01", "2024-03-22")]


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], input=SETUP, text=True, check=True)
    print("| range | rows | wall s | rows/s | backend CPU s | backend CPU us/row | peak RSS growth (KiB) |")
    print("|---|---|---|---|---|---|---|")
    for label, lo, hi in RANGES:
        proc = subprocess.Popen(["psql", "-X", "-q", "-A", "-t"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, bufsize=1)
        proc.stdin.write("SELECT pg_backend_pid();\n")
        proc.stdin.flush()
        pid = int(proc.stdout.readline())
        # warm the session (token, catalog caches) with a tiny scan first
        proc.stdin.write("SELECT count(*) FROM bench_conversations WHERE conversation_start >= '2024-03-01' "
                         "AND conversation_start < '2024-03-01 00:10';\n")
        proc.stdin.flush()
        proc.stdout.readline()
        before = vm_hwm_kb(pid)
        cpu_before = cpu_seconds(pid)
        start = time.monotonic()
        # raw forces every row's whole object through jsonb conversion
        proc.stdin.write("SELECT count(*), sum(length(raw::text)) FROM bench_conversations "
                         "WHERE conversation_start >= '%s' AND conversation_start < '%s';\n" % (lo, hi))
        proc.stdin.flush()
        rows = int(proc.stdout.readline().split("|")[0])
        elapsed = time.monotonic() - start
        after = vm_hwm_kb(pid)
        cpu = cpu_seconds(pid) - cpu_before
        proc.stdin.close()
        proc.wait()
        print("| %s | %d | %.2f | %.0f | %.2f | %.0f | %d |" % (label, rows, elapsed, rows / elapsed, cpu,
                                                         cpu * 1e6 / rows, after - before))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
