"""Every answer's headers, gzip, keep-alive and 404; the OAuth token
endpoint, bearer auth and token lifetime; no secret in the log.
"""

import http.client
import json
import time

import support
from support import CLIENT_ID, CLIENT_SECRET, request, jbody, basic, get_token, ctl, emuctl, Base

setUpModule = support.start_emulator
tearDownModule = support.stop_emulator


class TestBasics(Base):
    def test_headers_gzip_keepalive(self):
        ctl("POST", "/__emu/settings", {"rate_limit": 1000})
        c = http.client.HTTPConnection("127.0.0.1", support.PORT, timeout=30)
        st, h, raw = request("GET", "/api/v2/users?pageSize=3", headers=self.auth(), conn=c)
        self.assertEqual(st, 200)
        for k in ("content-length", "inin-correlation-id", "inin-ratelimit-allowed",
                  "inin-ratelimit-count", "inin-ratelimit-reset"):
            self.assertIn(k, h)
        self.assertNotIn("content-encoding", h)
        sock = c.sock
        st, h2, raw2 = request("GET", "/api/v2/users?pageSize=3",
                               headers=dict(self.auth(), **{"Accept-Encoding": "gzip"}), conn=c)
        self.assertIs(c.sock, sock, "connection was not kept alive")
        self.assertEqual(h2["content-encoding"], "gzip")
        self.assertEqual(jbody(raw), jbody(raw2))
        self.assertEqual(int(h2["inin-ratelimit-count"]), int(h["inin-ratelimit-count"]) + 1)
        self.assertNotEqual(h["inin-correlation-id"], h2["inin-correlation-id"])
        c.close()
        # without a configured budget no budget is announced
        ctl("POST", "/__emu/settings", {"rate_limit": 0})
        st, h3, raw3 = request("GET", "/api/v2/users?pageSize=3", headers=self.auth())
        self.assertNotIn("inin-ratelimit-allowed", h3)

    def test_unknown_path_404(self):
        st, h, raw = self.api("GET", "/api/v2/nope")
        self.assert_platform_error(st, h, raw, 404, "not.found")


class TestOAuth(Base):
    def test_token_success(self):
        st, h, raw = request("POST", "/oauth/token", "grant_type=client_credentials",
                             {"Authorization": basic("demo-client", "demo-secret-PLUGH")}, form=True)
        b = jbody(raw)
        self.assertEqual(st, 200)
        self.assertEqual(b["token_type"], "bearer")
        self.assertEqual(b["expires_in"], 86399)
        self.assertTrue(b["access_token"])
        self.assertIn("inin-correlation-id", h)

    def test_bad_credentials(self):
        for hdr in ({"Authorization": basic(CLIENT_ID, "wrong")}, {}):
            st, _, raw = request("POST", "/oauth/token", "grant_type=client_credentials",
                                 hdr, form=True)
            self.assertEqual(st, 401)
            b = jbody(raw)
            self.assertEqual(b["error"], "invalid_client")
            self.assertIn("description", b)
            self.assertIn("error_description", b)

    def test_refresh_grant_rejected_and_logged(self):
        st, _, raw = request("POST", "/oauth/token", "grant_type=refresh_token&refresh_token=x",
                             {"Authorization": basic()}, form=True)
        self.assertEqual(st, 400)
        self.assertEqual(jbody(raw)["error"], "unsupported_grant_type")
        log = ctl("GET", "/__emu/log")
        self.assertEqual(log[-1]["body"], {"grant_type": "refresh_token"})
        self.assertEqual(emuctl("log-count", "--grant", "refresh_token")[1].strip(), "1")
        self.assertEqual(emuctl("log-count", "--endpoint", "token", "--status", "400")[1].strip(), "1")

    def test_wrong_content_type(self):
        st, _, raw = request("POST", "/oauth/token", {"grant_type": "client_credentials"},
                             {"Authorization": basic()})
        self.assertEqual(st, 400)

    def test_missing_and_unknown_bearer(self):
        ctl("POST", "/__emu/settings", {"rate_limit": 1000})
        st, h, raw = request("GET", "/api/v2/users")
        self.assert_platform_error(st, h, raw, 401, "authentication.required")
        st, h, raw = request("GET", "/api/v2/users", headers={"Authorization": "Bearer nope"})
        self.assert_platform_error(st, h, raw, 401, "authentication.required")
        self.assertIn("inin-ratelimit-allowed", h)

    def test_lifetime_and_expiry(self):
        ctl("POST", "/__emu/settings", {"token_lifetime": 1})
        st, _, raw = request("POST", "/oauth/token", "grant_type=client_credentials",
                             {"Authorization": basic()}, form=True)
        b = jbody(raw)
        self.assertEqual(b["expires_in"], 1)
        time.sleep(1.1)
        st, h, raw = request("GET", "/api/v2/users",
                             headers={"Authorization": "Bearer " + b["access_token"]})
        self.assert_platform_error(st, h, raw, 401, "credentials.expired")

    def test_reset_tokens(self):
        tok = get_token()
        ctl("POST", "/__emu/reset")
        st, _, _ = request("GET", "/api/v2/users", headers={"Authorization": "Bearer " + tok})
        self.assertEqual(st, 200)
        ctl("POST", "/__emu/reset", {"tokens": True})
        st, h, raw = request("GET", "/api/v2/users", headers={"Authorization": "Bearer " + tok})
        self.assert_platform_error(st, h, raw, 401, "authentication.required")
        type(self).token = get_token()

    def test_secrets_never_logged(self):
        tok = get_token()
        request("GET", "/api/v2/users", headers={"Authorization": "Bearer " + tok})
        dump = json.dumps(ctl("GET", "/__emu/log")) + json.dumps(ctl("GET", "/__emu/settings"))
        self.assertNotIn(tok, dump)
        self.assertNotIn(CLIENT_SECRET, dump)
        log = ctl("GET", "/__emu/log")
        self.assertEqual(log[0]["client_id"], CLIENT_ID)
        self.assertEqual(log[1]["token_seq"], log[0]["token_seq"])
        self.assertEqual(log[1]["client_id"], CLIENT_ID)
