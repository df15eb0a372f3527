"""POST /__emu/mutate: late wrap-up codes, conversations ending and
appearing (between pages too), users changing.
"""

import json

import support
from support import JOBS, request, jbody, ctl, emuctl, Base

setUpModule = support.start_emulator
tearDownModule = support.stop_emulator


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
