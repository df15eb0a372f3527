"""Agent status history: the user details query (records overlapping the
interval, unclipped; short pages; filters; limits), its jobs, the
timelines' consistency with the conversations, the mutations, the faults
and emuctl.
"""

import csv
import io

import support
from support import Base, ctl, emuctl, jbody, request

setUpModule = support.start_emulator
tearDownModule = support.stop_emulator

QUERY = "/api/v2/analytics/users/details/query"
JOBS = "/api/v2/analytics/users/details/jobs"
DAY5 = "2024-03-05T00:00:00Z/2024-03-06T00:00:00Z"


def overlaps(r, lo, hi):
    """Does a truth record overlap [lo, hi) (ISO texts, same format)?"""
    return r["startTime"] < hi and ("endTime" not in r or r["endTime"] > lo)


class UserDetailsBase(Base):
    def truth(self):
        """(presence, routing): every record, flat, from /__emu/dataset."""
        return ctl("GET", "/__emu/dataset/user_presence"), \
            ctl("GET", "/__emu/dataset/user_routing_status")

    def expected(self, lo, hi):
        """userId -> (presence, routing) records overlapping [lo, hi)."""
        presence, routing = self.truth()
        out = {}
        for kind, records in ((0, presence), (1, routing)):
            for r in records:
                if overlaps(r, lo, hi):
                    rec = {k: v for k, v in r.items() if k != "userId"}
                    out.setdefault(r["userId"], ([], []))[kind].append(rec)
        return out

    def query(self, body, status=200):
        st, h, raw = self.api("POST", QUERY, body)
        self.assertEqual(st, status, raw)
        return jbody(raw) if status == 200 else (st, h, raw)

    def all_pages(self, body, size=25):
        """Every page until one without userDetails -> (users, page sizes, totalHits)."""
        users, sizes, n = [], [], 1
        while True:
            b = self.query(dict(body, paging={"pageSize": size, "pageNumber": n}))
            if "userDetails" not in b:
                return users, sizes, b["totalHits"]
            users += b["userDetails"]
            sizes.append(len(b["userDetails"]))
            n += 1


class TestQuery(UserDetailsBase):
    def test_every_overlapping_record_unclipped_once(self):
        users, sizes, total = self.all_pages({"interval": DAY5})
        want = self.expected("2024-03-05T00:00:00.000Z", "2024-03-06T00:00:00.000Z")
        self.assertEqual(len(users), len(want))
        self.assertEqual(total, len(want))
        self.assertEqual([u["userId"] for u in users], sorted(want))
        for u in users:
            presence, routing = want[u["userId"]]
            self.assertEqual(u.get("primaryPresence", []), presence)
            self.assertEqual(u.get("routingStatus", []), routing)
        # pages come short before the end: only an empty page says it is over
        self.assertTrue(any(n < 25 for n in sizes[:-1]))
        # records cross the interval's edges and are not clipped
        starts = [r["startTime"] for u in users for r in u.get("primaryPresence", [])]
        self.assertTrue(any(s < "2024-03-05" for s in starts))
        ends = [r.get("endTime", "9") for u in users for r in u.get("primaryPresence", [])]
        self.assertTrue(any(e > "2024-03-06" for e in ends))

    def test_order_desc_and_no_gaps(self):
        ctl("POST", "/__emu/settings", {"user_details_gaps": 0})
        asc, sizes, _ = self.all_pages({"interval": DAY5})
        self.assertTrue(all(n == 25 for n in sizes[:-1]))
        desc, _, _ = self.all_pages({"interval": DAY5, "order": "desc"})
        self.assertEqual(desc, asc[::-1])
        ctl("POST", "/__emu/settings", {"user_details_gaps": 100})
        _, sizes, _ = self.all_pages({"interval": DAY5})
        self.assertTrue(all(n <= 13 for n in sizes))
        for bad in (-1, 101, "5"):
            st, _, _ = request("POST", "/__emu/settings", {"user_details_gaps": bad})
            self.assertEqual(st, 400)

    def test_filters(self):
        lo, hi = "2024-03-04T00:00:00.000Z", "2024-03-11T00:00:00.000Z"
        interval = "2024-03-04T00:00:00Z/2024-03-11T00:00:00Z"
        want = self.expected(lo, hi)
        some = sorted(want)[3:6]
        users, _, _ = self.all_pages({"interval": interval, "userFilters": [
            {"type": "or", "predicates": [{"dimension": "userId", "value": u} for u in some]}]})
        self.assertEqual([u["userId"] for u in users], some)
        users, _, _ = self.all_pages({"interval": interval, "presenceFilters": [
            {"type": "and", "predicates": [{"dimension": "systemPresence", "value": "MEAL"}]}]},
            size=100)
        meal = sorted(u for u, (p, _) in want.items() if any(r["systemPresence"] == "MEAL"
                                                             for r in p))
        self.assertEqual([u["userId"] for u in users], meal)
        for u in users:
            self.assertEqual(u["primaryPresence"],
                             [r for r in want[u["userId"]][0] if r["systemPresence"] == "MEAL"])
            self.assertEqual(u.get("routingStatus", []), want[u["userId"]][1])
        definition = users[0]["primaryPresence"][0]["organizationPresenceId"]
        users, _, _ = self.all_pages({"interval": interval, "presenceFilters": [
            {"type": "and", "predicates": [{"dimension": "organizationPresenceId",
                                            "value": definition}]}]}, size=100)
        self.assertTrue(users)
        self.assertTrue(all(r["organizationPresenceId"] == definition
                            for u in users for r in u["primaryPresence"]))
        users, _, _ = self.all_pages({"interval": interval, "routingStatusFilters": [
            {"type": "or", "predicates": [{"dimension": "routingStatus", "value": "INTERACTING"},
                                          {"dimension": "routingStatus",
                                           "value": "COMMUNICATING"}]}]}, size=100)
        self.assertEqual(
            [u["userId"] for u in users],
            sorted(u for u, (_, r) in want.items()
                   if any(x["routingStatus"] in ("INTERACTING", "COMMUNICATING") for x in r)))
        self.assertTrue(all(r["routingStatus"] in ("INTERACTING", "COMMUNICATING")
                            for u in users for r in u["routingStatus"]))

    def test_validation_and_limits(self):
        one_filter = [{"type": "and", "predicates": [{"dimension": "routingStatus",
                                                      "value": "IDLE"}]}]
        cases = [({}, "bad.request"),
                 ({"interval": "yesterday"}, "invalid.date"),
                 ({"interval": "2024-03-02T00:00:00Z/2024-03-01T00:00:00Z"}, "invalid.date"),
                 ({"interval": "2024-03-01T00:00:00Z/2024-03-08T00:00:01Z"}, "bad.request"),
                 ({"interval": "2024-03-01T00:00:00Z/2024-04-01T00:00:01Z",
                   "routingStatusFilters": one_filter}, "bad.request"),
                 ({"interval": DAY5, "order": "sideways"}, "invalid.value"),
                 ({"interval": DAY5, "paging": {"pageSize": 101}}, "invalid.value"),
                 ({"interval": DAY5, "userFilters": [{"type": "and", "predicates": [
                     {"dimension": "queueId", "value": "x"}]}]}, "invalid.value"),
                 ({"interval": DAY5, "presenceAggregations": [{"type": "termFrequency"}]},
                  "bad.request")]
        for body, code in cases:
            st, h, raw = self.query(body, status=400)
            self.assert_platform_error(st, h, raw, 400, code)
        # 31 days with a filter, and 7 without, are fine
        self.query({"interval": "2024-03-01T00:00:00Z/2024-04-01T00:00:00Z",
                    "routingStatusFilters": one_filter})
        self.query({"interval": "2024-03-01T00:00:00Z/2024-03-08T00:00:00Z"})
        ctl("POST", "/__emu/settings", {"max_results": 50})
        st, h, raw = self.query({"interval": DAY5, "paging": {"pageSize": 25, "pageNumber": 3}},
                                status=400)
        b = self.assert_platform_error(st, h, raw, 400, "bad.request")
        self.assertEqual(b["message"], "Pagination may not exceed 50 results")


class TestTimelines(UserDetailsBase):
    def test_records_open_cross_midnight_and_window_edges(self):
        presence, routing = self.truth()
        definitions = {p["id"]: p for p in ctl("GET", "/__emu/dataset/presence_definitions")}
        for records in (presence, routing):
            by_user = {}
            for r in records:
                by_user.setdefault(r["userId"], []).append(r)
            for uid, rs in by_user.items():
                for a, b in zip(rs, rs[1:]):        # contiguous, in order
                    self.assertEqual(a["endTime"], b["startTime"], uid)
                self.assertNotIn("endTime", rs[-1])  # open at the dataset's end
            for edge in ("2024-03-08T00:00:00.000Z", "2024-03-15T00:00:00.000Z"):
                self.assertTrue(any(r["startTime"] < edge < r.get("endTime", "9")
                                    for r in records), edge)
            self.assertTrue(any(r["startTime"][:10] != r.get("endTime", "9")[:10]
                                and "endTime" in r for r in records))
        for r in presence:
            d = definitions[r["organizationPresenceId"]]
            self.assertEqual(d["systemPresence"], r["systemPresence"])
            if d["deactivated"]:
                self.assertLess(r["startTime"], "2024-03-10")
        self.assertTrue(any(not definitions[r["organizationPresenceId"]]["primary"]
                            for r in presence))
        seen = {r["systemPresence"] for r in presence}
        self.assertLessEqual({"ON_QUEUE", "OFFLINE", "AVAILABLE", "AWAY", "BREAK", "MEAL"}, seen)
        self.assertEqual({r["routingStatus"] for r in routing},
                         {"OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING"})

    def test_agents_are_on_queue_and_interacting_while_handling(self):
        by_user = {}
        for records in self.truth():
            for r in records:
                by_user.setdefault(r["userId"], []).append(r)

        def holding(uid, start, end, values, key):
            return any(key in r and r[key] in values and r["startTime"] <= start
                       and ("endTime" not in r or (end is not None and end <= r["endTime"]))
                       for r in by_user[uid])
        handled = 0
        for c in ctl("GET", "/__emu/dataset/conversations"):
            for p in c["participants"]:
                if p["purpose"] != "agent":
                    continue
                segs = [g for s in p["sessions"] for g in s["segments"]]
                start = min(g["segmentStart"] for g in segs)
                ends = [g.get("segmentEnd") for g in segs]
                end = None if None in ends else max(ends)
                self.assertTrue(holding(p["userId"], start, end, ("ON_QUEUE",),
                                        "systemPresence"), (c["conversationId"], start))
                self.assertTrue(holding(p["userId"], start, end,
                                        ("INTERACTING", "COMMUNICATING"), "routingStatus"),
                                (c["conversationId"], start))
                handled += 1
        self.assertGreater(handled, 700)

    def test_queue_members_show_the_open_status(self):
        _, routing = self.truth()
        last = {}
        for r in routing:
            last[r["userId"]] = r
        for m in ctl("GET", "/__emu/dataset/queue_members"):
            r = last.get(m["id"])
            if r is None:
                self.assertEqual(m["routingStatus"], {"userId": m["id"], "status": "OFF_QUEUE"})
            else:
                self.assertEqual(m["routingStatus"], {"userId": m["id"],
                                                      "status": r["routingStatus"],
                                                      "startTime": r["startTime"]})


class TestJobs(UserDetailsBase):
    def test_lifecycle_results_and_overlap(self):
        interval = "2024-03-01T00:00:00Z/2024-04-10T00:00:00Z"     # 40 days: no limit
        st, _, raw = self.api("POST", JOBS, {"interval": interval})
        self.assertEqual(st, 202, raw)
        jid = jbody(raw)["jobId"]
        states = [jbody(self.api("GET", "%s/%s" % (JOBS, jid))[2])["state"] for _ in range(3)]
        self.assertEqual(states, ["QUEUED", "PENDING", "FULFILLED"])
        rows, cursor, pages = [], None, 0
        while True:
            q = "?pageSize=40" + ("&cursor=" + cursor if cursor else "")
            b = jbody(self.api("GET", "%s/%s/results%s" % (JOBS, jid, q))[2])
            self.assertEqual(b["dataAvailabilityDate"], "2024-03-20T00:00:00.000Z")
            rows += b["userDetails"]
            pages += 1
            cursor = b.get("cursor")
            if not cursor:
                break
        want = self.expected("2024-03-01T00:00:00.000Z", "2024-04-10T00:00:00.000Z")
        self.assertEqual([u["userId"] for u in rows], sorted(want))
        for u in rows:
            self.assertEqual((u.get("primaryPresence", []), u.get("routingStatus", [])),
                             want[u["userId"]])
        self.assertEqual(pages, -(-len(want) // 40))
        st, _, _ = self.api("DELETE", "%s/%s" % (JOBS, jid))
        self.assertEqual(st, 204)
        self.assertEqual(jbody(self.api("GET", "%s/%s" % (JOBS, jid))[2])["state"], "CANCELLED")
        # a user details job is unknown under the conversations' jobs
        st, _, _ = self.api("GET", "/api/v2/analytics/conversations/details/jobs/" + jid)
        self.assertEqual(st, 404)
        st, _, raw = self.api("GET", JOBS + "/availability")
        self.assertEqual(jbody(raw), {"dataAvailabilityDate": "2024-03-20T00:00:00.000Z"})

    def test_options_and_caps(self):
        ctl("POST", "/__emu/settings", {"job_polls": 0})
        st, _, raw = self.api("POST", JOBS, {"interval": DAY5, "paging": {"pageSize": 10}})
        self.assertEqual(st, 400)
        st, _, raw = self.api("POST", JOBS, {"interval": DAY5, "limit": 7, "order": "desc"})
        jid = jbody(raw)["jobId"]
        self.api("GET", "%s/%s" % (JOBS, jid))
        b = jbody(self.api("GET", "%s/%s/results" % (JOBS, jid))[2])
        want = sorted(self.expected("2024-03-05T00:00:00.000Z", "2024-03-06T00:00:00.000Z"),
                      reverse=True)[:7]
        self.assertEqual([u["userId"] for u in b["userDetails"]], want)
        self.assertNotIn("cursor", b)
        ctl("POST", "/__emu/settings", {"max_job_results": 10})
        st, h, raw = self.api("POST", JOBS, {"interval": DAY5})
        self.assert_platform_error(st, h, raw, 400, "bad.request")
        ctl("POST", "/__emu/settings", {"max_job_results": 400000, "job_results_cap": 30})
        jid = jbody(self.api("POST", JOBS, {"interval": DAY5})[2])["jobId"]
        self.api("GET", "%s/%s" % (JOBS, jid))
        st, h, raw = self.api("GET", "%s/%s/results?pageSize=40" % (JOBS, jid))
        b = self.assert_platform_error(st, h, raw, 400, "bad.request")
        self.assertEqual(b["message"], "Pagination may not exceed 30 results")


class TestChangesFaultsAndEmuctl(UserDetailsBase):
    def test_end_and_add_user_status(self):
        presence, routing = self.truth()
        uid = routing[-1]["userId"]
        self.mutate({"action": "end_user_status", "userId": uid, "at": "2024-03-22T06:00:00Z"})
        p2, r2 = self.truth()
        mine = [r for r in p2 if r["userId"] == uid]
        self.assertEqual(mine[-2]["endTime"], "2024-03-22T06:00:00.000Z")
        self.assertEqual((mine[-1]["startTime"], mine[-1]["systemPresence"]),
                         ("2024-03-22T06:00:00.000Z", "OFFLINE"))
        self.assertNotIn("endTime", mine[-1])
        self.assertEqual([r for r in r2 if r["userId"] == uid][-1]["routingStatus"], "OFF_QUEUE")
        self.assertEqual(len(p2), len(presence) + 1)
        # a user without a timeline gets records at a given time
        have = {r["userId"] for r in presence}
        free = next(u["id"] for u in ctl("GET", "/__emu/dataset/users")
                    if u["id"] not in have and u["state"] == "active")
        self.mutate({"action": "add_user_status", "userId": free,
                     "start": "2024-03-05T10:00:00Z", "minutes": 10,
                     "systemPresence": "BUSY", "routingStatus": "OFF_QUEUE"})
        users, _, _ = self.all_pages({"interval": DAY5, "userFilters": [
            {"type": "and", "predicates": [{"dimension": "userId", "value": free}]}]})
        self.assertEqual(users[0]["primaryPresence"][0]["endTime"], "2024-03-05T10:10:00.000Z")
        for bad in ({"action": "add_user_status", "userId": free, "start": "2024-03-05T10:05:00Z"},
                    {"action": "add_user_status", "userId": uid, "start": "2024-03-05T10:05:00Z"},
                    {"action": "add_user_status", "userId": "nobody", "start": "2024-03-05T10:05Z"},
                    {"action": "end_user_status", "userId": uid, "at": "2024-03-22T05:00:00Z"},
                    {"action": "end_user_status", "userId": free, "at": "2024-03-23T00:00:00Z",
                     "systemPresence": "ASLEEP"}):
            self.mutate(bad, status=400)
        ctl("POST", "/__emu/reset")
        self.assertEqual(self.truth(), (presence, routing))

    def test_late_arrivals_shift_the_later_pages(self):
        ctl("POST", "/__emu/settings", {"user_details_gaps": 0})
        ctl("POST", "/__emu/faults", {"endpoint": "userdetails", "kind": "late_arrivals",
                                      "page": 1, "add": 2})
        body = {"interval": DAY5}
        p1 = self.query(dict(body, paging={"pageSize": 25, "pageNumber": 1}))
        added = ctl("GET", "/__emu/faults")[0]["added"]
        self.assertEqual(len(added), 2)
        last = p1["userDetails"][-1]["userId"]
        self.assertTrue(all(u < last for u in added))
        p2 = self.query(dict(body, paging={"pageSize": 25, "pageNumber": 2}))
        self.assertEqual(p2["totalHits"], p1["totalHits"] + 2)
        self.assertEqual([u["userId"] for u in p2["userDetails"][:2]],
                         [u["userId"] for u in p1["userDetails"][-2:]])
        users, _, _ = self.all_pages(body)
        got = {u["userId"]: u for u in users}
        for uid in added:
            self.assertEqual(got[uid]["primaryPresence"][0]["startTime"],
                             "2024-03-05T00:00:00.000Z")

    def test_faults_rate_limit_log_and_emuctl(self):
        ctl("POST", "/__emu/faults", [
            {"endpoint": "userdetails", "status": 503},
            {"endpoint": "userdetails", "kind": "total_hits", "delta": -5},
            {"endpoint": "userdetails", "kind": "extra_fields"},
            {"endpoint": "userjobs", "status": 500}])
        page = {"interval": DAY5, "paging": {"pageSize": 10, "pageNumber": 1}}
        self.assertEqual(self.api("POST", QUERY, page)[0], 503)
        true_total = len(self.expected("2024-03-05T00:00:00.000Z", "2024-03-06T00:00:00.000Z"))
        self.assertEqual(self.query(page)["totalHits"], true_total - 5)
        b = self.query(page)
        self.assertIn("emuExtraRowText", b["userDetails"][0])
        self.assertEqual(self.api("POST", JOBS, {"interval": DAY5})[0], 500)
        self.assertEqual(emuctl("log-count", "--endpoint", "userdetails")[1], "3\n")
        self.assertEqual(emuctl("log-count", "--endpoint", "userjobs")[1], "1\n")
        self.assertEqual(emuctl("log-intervals", "--endpoint", "userdetails")[1],
                         "%s page 1 size 10 -> 503\n" % DAY5 + "%s page 1 size 10 -> 200\n" % DAY5 * 2)
        ctl("POST", "/__emu/reset")
        ctl("POST", "/__emu/settings", {"rate_limit": 1})
        self.query(page)
        st, h, raw = self.api("POST", QUERY, page)
        self.assert_platform_error(st, h, raw, 429, "too.many.requests.retry.after")

    def test_emuctl_csv(self):
        presence, routing = self.truth()
        for kind, truth, columns in (
                ("user_presence", presence, ["user_id", "start_time", "end_time",
                                             "system_presence", "organization_presence_id"]),
                ("user_routing_status", routing, ["user_id", "start_time", "end_time",
                                                  "routing_status"])):
            rows = list(csv.DictReader(io.StringIO(emuctl("csv", kind)[1])))
            self.assertEqual(len(rows), len(truth))
            self.assertEqual(list(rows[0]), columns)
            self.assertTrue(any(r["end_time"] == "" for r in rows))
