"""Hostile result pages in a real backend: every file of the fuzz corpus
(tests/fuzz/corpus/page, its regress-* seeds included) is sent by the
emulator (fault kind raw_body) as the answer to a users listing, to the
first page of a details query and to lookups by id, and read through
every table of the catalogue, with json, jsonb, array and typed columns on
odd keys added to each.  This is where turning hostile pages into Datums
(src/json_tuple.c) is tested; src/json_parse.c alone is fuzzed outside a
backend (tests/fuzz/README.md).

Each scan must return rows or fail with a clean ERROR, whose SQLSTATE is
not an internal one (class XX, "can't happen").  The session must survive
(the same backend to the end, and a SELECT 1 after each file), and the
server log must show no backend killed by a signal.  Rows that come back
are printed by psql, so every Datum built goes through its type's output
function: the lookups ask for the ids the page itself holds, and the id
columns are text so that no id stops a row.  When a table's SELECT *
stops at a value that does not convert (a scan stops at the first), its
columns are read again one at a time, so the ones after it are reached.
On every table, a jsonb column (built from the parsed tree) must equal
jsonb_in of a json column's text (the tree written back) on every row.

The emulator's log must show that every scan did meet the file: a check
that nothing was fed would otherwise pass.  A failed check says "FDW BUG".
"""
import collections
import os
import re
import unittest

import gcfdw
from hostile import Rules, ServerLog, raw_body, raw_body_firings, run_session, sql_literal

CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "fuzz", "corpus", "page")

CONVERSATION_TABLES = ("conversations", "participants", "sessions", "segments",
                       "session_metrics", "participant_attributes")

# Columns added to every table: whole rows, paths that are not there, and
# every type the generated pages (levels-all-keys.json, users-generic-keys
# .json) put under the keys n, b, id, t and list
ELEMENT_TYPES = ("text", "integer", "bigint", "boolean", "float8", "numeric",
                 "timestamptz", "uuid", "json", "jsonb")
EVERY_TABLE = [
    ("z_text", "text", "."), ("z_json", "json", "."), ("z_jsonb", "jsonb", "."),
    ("z_deep", "text", "a.b.c.d.e"), ("z_loose_dots", "jsonb", ".a..b."),
    ("z_missing", "text", "noSuchKey"),
    ("z_n_int", "integer", "n"), ("z_n_bigint", "bigint", "n"), ("z_n_float", "float8", "n"),
    ("z_n_numeric", "numeric", "n"), ("z_b_bool", "boolean", "b"),
    ("z_id_uuid", "uuid", "id"), ("z_t_ts", "timestamptz", "t"),
] + [("z_list_%s" % t, t + "[]", "list") for t in ELEMENT_TYPES]

# Columns on keys of each level, read as other types, and the levels above
PER_TABLE = {
    "users": [("z_division", "jsonb", "division"), ("z_manager_text", "text", "manager"),
              ("z_self", "jsonb", "user:."), ("z_self_version", "bigint", "user:version")],
    "conversations": [("z_participants", "jsonb", "participants"),
                      ("z_participants_arr", "jsonb[]", "participants"),
                      ("z_divisions_text", "text[]", "divisionIds")],
    "participants": [("z_conv", "jsonb", "conversation:."),
                     ("z_conv_divisions", "text[]", "conversation:divisionIds"),
                     ("z_conv_deep", "text", "conversation:a.b"),
                     ("z_attributes", "jsonb", "attributes"), ("z_sessions", "json[]", "sessions")],
    "sessions": [("z_conv", "jsonb", "conversation:."), ("z_part", "json", "participant:."),
                 ("z_part_purpose", "text", "participant:purpose"),
                 ("z_segments", "json[]", "segments"), ("z_metrics", "jsonb", "metrics"),
                 ("z_flow", "jsonb", "flow")],
    "segments": [("z_conv", "jsonb", "conversation:."), ("z_part", "json", "participant:."),
                 ("z_sess", "jsonb", "session:."), ("z_sess_media", "text", "session:mediaType"),
                 ("z_sip_text", "text[]", "sipResponseCodes"),
                 ("z_sip_bigint", "bigint[]", "sipResponseCodes")],
    "session_metrics": [("z_conv_start", "text", "conversation:conversationStart"),
                        ("z_part", "json", "participant:."), ("z_sess", "jsonb", "session:."),
                        ("z_value_float", "float8", "value"), ("z_value_int", "integer", "value")],
    "participant_attributes": [("z_conv", "jsonb", "conversation:."),
                               ("z_part_attrs", "jsonb", "participant:attributes"),
                               ("z_value_json", "jsonb", "value"),
                               ("z_value_int", "integer", "value"),
                               ("z_value_arr", "text[]", "value"),
                               ("z_name_uuid", "uuid", "name"),
                               ("z_name_arr", "text[]", "name")],
}

# rows whose jsonb column (built from the tree) is not jsonb_in of their
# json column's text; both read the whole row
JSONB_DIFFERS = "z_json::jsonb IS DISTINCT FROM z_jsonb"

# the day of the conversations in the corpus pages (tests/fuzz/make_corpus.py)
DAY = "conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06'"


def setup_sql():
    """The schema h: every table imported, ids as text, extra columns."""
    sql = ["DROP SCHEMA IF EXISTS h CASCADE;", "CREATE SCHEMA h;",
           "IMPORT FOREIGN SCHEMA genesys FROM SERVER emu INTO h;",
           "ALTER FOREIGN TABLE h.users ALTER COLUMN id TYPE text;",
           # the pages after a hostile first page are the emulator's (empty):
           # ask for them one at a time, not eight at once
           "ALTER FOREIGN TABLE h.users OPTIONS (ADD concurrency '1');"]
    sql += ["ALTER FOREIGN TABLE h.%s ALTER COLUMN conversation_id TYPE text;" % t
            for t in CONVERSATION_TABLES]
    for table in ("users",) + CONVERSATION_TABLES:
        for name, typ, key in EVERY_TABLE + PER_TABLE[table]:
            sql.append("ALTER FOREIGN TABLE h.%s ADD COLUMN %s %s OPTIONS (key %s);"
                       % (table, name, typ, sql_literal(key)))
    return "\n".join(sql)


def setUpModule():
    gcfdw.setup_database()
    gcfdw.psql(setup_sql())


UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def ids_in(data, key):
    """The string values the page gives key (raw bytes, any depth) that
    are UUIDs, as an SQL list for IN: the rows that carry them pass the
    lookup's recheck and are printed.  At most 100, one request's worth.
    A value that is not a UUID is left out: gc_fdw sends no request for an
    id no Genesys object can have."""
    ids = []
    for m in re.finditer(rb'"' + key + rb'"\s*:\s*"([^"\\\x00-\x1f]{1,64})"', data):
        try:
            value = m.group(1).decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not UUID.fullmatch(value):
            continue    # matches no id: no request would be sent
        if value not in ids:
            ids.append(value)
    ids = ids[:100] or ["00000000-0000-0000-0000-000000000000"]
    return ", ".join(sql_literal(i) for i in ids)


def stopped_at_column(outcome):
    """Whether a scan stopped at a value that did not convert (its
    CONTEXT names the column, json_tuple.c's error context)."""
    return b"of foreign table" in outcome.fields.get("CONTEXT", b"")


def columns_of(table):
    """Every column of h.table, in order."""
    out = gcfdw.psql("SELECT attname FROM pg_attribute WHERE attrelid = 'h.%s'::regclass "
                     "AND attnum > 0 AND NOT attisdropped ORDER BY attnum;" % table).stdout
    return out.split()


class HostilePages(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        gcfdw.emu_reset()
        self.log = ServerLog()
        self.rules = Rules()
        self.expected = {"users": 0, "details": 0}
        self.outcomes = collections.Counter()
        self.verbose = os.environ.get("GC_HOSTILE_VERBOSE") == "1"

    def scan(self, outcome, what):
        """One scan's outcome: rows, or an error that is not internal."""
        self.outcomes["%d rows" % len(outcome.rows) if outcome.sqlstate is None and
                      len(outcome.rows) < 2 else "rows" if outcome.sqlstate is None
                      else outcome.sqlstate] += 1
        if self.verbose:
            print("  %s: %s" % (what, outcome.sqlstate or "%d rows" % len(outcome.rows)))
        if outcome.stderr and outcome.sqlstate is None:
            self.fail("FDW BUG: %s printed no SQLSTATE: %r" % (what, outcome))
        if outcome.sqlstate is not None and outcome.sqlstate.startswith("XX"):
            self.fail("FDW BUG: %s raised an internal error: %r" % (what, outcome))

    def users_scan(self, data, columns="*", condition=None):
        """Statements: the users listing, its first page answered by the
        page (the next ones, if the page says there are, by the emulator:
        empty).  Not a lookup by id: see test_users_lookup_over_many_pages."""
        self.expected["users"] += 1
        return [self.rules.arm(raw_body(data, endpoint="users")),
                "SELECT %s FROM h.users%s;" % (columns, " WHERE " + condition if condition
                                              else "")]

    def lookup(self, table, data, columns="*", condition=None):
        """Statement: a lookup by id of table (a details rule is armed)."""
        self.expected["details"] += 1
        return "SELECT %s FROM h.%s WHERE conversation_id IN (%s)%s;" % (
            columns, table, ids_in(data, b"conversationId"),
            " AND " + condition if condition else "")

    def feed(self, name, data):
        """Every table over one corpus file, in one session."""
        if self.verbose:
            print("== %s" % name, flush=True)
        st = self.users_scan(data)
        # the first page of a day's details query (the others are real)
        self.expected["details"] += 1
        st += [self.rules.arm(raw_body(data, endpoint="details")),
               "SELECT * FROM h.conversations WHERE %s;" % DAY]
        # a lookup is one request, answered by a rule of its own: a page
        # the transport takes for a short read is asked again, and that
        # second request must reach the emulator, not the rule
        for t in CONVERSATION_TABLES:
            st += [self.rules.arm(raw_body(data, endpoint="details")), self.lookup(t, data)]
        # jsonb is built from the parsed tree, json is the text written
        # back: jsonb_in of that text must give the same jsonb
        for t in CONVERSATION_TABLES:
            st += [self.rules.arm(raw_body(data, endpoint="details")),
                   self.lookup(t, data, "count(*)", JSONB_DIFFERS)]
        st += [self.rules.clear()] + self.users_scan(data, "count(*)", JSONB_DIFFERS)
        st += [self.rules.clear(), "SELECT 1;"]
        res = run_session(st)
        scans = [r for r in res if r.statement.startswith("SELECT *")]
        for r in res[:-1]:
            if r.statement.startswith("SELECT"):
                self.scan(r, "%s, %s" % (name, r.statement[:60]))
            if r.statement.endswith(" " + JSONB_DIFFERS + ";") and r.sqlstate is None:
                self.assertEqual(r.rows, [b"0"], "FDW BUG: %s: jsonb built from the tree "
                                 "differs from jsonb_in of the json text: %r" % (name, r))
        self.assertEqual(res[-1].rows, [b"1"], "FDW BUG: SELECT 1 after %s: %r" % (name, res[-1]))

        # a table whose scan stopped at a value: its columns one by one
        again = []
        for r in scans:
            if not stopped_at_column(r):
                continue
            table = re.search(r"FROM h\.(\w+)", r.statement).group(1)
            for col in columns_of(table):
                if table == "users":
                    again += self.users_scan(data, col)
                else:
                    again += [self.rules.arm(raw_body(data, endpoint="details")),
                              self.lookup(table, data, col), self.rules.clear()]
        if again:
            for r in run_session(again + ["SELECT 1;"]):
                if r.statement.startswith("SELECT") and r.statement != "SELECT 1;":
                    self.scan(r, "%s, %s" % (name, r.statement[:60]))

    def test_every_corpus_page_through_every_table(self):
        files = sorted(os.listdir(CORPUS))
        self.assertGreater(len(files), 20, "the corpus is missing")
        self.assertTrue(any(f.startswith("regress-") for f in files))
        for name in files:
            with open(os.path.join(CORPUS, name), "rb") as f:
                self.feed(name, f.read())

        # every scan met its page, and no backend died anywhere
        self.assertEqual(raw_body_firings(), self.expected,
                         "the scans did not all receive the corpus pages")
        self.assertEqual(self.log.deaths(), [], "FDW BUG: a backend died")
        print("%d files, %d scans: %s" % (len(files), sum(self.outcomes.values()),
                                          ", ".join("%s %d" % o for o in sorted(self.outcomes.items()))))

    def test_users_lookup_over_many_pages(self):
        """A users lookup by id whose first page says more pages follow
        (users-page1.json has nextUri and pageCount): next_window() builds
        st->chunk_ids in the memory context current when it runs, the
        per-tuple context of ForeignNext, and page_request() reads it again
        for the pages sent later, after that context was reset.  With
        z_json::jsonb in the query the freed memory is reused and the
        backend dies (SIGSEGV in append_id_list, deparse.c, from
        send_ahead).  Building chunk_ids in window_cxt, after its reset,
        makes this test pass."""
        with open(os.path.join(CORPUS, "users-page1.json"), "rb") as f:
            data = f.read()
        res = run_session([self.rules.arm(raw_body(data, endpoint="users")),
                           "SELECT count(*) FROM h.users WHERE id IN (%s) AND %s;"
                           % (ids_in(data, b"id"), JSONB_DIFFERS),
                           self.rules.clear(), "SELECT 1;"])
        self.scan(res[1], "users-page1.json, a users lookup by id")
        self.assertEqual(res[1].rows, [b"0"])
        self.assertEqual(self.log.deaths(), [], "FDW BUG: a backend died")


if __name__ == "__main__":
    unittest.main()
