"""The directory: every listing paged to its truth, the list parameters and
validation errors, the data's consistency with the conversations and
users, names as real directories hold them, the mutations, the faults and
rate limit, emuctl's CSV and --directory-scale.
"""

import csv
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
import urllib.parse

import support
from support import EMULATOR, Base, ctl, emuctl, jbody, request

setUpModule = support.start_emulator
tearDownModule = support.stop_emulator

# listing path -> its /__emu/dataset table
LISTINGS = {"/api/v2/routing/queues": "queues", "/api/v2/routing/wrapupcodes": "wrapup_codes",
            "/api/v2/routing/skills": "skills", "/api/v2/routing/languages": "languages",
            "/api/v2/authorization/divisions": "divisions", "/api/v2/groups": "groups",
            "/api/v2/locations": "locations", "/api/v2/presencedefinitions": "presence_definitions"}
ENTITY_KEYS = {"entities", "pageSize", "pageNumber", "total", "firstUri", "selfUri", "nextUri",
               "previousUri", "lastUri", "pageCount"}
MEMBER_KEYS = {"entities", "pageSize", "pageNumber", "firstUri", "selfUri", "nextUri",
               "previousUri"}


def by_name(rows):
    """rows in the listings' order: name ignoring case, then id."""
    return sorted(rows, key=lambda r: (r["name"].casefold(), r["id"]))


class DirectoryBase(Base):
    def get(self, path, status=200):
        st, h, raw = self.api("GET", path)
        self.assertEqual(st, status, raw)
        return jbody(raw)

    def page_all(self, path, size, totals=True):
        """Follow nextUri from page 1 -> (entities, pages), checking each
        page's paging fields."""
        sep = "&" if "?" in path else "?"
        uri, rows, pages = "%s%spageSize=%d" % (path, sep, size), [], 0
        while uri:
            b = self.get(uri)
            pages += 1
            self.assertEqual(b["pageNumber"], pages)
            self.assertEqual(b["pageSize"], size)
            self.assertLessEqual(set(b), ENTITY_KEYS if totals else MEMBER_KEYS)
            self.assertEqual("previousUri" in b, pages > 1)
            if totals:
                self.assertEqual(b["pageCount"], -(-b["total"] // size))
                self.assertEqual(b["lastUri"].rsplit("pageNumber=", 1)[1].split("&")[0],
                                 str(max(1, b["pageCount"])))
            rows += b["entities"]
            uri = b.get("nextUri")
            self.assertTrue(uri or len(b["entities"]) <= size)
        if totals:
            self.assertEqual(len(rows), b["total"])
        return rows, pages

    def truth(self, table):
        return ctl("GET", "/__emu/dataset/" + table)


class TestListings(DirectoryBase):
    def test_every_listing_pages_to_its_truth(self):
        for path, table in LISTINGS.items():
            truth = self.truth(table)
            if table == "presence_definitions":
                truth = [p for p in truth if not p["deactivated"]]     # deleted=false
            rows, pages = self.page_all(path, 3)
            self.assertEqual(rows, by_name(truth), path)
            self.assertGreater(pages, 2, path)
            # past the last page: no entities, no nextUri
            b = self.get("%s?pageSize=3&pageNumber=%d" % (path, pages + 1))
            self.assertEqual((b["entities"], "nextUri" in b), ([], False))

    def test_queue_members_page_without_totals(self):
        truth = self.truth("queue_members")
        got = []
        for q in self.truth("queues"):
            rows, pages = self.page_all("/api/v2/routing/queues/%s/members" % q["id"], 4,
                                        totals=False)
            self.assertEqual(len(rows), q["memberCount"])
            got += [dict({"queueId": q["id"]}, **m) for m in rows]
        self.assertEqual(got, truth)
        m = truth[0]
        self.assertEqual(set(m), {"queueId", "id", "name", "user", "ringNumber", "joined",
                                  "memberBy", "routingStatus", "selfUri"})
        self.assertEqual(m["user"]["id"], m["id"])
        self.assertEqual(m["routingStatus"]["userId"], m["id"])

    def test_sort_order_desc(self):
        for path in ("/api/v2/routing/queues", "/api/v2/routing/wrapupcodes", "/api/v2/groups",
                     "/api/v2/locations", "/api/v2/routing/languages"):
            asc = self.page_all(path, 100)[0]
            desc = self.page_all(path + "?sortOrder=desc", 100)[0]
            self.assertEqual(desc, asc[::-1], path)


class TestParameters(DirectoryBase):
    def test_id_repeated_or_comma_joined(self):
        for path, table in LISTINGS.items():
            if table == "presence_definitions":
                continue                # takes no id list
            ids = [e["id"] for e in self.truth(table)[:3]]
            one = self.get("%s?id=%s&id=%s&id=%s" % ((path,) + tuple(ids)))["entities"]
            two = self.get("%s?id=%s&id=%s" % (path, ",".join(ids[:2]), ids[2]))["entities"]
            self.assertEqual(sorted(e["id"] for e in one), sorted(ids), path)
            self.assertEqual(one, two)
            self.assertEqual(self.get(path + "?id=not-there")["total"], 0)

    def test_name_by_prefix_with_wildcards(self):
        queues = self.truth("queues")

        def names(param):
            q = urllib.parse.urlencode({"name": param, "pageSize": 100})
            return sorted(e["name"] for e in self.get("/api/v2/routing/queues?" + q)["entities"])
        self.assertEqual(names("sup"), sorted(q["name"] for q in queues
                                              if q["name"].lower().startswith("sup")))
        self.assertEqual(names("SUP*"), names("sup"))
        self.assertEqual(names("*tier*"), sorted(q["name"] for q in queues
                                                 if "tier" in q["name"].lower()))
        self.assertEqual(names(" Padded"), [" Padded Queue "])
        # skills, languages, divisions and wrap-up codes take name too
        for path, table in (("/api/v2/routing/skills", "skills"),
                            ("/api/v2/routing/languages", "languages"),
                            ("/api/v2/authorization/divisions", "divisions"),
                            ("/api/v2/routing/wrapupcodes", "wrapup_codes")):
            first = by_name(self.truth(table))[1]["name"]
            got = self.get(path + "?" + urllib.parse.urlencode({"name": first}))["entities"]
            self.assertIn(first, [e["name"] for e in got], path)
            self.assertTrue(all(e["name"].casefold().startswith(first.casefold())
                                for e in got), path)

    def test_division_id(self):
        for path, table in (("/api/v2/routing/queues", "queues"),
                            ("/api/v2/routing/wrapupcodes", "wrapup_codes")):
            rows = self.truth(table)
            div = rows[-1]["division"]["id"]
            got = self.page_all(path + "?divisionId=" + div, 100)[0]
            self.assertEqual(got, by_name(r for r in rows if r["division"]["id"] == div))

    def test_member_filters(self):
        truth = self.truth("queue_members")
        qid = max(self.truth("queues"), key=lambda q: q["memberCount"])["id"]
        members = [m for m in truth if m["queueId"] == qid]
        path = "/api/v2/routing/queues/%s/members?pageSize=100" % qid

        def ids(params):
            return sorted(e["id"] for e in self.get(path + "&" + params)["entities"])
        self.assertEqual(ids("joined=false"), sorted(m["id"] for m in members if not m["joined"]))
        self.assertEqual(ids("joined=TRUE"), sorted(m["id"] for m in members if m["joined"]))
        self.assertEqual(ids("memberBy=user"),
                         sorted(m["id"] for m in members if m["memberBy"] == "user"))
        status = members[0]["routingStatus"]["status"]
        self.assertEqual(ids("routingStatus=" + status.lower()),
                         sorted(m["id"] for m in members
                                if m["routingStatus"]["status"] == status))
        word = members[0]["name"].split()[0][1:4]
        self.assertEqual(ids("name=" + urllib.parse.quote(word)),
                         sorted(m["id"] for m in members
                                if word.casefold() in m["name"].casefold()))
        self.assertEqual(ids("presence=OFFLINE&presence=on_queue"),
                         ids("presence=OFFLINE,ON_QUEUE"))

    def test_presence_definitions_deleted_and_locale(self):
        truth = self.truth("presence_definitions")
        every = self.get("/api/v2/presencedefinitions?deleted=all&pageSize=100")["entities"]
        self.assertEqual(every, by_name(truth))
        gone = self.get("/api/v2/presencedefinitions?deleted=TRUE")["entities"]
        self.assertEqual(gone, [p for p in by_name(truth) if p["deactivated"]])
        self.assertTrue(gone)
        fr = self.get("/api/v2/presencedefinitions?localeCode=fr&pageSize=100")["entities"]
        for p in fr:
            full = next(t for t in truth if t["id"] == p["id"])
            self.assertEqual(p["languageLabels"],
                             {k: v for k, v in full["languageLabels"].items() if k == "fr"})
        self.assertEqual(self.get("/api/v2/presencedefinitions?localeCode=ALL&pageSize=100"),
                         self.get("/api/v2/presencedefinitions?pageSize=100&localeCode=ALL"))

    def test_validation_errors(self):
        qid = self.truth("queues")[0]["id"]
        members = "/api/v2/routing/queues/%s/members" % qid
        for path in ("/api/v2/routing/queues?pageSize=0", "/api/v2/routing/queues?pageSize=501",
                     "/api/v2/groups?pageNumber=0", "/api/v2/locations?pageSize=x",
                     "/api/v2/routing/queues?sortOrder=sideways", members + "?pageSize=101",
                     members + "?joined=maybe", members + "?memberBy=team",
                     members + "?routingStatus=ASLEEP", members + "?presence=NAPPING",
                     "/api/v2/presencedefinitions?deleted=maybe"):
            st, h, raw = self.api("GET", path)
            self.assert_platform_error(st, h, raw, 400, "invalid.value")
        st, h, raw = self.api("GET", "/api/v2/routing/queues/%s/members" % ("0" * 36))
        self.assert_platform_error(st, h, raw, 404, "not.found")
        st, h, raw = self.api("POST", "/api/v2/routing/queues", {})
        self.assert_platform_error(st, h, raw, 404, "not.found")


class TestData(DirectoryBase):
    def test_ids_consistent_with_conversations_and_users(self):
        queues = {q["id"]: q for q in self.truth("queues")}
        codes = {w["id"] for w in self.truth("wrapup_codes")}
        divisions = self.truth("divisions")
        division_ids = {d["id"] for d in divisions}
        members = {}
        for m in self.truth("queue_members"):
            members.setdefault(m["queueId"], {})[m["id"]] = m
        used_queues = set()
        for c in ctl("GET", "/__emu/dataset/conversations"):
            self.assertLessEqual(set(c["divisionIds"]), division_ids)
            for p in c["participants"]:
                for s in p["sessions"]:
                    for g in s["segments"]:
                        if "queueId" in g:
                            self.assertIn(g["queueId"], queues)
                            used_queues.add(g["queueId"])
                            if p["purpose"] == "agent":      # who handles it is a member
                                self.assertIn(p["userId"], members[g["queueId"]])
                        if "wrapUpCode" in g:
                            self.assertIn(g["wrapUpCode"], codes)
        self.assertEqual(len(used_queues), 6)
        for u in ctl("GET", "/__emu/dataset/users"):
            self.assertIn(u["division"]["id"], division_ids)
        for table in ("queues", "wrapup_codes"):
            for e in self.truth(table):
                self.assertIn(e["division"]["id"], division_ids)
        self.assertEqual([d["name"] for d in divisions if d["homeDivision"]], ["Home"])
        every = [m for q in members.values() for m in q.values()]
        self.assertTrue(any(not m["joined"] for m in every))
        self.assertTrue(any(m["memberBy"] == "group" for m in every))
        for qid, q in queues.items():
            mine = members.get(qid, {}).values()
            self.assertEqual(q["memberCount"], len(mine))
            self.assertEqual(q["joinedMemberCount"], sum(1 for m in mine if m["joined"]))
            self.assertEqual(q["userMemberCount"],
                             sum(1 for m in mine if m["memberBy"] == "user"))

    def test_names_hold_what_real_directories_hold(self):
        for table in ("queues", "wrapup_codes", "divisions", "groups", "skills", "locations",
                      "presence_definitions"):
            names = [e["name"] for e in self.truth(table)]
            for what, test in (("a quote", lambda n: '"' in n or "'" in n),
                               ("a backslash", lambda n: "\\" in n),
                               ("an accent", lambda n: any("\u00c0" <= ch <= "\u024f" for ch in n)),
                               ("an emoji", lambda n: any(ord(ch) > 0xffff for ch in n)),
                               ("a leading space", lambda n: n.startswith(" ")),
                               ("a trailing space", lambda n: n.endswith(" "))):
                self.assertTrue(any(test(n) for n in names), "%s: no name with %s" % (table, what))

    def test_presence_labels_in_several_locales(self):
        truth = self.truth("presence_definitions")
        self.assertEqual(sorted(p["systemPresence"] for p in truth if p["primary"]),
                         sorted(["AVAILABLE", "AWAY", "BUSY", "BREAK", "MEAL", "MEETING",
                                 "TRAINING", "ON_QUEUE", "IDLE", "OFFLINE"]))
        for p in truth:
            self.assertEqual(p["name"], p["languageLabels"]["en_US"])
        self.assertTrue(all(len(p["languageLabels"]) >= 4 for p in truth if p["primary"]))
        self.assertTrue(any(not p["primary"] for p in truth))

    def test_sizes_need_several_pages(self):
        for table in ("queues", "wrapup_codes", "divisions", "groups", "skills", "languages",
                      "locations", "presence_definitions"):
            self.assertGreaterEqual(len(self.truth(table)), 8, table)


class TestMutationsFaultsAndLog(DirectoryBase):
    def test_remove_and_rename(self):
        q = self.truth("queues")[7]
        self.mutate({"action": "remove_entity", "table": "queues", "id": q["id"]})
        self.assertNotIn(q["id"], [e["id"] for e in self.truth("queues")])
        self.assertEqual(self.get("/api/v2/routing/queues?id=" + q["id"])["total"], 0)
        self.get("/api/v2/routing/queues/%s/members" % q["id"], status=404)
        self.assertNotIn(q["id"], {m["queueId"] for m in self.truth("queue_members")})
        s = self.truth("skills")[0]
        self.mutate({"action": "rename_entity", "table": "skills", "id": s["id"],
                     "name": "Renamed \"skill\""})
        got = self.get("/api/v2/routing/skills?id=" + s["id"])["entities"][0]
        self.assertEqual((got["name"], got["dateModified"]),
                         ("Renamed \"skill\"", "2024-03-22T00:00:00.000Z"))
        m = self.truth("queue_members")[0]
        self.mutate({"action": "remove_entity", "table": "queue_members",
                     "queueId": m["queueId"], "id": m["id"]})
        self.assertNotIn((m["queueId"], m["id"]),
                         {(x["queueId"], x["id"]) for x in self.truth("queue_members")})
        for bad in ({"action": "remove_entity", "table": "queues", "id": "nope"},
                    {"action": "remove_entity", "table": "users", "id": m["id"]},
                    {"action": "rename_entity", "table": "groups", "id": "nope", "name": "x"},
                    {"action": "remove_entity", "table": "queue_members", "queueId": "q",
                     "id": m["id"]}):
            self.mutate(bad, status=400)
        ctl("POST", "/__emu/reset")
        self.assertIn(q["id"], [e["id"] for e in self.truth("queues")])
        self.assertEqual(self.truth("skills")[0], s)

    def test_system_wrapup_codes_are_not_listed(self):
        listed = {w["id"] for w in self.truth("wrapup_codes")}
        out = self.mutate({"action": "system_wrapups"})
        self.assertEqual(out["code"], "ININ-WRAP-UP-TIMEOUT")
        system = set()
        for c in ctl("GET", "/__emu/dataset/conversations"):
            for p in c["participants"]:
                for s in p["sessions"]:
                    for g in s["segments"]:
                        if g.get("wrapUpCode") and g["wrapUpCode"] not in listed:
                            system.add(c["conversationId"])
                            self.assertEqual(g["wrapUpCode"], "ININ-WRAP-UP-TIMEOUT")
        self.assertEqual(len(system), out["conversations"])
        self.assertGreater(len(system), 10)
        self.mutate({"action": "system_wrapups", "every": 0}, status=400)

    def test_faults_rate_limit_and_log_apply(self):
        ctl("POST", "/__emu/faults", [{"endpoint": "directory", "status": 503},
                                      {"endpoint": "api", "path": "/api/v2/routing/queues/",
                                       "kind": "extra_fields"}])
        st, _, _ = self.api("GET", "/api/v2/groups")
        self.assertEqual(st, 503)
        qid = self.truth("queues")[0]["id"]
        b = self.get("/api/v2/routing/queues/%s/members" % qid)
        self.assertIn("emuExtraRowText", b["entities"][0])
        self.assertIn("emuExtraTopFirst", b)
        self.assertEqual(self.get("/api/v2/routing/queues")["entities"][0].get("emuExtraRowText"),
                         None)
        ctl("POST", "/__emu/faults", {"endpoint": "directory", "kind": "huge_string",
                                      "size": 1000})
        self.assertEqual(len(self.get("/api/v2/locations")["entities"][0]["name"]), 1000)
        self.assertEqual(emuctl("log-count", "--endpoint", "directory")[1], "4\n")
        self.assertEqual(emuctl("log-count", "--endpoint", "directory", "--status", "503")[1],
                         "1\n")
        ctl("POST", "/__emu/reset")               # a new rate window
        ctl("POST", "/__emu/settings", {"rate_limit": 2})
        self.get("/api/v2/routing/skills")
        self.get("/api/v2/routing/languages")
        st, h, raw = self.api("GET", "/api/v2/routing/wrapupcodes")
        self.assert_platform_error(st, h, raw, 429, "too.many.requests.retry.after")


class TestEmuctlAndScale(DirectoryBase):
    def test_emuctl_csv_of_every_table(self):
        for table in ("queues", "queue_members", "wrapup_codes", "divisions", "groups",
                      "skills", "languages", "locations", "presence_definitions"):
            rows = list(csv.DictReader(io.StringIO(emuctl("csv", table)[1])))
            truth = self.truth(table)
            self.assertEqual(len(rows), len(truth), table)
            self.assertEqual(rows[0]["name"], truth[0]["name"])
        q = list(csv.DictReader(io.StringIO(emuctl("csv", "queues")[1])))[0]
        self.assertEqual(list(q)[:4], ["id", "name", "division_id", "division_name"])
        self.assertIn("call_service_level_percentage", q)
        self.assertIn("acw_timeout_ms", q)
        loc = [r for r in csv.DictReader(io.StringIO(emuctl("csv", "locations")[1]))]
        self.assertTrue(any(r["path"].startswith("{") and len(r["path"]) > 2 for r in loc))

    def test_directory_scale_keeps_the_dataset_and_grows_the_directory(self):
        pf = os.path.join(support.TMPDIR, "port-scale")
        p = subprocess.Popen([sys.executable, EMULATOR, "--port", "0", "--port-file", pf,
                              "--directory-scale", "8"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for _ in range(600):
                if os.path.exists(pf) or p.poll() is not None:
                    break
                time.sleep(0.05)
            with open(pf) as f:
                port = int(f.read())

            def fetch(path):
                saved, support.PORT = support.PORT, port
                try:
                    return request("GET", path)[2]
                finally:
                    support.PORT = saved
            big_users = jbody(fetch("/__emu/dataset/users"))
            self.assertEqual(len(big_users), 2000)
            self.assertEqual(big_users[:600], ctl("GET", "/__emu/dataset/users"))
            same = request("GET", "/__emu/dataset/conversations")[2]
            self.assertEqual(hashlib.md5(fetch("/__emu/dataset/conversations")).hexdigest(),
                             hashlib.md5(same).hexdigest())
            self.assertEqual(len(jbody(fetch("/__emu/dataset/queues"))), 200)
            members = jbody(fetch("/__emu/dataset/queue_members"))
            self.assertGreater(len(members), 1000)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=10)
            p.stderr.close()
        bad = subprocess.run([sys.executable, EMULATOR, "--directory-scale", "0"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(bad.returncode, 2)
