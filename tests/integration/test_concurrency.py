"""16 backends scanning at once for 30 s (pgbench; GC_CONCURRENCY_SECONDS) against the emulator
with faults firing at random: 429s, 503s, revoked tokens, truncated
transfers.  Every scan checks its own rows against the emulator's truth and
raises on any difference, so a wrong row fails a transaction; pgbench must
finish with no failed or aborted client, and the server must stay up."""
import collections
import os
import re
import subprocess
import tempfile
import unittest

import gcfdw

CLIENTS = 16
SECONDS = int(os.environ.get("GC_CONCURRENCY_SECONDS", "30"))

SETUP = """
DROP TABLE IF EXISTS truth;
CREATE TABLE truth (day int PRIMARY KEY, n bigint);
CREATE OR REPLACE FUNCTION gc_check(d int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  lo timestamptz := '2024-03-01 00:00+00'::timestamptz + (d - 1) * interval '1 day';
  n bigint;
  nd bigint;
  want bigint;
BEGIN
  SELECT count(*), count(DISTINCT conversation_id) INTO n, nd FROM conversations
   WHERE conversation_start >= lo AND conversation_start < lo + interval '1 day';
  SELECT t.n INTO want FROM truth t WHERE t.day = d;
  IF n <> want OR nd <> want THEN
    RAISE EXCEPTION 'wrong rows for day %: % rows, % distinct, % expected', d, n, nd, want;
  END IF;
END $$;
CREATE OR REPLACE FUNCTION gc_check_users() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  SELECT count(DISTINCT id) INTO n FROM users WHERE state = 'inactive';
  IF n <> %(inactive)d THEN
    RAISE EXCEPTION 'wrong users: % inactive, %(inactive)d expected', n;
  END IF;
END $$;
"""

SCRIPT = """\\set day random(1, 21)
\\set kind random(1, 5)
SELECT CASE WHEN :kind = 1 THEN gc_check_users()::text ELSE gc_check(:day)::text END;
"""

FAULTS = [
    {"endpoint": "details", "status": 429, "retry_after": "1", "count": 0, "probability": 0.05},
    {"endpoint": "users", "status": 429, "retry_after": "1", "count": 0, "probability": 0.05},
    {"endpoint": "api", "status": 503, "count": 0, "probability": 0.03},
    {"endpoint": "api", "status": 502, "body": "html", "count": 0, "probability": 0.02},
    {"endpoint": "details", "kind": "truncate", "count": 0, "probability": 0.02},
    {"endpoint": "api", "kind": "revoke", "count": 0, "probability": 0.001},
]


def setUpModule():
    gcfdw.setup_database()


class Concurrency(unittest.TestCase):
    def tearDown(self):
        gcfdw.emu_reset()

    def test_16_backends_at_once_under_random_faults(self):
        gcfdw.emu_reset()
        per_day = collections.Counter(
            int(c["conversationStart"][8:10]) for c in gcfdw.emu("/__emu/dataset/conversations"))
        inactive = sum(1 for u in gcfdw.emu("/__emu/dataset/users") if u["state"] == "inactive")
        gcfdw.psql(SETUP.replace("%(inactive)d", str(inactive)) +
                   "INSERT INTO truth VALUES %s;" % ", ".join(
                       "(%d, %d)" % (d, n) for d, n in sorted(per_day.items())) +
                   "ALTER SERVER emu OPTIONS (SET max_retries '8');")
        gcfdw.emu_settings({"fault_seed": 7})
        gcfdw.emu_fault(FAULTS)
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
            f.write(SCRIPT)
            script = f.name
        try:
            proc = subprocess.run(
                ["/usr/lib/postgresql/15/bin/pgbench", "-n", "-c", str(CLIENTS), "-j", "4",
                 "-T", str(SECONDS), "-f", script, gcfdw.DB],
                capture_output=True, text=True, timeout=SECONDS + 240)
        finally:
            os.unlink(script)
            gcfdw.psql("ALTER SERVER emu OPTIONS (SET max_retries '3');")
        out = proc.stdout + proc.stderr
        done = re.search(r"number of transactions actually processed: (\d+)", out)
        failed = re.search(r"number of failed transactions: (\d+)", out)
        log = gcfdw.emu_log()
        faults = collections.Counter(e.get("fault") for e in log if e.get("fault"))
        tokens = sum(1 for e in log if e["path"] == "/oauth/token")
        print("\n    %d clients, %d s: %s transactions, %s failed; %d requests, faults fired %s,"
              " %d token requests" % (CLIENTS, SECONDS, done and done.group(1),
                                      failed and failed.group(1), len(log), dict(faults), tokens))
        self.assertEqual(proc.returncode, 0, out[-3000:])
        self.assertNotIn("aborted in command", out, out[-3000:])
        self.assertTrue(done and int(done.group(1)) > CLIENTS, out[-3000:])
        if failed:
            self.assertEqual(failed.group(1), "0", out[-3000:])
        self.assertGreater(sum(faults.values()), 0, "no fault fired")
        # each backend keeps its own token cache: more than one token overall,
        # far fewer than one per transaction
        self.assertGreaterEqual(tokens, CLIENTS)
        self.assertLess(tokens, int(done.group(1)))
        # the server survived
        self.assertEqual(gcfdw.psql("SELECT 1;").stdout.strip(), "1")


if __name__ == "__main__":
    unittest.main()
