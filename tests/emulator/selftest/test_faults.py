"""Fault rules: selection, firing, every kind, and what each does to an
answer or to the connection.
"""

import base64
import http.client
import json
import time

import support
from support import (QUERY, request, jbody, basic, get_token, ctl, emuctl, Base, DAY2, strip_extra,
                     raw_get, split_response)

setUpModule = support.start_emulator
tearDownModule = support.stop_emulator


class TestFaults(Base):
    def fault(self, rule):
        ctl("POST", "/__emu/faults", rule)

    def test_status_json_retry_after(self):
        self.fault({"endpoint": "users", "kind": "status", "status": 429, "retry_after": "2"})
        st, h, raw = self.api("GET", "/api/v2/users")
        self.assert_platform_error(st, h, raw, 429, "too.many.requests.retry.after")
        self.assertEqual(h["retry-after"], "2")
        self.assertEqual(self.api("GET", "/api/v2/users")[0], 200)   # count defaults to 1
        self.assertEqual(ctl("GET", "/__emu/log")[0]["fault"], "status")

    def test_status_html_empty_and_codes(self):
        self.fault([{"endpoint": "details", "status": 502, "body": "html"},
                    {"endpoint": "details", "status": 503, "body": "empty",
                     "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"},
                    {"endpoint": "details", "status": 500},
                    {"endpoint": "details", "status": 504}])
        body = {"interval": "2024-03-01T00:00:00Z/2024-03-02T00:00:00Z"}
        st, h, raw = self.api("POST", QUERY, body)
        self.assertEqual(st, 502)
        self.assertIn("text/html", h["content-type"])
        self.assertIn(b"<html>", raw)
        st, h, raw = self.api("POST", QUERY, body)
        self.assertEqual((st, raw), (503, b""))
        self.assertEqual(h["retry-after"], "Wed, 21 Oct 2015 07:28:00 GMT")
        st, h, raw = self.api("POST", QUERY, body)
        self.assert_platform_error(st, h, raw, 500, "internal.server.error")
        st, h, raw = self.api("POST", QUERY, body)
        self.assert_platform_error(st, h, raw, 504, "request.timeout")
        self.assertEqual(self.api("POST", QUERY, body)[0], 200)

    def test_after_count_and_selectors(self):
        self.fault({"endpoint": "api", "status": 503, "after": 2, "count": 2})
        sts = [self.api("GET", "/api/v2/users")[0] for _ in range(5)]
        self.assertEqual(sts, [200, 200, 503, 503, 200])
        self.fault({"endpoint": "token", "status": 500})
        self.assertEqual(self.api("GET", "/api/v2/users")[0], 200)
        st, _, _ = request("POST", "/oauth/token", "grant_type=client_credentials",
                           {"Authorization": basic()}, form=True)
        self.assertEqual(st, 500)
        self.assertEqual(emuctl("log-count", "--status", "503")[1].strip(), "2")
        self.assertEqual(emuctl("log-count", "--endpoint", "users")[1].strip(), "6")
        faults = ctl("GET", "/__emu/faults")
        self.assertTrue(all(f["spent"] for f in faults))
        st, _, raw = request("POST", "/__emu/faults", {"kind": "explode"})
        self.assertEqual(st, 400)

    def test_delay_and_stream(self):
        self.fault({"endpoint": "users", "kind": "delay", "seconds": 0.6})
        t = time.time()
        st, _, _ = self.api("GET", "/api/v2/users")
        self.assertEqual(st, 200)
        self.assertGreaterEqual(time.time() - t, 0.6)
        self.fault({"endpoint": "users", "kind": "delay", "seconds": 0.6, "stream": True})
        c = http.client.HTTPConnection("127.0.0.1", support.PORT, timeout=30)
        c.request("GET", "/api/v2/users?pageSize=100", headers=self.auth())
        t = time.time()
        r = c.getresponse()
        t_head = time.time() - t
        data = r.read()
        self.assertLess(t_head, 0.4)
        self.assertGreaterEqual(time.time() - t, 0.5)
        self.assertEqual(len(jbody(data)["entities"]), 100)
        c.close()

    def test_revoke(self):
        self.fault({"endpoint": "users", "kind": "revoke"})
        st, h, raw = self.api("GET", "/api/v2/users")
        self.assert_platform_error(st, h, raw, 401, "authentication.required")
        type(self).token = get_token()
        self.assertEqual(self.api("GET", "/api/v2/users")[0], 200)

    def test_malformed(self):
        self.fault({"endpoint": "token", "kind": "malformed"})
        st, _, raw = request("POST", "/oauth/token", "grant_type=client_credentials",
                             {"Authorization": basic()}, form=True)
        self.assertEqual(st, 200)
        with self.assertRaises(ValueError):
            json.loads(raw.decode("utf-8", "replace"))
        self.fault({"endpoint": "details", "kind": "malformed"})
        st, _, raw = self.api("POST", QUERY, {"interval": "2024-03-01T00:00:00Z/2024-03-02T00:00:00Z"})
        self.assertEqual(st, 200)
        with self.assertRaises(ValueError):
            json.loads(raw.decode("utf-8", "replace"))

    def test_truncate(self):
        self.fault({"endpoint": "users", "kind": "truncate"})
        c = http.client.HTTPConnection("127.0.0.1", support.PORT, timeout=30)
        c.request("GET", "/api/v2/users?pageSize=50", headers=self.auth())
        r = c.getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        c.close()
        self.assertEqual(self.api("GET", "/api/v2/users")[0], 200)
        self.assertEqual(ctl("GET", "/__emu/log")[0]["fault"], "truncate")

    def test_gzip_with_fault_truncate(self):
        self.fault({"endpoint": "users", "kind": "truncate"})
        c = http.client.HTTPConnection("127.0.0.1", support.PORT, timeout=30)
        c.request("GET", "/api/v2/users?pageSize=50", headers=dict(self.auth(), **{"Accept-Encoding": "gzip"}))
        r = c.getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        c.close()


class TestFaultMatrixKinds(Base):
    """The fault kinds the fault matrix (tests/integration/test_fault_matrix.py) uses."""

    def fault(self, rule):
        ctl("POST", "/__emu/faults", rule)

    def page(self, size=100, number=1, body=DAY2):
        return self.query(dict(body, paging={"pageSize": size, "pageNumber": number}))

    def test_content_type(self):
        self.fault({"endpoint": "users", "kind": "content_type"})
        st, h, raw = self.api("GET", "/api/v2/users?pageSize=5")
        self.assertEqual((st, h["content-type"]), (200, "text/html"))
        self.assertEqual(len(jbody(raw)["entities"]), 5)      # the body is the normal one
        self.fault({"endpoint": "details", "kind": "content_type", "ctype": "application/xml"})
        st, h, raw = self.api("POST", QUERY, DAY2)
        self.assertEqual((st, h["content-type"]), (200, "application/xml"))
        self.assertEqual(jbody(raw)["totalHits"], 41)
        st, h, raw = self.api("GET", "/api/v2/users?pageSize=5")
        self.assertEqual(h["content-type"], "application/json; charset=UTF-8")
        self.assertEqual(ctl("GET", "/__emu/log")[0]["fault"], "content_type")

    def test_reset_mid_body(self):
        self.fault({"endpoint": "users", "kind": "reset"})
        data, end = raw_get("/api/v2/users?pageSize=100", self.auth())
        self.assertEqual(end, "reset")
        st, h, body = split_response(data)
        self.assertEqual(st, 200)
        self.assertEqual(h["connection"], "close")
        self.assertTrue(0 < len(body) < int(h["content-length"]), (len(body), h))
        # gzip too, and the next request is normal
        self.fault({"endpoint": "users", "kind": "reset"})
        data, end = raw_get("/api/v2/users?pageSize=100",
                            dict(self.auth(), **{"Accept-Encoding": "gzip"}))
        self.assertEqual(end, "reset")
        self.assertEqual(split_response(data)[1]["content-encoding"], "gzip")
        self.assertEqual(self.api("GET", "/api/v2/users?pageSize=100")[0], 200)
        self.assertEqual([e["fault"] for e in ctl("GET", "/__emu/log")], ["reset", "reset", None])

    def test_stall(self):
        self.fault({"endpoint": "users", "kind": "stall", "seconds": 1.5})
        data, end = raw_get("/api/v2/users?pageSize=100", self.auth(), timeout=0.7)
        self.assertEqual(end, "timeout")                     # headers and a part, then nothing
        st, h, body = split_response(data)
        self.assertEqual(st, 200)
        self.assertTrue(0 < len(body) < int(h["content-length"]))
        # a patient client sees the connection closed after "seconds", body short
        self.fault({"endpoint": "users", "kind": "stall", "seconds": 1.5})
        t = time.time()
        data, end = raw_get("/api/v2/users?pageSize=100", self.auth())
        self.assertEqual(end, "eof")
        self.assertGreaterEqual(time.time() - t, 1.4)
        st, h, body = split_response(data)
        self.assertTrue(0 < len(body) < int(h["content-length"]))
        # the default is 30 s; a client that hangs up ends the stall early
        self.fault({"endpoint": "users", "kind": "stall"})
        self.assertEqual(raw_get("/api/v2/users?pageSize=100", self.auth(), 0.3)[1], "timeout")
        self.assertEqual(self.api("GET", "/api/v2/users?pageSize=100")[0], 200)
        self.assertEqual(ctl("GET", "/__emu/faults")[2]["fired"], 1)

    def test_extra_fields(self):
        st, plain = self.page(10)
        self.fault({"endpoint": "details", "kind": "extra_fields"})
        st, extra = self.page(10)
        self.assertEqual(st, 200)
        self.assertEqual(strip_extra(extra), plain)
        self.assertEqual(list(extra)[0], "emuExtraTopFirst")   # before the real fields
        for c in extra["conversations"]:
            self.assertEqual(list(c)[0], "emuExtraRowFirst")
            self.assertIn("emuExtraRowNumber", c)
            for p in c["participants"]:
                self.assertIn("emuExtraParticipantFirst", p)
                for se in p["sessions"]:
                    self.assertIn("emuExtraSessionText", se)
                    for g in se["segments"]:
                        self.assertIn("emuExtraSegmentList", g)
                    for m in se.get("metrics", []):
                        self.assertIn("emuExtraMetricNull", m)
        # users and the token answer too
        st, _, raw = self.api("GET", "/api/v2/users?pageSize=3")
        plain = jbody(raw)
        self.fault({"endpoint": "users", "kind": "extra_fields"})
        st, _, raw = self.api("GET", "/api/v2/users?pageSize=3")
        extra = jbody(raw)
        self.assertEqual(strip_extra(extra), plain)
        self.assertTrue(all("emuExtraRowFirst" in u for u in extra["entities"]))
        self.fault({"endpoint": "token", "kind": "extra_fields"})
        st, _, raw = request("POST", "/oauth/token", "grant_type=client_credentials",
                             {"Authorization": basic()}, form=True)
        tok = jbody(raw)
        self.assertEqual(set(strip_extra(tok)), {"access_token", "token_type", "expires_in"})
        self.assertIn("emuExtraTopText", tok)

    def test_body_kinds_skip_error_answers(self):
        """A body-rewriting rule that meets an error answer lets it through
        and does not count: it fires on the next 2xx."""
        self.fault({"endpoint": "users", "kind": "extra_fields"})
        st, _, raw = request("GET", "/api/v2/users?pageSize=2",
                             headers={"Authorization": "Bearer nope"})
        self.assertEqual(st, 401)
        self.assertNotIn(b"emuExtra", raw)
        st, _, raw = self.api("GET", "/api/v2/users?pageSize=2")
        self.assertIn("emuExtraTopFirst", jbody(raw))
        faults = ctl("GET", "/__emu/faults")
        self.assertEqual((faults[0]["fired"], faults[0]["spent"]), (1, True))
        self.assertEqual([e["fault"] for e in ctl("GET", "/__emu/log")], [None, "extra_fields"])

    def test_huge_string(self):
        self.fault({"endpoint": "details", "kind": "huge_string"})
        st, b = self.page(10)
        tag = b["conversations"][0]["externalTag"]
        self.assertEqual(len(tag), 1048576)
        self.assertTrue(tag.startswith("00000000|00000001|00000002|"))
        self.assertEqual(tag[9 * 1000: 9 * 1001], "00001000|")
        self.assertNotEqual(b["conversations"][1].get("externalTag"), tag)
        self.fault({"endpoint": "users", "kind": "huge_string", "size": 20})
        st, _, raw = self.api("GET", "/api/v2/users?pageSize=2")
        self.assertEqual(jbody(raw)["entities"][0]["title"], "00000000|00000001|00")
        self.fault({"endpoint": "users", "kind": "huge_string", "field": "name", "size": 9})
        st, _, raw = self.api("GET", "/api/v2/users?pageSize=2")
        self.assertEqual(jbody(raw)["entities"][0]["name"], "00000000|")
        # a single conversation by id is its own first row
        cid = b["conversations"][3]["conversationId"]
        self.fault({"endpoint": "details", "kind": "huge_string", "size": 100})
        st, _, raw = self.api("GET", "/api/v2/analytics/conversations/%s/details" % cid)
        self.assertEqual(len(jbody(raw)["externalTag"]), 100)

    def test_deep_nesting(self):
        st, plain = self.page(5)
        self.fault({"endpoint": "details", "kind": "deep_nesting"})
        st, _, raw = self.api("POST", QUERY, dict(DAY2, paging={"pageSize": 5, "pageNumber": 1}))
        self.assertEqual(st, 200)
        deep = b'"emuDeep":' + b"[" * 10000 + b"]" * 10000
        self.assertEqual(raw.count(deep), 1)
        cut = jbody(raw.replace(deep, b'"emuDeep":null'))
        self.assertIsNone(cut["conversations"][0].pop("emuDeep"))
        self.assertEqual(cut, plain)
        self.fault({"endpoint": "users", "kind": "deep_nesting", "depth": 3, "field": "x"})
        st, _, raw = self.api("GET", "/api/v2/users?pageSize=2")
        self.assertEqual(jbody(raw)["entities"][0]["x"], [[[]]])

    def test_splice(self):
        self.fault({"endpoint": "users", "kind": "splice", "text": '{"a":1,"a":"\\ud800"}'})
        st, _, raw = self.api("GET", "/api/v2/users?pageSize=2")
        self.assertEqual(st, 200)
        self.assertEqual(raw.count(b'"emuSplice":{"a":1,"a":"\\ud800"}'), 1)
        self.fault({"endpoint": "details", "kind": "splice", "field": "x", "text": "[1 2"})
        st, _, raw = self.api("POST", QUERY, DAY2)
        self.assertEqual(raw.count(b'"x":[1 2'), 1)
        st, _, raw = request("POST", "/__emu/faults", {"kind": "splice"})
        self.assertEqual(st, 400, raw)

    def test_empty_200(self):
        self.fault({"endpoint": "details", "kind": "empty_200", "count": 2})
        st, h, raw = self.api("POST", QUERY, DAY2)
        self.assertEqual((st, raw, h["content-length"]), (200, b"", "0"))
        # even where the answer would have been an error
        st, h, raw = request("POST", QUERY, DAY2, {"Authorization": "Bearer nope"})
        self.assertEqual((st, raw), (200, b""))
        self.assertEqual(self.page()[0], 200)

    def test_raw_body(self):
        body = b'{"entities":[{"id":"\xff\x00"}]} trailing'
        self.fault({"endpoint": "users", "kind": "raw_body",
                    "body_b64": base64.b64encode(body).decode()})
        st, h, raw = self.api("GET", "/api/v2/users?pageSize=2")
        self.assertEqual((st, raw), (200, body))
        self.assertTrue(h["content-type"].startswith("application/json"), h)
        self.fault({"endpoint": "token", "kind": "raw_body", "status": 401, "body_b64": ""})
        st, _, raw = request("POST", "/oauth/token", "grant_type=client_credentials",
                             {"Authorization": basic("x", "y")}, form=True)
        self.assertEqual((st, raw), (401, b""))
        self.assertEqual(self.api("GET", "/api/v2/users?pageSize=2")[0], 200)   # spent
        for bad in ({"kind": "raw_body"}, {"kind": "raw_body", "body_b64": "%%"},
                    {"kind": "raw_body", "body_b64": "", "status": 1000}):
            st, _, raw = request("POST", "/__emu/faults", bad)
            self.assertEqual(st, 400, raw)

    def test_total_hits(self):
        # query-page kinds ignore other requests: the users listing passes
        self.fault([{"endpoint": "any", "kind": "total_hits", "delta": 50},
                    {"endpoint": "details", "kind": "total_hits", "delta": -50}])
        self.assertNotIn(b"totalHits", self.api("GET", "/api/v2/users?pageSize=2")[2])
        st, b = self.page(10)
        self.assertEqual((b["totalHits"], len(b["conversations"])), (41 + 50, 10))
        st, b = self.page(10)
        self.assertEqual((b["totalHits"], len(b["conversations"])), (0, 10))   # not below 0
        self.fault({"endpoint": "details", "kind": "total_hits", "delta": -5, "after": 1})
        self.assertEqual([self.page(10, n)[1]["totalHits"] for n in (1, 2, 3)], [41, 36, 41])

    def test_repeat_page(self):
        pages = [self.page(10, n)[1]["conversations"] for n in (1, 2, 3)]
        ctl("POST", "/__emu/reset")
        # page 1 has no previous page: the rule waits for page 2 and later
        self.fault({"endpoint": "details", "kind": "repeat_page", "after": 1})
        got = [self.page(10, n)[1] for n in (1, 2, 3, 4)]
        self.assertEqual(got[0]["conversations"], pages[0])
        self.assertEqual(got[1]["conversations"], pages[1])   # "after": 1 let page 2 through
        self.assertEqual(got[2]["conversations"], pages[1])   # page 3 answers page 2's rows
        self.assertEqual(got[2]["totalHits"], 41)
        self.assertEqual(len(got[3]["conversations"]), 10)
        log = ctl("GET", "/__emu/log")
        self.assertEqual([e["fault"] for e in log], [None, None, "repeat_page", None])
        self.assertEqual(log[2]["body"]["paging"]["pageNumber"], 3)   # logged as asked
        # with page_shift the repeated page is shifted too (what paging page N-1 gives)
        ctl("POST", "/__emu/settings", {"page_shift": 3})
        self.fault({"endpoint": "details", "kind": "repeat_page"})
        self.assertEqual(self.page(10, 3)[1]["conversations"], self.page(10, 2)[1]["conversations"])

    def test_wrong_type(self):
        st, plain = self.page(3)
        first = plain["conversations"][0]
        self.fault({"endpoint": "details", "kind": "wrong_type"})
        st, b = self.page(3)
        c = b["conversations"][0]
        start_ms = c["conversationStart"]
        self.assertIsInstance(start_ms, int)
        self.assertEqual(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start_ms // 1000)),
                         first["conversationStart"][:19])
        self.assertEqual(b["conversations"][1:], plain["conversations"][1:])
        self.fault({"endpoint": "details", "kind": "wrong_type", "field": "divisionIds"})
        c = self.page(3)[1]["conversations"][0]
        self.assertEqual(c["divisionIds"], ",".join(first["divisionIds"]))
        self.fault({"endpoint": "details", "kind": "wrong_type", "field": "conversationId",
                    "value": {"not": "an id"}})
        self.assertEqual(self.page(3)[1]["conversations"][0]["conversationId"], {"not": "an id"})
        st, _, raw = self.api("GET", "/api/v2/users?pageSize=2")
        version = jbody(raw)["entities"][0]["version"]
        self.fault({"endpoint": "users", "kind": "wrong_type"})
        st, _, raw = self.api("GET", "/api/v2/users?pageSize=2")
        self.assertEqual(jbody(raw)["entities"][0]["version"], str(version))

    def test_probability(self):
        def pattern(seed):
            ctl("POST", "/__emu/reset")
            ctl("POST", "/__emu/settings", {"fault_seed": seed})
            self.fault({"endpoint": "users", "status": 503, "count": 0, "probability": 0.5})
            return [self.api("GET", "/api/v2/users?pageSize=1")[0] for _ in range(40)]
        a = pattern(7)
        self.assertEqual(set(a), {200, 503})
        self.assertTrue(8 <= a.count(503) <= 32, a.count(503))
        self.assertEqual(pattern(7), a)                 # seeded: the same sequence again
        self.assertNotEqual(pattern(8), a)
        ctl("POST", "/__emu/reset")
        self.fault([{"endpoint": "users", "status": 500, "count": 0, "probability": 0},
                    {"endpoint": "users", "status": 502, "count": 2, "probability": 1}])
        sts = [self.api("GET", "/api/v2/users?pageSize=1")[0] for _ in range(4)]
        self.assertEqual(sts, [502, 502, 200, 200])
        self.assertEqual(ctl("GET", "/__emu/faults")[0]["fired"], 0)
        for bad in ({"probability": 1.5}, {"probability": "0.5"}, {"kind": "stall", "seconds": "x"},
                    {"kind": "huge_string", "size": 0}, {"kind": "total_hits", "delta": 1.5},
                    {"kind": "content_type", "ctype": ""}):
            st, _, raw = request("POST", "/__emu/faults", bad)
            self.assertEqual(st, 400, bad)
        st, _, raw = request("POST", "/__emu/settings", {"fault_seed": "x"})
        self.assertEqual(st, 400)

    def test_every_and_oauth_body(self):
        # every: each Nth matching request past "after"; count 0 = forever
        self.fault({"endpoint": "users", "status": 503, "every": 3, "after": 1, "count": 0})
        sts = [self.api("GET", "/api/v2/users?pageSize=1")[0] for _ in range(8)]
        self.assertEqual(sts, [200, 200, 200, 503, 200, 200, 503, 200])
        ctl("POST", "/__emu/reset")
        # body "oauth": the login host's own error shape
        self.fault([{"endpoint": "token", "status": 400, "body": "oauth"},
                    {"endpoint": "token", "status": 401, "body": "oauth", "code": "invalid_grant",
                     "message": "grant revoked"}])
        for status, err, desc in ((400, "invalid_request", "HTTP 400 from the login service"),
                                  (401, "invalid_grant", "grant revoked")):
            st, _, raw = request("POST", "/oauth/token", "grant_type=client_credentials",
                                 {"Authorization": basic()}, form=True)
            self.assertEqual((st, jbody(raw)),
                             (status, {"error": err, "description": desc,
                                       "error_description": desc}))
        st, _, raw = request("POST", "/__emu/faults", {"every": 0})
        self.assertEqual(st, 400)
