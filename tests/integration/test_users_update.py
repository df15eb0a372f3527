"""UPDATE on the users foreign table as a batch job: every active user (524
of them) updated in one statement while the token expires, the API
rate-limits and a token is revoked mid-run.  Each user must be patched
exactly once, with the version the statement read, and end with the values
set; the emulator's request log is the witness."""
import collections
import time
import unittest

import gcfdw

BATCH = ("UPDATE users SET title = 'Batch ' || left(name, 1), department = 'Warehouse'"
         " WHERE state = 'active';")
SETUP = """
DROP FOREIGN TABLE IF EXISTS users_rw;
CREATE FOREIGN TABLE users_rw (id uuid, name text, state text, title text,
  department text, version integer) SERVER emu OPTIONS (resource 'users');
"""


def setUpModule():
    gcfdw.setup_database()
    gcfdw.psql(SETUP)


class UsersBatchUpdate(unittest.TestCase):
    def setUp(self):
        gcfdw.emu("/__emu/reset", {"tokens": True})

    def tearDown(self):
        gcfdw.emu_reset()

    def test_batch_update_survives_token_expiry_429s_and_revocation(self):
        before = {u["id"]: u for u in gcfdw.emu("/__emu/dataset/users")}
        active = {i for i, u in before.items() if u["state"] == "active"}
        # a token lives 2 s; a budget of 150 requests per 3 s window (which
        # the FDW paces itself against); tokens revoked once; and 429s that
        # the budget does not announce (org-wide limits) on three PATCHes
        gcfdw.emu_settings({"token_lifetime": 2, "rate_limit": 150, "rate_window": 3})
        gcfdw.emu_fault([{"endpoint": "users", "method": "PATCH", "kind": "revoke",
                          "after": 300},
                         {"endpoint": "users", "method": "PATCH", "status": 429,
                          "retry_after": "1", "after": 100, "count": 3}])
        t0 = time.monotonic()
        out = gcfdw.psql("WITH updated AS (%s RETURNING 1) SELECT count(*) FROM updated;"
                         % BATCH.replace("users", "users_rw", 1).rstrip(";"), timeout=300)
        elapsed = time.monotonic() - t0
        self.assertEqual(out.stdout.strip(), str(len(active)))

        log = gcfdw.emu_log()
        print("\n    %d users updated in %.1f s: %d PATCH requests, %d answered 429, "
              "%d answered 401, %d token requests (the rest of the budget was paced)"
              % (len(active), elapsed, sum(1 for e in log if e["method"] == "PATCH"),
                 sum(1 for e in log if e["status"] == 429),
                 sum(1 for e in log if e["status"] == 401),
                 sum(1 for e in log if e["path"] == "/oauth/token")))
        patches = [e for e in log if e["method"] == "PATCH"]
        accepted = [e for e in patches if e["status"] == 200]
        # the run met every obstacle it was built to meet
        self.assertGreater(sum(1 for e in log if e["status"] == 429), 0, "no 429 was seen")
        self.assertGreater(sum(1 for e in log if e["status"] == 401), 0, "no 401 was seen")
        self.assertGreaterEqual(sum(1 for e in log if e["path"] == "/oauth/token"), 3)
        # each active user patched exactly once, with the version read
        per_user = collections.Counter(e["path"].rsplit("/", 1)[1] for e in accepted)
        self.assertEqual(set(per_user), active)
        self.assertEqual(set(per_user.values()), {1})
        for e in accepted:
            uid = e["path"].rsplit("/", 1)[1]
            self.assertEqual(e["body"]["version"], before[uid]["version"])
            self.assertEqual(e["body"]["fields"], ["department", "title"])
        self.assertFalse([e for e in patches if e["status"] == 409], "a PATCH conflicted")

        after = {u["id"]: u for u in gcfdw.emu("/__emu/dataset/users")}
        for uid in active:
            self.assertEqual(after[uid]["title"], "Batch " + before[uid]["name"][0])
            self.assertEqual(after[uid]["department"], "Warehouse")
            self.assertEqual(after[uid]["version"], before[uid]["version"] + 1)
        for uid in set(before) - active:
            self.assertEqual(after[uid], before[uid], "a user outside the WHERE changed")

    def test_rerun_of_the_batch_sends_nothing(self):
        gcfdw.psql(BATCH.replace("users", "users_rw", 1), timeout=300)
        first = len([e for e in gcfdw.emu_log() if e["method"] == "PATCH"])
        out = gcfdw.psql("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                         + BATCH.replace("users", "users_rw", 1)).stdout
        self.assertIn("Users Updated: 0", out)
        self.assertIn("Users Unchanged (not sent): %d" % first, out)
        self.assertEqual(len([e for e in gcfdw.emu_log() if e["method"] == "PATCH"]), first)


if __name__ == "__main__":
    unittest.main()
