"""Long ranges in mode 'auto': jobs up to the date their data is complete,
the details query after it.

Jobs read the data lake, which lags: a range reaching past the jobs API's
dataAvailabilityDate would miss the newest conversations (the emulator keeps
them, so this test watches for the warning and the requests instead).  In
mode 'auto' the part before that date goes through jobs, when it is worth a
job's wait, and the rest through the details query: every conversation
once, no warning.
"""
import time
import unittest

import gcfdw

# The last 40 days of the dataset, whose newest conversations start on
# 2024-03-21; the jobs API has everything before 2024-03-21 complete.
LO, HI = "2024-02-11", "2024-03-22"
AVAILABLE = "2024-03-21T00:00:00.000Z"

SETUP_SQL = """
CREATE SERVER long_auto FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', mode 'auto', jobs_poll_interval '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER long_auto
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE FOREIGN TABLE long_conv (conversation_id uuid, conversation_start timestamptz)
  SERVER long_auto OPTIONS (resource 'conversations');
"""


def setUpModule():
    gcfdw.setup_database()
    gcfdw.psql(SETUP_SQL)


def truth_ids(lo, hi):
    lo, hi = lo + "T00:00:00.000Z", hi + "T00:00:00.000Z"
    return sorted(c["conversationId"] for c in gcfdw.emu("/__emu/dataset/conversations")
                  if lo <= c["conversationStart"] < hi)


class LastFortyDays(unittest.TestCase):
    def setUp(self):
        gcfdw.emu_reset()
        gcfdw.emu_settings({"availability_date": AVAILABLE, "job_polls": 1})

    def test_last_forty_days_in_auto_mode_are_exact_with_no_warning(self):
        started = time.monotonic()
        proc = gcfdw.psql("SELECT conversation_id FROM long_conv WHERE conversation_start >= '%s' "
                          "AND conversation_start < '%s';" % (LO, HI))
        wall = time.monotonic() - started
        ids = proc.stdout.split()
        self.assertEqual(len(ids), len(set(ids)), "a conversation came twice")
        self.assertEqual(sorted(ids), truth_ids(LO, HI))
        self.assertNotIn("WARNING", proc.stderr)
        log = gcfdw.emu_log()
        jobs = [e for e in log if e["method"] == "POST" and e["path"].endswith("/details/jobs")]
        queries = [e for e in log if e["path"].endswith("/details/query")]
        # jobs (windows of at most 31 days) cover [LO, AVAILABLE) exactly
        intervals = [j["body"]["interval"].split("/") for j in jobs]
        self.assertEqual(intervals[0][0], "2024-02-11T00:00:00.000Z")
        self.assertEqual(intervals[-1][1], AVAILABLE)
        self.assertTrue(all(a[1] == b[0] for a, b in zip(intervals, intervals[1:])), intervals)
        self.assertTrue(queries, "the day after the availability date was not read by the query")
        self.assertTrue(all(q["body"]["interval"].startswith(AVAILABLE) for q in queries),
                        [q["body"]["interval"] for q in queries])
        print("\n    last 40 days, auto: %d conversations, %d API requests (%d jobs, %d query "
              "pages), %.1f s" % (len(ids), len([e for e in log if "/api/" in e["path"]]),
                                  len(jobs), len(queries), wall), end="")

    def test_explain_analyze_names_the_two_legs(self):
        out = gcfdw.psql("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM "
                         "long_conv WHERE conversation_start >= '%s' AND conversation_start < "
                         "'%s';" % (LO, HI)).stdout
        self.assertIn("Genesys Mode: auto: jobs for 2024-02-11T00:00:00.000Z/" + AVAILABLE, out)
        self.assertIn("Data Available Until: " + AVAILABLE, out)
        # each leg's page size and windows, not the second leg's for both
        self.assertIn("Page Size: 1000, then 100", out)
        self.assertRegex(out, r"Interval Windows: 2 of up to 31 days, then 1 of up to 7 days")


if __name__ == "__main__":
    unittest.main()
