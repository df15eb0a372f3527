"""Exact under live data: conversations that arrive while a window is paged
(late arrivals), and async job results that pass the per-job cap.

Live data inserts rows before the page being read: later pages shift (a
row repeats), totalHits grows, and a paging that just goes on never sees
the new rows.  gc_fdw reads such a window again, against what it already
returned, until a pass is stable; these tests compare every scan with the
emulator's truth (/__emu/dataset/conversations, which holds the arrivals)
and count the requests the re-reads cost.
"""
import hashlib
import unittest

import gcfdw

DAY_LO, DAY_HI = "2024-03-02", "2024-03-03"  # 41 conversations
LO, HI = "2024-03-02", "2024-03-04"          # 41 + 28 conversations

SETUP_SQL = """
CREATE FOREIGN TABLE live_conv10 (conversation_id uuid, conversation_start timestamptz)
  SERVER emu OPTIONS (resource 'conversations', page_size '10');
CREATE FOREIGN TABLE live_conv10_seq (conversation_id uuid, conversation_start timestamptz)
  SERVER emu OPTIONS (resource 'conversations', page_size '10', concurrency '1');
CREATE SERVER live_jobs FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', mode 'jobs', jobs_poll_interval '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER live_jobs
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE FOREIGN TABLE live_jobs_conv (conversation_id uuid, conversation_start timestamptz)
  SERVER live_jobs OPTIONS (resource 'conversations');
"""


def setUpModule():
    gcfdw.setup_database()
    gcfdw.psql(SETUP_SQL)


def exact_sql(table, lo, hi, order=""):
    return ("SET TimeZone = 'UTC'; SELECT count(*), count(DISTINCT conversation_id), "
            "md5(coalesce(string_agg(DISTINCT conversation_id::text, ',' "
            "ORDER BY conversation_id::text), '')) FROM (SELECT conversation_id FROM %s "
            "WHERE conversation_start >= '%s' AND conversation_start < '%s' %s) s;"
            % (table, lo, hi, order))


def truth(lo, hi):
    """count|distinct|md5 of the conversations the emulator holds now."""
    lo, hi = lo + "T00:00:00.000Z", hi + "T00:00:00.000Z"
    ids = sorted(c["conversationId"] for c in gcfdw.emu("/__emu/dataset/conversations")
                 if lo <= c["conversationStart"] < hi)
    return "%d|%d|%s" % (len(ids), len(ids), hashlib.md5(",".join(ids).encode()).hexdigest())


def details_requests():
    return len([e for e in gcfdw.emu_log() if e["path"].endswith("/details/query")])


def error_of(proc):
    """(sqlstate, message) of a failed psql run with VERBOSITY verbose."""
    for line in proc.stderr.splitlines():
        if line.startswith("ERROR:  "):
            code, _, message = line[len("ERROR:  "):].partition(": ")
            return code, message
    return None, None


class LateArrivals(unittest.TestCase):
    def setUp(self):
        gcfdw.emu_reset()

    def added(self):
        return [cid for rule in gcfdw.emu("/__emu/faults") for cid in rule.get("added", [])]

    def test_arrivals_after_the_first_page_are_read_exactly_once(self):
        """Three conversations appear at the start of the window once its
        first page has been answered: the pages after it shift, totalHits
        grows, and the window is read again.  Every conversation, the
        arrivals included, comes back exactly once; at concurrency 1 and at
        the default 8."""
        for table in ("live_conv10_seq", "live_conv10"):
            with self.subTest(table=table):
                gcfdw.emu_reset()
                before = truth(DAY_LO, DAY_HI)
                gcfdw.psql(exact_sql(table, DAY_LO, DAY_HI))
                quiet = details_requests()
                gcfdw.emu_reset()
                gcfdw.emu_fault({"endpoint": "details", "kind": "late_arrivals",
                                 "page": 1, "add": 3})
                got = gcfdw.psql(exact_sql(table, DAY_LO, DAY_HI)).stdout.strip()
                added = self.added()
                after = truth(DAY_LO, DAY_HI)
                self.assertEqual(len(added), 3, "the fault did not fire")
                self.assertNotEqual(before, after)
                self.assertEqual(got, after, "FDW BUG: the conversations that arrived while "
                                 "the window was paged were lost or returned twice")
                live = details_requests()
                print("\n    %s: %d details requests without arrivals, %d with 3 arrivals"
                      % (table, quiet, live), end="")
                # one read again: at most the window's pages once more
                self.assertLessEqual(live, 2 * quiet + 2)

    def test_explain_analyze_counts_the_window_read_again(self):
        gcfdw.emu_fault({"endpoint": "details", "kind": "late_arrivals", "page": 1, "add": 2})
        out = gcfdw.psql("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                         "SELECT * FROM live_conv10_seq WHERE conversation_start >= '%s' "
                         "AND conversation_start < '%s';" % (DAY_LO, DAY_HI)).stdout
        self.assertIn("Windows Read Again: 1", out)

    def test_a_window_that_never_settles_is_an_error_naming_it(self):
        """Arrivals on every page of every read: no pass is ever stable,
        and after five reads the scan says so instead of returning a
        result that could miss rows."""
        gcfdw.emu_fault({"endpoint": "details", "kind": "late_arrivals", "count": 0})
        proc = gcfdw.psql("\\set VERBOSITY verbose\n" + exact_sql("live_conv10", DAY_LO, DAY_HI),
                          check=False)
        code, message = error_of(proc)
        self.assertEqual(code, "HV000", proc.stderr)
        self.assertEqual(message, "the conversations of 2024-03-02T00:00:00.000Z/"
                         "2024-03-03T00:00:00.000Z kept changing while foreign table "
                         "\"live_conv10\" read them")

    def test_an_ordered_scan_whose_window_moved_is_an_error(self):
        """Reading the window again would return the arrivals out of order:
        an ordered scan ends with an error rather than a wrong order."""
        gcfdw.emu_fault({"endpoint": "details", "kind": "late_arrivals", "page": 1, "add": 1})
        proc = gcfdw.psql("\\set VERBOSITY verbose\nSET TimeZone = 'UTC';\n"
                          "SELECT conversation_id FROM live_conv10 WHERE conversation_start "
                          ">= '%s' AND conversation_start < '%s' ORDER BY conversation_start;"
                          % (DAY_LO, DAY_HI), check=False)
        code, message = error_of(proc)
        self.assertEqual(code, "HV000", proc.stderr)
        self.assertIn("changed while an ordered scan", message)


class JobsResultsCap(unittest.TestCase):
    def setUp(self):
        gcfdw.emu_reset()
        gcfdw.emu_settings({"job_polls": 0})

    def test_results_past_the_cap_split_the_window_and_stay_exact(self):
        """45 results per job at most: the two days' job (69 rows) is
        refused on the results page past the 45th; the job is deleted and
        its window split, and each day's job fits.  Exact rows."""
        gcfdw.emu_settings({"job_results_cap": 45})
        got = gcfdw.psql(exact_sql("live_jobs_conv", LO, HI)).stdout.strip()
        self.assertEqual(got, truth(LO, HI))
        log = gcfdw.emu_log()
        refused = [e for e in log if "/results" in e["path"] and e["status"] == 400]
        deleted = [e for e in log if e["method"] == "DELETE"]
        self.assertEqual(len(refused), 1, log)
        self.assertEqual(len(deleted), 1, log)

    def test_a_day_past_the_cap_names_the_limit_hit(self):
        gcfdw.emu_settings({"job_results_cap": 30})
        proc = gcfdw.psql("\\set VERBOSITY verbose\n" +
                          exact_sql("live_jobs_conv", DAY_LO, DAY_HI), check=False)
        code, message = error_of(proc)
        self.assertEqual(code, "HV000", proc.stderr)
        self.assertIn("cannot page through the conversations of 2024-03-02", message)
        self.assertIn("may not exceed 30 results", proc.stderr)


if __name__ == "__main__":
    unittest.main()
