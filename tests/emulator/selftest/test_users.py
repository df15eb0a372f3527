"""GET /api/v2/users (paging, states, order, id and expand) and
PATCH /api/v2/users/{id} (UpdateUser, versions, conflicts).
"""

import http.client
import json

import support
from support import CLIENT_ID, request, jbody, get_token, ctl, emuctl, Base

setUpModule = support.start_emulator
tearDownModule = support.stop_emulator


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


class TestPatchUser(Base):
    """PATCH /api/v2/users/{userId}: UpdateUser with optimistic locking on version."""

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
        c = http.client.HTTPConnection("127.0.0.1", support.PORT, timeout=30)
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
