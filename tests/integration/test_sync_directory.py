"""Warehousing the directory: gc_fdw.sync_directory (and gc_fdw.sync_users,
its refresh of users alone) against the emulator, by hand, from pg_cron
(with every other sync procedure), and in a warehouse that 1.1's sync_users
built before the extension was updated.

Every table is compared with the emulator's own copy of its listing
(/__emu/dataset/<table>): the ids, and each row's raw JSON, the entity as
the API renders it, field for field.
"""
import json
import time
import unittest

from gcfdw import psql, emu, emu_reset, emu_fault
import test_sync
from test_sync import SyncTestCase, call, scalar, sql_lines, mutate
from test_sync_user_status import StatusSyncTestCase, run_beside, truth as status_truth

DIRECTORY = ("queues", "queue_members", "wrapup_codes", "divisions", "groups", "skills",
             "languages", "locations", "presence_definitions")
TABLES = ("users",) + DIRECTORY


def key_of(table, entity):
    return (entity["queueId"], entity["id"]) if table == "queue_members" else (entity["id"],)


def truth(table):
    """{key: entity as JSON text, keys sorted} of the emulator's listing of
    table, each entity as the listing renders it (a queue member with its
    queue's id, as the foreign table gives it)."""
    return {key_of(table, e): json.dumps(e, sort_keys=True) for e in emu("/__emu/dataset/" + table)}


class DirectorySyncTestCase(SyncTestCase):

    def sync_directory(self, args="", check=True, procedure="sync_directory"):
        return call("CALL gc_fdw.%s('emu', '%s'%s);" % (procedure, self.target, args),
                    check=check, db=self.db)

    def local(self, table, missing=False):
        """{key: raw as JSON text, keys sorted} of the rows of table that
        are (not) marked missing."""
        key = "queue_id, user_id" if table == "queue_members" else "id"
        out = {}
        for line in sql_lines("SELECT json_build_array(%s, raw) FROM %s.%s WHERE missing_since IS %s NULL"
                              % (key, self.target, table, "NOT" if missing else ""), db=self.db):
            row = json.loads(line)
            out[tuple(row[:-1])] = json.dumps(row[-1], sort_keys=True)
        return out

    def assert_matches_emulator(self, tables=TABLES):
        for t in tables:
            want, got = truth(t), self.local(t)
            self.assertGreater(len(want), 0, t)
            self.assertEqual(sorted(got), sorted(want), "%s: the ids differ" % t)
            differ = [k for k in want if got[k] != want[k]]
            self.assertEqual(differ, [], "%s: rows differ from the API's" % t)

    def row_versions(self, tables=TABLES):
        return {t: scalar("SELECT md5(string_agg(ctid::text || xmin::text, ',' ORDER BY ctid))"
                          " FROM %s.%s" % (self.target, t), db=self.db) for t in tables}

    def chunks(self):
        """{table: its chunk row} of the last run."""
        return {r["mode"]: r for r in self.run_rows() if r["entry"] == "chunk"}


class TestSyncDirectory(DirectorySyncTestCase):

    def test_first_sync_loads_every_table_exactly(self):
        proc = self.sync_directory()
        rows = self.run_rows()
        run = rows[0]
        self.assertEqual((run["entry"], run["procedure"], run["mode"], run["status"]),
                         ("run", "sync_directory", "directory", "succeeded"))
        # users first, then each table in a transaction of its own
        self.assertEqual([r["mode"] for r in rows[1:]], list(TABLES))
        for r in rows[1:]:
            self.assertEqual((r["status"], r["rows_read"], r["rows_upserted"], r["rows_marked_missing"]),
                             ("succeeded", len(truth(r["mode"])), len(truth(r["mode"])), 0), r["mode"])
            self.assertIn("gc_fdw: %s: %d read, %d written" % (r["mode"], r["rows_read"], r["rows_read"]),
                          proc.stderr)
        self.assertEqual(run["rows_read"], sum(r["rows_read"] for r in rows[1:]))
        self.assertEqual(run["requests"], sum(r["requests"] for r in rows[1:]))
        self.assertEqual(sql_lines("SELECT kind || '|' || last_status || '|' || (last_run_id = %d)"
                                   " FROM gc_fdw.sync_state ORDER BY kind" % run["run_id"]),
                         ["%s|succeeded|true" % t for t in sorted(TABLES)])
        self.assert_matches_emulator()

    def test_rerun_rewrites_nothing(self):
        self.sync_directory()
        before = self.row_versions()
        self.sync_directory()
        run = self.run_rows()[0]
        self.assertEqual((run["rows_upserted"], run["rows_marked_missing"]), (0, 0))
        self.assertEqual(run["rows_unchanged"], run["rows_read"])
        self.assertEqual(self.row_versions(), before, "a re-run rewrote rows")

    def test_removed_rows_are_kept_and_marked_and_come_back(self):
        self.sync_directory()
        members = emu("/__emu/dataset/queue_members")
        queue = members[0]["queueId"]
        its_members = {(m["queueId"], m["id"]) for m in members if m["queueId"] == queue}
        skill = emu("/__emu/dataset/skills")[3]["id"]
        code = emu("/__emu/dataset/wrapup_codes")[5]["id"]
        mutate({"action": "remove_entity", "table": "queues", "id": queue})
        mutate({"action": "remove_entity", "table": "wrapup_codes", "id": code})
        mutate({"action": "rename_entity", "table": "skills", "id": skill, "name": "Renamed \"Skill\" é"})
        before = self.row_versions(("users", "divisions", "groups", "languages", "locations",
                                    "presence_definitions"))

        proc = self.sync_directory()
        chunks = self.chunks()
        self.assertEqual({t: (c["rows_upserted"], c["rows_marked_missing"]) for t, c in chunks.items()},
                         dict({t: (0, 0) for t in TABLES}, queues=(0, 1),
                              queue_members=(0, len(its_members)), wrapup_codes=(0, 1),
                              skills=(1, 0)))
        self.assertIn("gc_fdw: queues: 24 read, 0 written, 24 unchanged, 1 newly missing from the API",
                      proc.stderr)
        self.assertEqual(set(self.local("queues", missing=True)), {(queue,)})
        self.assertEqual(set(self.local("queue_members", missing=True)), its_members)
        self.assertEqual(set(self.local("wrapup_codes", missing=True)), {(code,)})
        self.assertEqual(scalar("SELECT name FROM wh.skills WHERE id = '%s'" % skill), 'Renamed "Skill" é')
        self.assert_matches_emulator()
        self.assertEqual(self.row_versions(("users", "divisions", "groups", "languages", "locations",
                                            "presence_definitions")), before)
        # a second run marks nothing again
        self.sync_directory()
        self.assertEqual(self.run_rows()[0]["rows_marked_missing"], 0)

        emu_reset()                                     # they are back
        self.sync_directory()
        chunks = self.chunks()
        self.assertEqual((chunks["queues"]["rows_upserted"], chunks["queue_members"]["rows_upserted"],
                          chunks["wrapup_codes"]["rows_upserted"]), (1, len(its_members), 1))
        self.assertEqual(scalar("SELECT count(*) FROM wh.queue_members WHERE missing_since IS NOT NULL"),
                         "0")
        self.assert_matches_emulator()

    def test_a_failed_or_an_empty_read_marks_nothing(self):
        self.sync_directory()
        group = emu("/__emu/dataset/groups")[0]["id"]
        skill = emu("/__emu/dataset/skills")[0]["id"]
        mutate({"action": "remove_entity", "table": "groups", "id": group})
        mutate({"action": "rename_entity", "table": "skills", "id": skill, "name": "Still read"})
        emu_fault({"endpoint": "directory", "path": "/api/v2/groups", "status": 503, "count": 0})
        proc = self.sync_directory(check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("ERROR:  Genesys Cloud API request failed: GET /api/v2/groups", proc.stderr)
        self.assertIn("Tables that failed, left as they were: groups.", proc.stderr)
        chunks = self.chunks()
        self.assertEqual(chunks["groups"]["status"], "failed")
        self.assertIn("503", chunks["groups"]["error"])
        self.assertEqual(self.run_rows()[0]["status"], "failed")
        # the group the failed read did not return is not marked; the other
        # tables were refreshed
        self.assertEqual(scalar("SELECT count(*) FROM wh.groups WHERE missing_since IS NOT NULL"), "0")
        self.assertEqual(scalar("SELECT name FROM wh.skills WHERE id = '%s'" % skill), "Still read")
        self.assertEqual(sql_lines("SELECT kind FROM gc_fdw.sync_state WHERE last_status = 'failed'"),
                         ["groups"])

        # an empty answer: the organization's locations all gone at once
        emu_reset()
        for loc in emu("/__emu/dataset/locations"):
            mutate({"action": "remove_entity", "table": "locations", "id": loc["id"]})
        self.sync_directory(", ARRAY['locations']")
        chunk = self.chunks()["locations"]
        self.assertEqual((chunk["status"], chunk["rows_read"], chunk["rows_marked_missing"]),
                         ("succeeded", 0, 0))
        self.assertEqual(scalar("SELECT count(*) FILTER (WHERE missing_since IS NULL) || '|' || count(*)"
                                " FROM wh.locations"), "10|10")

    def test_a_cancel_stops_the_run_at_once(self):
        self.sync_directory()
        # users answer at once; the directory's listings take 3 s each
        emu_fault({"kind": "delay", "seconds": 3, "endpoint": "directory", "count": 0})
        t0 = time.monotonic()
        proc = call("SET statement_timeout = '1s'; CALL gc_fdw.sync_directory('emu', 'wh');",
                    check=False)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn("ERROR:  canceling statement due to statement timeout", proc.stderr)
        self.assertIn("Tables that failed, left as they were: queues (cancelled: the tables after it"
                      " were not read).", proc.stderr)
        rows = self.run_rows()
        self.assertEqual([(r["entry"], r["mode"], r["status"]) for r in rows],
                         [("run", "directory", "failed"), ("chunk", "users", "succeeded"),
                          ("chunk", "queues", "failed")])
        self.assertIn("57014", rows[2]["error"])
        self.assertEqual(scalar("SELECT count(*) FROM wh.queues WHERE missing_since IS NOT NULL"), "0")

    def test_sync_users_refreshes_users_alone_under_its_name(self):
        proc = self.sync_directory(procedure="sync_users")
        self.assertIn("gc_fdw: users: 600 read, 600 written", proc.stderr)
        self.assertEqual(sql_lines("SELECT relname FROM pg_class WHERE relnamespace = 'wh'::regnamespace"
                                   " AND relkind = 'r'"), ["users"])
        self.assertEqual([(r["procedure"], r["entry"], r["mode"]) for r in self.run_rows()],
                         [("sync_users", "run", "users"), ("sync_users", "chunk", "users")])
        self.assertEqual(sql_lines("SELECT kind FROM gc_fdw.sync_state"), ["users"])
        self.assert_matches_emulator(("users",))

    def test_sync_users_is_skipped_while_the_directory_is_refreshed(self):
        emu_fault({"kind": "delay", "seconds": 0.3, "endpoint": "directory", "count": 0})
        pid, second = run_beside("CALL gc_fdw.sync_directory('emu', 'wh');", "gc_directory_first",
                                 lambda: self.sync_directory(procedure="sync_users"))
        self.assertIn("a sync of directory from server \"emu\" into schema \"wh\" is already"
                      " running (pid %d); skipped" % pid, second.stderr)
        self.assertEqual(sql_lines("SELECT status FROM gc_fdw.sync_log WHERE entry = 'run'"
                                   " ORDER BY log_id"), ["succeeded", "skipped"])
        emu_reset()
        self.assert_matches_emulator()


class TestUsersWarehouseBuiltBy11(DirectorySyncTestCase):
    """An installation at 1.1 whose users table sync_users built and keeps,
    updated to 1.2: both names go on working on that table.  gc_fdw is
    installed as 1.1 in a database of its own, as test_sync's
    TestWarehouseBuiltBy11 does it."""
    db = test_sync.UPGRADE_DB
    setUpClass = classmethod(test_sync.TestWarehouseBuiltBy11.setUpClass.__func__)
    tearDownClass = classmethod(test_sync.TestWarehouseBuiltBy11.tearDownClass.__func__)
    setUp = test_sync.TestWarehouseBuiltBy11.setUp

    def version(self):
        return scalar("SELECT extversion FROM pg_extension WHERE extname = 'gc_fdw'", db=self.db)

    def test_sync_users_and_sync_directory_after_the_update(self):
        self.sync_directory(procedure="sync_users")
        self.assertEqual(self.version(), "1.1")
        users = emu("/__emu/dataset/users")
        gone = users[7]["id"]
        mutate({"action": "remove_user", "id": gone})
        self.sync_directory(procedure="sync_users")
        state_11 = scalar("SELECT last_run_id FROM gc_fdw.sync_state WHERE kind = 'users'", db=self.db)

        psql("ALTER EXTENSION gc_fdw UPDATE", db=self.db)
        self.assertEqual(self.version(), "1.2")
        before = self.row_versions(("users",))
        proc = self.sync_directory(procedure="sync_users")
        self.assertIn("gc_fdw: users: %d read, 0 written" % (len(users) - 1), proc.stderr)
        run = self.run_rows()[0]
        self.assertEqual((run["procedure"], run["mode"], run["rows_upserted"], run["rows_marked_missing"]),
                         ("sync_users", "users", 0, 0))
        self.assertEqual(self.row_versions(("users",)), before, "the update made sync_users rewrite users")
        self.assertEqual(scalar("SELECT last_run_id > %s FROM gc_fdw.sync_state WHERE kind = 'users'"
                                % state_11, db=self.db), "t")
        self.assertEqual(set(self.local("users", missing=True)), {(gone,)})

        # the whole directory into the same schema: users as they are, the rest new
        self.sync_directory()
        chunks = self.chunks()
        self.assertEqual((chunks["users"]["rows_upserted"], chunks["users"]["rows_marked_missing"]), (0, 0))
        emu_reset()                                     # the user is back
        self.sync_directory(procedure="sync_users")
        self.assertEqual(self.run_rows()[0]["rows_upserted"], 1)
        self.sync_directory()
        self.assert_matches_emulator()
        self.assertEqual(sql_lines("SELECT DISTINCT procedure FROM gc_fdw.sync_log ORDER BY 1", db=self.db),
                         ["sync_directory", "sync_users"])


class TestPgCronSchedule(StatusSyncTestCase):
    """A real pg_cron (preloaded in the test cluster, cron.database_name =
    postgres, jobs in background workers) runs every sync procedure every
    minute: sync_conversations, sync_user_status and sync_directory into
    one schema, and 1.1's sync_users into another (it and sync_directory
    write the same users table, so into one schema one of them would skip).
    The first load is made by hand, as a backfill is; the scheduled runs
    that follow bring the tables in line with the emulator's changes, inside
    pg_cron's background workers.  One test for all four, so that the suite
    waits for one of pg_cron's minutes once."""
    target = "cronwh"
    users_target = "cronusers"
    JOBS = {"gc-conversations": "sync_conversations('emu', 'cronwh', '2024-03-01', '2024-03-22')",
            "gc-status": "sync_user_status('emu', 'cronwh', '2024-03-01', '2024-03-22')",
            "gc-directory": "sync_directory('emu', 'cronwh')",
            "gc-users": "sync_users('emu', 'cronusers')"}
    local_directory = DirectorySyncTestCase.local
    assert_status_matches_emulator = StatusSyncTestCase.assert_matches_emulator

    def setUp(self):
        super().setUp()
        psql("SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE;"
             % self.users_target)

    def cron(self, sql):
        return psql(sql, db="postgres")

    def wait_for_run(self, job, started_after, timeout=150):
        """Wait for a run of job that started after the given time and
        ended; it must have succeeded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.cron(
                "SELECT d.status || '|' || coalesce(d.return_message, '')"
                " FROM cron.job_run_details d JOIN cron.job j USING (jobid)"
                " WHERE j.jobname = '%s' AND d.start_time > '%s'"
                " AND d.status IN ('succeeded', 'failed')"
                " ORDER BY d.runid LIMIT 1" % (job, started_after)).stdout.strip()
            if out:
                status, message = out.split("|", 1)
                self.assertEqual(status, "succeeded", "pg_cron job %s: %s" % (job, message))
                return
            time.sleep(1)
        raise AssertionError("pg_cron never ran job %s" % job)

    def now(self):
        return self.cron("SELECT clock_timestamp()").stdout.strip()

    def assert_all_match_emulator(self):
        self.assert_conversations_match_emulator()
        self.assert_tables_match_foreign()
        self.assert_status_matches_emulator()
        for t in TABLES:
            self.assertEqual(self.local_directory(t), truth(t), t)
        self.assertEqual(scalar("SELECT count(*) FROM %s.users" % self.users_target),
                         str(len(emu("/__emu/dataset/users"))))

    def test_scheduled_syncs_load_and_follow_changes(self):
        self.cron("CREATE EXTENSION IF NOT EXISTS pg_cron;"
                  " SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE 'gc-%';")
        # the backfill, by hand
        for procedure in self.JOBS.values():
            call("SET TimeZone = 'UTC'; CALL gc_fdw.%s;" % procedure, db=self.db)
        self.assert_all_match_emulator()
        try:

            # the org changes inside the default 2-day lookback: a
            # conversation ends and one is added; an agent's status open
            # since 2024-03-10 closes; a queue is renamed
            open_ = [c for c in emu("/__emu/dataset/conversations")
                     if c["conversationStart"] >= "2024-03-21" and "conversationEnd" not in c]
            mutate({"action": "end", "conversationId": open_[0]["conversationId"],
                    "at": "2024-03-21T23:55:00.000Z"})
            mutate({"action": "add", "start": "2024-03-21T08:00:00.000Z"})
            agent = sorted((r[1], r[0]) for r in status_truth("user_routing_status")
                           if r[2] is None and r[3] == "INTERACTING")[0][1]
            mutate({"action": "end_user_status", "userId": agent, "at": "2024-03-22T00:30:00.000Z"})
            queue = emu("/__emu/dataset/queues")[2]["id"]
            mutate({"action": "rename_entity", "table": "queues", "id": queue, "name": "Renamed by cron"})
            changed = self.now()
            self.cron(" ".join("SELECT cron.schedule_in_database('%s', '* * * * *',"
                               " $$CALL gc_fdw.%s$$, 'gc_integration');" % job
                               for job in self.JOBS.items()))
            for job in self.JOBS:
                self.wait_for_run(job, changed)
            self.assert_all_match_emulator()
            self.assertEqual(scalar("SELECT name FROM cronwh.queues WHERE id = '%s'" % queue),
                             "Renamed by cron")
            self.assertEqual(scalar("SELECT count(*) FROM cronwh.user_routing_status"
                                    " WHERE user_id = '%s' AND end_time IS NULL" % agent), "0")
            # what the scheduled runs after the backfill wrote: the two
            # conversations; the agent's two records; the queue and the
            # agent's rows as a member of queues (a member shows its routing
            # status now); no user
            memberships = sum(1 for m in emu("/__emu/dataset/queue_members") if m["id"] == agent)
            self.assertGreater(memberships, 0)
            self.assertEqual(sql_lines(
                "SELECT l.procedure || '|' || sum(l.rows_upserted) FROM gc_fdw.sync_log l"
                " WHERE l.entry = 'run' AND l.status = 'succeeded' AND l.started_at >"
                " (SELECT min(f.started_at) FROM gc_fdw.sync_log f WHERE f.procedure = l.procedure)"
                " GROUP BY l.procedure ORDER BY 1"),
                ["sync_conversations|2", "sync_directory|%d" % (1 + memberships),
                 "sync_user_status|2", "sync_users|0"])
        finally:
            self.cron("SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE 'gc-%';")
            # a run still in flight must not touch the next test's tables
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.cron(
                    "SELECT count(*) FROM cron.job_run_details"
                    " WHERE status IN ('starting', 'running')").stdout.strip() != "0":
                time.sleep(0.5)


if __name__ == "__main__":
    unittest.main()
