"""Self-test for the Genesys emulator and emuctl.

Starts genesys_emulator.py on a free port (--port 0 --port-file) and
exercises every endpoint, fault kind, setting and emuctl subcommand.
Run:  python3 -m unittest tests/emulator/test_emulator.py
"""

import base64
import csv
import gzip
import http.client
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "genesys_emulator.py")
EMUCTL = os.path.join(os.path.dirname(HERE), "emuctl.py")
CLIENT_ID, CLIENT_SECRET = "gc-test-client", "gc-test-secret-XYZZY"
QUERY = "/api/v2/analytics/conversations/details/query"
JOBS = "/api/v2/analytics/conversations/details/jobs"

PROC = None
PORT = None
TMPDIR = None


def setUpModule():
    """Start the emulator once for the whole module."""
    global PROC, PORT, TMPDIR
    TMPDIR = tempfile.mkdtemp(prefix="gcemu")
    pf = os.path.join(TMPDIR, "port")
    PROC = subprocess.Popen([sys.executable, EMULATOR, "--port", "0", "--port-file", pf],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(200):
        if os.path.exists(pf):
            with open(pf) as f:
                PORT = int(f.read())
            return
        if PROC.poll() is not None:
            raise RuntimeError("emulator died: %s" % PROC.stderr.read().decode())
        time.sleep(0.05)
    raise RuntimeError("emulator did not start")


def tearDownModule():
    """Stop the emulator with SIGTERM; it must exit cleanly."""
    if PROC and PROC.poll() is None:
        PROC.send_signal(signal.SIGTERM)
        try:
            PROC.wait(timeout=10)
        except subprocess.TimeoutExpired:
            PROC.kill()
            PROC.wait()
    if PROC:
        PROC.stdout.close()
        PROC.stderr.close()
    if TMPDIR:
        shutil.rmtree(TMPDIR, ignore_errors=True)


def request(method, path, body=None, headers=None, conn=None, form=False):
    """One HTTP request -> (status, headers dict (lowercase), raw body bytes)."""
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    h = dict(headers or {})
    data = None
    if body is not None:
        if form:
            data = body.encode()
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        else:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    if own:
        c.close()
    if hdrs.get("content-encoding") == "gzip":
        raw = gzip.decompress(raw)
    return r.status, hdrs, raw


def jbody(raw):
    """Parse a JSON body."""
    return json.loads(raw.decode("utf-8"))


def basic(cid=CLIENT_ID, secret=CLIENT_SECRET):
    """Authorization header value for client credentials."""
    return "Basic " + base64.b64encode(("%s:%s" % (cid, secret)).encode()).decode()


def get_token(cid=CLIENT_ID, secret=CLIENT_SECRET):
    """Fetch an access token (asserts success)."""
    st, _, raw = request("POST", "/oauth/token", "grant_type=client_credentials",
                         {"Authorization": basic(cid, secret)}, form=True)
    assert st == 200, raw
    return jbody(raw)["access_token"]


def ctl(method, path, body=None):
    """Call the control API -> parsed JSON."""
    st, _, raw = request(method, path, body)
    assert st == 200, (st, raw)
    return jbody(raw)


def emuctl(*args, check=True):
    """Run tests/emuctl.py -> (rc, stdout, stderr)."""
    env = dict(os.environ, GC_EMU_URL="http://127.0.0.1:%d" % PORT)
    p = subprocess.run([sys.executable, EMUCTL] + list(args), capture_output=True,
                       text=True, env=env, timeout=60)
    if check:
        assert p.returncode == 0, p.stderr
    return p.returncode, p.stdout, p.stderr


class Base(unittest.TestCase):
    """Resets the emulator and holds a token for each test."""

    @classmethod
    def setUpClass(cls):
        cls.token = get_token()

    def setUp(self):
        ctl("POST", "/__emu/reset")

    def auth(self):
        return {"Authorization": "Bearer " + self.token}

    def api(self, method, path, body=None, headers=None):
        h = self.auth()
        h.update(headers or {})
        return request(method, path, body, h)

    def query(self, body):
        st, _, raw = self.api("POST", QUERY, body)
        return st, jbody(raw)

    def assert_platform_error(self, st, hdrs, raw, status, code):
        self.assertEqual(st, status)
        b = jbody(raw)
        self.assertEqual(set(b), {"message", "code", "status", "contextId", "messageWithParams",
                                  "messageParams", "details", "errors"})
        self.assertEqual(b["code"], code)
        self.assertEqual(b["status"], status)
        self.assertEqual(b["contextId"], hdrs["inin-correlation-id"])
        return b


class TestBasics(Base):
    def test_headers_gzip_keepalive(self):
        ctl("POST", "/__emu/settings", {"rate_limit": 1000})
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
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


class TestUsers(Base):
    def page(self, qs):
        st, h, raw = self.api("GET", "/api/v2/users?" + qs)
        return st, h, jbody(raw)

    def test_paging_any(self):
        st, _, p1 = self.page("pageSize=500&state=any")
        self.assertEqual(st, 200)
        self.assertEqual(p1["total"], 600)
        self.assertEqual(p1["pageCount"], 2)
        self.assertEqual(len(p1["entities"]), 500)
        self.assertIn("nextUri", p1)
        self.assertNotIn("previousUri", p1)
        self.assertTrue(p1["nextUri"].startswith("/api/v2/users?pageSize=500&pageNumber=2"))
        st, _, p2 = self.page("pageSize=500&pageNumber=2&state=any")
        self.assertEqual(len(p2["entities"]), 100)
        self.assertNotIn("nextUri", p2)
        self.assertIn("previousUri", p2)
        ids = [u["id"] for u in p1["entities"] + p2["entities"]]
        self.assertEqual(len(set(ids)), 600)
        st, _, p3 = self.page("pageSize=500&pageNumber=3&state=any")
        self.assertEqual(p3["entities"], [])
        names = [u["name"].casefold() for u in p1["entities"] + p2["entities"]]
        self.assertEqual(names, sorted(names))
        for k in ("firstUri", "selfUri", "lastUri", "pageSize", "pageNumber"):
            self.assertIn(k, p1)

    def test_states_default_sort_desc(self):
        counts = {}
        for s in ("active", "inactive", "deleted"):
            counts[s] = self.page("pageSize=1&state=" + s)[2]["total"]
        self.assertEqual(sum(counts.values()), 600)
        self.assertEqual(self.page("pageSize=1")[2]["total"], counts["active"])
        asc = self.page("pageSize=10&state=inactive")[2]["entities"]
        desc = self.page("pageSize=500&state=inactive&sortOrder=DESC")[2]["entities"]
        self.assertEqual([u["id"] for u in asc], [u["id"] for u in desc[::-1]][:10])
        deleted = self.page("pageSize=500&state=deleted")[2]["entities"]
        self.assertTrue(all(u["state"] == "deleted" and "title" not in u and "chat" not in u
                            for u in deleted))

    def test_validation(self):
        for qs in ("pageSize=0", "pageSize=501", "pageSize=abc", "state=bogus", "pageNumber=0"):
            st, h, raw = self.api("GET", "/api/v2/users?" + qs)
            self.assert_platform_error(st, h, raw, 400, "invalid.value")

    def test_id_filter_expand(self):
        all_users = (self.page("pageSize=500&state=any&expand=dateLastLogin")[2]["entities"] +
                     self.page("pageSize=500&pageNumber=2&state=any&expand=dateLastLogin")[2]["entities"])
        self.assertEqual(len(all_users), 600)
        ids = [u["id"] for u in all_users[:5]]
        b = self.page("state=any&id=" + ",".join(ids[:3]) + "&id=" + ids[3])[2]
        self.assertEqual(sorted(u["id"] for u in b["entities"]), sorted(ids[:4]))
        self.assertTrue(any("dateLastLogin" in u for u in all_users))
        self.assertTrue(any("dateLastLogin" not in u for u in all_users))
        self.assertFalse(any("dateLastLogin" in u for u in self.page("pageSize=500")[2]["entities"]))
        self.assertTrue(any("manager" not in u for u in all_users))
        self.assertTrue(any("preferredName" in u for u in all_users))
        self.assertTrue(any("employerInfo" in u for u in all_users))
        names = {u["name"] for u in all_users}
        for n in ("José Müller", "王小明", "Support Agent 🎧", "Dana O'Neil",
                  'Robert "Bobby" Tables', "Back\\Slash Admin"):
            self.assertIn(n, names)
        u = all_users[0]
        for k in ("id", "name", "division", "email", "state", "username", "version",
                  "acdAutoAnswer", "selfUri", "primaryContactInfo", "addresses"):
            self.assertIn(k, u)
        st, _, raw = self.api("GET", "/api/v2/users/" + u["id"])
        self.assertEqual(jbody(raw)["id"], u["id"])


class TestDetails(Base):
    def test_validation(self):
        cases = [({}, "bad.request"),
                 ({"interval": "yesterday"}, "invalid.date"),
                 ({"interval": "2024-03-02T00:00:00Z/2024-03-01T00:00:00Z"}, "invalid.date"),
                 ({"interval": "2024-03-01T00:00:00Z/2024-03-08T00:00:01Z"}, "bad.request"),
                 ({"interval": "2024-03-01T00:00:00Z/2024-04-02T00:00:00Z",
                   "segmentFilters": [{"type": "and", "predicates": [
                       {"dimension": "mediaType", "value": "voice"}]}]}, "bad.request"),
                 ({"interval": "2024-03-01T00:00:00Z/2024-03-02T00:00:00Z",
                   "paging": {"pageSize": 101, "pageNumber": 1}}, "invalid.value"),
                 ({"interval": "2024-03-01T00:00:00Z/2024-03-02T00:00:00Z",
                   "paging": {"pageSize": 25, "pageNumber": 0}}, "invalid.value"),
                 ({"interval": "2024-03-01T00:00:00Z/2024-03-02T00:00:00Z",
                   "segmentFilters": [{"type": "and", "predicates": [
                       {"dimension": "bogus", "value": "x"}]}]}, "invalid.value")]
        for body, code in cases:
            st, h, raw = self.api("POST", QUERY, body)
            self.assert_platform_error(st, h, raw, 400, code)
        st, b = self.query({"interval": "2024-03-01T00:00:00Z/2024-03-08T00:00:00Z"})
        self.assertEqual(st, 200)
        st, b = self.query({"interval": "2024-03-01T00:00:00Z/2024-03-20T00:00:00Z",
                            "conversationFilters": [{"type": "or", "predicates": [
                                {"dimension": "originatingDirection", "value": "inbound"}]}]})
        self.assertEqual(st, 200)

    def test_pagination_cap(self):
        st, h, raw = self.api("POST", QUERY, {"interval": "2024-03-01T00:00:00Z/2024-03-02T00:00:00Z",
                                              "paging": {"pageSize": 100, "pageNumber": 1001}})
        b = self.assert_platform_error(st, h, raw, 400, "bad.request")
        self.assertIn("Pagination may not exceed 100000 results", b["message"])
        ctl("POST", "/__emu/settings", {"max_results": 20})
        st, b = self.query({"interval": "2024-03-01T00:00:00Z/2024-03-02T00:00:00Z",
                            "paging": {"pageSize": 10, "pageNumber": 2}})
        self.assertEqual(st, 200)
        st, h, raw = self.api("POST", QUERY, {"interval": "2024-03-01T00:00:00Z/2024-03-02T00:00:00Z",
                                              "paging": {"pageSize": 10, "pageNumber": 3}})
        b = self.assert_platform_error(st, h, raw, 400, "bad.request")
        self.assertIn("Pagination may not exceed 20 results", b["message"])

    def all_pages(self, body):
        out, n = [], 1
        while True:
            body = dict(body, paging={"pageSize": 100, "pageNumber": n})
            st, b = self.query(body)
            self.assertEqual(st, 200, b)
            if "conversations" not in b:
                return out, b["totalHits"]
            out.extend(b["conversations"])
            n += 1

    def test_day_touch_superset_and_paging(self):
        dataset = ctl("GET", "/__emu/dataset/conversations")
        day5 = [c["conversationId"] for c in dataset if c["conversationStart"].startswith("2024-03-05")]
        convs, total = self.all_pages({"interval": "2024-03-05T12:00:00Z/2024-03-05T13:00:00Z"})
        self.assertEqual(total, len(day5))
        self.assertEqual([c["conversationId"] for c in convs], day5)
        # interval ending at midnight does not touch the next day; offsets are honoured
        convs, total = self.all_pages({"interval": "2024-03-05T01:00:00+01:00/2024-03-06T00:00:00Z"})
        days = {c["conversationStart"][:10] for c in convs}
        self.assertEqual(days, {"2024-03-05"})
        convs, total = self.all_pages({"interval": "2024-03-01T00:00:00Z/2024-03-08T00:00:00Z"})
        self.assertEqual(len(convs), total)
        self.assertEqual(len({c["conversationId"] for c in convs}), total)
        starts = [(c["conversationStart"], c["conversationId"]) for c in convs]
        self.assertEqual(starts, sorted(starts))
        self.assertEqual(convs[0]["conversationStart"], "2024-03-01T00:00:00.000Z")
        self.assertTrue(any(c["conversationStart"].endswith("23:59:59.999Z") for c in convs))
        st, b = self.query({"interval": "2024-03-01T00:00:00Z/2024-03-02T00:00:00Z",
                            "paging": {"pageSize": 100, "pageNumber": 50}})
        self.assertNotIn("conversations", b)
        self.assertGreater(b["totalHits"], 0)

    def test_order(self):
        base = {"interval": "2024-03-03T00:00:00Z/2024-03-04T00:00:00Z"}
        asc, _ = self.all_pages(base)
        desc, _ = self.all_pages(dict(base, order="desc"))
        self.assertEqual([c["conversationId"] for c in asc], [c["conversationId"] for c in desc][::-1])
        by_end, _ = self.all_pages(dict(base, orderBy="conversationEnd"))
        ends = [c.get("conversationEnd", "9") for c in by_end]
        self.assertEqual(ends, sorted(ends))
        st, h, raw = self.api("POST", QUERY, dict(base, orderBy="bogus"))
        self.assertEqual(st, 400)

    def test_filters(self):
        dataset = ctl("GET", "/__emu/dataset/conversations")
        week = "2024-03-15T00:00:00Z/2024-03-22T00:00:00Z"
        in_week = [c for c in dataset if c["conversationStart"] >= "2024-03-15"]
        cid = in_week[3]["conversationId"]
        convs, _ = self.all_pages({"interval": week, "conversationFilters": [
            {"type": "and", "predicates": [{"type": "dimension", "dimension": "conversationId",
                                            "operator": "matches", "value": cid}]}]})
        self.assertEqual([c["conversationId"] for c in convs], [cid])
        convs, _ = self.all_pages({"interval": week, "conversationFilters": [
            {"type": "and", "predicates": [{"dimension": "conversationEnd", "operator": "notExists"}]}]})
        self.assertEqual(len(convs), sum(1 for c in in_week if "conversationEnd" not in c))
        self.assertGreaterEqual(len(convs), 5)
        convs, _ = self.all_pages({"interval": week, "conversationFilters": [
            {"type": "and", "predicates": [{"dimension": "externalTag", "operator": "exists"}]}]})
        self.assertEqual(len(convs), sum(1 for c in in_week if "externalTag" in c))
        div = in_week[0]["divisionIds"][0]
        convs, _ = self.all_pages({"interval": week, "conversationFilters": [
            {"type": "and", "predicates": [{"dimension": "divisionId", "value": div}]}]})
        self.assertEqual(len(convs), sum(1 for c in in_week if div in c["divisionIds"]))

        def segs(c):
            for p in c["participants"]:
                for s in p["sessions"]:
                    for g in s["segments"]:
                        yield p, s, g
        convs, _ = self.all_pages({"interval": week, "segmentFilters": [
            {"type": "and", "predicates": [{"dimension": "mediaType", "value": "voice"}]}]})
        self.assertEqual(len(convs), sum(1 for c in in_week
                                         if any(s["mediaType"] == "voice" for _, s, _ in segs(c))))
        agent = next(p["userId"] for p, _, _ in segs(in_week[0]) if p.get("userId")) \
            if any(p.get("userId") for p, _, _ in segs(in_week[0])) else \
            next(p["userId"] for c in in_week for p, _, _ in segs(c) if p.get("userId"))
        q = {"interval": week, "segmentFilters": [{"type": "and", "predicates": [
            {"dimension": "purpose", "value": "agent"}, {"dimension": "userId", "value": agent}]}]}
        convs, _ = self.all_pages(q)
        expect = [c["conversationId"] for c in in_week
                  if any(p.get("userId") == agent for p, _, _ in segs(c))]
        self.assertEqual([c["conversationId"] for c in convs], expect)
        # clauses: (mediaType=email or mediaType=chat) and wrapup segment exists
        q = {"interval": week, "segmentFilters": [{"type": "and", "clauses": [
            {"type": "or", "predicates": [{"dimension": "mediaType", "value": "email"},
                                          {"dimension": "mediaType", "value": "chat"}]},
            {"type": "or", "predicates": [{"dimension": "segmentType", "value": "wrapup"}]}]}]}
        convs, _ = self.all_pages(q)
        expect = [c["conversationId"] for c in in_week
                  if any(s["mediaType"] in ("email", "chat") and g["segmentType"] == "wrapup"
                         for _, s, g in segs(c))]
        self.assertEqual([c["conversationId"] for c in convs], expect)
        self.assertTrue(expect)
        flow = next(s["flow"]["flowId"] for c in in_week for _, s, _ in segs(c) if "flow" in s)
        convs, _ = self.all_pages({"interval": week, "segmentFilters": [
            {"type": "or", "predicates": [{"dimension": "flowId", "value": flow}]}]})
        self.assertTrue(convs)
        self.assertTrue(all("attributes" not in p for c in convs for p in c["participants"]))

    def test_by_id(self):
        dataset = ctl("GET", "/__emu/dataset/conversations")
        ids = [c["conversationId"] for c in dataset[:3]]
        st, _, raw = self.api("GET", "/api/v2/analytics/conversations/%s/details" % ids[0])
        self.assertEqual(st, 200)
        self.assertEqual(jbody(raw), dataset[0])
        st, h, raw = self.api("GET", "/api/v2/analytics/conversations/%s/details" % ("0" * 8))
        self.assert_platform_error(st, h, raw, 404, "not.found")
        st, _, raw = self.api("GET", "/api/v2/analytics/conversations/details?id=%s,%s&id=%s&id=missing"
                              % tuple(ids))
        self.assertEqual([c["conversationId"] for c in jbody(raw)["conversations"]], ids)


class TestDataset(Base):
    def test_shape(self):
        users = ctl("GET", "/__emu/dataset/users")
        convs = ctl("GET", "/__emu/dataset/conversations")
        self.assertEqual(len(users), 600)
        per_day = {}
        for c in convs:
            per_day[c["conversationStart"][:10]] = per_day.get(c["conversationStart"][:10], 0) + 1
        self.assertEqual(len(per_day), 21)
        self.assertTrue(all(20 <= n <= 60 for n in per_day.values()))
        self.assertTrue(700 <= len(convs) <= 900)
        active = {u["id"] for u in users if u["state"] == "active"}
        open_convs = [c for c in convs if "conversationEnd" not in c]
        self.assertTrue(3 <= len(open_convs) <= 10)
        for c in open_convs:
            self.assertTrue(any("segmentEnd" not in g for p in c["participants"]
                                for s in p["sessions"] for g in s["segments"]))
        self.assertTrue(any("mediaStatsMinConversationMos" not in c for c in convs))
        self.assertTrue(any("externalTag" not in c for c in convs))
        purposes = set()
        for c in convs:
            self.assertTrue(1 <= len(c["divisionIds"]) <= 2)
            for p in c["participants"]:
                purposes.add(p["purpose"])
                if p["purpose"] == "agent":
                    self.assertIn(p["userId"], active)
                for s in p["sessions"]:
                    for m in s.get("metrics", []):
                        self.assertEqual(set(m), {"name", "value", "emitDate"})
        self.assertTrue({"customer", "ivr", "acd", "agent"} <= purposes)

    def test_deterministic(self):
        out = subprocess.run([sys.executable, "-c",
                              "import sys; sys.path.insert(0, %r); import genesys_emulator as g; "
                              "d = g.Dataset(42); print(d.users[7]['id'], "
                              "d.conversations[100]['meta']['id'])" % HERE],
                             capture_output=True, text=True, check=True).stdout.split()
        users = ctl("GET", "/__emu/dataset/users")
        convs = ctl("GET", "/__emu/dataset/conversations")
        self.assertEqual(out, [users[7]["id"], convs[100]["conversationId"]])


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
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
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
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        c.request("GET", "/api/v2/users?pageSize=50", headers=self.auth())
        r = c.getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        c.close()
        self.assertEqual(self.api("GET", "/api/v2/users")[0], 200)
        self.assertEqual(ctl("GET", "/__emu/log")[0]["fault"], "truncate")

    def test_gzip_with_fault_truncate(self):
        self.fault({"endpoint": "users", "kind": "truncate"})
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        c.request("GET", "/api/v2/users?pageSize=50", headers=dict(self.auth(), **{"Accept-Encoding": "gzip"}))
        r = c.getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        c.close()


DAY2 = {"interval": "2024-03-02T00:00:00Z/2024-03-03T00:00:00Z"}


def strip_extra(obj):
    """obj without the keys extra_fields adds (emuExtra...), at any depth."""
    if isinstance(obj, dict):
        return {k: strip_extra(v) for k, v in obj.items() if not k.startswith("emuExtra")}
    if isinstance(obj, list):
        return [strip_extra(v) for v in obj]
    return obj


def raw_get(path, headers, timeout=10):
    """GET over a raw socket -> (bytes received, how it ended: 'eof',
    'reset' or 'timeout'), for answers http.client cannot show."""
    import socket
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    try:
        req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % path
        req += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
        s.sendall(req.encode())
        data = b""
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                return data, "reset"
            except socket.timeout:
                return data, "timeout"
            if not d:
                return data, "eof"
            data += d
    finally:
        s.close()


def split_response(data):
    """Raw response bytes -> (status, headers dict (lowercase), body bytes)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, body


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
                             {"Authorization": "Basic " + base64.b64encode(b"x:y").decode()},
                             form=True)
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

class TestRateLimit(Base):
    def test_rate_limit_and_waits(self):
        ctl("POST", "/__emu/settings", {"rate_limit": 3, "rate_window": 2})
        sts, last = [], None
        for _ in range(4):
            st, h, raw = self.api("GET", "/api/v2/users?pageSize=1")
            sts.append(st)
            last = (st, h, raw)
        self.assertEqual(sts, [200, 200, 200, 429])
        st, h, raw = last
        self.assert_platform_error(st, h, raw, 429, "too.many.requests.retry.after")
        ra = int(h["retry-after"])
        self.assertTrue(1 <= ra <= 2)
        self.assertEqual(h["inin-ratelimit-allowed"], "3")
        time.sleep(ra)
        self.assertEqual(self.api("GET", "/api/v2/users?pageSize=1")[0], 200)
        rc, out, _ = emuctl("waits")
        self.assertEqual(out.split(), [str(ra)])
        self.assertEqual(emuctl("log-count", "--fault", "rate_limit")[1].strip(), "1")


class TestPrerenderedPages(Base):
    """The rendered-page cache: same bytes as a fresh rendering, dropped
    with the dataset version it belongs to, never used by faulted requests."""

    WEEK = "2024-03-01T00:00:00Z/2024-03-08T00:00:00Z"

    def setUp(self):
        # cold caches, so that hits and misses are this test's own
        ctl("POST", "/__emu/reset", {"caches": True})

    def page(self, body, gz=False):
        """A details query page -> (status, headers, identity bytes)."""
        return self.api("POST", QUERY, body, {"Accept-Encoding": "gzip"} if gz else None)

    def fresh(self, method, path, body=None, gz=False):
        """The same request rendered outside the cache: a zero-second delay
        fault fires on it, which changes nothing but the cache's part."""
        ctl("POST", "/__emu/faults", {"kind": "delay", "seconds": 0, "path": path.split("?")[0]})
        st, h, raw = self.api(method, path, body, {"Accept-Encoding": "gzip"} if gz else None)
        self.assertEqual(ctl("GET", "/__emu/faults")[0]["spent"], True)
        ctl("DELETE", "/__emu/faults")
        return st, h, raw

    def test_cached_pages_equal_uncached_rendering(self):
        ctl("POST", "/__emu/settings", {"job_polls": 0})
        jid = jbody(self.api("POST", JOBS, {"interval": "2024-03-05T00:00:00Z/2024-03-07T00:00:00Z"})[2])["jobId"]
        self.api("GET", "%s/%s" % (JOBS, jid))
        seg = [{"type": "and", "predicates": [{"dimension": "mediaType", "value": "voice"}]}]
        requests = [("GET", "/api/v2/users?pageSize=500&state=any&expand=dateLastLogin", None),
                    ("GET", "/api/v2/users?state=inactive&sortOrder=desc&pageSize=7&pageNumber=2", None),
                    ("GET", "%s/%s/results?pageSize=40" % (JOBS, jid), None)]
        for order, order_by, filters, size, number in [
                ("asc", "conversationStart", {}, 100, 1), ("desc", "segmentEnd", {}, 7, 3),
                ("unordered", "conversationEnd", {"segmentFilters": seg}, 25, 2),
                ("asc", "conversationStart", {}, 100, 50)]:        # past the end: no rows
            requests.append(("POST", QUERY, dict(filters, interval=self.WEEK, order=order,
                                                 orderBy=order_by,
                                                 paging={"pageSize": size, "pageNumber": number})))
        for method, path, body in requests:
            for gz in (False, True):
                st, h, raw = self.api(method, path, body, {"Accept-Encoding": "gzip"} if gz else None)
                st2, h2, cached = self.api(method, path, body,
                                           {"Accept-Encoding": "gzip"} if gz else None)
                st3, h3, fresh = self.fresh(method, path, body, gz)
                self.assertEqual((st, st2, st3), (200, 200, 200), raw)
                self.assertEqual(raw, cached, path)
                self.assertEqual(cached, fresh, path)
                self.assertEqual(h2.get("content-encoding"), "gzip" if gz else None)
                self.assertEqual(h2["content-length"], h.get("content-length"))
        # one miss per page and encoding, then hits; faulted requests count neither
        stats = ctl("GET", "/__emu/stats")
        self.assertEqual((stats["cache_misses"], stats["cache_hits"]),
                         (2 * len(requests), 2 * len(requests)))
        # the shape is the one the API answers with, byte for byte
        dataset = ctl("GET", "/__emu/dataset/conversations")
        week = [c for c in dataset if c["conversationStart"] < "2024-03-08"]
        st, _, raw = self.page({"interval": self.WEEK, "paging": {"pageSize": 100}})
        self.assertEqual(raw, json.dumps({"conversations": week[:100], "totalHits": len(week)},
                                         ensure_ascii=False, separators=(",", ":")).encode())
        st, _, raw = self.page({"interval": self.WEEK, "paging": {"pageSize": 100,
                                                                  "pageNumber": 50}})
        self.assertEqual(raw, b'{"totalHits":%d}' % len(week))

    def test_invalidation_after_mutate_settings_and_reset(self):
        body = {"interval": "2024-03-04T00:00:00Z/2024-03-05T00:00:00Z",
                "paging": {"pageSize": 10, "pageNumber": 2}}
        _, _, before = self.page(body)
        self.assertEqual(self.page(body)[2], before)
        conv = jbody(before)["conversations"][0]
        # a late wrap-up code publishes a new dataset version: the page follows
        ctl("POST", "/__emu/mutate", {"action": "wrapup", "conversationId": conv["conversationId"],
                                      "wrapUpCode": "late-code"})
        _, _, after = self.page(body)
        self.assertIn(b'"wrapUpCode":"late-code"', after)
        self.assertNotEqual(after, before)
        # an added conversation before these rows shifts them and adds a hit
        ctl("POST", "/__emu/mutate", {"action": "add", "start": "2024-03-04T00:00:01Z"})
        b = jbody(self.page(body)[2])
        self.assertEqual(b["totalHits"], jbody(before)["totalHits"] + 1)
        self.assertEqual(b["conversations"][1]["conversationId"], conv["conversationId"])
        # a setting that shapes the body is part of the key
        ctl("POST", "/__emu/settings", {"page_shift": 3})
        shifted = jbody(self.page(body)[2])["conversations"]
        self.assertEqual(shifted[4]["conversationId"], conv["conversationId"])
        # user listings follow a PATCH too
        users = "/api/v2/users?pageSize=500&state=any"
        listing = jbody(self.api("GET", users)[2])["entities"]
        u = next(x for x in listing if x["state"] == "active")
        st, _, raw = self.api("PATCH", "/api/v2/users/" + u["id"],
                              {"version": u["version"], "title": "Cache buster"})
        self.assertEqual(st, 200, raw)
        again = {x["id"]: x for x in jbody(self.api("GET", users)[2])["entities"]}
        self.assertEqual(again[u["id"]]["title"], "Cache buster")
        # reset puts back the pristine dataset, whose pages are still right
        ctl("POST", "/__emu/reset")
        self.assertEqual(self.page(body)[2], before)
        stats = ctl("GET", "/__emu/stats")
        self.assertEqual((stats["cache_hits"], stats["cache_misses"]), (1, 0))
        again = {x["id"]: x for x in jbody(self.api("GET", users)[2])["entities"]}
        self.assertEqual(again[u["id"]], u)

    def test_faults_bypass_the_cache(self):
        body = {"interval": self.WEEK, "paging": {"pageSize": 5, "pageNumber": 2}}
        # a rewritten answer is neither served from nor stored in the cache
        ctl("POST", "/__emu/faults", {"kind": "extra_fields", "endpoint": "details"})
        _, _, faulted = self.page(body, gz=True)
        self.assertIn(b"emuExtraTopFirst", faulted)
        st, h, clean = self.page(body, gz=True)
        self.assertNotIn(b"emuExtra", clean)
        self.assertEqual(ctl("GET", "/__emu/stats")["cache_misses"], 1)
        # with the page cached, faults still see (and change) a fresh body
        ctl("POST", "/__emu/faults", [{"kind": "total_hits", "delta": 7},
                                      {"kind": "repeat_page"}])
        self.assertEqual(jbody(self.page(body)[2])["totalHits"], jbody(clean)["totalHits"] + 7)
        page1 = self.page(dict(body, paging={"pageSize": 5, "pageNumber": 1}))[2]
        self.assertEqual(self.page(body)[2], page1)          # repeat_page: page 1 again
        self.assertEqual(self.page(body, gz=True)[2], clean)
        # a truncated gzip answer is half of what a fresh compression sends
        ctl("POST", "/__emu/faults", {"kind": "truncate", "endpoint": "details"})
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        c.request("POST", QUERY, json.dumps(body), dict(self.auth(), **{
            "Accept-Encoding": "gzip", "Content-Type": "application/json"}))
        r = c.getresponse()
        full = int(r.getheader("Content-Length"))
        part = b""
        try:
            part = r.read()
        except http.client.IncompleteRead as e:
            part = e.partial
        c.close()
        self.assertEqual(len(part), full // 2)
        head = zlib.decompressobj(31).decompress(part)
        self.assertEqual(head, clean[:len(head)])
        # counted: the two clean pages (misses) and the clean page again (a hit)
        stats = ctl("GET", "/__emu/stats")
        self.assertEqual((stats["cache_hits"], stats["cache_misses"]), (1, 2))

    def test_prerender(self):
        query = {"interval": self.WEEK, "order": "desc", "orderBy": "conversationEnd",
                 "paging": {"pageSize": 100, "pageNumber": 7}}     # pageNumber is ignored
        out = ctl("POST", "/__emu/prerender", query)
        self.assertEqual(set(out), {"pages", "totalHits", "bytes", "identity_bytes",
                                    "gzip_bytes", "seconds"})
        self.assertEqual(out["pages"], -(-out["totalHits"] // 100))
        self.assertEqual(out["bytes"], out["identity_bytes"] + out["gzip_bytes"])
        self.assertGreater(out["gzip_bytes"], 0)
        identity = gzipped = 0
        for n in range(1, out["pages"] + 1):
            page = dict(query, paging={"pageSize": 100, "pageNumber": n})
            st, h, raw = self.page(page)
            self.assertEqual(st, 200)
            identity += len(raw)
            st, h, raw = self.page(page, gz=True)
            gzipped += int(h["content-length"])
        self.assertEqual((identity, gzipped), (out["identity_bytes"], out["gzip_bytes"]))
        stats = ctl("GET", "/__emu/stats")
        self.assertEqual((stats["cache_hits"], stats["cache_misses"]), (2 * out["pages"], 0))
        # an empty interval still has its page 1; page_shift and max_results apply
        empty = ctl("POST", "/__emu/prerender", {"interval": "2023-01-01T00:00:00Z/2023-01-02T00:00:00Z"})
        self.assertEqual((empty["pages"], empty["totalHits"]), (1, 0))
        ctl("POST", "/__emu/settings", {"max_results": 300})
        self.assertEqual(ctl("POST", "/__emu/prerender", query)["pages"], 3)
        ctl("POST", "/__emu/settings", {"max_results": 100000, "page_shift": 50})
        shifted = ctl("POST", "/__emu/prerender", query)
        self.assertEqual(shifted["pages"], -(-(out["totalHits"] + 50) // 100))
        # it validates like the API
        for bad in ({}, {"interval": "2024-03-01T00:00:00Z/2024-03-09T00:00:00Z"},
                    {"interval": self.WEEK, "paging": {"pageSize": 101}}):
            st, _, raw = request("POST", "/__emu/prerender", bad)
            self.assertEqual(st, 400)
            self.assertEqual(set(jbody(raw)), {"error"})

    def test_rate_limit_still_counts_cached_pages(self):
        ctl("POST", "/__emu/prerender", {"interval": self.WEEK})
        ctl("POST", "/__emu/settings", {"rate_limit": 3, "rate_window": 60})
        counts = []
        for _ in range(3):
            st, h, raw = self.page({"interval": self.WEEK}, gz=True)
            self.assertEqual(st, 200)
            counts.append(h["inin-ratelimit-count"])
        self.assertEqual(counts, ["1", "2", "3"])
        st, h, raw = self.page({"interval": self.WEEK}, gz=True)
        self.assert_platform_error(st, h, raw, 429, "too.many.requests.retry.after")
        self.assertTrue(1 <= int(h["retry-after"]) <= 60)
        self.assertEqual(h["inin-ratelimit-allowed"], "3")
        stats = ctl("GET", "/__emu/stats")
        self.assertEqual((stats["cache_hits"], stats["cache_misses"]), (3, 0))

    def test_stats(self):
        stats = ctl("GET", "/__emu/stats")
        self.assertEqual({k: stats[k] for k in ("requests", "handler_seconds", "latency_seconds",
                                                "cache_hits", "cache_misses")},
                         {"requests": 0, "handler_seconds": 0.0, "latency_seconds": 0.0,
                          "cache_hits": 0, "cache_misses": 0})
        t0 = time.monotonic()
        get_token()
        for _ in range(3):
            self.page({"interval": self.WEEK})
        self.api("GET", "/api/v2/users/no-such-user")
        wall = time.monotonic() - t0
        stats = ctl("GET", "/__emu/stats")      # control requests are not counted
        self.assertEqual((stats["requests"], stats["cache_hits"], stats["cache_misses"]),
                         (5, 2, 1))
        self.assertGreater(stats["handler_seconds"], 0)
        self.assertLess(stats["handler_seconds"], wall)
        self.assertGreater(stats["cached_pages"], 0)
        ctl("POST", "/__emu/reset")
        self.assertEqual(ctl("GET", "/__emu/stats")["requests"], 0)


class TestLatency(Base):
    """latency_ms delays /api/ answers in their own connection's thread."""

    def timed(self, method, path, body=None, headers=None, form=False):
        t0 = time.monotonic()
        st, _, _ = request(method, path, body, headers, form=form)
        return st, time.monotonic() - t0

    def test_latency_delays_api_only(self):
        self.assertEqual(ctl("GET", "/__emu/settings")["latency_ms"], 0)
        ctl("POST", "/__emu/settings", {"latency_ms": 300})
        st, took = self.timed("GET", "/api/v2/users?pageSize=1", headers=self.auth())
        self.assertEqual(st, 200)
        self.assertGreaterEqual(took, 0.3)
        st, took = self.timed("GET", "/api/v2/users?pageSize=1")      # a 401 waits as well
        self.assertEqual(st, 401)
        self.assertGreaterEqual(took, 0.3)
        st, took = self.timed("POST", "/oauth/token", "grant_type=client_credentials",
                              {"Authorization": basic()}, form=True)
        self.assertEqual(st, 200)
        self.assertLess(took, 0.3)
        st, took = self.timed("GET", "/__emu/health")
        self.assertLess(took, 0.3)
        stats = ctl("GET", "/__emu/stats")
        self.assertAlmostEqual(stats["latency_seconds"], 0.6, places=6)
        self.assertLess(stats["handler_seconds"], 0.3)       # the wait is not handler time
        for bad in (-1, "100", True, 600001):
            st, _, raw = request("POST", "/__emu/settings", {"latency_ms": bad})
            self.assertEqual(st, 400, bad)

    def test_latency_overlaps_across_connections(self):
        import threading
        ctl("POST", "/__emu/settings", {"latency_ms": 300})
        conns = [http.client.HTTPConnection("127.0.0.1", PORT, timeout=30) for _ in range(2)]
        for c in conns:
            c.connect()             # both connections (and threads) exist before the clock
        took = [None, None]
        go = threading.Barrier(2)

        def fetch(i):
            go.wait()
            t0 = time.monotonic()
            st, _, _ = request("POST", QUERY, {"interval": "2024-03-01T00:00:00Z/2024-03-02T00:00:00Z"},
                               self.auth(), conn=conns[i])
            took[i] = (st, time.monotonic() - t0)
        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(2)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        for c in conns:
            c.close()
        for st, secs in took:
            self.assertEqual(st, 200)
            self.assertGreaterEqual(secs, 0.3)
        self.assertLess(wall, 2 * 0.3)


class TestJobs(Base):
    def submit(self, body):
        st, h, raw = self.api("POST", JOBS, body)
        return st, h, jbody(raw)

    def poll_until_done(self, jid):
        states = []
        for _ in range(10):
            st, _, raw = self.api("GET", "%s/%s" % (JOBS, jid))
            self.assertEqual(st, 200)
            b = jbody(raw)
            states.append(b["state"])
            if b["state"] == "FULFILLED":
                return states, b
        self.fail("job never finished: %s" % states)

    def results(self, jid, page_size=1000):
        out, cursor, pages = [], None, 0
        while True:
            qs = "pageSize=%d" % page_size + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
            st, _, raw = self.api("GET", "%s/%s/results?%s" % (JOBS, jid, qs))
            self.assertEqual(st, 200, raw)
            b = jbody(raw)
            self.assertIn("dataAvailabilityDate", b)
            out.extend(b["conversations"])
            pages += 1
            cursor = b.get("cursor")
            if not cursor:
                return out, pages

    def test_lifecycle_and_overlap(self):
        dataset = ctl("GET", "/__emu/dataset/conversations")
        start, end = "2024-03-11T00:00:00.000Z", "2024-03-13T00:00:00.000Z"
        expect = [c["conversationId"] for c in dataset
                  if c["conversationStart"] < end and c.get("conversationEnd", "9") >= start]
        st, _, b = self.submit({"interval": "%s/%s" % (start, end)})
        self.assertEqual(st, 202)
        jid = b["jobId"]
        st, _, raw = self.api("GET", "%s/%s/results" % (JOBS, jid))
        self.assertEqual(st, 400)
        states, status = self.poll_until_done(jid)
        self.assertEqual(states, ["QUEUED", "PENDING", "FULFILLED"])
        for k in ("submissionDate", "completionDate", "expirationDate"):
            self.assertIn(k, status)
        convs, pages = self.results(jid, page_size=25)
        self.assertEqual([c["conversationId"] for c in convs], expect)
        self.assertGreater(pages, 1)
        self.assertTrue(any("attributes" in p for c in convs for p in c["participants"]))
        # overlap catches conversations that started before the interval and are still open
        self.assertTrue(any(c["conversationStart"] < start for c in convs))
        st, _, raw = self.api("GET", "%s/%s/results?cursor=garbage" % (JOBS, jid))
        self.assertEqual(st, 400)
        st, _, raw = self.api("DELETE", "%s/%s" % (JOBS, jid))
        self.assertEqual((st, raw), (204, b""))
        self.assertEqual(emuctl("log-count", "--endpoint", "jobs", "--method", "DELETE")[1].strip(), "1")
        st, h, raw = self.api("GET", "%s/%s" % (JOBS, "no-such-job"))
        self.assert_platform_error(st, h, raw, 404, "not.found")

    def test_options_and_caps(self):
        ctl("POST", "/__emu/settings", {"job_polls": 0})
        iv = "2024-03-10T00:00:00Z/2024-03-12T00:00:00Z"
        st, _, b = self.submit({"interval": iv, "startOfDayIntervalMatching": True, "limit": 7,
                                "segmentFilters": [{"type": "and", "predicates": [
                                    {"dimension": "mediaType", "value": "voice"}]}]})
        states, _ = self.poll_until_done(b["jobId"])
        self.assertEqual(states, ["FULFILLED"])
        convs, _ = self.results(b["jobId"])
        self.assertEqual(len(convs), 7)
        self.assertTrue(all(c["conversationStart"] >= "2024-03-10" for c in convs))
        ctl("POST", "/__emu/settings", {"max_job_results": 5})
        st, h, raw = self.api("POST", JOBS, {"interval": iv})
        b = self.assert_platform_error(st, h, raw, 400, "bad.request")
        self.assertIn("may not exceed 5 results", b["message"])
        st, h, raw = self.api("POST", JOBS, {"interval": iv, "limit": 5})
        self.assertEqual(st, 202)

    def test_availability(self):
        st, _, raw = self.api("GET", JOBS + "/availability")
        self.assertEqual(jbody(raw), {"dataAvailabilityDate": "2024-03-20T00:00:00.000Z"})
        ctl("POST", "/__emu/settings", {"availability_date": "2024-03-21T06:00:00Z"})
        st, _, raw = self.api("GET", JOBS + "/availability")
        self.assertEqual(jbody(raw), {"dataAvailabilityDate": "2024-03-21T06:00:00.000Z"})


class TestMutate(Base):
    """POST /__emu/mutate: the data changing under a sync, and reset restoring it."""

    def mutate(self, body, status=200):
        st, _, raw = request("POST", "/__emu/mutate", body)
        b = jbody(raw)
        self.assertEqual(st, status, b)
        if status == 200:
            self.assertIs(b["ok"], True)
        else:
            self.assertEqual(set(b), {"error"})
        return b

    def all_pages(self, body):
        return TestDetails.all_pages(self, body)

    def job(self, interval):
        """Submit a job for interval and return all its result conversations."""
        ctl("POST", "/__emu/settings", {"job_polls": 0})
        st, _, raw = self.api("POST", JOBS, {"interval": interval})
        self.assertEqual(st, 202)
        jid = jbody(raw)["jobId"]
        self.assertEqual(jbody(self.api("GET", "%s/%s" % (JOBS, jid))[2])["state"], "FULFILLED")
        st, _, raw = self.api("GET", "%s/%s/results" % (JOBS, jid))
        self.assertEqual(st, 200)
        return jbody(raw)["conversations"]

    def by_id(self, cid):
        st, _, raw = self.api("GET", "/api/v2/analytics/conversations/%s/details" % cid)
        return st, jbody(raw)

    @staticmethod
    def wrapups(c):
        return [g for p in c["participants"] for s in p["sessions"] for g in s["segments"]
                if g["segmentType"] == "wrapup"]

    def test_wrapup_late_code(self):
        self.assertIs(ctl("GET", "/__emu/health")["mutated"], False)
        dataset = ctl("GET", "/__emu/dataset/conversations")
        conv = next(c for c in dataset if c["conversationStart"].startswith("2024-03-04")
                    and self.wrapups(c) and "wrapUpNote" not in self.wrapups(c)[-1])
        cid = conv["conversationId"]
        day = "2024-03-04T00:00:00Z/2024-03-05T00:00:00Z"
        q = {"interval": day, "segmentFilters": [{"type": "and", "predicates": [
            {"dimension": "wrapUpCode", "value": "late-code"}]}]}
        self.assertEqual(self.all_pages(q), ([], 0))
        b = self.mutate({"action": "wrapup", "conversationId": cid, "wrapUpCode": "late-code",
                         "wrapUpNote": "Called back \"later\""})
        self.assertEqual(b, {"ok": True, "conversationId": cid})
        self.assertIs(ctl("GET", "/__emu/health")["mutated"], True)
        for _ in range(2):      # the change is stable across re-runs of the same query
            convs, total = self.all_pages(q)
            self.assertEqual(([c["conversationId"] for c in convs], total), ([cid], 1))
        g = self.wrapups(convs[0])[-1]
        self.assertEqual((g["wrapUpCode"], g["wrapUpNote"]), ("late-code", 'Called back "later"'))
        self.assertEqual(self.wrapups(self.by_id(cid)[1])[-1]["wrapUpCode"], "late-code")
        # everything else is as before; job results (with attributes) agree
        self.assertEqual(len(self.all_pages({"interval": day})[0]),
                         sum(1 for c in dataset if c["conversationStart"].startswith("2024-03-04")))
        full = next(c for c in self.job(day) if c["conversationId"] == cid)
        self.assertEqual(self.wrapups(full)[-1]["wrapUpCode"], "late-code")
        self.assertEqual(self.wrapups(full), self.wrapups(convs[0]))
        # a null note removes it; the code can change again
        self.mutate({"action": "wrapup", "conversationId": cid, "wrapUpCode": "other",
                     "wrapUpNote": None})
        g = self.wrapups(self.by_id(cid)[1])[-1]
        self.assertEqual(g["wrapUpCode"], "other")
        self.assertNotIn("wrapUpNote", g)
        open_id = next(c["conversationId"] for c in dataset if "conversationEnd" not in c)
        for body in ({"action": "wrapup", "conversationId": "no-such-id", "wrapUpCode": "x"},
                     {"action": "wrapup", "conversationId": cid},
                     {"action": "wrapup", "conversationId": cid, "wrapUpCode": "x", "code": "y"},
                     {"action": "wrapup", "conversationId": open_id, "wrapUpCode": "x"},
                     {"action": "explode"}, {"conversationId": cid}, [1]):
            self.mutate(body, 400)
        self.assertEqual(self.by_id(open_id)[1], next(c for c in dataset
                                                      if c["conversationId"] == open_id))
        ctl("POST", "/__emu/reset")
        self.assertIs(ctl("GET", "/__emu/health")["mutated"], False)
        self.assertEqual(self.all_pages(q), ([], 0))
        self.assertEqual(self.by_id(cid)[1], conv)
        self.assertEqual(ctl("GET", "/__emu/dataset/conversations"), dataset)

    def test_end_then_late_wrapup(self):
        dataset = ctl("GET", "/__emu/dataset/conversations")
        conv = next(c for c in dataset if "conversationEnd" not in c
                    and c["conversationStart"].startswith("2024-03-10"))
        cid = conv["conversationId"]
        day = "2024-03-10T00:00:00Z/2024-03-11T00:00:00Z"
        still_open = {"interval": day, "conversationFilters": [{"type": "and", "predicates": [
            {"dimension": "conversationEnd", "operator": "notExists"}]}]}
        self.assertEqual([c["conversationId"] for c in self.all_pages(still_open)[0]], [cid])
        by_end = {"interval": "2024-03-10T00:00:00Z/2024-03-12T00:00:00Z",
                  "orderBy": "conversationEnd"}
        self.assertEqual(self.all_pages(by_end)[0][-1]["conversationId"], cid)
        next_day = "2024-03-11T00:00:00Z/2024-03-12T00:00:00Z"
        self.assertIn(cid, [c["conversationId"] for c in self.job(next_day)])
        for body, why in (({"action": "end", "conversationId": cid, "at": "yesterday"}, "ISO-8601"),
                          ({"action": "end", "conversationId": cid,
                            "at": conv["conversationStart"]}, "after every segmentStart"),
                          ({"action": "end", "conversationId": cid}, "ISO-8601"),
                          ({"action": "end", "conversationId": "nope", "at": "2024-03-10T23:00:00Z"},
                           "unknown conversationId")):
            self.assertIn(why, self.mutate(body, 400)["error"])
        self.assertIs(ctl("GET", "/__emu/health")["mutated"], False)
        at = "2024-03-10T23:00:00.000Z"
        b = self.mutate({"action": "end", "conversationId": cid, "at": "2024-03-11T00:00:00+01:00",
                         "wrapup": False})
        self.assertEqual(b, {"ok": True, "conversationId": cid})
        self.assertEqual(self.all_pages(still_open), ([], 0))
        st, ended = self.by_id(cid)
        self.assertEqual(ended["conversationEnd"], at)
        segs = [g for p in ended["participants"] for s in p["sessions"] for g in s["segments"]]
        self.assertTrue(all("segmentEnd" in g for g in segs))
        self.assertEqual(max(g["segmentEnd"] for g in segs), at)
        self.assertEqual(self.wrapups(ended), [])
        # ordering by conversationEnd places it by its end now, no longer last (open)
        convs, _ = self.all_pages(by_end)
        ends = [c["conversationEnd"] for c in convs]
        self.assertEqual(ends, sorted(ends))
        self.assertNotEqual(convs[-1]["conversationId"], cid)
        self.assertEqual(ends[[c["conversationId"] for c in convs].index(cid)], at)
        # overlap matching: it no longer reaches into the next day
        self.assertNotIn(cid, [c["conversationId"] for c in self.job(next_day)])
        self.assertIn("not in progress", self.mutate(
            {"action": "end", "conversationId": cid, "at": "2024-03-10T23:30:00Z"}, 400)["error"])
        # the wrap-up code arrives late: a wrapup segment is appended after the agent's last one
        self.mutate({"action": "wrapup", "conversationId": cid, "wrapUpCode": "late"})
        convs, _ = self.all_pages({"interval": day, "segmentFilters": [{"type": "and", "predicates": [
            {"dimension": "wrapUpCode", "value": "late"}, {"dimension": "purpose", "value": "agent"}]}]})
        self.assertEqual([c["conversationId"] for c in convs], [cid])
        g = self.wrapups(convs[0])
        self.assertEqual([(x["segmentStart"], x["segmentEnd"]) for x in g],
                         [(at, "2024-03-10T23:00:30.000Z")])
        convs, _ = self.all_pages({"interval": day, "orderBy": "segmentEnd", "order": "desc"})
        self.assertEqual(convs[0]["conversationId"], cid)
        # an in-progress conversation on 03-21 ends with a wrap-up code from the dataset
        other = next(c for c in dataset if "conversationEnd" not in c
                     and c["conversationStart"].startswith("2024-03-21"))
        b = self.mutate({"action": "end", "conversationId": other["conversationId"],
                         "at": "2024-03-22T02:00:00Z"})
        codes = {g["wrapUpCode"] for c in dataset for g in self.wrapups(c)}
        self.assertIn(b["wrapUpCode"], codes)
        full = next(c for c in self.job("2024-03-21T00:00:00Z/2024-03-22T00:00:00Z")
                    if c["conversationId"] == other["conversationId"])
        self.assertEqual(full["conversationEnd"], "2024-03-22T02:00:00.000Z")
        agent = next(p for p in full["participants"] if p["purpose"] == "agent")
        self.assertEqual([g["wrapUpCode"] for g in self.wrapups(full)], [b["wrapUpCode"]])
        names = [m["name"] for s in agent["sessions"] for m in s["metrics"]]
        self.assertIn("tHandle", names)
        self.assertIn("tTalk", names)
        ctl("POST", "/__emu/reset")
        self.assertEqual(ctl("GET", "/__emu/dataset/conversations"), dataset)
        self.assertEqual([c["conversationId"] for c in self.all_pages(still_open)[0]], [cid])

    def test_add(self):
        dataset = ctl("GET", "/__emu/dataset/conversations")
        day = {"interval": "2024-03-02T00:00:00Z/2024-03-03T00:00:00Z"}
        before, total = self.all_pages(day)
        b = self.mutate({"action": "add", "start": "2024-03-02T10:00:00Z", "media": "chat"})
        cid = b["conversationId"]
        self.assertEqual(set(b), {"ok", "conversationId"})
        for _ in range(2):
            after, total2 = self.all_pages(day)
            self.assertEqual(total2, total + 1)
            starts = [(c["conversationStart"], c["conversationId"]) for c in after]
            self.assertEqual(starts, sorted(starts))
            self.assertEqual([c for c in after if c["conversationId"] != cid], before)
        new = next(c for c in after if c["conversationId"] == cid)
        self.assertEqual(new["conversationStart"], "2024-03-02T10:00:00.000Z")
        self.assertIn("conversationEnd", new)
        self.assertTrue(all(s["mediaType"] == "chat" for p in new["participants"]
                            for s in p["sessions"]))
        self.assertEqual(self.by_id(cid), (200, new))
        convs, _ = self.all_pages(dict(day, segmentFilters=[{"type": "and", "predicates": [
            {"dimension": "mediaType", "value": "chat"}]}]))
        self.assertIn(cid, [c["conversationId"] for c in convs])
        job = self.job("2024-03-02T09:00:00Z/2024-03-02T11:00:00Z")
        self.assertIn(cid, [c["conversationId"] for c in job])
        self.assertEqual(len(ctl("GET", "/__emu/dataset/conversations")), len(dataset) + 1)
        # the same add again is a different conversation; an in-progress one has no end
        b2 = self.mutate({"action": "add", "start": "2024-03-02T10:00:00Z", "media": "chat"})
        self.assertNotEqual(b2["conversationId"], cid)
        b3 = self.mutate({"action": "add", "start": "2024-03-05T08:00:00Z", "inProgress": True})
        self.assertNotIn("conversationEnd", self.by_id(b3["conversationId"])[1])
        for body in ({"action": "add", "start": "2024-03-02"},
                     {"action": "add", "start": "2024-03-02T10:00:00Z", "media": "fax"},
                     {"action": "add", "start": "2024-03-02T10:00:00Z", "inProgress": "yes"},
                     {"action": "add"}):
            self.mutate(body, 400)
        ctl("POST", "/__emu/reset")
        self.assertEqual(self.all_pages(day), (before, total))
        self.assertEqual(self.by_id(cid)[0], 404)
        # deterministic: the same adds after a reset give the same conversation
        b4 = self.mutate({"action": "add", "start": "2024-03-02T10:00:00Z", "media": "chat"})
        self.assertEqual(b4["conversationId"], cid)
        self.assertEqual(self.by_id(cid), (200, new))

    def test_add_between_pages_pushes_rows_to_later_pages(self):
        """An add between two page requests of one interval shifts the later
        pages, as live traffic does: the row that ended page 1 starts page 2."""
        day = {"interval": "2024-03-02T00:00:00Z/2024-03-03T00:00:00Z"}

        def page(n):
            st, b = self.query(dict(day, paging={"pageSize": 10, "pageNumber": n}))
            self.assertEqual(st, 200)
            return b
        p1 = page(1)
        first = p1["conversations"][0]["conversationStart"]
        # a conversation that sorts right after page 1's first row
        at = first[:19] + ".999Z"
        self.assertLess(first, at)
        self.assertLess(at, p1["conversations"][1]["conversationStart"])
        cid = self.mutate({"action": "add", "start": at})["conversationId"]
        p2 = page(2)
        self.assertEqual(p2["totalHits"], p1["totalHits"] + 1)
        self.assertEqual(p2["conversations"][0], p1["conversations"][-1])
        seen = [c["conversationId"] for c in p1["conversations"] + p2["conversations"]]
        self.assertEqual(len(set(seen)), 19)              # one repeat, and the new one missed
        self.assertNotIn(cid, seen)
        # an add after the pages already read lands in a later page
        late = self.mutate({"action": "add", "start": "2024-03-02T23:00:00Z"})["conversationId"]
        rest = [c["conversationId"] for n in (3, 4, 5) for c in page(n).get("conversations", [])]
        self.assertIn(late, rest)
    def users_any(self):
        out = []
        for n in (1, 2):
            st, _, raw = self.api("GET", "/api/v2/users?pageSize=500&state=any&pageNumber=%d" % n)
            out.extend(jbody(raw)["entities"])
        return out

    def test_users(self):
        users = self.users_any()
        gone, changed = users[10], users[20]
        b = self.mutate({"action": "remove_user", "id": gone["id"]})
        self.assertEqual(b, {"ok": True, "id": gone["id"]})
        now = self.users_any()
        self.assertEqual(len(now), 599)
        self.assertNotIn(gone["id"], {u["id"] for u in now})
        st, _, raw = self.api("GET", "/api/v2/users/" + gone["id"])
        self.assertEqual(st, 404)
        st, _, raw = self.api("GET", "/api/v2/users?state=%s&id=%s" % (gone["state"], gone["id"]))
        self.assertEqual(jbody(raw)["total"], 0)
        self.mutate({"action": "remove_user", "id": gone["id"]}, 400)
        b = self.mutate({"action": "update_user", "id": changed["id"],
                         "fields": {"title": "Chief \"Quote\" Officer", "department": "R&D"}})
        self.assertEqual(b, {"ok": True, "id": changed["id"], "version": changed["version"] + 1})
        st, _, raw = self.api("GET", "/api/v2/users/" + changed["id"])
        u = jbody(raw)
        self.assertEqual(u["version"], changed["version"] + 1)
        if changed["state"] != "deleted":
            self.assertEqual((u["title"], u["department"]), ('Chief "Quote" Officer', "R&D"))
        self.assertEqual(next(x for x in ctl("GET", "/__emu/dataset/users")
                              if x["id"] == changed["id"])["version"], changed["version"] + 1)
        self.mutate({"action": "update_user", "id": changed["id"], "fields": {"title": None}})
        st, _, raw = self.api("GET", "/api/v2/users/" + changed["id"])
        self.assertNotIn("title", jbody(raw))
        self.assertEqual(jbody(raw)["version"], changed["version"] + 2)
        for fields in ({"nickname": "x"}, {"id": "x"}, {"version": 1}, {"title": 3},
                       {"state": "gone"}, {}, None):
            self.mutate({"action": "update_user", "id": changed["id"], "fields": fields}, 400)
        self.mutate({"action": "update_user", "id": "nope", "fields": {"title": "x"}}, 400)
        st, _, raw = self.api("GET", "/api/v2/users/" + changed["id"])
        self.assertEqual(jbody(raw)["version"], changed["version"] + 2)
        ctl("POST", "/__emu/reset")
        self.assertEqual(self.users_any(), users)

    def test_emuctl_mutate(self):
        dataset = ctl("GET", "/__emu/dataset/conversations")
        cid = next(c["conversationId"] for c in dataset if self.wrapups(c))
        rc, out, _ = emuctl("mutate", json.dumps({"wrapUpCode": "x", "conversationId": cid,
                                                  "action": "wrapup"}))
        self.assertEqual(out, '{"conversationId":"%s","ok":true}\n' % cid)
        rc, out, err = emuctl("mutate", '{"action": "end", "conversationId": "%s", '
                              '"at": "2024-03-30T00:00:00Z"}' % cid, check=False)
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "emuctl: mutate rejected: conversation %s is not in progress\n" % cid)
        rc, out, err = emuctl("mutate", "{not json", check=False)
        self.assertNotEqual(rc, 0)
        self.assertEqual(emuctl("reset")[1], "ok\n")
        self.assertIs(ctl("GET", "/__emu/health")["mutated"], False)


class TestPatchUser(Base):
    """PATCH /api/v2/users/{userId}: UpdateUser with optimistic locking on version."""

    def users_any(self):
        out = []
        for n in (1, 2):
            st, _, raw = self.api("GET", "/api/v2/users?pageSize=500&state=any&pageNumber=%d" % n)
            out.extend(jbody(raw)["entities"])
        return out

    def pick(self, state="active", need=("title", "manager")):
        return next(u for u in self.users_any()
                    if u["state"] == state and all(k in u for k in need))

    def get(self, uid):
        st, _, raw = self.api("GET", "/api/v2/users/" + uid)
        self.assertEqual(st, 200)
        return jbody(raw)

    def patch(self, uid, body, headers=None):
        st, h, raw = self.api("PATCH", "/api/v2/users/" + uid, body, headers)
        return st, h, raw

    def assert_400(self, uid, body, words, code="bad.request"):
        before = self.get(uid)
        st, h, raw = self.patch(uid, body)
        b = self.assert_platform_error(st, h, raw, 400, code)
        self.assertIn(words, b["message"])
        self.assertEqual(self.get(uid), before)

    def test_success_visible_everywhere(self):
        u = self.pick()
        other = next(x for x in self.users_any() if x["state"] == "active"
                     and x["id"] not in (u["id"], u["manager"]["id"]))
        body = {"version": u["version"], "name": "Zed \"Z\" O'Patch", "department": "Ops – EU",
                "title": "Chief 🎧", "email": "zed.patch@example.com", "acdAutoAnswer":
                not u["acdAutoAnswer"], "manager": other["id"], "preferredName": "Zed",
                "employerInfo": {"dateHire": "2020-02-29", "employeeId": "X1",
                                 "officialName": None}}
        st, h, raw = self.patch(u["id"], body)
        self.assertEqual(st, 200)
        out = jbody(raw)
        self.assertEqual(out["version"], u["version"] + 1)
        for k in ("name", "department", "title", "email", "acdAutoAnswer", "preferredName"):
            self.assertEqual(out[k], body[k])
        self.assertEqual(out["manager"], {"id": other["id"],
                                          "selfUri": "/api/v2/users/" + other["id"]})
        self.assertEqual(out["employerInfo"], {"employeeId": "X1", "dateHire": "2020-02-29"})
        self.assertEqual(out["username"], u["username"])     # email changes, username stays
        self.assertEqual(out["primaryContactInfo"][0]["address"], "zed.patch@example.com")
        self.assertEqual((out["id"], out["division"], out["state"], out["selfUri"]),
                         (u["id"], u["division"], u["state"], u["selfUri"]))
        self.assertEqual(self.get(u["id"]), out)
        st, _, raw = self.api("GET", "/api/v2/users?id=" + u["id"])
        self.assertEqual(jbody(raw)["entities"], [out])
        self.assertIn(out, self.users_any())
        dumped = next(x for x in ctl("GET", "/__emu/dataset/users") if x["id"] == u["id"])
        self.assertEqual(dumped["version"], u["version"] + 1)
        self.assertEqual(dumped["title"], "Chief 🎧")
        self.assertIs(ctl("GET", "/__emu/health")["mutated"], True)
        # null (or "") clears a nullable field; the new version is required now
        st, _, raw = self.patch(u["id"], {"version": u["version"] + 1, "title": None,
                                          "manager": "", "employerInfo": None})
        self.assertEqual(st, 200)
        out2 = jbody(raw)
        for k in ("title", "manager", "employerInfo"):
            self.assertNotIn(k, out2)
        self.assertEqual(out2["version"], u["version"] + 2)
        st, _, raw = self.patch(u["id"], {"version": u["version"] + 2, "username": "zed"})
        self.assertEqual(jbody(raw)["username"], "zed")
        # the log keeps the field names and the version, not the values
        log = [e for e in ctl("GET", "/__emu/log") if e["method"] == "PATCH"]
        self.assertEqual([(e["path"], e["status"], e["body"]) for e in log[:2]], [
            ("/api/v2/users/" + u["id"], 200,
             {"fields": ["acdAutoAnswer", "department", "email", "employerInfo", "manager",
                         "name", "preferredName", "title"], "version": u["version"]}),
            ("/api/v2/users/" + u["id"], 200,
             {"fields": ["employerInfo", "manager", "title"], "version": u["version"] + 1})])
        self.assertNotIn("zed.patch", json.dumps(ctl("GET", "/__emu/log")))
        self.assertEqual(log[0]["client_id"], CLIENT_ID)
        self.assertEqual(emuctl("log-patches")[1].splitlines()[0],
                         "/api/v2/users/%s fields=acdAutoAnswer,department,email,employerInfo,"
                         "manager,name,preferredName,title version=%d -> 200"
                         % (u["id"], u["version"]))
        self.assertEqual(emuctl("log-count", "--method", "PATCH")[1], "3\n")

    def test_stale_version_409(self):
        u = self.pick()
        for v in (u["version"] - 1, u["version"] + 1):
            st, h, raw = self.patch(u["id"], {"version": v, "title": "Nope"})
            b = self.assert_platform_error(st, h, raw, 409, "general.conflict")
            self.assertEqual(b["message"], "The version supplied (%d) does not match the "
                             "current version (%d)" % (v, u["version"]))
        self.assertEqual(self.get(u["id"]), u)
        self.assertIs(ctl("GET", "/__emu/health")["mutated"], False)
        # a remote change (update_user) makes the version read before it stale
        self.assertEqual(ctl("POST", "/__emu/mutate", {"action": "update_user", "id": u["id"],
                                                      "fields": {"department": "Remote"}})
                         ["version"], u["version"] + 1)
        st, h, raw = self.patch(u["id"], {"version": u["version"], "title": "Mine"})
        self.assertEqual(st, 409)
        st, _, raw = self.patch(u["id"], {"version": u["version"] + 1, "title": "Mine"})
        self.assertEqual((st, jbody(raw)["department"], jbody(raw)["title"]),
                         (200, "Remote", "Mine"))

    def test_concurrent_same_version_one_wins(self):
        import threading
        u = self.pick()
        results = []

        def go(i):
            results.append(self.patch(u["id"], {"version": u["version"], "title": "T%d" % i})[0])
        threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [200] + [409] * 7)
        self.assertEqual(self.get(u["id"])["version"], u["version"] + 1)

    def test_version_missing_or_invalid_400(self):
        u = self.pick()
        for body in ({"title": "x"}, {"version": None, "title": "x"},
                     {"version": str(u["version"]), "title": "x"},
                     {"version": float(u["version"]), "title": "x"},
                     {"version": True, "title": "x"}, {}):
            self.assert_400(u["id"], body, "version")

    def test_read_only_unknown_and_types_400(self):
        u = self.pick()
        v = u["version"]
        for k, val in (("id", u["id"]), ("selfUri", u["selfUri"]), ("division", u["division"]),
                       ("dateLastLogin", "2024-01-01T00:00:00.000Z"),
                       ("primaryContactInfo", []), ("routingStatus", {})):
            self.assert_400(u["id"], {"version": v, "title": "x", k: val}, "read-only")
        self.assert_400(u["id"], {"version": v, "nickname": "x"}, "not a field of UpdateUser")
        self.assert_400(u["id"], {"version": v, "addresses": []}, "does not emulate")
        for body, words in (({"title": 3}, "title must be"), ({"name": ""}, "name must be"),
                            ({"name": None}, "name must be"), ({"email": ["a"]}, "email must"),
                            ({"acdAutoAnswer": "yes"}, "acdAutoAnswer must"),
                            ({"manager": {"id": u["id"]}}, "manager must"),
                            ({"employerInfo": "E1"}, "employerInfo must"),
                            ({"employerInfo": {"badge": "1"}}, "employerInfo.badge"),
                            ({"employerInfo": {"employeeId": 7}}, "employerInfo.employeeId"),
                            ({"state": "deleted"}, "DELETE"),
                            ({"state": "inactive", "title": "x"}, "only field")):
            self.assert_400(u["id"], dict(body, version=v), words)
        self.assert_400(u["id"], {"version": v, "employerInfo": {"dateHire": "03/01/2020"}},
                        "dateHire", "invalid.date")
        self.assert_400(u["id"], {"version": v, "state": "gone"}, "state", "invalid.value")
        deleted = next(x for x in self.users_any() if x["state"] == "deleted")
        for mid in ("nope", u["id"], deleted["id"]):
            self.assert_400(u["id"], {"version": v, "manager": mid}, "manager", "invalid.value")
        for body in ([1], "x", None):
            self.assert_400(u["id"], body, "JSON object")
        st, h, raw = request("PATCH", "/api/v2/users/" + u["id"], None,
                             dict(self.auth(), **{"Content-Type": "application/json"}))
        self.assert_platform_error(st, h, raw, 400, "bad.request")
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        c.request("PATCH", "/api/v2/users/" + u["id"], body=b"{not json",
                  headers=dict(self.auth(), **{"Content-Type": "application/json"}))
        r = c.getresponse()
        self.assertEqual((r.status, jbody(r.read())["code"]), (400, "bad.request"))
        c.close()
        self.assertEqual(self.get(u["id"]), u)
        patches = [e for e in ctl("GET", "/__emu/log") if e["method"] == "PATCH"]
        self.assertIsNone(patches[-1]["body"])       # unparseable: nothing logged
        self.assertEqual(patches[-2]["body"], None)  # no body at all
        self.assertIsNone(patches[-5]["body"])       # [1]: not an object

    def test_unknown_deleted_and_state(self):
        st, h, raw = self.patch("00000000-0000-4000-8000-000000000000", {"version": 1, "title": "x"})
        self.assert_platform_error(st, h, raw, 404, "not.found")
        users = self.users_any()
        d = next(x for x in users if x["state"] == "deleted")
        st, h, raw = self.patch(d["id"], {"version": d["version"], "title": "x"})
        self.assert_platform_error(st, h, raw, 404, "not.found")
        # state restores a deleted user (it must be the only field besides version)
        st, _, raw = self.patch(d["id"], {"version": d["version"], "state": "active"})
        self.assertEqual((st, jbody(raw)["state"], jbody(raw)["version"]),
                         (200, "active", d["version"] + 1))
        st, _, raw = self.api("GET", "/api/v2/users?state=active&id=" + d["id"])
        self.assertEqual(jbody(raw)["total"], 1)
        a = next(x for x in users if x["state"] == "active")
        st, _, raw = self.patch(a["id"], {"version": a["version"], "state": "inactive"})
        self.assertEqual((st, jbody(raw)["state"]), (200, "inactive"))
        st, _, raw = self.api("GET", "/api/v2/users?id=" + a["id"])
        self.assertEqual(jbody(raw)["total"], 0)          # no longer in the default (active)
        gone = users[30]
        ctl("POST", "/__emu/mutate", {"action": "remove_user", "id": gone["id"]})
        st, h, raw = self.patch(gone["id"], {"version": gone["version"], "state": "active"})
        self.assert_platform_error(st, h, raw, 404, "not.found")

    def test_auth_401(self):
        u = self.pick()
        st, h, raw = request("PATCH", "/api/v2/users/" + u["id"],
                             {"version": u["version"], "title": "x"})
        self.assert_platform_error(st, h, raw, 401, "authentication.required")
        st, h, raw = request("PATCH", "/api/v2/users/" + u["id"],
                             {"version": u["version"], "title": "x"},
                             {"Authorization": "Bearer nope"})
        self.assert_platform_error(st, h, raw, 401, "authentication.required")
        self.assertEqual(self.get(u["id"]), u)

    def test_rate_limit_429(self):
        u = self.pick()
        ctl("POST", "/__emu/settings", {"rate_limit": 2, "rate_window": 30})
        # a client of its own: its window holds only these PATCHes
        demo = {"Authorization": "Bearer " + get_token("demo-client", "demo-secret-PLUGH")}

        def patch(body):
            return request("PATCH", "/api/v2/users/" + u["id"], body, demo)
        self.assertEqual(patch({"version": u["version"], "title": "A"})[0], 200)
        self.assertEqual(patch({"version": u["version"] + 1, "title": "B"})[0], 200)
        st, h, raw = patch({"version": u["version"] + 2, "title": "C"})
        self.assert_platform_error(st, h, raw, 429, "too.many.requests.retry.after")
        self.assertTrue(1 <= int(h["retry-after"]) <= 30)
        self.assertEqual(ctl("GET", "/__emu/log")[-1]["fault"], "rate_limit")
        ctl("POST", "/__emu/settings", {"rate_limit": 0})
        self.assertEqual(self.get(u["id"])["title"], "B")

    def test_fault_rule_targets_patch(self):
        u = self.pick()
        ctl("POST", "/__emu/faults", {"endpoint": "users", "method": "PATCH", "status": 503,
                                      "count": 2})
        self.assertEqual(self.api("GET", "/api/v2/users/" + u["id"])[0], 200)
        for _ in range(2):
            st, h, raw = self.patch(u["id"], {"version": u["version"], "title": "x"})
            self.assert_platform_error(st, h, raw, 503, "service.unavailable")
        self.assertEqual(self.get(u["id"]), u)
        self.assertEqual(self.patch(u["id"], {"version": u["version"], "title": "x"})[0], 200)
        ctl("POST", "/__emu/faults", {"endpoint": "users", "method": "PATCH", "kind": "truncate"})
        with self.assertRaises(http.client.IncompleteRead):
            self.patch(u["id"], {"version": u["version"] + 1, "title": "y"})
        self.assertEqual(self.get(u["id"])["title"], "y")   # applied; only the answer was cut
        self.assertEqual(emuctl("log-count", "--method", "PATCH", "--status", "503")[1], "2\n")
        self.assertEqual([f["spent"] for f in ctl("GET", "/__emu/faults")], [True, True])

    def test_patch_conflict_every(self):
        u = self.pick()
        self.assertEqual(ctl("GET", "/__emu/settings")["patch_conflict_every"], 0)
        for bad in (-1, "2", True, 1.5):
            st, _, raw = request("POST", "/__emu/settings", {"patch_conflict_every": bad})
            self.assertEqual(st, 400)
        ctl("POST", "/__emu/settings", {"patch_conflict_every": 2})
        v = u["version"]
        st, _, raw = self.patch(u["id"], {"version": v, "title": "One"})
        self.assertEqual(st, 200)
        # stale versions are not accepted PATCHes: they do not count
        self.assertEqual(self.patch(u["id"], {"version": v, "title": "x"})[0], 409)
        st, h, raw = self.patch(u["id"], {"version": v + 1, "title": "Two"})
        b = self.assert_platform_error(st, h, raw, 409, "general.conflict")
        self.assertEqual(b["message"], "The version supplied (%d) does not match the current "
                         "version (%d)" % (v + 1, v + 2))
        now = self.get(u["id"])
        self.assertEqual((now["version"], now["title"]), (v + 2, "Changed remotely"))
        self.assertEqual(self.patch(u["id"], {"version": v + 2, "title": "Three"})[0], 200)
        self.assertEqual(self.patch(u["id"], {"version": v + 3, "title": "Four"})[0], 409)
        self.assertEqual(self.get(u["id"])["version"], v + 4)
        # setting it again restarts the count
        ctl("POST", "/__emu/settings", {"patch_conflict_every": 1})
        self.assertEqual(self.patch(u["id"], {"version": v + 4, "title": "x"})[0], 409)
        ctl("POST", "/__emu/settings", {"patch_conflict_every": 0})
        st, _, raw = self.patch(u["id"], {"version": v + 5, "title": "Mine"})
        self.assertEqual((st, jbody(raw)["version"], jbody(raw)["title"]), (200, v + 6, "Mine"))

    def test_reset_restores(self):
        before = self.users_any()
        dumped = ctl("GET", "/__emu/dataset/users")
        u = self.pick()
        ctl("POST", "/__emu/settings", {"patch_conflict_every": 3})
        for i in range(4):
            st, _, raw = self.patch(u["id"], {"version": self.get(u["id"])["version"],
                                              "name": "Renamed %d" % i})
        self.assertNotEqual(self.users_any(), before)
        ctl("POST", "/__emu/reset")
        self.assertEqual(self.users_any(), before)
        self.assertEqual(ctl("GET", "/__emu/dataset/users"), dumped)
        self.assertEqual(ctl("GET", "/__emu/settings")["patch_conflict_every"], 0)
        self.assertIs(ctl("GET", "/__emu/health")["mutated"], False)
        # the count starts again after a reset
        ctl("POST", "/__emu/settings", {"patch_conflict_every": 2})
        self.assertEqual(self.patch(u["id"], {"version": u["version"], "title": "x"})[0], 200)


class TestEmuctl(Base):
    def test_commands(self):
        self.assertEqual(emuctl("fault", '{"endpoint":"users","status":500}')[1], "ok\n")
        self.assertEqual(self.api("GET", "/api/v2/users")[0], 500)
        self.assertEqual(emuctl("settings", '{"max_results": 50}')[1], "ok\n")
        self.assertEqual(ctl("GET", "/__emu/settings")["max_results"], 50)
        out = emuctl("log-summary")[1]
        self.assertEqual(out, "GET /api/v2/users 500 status\n")
        log = json.loads(emuctl("log-json")[1])
        e = log[0]
        for k in ("seq", "time", "end_time", "method", "path", "query", "body", "status",
                  "client_id", "token_seq", "fault", "accept_encoding", "user_agent"):
            self.assertIn(k, e)
        self.assertEqual(emuctl("log-count")[1], "1\n")
        self.assertEqual(emuctl("reset")[1], "ok\n")
        self.assertEqual(emuctl("log-count")[1], "0\n")
        self.assertEqual(ctl("GET", "/__emu/settings")["max_results"], 100000)
        emuctl("reset", "--tokens")
        type(self).token = get_token()

    def test_faults_and_clear_faults(self):
        emuctl("fault", '[{"endpoint": "users", "kind": "stall", "seconds": 1}, {"status": 503}]')
        self.assertEqual(self.api("GET", "/api/v2/analytics/conversations/x/details")[0], 503)
        self.assertEqual(emuctl("faults")[1], "stall users fired=0 spent=no\n"
                                              "status any fired=1 spent=yes\n")
        self.assertEqual(emuctl("clear-faults")[1], "ok\n")
        self.assertEqual(emuctl("faults")[1], "")
        self.assertEqual(len(ctl("GET", "/__emu/log")), 1)     # the log stays

    def test_csv(self):
        rows = list(csv.DictReader(io.StringIO(emuctl("csv", "users")[1])))
        self.assertEqual(len(rows), 600)
        self.assertEqual(list(rows[0]), ["id", "name", "email", "username", "state", "title",
                                         "department", "division_id", "division_name",
                                         "manager_id", "version", "acd_auto_answer",
                                         "date_last_login"])
        self.assertIn('Robert "Bobby" Tables', {r["name"] for r in rows})
        rows = list(csv.DictReader(io.StringIO(emuctl("csv", "conversations")[1])))
        self.assertEqual(len(rows), len(ctl("GET", "/__emu/dataset/conversations")))
        self.assertTrue(all(r["division_ids"].startswith("{") for r in rows))
        self.assertTrue(any(r["conversation_end"] == "" for r in rows))

    def test_unreachable(self):
        p = subprocess.run([sys.executable, EMUCTL, "--url", "http://127.0.0.1:9", "log-count"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot reach the emulator", p.stderr)


class TestProcess(unittest.TestCase):
    """A second emulator: custom clients and seed, clean SIGTERM exit."""

    def test_clients_seed_sigterm(self):
        pf = os.path.join(TMPDIR, "port2")
        p = subprocess.Popen([sys.executable, EMULATOR, "--port", "0", "--port-file", pf,
                              "--client", "alt:alt-secret", "--seed", "7"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for _ in range(200):
                if os.path.exists(pf):
                    break
                time.sleep(0.05)
            with open(pf) as f:
                port = int(f.read())
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("POST", "/oauth/token", body="grant_type=client_credentials",
                      headers={"Authorization": basic("alt", "alt-secret"),
                               "Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
            c.request("POST", "/oauth/token", body="grant_type=client_credentials",
                      headers={"Authorization": basic(),
                               "Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            self.assertEqual(r.status, 401)
            r.read()
            c.request("GET", "/__emu/dataset/users")
            other = json.loads(c.getresponse().read())
            c.close()
            self.assertNotEqual(other[20]["id"], ctl("GET", "/__emu/dataset/users")[20]["id"])
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=10), 0)
            err = p.stderr.read().decode()
            self.assertNotIn("alt-secret", err)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()

class TestTLS(unittest.TestCase):
    """--tls-cert/--tls-key: HTTPS with a self-signed certificate."""

    def test_https_with_and_without_the_ca(self):
        import ssl
        if shutil.which("openssl") is None or subprocess.run(
                ["openssl", "version"], capture_output=True).returncode != 0:
            self.skipTest("openssl is not installed: cannot make a self-signed certificate")
        d = tempfile.mkdtemp(prefix="gcemu-tls", dir=TMPDIR)
        cert, key, pf = (os.path.join(d, n) for n in ("cert.pem", "key.pem", "port"))
        p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-days", "2", "-keyout", key, "-out", cert],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        proc = subprocess.Popen([sys.executable, EMULATOR, "--port", "0", "--port-file", pf,
                                 "--tls-cert", cert, "--tls-key", key],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = ""
        try:
            for _ in range(200):
                if os.path.exists(pf) or proc.poll() is not None:
                    break
                time.sleep(0.05)
            self.assertIsNone(proc.poll(), "emulator with TLS did not start")
            with open(pf) as f:
                port = int(f.read())
            # trusting the certificate: the token endpoint and the API work
            ctx = ssl.create_default_context(cafile=cert)
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=ctx)
            c.request("POST", "/oauth/token", body="grant_type=client_credentials",
                      headers={"Authorization": basic(),
                               "Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            tok = json.loads(r.read())["access_token"]
            c.request("GET", "/api/v2/users?pageSize=3", headers={"Authorization": "Bearer " + tok})
            r = c.getresponse()
            self.assertEqual((r.status, len(json.loads(r.read())["entities"])), (200, 3))
            self.assertIsInstance(c.sock, ssl.SSLSocket)
            c.close()
            # without the CA the handshake fails verification ...
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=30,
                                            context=ssl.create_default_context())
            with self.assertRaises(ssl.SSLCertVerificationError):
                c.request("GET", "/__emu/health")
            c.close()
            # ... plain HTTP gets no answer, and the server keeps serving
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
                c.request("GET", "/__emu/health")
                c.getresponse()
            c.close()
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=ctx)
            c.request("GET", "/__emu/health")
            self.assertTrue(json.loads(c.getresponse().read())["ok"])
            # transport faults work over TLS too: a reset mid-body
            c.request("POST", "/__emu/faults", body=json.dumps({"kind": "reset"}),
                      headers={"Content-Type": "application/json"})
            c.getresponse().read()
            c.request("GET", "/api/v2/users?pageSize=100", headers={"Authorization": "Bearer " + tok})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            with self.assertRaises((ConnectionResetError, http.client.IncompleteRead, ssl.SSLError)):
                r.read()
            c.close()
            # --tls-cert without --tls-key is a usage error
            bad = subprocess.run([sys.executable, EMULATOR, "--tls-cert", cert],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(bad.returncode, 2)
            self.assertIn("--tls-cert and --tls-key go together", bad.stderr)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            err = proc.stderr.read().decode()
            proc.stderr.close()
        self.assertEqual(rc, 0, err)
        self.assertIn("listening on https://127.0.0.1:", err)
        self.assertNotIn("Traceback", err)


if __name__ == "__main__":
    unittest.main()
