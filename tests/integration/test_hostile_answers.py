"""Hostile answers outside result pages, in a real backend: every file of
tests/fuzz/corpus/response (platform and OAuth error bodies, token answers,
the jobs API's answers, HTML, NULs, invalid UTF-8, control characters,
regress-* seeds) is sent by the emulator (fault kind raw_body) as

  * the error answer to a lookup, under each status gc_fdw words
    differently (400, 403, 404, 429, 500, 502, 503), in a UTF8 database
    and in a SQL_ASCII one;
  * the token endpoint's answer, as a 200, a 400 and a 401;
  * the jobs API's availability, job submission and job status answers.

This replaces tests/fuzz's fuzz_response target, which needed a stand-in
for the backend (http.c's gc_describe_response, auth.c, jobs.c).

Every scan must return rows or fail with a clean ERROR: a SQLSTATE outside
class XX, and fields (message, detail, hint) that are one line each,
without control characters, valid UTF-8 in the UTF8 database and ASCII in
the SQL_ASCII one, whatever the body held.  The access token of a token
answer is never printed (bodies that hold one are not fed as errors: see
test_refused_bodies_never_print_a_token).  The session survives, the server log shows no backend
killed by a signal, and the emulator's log shows every rule answered its
scan.  A failed check says "FDW BUG".
"""
import os
import re
import unittest
import uuid

import gcfdw
from hostile import Rules, ServerLog, raw_body, raw_body_firings, run_session

CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "fuzz", "corpus", "response")
ASCII_DB = "gc_integration_ascii"

SETUP_SQL = """
-- no retries: each error answer is the last one
CREATE SERVER ha FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER ha
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE FOREIGN TABLE ha_conv (conversation_id text, conversation_start timestamptz)
  SERVER ha OPTIONS (resource 'conversations');
CREATE SERVER ha_jobs FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', max_retries '0', mode 'jobs',
           jobs_poll_interval '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER ha_jobs
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE FOREIGN TABLE ha_jobs_conv (conversation_id text, conversation_start timestamptz)
  SERVER ha_jobs OPTIONS (resource 'conversations');
"""

JOBS_DAY = ("SELECT count(*) FROM ha_jobs_conv WHERE conversation_start >= '2024-03-05' "
            "AND conversation_start < '2024-03-06';")
# a new token on the next scan: the mapping changed (syscache callback)
FORGET_TOKEN = "ALTER USER MAPPING FOR CURRENT_USER SERVER ha OPTIONS (SET client_id :'emu_client');"
JOBS_PATH = "/api/v2/analytics/conversations/details/jobs"

# every field of an error, as psql prints it (VERBOSITY verbose)
FIELD_LINE = re.compile(rb"^(?:psql:\S+ )?(ERROR|DETAIL|HINT|CONTEXT|LOCATION|WARNING|NOTICE):  ")


def setUpModule():
    gcfdw.setup_database()
    gcfdw.psql(SETUP_SQL)
    for sql in ("DROP DATABASE IF EXISTS %s" % ASCII_DB,
                "CREATE DATABASE %s ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
                "TEMPLATE template0" % ASCII_DB):
        gcfdw.psql(sql + ";", db="postgres")
    gcfdw.psql("CREATE EXTENSION gc_fdw;\n" + SETUP_SQL, db=ASCII_DB)


def corpus():
    """(name, bytes) of every file of the response corpus."""
    files = sorted(os.listdir(CORPUS))
    assert len(files) > 20 and any(f.startswith("regress-") for f in files), files
    for name in files:
        with open(os.path.join(CORPUS, name), "rb") as f:
            yield name, f.read()


def tokens_in(data):
    """The access tokens a body holds, of 4 bytes or more (what must
    never be printed; a shorter one could be part of any word)."""
    return [m.group(1) for m in re.finditer(rb'"access_token"\s*:\s*"([^"]{4,})"', data)]


def holds_token(data):
    """Whether a body holds an access token at all (as the suite's secret
    scan, tests/scan_secrets.py, sees one)."""
    return re.search(rb'"access_token"\s*:\s*"[^"]', data) is not None


def lookup(label):
    """A lookup by id of its own for each answer: the id is a UUID made
    from label (ids that are not UUIDs match nothing and send no request),
    and label names the scan in the statement."""
    return ("SELECT count(*) /* %s */ FROM ha_conv WHERE conversation_id = '%s';"
            % (label, uuid.uuid5(uuid.NAMESPACE_URL, "gc_fdw-hostile/" + label)))


class HostileAnswers(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        gcfdw.emu_reset()
        gcfdw.emu_settings({"job_polls": 0})
        self.log = ServerLog()
        self.rules = Rules()
        self.armed = {}

    def tearDown(self):
        self.assertEqual(self.log.deaths(), [], "FDW BUG: a backend died")

    def fed(self, rule, scan):
        """Statements: arm rule, run scan, take the rule away (so that one
        that did not fire cannot answer a later scan)."""
        cls = rule["endpoint"]
        self.armed[cls] = self.armed.get(cls, 0) + 1
        return [self.rules.arm(rule), scan, self.rules.clear()]

    def check(self, outcome, what, ascii_only=False, secrets=()):
        """A scan's outcome: rows, or a clean error (module docstring);
        warnings must be as clean."""
        if b"ERROR:" in outcome.stderr:
            self.assertIsNotNone(outcome.sqlstate, "%s: no SQLSTATE: %r" % (what, outcome))
            self.assertFalse(outcome.sqlstate.startswith("XX"),
                             "FDW BUG: %s raised an internal error: %r" % (what, outcome))
        lines = outcome.stderr.split(b"\n")
        self.assertEqual(lines[-1], b"", "%s: %r" % (what, outcome))
        for line in lines[:-1]:
            self.assertRegex(line, FIELD_LINE,
                             "FDW BUG: %s: an error field spans lines: %r" % (what, outcome))
            self.assertIsNone(re.search(rb"[\x00-\x1f\x7f]", line),
                              "FDW BUG: %s: a control character in %r" % (what, line))
            if ascii_only:
                self.assertIsNone(re.search(rb"[\x80-\xff]", line),
                                  "FDW BUG: %s: not ASCII in a SQL_ASCII database: %r"
                                  % (what, line))
            else:
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    self.fail("FDW BUG: %s: invalid UTF-8 in %r" % (what, line))
        for secret in secrets:
            self.assertNotIn(secret, outcome.stderr, "FDW BUG: %s printed the token" % what)

    def run_checked(self, statements, db=gcfdw.DB, ascii_only=False, secrets=None):
        """Run statements in one session; check every scan's outcome
        (secrets: statement -> what it must not print)."""
        res = run_session(statements + ["SELECT 1;"], db=db)
        self.assertEqual(res[-1].rows, [b"1"], "FDW BUG: SELECT 1 at the end: %r" % res[-1])
        for r in res[:-1]:
            if r.statement.startswith("SELECT"):
                self.check(r, "%s: %s" % (db, r.statement[:70]), ascii_only,
                           (secrets or {}).get(r.statement, ()))
        return res

    def assert_all_fired(self):
        self.assertEqual(raw_body_firings(), self.armed,
                         "the scans did not all receive their answers")

    def test_error_bodies_under_every_status(self):
        """Bodies holding an access_token are
        test_refused_bodies_never_print_a_token."""
        statements = []
        ascii_statements = []
        for name, data in corpus():
            if holds_token(data):
                continue
            for status in (400, 403, 404, 429, 500, 502, 503):
                statements += self.fed(raw_body(data, endpoint="details", status=status),
                                       lookup("%d %s" % (status, name)))
            for status in (400, 502):
                ascii_statements += self.fed(raw_body(data, endpoint="details", status=status),
                                             lookup("ascii %d %s" % (status, name)))
        self.run_checked(statements)
        self.run_checked(ascii_statements, db=ASCII_DB, ascii_only=True)
        self.assert_all_fired()

    def token_scans(self, data, name, statuses):
        """Statements: each status's token answer, then a scan; and what
        each scan must not print."""
        statements = []
        secrets = {}
        for status in statuses:
            scan = lookup("token %d %s" % (status, name))
            statements.append(FORGET_TOKEN)
            statements += self.fed(raw_body(data, endpoint="token", status=status), scan)
            secrets[scan] = tokens_in(data)
        return statements, secrets

    def test_token_answers(self):
        """A 200 is a token or a clear refusal, whose message never holds
        the token; a 400 or 401 is 28000.  A refused answer holding an
        access_token is test_refused_bodies_never_print_a_token."""
        statements = []
        secrets = {}
        for name, data in corpus():
            statuses = (200,) if holds_token(data) else (200, 400, 401)
            st, sec = self.token_scans(data, name, statuses)
            statements += st
            secrets.update(sec)
        self.run_checked(statements, secrets=secrets)
        self.assert_all_fired()

    def test_refused_bodies_never_print_a_token(self):
        """A refused answer's detail quotes the start of its body
        (auth.c's gc_auth_report_failure for the token endpoint, http.c's
        gc_describe_response for the API), and so an access_token the body
        holds.  No real host sends one with an error, but a proxy could,
        and tokens are never to be printed: a body that holds one must be
        described without it."""
        with open(os.path.join(CORPUS, "token-200.json"), "rb") as f:
            data = f.read()
        statements, secrets = self.token_scans(data, "token-200.json", (400, 401))
        scan = lookup("400 token-200.json")
        statements += self.fed(raw_body(data, endpoint="details", status=400), scan)
        secrets[scan] = tokens_in(data)
        self.run_checked(statements, secrets=secrets)
        self.assert_all_fired()

    def job_status_scan(self, data):
        """Statements: data as a job's first status answer, then a scan.
        The first GET of a jobs scan is the availability, the second the
        job's first status poll."""
        return self.fed(raw_body(data, endpoint="jobs", method="GET", after=1), JOBS_DAY)

    def test_jobs_answers(self):
        """jobs-failed.json as a status answer is
        test_failed_job_message_is_one_clean_line."""
        statements = []
        for name, data in corpus():
            statements += self.fed(raw_body(data, endpoint="jobs", method="GET",
                                            path=JOBS_PATH + "/availability"), JOBS_DAY)
            statements += self.fed(raw_body(data, endpoint="jobs", method="POST", status=202),
                                   JOBS_DAY)
            if name != "jobs-failed.json":
                statements += self.job_status_scan(data)
        self.run_checked(statements)
        self.assert_all_fired()

    def test_failed_job_message_is_one_clean_line(self):
        """A FAILED job's errorMessage (here a byte that is not UTF-8 and
        a newline) reaches the error as one clean line, as an error body
        does (driver_jobs.c, wait_for_job)."""
        with open(os.path.join(CORPUS, "jobs-failed.json"), "rb") as f:
            self.run_checked(self.job_status_scan(f.read()))


if __name__ == "__main__":
    unittest.main()
