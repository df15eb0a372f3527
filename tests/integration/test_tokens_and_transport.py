"""Token lifetime, re-authentication and transport behaviour seen from the
emulator's request log."""
import os
import re
import unittest

import gcfdw

FULL_RANGE = ("SELECT count(*), count(DISTINCT conversation_id) FROM conversations "
              "WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';")


def setUpModule():
    gcfdw.setup_database()

# the User-Agent names the version gc_fdw.control installs
with open(os.path.join(os.path.dirname(__file__), "..", "..", "gc_fdw.control")) as f:
    DEFAULT_VERSION = re.search(r"default_version = '([^']+)'", f.read()).group(1)


class TokensAndTransport(unittest.TestCase):
    def setUp(self):
        gcfdw.emu_reset()

    def test_token_expiry_mid_scan(self):
        """A token that lives 2 s expires during a ~6 s scan: the scan renews
        it and returns every row exactly once, also when it expires under
        pages requested at once."""
        gcfdw.emu_reset()
        truth = gcfdw.emu("/__emu/dataset/conversations")
        gcfdw.emu("/__emu/reset", {"tokens": True})
        # every answer takes 1 s: about 6 s for the three windows, each a
        # first page and then the rest requested at once
        gcfdw.emu_settings({"token_lifetime": 2, "latency_ms": 1000})
        out = gcfdw.psql(FULL_RANGE).stdout.strip()
        self.assertEqual(out, "%d|%d" % (len(truth), len(truth)))
        log = gcfdw.emu_log()
        tokens = [e for e in log if e["path"] == "/oauth/token"]
        self.assertGreaterEqual(len(tokens), 3, "expected re-authentication")
        self.assertTrue(all(e["body"] == {"grant_type": "client_credentials"} for e in tokens))
        # no request was answered with a data page for an expired token
        used = [e["token_seq"] for e in log if e["path"].startswith("/api/v2") and e["status"] == 200]
        self.assertGreaterEqual(len(set(used)), 2)
        print("\n    token lifetime 2 s, %d details pages: %d token requests, %d 401s"
              % (len(used), len(tokens), sum(1 for e in log if e["status"] == 401)))

    def test_token_is_cached_across_queries(self):
        gcfdw.psql("SELECT count(*) FROM users; SELECT count(*) FROM users;")
        tokens = [e for e in gcfdw.emu_log() if e["path"] == "/oauth/token"]
        self.assertLessEqual(len(tokens), 1)

    def test_gzip_user_agent_and_keepalive(self):
        gcfdw.psql(FULL_RANGE)
        api = [e for e in gcfdw.emu_log() if e["path"].startswith("/api/v2")]
        self.assertGreater(len(api), 3)
        for entry in api:
            self.assertIn("gzip", entry["accept_encoding"] or "")
            self.assertTrue(entry["user_agent"].startswith("gc_fdw/%s " % DEFAULT_VERSION),
                            entry["user_agent"])
        if "peer_port" in api[0]:
            # one keep-alive connection per page in flight at once (the
            # default concurrency is 8), each reused for later pages
            ports = {e["peer_port"] for e in api}
            self.assertLessEqual(len(ports), 8, "more connections than pages in flight")
            self.assertLess(len(ports), len(api), "pages should reuse keep-alive connections")


if __name__ == "__main__":
    unittest.main()
