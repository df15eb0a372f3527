"""Hostile answers (issue 14): answers cut short, credentials echoed back,
bodies that inflate without end, a 429 while pages are in flight, a
Retry-After no integer holds, and redirects.

Each case states the behaviour gc_fdw promises (docs/reliability.md's fault
matrix, docs/security.md) and fails on the code before it: an empty or
short 200 failed the statement at once, an echoed credential was printed as
sent, a compressed body could take 512 MB per page in flight, pages went
out during another page's Retry-After, "99999999999999999999" counted as no
Retry-After at all, and a redirect was "HTTP status 302" with nothing else.

The cases run in sessions as the fault matrix does (the next query in the
same session must work), with its helpers and its foreign tables.
"""
import base64
import os
import re
import subprocess
import unittest

import gcfdw
from test_fault_matrix import SETUP_SQL as MATRIX_SQL
from test_fault_matrix import EMUCTL, exact_sql, session, truth_ids, truth_row

SECRET = os.environ["GC_EMU_SECRET"]
CLIENT = os.environ["GC_EMU_CLIENT_ID"]
BASIC = base64.b64encode(("%s:%s" % (CLIENT, SECRET)).encode()).decode().rstrip("=")
# a bearer token as the emulator issues them (secrets.token_urlsafe(32))
TOKEN_AFTER_BEARER = re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{8,}")

LO, HI = "2024-03-02", "2024-03-04"          # 69 conversations
DAY_LO, DAY_HI = "2024-03-02", "2024-03-03"  # 41 conversations
WIDE_HI = "2024-03-06"                       # 2024-03-02 .. 05: 141 conversations
DETAILS = "/api/v2/analytics/conversations/details/query"

# the fault matrix's tables (fm_conv10: pages of 10, fm_conv10_seq: one at
# a time, fm_users, fm_fast_conv: max_retries 1), and
SETUP_SQL = MATRIX_SQL + """
-- five-row pages, four at a time: the 429 hold-back case
CREATE FOREIGN TABLE ha_conv5_c4 (conversation_id uuid, conversation_start timestamptz)
  SERVER emu OPTIONS (resource 'conversations', page_size '5', concurrency '4');
-- analytics jobs polled every second: a job's results cut short
CREATE SERVER tf_jobs FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', mode 'jobs', jobs_poll_interval '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER tf_jobs
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE FOREIGN TABLE tf_jobs_conv (conversation_id uuid, conversation_start timestamptz)
  SERVER tf_jobs OPTIONS (resource 'conversations');
"""

HWM_SQL = ("SELECT 'hwm=' || substring(pg_read_file('/proc/self/status') "
           "from 'VmHWM:\\s+(\\d+)');")
BUDGET_MB = 32
BOMB_BYTES = 96 * 1024 * 1024     # inflated size of each bombed page


def setUpModule():
    gcfdw.setup_database()
    gcfdw.psql(SETUP_SQL)


def fault(rule):
    """A session statement that adds a fault rule (JSON text)."""
    return "\\! python3 %s fault '%s'" % (EMUCTL, rule)


def details_log():
    return [e for e in gcfdw.emu_log() if e["path"] == DETAILS]


def server_log_path():
    """The test cluster's server log (pg_virtualenv's cluster "regress")."""
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 7 and cols[1] == "regress":
            return cols[-1]
    raise AssertionError("the test cluster's server log was not found (pg_lsclusters)")


def hwm_kb(result):
    m = re.search(r"hwm=(\d+)", result.text)
    assert m, result
    return int(m.group(1))


class HostileAnswers(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        gcfdw.emu_reset()

    def tearDown(self):
        gcfdw.emu_reset()

    def assert_exact(self, result, expected, what="the query"):
        self.assertIsNone(result.sqlstate, "%s failed: %r" % (what, result))
        self.assertEqual(result.text, expected, "%s returned wrong rows" % what)

    def assert_error(self, result, sqlstate, message_start):
        self.assertIsNotNone(result.sqlstate, "expected an error, got rows: %r" % result)
        self.assertEqual((result.sqlstate, result.message[:len(message_start)]),
                         (sqlstate, message_start), repr(result))

    def assert_no_credential(self, text, where):
        self.assertNotIn(SECRET, text, "the client secret in " + where)
        self.assertNotIn(BASIC, text, "the Basic credential in " + where)
        self.assertIsNone(TOKEN_AFTER_BEARER.search(text), "a bearer token in " + where)

    # -- 200 answers cut short ---------------------------------------------

    def test_short_200_once_costs_one_retry_and_rows_are_exact(self):
        """Page 2 answered 200 with half its JSON (Content-Length right, the
        document cut): the page is asked again, the rows are exact, and the
        retry shows in gc_fdw.stats() and EXPLAIN ANALYZE.  That half ends
        just after an inner '}': a look at the last byte alone would take it
        for a whole page."""
        short = '{"endpoint": "details", "kind": "short_200", "page": 2}'
        res = session(
            "SELECT gc_fdw.stats_reset();",
            fault(short),
            exact_sql("fm_conv10_seq", LO, HI),
            "SELECT 'retries=' || retries FROM gc_fdw.stats() WHERE endpoint = 'POST %s';"
            % DETAILS,
            fault(short),
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM fm_conv10_seq "
            "WHERE conversation_start >= '%s' AND conversation_start < '%s';" % (LO, HI))
        self.assert_exact(res[2], truth_row(LO, HI), "the scan with one short page")
        self.assertIn("retries=1", res[3].text)
        self.assertIsNone(res[5].sqlstate, repr(res[5]))
        self.assertRegex(res[5].text, r"Retries: 1\b")
        log = details_log()
        shorts = [i for i, e in enumerate(log) if e["fault"] == "short_200"]
        self.assertEqual(len(shorts), 2)
        for i in shorts:
            self.assertEqual(log[i]["status"], 200)
            # the next request asks for the same page again, and gets it whole
            self.assertEqual(log[i + 1]["body"]["paging"], log[i]["body"]["paging"])
            self.assertIsNone(log[i + 1]["fault"])

    def test_short_200_once_costs_one_retry_however_pages_are_read(self):
        """A scan parses each page as it arrives and gives the framing check
        only to a page that failed to parse, so a page cut short must still
        be asked again whichever way it is read: a details page collected
        from the pages in flight (fm_conv10 keeps 8 in flight), a users
        listing page, a job's results page and a lookup by id.  Each case:
        the same rows as without the fault, one retry in gc_fdw.stats(),
        and the emulator saw the short answer and then the same request."""
        ids = truth_ids(LO, HI)[:3]
        lookup = ("SELECT count(*), md5(string_agg(conversation_id::text, ',' ORDER BY "
                  "conversation_id)) FROM fm_conv10 WHERE conversation_id IN (%s);"
                  % ", ".join("'%s'" % i for i in ids))
        users = "SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM fm_users;"
        cases = [
            ("pages in flight", '{"endpoint": "details", "kind": "short_200", "page": 3}',
             exact_sql("fm_conv10", LO, HI), truth_row(LO, HI)),
            ("users listing", '{"endpoint": "users", "kind": "short_200", "page": 1}',
             users, None),
            ("job results", '{"endpoint": "jobs", "method": "GET", "kind": "short_200", '
             '"page": 1}', exact_sql("tf_jobs_conv", LO, HI), truth_row(LO, HI)),
            ("lookup by id", '{"endpoint": "details", "method": "GET", "kind": "short_200"}',
             lookup, None),
        ]
        for name, rule, sql, expected in cases:
            with self.subTest(name):
                gcfdw.emu_reset()
                gcfdw.emu_settings({"job_polls": 0})
                res = session(sql,
                              "SELECT gc_fdw.stats_reset();",
                              fault(rule),
                              sql,
                              "SELECT 'retries=' || sum(retries) FROM gc_fdw.stats();")
                self.assertIsNone(res[0].sqlstate, repr(res[0]))
                if expected is not None:
                    self.assertEqual(res[0].text, expected)
                self.assert_exact(res[3], res[0].text, "the scan with one short page")
                self.assertIn("retries=1", res[4].text)
                log = gcfdw.emu_log()
                shorts = [i for i, e in enumerate(log) if e["fault"] == "short_200"]
                self.assertEqual(len(shorts), 1, log)
                asked = [(e["method"], e["path"], e["query"], e["body"]) for e in log]
                again = [e for i, e in enumerate(log)
                         if i > shorts[0] and asked[i] == asked[shorts[0]]]
                self.assertTrue(again, "the short page was not asked again")
                self.assertEqual((again[0]["status"], again[0]["fault"]), (200, None))

    def test_short_200_every_time_gives_up_after_max_retries(self):
        """max_retries 1: two short answers, then HV00K naming the cause; no
        body quoted (a short token answer would hold part of a token)."""
        res = session(fault('{"endpoint": "details", "kind": "short_200", "size": 20, '
                            '"count": 0}'),
                      exact_sql("fm_fast_conv", LO, HI),
                      "\\! python3 %s clear-faults" % EMUCTL,
                      exact_sql("fm_fast_conv", LO, HI))
        self.assert_error(res[1], "HV00K", "Genesys Cloud API request failed: POST " + DETAILS)
        self.assertRegex(res[1].detail, r"^Gave up after 2 attempt\(s\); last answer: HTTP "
                         r"status 200, a body of 20 bytes that ends before its JSON document "
                         r"does, correlation id [0-9a-f-]{36}\.$")
        self.assertIn("cut its answers short", res[1].hint)
        self.assertIn('max_retries option of server "fm_fast"', res[1].hint)
        self.assert_exact(res[3], truth_row(LO, HI), "the next query")
        self.assertEqual([e["fault"] for e in details_log()][:3],
                         ["short_200", "short_200", None])

    def test_empty_and_short_token_answers_are_retried(self):
        """The token answer is a JSON document too: an empty one, then one
        cut short, then the token; the rows are exact."""
        gcfdw.emu_fault([{"endpoint": "token", "kind": "empty_200"},
                         {"endpoint": "token", "kind": "short_200"}])
        res = session(exact_sql("fm_conv10", LO, HI))
        self.assert_exact(res[0], truth_row(LO, HI), "the scan")
        tokens = [(e["status"], e["fault"]) for e in gcfdw.emu_log()
                  if e["path"] == "/oauth/token"]
        self.assertEqual(tokens, [(200, "empty_200"), (200, "short_200"), (200, None)])

    def test_cut_body_with_bytes_json_never_holds_still_reaches_the_parser(self):
        """A body whose end holds a NUL was rewritten, not cut: no retry, the
        parser's HV00K (malformed), as before."""
        gcfdw.emu_fault({"endpoint": "details", "kind": "malformed"})
        res = session(exact_sql("fm_conv10", LO, HI), exact_sql("fm_conv10", LO, HI))
        self.assert_error(res[0], "HV00K", "Genesys Cloud sent a malformed JSON response")
        self.assertTrue(res[0].detail.startswith("unexpected NUL byte"), res[0].detail)
        self.assert_exact(res[1], truth_row(LO, HI), "the next query")
        self.assertEqual([e["fault"] for e in details_log()].count("malformed"), 1)

    # -- credentials echoed back -------------------------------------------

    def test_echoed_basic_credential_is_redacted(self):
        """The token endpoint answers 401 with the Authorization header it
        got (Basic base64(id:secret)): the error quotes the answer with the
        credential replaced, and so does the server log at debug5."""
        log_path = server_log_path()
        log_start = os.path.getsize(log_path)
        gcfdw.emu_fault({"endpoint": "token", "kind": "echo_credentials"})
        res = session(exact_sql("fm_conv10", LO, HI), exact_sql("fm_conv10", LO, HI))
        self.assert_error(res[0], "28000", "could not authenticate to Genesys Cloud")
        self.assertIn('OAuth error "invalid_client": Client authentication failed for '
                      'Authorization: Basic [redacted]', res[0].detail)
        self.assert_no_credential(res[0].stderr, "the error")
        self.assert_exact(res[1], truth_row(LO, HI), "the next query")
        with open(log_path, errors="replace") as f:
            f.seek(log_start)
            logged = f.read()
        self.assertIn("Authorization: Basic [redacted]", logged,
                      "the error did not reach the server log")
        self.assertIn("DEBUG:", logged, "the server log is not at debug5")
        self.assert_no_credential(logged, "the server log")

    def test_echoed_bearer_token_is_redacted(self):
        """A page answered 403 quoting the bearer token it was sent with."""
        log_path = server_log_path()
        log_start = os.path.getsize(log_path)
        gcfdw.emu_fault({"endpoint": "details", "kind": "echo_credentials", "status": 403})
        res = session(exact_sql("fm_conv10", LO, HI), exact_sql("fm_conv10", LO, HI))
        self.assert_error(res[0], "42501", "Genesys Cloud API request failed")
        self.assertIn("Request refused for Authorization: Bearer [redacted]", res[0].detail)
        self.assert_no_credential(res[0].stderr, "the error")
        self.assert_exact(res[1], truth_row(LO, HI), "the next query")
        with open(log_path, errors="replace") as f:
            f.seek(log_start)
            logged = f.read()
        self.assertIn("Bearer [redacted]", logged)
        self.assert_no_credential(logged, "the server log")

    def test_echo_of_a_token_replaced_since_is_redacted(self):
        """Pages 2 to 7 go out together with the first token.  Page 2 draws
        a 401 (every token revoked) and is sent again with a new one, so the
        first is wiped; page 3's answer then quotes that first token.  It is
        redacted all the same: this backend remembers the tokens it held.
        Every API answer takes 0.3 s, so page 3 has surely arrived (with the
        first token) before page 2's 401 sends gc_fdw for a second one."""
        gcfdw.emu_settings({"latency_ms": 300})
        gcfdw.emu_fault([{"endpoint": "details", "kind": "revoke", "page": 2},
                         {"endpoint": "details", "kind": "echo_credentials", "status": 403,
                          "page": 3}])
        res = session(exact_sql("fm_conv10", LO, HI))
        self.assert_error(res[0], "42501", "Genesys Cloud API request failed")
        self.assertIn("Authorization: Bearer [redacted]", res[0].detail)
        self.assert_no_credential(res[0].stderr, "the error")
        log = gcfdw.emu_log()
        echo = [e for e in log if e["fault"] == "echo_credentials"]
        revoked = [e for e in log if e["fault"] == "revoke"]
        tokens = [e for e in log if e["path"] == "/oauth/token" and e["status"] == 200]
        self.assertEqual((len(echo), len(revoked), len(tokens)), (1, 1, 2))
        # page 3 went out while the first token was the only one; the second
        # was issued after page 2's 401, before page 3's answer was read
        self.assertLess(echo[0]["time"], tokens[1]["time"])
        self.assertLess(revoked[0]["end_time"], tokens[1]["time"])

    def test_sync_log_keeps_the_redacted_error(self):
        """gc_fdw.sync_log stores the error message and detail of a failed
        chunk: with the token endpoint, then a page, echoing credentials, the
        stored text holds the marker and no credential."""
        psql = gcfdw.psql
        psql("DROP SCHEMA IF EXISTS ha_wh CASCADE; DELETE FROM gc_fdw.sync_state;"
             " DELETE FROM gc_fdw.sync_log;")
        errors = []
        for rule in ({"endpoint": "token", "kind": "echo_credentials"},
                     {"endpoint": "details", "kind": "echo_credentials", "status": 403,
                      "count": 0}):
            gcfdw.emu_reset()
            gcfdw.emu_fault(rule)
            proc = psql("SET client_min_messages = warning; CALL gc_fdw.sync_conversations("
                        "'emu', 'ha_wh', '2024-03-01', '2024-03-02');", check=False)
            self.assertNotEqual(proc.returncode, 0, "the sync did not fail")
            self.assert_no_credential(proc.stderr, "the sync's error")
            errors.append(psql("SELECT error FROM gc_fdw.sync_log WHERE status = 'failed' "
                               "AND error IS NOT NULL ORDER BY log_id DESC LIMIT 1;").stdout)
        self.assertIn("Authorization: Basic [redacted]", errors[0])
        self.assertIn("Authorization: Bearer [redacted]", errors[1])
        for text in errors:
            self.assert_no_credential(text, "gc_fdw.sync_log")

    # -- one memory budget per backend ---------------------------------------

    def bomb_session(self, table, rule, hi):
        """Warm up, note VmHWM, read under a gzip bomb with a budget of
        BUDGET_MB, note VmHWM again, then read without it."""
        return session(
            "SET gc_fdw.max_response_memory = '%dMB';" % BUDGET_MB,
            exact_sql(table, LO, hi),
            HWM_SQL,
            fault(rule),
            exact_sql(table, LO, hi),
            HWM_SQL,
            "\\! python3 %s clear-faults" % EMUCTL,
            exact_sql(table, LO, hi),
            timeout=180)

    def assert_bomb_contained(self, res, hi):
        expected = truth_row(LO, hi)
        self.assert_exact(res[1], expected, "the warm-up")
        self.assert_error(res[4], "54000", "Genesys Cloud API responses in flight passed "
                          "gc_fdw.max_response_memory")
        self.assertRegex(res[4].detail, r"^The response bodies this backend was receiving "
                         r"reached \d+(\.\d)? [kM]B \(\d+(\.\d)? [kM]B of them for this "
                         r"request\); gc_fdw.max_response_memory is %d MB\.$" % BUDGET_MB)
        self.assertIn("raise gc_fdw.max_response_memory", res[4].hint)
        self.assertNotIn("page_size", res[4].hint)
        grown_kb = hwm_kb(res[5]) - hwm_kb(res[2])
        print("\n    peak memory grew by %d kB under a budget of %d MB" % (grown_kb, BUDGET_MB))
        # the budget, plus what the scan itself and malloc's rounding take
        self.assertLess(grown_kb, (BUDGET_MB + 16) * 1024,
                        "the backend's peak memory grew by %d kB under a budget of %d MB"
                        % (grown_kb, BUDGET_MB))
        self.assert_exact(res[7], expected, "the next query")

    def test_gzip_bomb_is_stopped_at_the_budget_one_page_at_a_time(self):
        rule = '{"endpoint": "details", "kind": "gzip_bomb", "size": %d, "count": 0}' % BOMB_BYTES
        res = self.bomb_session("fm_conv10_seq", rule, HI)
        self.assert_bomb_contained(res, HI)

    def test_gzip_bomb_is_stopped_at_the_budget_eight_pages_at_a_time(self):
        """Pages 2 to 9 in flight together, each inflating to 96 MB: all of
        them together stay within the one budget."""
        rule = ('{"endpoint": "details", "kind": "gzip_bomb", "size": %d, "after": 1, '
                '"count": 0}' % BOMB_BYTES)
        res = self.bomb_session("fm_conv10", rule, WIDE_HI)
        self.assert_bomb_contained(res, WIDE_HI)
        bombed = [e for e in details_log() if e["fault"] == "gzip_bomb"]
        self.assertEqual(len(bombed), 8, "not eight pages in flight")

    # -- 429, Retry-After, redirects -------------------------------------------

    def test_pages_in_flight_are_held_back_during_another_pages_retry_after(self):
        """Page 3 draws a 429 with Retry-After 2 at once while pages 2, 4
        and 5 (sent with it) take 0.5 s: once the 429 has arrived, no request
        leaves for 2 s, neither page 3 again nor the pages after 5."""
        gcfdw.emu_fault([{"endpoint": "details", "kind": "status", "status": 429,
                          "retry_after": "2", "page": 3},
                         {"endpoint": "details", "kind": "delay", "seconds": 0.5,
                          "count": 0}])
        res = session(exact_sql("ha_conv5_c4", DAY_LO, DAY_HI))
        self.assert_exact(res[0], truth_row(DAY_LO, DAY_HI), "the scan")
        log = gcfdw.emu_log()
        limited = [e for e in log if e["status"] == 429]
        self.assertEqual(len(limited), 1)
        answered = limited[0]["end_time"]
        # requests sent with page 3 may land just after its answer
        during = [(e["body"] or {}).get("paging") for e in log
                  if answered + 0.1 < e["time"] < answered + 1.95]
        self.assertEqual(during, [], "requests were sent during the Retry-After wait")
        again = [e for e in log if e["time"] > answered and e["path"] == DETAILS
                 and e["body"]["paging"] == limited[0]["body"]["paging"]]
        self.assertEqual(len(again), 1)
        self.assertGreaterEqual(again[0]["time"] - answered, 1.95)

    def test_retry_after_too_large_for_any_integer_is_too_long(self):
        """Retry-After: 99999999999999999999 asks for a wait longer than
        max_retry_after: the documented error, at once, not a retry as if no
        Retry-After had been sent."""
        res = session(fault('{"endpoint": "details", "kind": "status", "status": 429, '
                            '"retry_after": "99999999999999999999"}'),
                      exact_sql("fm_conv10", LO, HI),
                      exact_sql("fm_conv10", LO, HI))
        self.assert_error(res[1], "HV000", "Genesys Cloud API request was rate limited")
        self.assertTrue(res[1].detail.startswith(
            "Genesys Cloud asked to wait 99999999999999999999 seconds before retrying, more "
            "than max_retry_after ("), res[1].detail)
        self.assertIn("max_retry_after option", res[1].hint)
        self.assert_exact(res[2], truth_row(LO, HI), "the next query")
        self.assertEqual([e["status"] for e in details_log()][:2], [429, 200])

    def test_redirects_name_their_location_and_are_never_followed(self):
        """A 302 from the API host names its Location (no user, query string
        or secret) with a hint; a 307 from the login host too."""
        location = "https://someone:pw@proxy.example.invalid/%s/login?next=%s" % (SECRET, SECRET)
        res = session(
            fault('{"endpoint": "details", "kind": "redirect", "location": "%s"}' % location),
            exact_sql("fm_conv10", LO, HI),
            fault('{"endpoint": "users", "kind": "redirect"}'),
            "SELECT count(*) FROM fm_users;",
            exact_sql("fm_conv10", LO, HI))
        self.assert_error(res[1], "HV000", "Genesys Cloud API request failed")
        self.assertEqual(res[1].detail[:res[1].detail.index(", correlation id")],
                         'HTTP status 302, Location "https://proxy.example.invalid/[redacted]/'
                         'login (query string not shown)"')
        self.assertIn("never follows redirects", res[1].hint)
        self.assertIn('api_url options of server "emu"', res[1].hint)
        self.assert_no_credential(res[1].stderr, "the error")
        self.assertNotIn("someone", res[1].stderr)
        self.assert_error(res[3], "HV000", "Genesys Cloud API request failed")
        self.assertIn('Location "https://api.example.invalid/api/v2/users (query string not '
                      'shown)"', res[3].detail)
        self.assert_exact(res[4], truth_row(LO, HI), "the next query")
        # a new session: its first request is the token's
        gcfdw.emu_fault({"endpoint": "token", "kind": "redirect", "status": 307})
        res = session(exact_sql("fm_conv10", LO, HI), exact_sql("fm_conv10", LO, HI))
        self.assert_error(res[0], "28000", "could not authenticate to Genesys Cloud")
        self.assertTrue(res[0].detail.startswith(
            'HTTP status 307, Location "https://api.example.invalid/oauth/token"'),
            res[0].detail)
        self.assertIn("never follows redirects", res[0].hint)
        self.assertIn('login_url options of server "emu"', res[0].hint)
        self.assert_exact(res[1], truth_row(LO, HI), "the next query")
        # a redirect is not retried either: the first session's token, then
        # one token request refused, then the next query's
        self.assertEqual([e["status"] for e in gcfdw.emu_log() if e["path"] == "/oauth/token"],
                         [200, 307, 200])


if __name__ == "__main__":
    unittest.main()
