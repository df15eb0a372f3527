#!/usr/bin/env python3
"""Memory of one backend across 1,000 repeated scans (and their errors).

Run by bench/run.sh inside a pg_virtualenv cluster with the emulator
(GC_EMU_URL).  One psql session runs 1,000 rounds; each round is one scan,
cycling through a day of conversations, that day's segments (child rows), a
users lookup by id, and a scan that fails on a conversion error.  Every 100
rounds the backend reports its own VmRSS (from /proc/self/status, read with
pg_read_file as superuser).  Flat memory means the RSS stops growing once
caches are warm.
"""
import re
import subprocess

SETUP = """
\\getenv emu_url GC_EMU_URL
CREATE EXTENSION IF NOT EXISTS gc_fdw;
DROP SERVER IF EXISTS rep CASCADE;
CREATE SERVER rep FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url :'emu_url', login_url :'emu_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER rep
  OPTIONS (client_id 'demo-client', client_secret 'demo-secret-PLUGH');
DROP SCHEMA IF EXISTS rep CASCADE;
CREATE SCHEMA rep;
IMPORT FOREIGN SCHEMA genesys LIMIT TO (conversations, segments, users) FROM SERVER rep INTO rep;
CREATE FOREIGN TABLE rep.bad (conversation_start timestamptz,
  direction int OPTIONS (key 'originatingDirection')) SERVER rep OPTIONS (resource 'conversations');
"""

ROUNDS = 1000
SCANS = [
    "SELECT count(*), sum(length(raw::text)) FROM rep.conversations"
    " WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06';",
    "SELECT count(*) FROM rep.segments"
    " WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06';",
    "SELECT count(*) FROM rep.users WHERE id IN (SELECT id FROM rep.users WHERE state = 'active' LIMIT 3);",
    "SELECT * FROM rep.bad WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06';",
]
RSS = ("SELECT 'rss', %d, (regexp_match(pg_read_file('/proc/self/status'),"
       " 'VmRSS:\\s+(\\d+)'))[1];")


def main():
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], input=SETUP, text=True,
                   check=True, capture_output=True)
    lines = []
    for i in range(ROUNDS):
        lines.append(SCANS[i % len(SCANS)])
        if (i + 1) % 100 == 0 or i == 0:
            lines.append(RSS % (i + 1))
    proc = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", " "], input="\n".join(lines),
                          text=True, capture_output=True)
    errors = len(re.findall(r"^ERROR:", proc.stderr, re.M))
    samples = [(int(m.group(1)), int(m.group(2)))
               for m in re.finditer(r"^rss (\d+) (\d+)$", proc.stdout, re.M)]
    print("| scans done | backend VmRSS (KiB) |")
    print("|---|---|")
    for n, kb in samples:
        print("| %d | %d |" % (n, kb))
    print()
    print("%d scans in one backend (%d of them failing on purpose); RSS after 100: %d KiB,"
          " after %d: %d KiB (growth %+d KiB)"
          % (ROUNDS, errors, samples[1][1], samples[-1][0], samples[-1][1],
             samples[-1][1] - samples[1][1]))


if __name__ == "__main__":
    main()
