"""Generated option sets through SQL, against the real validator
(gc_fdw_validator) and what reads the options later: the in-backend
replacement of tests/fuzz's fuzz_options target, which needed a stand-in
for the backend.

The inputs are the seeds of tests/fuzz/corpus/options (regress-* included)
and option sets drawn by a seeded generator: names valid for the object,
valid for another object, or not options at all; values on and around the
documented limits, URLs built to fool a host check, column keys of dots,
level prefixes and paths; a share of them mutated a character at a time.
Each set is given to a FOREIGN DATA WRAPPER, SERVER, USER MAPPING, FOREIGN
TABLE or column, by a superuser or by a role that is not one, in its own
transaction.  Checked:

  * every statement returns or fails with a SQLSTATE outside class XX, the
    session survives and the server log shows no backend killed;
  * accepted means documented (docs/configuration.md): each option is one
    of the object's, an integer is within its range, a keyword is one of
    its values;
  * a client_secret never changes a message: each user mapping set is
    given again with its secrets replaced, and must be answered alike, and
    a secret is never printed;
  * the SSRF guard: for a role that is not a superuser, a server is
    accepted only if the hosts libcurl's own URL parser finds in its
    api_url and login_url are Genesys Cloud hosts; ca_file is refused;
  * what was accepted works later: a server's and a table's options raise
    no option error in EXPLAIN or a scan (a lookup through the emulator);
    a column's key is read on every table of the catalogue, returning rows
    or a clean error.

A failed check says "FDW BUG".
"""
import collections
import ctypes
import ctypes.util
import os
import random
import re
import unittest

import gcfdw
from hostile import ServerLog, run_session, sql_literal

CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "fuzz", "corpus", "options")
ROLE = "gc_hostile_options"
CASES = 1000
SEED = 13

# docs/configuration.md: options of each object, ranges, keywords
GENESYS_DOMAINS = ("mypurecloud.com", "usw2.pure.cloud", "use2.us-gov-pure.cloud",
                   "cac1.pure.cloud", "sae1.pure.cloud", "mxc1.pure.cloud", "mypurecloud.ie",
                   "euw2.pure.cloud", "mypurecloud.de", "euc2.pure.cloud", "mec1.pure.cloud",
                   "aps1.pure.cloud", "mypurecloud.jp", "apne2.pure.cloud", "apne3.pure.cloud",
                   "mypurecloud.com.au", "apse1.pure.cloud")
RESOURCES = ("users", "conversations", "participants", "sessions", "segments",
             "session_metrics", "participant_attributes")
INT_RANGES = {"request_timeout": (1, 3600), "connect_timeout": (1, 300), "max_retries": (0, 20),
              "max_retry_after": (0, 86400), "jobs_min_days": (1, 3650),
              "jobs_poll_interval": (1, 60), "concurrency": (1, 16),
              "rows_per_day": (1, 100000000)}
KEYWORDS = {"mode": ("auto", "query", "jobs"), "unavailable_data": ("warning", "error"),
            "on_conflict": ("error", "retry"), "environment": GENESYS_DOMAINS,
            "resource": RESOURCES}
OPTIONS = {
    "wrapper": (),
    "server": ("environment", "api_url", "login_url", "request_timeout", "connect_timeout",
               "max_retries", "max_retry_after", "pushdown", "mode", "jobs_min_days",
               "jobs_poll_interval", "concurrency", "unavailable_data", "on_conflict",
               "ca_file"),
    "user mapping": ("client_id", "client_secret"),
    "table": ("resource", "page_size", "rows_per_day", "pushdown", "mode", "jobs_min_days",
              "concurrency", "unavailable_data", "on_conflict"),
    "column": ("key",),
}
# the seeds' first byte picks these, as tests/fuzz/corpus/options was made
SEED_CATALOGS = ("wrapper", "server", "user mapping", "table", "column")
COLUMN_TYPES = ("text", "jsonb", "text[]", "integer", "uuid", "json[]")
OPTION_ERRORS = ("HV00D", "HV024", "HV00J")    # invalid option name, value, missing

# values by kind, on and around what is valid
INTS = ["0", "1", "-1", "2", "3", "10", "16", "17", "20", "21", "60", "61", "100", "101", "300",
        "301", "500", "501", "3600", "3601", "3650", "3651", "86400", "86401", "100000000",
        "100000001", "2147483647", "2147483648", "-2147483649", "9223372036854775808", " 5",
        "5 ", "\t5\n", "+5", "05", "5x", "0x10", "1e3", "", " ", "\u0663", "5\u00a0"]
BOOLS = ["true", "false", "on", "off", "yes", "no", "1", "0", "t", "f", "TRUE", "tr", "o",
         "maybe", "", " true"]
URLS = ["https://api.mypurecloud.com", "https://api.euw2.pure.cloud", "https://mypurecloud.de",
        "https://API.MYPURECLOUD.COM", "https://api.mypurecloud.com.evil.example",
        "https://evil.example/.mypurecloud.com", "https://evil.example#.mypurecloud.com",
        "https://evil.example?.mypurecloud.com", "https://api.mypurecloud.com@evil.example",
        "https://user:pw@api.mypurecloud.com", "https://evil.example\\@api.mypurecloud.com",
        "https://evil.example%2f.mypurecloud.com", "https://evil.example%40.mypurecloud.com",
        "https://evilmypurecloud.com", "https://.mypurecloud.com", "https://[::1]",
        "https://[::1].mypurecloud.com", "https://127.0.0.1", "http://127.0.0.1:1",
        "http://localhost", "http://127.0.0.1.evil.example", "http://[::1]:8080",
        "https://evil.example:443.mypurecloud.com", "https://api.mypurecloud.com:8443/x",
        "https://evil.example\t.mypurecloud.com", "https://evil.example .mypurecloud.com",
        "https://evil.example;.mypurecloud.com", "https://api.mypurecloud.com.",
        "https:/api.mypurecloud.com", "https:///api.mypurecloud.com", "HTTPS://api.mypurecloud.com",
        "https://", "http://", "ftp://api.mypurecloud.com", "api.mypurecloud.com", "",
        "https://\u00e9vil.mypurecloud.com", "https://evil.example\u3002mypurecloud.com",
        "https://0x7f.0.0.1", "https://2130706433", "https://evil.example/x?y=@api.mypurecloud.com"]
KEYS = [".", "..", "...", "conversation:", "conversation:.", "conversation:conversationId",
        "participant:purpose", "participant:attributes", "session:mediaType",
        "segment:segmentType", "metric:value", "attribute:name", "user:.", "user:version",
        "users:id", "x:y", ":", ":x", "a.b.c.d.e.f.g.h.i.j", ".a..b.", "name", "value",
        "participants", "divisionIds", "conversation:participant:purpose", "conversation:a.b",
        "\u00e9", "a b", "\t", "x" * 300, "id", "sessions.0", "conversationStart"]
STRINGS = ["x", "", "a client", "\u00e9", "a'b", "%s %n", "\\", "x" * 500]
PATHS = ["/etc/ssl/certs/ca-certificates.crt", "relative/ca.pem", "", "/nonexistent/ca.pem"]
JUNK_NAMES = ["", "Resource", "api-url", "key ", "\u00e9", "x" * 70, "page_size;", "client_secret2"]
MUTATE_WITH = "@:/?#[]%\\. \t'\"\u00e9\u200b0-"


def value_pool(name):
    """The values the generator draws for option name."""
    if name in INT_RANGES or name == "page_size":
        return INTS
    if name == "pushdown":
        return BOOLS
    if name in ("api_url", "login_url"):
        return URLS
    if name == "key":
        return KEYS
    if name == "ca_file":
        return PATHS
    if name in KEYWORDS:
        values = list(KEYWORDS[name])
        return values + [v.upper() for v in values] + [" " + values[0], values[0][:-1], ""]
    return STRINGS


def valid_value(rng, name):
    """A value the documentation says option name takes."""
    if name in INT_RANGES:
        return str(rng.randint(*INT_RANGES[name]))
    if name == "page_size":
        return str(rng.randint(1, 100))
    if name == "pushdown":
        return rng.choice(("true", "false", "on", "off"))
    if name in ("api_url", "login_url"):
        return "https://%s.%s" % (name[:-4], rng.choice(GENESYS_DOMAINS))
    if name in KEYWORDS:
        return rng.choice(KEYWORDS[name])
    if name == "ca_file":
        return PATHS[0]
    return rng.choice(value_pool(name))


def mutate(rng, value):
    """value with one character inserted, deleted or replaced."""
    at = rng.randrange(len(value) + 1)
    c = rng.choice(MUTATE_WITH)
    how = rng.randrange(3)
    if how == 0 or not value:
        return value[:at] + c + value[at:]
    at = min(at, len(value) - 1)
    return value[:at] + ("" if how == 1 else c) + value[at + 1:]


def generated_case(rng):
    """A (catalog, superuser, column type, [(name, value)]) drawn at random."""
    catalog = rng.choice(("server", "server", "user mapping", "table", "table", "column",
                          "column", "wrapper"))
    others = [n for c, names in OPTIONS.items() if c != catalog for n in names]
    options = []
    for _ in range(rng.randint(1, 5)):
        roll = rng.random()
        if OPTIONS[catalog] and roll < 0.85:
            name = rng.choice(OPTIONS[catalog])
        elif roll < 0.95:
            name = rng.choice(others)
        else:
            name = rng.choice(JUNK_NAMES)
        if rng.random() < 0.6:
            value = valid_value(rng, name)
        else:
            value = rng.choice(value_pool(name))
            if rng.random() < 0.3:
                value = mutate(rng, value)
        if name not in [n for n, _ in options]:
            options.append((name, value))
    if catalog == "table" and rng.random() < 0.8 and "resource" not in [n for n, _ in options]:
        options.append(("resource", rng.choice(RESOURCES)))
    return catalog, rng.random() < 0.5, rng.choice(COLUMN_TYPES), options


def url_cases(rng):
    """Every URL of the pool, and five mutations of each, alone as a
    non-superuser's api_url and login_url: the SSRF guard's cases."""
    cases = []
    for url in URLS:
        for value in [url] + [mutate(rng, url) for _ in range(5)]:
            for name in ("api_url", "login_url"):
                cases.append(("server", False, "text", [(name, value)]))
    return cases


def seed_cases():
    """The option seeds: byte 0 picks the object, the column's type and the
    role (byte % 5, byte / 5 % 6, byte / 30 % 2); then name=value lines.
    Lines that are not UTF-8 or repeat a name are dropped, as PostgreSQL
    would have refused them before any validator."""
    cases = []
    for name in sorted(os.listdir(CORPUS)):
        with open(os.path.join(CORPUS, name), "rb") as f:
            data = f.read()
        if not data:
            continue
        options = []
        for line in re.split(rb"[\n\x00]", data[1:]):
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                continue
            opt, _, value = text.partition("=")
            if opt and opt not in [n for n, _ in options]:
                options.append((opt, value))
        cases.append((SEED_CATALOGS[data[0] % 5], data[0] // 30 % 2 == 1,
                      COLUMN_TYPES[data[0] // 5 % 6], options))
    return cases


def options_sql(options):
    """OPTIONS (...) for [(name, value)]."""
    return "OPTIONS (%s)" % ", ".join('"%s" %s' % (n.replace('"', '""'), sql_literal(v))
                                      for n, v in options)


class Curl:
    """The host libcurl (the library gc_fdw sends requests with) finds in
    a URL, through its own URL parser (curl_url)."""
    URL, HOST = 0, 5

    def __init__(self):
        self.lib = ctypes.CDLL(ctypes.util.find_library("curl") or "libcurl.so.4")
        self.lib.curl_url.restype = ctypes.c_void_p
        self.lib.curl_url_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_uint]
        self.lib.curl_url_get.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                          ctypes.POINTER(ctypes.c_void_p), ctypes.c_uint]
        self.lib.curl_free.argtypes = [ctypes.c_void_p]
        self.lib.curl_url_cleanup.argtypes = [ctypes.c_void_p]

    def host(self, url):
        """The host of url, or None when libcurl cannot parse it (and so
        would send nothing)."""
        handle = self.lib.curl_url()
        try:
            if self.lib.curl_url_set(handle, self.URL, url.encode("utf-8"), 0) != 0:
                return None
            out = ctypes.c_void_p()
            if self.lib.curl_url_get(handle, self.HOST, ctypes.byref(out), 0) != 0:
                return None
            host = ctypes.string_at(out.value).decode("utf-8", "replace")
            self.lib.curl_free(out)
            return host
        finally:
            self.lib.curl_url_cleanup(handle)


def is_genesys_host(host):
    """Whether host is a Genesys Cloud region domain or a name under one."""
    host = host.lower()
    host = host[:-1] if host.endswith(".") else host
    return any(host == d or host.endswith("." + d) for d in GENESYS_DOMAINS)


SETUP_SQL = """
DO $$ BEGIN CREATE ROLE %(role)s; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON FOREIGN DATA WRAPPER gc_fdw TO %(role)s;
DROP SCHEMA IF EXISTS o CASCADE;
CREATE SCHEMA o AUTHORIZATION %(role)s;
-- for user mappings: a server with none yet
CREATE SERVER o_plain FOREIGN DATA WRAPPER gc_fdw;
GRANT USAGE ON FOREIGN SERVER o_plain TO %(role)s;
-- for tables and columns: the emulator, as both roles
CREATE SERVER o_emu FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', max_retries '0');
GRANT USAGE ON FOREIGN SERVER o_emu TO %(role)s;
CREATE USER MAPPING FOR CURRENT_USER SERVER o_emu
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE USER MAPPING FOR %(role)s SERVER o_emu
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
""" % {"role": ROLE}


def setUpModule():
    gcfdw.setup_database()
    gcfdw.psql(SETUP_SQL)


class OptionInputs(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        gcfdw.emu_reset()
        self.log = ServerLog()
        self.curl = Curl()
        self.urls_checked = 0
        conv = [c for c in gcfdw.emu("/__emu/dataset/conversations")
                if c["conversationStart"].startswith("2024-03-05")][0]
        self.lookup = {r: "conversation_id = %s" % sql_literal(conv["conversationId"])
                       for r in RESOURCES[1:]}
        self.lookup["users"] = "id = %s" % sql_literal(gcfdw.emu("/__emu/dataset/users")[0]["id"])

    def case_statements(self, case, secret=None):
        """The statements of one case, in one transaction: the statement
        that gives the options first, then what uses them.  With secret,
        every non-empty client_secret is replaced by it."""
        catalog, superuser, coltype, options = case
        if secret is not None:
            options = [(n, secret if n == "client_secret" and v else v) for n, v in options]
        opts = options_sql(options)
        st = ["BEGIN;"] + ([] if superuser else ["SET LOCAL ROLE %s;" % ROLE])
        if catalog == "wrapper":
            st.append("ALTER FOREIGN DATA WRAPPER gc_fdw %s;" % opts)
        elif catalog == "server":
            st += ["CREATE SERVER o_s FOREIGN DATA WRAPPER gc_fdw %s;" % opts,
                   "CREATE USER MAPPING FOR CURRENT_USER SERVER o_s "
                   "OPTIONS (client_id 'c', client_secret 's');",
                   "CREATE FOREIGN TABLE o.su (id uuid, name text) SERVER o_s "
                   "OPTIONS (resource 'users');",
                   "CREATE FOREIGN TABLE o.sc (conversation_id uuid, conversation_start "
                   "timestamptz) SERVER o_s OPTIONS (resource 'conversations');",
                   "EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM o.su;",
                   "EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM o.sc WHERE conversation_start "
                   ">= '2024-03-05' AND conversation_start < '2024-03-06';"]
        elif catalog == "user mapping":
            st.append("CREATE USER MAPPING FOR CURRENT_USER SERVER o_plain %s;" % opts)
        elif catalog == "table":
            resource = dict(options).get("resource", "users")
            st += ["CREATE FOREIGN TABLE o.t (conversation_id uuid, conversation_start "
                   "timestamptz, id uuid) SERVER o_emu %s;" % opts,
                   "EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM o.t WHERE conversation_start "
                   ">= '2024-03-05' AND conversation_start < '2024-03-06';",
                   "SELECT count(*) FROM o.t WHERE %s;"
                   % self.lookup.get(resource, "conversation_id = '%s'" % ROLE)]
        else:
            # the key on every table, and a column whose name is a value
            # (its key is made from the name)
            named = (options[0][1] if options else "x")[:60].replace('"', '""') or "x"
            st.append('CREATE FOREIGN TABLE o.c (conversation_id uuid, id uuid, x %s %s, '
                      '"%s_" text) SERVER o_emu OPTIONS (resource \'users\');'
                      % (coltype, opts, named))
            for resource in RESOURCES:
                st += ["ALTER FOREIGN TABLE o.c OPTIONS (SET resource '%s');" % resource,
                       'SELECT x, "%s_" FROM o.c WHERE %s;' % (named, self.lookup[resource])]
        return st + ["ROLLBACK;"]

    def check_accepted(self, case, what):
        """An accepted option set is documented (module docstring)."""
        catalog, superuser, _, options = case
        for name, value in options:
            self.assertIn(name, OPTIONS[catalog],
                          "FDW BUG: %s: option %r accepted on a %s" % (what, name, catalog))
            if name in INT_RANGES:
                low, high = INT_RANGES[name]
                self.assertRegex(value, r"^\s*[+-]?[0-9]+\s*$",
                                 "FDW BUG: %s: %s %r accepted" % (what, name, value))
                self.assertTrue(low <= int(value) <= high,
                                "FDW BUG: %s: %s %r accepted, out of range" % (what, name, value))
            if name in KEYWORDS:
                self.assertIn(value, KEYWORDS[name], "FDW BUG: %s: %s %r accepted"
                              % (what, name, value))
            if not superuser:
                self.assertNotEqual(name, "ca_file",
                                    "FDW BUG: %s: ca_file accepted from a non-superuser" % what)
            if not superuser and name == "api_url":
                self.assert_genesys(value + "/api/v2/users", what)
            if not superuser and name == "login_url":
                self.assert_genesys(value + "/oauth/token", what)

    def assert_genesys(self, url, what):
        self.urls_checked += 1
        host = self.curl.host(url)
        self.assertTrue(host is None or is_genesys_host(host),
                        "FDW BUG: %s: a non-superuser's %r reaches %r" % (what, url, host))

    def check_case(self, case, res, what):
        """The outcomes of one case's statements."""
        catalog = case[0]
        for r in res:
            self.assertFalse(r.sqlstate is not None and r.sqlstate.startswith("XX"),
                             "FDW BUG: %s: internal error %r" % (what, r))
        given = [r for r in res if r.statement.startswith(("CREATE", "ALTER FOREIGN DATA"))][0]
        if given.sqlstate is not None:
            self.assertTrue(given.message, "%s: an error without a message" % what)
            return False
        self.check_accepted(case, what)
        for r in res[res.index(given) + 1:]:
            if catalog in ("server", "table"):
                self.assertNotIn(r.sqlstate, OPTION_ERRORS,
                                 "FDW BUG: %s: accepted options raised later: %r" % (what, r))
        return True

    def test_generated_option_sets(self):
        rng = random.Random(SEED)
        cases = seed_cases() + url_cases(rng) + [generated_case(rng) for _ in range(CASES)]
        statements = []
        spans = []
        for case in cases:
            runs = [self.case_statements(case)]
            if case[0] == "user mapping" and any(n == "client_secret" for n, _ in case[3]):
                runs.append(self.case_statements(case, secret="gc-hostile-secret-marker"))
            for run in runs:
                spans.append((len(statements), len(run)))
                statements += run
        # an error inside a case's transaction rolls back to just before
        # it (psql sets a savepoint per statement), so the rest still runs
        res = run_session(["\\set ON_ERROR_ROLLBACK on"] + statements + ["SELECT 1;"])[1:]
        self.assertEqual(res[-1].rows, [b"1"], "FDW BUG: SELECT 1 at the end: %r" % res[-1])

        accepted = 0
        tally = collections.Counter()
        span = iter(spans)
        for n, case in enumerate(cases):
            start, length = next(span)
            outcome = res[start:start + length]
            what = "case %d %r" % (n, case)
            ok = self.check_case(case, outcome, what)
            accepted += ok
            tally["%s %s" % (case[0], "accepted" if ok else "refused")] += 1
            if ok:
                for r in outcome:
                    if r.statement.startswith(("SELECT", "EXPLAIN")):
                        tally["later: %s" % (r.sqlstate or "ok")] += 1
            if case[0] == "user mapping" and any(name == "client_secret" for name, _ in case[3]):
                start, length = next(span)
                replaced = res[start:start + length]
                self.check_case(case, replaced, what)
                for a, b in zip(outcome, replaced):
                    self.assertEqual(a.fields, b.fields, "FDW BUG: %s: a client_secret "
                                     "changed a message" % what)
                    self.assertNotIn(b"gc-hostile-secret-marker", b.stderr,
                                     "FDW BUG: %s printed a client_secret" % what)
        self.assertEqual(self.log.deaths(), [], "FDW BUG: a backend died")
        # the generator must reach both outcomes, for every object
        self.assertGreater(accepted, len(cases) // 5)
        self.assertLess(accepted, len(cases) * 4 // 5)
        self.assertGreater(self.urls_checked, 10, "no URL reached the SSRF check")
        tally["non-superuser URLs checked"] = self.urls_checked
        print("%d option sets, %d statements: %s" % (len(cases), len(statements), ", ".join(
            "%s %d" % t for t in sorted(tally.items()))))


if __name__ == "__main__":
    unittest.main()
