"""Warehousing the users' status history: gc_fdw.sync_user_status against
the emulator, by hand (its pg_cron schedule is in test_sync_directory.py,
with the directory's).

Every check compares the local tables with the emulator's own records
(/__emu/dataset/user_presence and user_routing_status, every field), not
with what the foreign tables return: a record is in the warehouse when it
starts in the range synced, exactly as the API has it now.
"""
import time
import unittest

import gcfdw
from gcfdw import psql, emu, emu_reset, emu_fault
from test_sync import SRC, SyncTestCase, call, scalar, sql_lines, mutate

RANGE = ("2024-03-01", "2024-03-22")
TABLES = ("user_presence", "user_routing_status")
# the emulator's form of an instant, as PostgreSQL prints it in UTC
ISO = "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
COLUMNS = {
    "user_presence": ("systemPresence", "organizationPresenceId"),
    "user_routing_status": ("routingStatus",),
}


def truth(table, lo=RANGE[0], hi=RANGE[1]):
    """The emulator's records of table that start in [lo, hi), as tuples
    (userId, startTime, endTime or None, the record's other fields)."""
    return {(r["userId"], r["startTime"], r.get("endTime")) + tuple(r[k] for k in COLUMNS[table])
            for r in emu("/__emu/dataset/" + table) if lo <= r["startTime"][:10] < hi}


def run_beside(first_sql, application_name, second):
    """Start first_sql in a session of its own, call second() while it runs,
    and wait for the first to end, which must succeed; returns the first's
    backend pid and what second() returned."""
    first = gcfdw.psql_background(first_sql, application_name)
    try:
        pid = gcfdw.backend_pid(application_name)
        result = second()
    finally:
        first.stdin = None          # psql_background wrote and closed it
        _, err = first.communicate(timeout=180)
    if first.returncode != 0:
        raise AssertionError("the first run failed: %s" % err)
    return pid, result


class StatusSyncTestCase(SyncTestCase):

    def sync(self, args="", check=True):
        return call("SET TimeZone = 'UTC'; CALL gc_fdw.sync_user_status('emu', '%s'%s);"
                    % (self.target, args), check=check, db=self.db)

    def local(self, table, lo=RANGE[0], hi=RANGE[1]):
        """The warehouse's records of table that start in [lo, hi), in the
        form of truth()."""
        cols = ("system_presence, organization_presence_id" if table == "user_presence"
                else "routing_status")
        rows = set()
        for line in sql_lines("SELECT user_id, %s, coalesce(%s, ''), %s FROM %s.%s"
                              " WHERE start_time >= '%s' AND start_time < '%s'"
                              % (ISO % "start_time", ISO % "end_time", cols,
                                 self.target, table, lo, hi), db=self.db):
            f = line.split("|")
            rows.add((f[0], f[1], f[2] or None) + tuple(f[3:]))
        return rows

    def assert_matches_emulator(self, lo=RANGE[0], hi=RANGE[1]):
        for t in TABLES:
            want, got = truth(t, lo, hi), self.local(t, lo, hi)
            self.assertGreater(len(want), 0)
            self.assertEqual(len(got - want), 0, "%s: %d local records not in the emulator, e.g. %s"
                             % (t, len(got - want), sorted(got - want)[:3]))
            self.assertEqual(len(want - got), 0, "%s: %d emulator records not stored, e.g. %s"
                             % (t, len(want - got), sorted(want - got)[:3]))

    def row_versions(self):
        """ctid and xmin of every stored record, by key."""
        out = {}
        for t in TABLES:
            for line in sql_lines("SELECT user_id, %s, ctid::text || xmin::text FROM %s.%s"
                                  % (ISO % "start_time", self.target, t), db=self.db):
                user, start, version = line.split("|")
                out[(t, user, start)] = version
        return out


class TestSyncUserStatus(StatusSyncTestCase):

    def test_first_sync_loads_both_tables_exactly(self):
        proc = self.sync(", '%s', '%s'" % RANGE)
        self.assertIn("chunk 3 of 3", proc.stderr)
        rows = self.run_rows()
        run = rows[0]
        self.assertEqual((run["entry"], run["status"], run["mode"]), ("run", "succeeded", "query"))
        self.assertEqual([(r["entry"], r["window_start"][:10], r["window_end"][:10]) for r in rows[1:]],
                         [("chunk", "2024-03-01", "2024-03-08"), ("chunk", "2024-03-08", "2024-03-15"),
                          ("chunk", "2024-03-15", "2024-03-22")])
        self.assertEqual(run["watermark_after"][:10], "2024-03-22")
        self.assert_matches_emulator()
        records = sum(len(truth(t)) for t in TABLES)
        self.assertEqual((run["rows_read"], run["rows_upserted"]), (records, records))
        self.assertEqual(run["in_progress"], sum(1 for t in TABLES for r in truth(t) if r[2] is None))
        self.assertEqual(run["requests"], sum(r["requests"] for r in rows[1:]))
        # no raw: a record's JSON has no field without a column
        self.assertEqual(sql_lines("SELECT count(*) FROM pg_attribute WHERE attname = 'raw'"
                                   " AND attrelid IN ('wh.user_presence'::regclass,"
                                   " 'wh.user_routing_status'::regclass)"), ["0"])

    def test_rerun_over_the_same_range_rewrites_nothing(self):
        self.sync(", '%s', '%s'" % RANGE)
        before = self.row_versions()
        self.sync(", until => '%s', lookback => '21 days'" % RANGE[1])
        run = self.run_rows()[0]
        self.assertEqual(run["window_start"][:10], "2024-03-01")
        self.assertEqual(run["rows_upserted"], 0)
        self.assertEqual(run["rows_unchanged"], run["rows_read"])
        self.assertEqual(self.row_versions(), before, "a re-run rewrote records")

    def test_a_record_open_since_before_the_lookback_is_updated_when_it_closes(self):
        self.sync(", '%s', '%s'" % RANGE)
        # the agent handling the email in progress since 2024-03-10 is
        # ON_QUEUE and INTERACTING to the end of the data: open records that
        # started long before a later run's 2-day lookback
        old = sorted((r[1], r[0]) for r in truth("user_routing_status")
                     if r[2] is None and r[3] == "INTERACTING")[0]
        started, agent = old
        self.assertLess(started, "2024-03-11")
        before = self.row_versions()
        # it closes after the first run (its watermark is 2024-03-22)
        mutate({"action": "end_user_status", "userId": agent, "at": "2024-03-22T00:30:00.000Z"})
        seen = max(e["seq"] for e in gcfdw.emu_log())

        proc = self.sync(", until => '%s'" % RANGE[1])          # default lookback: 2 days
        self.assertIn("open from before 2024-03-20 00:00:00+00 re-read", proc.stderr)
        rows = self.run_rows()
        self.assertEqual([(r["entry"], r["status"]) for r in rows],
                         [("run", "succeeded"), ("chunk", "succeeded"), ("refresh", "succeeded")])
        self.assertEqual(rows[0]["window_start"][:10], "2024-03-20")
        # its presence and routing records, and nothing else, were written
        self.assertEqual(rows[0]["rows_upserted"], 2)
        self.assertEqual(rows[2]["rows_upserted"], 2)
        after = self.row_versions()
        self.assertEqual(set(after), set(before))
        self.assertEqual(sorted((k[0], k[1]) for k in before if after[k] != before[k]),
                         [("user_presence", agent), ("user_routing_status", agent)])
        self.assertEqual(scalar("SELECT %s FROM wh.user_routing_status WHERE user_id = '%s'"
                                " AND %s = '%s'" % (ISO % "end_time", agent, ISO % "start_time", started)),
                         "2024-03-22T00:30:00.000Z")
        self.assert_matches_emulator()
        # the refresh asked for the records in progress at one instant, once per table
        intervals = [e["body"]["interval"] for e in gcfdw.emu_log()
                     if e["seq"] > seen and e["path"] == "/api/v2/analytics/users/details/query"]
        self.assertEqual(sum(1 for i in set(intervals)
                             if i == "2024-03-20T00:00:00.000Z/2024-03-20T00:00:00.001Z"), 1)

    def test_a_late_record_within_the_lookback_is_picked_up(self):
        self.sync(", '%s', '%s'" % RANGE)
        with_records = {r[0] for t in TABLES for r in truth(t, "2024-02-01", "2024-04-01")}
        without = sorted(u["id"] for u in emu("/__emu/dataset/users")
                         if u["state"] == "active" and u["id"] not in with_records)[0]
        mutate({"action": "add_user_status", "userId": without, "start": "2024-03-21T10:00:00.000Z",
                "minutes": 5})
        self.sync(", until => '%s'" % RANGE[1])
        run = self.run_rows()[0]
        self.assertEqual(run["rows_upserted"], 2)
        self.assertEqual(scalar("SELECT count(*) FROM wh.user_presence WHERE user_id = '%s'" % without),
                         "1")
        self.assert_matches_emulator()

    def test_failure_mid_run_keeps_committed_chunks_and_resumes(self):
        # the first page of each table's first chunk, then no first page answers
        emu_fault({"endpoint": "userdetails", "status": 503, "page": 1, "after": 2, "count": 0})
        proc = self.sync(", '%s', '%s'" % RANGE, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("ERROR:  Genesys Cloud API request failed", proc.stderr)
        self.assertIn("Chunks committed before the failure are kept; the next run resumes from"
                      " the watermark (2024-03-08 00:00:00+00)", proc.stderr)
        rows = self.run_rows()
        self.assertEqual([(r["entry"], r["status"]) for r in rows],
                         [("run", "failed"), ("chunk", "succeeded"), ("chunk", "failed")])
        self.assertIn("503", rows[2]["error"])
        self.assertEqual(scalar("SET TimeZone = 'UTC'; SELECT watermark || '|' || last_status"
                                " FROM gc_fdw.sync_state WHERE kind = 'user_status'"),
                         "2024-03-08 00:00:00+00|failed")
        for t in TABLES:
            self.assertEqual(scalar("SELECT count(*) FROM wh.%s WHERE start_time >= '2024-03-08'" % t),
                             "0")
        emu_reset()                                     # the API recovers
        self.assert_matches_emulator(RANGE[0], "2024-03-08")

        self.sync(", until => '%s', lookback => '0'" % RANGE[1])
        rows = self.run_rows()
        self.assertEqual(rows[0]["status"], "succeeded")
        self.assertEqual(rows[1]["window_start"][:10], "2024-03-08")
        self.assert_matches_emulator()

    def test_jobs_mode_loads_the_same_records(self):
        # the sync's source tables read through the async jobs API
        psql("SET client_min_messages = warning;"
             " SELECT gc_fdw.sync_prepare('emu', 'wh', 'user_status');"
             " ALTER SERVER emu OPTIONS (ADD jobs_poll_interval '1');" + "".join(
                 " ALTER FOREIGN TABLE %s.%s OPTIONS (ADD mode 'jobs');" % (SRC, t) for t in TABLES))
        try:
            self.sync(", '2024-03-01', '2024-03-15'")
        finally:
            psql("ALTER SERVER emu OPTIONS (DROP jobs_poll_interval);")
        rows = self.run_rows()
        self.assertEqual([(r["entry"], r["mode"]) for r in rows],
                         [("run", "jobs"), ("chunk", "jobs"), ("chunk", "jobs")])
        self.assertEqual(rows[1]["data_availability"][:10], "2024-03-20")
        self.assert_matches_emulator("2024-03-01", "2024-03-15")

    def test_a_second_run_is_skipped_while_one_runs(self):
        emu_fault({"kind": "delay", "seconds": 0.3, "endpoint": "userdetails", "count": 0})
        t0 = time.monotonic()
        pid, second = run_beside("CALL gc_fdw.sync_user_status('emu', 'wh', '2024-03-01', '2024-03-22');",
                                 "gc_status_first", lambda: (self.sync(", '%s', '%s'" % RANGE),
                                                             time.monotonic() - t0))
        self.assertLess(second[1], 10)
        self.assertIn("a sync of user_status from server \"emu\" into schema \"wh\" is already"
                      " running (pid %d); skipped" % pid, second[0].stderr)
        self.assertEqual(sql_lines("SELECT procedure || '|' || status FROM gc_fdw.sync_log"
                                   " WHERE entry = 'run' ORDER BY log_id"),
                         ["sync_user_status|succeeded", "sync_user_status|skipped"])
        emu_reset()
        self.assert_matches_emulator()


if __name__ == "__main__":
    unittest.main()
