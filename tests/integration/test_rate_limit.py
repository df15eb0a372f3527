"""Pacing from the inin-ratelimit-* headers: against a hard request budget
the emulator enforces, a long scan waits for the window to reset instead of
drawing 429s, and still returns every row exactly once."""
import time
import unittest

import gcfdw

SETUP = """
DROP FOREIGN TABLE IF EXISTS small_pages;
CREATE FOREIGN TABLE small_pages (conversation_id uuid, conversation_start timestamptz)
  SERVER emu OPTIONS (resource 'conversations', page_size '10');
"""
SCAN = ("SELECT count(*), count(DISTINCT conversation_id) FROM small_pages"
        " WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';")


def setUpModule():
    gcfdw.setup_database()
    gcfdw.psql(SETUP)


class RateLimitPacing(unittest.TestCase):
    def setUp(self):
        gcfdw.emu("/__emu/reset", {"tokens": True})

    def tearDown(self):
        gcfdw.emu_reset()

    def test_scan_paces_itself_under_a_hard_budget(self):
        truth = len(gcfdw.emu("/__emu/dataset/conversations"))
        # 30 requests per 3 s window; the scan needs about 85 requests
        gcfdw.emu_settings({"rate_limit": 30, "rate_window": 3})
        t0 = time.monotonic()
        out = gcfdw.psql(SCAN, timeout=120).stdout.strip()
        elapsed = time.monotonic() - t0
        self.assertEqual(out, "%d|%d" % (truth, truth))
        log = gcfdw.emu_log()
        api = [e for e in log if e["path"].startswith("/api/v2/")]
        limited = [e for e in log if e["status"] == 429]
        print("\n    %d API requests in %.1f s against 30 per 3 s: %d answered 429"
              % (len(api), elapsed, len(limited)))
        self.assertGreater(len(api), 60)
        self.assertEqual(limited, [], "the scan drew 429s instead of pacing itself")

    def test_explain_analyze_shows_the_pacing(self):
        gcfdw.emu_settings({"rate_limit": 30, "rate_window": 3})
        out = gcfdw.psql("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + SCAN,
                         timeout=120).stdout
        self.assertRegex(out, r"Rate Limit Pacing Waits: [1-9]")
        self.assertIn("Rate Limit Waits: 0", out)


if __name__ == "__main__":
    unittest.main()
