"""The faults of issue 14: live data moving under a paged window, the jobs
results cap, 200 answers cut short, endpoints that echo credentials, gzip
bombs, redirects, a job state of the wrong JSON type and a Retry-After too
large for any integer type; and the "page" selector that aims them.
"""

import base64
import http.client
import json
import socket
import zlib

import support
from support import JOBS, QUERY, CLIENT_ID, CLIENT_SECRET, basic, ctl, jbody, request, Base

setUpModule = support.start_emulator
tearDownModule = support.stop_emulator

DAY2 = "2024-03-02T00:00:00Z/2024-03-03T00:00:00Z"      # 41 conversations, none at 00:00


class HostileBase(Base):
    def fault(self, rule, status=200):
        st, _, raw = request("POST", "/__emu/faults", rule)
        self.assertEqual(st, status, raw)
        return jbody(raw)

    def page(self, number, size=10, interval=DAY2, headers=None):
        body = {"interval": interval, "paging": {"pageSize": size, "pageNumber": number}}
        st, h, raw = self.api("POST", QUERY, body, headers)
        return st, h, raw

    def ids(self, raw):
        return [c["conversationId"] for c in jbody(raw).get("conversations", [])]

    def run_job(self, interval):
        """Submit a job, poll it once (job_polls 0) -> its id."""
        ctl("POST", "/__emu/settings", {"job_polls": 0})
        st, _, raw = self.api("POST", JOBS, {"interval": interval})
        self.assertEqual(st, 202, raw)
        jid = jbody(raw)["jobId"]
        self.assertEqual(jbody(self.api("GET", "%s/%s" % (JOBS, jid))[2])["state"], "FULFILLED")
        return jid


class TestLateArrivals(HostileBase):
    def test_conversations_added_after_page_one_shift_the_later_pages(self):
        self.fault({"endpoint": "details", "kind": "late_arrivals", "page": 1, "add": 3})
        st, _, raw = self.page(1)
        self.assertEqual(st, 200)
        page1 = self.ids(raw)
        self.assertEqual(jbody(raw)["totalHits"], 41)      # answered before the arrivals
        added = ctl("GET", "/__emu/faults")[0]["added"]
        self.assertEqual(len(added), 3)
        dataset = {c["conversationId"]: c for c in ctl("GET", "/__emu/dataset/conversations")}
        for cid in added:
            self.assertEqual(dataset[cid]["conversationStart"], "2024-03-02T00:00:00.000Z")
        self.assertIs(ctl("GET", "/__emu/health")["mutated"], True)
        # page 2 now starts three rows early: it repeats the end of page 1,
        # totalHits grew, and the new conversations are never on a later page
        st, _, raw = self.page(2)
        page2 = self.ids(raw)
        self.assertEqual(jbody(raw)["totalHits"], 44)
        self.assertEqual(page2[:3], page1[-3:])
        rest = [cid for n in range(2, 6) for cid in self.ids(self.page(n)[2])]
        self.assertFalse(set(added) & set(rest))
        # a fresh read of the window sees them first
        self.assertEqual(sorted(self.ids(self.page(1)[2])[:3]), sorted(added))
        self.assertEqual([e["fault"] for e in ctl("GET", "/__emu/log")][:2], ["late_arrivals", None])

    def test_same_ids_after_a_reset_and_a_chosen_start(self):
        rule = {"endpoint": "details", "kind": "late_arrivals", "page": 2, "add": 2,
                "start": "2024-03-02T06:00:00Z", "media": "chat"}
        self.fault(rule)
        self.page(1)
        self.assertNotIn("added", ctl("GET", "/__emu/faults")[0])    # page 1 is not page 2
        self.page(2)
        first = ctl("GET", "/__emu/faults")[0]["added"]
        ctl("POST", "/__emu/reset")
        self.fault(rule)
        self.page(1)
        self.page(2)
        self.assertEqual(ctl("GET", "/__emu/faults")[0]["added"], first)
        dataset = {c["conversationId"]: c for c in ctl("GET", "/__emu/dataset/conversations")}
        for cid in first:
            c = dataset[cid]
            self.assertEqual(c["conversationStart"], "2024-03-02T06:00:00.000Z")
            media = {s["mediaType"] for p in c["participants"] for s in p["sessions"]}
            self.assertEqual(media, {"chat"})

    def test_an_error_page_adds_nothing_and_is_not_counted(self):
        self.fault({"endpoint": "details", "kind": "late_arrivals"})
        st, _, _ = self.page(1, size=1000)                   # 400: pageSize over 100
        self.assertEqual(st, 400)
        self.assertEqual(ctl("GET", "/__emu/faults")[0]["fired"], 0)
        self.assertIs(ctl("GET", "/__emu/health")["mutated"], False)
        self.assertEqual(self.page(1)[0], 200)
        self.assertEqual(len(ctl("GET", "/__emu/faults")[0]["added"]), 1)

    def test_rule_validation(self):
        for bad in ({"kind": "late_arrivals", "add": 0}, {"kind": "late_arrivals", "add": 1001},
                    {"kind": "late_arrivals", "media": "fax"},
                    {"kind": "late_arrivals", "start": "yesterday"},
                    {"kind": "short_200", "page": 0}):
            self.fault(bad, status=400)


class TestJobResultsCap(HostileBase):
    def test_a_results_page_past_the_cap_is_refused(self):
        ctl("POST", "/__emu/settings", {"job_results_cap": 50})
        jid = self.run_job("2024-03-02T00:00:00Z/2024-03-04T00:00:00Z")
        url = "%s/%s/results?pageSize=25" % (JOBS, jid)
        rows, cursor = [], None
        for _ in range(2):
            st, _, raw = self.api("GET", url + ("&cursor=" + cursor if cursor else ""))
            self.assertEqual(st, 200, raw)
            rows += jbody(raw)["conversations"]
            cursor = jbody(raw)["cursor"]
        self.assertEqual(len(rows), 50)
        st, h, raw = self.api("GET", url + "&cursor=" + cursor)
        b = self.assert_platform_error(st, h, raw, 400, "bad.request")
        self.assertEqual(b["message"], "Pagination may not exceed 50 results")
        # a page that ends exactly at the cap is fine; a job within it pages to its end
        ctl("POST", "/__emu/settings", {"job_results_cap": 1000})
        st, _, raw = self.api("GET", url + "&cursor=" + cursor)
        self.assertEqual(st, 200)

    def test_setting_validation(self):
        for bad in (-1, "5", 1.5, True):
            st, _, _ = request("POST", "/__emu/settings", {"job_results_cap": bad})
            self.assertEqual(st, 400)


class TestShortAnswers(HostileBase):
    def test_short_200_on_a_chosen_page(self):
        whole = self.page(2)[2]
        self.fault({"endpoint": "details", "kind": "short_200", "page": 2})
        self.assertEqual(self.page(1)[0], 200)             # page 1 passes
        c = http.client.HTTPConnection("127.0.0.1", support.PORT, timeout=30)
        st, h, raw = request("POST", QUERY, {"interval": DAY2,
                                             "paging": {"pageSize": 10, "pageNumber": 2}},
                             self.auth(), conn=c)
        sock = c.sock
        self.assertEqual(st, 200)
        self.assertEqual(raw, whole[:len(whole) // 2])
        self.assertEqual(int(h["content-length"]), len(raw))
        with self.assertRaises(ValueError):
            json.loads(raw)
        # the connection stays usable: a complete HTTP answer, a short JSON
        st, _, _ = request("GET", "/api/v2/users?pageSize=1", headers=self.auth(), conn=c)
        self.assertEqual((st, c.sock), (200, sock))
        c.close()

    def test_short_200_size_and_gzip(self):
        whole = self.page(3)[2]
        self.fault({"endpoint": "details", "kind": "short_200", "page": 3, "size": 100})
        st, h, raw = self.page(3, headers={"Accept-Encoding": "gzip"})
        self.assertEqual(h["content-encoding"], "gzip")
        self.assertEqual(raw, whole[:100])                  # request() inflated it

    def test_page_selector_on_listings_and_job_results(self):
        self.fault({"endpoint": "users", "kind": "empty_200", "page": 2})
        self.assertNotEqual(self.api("GET", "/api/v2/users?pageSize=5")[2], b"")
        self.assertEqual(self.api("GET", "/api/v2/users?pageSize=5&pageNumber=2")[2], b"")
        jid = self.run_job("2024-03-02T00:00:00Z/2024-03-03T00:00:00Z")
        self.fault({"endpoint": "jobs", "kind": "short_200", "page": 2})
        st, _, raw = self.api("GET", "%s/%s/results?pageSize=10" % (JOBS, jid))
        cursor = jbody(raw)["cursor"]
        st, _, raw = self.api("GET", "%s/%s/results?pageSize=10&cursor=%s" % (JOBS, jid, cursor))
        self.assertEqual(st, 200)
        with self.assertRaises(ValueError):
            jbody(raw)
        self.assertEqual(ctl("GET", "/__emu/faults")[1]["fired"], 1)


class TestEchoedCredentials(HostileBase):
    def test_token_endpoint_echoes_the_basic_credential(self):
        self.fault({"endpoint": "token", "kind": "echo_credentials"})
        st, h, raw = request("POST", "/oauth/token", "grant_type=client_credentials",
                             {"Authorization": basic()}, form=True)
        self.assertEqual(st, 401)
        b = jbody(raw)
        self.assertEqual(b["error"], "invalid_client")
        echoed = b["error_description"].rsplit("Basic ", 1)[1]
        self.assertEqual(base64.b64decode(echoed).decode(), "%s:%s" % (CLIENT_ID, CLIENT_SECRET))
        self.assertEqual(b["description"], b["error_description"])
        self.assertEqual(ctl("GET", "/__emu/log")[0]["fault"], "echo_credentials")
        self.assertNotIn(CLIENT_SECRET, json.dumps(ctl("GET", "/__emu/log")))
        st, _, _ = request("POST", "/oauth/token", "grant_type=client_credentials",
                           {"Authorization": basic()}, form=True)
        self.assertEqual(st, 200)

    def test_api_error_echoes_the_bearer_token(self):
        self.fault({"endpoint": "details", "kind": "echo_credentials", "status": 400})
        st, h, raw = self.page(1)
        b = self.assert_platform_error(st, h, raw, 400, "bad.request")
        self.assertTrue(b["message"].endswith("Authorization: Bearer " + self.token))
        st, h, raw = self.page(1)
        self.assertEqual(st, 200)
        self.fault({"endpoint": "users", "kind": "echo_credentials"})
        st, h, raw = self.api("GET", "/api/v2/users")
        b = self.assert_platform_error(st, h, raw, 401, "authentication.required")
        self.assertIn(self.token, b["message"])


def raw_response(method, path, headers, body=b""):
    """A request over a raw socket -> (socket, status line, headers dict,
    the body bytes already read); the caller reads on and closes."""
    s = socket.create_connection(("127.0.0.1", support.PORT), timeout=30)
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n" % (method, path, len(body))
    s.sendall((head + "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n").encode()
              + body)
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return s, lines[0], hdrs, rest


class TestGzipBomb(HostileBase):
    def inflate_all(self, s, first, length):
        """Read length bytes (first included) and inflate them -> (inflated
        size, the inflated text without its spaces, end of stream seen)."""
        d = zlib.decompressobj(31)
        got, size, text = len(first), 0, b""
        chunks = [first]
        while True:
            for c in chunks:
                out = d.decompress(c)
                size += len(out)
                text += out.replace(b" ", b"")
            if got >= length:
                break
            c = s.recv(1 << 16)
            if not c:
                break
            got += len(c)
            chunks = [c]
        return size, text, d.eof

    def test_sized_bomb_inflates_to_its_size(self):
        size = 3 * (1 << 20) + 12345                         # not a whole number of blocks
        self.fault({"endpoint": "users", "kind": "gzip_bomb", "size": size})
        s, status, h, first = raw_response("GET", "/api/v2/users?pageSize=5",
                                           dict(self.auth()))   # gzip, though not asked for
        try:
            self.assertIn(" 200 ", status)
            self.assertEqual(h["content-encoding"], "gzip")
            length = int(h["content-length"])
            self.assertLess(length, size // 500)
            inflated, text, eof = self.inflate_all(s, first, length)
        finally:
            s.close()
        self.assertTrue(eof)                               # trailer (CRC, size) checked by zlib
        self.assertEqual(inflated, size)
        self.assertEqual(json.loads(text), {"conversations": [], "totalHits": 0})
        self.assertEqual(self.api("GET", "/api/v2/users?pageSize=5")[0], 200)

    def test_endless_bomb_goes_on_until_the_client_hangs_up(self):
        self.fault({"endpoint": "details", "kind": "gzip_bomb", "seconds": 30})
        body = json.dumps({"interval": DAY2}).encode()
        s, status, h, first = raw_response("POST", QUERY, dict(self.auth(), **{
            "Content-Type": "application/json", "Accept-Encoding": "gzip"}), body)
        try:
            self.assertIn(" 200 ", status)
            self.assertNotIn("content-length", h)
            self.assertEqual(h["connection"], "close")
            d = zlib.decompressobj(31)
            inflated = len(d.decompress(first))
            while inflated < (1 << 30):                     # a gibibyte, and it goes on
                c = s.recv(1 << 16)
                self.assertTrue(c, "the bomb ended at %d bytes" % inflated)
                inflated += len(d.decompress(c, 1 << 24))
                while d.unconsumed_tail:
                    inflated += len(d.decompress(d.unconsumed_tail, 1 << 24))
            self.assertFalse(d.eof)
        finally:
            s.close()
        self.assertEqual(self.page(1)[0], 200)              # the emulator serves on


class TestOddAnswers(HostileBase):
    def test_redirect_with_location(self):
        self.fault({"endpoint": "users", "kind": "redirect"})
        st, h, raw = self.api("GET", "/api/v2/users?pageSize=3")
        self.assertEqual(st, 302)
        self.assertEqual(h["location"], "https://api.example.invalid/api/v2/users?pageSize=3")
        self.assertIn("text/html", h["content-type"])
        self.assertIn(b"302 Found", raw)
        self.fault({"endpoint": "token", "kind": "redirect", "status": 307,
                    "location": "https://login.example.invalid/oauth/token"})
        st, h, raw = request("POST", "/oauth/token", "grant_type=client_credentials",
                             {"Authorization": basic()}, form=True)
        self.assertEqual((st, h["location"]), (307, "https://login.example.invalid/oauth/token"))
        self.fault({"kind": "redirect", "status": 200}, status=400)

    def test_job_state_of_the_wrong_json_type(self):
        self.fault({"endpoint": "jobs", "kind": "wrong_type", "field": "state"})
        st, _, raw = self.api("POST", JOBS, {"interval": DAY2})
        self.assertEqual(st, 202)                           # no "state" here: passed by
        jid = jbody(raw)["jobId"]
        b = jbody(self.api("GET", "%s/%s" % (JOBS, jid))[2])
        self.assertEqual(b["state"], 12345)
        self.fault({"endpoint": "jobs", "kind": "wrong_type", "field": "state",
                    "value": ["FULFILLED"]})
        self.assertEqual(jbody(self.api("GET", "%s/%s" % (JOBS, jid))[2])["state"], ["FULFILLED"])
        self.assertIsInstance(jbody(self.api("GET", "%s/%s" % (JOBS, jid))[2])["state"], str)

    def test_retry_after_too_large_for_any_integer(self):
        huge = "99999999999999999999"
        self.fault([{"endpoint": "users", "status": 429, "retry_after": huge},
                    {"endpoint": "users", "status": 429, "retry_after": int(huge)}])
        for _ in range(2):
            st, h, raw = self.api("GET", "/api/v2/users")
            b = self.assert_platform_error(st, h, raw, 429, "too.many.requests.retry.after")
            self.assertEqual(h["retry-after"], huge)
            self.assertIn("[%s]" % huge, b["message"])
