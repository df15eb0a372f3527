"""Warehousing: gc_fdw.sync_conversations and gc_fdw.sync_users against the
emulator, by hand (scheduled by a real pg_cron: test_sync_directory.py).

Exactness is checked two ways: the local tables against the emulator's own
dataset (conversation ids, starts and ends), and every local table against
a direct scan of the matching foreign table over the same range (EXCEPT ALL
both ways, every column the local table has), which the pg_regress suites
prove exact against the emulator in turn.  The child tables keep no raw of
their own: each child object, every field of it, is derived from
conversations.raw and compared with the foreign table's raw, the API's
JSON as received.  A warehouse built by the 1.1 procedures is synced again
by these, then slimmed.
"""
import datetime as dt
import json
import os
import subprocess
import time
import unittest

import gcfdw
from gcfdw import psql, emu, emu_reset, emu_fault

SRC = "gc_fdw_src_emu"
RANGE = ("2024-03-01", "2024-03-22")
TABLES = ["conversations", "participants", "sessions", "segments", "session_metrics",
          "participant_attributes"]
# what identifies a child row within its conversation
NATURAL_KEYS = {"participants": ("participant_id",), "sessions": ("session_id",),
                "segments": ("session_id", "segment_start", "segment_type"),
                "session_metrics": ("session_id", "name", "emit_date"),
                "participant_attributes": ("participant_id", "name")}


def sql_lines(sql, **kw):
    out = psql(sql, **kw).stdout.strip()
    return out.splitlines() if out else []


def scalar(sql, **kw):
    lines = sql_lines(sql, **kw)
    return lines[-1] if lines else None


def call(sql, check=True, timeout=300, db=gcfdw.DB):
    """Run a CALL; returns the CompletedProcess (stderr holds INFO/NOTICE)."""
    return psql(sql, check=check, timeout=timeout, db=db)


def mutate(body):
    return emu("/__emu/mutate", body)


def emu_conversations():
    """{conversationId: (start, end)} as the emulator serves them now."""
    return {c["conversationId"]: (c["conversationStart"], c.get("conversationEnd"))
            for c in emu("/__emu/dataset/conversations")}


def iso(ts):
    """PostgreSQL timestamptz text (UTC session) -> emulator ISO form."""
    if not ts:
        return None
    d = dt.datetime.fromisoformat(ts.replace(" ", "T"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    d = d.astimezone(dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


class SyncTestCase(unittest.TestCase):
    target = "wh"
    db = gcfdw.DB

    @classmethod
    def setUpClass(cls):
        gcfdw.setup_database()

    def setUp(self):
        emu_reset()
        psql("DROP SCHEMA IF EXISTS %s CASCADE; DELETE FROM gc_fdw.sync_state;"
             " DELETE FROM gc_fdw.sync_log; SET client_min_messages = warning;"
             " DROP SCHEMA IF EXISTS %s CASCADE;" % (self.target, SRC))

    def tearDown(self):
        emu_reset()

    # -- helpers -----------------------------------------------------------

    def sync(self, args="", check=True):
        return call("SET TimeZone = 'UTC'; CALL gc_fdw.sync_conversations('emu', '%s'%s);"
                    % (self.target, args), check=check, db=self.db)

    def run_rows(self, run_id=None):
        """The chunk/refresh rows of a run (default: the last run)."""
        if run_id is None:
            run_id = scalar("SELECT max(run_id) FROM gc_fdw.sync_log", db=self.db)
        return [json.loads(l) for l in sql_lines(
            "SET TimeZone = 'UTC'; SELECT row_to_json(l) FROM gc_fdw.sync_log l"
            " WHERE run_id = %s ORDER BY log_id" % run_id, db=self.db)]

    def local_columns(self, table):
        """The local table's columns, in its order, as a select list."""
        return scalar("SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)"
                      " FROM pg_attribute WHERE attrelid = '%s.%s'::regclass AND attnum > 0"
                      " AND NOT attisdropped" % (self.target, table), db=self.db)

    def assert_same_rows(self, local, remote, what):
        """Two queries give the same rows (EXCEPT ALL both ways)."""
        diff = scalar("CREATE TEMP TABLE remote AS %s;"
                      " SELECT (SELECT count(*) FROM (%s EXCEPT ALL SELECT * FROM remote) a),"
                      " (SELECT count(*) FROM (SELECT * FROM remote EXCEPT ALL %s) b)"
                      % (remote, local, local), db=self.db)
        self.assertEqual(diff, "0|0", "%s differs (local-only|remote-only rows)" % what)

    def local_range(self, lo, hi):
        """The condition on a local table's rows of the conversations that
        started in [lo, hi) (a child row's conversation_start is its
        conversation's)."""
        return ("conversation_id IN (SELECT conversation_id FROM %s.conversations"
                " WHERE conversation_start >= '%s' AND conversation_start < '%s')"
                % (self.target, lo, hi))

    def assert_tables_match_foreign(self, lo=RANGE[0], hi=RANGE[1]):
        """Every local table equals its foreign table over [lo, hi), column
        by column of the local table: one foreign scan per table, compared
        both ways."""
        cond = "conversation_start >= '%s' AND conversation_start < '%s'" % (lo, hi)
        for t in TABLES:
            cols = self.local_columns(t)
            self.assert_same_rows("SELECT %s FROM %s.%s WHERE %s"
                                  % (cols, self.target, t, self.local_range(lo, hi)),
                                  "SELECT %s FROM %s.%s WHERE %s" % (cols, SRC, t, cond),
                                  "table %s, against the foreign table," % t)

    def assert_every_field_reachable(self, lo=RANGE[0], hi=RANGE[1]):
        """Each child object, every field of it, derives from the stored
        conversations.raw: the foreign table's rows (raw, the API's JSON of
        the object as received, included) come out of it, none missing,
        none extra."""
        cond = "conversation_start >= '%s' AND conversation_start < '%s'" % (lo, hi)
        local = cond.replace("conversation_start", "c.conversation_start")
        for t in ("participants", "sessions", "segments", "session_metrics"):
            self.assertGreater(int(scalar("SELECT count(*) FROM %s.%s WHERE %s"
                                          % (self.target, t, self.local_range(lo, hi)),
                                          db=self.db)), 0)
            self.assert_same_rows(
                "SELECT r.* FROM %s.conversations c CROSS JOIN LATERAL gc_fdw.conversation_rows("
                "'%s', c.raw, NULL::%s.%s) r WHERE %s" % (self.target, t, SRC, t, local),
                "SELECT * FROM %s.%s WHERE %s" % (SRC, t, cond),
                "%s derived from conversations.raw, against the foreign table," % t)

    def assert_conversations_match_emulator(self):
        want = {k: v for k, v in emu_conversations().items()
                if RANGE[0] <= v[0][:10] < RANGE[1]}
        got = {}
        for line in sql_lines("SET TimeZone = 'UTC'; SELECT conversation_id, conversation_start,"
                              " conversation_end FROM %s.conversations" % self.target, db=self.db):
            cid, start, end = line.split("|")
            got[cid] = (iso(start), iso(end) if end else None)
        self.assertEqual(got, want)

    def table_versions(self, skip_ids=()):
        """ctid and xmin of every local row (bar those of skip_ids):
        unchanged iff none of those rows was rewritten."""
        where = ("WHERE conversation_id NOT IN (%s)" % ", ".join("'%s'" % i for i in skip_ids)
                 if skip_ids else "")
        return {t: scalar("SELECT md5(coalesce(string_agg(ctid::text || xmin::text, ','"
                          " ORDER BY ctid), '')) FROM %s.%s %s" % (self.target, t, where),
                          db=self.db)
                for t in TABLES}

    def row_versions(self, conversation_id):
        """{(table, row): ctid and xmin} of one conversation's child rows,
        each row named by its natural key's values (docs/tables.md; the
        tables have an index on conversation_id, not that key)."""
        out = {}
        for t in TABLES[1:]:
            key = " || '/' || ".join("%s::text" % c for c in NATURAL_KEYS[t])
            for line in sql_lines("SET TimeZone = 'UTC'; SELECT %s, ctid::text || xmin::text"
                                  " FROM %s.%s WHERE conversation_id = '%s'"
                                  % (key, self.target, t, conversation_id), db=self.db):
                row, version = line.rsplit("|", 1)
                out[(t, row)] = version
        return out


class TestSyncConversations(SyncTestCase):

    def test_first_sync_loads_every_table_exactly(self):
        proc = self.sync(", '%s', '%s'" % RANGE)
        self.assertIn("chunk 3 of 3", proc.stderr)
        rows = self.run_rows()
        run = rows[0]
        self.assertEqual((run["entry"], run["status"]), ("run", "succeeded"))
        chunks = [r for r in rows if r["entry"] == "chunk"]
        self.assertEqual([(r["window_start"][:10], r["window_end"][:10]) for r in chunks],
                         [("2024-03-01", "2024-03-08"), ("2024-03-08", "2024-03-15"),
                          ("2024-03-15", "2024-03-22")])
        # one request series per chunk, not one per table
        self.assertEqual(run["requests"], sum(r["pages"] for r in chunks))
        self.assertEqual(run["rows_read"], len(emu_conversations()))
        self.assertEqual(run["rows_upserted"], run["rows_read"])
        self.assertEqual(run["mode"], "query")
        self.assertEqual(run["watermark_after"][:10], "2024-03-22")
        self.assertEqual(run["in_progress"], int(scalar(
            "SELECT count(*) FROM wh.conversations WHERE conversation_end IS NULL")))
        self.assert_conversations_match_emulator()
        self.assert_tables_match_foreign()

    def test_children_keep_typed_columns_and_every_field_stays_reachable(self):
        self.sync(", '%s', '%s'" % RANGE)
        # one raw in the warehouse, the whole document, compressed with lz4
        self.assertEqual(sql_lines(
            "SELECT c.relname || '|' || a.attcompression::text FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'wh'::regnamespace"
            " AND c.relkind = 'r' AND a.attname = 'raw' AND NOT a.attisdropped"), ["conversations|l"])
        self.assert_tables_match_foreign()
        self.assert_every_field_reachable()

    def test_a_late_wrap_up_code_rewrites_only_its_segment(self):
        self.sync(", '%s', '%s'" % RANGE)
        late = late_wrap_up()
        before = self.row_versions(late)
        mutate({"action": "wrapup", "conversationId": late, "wrapUpCode": "LATE-CODE"})
        self.sync(", until => '%s'" % RANGE[1])
        run = self.run_rows()[0]
        self.assertEqual((run["rows_upserted"], run["child_rows"]), (1, 1))
        after = self.row_versions(late)
        self.assertEqual(set(after), set(before), "the conversation's rows are the same rows")
        rewritten = [k for k in before if after[k] != before[k]]
        self.assertEqual([t for t, _ in rewritten], ["segments"], "rewritten: %s" % rewritten)
        self.assertEqual(scalar("SELECT count(*) FROM wh.segments WHERE conversation_id = '%s'"
                                " AND wrap_up_code = 'LATE-CODE'" % late), "1")
        self.assert_tables_match_foreign()

    def test_rerun_over_the_same_range_changes_nothing(self):
        self.sync(", '%s', '%s'" % RANGE)
        before = self.table_versions()
        self.sync(", until => '%s', lookback => '21 days'" % RANGE[1])
        run = self.run_rows()[0]
        self.assertEqual(run["window_start"][:10], "2024-03-01")
        self.assertEqual((run["rows_upserted"], run["child_rows"]), (0, 0))
        self.assertEqual(run["rows_unchanged"], run["rows_read"])
        self.assertEqual(self.table_versions(), before, "a re-run rewrote rows")

    def test_late_changes_within_lookback_are_picked_up(self):
        self.sync(", '%s', '%s'" % RANGE)
        convs = emu("/__emu/dataset/conversations")
        ended = [c for c in convs if c["conversationStart"] >= "2024-03-21"
                 and "conversationEnd" in c and any(
                     s.get("segmentType") == "wrapup" for p in c["participants"]
                     for ss in p["sessions"] for s in ss["segments"])]
        open_ = [c for c in convs if c["conversationStart"] >= "2024-03-21"
                 and "conversationEnd" not in c]
        late_code = ended[0]["conversationId"]
        finishing = open_[0]["conversationId"]
        mutate({"action": "wrapup", "conversationId": late_code, "wrapUpCode": "LATE-CODE"})
        mutate({"action": "end", "conversationId": finishing, "at": "2024-03-21T23:50:00.000Z"})
        new_id = mutate({"action": "add", "start": "2024-03-20T10:00:00.000Z"})["conversationId"]
        before = self.table_versions(skip_ids=(late_code, finishing))

        self.sync(", until => '%s'" % RANGE[1])     # default lookback: 2 days
        rows = self.run_rows()
        run = rows[0]
        self.assertEqual(run["window_start"][:10], "2024-03-20")
        self.assertEqual(run["rows_upserted"], 3)
        self.assertEqual(scalar("SELECT count(*) FROM wh.segments WHERE wrap_up_code = 'LATE-CODE'"
                                " AND conversation_id = '%s'" % late_code), "1")
        self.assertEqual(scalar("SELECT conversation_end IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
                                " wh.segments s WHERE s.conversation_id = c.conversation_id AND"
                                " s.segment_end IS NULL) FROM wh.conversations c WHERE"
                                " conversation_id = '%s'" % finishing), "t")
        self.assertEqual(scalar("SELECT count(*) FROM wh.participants WHERE conversation_id = '%s'"
                                % new_id), str(len(emulator_participants(new_id))))
        self.assert_conversations_match_emulator()
        self.assert_tables_match_foreign()
        # rows of the conversations that did not change were not rewritten
        self.assertEqual(self.table_versions(skip_ids=(late_code, finishing, new_id)), before)

    def test_in_progress_before_lookback_is_refreshed_by_id(self):
        self.sync(", '%s', '%s'" % RANGE)
        old_open = scalar("SELECT conversation_id FROM wh.conversations WHERE conversation_end"
                          " IS NULL AND conversation_start < '2024-03-20'")
        self.assertIsNotNone(old_open, "the dataset has an old in-progress conversation")
        mutate({"action": "end", "conversationId": old_open, "at": "2024-03-11T09:00:00.000Z"})
        proc = self.sync(", until => '%s'" % RANGE[1])
        self.assertIn("re-read by id", proc.stderr)
        refresh = [r for r in self.run_rows() if r["entry"] == "refresh"]
        self.assertEqual(len(refresh), 1)
        self.assertEqual((refresh[0]["mode"], refresh[0]["rows_upserted"]), ("lookup", 1))
        self.assertEqual(scalar("SET TimeZone = 'UTC'; SELECT conversation_end FROM wh.conversations"
                                " WHERE conversation_id = '%s'" % old_open),
                         "2024-03-11 09:00:00+00")
        self.assert_tables_match_foreign()

    def test_failure_mid_run_keeps_committed_chunks_and_resumes(self):
        # chunk 1 takes three details pages; every later request fails
        emu_fault({"endpoint": "details", "status": 503, "after": 3, "count": 0})
        proc = self.sync(", '%s', '%s'" % RANGE, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("Chunks committed before the failure are kept", proc.stderr)
        rows = self.run_rows()
        self.assertEqual([(r["entry"], r["status"]) for r in rows],
                         [("run", "failed"), ("chunk", "succeeded"), ("chunk", "failed")])
        self.assertIn("503", rows[2]["error"])
        self.assertEqual(scalar("SET TimeZone = 'UTC'; SELECT watermark FROM gc_fdw.sync_state"),
                         "2024-03-08 00:00:00+00")
        self.assertEqual(scalar("SELECT count(*) FROM wh.conversations WHERE conversation_start"
                                " >= '2024-03-08'"), "0")
        emu_reset()                                     # the API recovers
        self.assert_tables_match_foreign(RANGE[0], "2024-03-08")

        self.sync(", until => '%s', lookback => '0'" % RANGE[1])
        rows = self.run_rows()
        self.assertEqual(rows[0]["status"], "succeeded")
        self.assertEqual(rows[1]["window_start"][:10], "2024-03-08")
        self.assert_conversations_match_emulator()
        self.assert_tables_match_foreign()

    def test_max_runtime_stops_at_a_chunk_boundary(self):
        emu_fault({"kind": "delay", "seconds": 0.5, "endpoint": "details", "count": 0})
        proc = self.sync(", '%s', '%s', max_runtime => '1 second'" % RANGE)
        self.assertIn("max_runtime", proc.stderr)
        rows = self.run_rows()
        self.assertEqual([(r["entry"], r["status"]) for r in rows],
                         [("run", "stopped"), ("chunk", "succeeded")])
        self.assertEqual(rows[0]["watermark_after"][:10], "2024-03-08")
        self.assertEqual(scalar("SET TimeZone = 'UTC'; SELECT watermark FROM gc_fdw.sync_state"),
                         "2024-03-08 00:00:00+00")
        self.assert_tables_match_foreign(RANGE[0], "2024-03-08")

    def test_concurrent_run_is_skipped_and_progress_is_visible(self):
        emu_fault({"kind": "delay", "seconds": 0.4, "endpoint": "details", "count": 0})
        first = gcfdw.psql_background(
            "CALL gc_fdw.sync_conversations('emu', 'wh', '2024-03-01', '2024-03-22');",
            "gc_sync_first")
        try:
            pid = gcfdw.backend_pid("gc_sync_first")
            deadline = time.monotonic() + 20
            progress = []
            while time.monotonic() < deadline and not progress:
                progress = sql_lines(
                    "SELECT foreign_table, server, waiting_on, wait_until IS NOT NULL,"
                    " window_start IS NOT NULL FROM gc_fdw.progress WHERE pid = %d"
                    " AND waiting_on LIKE 'HTTP POST /api/v2/%%'" % pid)
                time.sleep(0.05)
            self.assertTrue(progress, "gc_fdw.progress never showed the running scan")
            table, server, waiting, has_until, has_window = progress[0].split("|")
            self.assertEqual((table, server), ("%s.conversations" % SRC, "emu"))
            self.assertRegex(waiting, r"^HTTP POST /api/v2/analytics/conversations/details/query")
            self.assertEqual((has_until, has_window), ("t", "t"))

            # what pg_stat_activity shows of the running sync holds no secret
            activity = psql("SELECT string_agg(query, ' ') FROM pg_stat_activity").stdout
            self.assertIn("gc_fdw.sync_conversations", activity)
            self.assertNotIn(os.environ["GC_EMU_SECRET"], activity)

            t0 = time.monotonic()
            second = self.sync(", '%s', '%s'" % RANGE)
            self.assertLess(time.monotonic() - t0, 10)
            self.assertIn("is already running (pid %d); skipped" % pid, second.stderr)
            self.assertEqual(scalar("SELECT status FROM gc_fdw.sync_log WHERE status = 'skipped'"),
                             "skipped")
        finally:
            first.stdin = None          # psql_background wrote and closed it
            _, err = first.communicate(timeout=120)
        self.assertEqual(first.returncode, 0, err)
        self.assert_tables_match_foreign()

    def test_jobs_mode_loads_attributes_and_query_mode_keeps_them(self):
        # the sync's source tables read through the async jobs API
        psql("SET client_min_messages = warning;"
             " SELECT gc_fdw.sync_prepare('emu', 'wh', 'conversations');"
             " ALTER SERVER emu OPTIONS (ADD jobs_poll_interval '1');" + "".join(
                 " ALTER FOREIGN TABLE %s.%s OPTIONS (ADD mode 'jobs');" % (SRC, t)
                 for t in TABLES))
        self.sync(", '2024-03-01', '2024-03-15'")
        rows = self.run_rows()
        self.assertEqual({r["mode"] for r in rows}, {"jobs"})
        self.assertEqual(rows[1]["data_availability"][:10], "2024-03-20")
        attributes = int(scalar("SELECT count(*) FROM wh.participant_attributes"))
        self.assertGreater(attributes, 0)
        self.assert_tables_match_foreign("2024-03-01", "2024-03-15")

        # back to the details query, which carries no attributes: they stay
        psql("".join("ALTER FOREIGN TABLE %s.%s OPTIONS (DROP mode);" % (SRC, t)
                     for t in TABLES))
        self.sync(", until => '2024-03-15', lookback => '14 days'")
        self.assertEqual(self.run_rows()[0]["mode"], "query")
        self.assertEqual(int(scalar("SELECT count(*) FROM wh.participant_attributes")),
                         attributes)

    def test_stats_count_what_was_sent(self):
        out = sql_lines("CALL gc_fdw.sync_conversations('emu', 'wh', '2024-03-01', '2024-03-08');"
                        " SELECT 'progress|' || count(*) FROM gc_fdw.progress"
                        "  WHERE pid = pg_backend_pid();"
                        " SELECT endpoint || '|' || requests || '|' || pages || '|' || rows"
                        " FROM gc_fdw.stats() ORDER BY endpoint;"
                        " SELECT gc_fdw.stats_reset();"
                        " SELECT 'after reset|' || count(*) FROM gc_fdw.stats();")
        self.assertIn("progress|0", out, "a finished scan left its progress row")
        self.assertIn("after reset|0", out)
        stats = {l.split("|")[0]: tuple(int(x) for x in l.split("|")[1:])
                 for l in out if l.startswith(("POST", "GET"))}
        details = [e for e in gcfdw.emu_log() if e["path"].startswith(
            "/api/v2/analytics/conversations/details/query")]
        self.assertEqual(stats["POST /api/v2/analytics/conversations/details/query"],
                         (len(details), len(details),
                          int(scalar("SELECT count(*) FROM wh.conversations"))))
        self.assertEqual(stats["POST /oauth/token"][0], 1)


def late_wrap_up():
    """A conversation of the last day that has ended with a wrap-up segment:
    what a late wrap-up code changes."""
    return [c["conversationId"] for c in emu("/__emu/dataset/conversations")
            if c["conversationStart"] >= "2024-03-21" and "conversationEnd" in c and any(
                g.get("segmentType") == "wrapup" for p in c["participants"]
                for ss in p["sessions"] for g in ss["segments"])][0]


def emulator_participants(conversation_id):
    """Participants of a conversation as the emulator serves it."""
    for c in emu("/__emu/dataset/conversations"):
        if c["conversationId"] == conversation_id:
            return c["participants"]
    return []


class TestSyncUsers(SyncTestCase):

    def test_users_refresh_upserts_and_marks_missing(self):
        call("CALL gc_fdw.sync_users('emu', 'wh');")
        users = emu("/__emu/dataset/users")
        self.assertEqual(scalar("SELECT count(*) FROM wh.users WHERE missing_since IS NULL"),
                         str(len(users)))
        gone, changed = users[3]["id"], users[4]["id"]
        mutate({"action": "remove_user", "id": gone})
        mutate({"action": "update_user", "id": changed, "fields": {"title": "Chief Warehouser"}})
        before = scalar("SELECT md5(string_agg(ctid::text || xmin::text, ',' ORDER BY id))"
                        " FROM wh.users WHERE id NOT IN ('%s', '%s')" % (gone, changed))

        proc = call("CALL gc_fdw.sync_users('emu', 'wh');")
        self.assertIn("1 written", proc.stderr)
        run = self.run_rows()[0]
        self.assertEqual((run["rows_read"], run["rows_upserted"], run["rows_marked_missing"]),
                         (len(users) - 1, 1, 1))
        self.assertEqual(scalar("SELECT title FROM wh.users WHERE id = '%s'" % changed),
                         "Chief Warehouser")
        self.assertEqual(scalar("SELECT missing_since IS NOT NULL FROM wh.users WHERE id = '%s'"
                                % gone), "t")
        self.assertEqual(scalar("SELECT md5(string_agg(ctid::text || xmin::text, ',' ORDER BY id))"
                                " FROM wh.users WHERE id NOT IN ('%s', '%s')" % (gone, changed)),
                         before, "unchanged users were rewritten")

        emu_reset()                                     # the user is back
        call("CALL gc_fdw.sync_users('emu', 'wh');")
        self.assertEqual(scalar("SELECT missing_since IS NULL FROM wh.users WHERE id = '%s'"
                                % gone), "t")


UPGRADE_DB = "gc_upgrade"


class TestWarehouseBuiltBy11(SyncTestCase):
    """A warehouse built by the 1.1 procedures (gc_fdw installed as version
    1.1 in a database of its own), then the extension updated: the new sync
    keeps that warehouse exact as it is, gc_fdw.slim_warehouse brings it to
    the new shape in place, and syncs go on from there."""
    db = UPGRADE_DB

    @classmethod
    def setUpClass(cls):
        for stmt in ("DROP DATABASE IF EXISTS %s" % UPGRADE_DB, "CREATE DATABASE %s" % UPGRADE_DB):
            subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", stmt],
                           check=True, capture_output=True)
        psql("CREATE EXTENSION gc_fdw VERSION '1.1';" + gcfdw.SETUP_SQL, db=UPGRADE_DB)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c",
                        "DROP DATABASE IF EXISTS %s" % UPGRADE_DB], capture_output=True)

    def setUp(self):
        emu_reset()

    def sizes(self):
        return {t: int(scalar("SELECT pg_total_relation_size('wh.%s')" % t, db=self.db))
                for t in TABLES}

    def raw_columns(self):
        return sql_lines("SELECT c.relname || '|' || a.attcompression::text FROM pg_attribute a"
                         " JOIN pg_class c ON c.oid = a.attrelid"
                         " WHERE c.relnamespace = 'wh'::regnamespace AND c.relkind = 'r'"
                         " AND a.attname = 'raw' AND NOT a.attisdropped ORDER BY 1", db=self.db)

    def shape(self, schema):
        """Each table of schema: its columns (name, type, NOT NULL,
        compression) and its indexes, names aside."""
        return sql_lines(
            "SELECT c.relname || '|' || (SELECT string_agg(format('%%s %%s%%s %%s', a.attname,"
            " format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN ' not null' END,"
            " a.attcompression), ', ' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid"
            " AND a.attnum > 0 AND NOT a.attisdropped) || '|' || coalesce((SELECT string_agg("
            " CASE WHEN i.indisprimary THEN 'primary key ' ELSE '' END || substring("
            " pg_get_indexdef(i.indexrelid) FROM ' USING .*$'), ', ' ORDER BY 1) FROM pg_index i"
            " WHERE i.indrelid = c.oid), '') FROM pg_class c"
            " WHERE c.relnamespace = '%s'::regnamespace AND c.relkind = 'r' ORDER BY 1" % schema,
            db=self.db)

    def test_slim_warehouse_built_by_1_1(self):
        self.sync(", '%s', '%s'" % RANGE)
        self.assertEqual(scalar("SELECT extversion FROM pg_extension WHERE extname = 'gc_fdw'",
                                db=self.db), "1.1")
        # 1.1's shape: every level keeps its whole subtree, compressed with pglz
        self.assertEqual(self.raw_columns(), ["conversations|", "participants|", "segments|",
                                              "session_metrics|", "sessions|"])
        sizes_11 = self.sizes()

        psql("ALTER EXTENSION gc_fdw UPDATE", db=self.db)
        self.assertEqual(scalar("SELECT extversion FROM pg_extension WHERE extname = 'gc_fdw'",
                                db=self.db), "1.2")
        # not slimmed, it keeps working: a late change lands, child raw too
        mutate({"action": "wrapup", "conversationId": late_wrap_up(), "wrapUpCode": "LATE-CODE"})
        self.sync(", until => '%s'" % RANGE[1])
        self.assertEqual(self.run_rows()[0]["rows_upserted"], 1)
        self.assert_tables_match_foreign()

        proc = call("CALL gc_fdw.slim_warehouse('wh')", db=self.db)
        for t, dropped, key in (
                ("participants", "conversation_start, raw", "conversation_id, participant_id"),
                ("sessions", "conversation_start, raw", "conversation_id, session_id"),
                ("segments", "conversation_start, participant_id, raw",
                 "conversation_id, session_id, segment_start, segment_type"),
                ("session_metrics", "conversation_start, participant_id, raw",
                 "conversation_id, session_id, name, emit_date")):
            self.assertRegex(proc.stderr, r"slimmed wh\.%s \(dropped %s; primary key \(%s\)"
                             r" replaced by an index on conversation_id\)" % (t, dropped, key))
        self.assertRegex(proc.stderr, r"slimmed wh\.conversations \(lz4 for raw\)")
        self.assertEqual(self.raw_columns(), ["conversations|l"])
        # the shape the sync gives the tables it creates
        psql("SET client_min_messages = warning;"
             " SELECT gc_fdw.sync_prepare('emu', 'wh_new', 'conversations')", db=self.db)
        self.assertEqual(self.shape("wh"), self.shape("wh_new"))
        sizes_12 = self.sizes()
        for t in ("participants", "sessions", "segments", "session_metrics"):
            self.assertLess(sizes_12[t], sizes_11[t], t)
        self.assertLess(sum(sizes_12.values()), 0.6 * sum(sizes_11.values()))
        self.assert_tables_match_foreign()
        self.assert_every_field_reachable()

        # syncs go on: over the same range, nothing is rewritten
        before = self.table_versions()
        self.sync(", until => '%s', lookback => '21 days'" % RANGE[1])
        run = self.run_rows()[0]
        self.assertEqual((run["status"], run["rows_upserted"], run["child_rows"]),
                         ("succeeded", 0, 0))
        self.assertEqual(self.table_versions(), before, "a re-run rewrote rows")
        # and a second slimming has nothing left to do
        self.assertNotIn("slimmed", call("CALL gc_fdw.slim_warehouse('wh')", db=self.db).stderr)


if __name__ == "__main__":
    unittest.main()
