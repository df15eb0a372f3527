"""The warehouse's reports, as docs/warehousing.md gives them ("Reports
from the warehouse") and scripts/demo-export.sql prints them: every figure
checked against the emulator's own data (/__emu/dataset/*), computed here
in Python from the API's JSON, not by running the same SQL.

The warehouse is loaded once, by the three syncs, from a dataset in which
some wrap-up segments carry a platform code that the wrap-up code listing
does not hold, and a queue has been renamed.
"""
import json
import os
import re
import unittest
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal, ROUND_HALF_UP
from fractions import Fraction

import gcfdw
from gcfdw import psql, emu, emu_reset
from test_sync import call

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RANGE = ("2024-03-01", "2024-03-22")
# the dates the docs' reports are written for
PERIOD = ("2024-03-15", "2024-03-22")
DAY = "2024-03-20"
RENAMED = "Renamed \"Queue\" é"


def doc_reports():
    """The ```sql blocks of docs/warehousing.md's report section, in order."""
    with open(os.path.join(ROOT, "docs", "warehousing.md")) as f:
        text = f.read()
    section = text.split("\n## Reports from the warehouse\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def rounded(value, places):
    """value (a Fraction) rounded half away from zero, as PostgreSQL's
    round(numeric) does, as the text it prints."""
    q = Decimal(1).scaleb(-places)
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(q, ROUND_HALF_UP))


def instant(iso):
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def millis(a, b):
    return Fraction(round((b - a).total_seconds() * 1000))


def queue_day_truth(conversations, queue_names):
    """{(queue, day): [offered, answered, abandoned, avg handle s]} from the
    conversations' JSON: each metric on the UTC day it was emitted, on the
    queue its session's first queued segment names."""
    acc = defaultdict(lambda: {"offered": 0, "answered": 0, "abandoned": 0, "handle": []})
    for c in conversations:
        for p in c["participants"]:
            for s in p["sessions"]:
                queued = sorted((g for g in s["segments"] if g.get("queueId")),
                                key=lambda g: instant(g["segmentStart"]))
                if not queued:
                    continue
                queue = queue_names.get(queued[0]["queueId"], queued[0]["queueId"])
                for m in s.get("metrics", []):
                    if not PERIOD[0] <= m["emitDate"][:10] < PERIOD[1]:
                        continue
                    what = (p["purpose"], m["name"])
                    if what not in (("acd", "nOffered"), ("acd", "tAbandon"),
                                    ("agent", "tAnswered"), ("agent", "tHandle")):
                        continue
                    row = acc[(queue, m["emitDate"][:10])]
                    if what == ("acd", "nOffered"):
                        row["offered"] += m["value"]
                    elif what == ("acd", "tAbandon"):
                        row["abandoned"] += 1
                    elif what == ("agent", "tAnswered"):
                        row["answered"] += 1
                    else:
                        row["handle"].append(m["value"])
    return {k: [str(v["offered"]), str(v["answered"]), str(v["abandoned"]),
                rounded(Fraction(sum(v["handle"]), len(v["handle"]) * 1000), 1) if v["handle"] else None]
            for k, v in acc.items()}


def wrap_up_truth(conversations, code_names):
    """{name (or the code): wrap-up segments} of the segments that started
    in the period."""
    counts = defaultdict(int)
    for c in conversations:
        for p in c["participants"]:
            for s in p["sessions"]:
                for g in s["segments"]:
                    if (g.get("segmentType") == "wrapup" and g.get("wrapUpCode")
                            and PERIOD[0] <= g["segmentStart"][:10] < PERIOD[1]):
                        counts[code_names.get(g["wrapUpCode"], g["wrapUpCode"])] += 1
    return {k: str(v) for k, v in counts.items()}


def occupancy_truth(presence, routing, user_names):
    """{agent: [on queue h, interacting h, occupancy %]} for DAY: the time
    each user's ON_QUEUE presence and non-OFF_QUEUE routing status both
    held, and the INTERACTING part of it, by walking both timelines."""
    lo = instant(DAY + "T00:00:00.000Z")
    hi = lo + timedelta(days=1)

    def spans(records, keep):
        out = defaultdict(list)
        for r in records:
            if keep(r):
                start = max(instant(r["startTime"]), lo)
                end = min(instant(r["endTime"]) if "endTime" in r else hi, hi)
                if start < end:
                    out[r["userId"]].append((start, end, r.get("routingStatus")))
        return out

    on_queue = spans(presence, lambda r: r["systemPresence"] == "ON_QUEUE")
    statuses = spans(routing, lambda r: r["routingStatus"] != "OFF_QUEUE")
    out = {}
    for user, p_spans in on_queue.items():
        total = interacting = Fraction(0)
        for p0, p1, _ in p_spans:
            for r0, r1, status in statuses.get(user, ()):
                a, b = max(p0, r0), min(p1, r1)
                if a < b:
                    total += millis(a, b)
                    if status == "INTERACTING":
                        interacting += millis(a, b)
        if total:
            out[user_names.get(user, user)] = [rounded(total / 3600000, 2),
                                               rounded(interacting / 3600000, 2),
                                               rounded(100 * interacting / total, 1)]
    return out


class TestReports(unittest.TestCase):
    """The three reports over a warehouse the three syncs loaded."""

    @classmethod
    def setUpClass(cls):
        gcfdw.setup_database()
        emu_reset()
        emu("/__emu/mutate", {"action": "system_wrapups", "every": 7})
        # a queue the conversations go through gets a new name
        queue = next(g["queueId"] for c in emu("/__emu/dataset/conversations")
                     for p in c["participants"] for s in p["sessions"] for g in s["segments"]
                     if g.get("queueId"))
        emu("/__emu/mutate", {"action": "rename_entity", "table": "queues", "id": queue,
                              "name": RENAMED})
        psql("SET client_min_messages = warning; DROP SCHEMA IF EXISTS warehouse CASCADE;"
             " DROP SCHEMA IF EXISTS gc_fdw_src_emu CASCADE;"
             " DELETE FROM gc_fdw.sync_state; DELETE FROM gc_fdw.sync_log;")
        for procedure in ("sync_conversations", "sync_user_status"):
            call("CALL gc_fdw.%s('emu', 'warehouse', '%s', '%s');" % ((procedure,) + RANGE))
        call("CALL gc_fdw.sync_directory('emu', 'warehouse');")
        cls.conversations = emu("/__emu/dataset/conversations")
        cls.presence = emu("/__emu/dataset/user_presence")
        cls.routing = emu("/__emu/dataset/user_routing_status")
        cls.names = {t: {e["id"]: e["name"] for e in emu("/__emu/dataset/" + t)}
                     for t in ("queues", "wrapup_codes", "users")}
        cls.reports = doc_reports()

    @classmethod
    def tearDownClass(cls):
        emu_reset()

    def run_report(self, sql):
        """The report's rows, each as a list of its values' text."""
        out = psql("SELECT json_agg(json_build_array(VARIADIC ARRAY(SELECT value #>> '{}'"
                   " FROM json_each(row_to_json(r))))) FROM (%s) r;" % sql.strip().rstrip(";"))
        return json.loads(out.stdout.strip() or "null") or []

    def test_the_docs_give_three_reports(self):
        self.assertEqual(len(self.reports), 3)
        for sql, first in zip(self.reports, ("-- offered, answered, abandoned", "-- wrap-up codes",
                                             "-- occupancy per agent")):
            self.assertTrue(sql.startswith(first), sql[:60])

    def test_per_queue_and_day(self):
        got = {(r[0], r[1]): r[2:] for r in self.run_report(self.reports[0])}
        want = queue_day_truth(self.conversations, self.names["queues"])
        self.assertGreater(len(want), 30)
        self.assertIn(RENAMED, {q for q, _ in want}, "reports name queues as the directory now does")
        self.assertEqual(got, want)

    def test_per_wrap_up_code(self):
        got = {r[0]: r[1] for r in self.run_report(self.reports[1])}
        want = wrap_up_truth(self.conversations, self.names["wrapup_codes"])
        self.assertIn("ININ-WRAP-UP-TIMEOUT", want, "a platform code shows as itself")
        self.assertEqual(got, want)

    def test_occupancy_per_agent_for_a_day(self):
        got = {r[0]: r[1:] for r in self.run_report(self.reports[2])}
        want = occupancy_truth(self.presence, self.routing, self.names["users"])
        self.assertGreater(len(want), 20)
        self.assertTrue(any(v[1] != "0.00" for v in want.values()))
        self.assertEqual(got, want)

    def test_the_demo_prints_the_same_reports(self):
        """scripts/demo-export.sql runs each report as the docs give it,
        over its own dates (psql variables instead of the docs' dates)."""
        with open(os.path.join(ROOT, "scripts", "demo-export.sql")) as f:
            demo = f.read()
        dates = [("timestamptz '2024-03-15 00:00+00' AS lo, timestamptz '2024-03-22 00:00+00' AS hi",
                  ":'report_from'::timestamptz AS lo, :'report_to'::timestamptz AS hi"),
                 ("(VALUES (timestamptz '2024-03-20 00:00+00'))", "(VALUES (:'report_day'::timestamptz))")]
        for sql in self.reports:
            for doc_text, demo_text in dates:
                sql = sql.replace(doc_text, demo_text)
            self.assertIn(sql, demo)


if __name__ == "__main__":
    unittest.main()
