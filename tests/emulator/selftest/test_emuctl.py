"""tests/emuctl.py: every subcommand's output.
"""

import csv
import io
import json
import subprocess
import sys

import support
from support import EMUCTL, get_token, ctl, emuctl, Base

setUpModule = support.start_emulator
tearDownModule = support.stop_emulator


class TestEmuctl(Base):
    def test_commands(self):
        self.assertEqual(emuctl("fault", '{"endpoint":"users","status":500}')[1], "ok\n")
        self.assertEqual(self.api("GET", "/api/v2/users")[0], 500)
        self.assertEqual(emuctl("settings", '{"max_results": 50}')[1], "ok\n")
        self.assertEqual(ctl("GET", "/__emu/settings")["max_results"], 50)
        out = emuctl("log-summary")[1]
        self.assertEqual(out, "GET /api/v2/users 500 status\n")
        log = json.loads(emuctl("log-json")[1])
        e = log[0]
        for k in ("seq", "time", "end_time", "method", "path", "query", "body", "status",
                  "client_id", "token_seq", "fault", "accept_encoding", "user_agent"):
            self.assertIn(k, e)
        self.assertEqual(emuctl("log-count")[1], "1\n")
        self.assertEqual(emuctl("reset")[1], "ok\n")
        self.assertEqual(emuctl("log-count")[1], "0\n")
        self.assertEqual(ctl("GET", "/__emu/settings")["max_results"], 100000)
        emuctl("reset", "--tokens")
        type(self).token = get_token()

    def test_faults_and_clear_faults(self):
        emuctl("fault", '[{"endpoint": "users", "kind": "stall", "seconds": 1}, {"status": 503}]')
        self.assertEqual(self.api("GET", "/api/v2/analytics/conversations/x/details")[0], 503)
        self.assertEqual(emuctl("faults")[1], "stall users fired=0 spent=no\n"
                                              "status any fired=1 spent=yes\n")
        self.assertEqual(emuctl("clear-faults")[1], "ok\n")
        self.assertEqual(emuctl("faults")[1], "")
        self.assertEqual(len(ctl("GET", "/__emu/log")), 1)     # the log stays

    def test_csv(self):
        rows = list(csv.DictReader(io.StringIO(emuctl("csv", "users")[1])))
        self.assertEqual(len(rows), 600)
        self.assertEqual(list(rows[0]), ["id", "name", "email", "username", "state", "title",
                                         "department", "division_id", "division_name",
                                         "manager_id", "version", "acd_auto_answer",
                                         "date_last_login"])
        self.assertIn('Robert "Bobby" Tables', {r["name"] for r in rows})
        rows = list(csv.DictReader(io.StringIO(emuctl("csv", "conversations")[1])))
        self.assertEqual(len(rows), len(ctl("GET", "/__emu/dataset/conversations")))
        self.assertTrue(all(r["division_ids"].startswith("{") for r in rows))
        self.assertTrue(any(r["conversation_end"] == "" for r in rows))

    def test_unreachable(self):
        p = subprocess.run([sys.executable, EMUCTL, "--url", "http://127.0.0.1:9", "log-count"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot reach the emulator", p.stderr)
