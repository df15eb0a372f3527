"""The emulator read through the official Genesys Cloud JavaScript SDK.

tests/sdk/read.js drives purecloud-platform-client-v2 (the version pinned
in package-lock.json) with the SDK's own methods; these tests compare what
the SDK returned with the emulator's truth (/__emu/dataset/*), so that the
wire format the emulator serves, and gc_fdw is tested against, is the
SDK's: its paths, its parameter names and its paging fields.

Node.js must be installed; the SDK is installed here (npm ci from the lock
file, into tests/sdk/node_modules) when it is missing or the lock changed,
and npm itself with apt-get when it is missing and we are root.
Run:  python3 -m unittest tests/sdk/test_sdk.py
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "emulator", "selftest"))
import support  # noqa: E402  (the emulator the self-test starts, and its helpers)
from support import CLIENT_ID, CLIENT_SECRET, ctl  # noqa: E402

LOCK = os.path.join(HERE, "package-lock.json")
STAMP = os.path.join(HERE, "node_modules", ".gc-fdw-installed-lock")
# NodeSource's nodejs bundles npm here (and conflicts with Debian's npm)
BUNDLED_NPM = "/usr/lib/node_modules/npm/bin/npm-cli.js"


def npm_command():
    """How to run npm: on PATH, bundled with node, or apt-get installed."""
    if shutil.which("npm"):
        return ["npm"]
    if os.path.exists(BUNDLED_NPM):
        return ["node", BUNDLED_NPM]
    if os.geteuid() != 0:
        raise RuntimeError("npm is missing; run as root to apt-get install it")
    if subprocess.run(["apt-get", "install", "-y", "-qq", "npm"]).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "npm"], check=True)
    return ["npm"]


def install_sdk():
    """npm ci from the lock file, unless node_modules already holds what
    this very lock file installs (a stamp holds its hash)."""
    if shutil.which("node") is None:
        raise RuntimeError("node is not installed: the SDK tests need Node.js")
    with open(LOCK, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    try:
        with open(STAMP) as f:
            if f.read().strip() == want:
                return
    except OSError:
        pass
    subprocess.run(npm_command() + ["ci", "--no-audit", "--no-fund"], cwd=HERE, check=True,
                   timeout=600, stdout=subprocess.DEVNULL)
    with open(STAMP, "w") as f:
        f.write(want + "\n")


def setUpModule():
    install_sdk()
    support.start_emulator()


def tearDownModule():
    support.stop_emulator()


def by_name(rows):
    """rows in the listings' order: name ignoring case, then id."""
    return sorted(rows, key=lambda r: (r["name"].casefold(), r["id"]))


def sdk(mode, spec):
    """Run read.js in mode with spec -> what it printed, parsed."""
    env = dict(os.environ, GC_SDK_SECRET=CLIENT_SECRET)
    p = subprocess.run(["node", os.path.join(HERE, "read.js"),
                        "http://127.0.0.1:%d" % support.PORT, CLIENT_ID, mode, json.dumps(spec)],
                       capture_output=True, text=True, env=env, timeout=300)
    if p.returncode != 0:
        raise AssertionError("read.js %s failed: %s" % (mode, p.stderr.strip()))
    return json.loads(p.stdout)


# table -> the SDK method that lists it, and the options it needs for all rows
DIRECTORY = {
    "queues": ("RoutingApi", "getRoutingQueues", {}),
    "wrapup_codes": ("RoutingApi", "getRoutingWrapupcodes", {}),
    "skills": ("RoutingApi", "getRoutingSkills", {}),
    "languages": ("RoutingApi", "getRoutingLanguages", {}),
    "divisions": ("AuthorizationApi", "getAuthorizationDivisions", {}),
    "groups": ("GroupsApi", "getGroups", {}),
    "locations": ("LocationsApi", "getLocations", {}),
    "presence_definitions": ("PresenceApi", "getPresencedefinitions", {"deleted": "ALL"}),
}
PAGE = 4            # small pages: every listing takes several


class TestDirectoryThroughTheSDK(unittest.TestCase):
    """Every directory listing paged with the SDK's methods, as the truth."""

    @classmethod
    def setUpClass(cls):
        ctl("POST", "/__emu/reset")
        cls.queues = ctl("GET", "/__emu/dataset/queues")
        specs = [{"api": api, "method": method, "opts": opts, "pageSize": PAGE}
                 for api, method, opts in DIRECTORY.values()]
        specs += [{"api": "RoutingApi", "method": "getRoutingQueueMembers", "args": [q["id"]],
                   "pageSize": PAGE} for q in cls.queues]
        out = sdk("pages", specs)
        cls.read = dict(zip(DIRECTORY, out))
        cls.members = out[len(DIRECTORY):]
        cls.log = ctl("GET", "/__emu/log")

    def check(self, table):
        got = self.read[table]
        truth = ctl("GET", "/__emu/dataset/" + table)
        self.assertEqual(got["rows"], by_name(truth))
        self.assertEqual(got["pages"], -(-len(truth) // PAGE))
        self.assertGreater(got["pages"], 1)

    def test_queues(self):
        self.check("queues")

    def test_wrapup_codes(self):
        self.check("wrapup_codes")

    def test_skills(self):
        self.check("skills")

    def test_languages(self):
        self.check("languages")

    def test_divisions(self):
        self.check("divisions")

    def test_groups(self):
        self.check("groups")

    def test_locations(self):
        self.check("locations")

    def test_presence_definitions(self):
        self.check("presence_definitions")

    def test_queue_members(self):
        truth = ctl("GET", "/__emu/dataset/queue_members")
        got = [dict({"queueId": q["id"]}, **m)
               for q, read in zip(self.queues, self.members) for m in read["rows"]]
        self.assertEqual(got, truth)
        # the SDK stops on the page without nextUri: no page past the end
        self.assertEqual([r["pages"] for r in self.members],
                         [max(1, -(-q["memberCount"] // PAGE)) for q in self.queues])

    def test_the_sdk_sends_paging_parameters(self):
        paths = {"/api/v2/routing/queues", "/api/v2/authorization/divisions",
                 "/api/v2/presencedefinitions"}
        seen = {}
        for e in self.log:
            if e["path"] in paths:
                self.assertEqual(e["query"]["pageSize"], [str(PAGE)])
                seen.setdefault(e["path"], []).append(int(e["query"]["pageNumber"][0]))
        for path in paths:
            self.assertEqual(seen[path], list(range(1, len(seen[path]) + 1)), path)
        self.assertEqual(self.log[0]["path"], "/oauth/token")

    def test_list_parameters_through_the_sdk(self):
        ids = [q["id"] for q in self.queues[:3]]
        got = sdk("call", {"api": "RoutingApi", "method": "getRoutingQueues",
                           "opts": {"id": ids, "pageSize": 100}})
        self.assertEqual(sorted(e["id"] for e in got["entities"]), sorted(ids))
        division = self.queues[-1]["division"]["id"]
        got = sdk("call", {"api": "RoutingApi", "method": "getRoutingWrapupcodes",
                           "opts": {"divisionId": [division], "pageSize": 100}})
        truth = [w for w in ctl("GET", "/__emu/dataset/wrapup_codes")
                 if w["division"]["id"] == division]
        self.assertEqual(got["entities"], by_name(truth))
        queue = max(self.queues, key=lambda q: q["memberCount"])
        got = sdk("call", {"api": "RoutingApi", "method": "getRoutingQueueMembers",
                           "args": [queue["id"]], "opts": {"joined": False, "pageSize": 100}})
        truth = [m for m in ctl("GET", "/__emu/dataset/queue_members")
                 if m["queueId"] == queue["id"] and not m["joined"]]
        self.assertEqual([m["id"] for m in got["entities"]], [m["id"] for m in truth])
        got = sdk("call", {"api": "PresenceApi", "method": "getPresencedefinitions",
                           "opts": {"localeCode": "fr", "pageSize": 100}})
        self.assertTrue(all(set(p["languageLabels"]) <= {"fr"} for p in got["entities"]))
        got = sdk("call", {"api": "AuthorizationApi", "method": "getAuthorizationDivisions",
                           "opts": {"name": "Sales", "pageSize": 100}})
        self.assertEqual([d["name"] for d in got["entities"]], ["Sales EU"])


DAY5 = "2024-03-05T00:00:00Z/2024-03-06T00:00:00Z"


def status_truth(lo, hi):
    """userId -> {primaryPresence, routingStatus} records overlapping [lo, hi)
    (ISO texts), from /__emu/dataset, as an AnalyticsUserDetail holds them."""
    out = {}
    for kind, table in (("primaryPresence", "user_presence"),
                        ("routingStatus", "user_routing_status")):
        for r in ctl("GET", "/__emu/dataset/" + table):
            if r["startTime"] < hi and ("endTime" not in r or r["endTime"] > lo):
                rec = {k: v for k, v in r.items() if k != "userId"}
                out.setdefault(r["userId"], {"userId": r["userId"]}).setdefault(kind, []).append(rec)
    return out


class TestUserDetailsThroughTheSDK(unittest.TestCase):
    """Agent status history with AnalyticsApi's own methods, as the truth."""

    def setUp(self):
        ctl("POST", "/__emu/reset")

    def test_query_paged_to_an_empty_page(self):
        got = sdk("query", {"api": "AnalyticsApi", "method": "postAnalyticsUsersDetailsQuery",
                            "body": {"interval": DAY5, "paging": {"pageSize": 25}},
                            "rowsKey": "userDetails"})
        truth = status_truth("2024-03-05T00:00:00.000Z", "2024-03-06T00:00:00.000Z")
        self.assertEqual(got["rows"], [truth[u] for u in sorted(truth)])
        self.assertEqual(got["totalHits"], len(truth))
        # short pages: more pages than the users fill, then the empty one
        self.assertGreater(got["pages"], -(-len(truth) // 25) + 1)

    def test_query_with_filters(self):
        body = {"interval": "2024-03-04T00:00:00Z/2024-03-11T00:00:00Z",
                "routingStatusFilters": [{"type": "or", "predicates": [
                    {"type": "dimension", "dimension": "routingStatus", "operator": "matches",
                     "value": "INTERACTING"}]}],
                "order": "desc", "paging": {"pageSize": 50}}
        got = sdk("query", {"api": "AnalyticsApi", "method": "postAnalyticsUsersDetailsQuery",
                            "body": body, "rowsKey": "userDetails"})
        truth = status_truth("2024-03-04T00:00:00.000Z", "2024-03-11T00:00:00.000Z")
        want = []
        for uid in sorted(truth, reverse=True):
            routing = [r for r in truth[uid].get("routingStatus", [])
                       if r["routingStatus"] == "INTERACTING"]
            if routing:
                want.append(dict(truth[uid], routingStatus=routing))
        self.assertEqual(got["rows"], want)
        self.assertTrue(want)

    def test_job_submitted_polled_and_paged_by_cursor(self):
        body = {"interval": "2024-03-01T00:00:00Z/2024-04-10T00:00:00Z"}    # 40 days
        got = sdk("job", {"api": "AnalyticsApi", "submit": "postAnalyticsUsersDetailsJobs",
                          "status": "getAnalyticsUsersDetailsJob",
                          "results": "getAnalyticsUsersDetailsJobResults",
                          "body": body, "pageSize": 60, "rowsKey": "userDetails"})
        truth = status_truth("2024-03-01T00:00:00.000Z", "2024-04-10T00:00:00.000Z")
        self.assertEqual(got["rows"], [truth[u] for u in sorted(truth)])
        self.assertEqual(got["states"], ["QUEUED", "PENDING", "FULFILLED"])
        self.assertEqual(got["pages"], -(-len(truth) // 60))
        self.assertEqual(got["dataAvailabilityDate"], "2024-03-20T00:00:00.000Z")
        got = sdk("call", {"api": "AnalyticsApi",
                           "method": "getAnalyticsUsersDetailsJobsAvailability"})
        self.assertEqual(got, {"dataAvailabilityDate": "2024-03-20T00:00:00.000Z"})
