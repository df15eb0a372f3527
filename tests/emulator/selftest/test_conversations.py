"""The conversation details query (validation, paging cap, day-touch
matching, order, filters), lookups by id, the dataset's shape and
determinism, and the async jobs.
"""

import subprocess
import sys
import urllib.parse

import support
from support import QUERY, JOBS, jbody, ctl, emuctl, Base

setUpModule = support.start_emulator
tearDownModule = support.stop_emulator


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
                              "d.conversations[100]['meta']['id'])" % support.EMU_DIR],
                             capture_output=True, text=True, check=True).stdout.split()
        users = ctl("GET", "/__emu/dataset/users")
        convs = ctl("GET", "/__emu/dataset/conversations")
        self.assertEqual(out, [users[7]["id"], convs[100]["conversationId"]])


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
