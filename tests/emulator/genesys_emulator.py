#!/usr/bin/env python3
"""Genesys Cloud CX API emulator for the gc_fdw test suite.

This module owns everything the tests need from "Genesys" without the
network: a deterministic in-memory dataset (users and analytics
conversation details, generated from --seed), the OAuth client-credentials
token endpoint, the /api/v2 endpoints gc_fdw calls (users, sync details
query, details by id, async details jobs), fault injection, rate limiting,
settings, a request log and dataset mutations (late wrap-up codes,
conversations ending or appearing, users changing) exposed through a small
control API under /__emu/ (no auth).  PATCH /api/v2/users/{id} updates a
user with optimistic locking on its version.  Wire formats follow the official SDK typings
(purecloud-platform-client-v2 index.d.ts) and /work/shared/genesys-api.md.

Pages (sync query, users listing, job results) are served from caches kept
per dataset version, so that benchmarks measure their client and not the
emulator; /__emu/prerender fills them ahead of time and /__emu/stats shows
the time spent handling requests.  The setting latency_ms adds a round trip.

Python 3 standard library only; listens on 127.0.0.1 only.

Usage:
    python3 tests/emulator/genesys_emulator.py --port 0 --port-file F \
        [--client ID:SECRET ...] [--seed N] [--scale N] [--tls-cert PEM --tls-key PEM]
        [--page-cache-mb N]

Secrets and access tokens are never printed, logged or returned by the
control API.
"""

import argparse
import base64
import binascii
import bisect
import copy
import datetime as dt
import gc
import gzip
import json
import math
import os
import random
import secrets
import select
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import unicodedata
import urllib.parse
import uuid
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_CLIENTS = ["gc-test-client:gc-test-secret-XYZZY",
                   "demo-client:demo-secret-PLUGH"]

DEFAULT_SETTINGS = {
    "token_lifetime": 86399,          # expires_in of new tokens, seconds
    "max_results": 100000,            # sync query pageNumber*pageSize cap
    "page_shift": 0,                  # details pages after the first start N rows early,
                                      # as when live traffic shifts results while paging
    "rate_limit": 0,                  # requests per window per client; 0 = off
    "rate_window": 60,                # rate limit window, seconds
    "availability_date": "2024-03-20T00:00:00.000Z",
    "job_polls": 2,                   # status polls before FULFILLED
    "job_fail": "",                   # when set, jobs end FAILED with this errorMessage
    "max_job_results": 400000,        # async job result cap
    "patch_conflict_every": 0,        # N > 0: every Nth accepted PATCH /api/v2/users/{id}
                                      # meets a simulated remote edit and gets 409
    "fault_seed": 0,                  # seed of the RNG behind fault rules' "probability"
    "latency_ms": 0,                  # delay before each /api/ answer's status line, as a
                                      # network round trip would (benchmarks: 100)
}

DAY_MS = 86400 * 1000
DATASET_START = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
DATASET_DAYS = 21                     # 2024-03-01 .. 2024-03-22 (exclusive)

# gzip level of every compressed answer.  Measured on a 100-conversation
# details page (368 KB) at --scale 40: level 1 gives 71 KB in 1.9 ms, 6 gives
# 54 KB in 4.3 ms, 9 gives 53 KB in 8.3 ms; decompressing level 6 is also
# faster for the client (0.54 ms against 0.70 ms at level 1).  Cached pages
# pay the compression once, so 6 (zlib's default, what gateways send) costs
# nothing per request and keeps the bytes on the wire close to the real API.
GZIP_LEVEL = 6
# Rendered-page cache budget per dataset version (identity plus gzip bytes;
# least recently used pages go first).  --page-cache-mb changes it.
PAGE_CACHE_BYTES = 2048 * 1024 * 1024
# Hit lists (the matching conversations of one query, sorted) kept per
# dataset version; a week at --scale 250 is ~70,000 references (0.5 MB).
QUERY_CACHE_ENTRIES = 128


# ---------------------------------------------------------------------------
# Time helpers
# ---------------------------------------------------------------------------

def epoch_ms(d):
    """Aware datetime -> integer epoch milliseconds."""
    return int(round(d.timestamp() * 1000))


def iso_ms(ms):
    """Epoch milliseconds -> '2024-03-01T12:34:56.789Z'."""
    d = dt.datetime.fromtimestamp(ms // 1000, tz=dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def parse_iso(text):
    """Parse an ISO-8601 instant (Z or offset; naive = UTC) -> epoch ms.

    Raises ValueError on bad input."""
    t = text.strip()
    if not t or "T" not in t:
        raise ValueError("not an ISO-8601 date-time: %r" % text)
    if t.endswith("z"):
        t = t[:-1] + "Z"
    d = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return epoch_ms(d)


def parse_interval(text):
    """Parse 'start/end' -> (start_ms, end_ms); raises ValueError."""
    if not isinstance(text, str) or text.count("/") != 1:
        raise ValueError("interval must be 'start/end'")
    a, b = text.split("/")
    return parse_iso(a), parse_iso(b)


# ---------------------------------------------------------------------------
# Dataset generation (deterministic from the seed)
# ---------------------------------------------------------------------------

FIRST = ["Alice", "Bob", "Carla", "Dmitri", "Eve", "Farah", "Gustav", "Hana",
         "Ivan", "Jun", "Kofi", "Lena", "Mateo", "Nia", "Omar", "Priya",
         "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Ximena",
         "Yusuf", "Zoë", "Amélie", "Søren", "Łukasz", "Chloé", "Anaïs", "Björn"]
LAST = ["Anderson", "Bakker", "Costa", "Dubois", "Eriksson", "Fischer",
        "García", "Hansen", "Ito", "Jensen", "Kowalski", "Larsen", "Martín",
        "Nakamura", "Olsen", "Petrov", "Quispe", "Rossi", "Schmidt", "Tanaka",
        "Ueda", "Vargas", "Weber", "Xu", "Yilmaz", "Zhang", "Müller", "Núñez",
        "O'Connor", "Ångström"]
# Names that exercise quoting/encoding; assigned to the first users.
SPECIAL_NAMES = ["José Müller", "王小明", "Support Agent 🎧", "Dana O'Neil",
                 'Robert "Bobby" Tables', "Back\\Slash Admin",
                 "Zoë D'Angelo-\"Z\"", "Ólafur Þórsson", "김민준",
                 "Αλέξανδρος Παπαδόπουλος", "Mixed, Comma Name",
                 "Quote'n\\Slash \"Both\""]
DEPARTMENTS = ["Customer Care", "Sales & Marketing", "R&D", "Billing",
               "Support – Tier 2", "Back Office"]
TITLES = ["Agent", "Senior Agent", "Team Lead", "Supervisor", "Manager",
          "Quality Analyst", "Workforce Planner"]
DIVISION_NAMES = ["Home", "Sales EU", "Support — Nordics"]
QUEUE_NAMES = ["Support – Tier 1", "Billing \"VIP\"", "Ventes/Français",
               "Sales Inbound", "Tech Support", "Callbacks"]
FLOW_NAMES = [("Main IVR", "INBOUNDCALL"), ("After Hours", "INBOUNDCALL"),
              ("SMS Triage", "INBOUNDSHORTMESSAGE")]
WRAPUP_NAMES = ["Resolved", "Follow-up", "Escalated", "Wrong number", "Sale"]
CUSTOMERS = ["Jane Doe", "John Smith", "Marie Curie", "Ödön Horváth",
             "李雷", "Sam O'Reilly", "Pat \"PJ\" Jones", "C:\\Users\\guest"]
NOTES = ["Customer happy.", "Called back re: invoice #42", "Needs \"manager\"",
         "Ticket C:\\tmp\\x", "Réclamation envoyée", "多次来电"]


def det_uuid(rng):
    """A deterministic version-4 UUID string from rng."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def ascii_slug(name):
    """ASCII-only lowercase slug of a name for emails ('' if nothing left)."""
    n = unicodedata.normalize("NFKD", name)
    out = []
    for ch in n.lower():
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            out.append(ch)
        elif ch in " -" and out and out[-1] != ".":
            out.append(".")
    return "".join(out).strip(".")


def phone(rng):
    """Deterministic E.164 North American number."""
    return "+1317555%04d" % rng.randint(0, 9999)


class Dataset:
    """The deterministic users and conversations served by the emulator."""

    def __init__(self, seed=42, scale=1):
        self.seed = seed
        self.scale = scale
        rng = random.Random(seed)
        self.divisions = [{"id": det_uuid(rng), "name": n} for n in DIVISION_NAMES]
        self.queues = [{"id": det_uuid(rng), "name": n} for n in QUEUE_NAMES]
        self.flows = [{"id": det_uuid(rng), "name": n, "type": t} for n, t in FLOW_NAMES]
        self.wrapups = [det_uuid(rng) for _ in WRAPUP_NAMES]
        self.users = self._gen_users(rng)
        self.users_by_id = {u["id"]: u for u in self.users}
        self.conversations = self._gen_conversations(rng)
        self.conv_by_id = {c["meta"]["id"]: c for c in self.conversations}
        self.added = 0                # conversations added by /__emu/mutate
        self.cache = ServeCache(self)

    def fork(self):
        """A copy that /__emu/mutate may change without touching self.

        The lists and indexes are copied; the user and conversation dicts
        in them are shared, so a mutation replaces (never edits) each one
        it changes.  A published dataset is thus never modified: readers
        that picked it up see one consistent version, and the pristine
        dataset stays intact for /__emu/reset."""
        ds = copy.copy(self)
        ds.users = list(self.users)
        ds.users_by_id = dict(self.users_by_id)
        ds.conversations = list(self.conversations)
        ds.conv_by_id = dict(self.conv_by_id)
        # rendered pages and hit lists describe self, not the fork that is
        # about to change: the fork starts with empty ones
        ds.cache = ServeCache(ds)
        return ds

    def replace_user(self, old, new):
        """Put user dict new where old was (self must be a fork)."""
        i = next(k for k, x in enumerate(self.users) if x is old)
        self.users[i] = new
        self.users_by_id[new["id"]] = new

    # -- users --------------------------------------------------------------

    def _gen_users(self, rng):
        """Generate ~600 users: 525 active, 45 inactive, 30 deleted."""
        n = 600
        states = ["active"] * 525 + ["inactive"] * 45 + ["deleted"] * 30
        rng.shuffle(states)
        # keep a few special names in every state
        states[0:12] = ["active"] * 9 + ["inactive", "deleted", "active"]
        names, seen = [], set()
        for i in range(n):
            if i < len(SPECIAL_NAMES):
                name = SPECIAL_NAMES[i]
            else:
                name = "%s %s" % (rng.choice(FIRST), rng.choice(LAST))
                if name in seen:
                    name = "%s %s" % (name, rng.choice("ABCDEFGHJKLMNPRSTVW") + ".")
            seen.add(name)
            names.append(name)
        users = []
        emails = set()
        for i in range(n):
            uid = det_uuid(rng)
            name = names[i]
            slug = ascii_slug(name) or "user"
            email = "%s@example.com" % slug
            k = 2
            while email in emails:
                email = "%s%d@example.com" % (slug, k)
                k += 1
            emails.add(email)
            div = self.divisions[0 if rng.random() < 0.6 else rng.randint(1, 2)]
            u = {
                "id": uid, "name": name, "state": states[i], "email": email,
                "division": div, "version": rng.randint(1, 40),
                "acdAutoAnswer": rng.random() < 0.3,
                "department": rng.choice(DEPARTMENTS) if rng.random() < 0.85 else None,
                "title": rng.choice(TITLES) if rng.random() < 0.8 else None,
                "jabber": "%s@genesys-emu.orgspan.com" % ("%024x" % rng.getrandbits(96)),
                "phone": phone(rng) if rng.random() < 0.6 else None,
                "work_phone": phone(rng) if rng.random() < 0.3 else None,
                "image": ("%032x" % rng.getrandbits(128)) if rng.random() < 0.5 else None,
                "preferredName": name.split(" ")[0] if rng.random() < 0.2 else None,
                "employerInfo": None, "manager": None, "dateLastLogin": None,
            }
            if rng.random() < 0.4:
                ei = {"officialName": name, "employeeId": "E%05d" % (i + 1),
                      "employeeType": rng.choice(["Full-time", "Part-time", "Contractor"])}
                if rng.random() < 0.8:
                    ei["dateHire"] = "%04d-%02d-%02d" % (rng.randint(2012, 2023),
                                                         rng.randint(1, 12), rng.randint(1, 28))
                u["employerInfo"] = ei
            if rng.random() < 0.85 and states[i] != "deleted" or (states[i] == "deleted" and rng.random() < 0.5):
                base = epoch_ms(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
                u["dateLastLogin"] = iso_ms(base + rng.randint(0, 80 * DAY_MS))
            users.append(u)
        managers = [u for u in users if u["state"] == "active"][:40]
        for u in users:
            if u["state"] != "deleted" and rng.random() < 0.8:
                m = rng.choice(managers)
                if m is not u:
                    u["manager"] = m["id"]
        return users

    def render_user(self, u, with_login=False):
        """A user as GET /api/v2/users renders it (nulls omitted)."""
        div = {"id": u["division"]["id"], "name": u["division"]["name"],
               "selfUri": "/api/v2/authorization/divisions/%s" % u["division"]["id"]}
        out = {"id": u["id"], "name": u["name"], "division": div}
        deleted = u["state"] == "deleted"
        if not deleted:
            out["chat"] = {"jabberId": u["jabber"]}
            if u["department"]:
                out["department"] = u["department"]
        out["email"] = u["email"]
        pci = []
        if not deleted:
            pci.append({"address": u["email"], "mediaType": "EMAIL", "type": "PRIMARY"})
            if u["phone"]:
                p = u["phone"]
                pci.append({"address": p, "display": "+1 %s-%s-%s" % (p[2:5], p[5:8], p[8:]),
                            "mediaType": "PHONE", "type": "PRIMARY"})
        out["primaryContactInfo"] = pci
        addrs = []
        if not deleted and u["work_phone"]:
            p = u["work_phone"]
            addrs.append({"address": p, "display": "+1 %s-%s-%s" % (p[2:5], p[5:8], p[8:]),
                          "mediaType": "PHONE", "type": "WORK"})
        out["addresses"] = addrs
        out["state"] = u["state"]
        if not deleted and u["title"]:
            out["title"] = u["title"]
        out["username"] = u.get("username") or u["email"]
        if not deleted and u["manager"]:
            out["manager"] = {"id": u["manager"], "selfUri": "/api/v2/users/%s" % u["manager"]}
        if not deleted and u["image"]:
            base = ("https://prod-euw1-inin-directory-service-profile.s3.amazonaws.com/%s/%s"
                    % (u["image"], u["id"]))
            out["images"] = [{"resolution": r, "imageUri": "%s/%s.jpg" % (base, r)}
                             for r in ("x96", "x200", "x300")]
        out["version"] = u["version"]
        out["acdAutoAnswer"] = u["acdAutoAnswer"]
        if not deleted and u["preferredName"]:
            out["preferredName"] = u["preferredName"]
        if not deleted and u["employerInfo"]:
            out["employerInfo"] = dict(u["employerInfo"])
        if with_login and u["dateLastLogin"]:
            out["dateLastLogin"] = u["dateLastLogin"]
        out["selfUri"] = "/api/v2/users/%s" % u["id"]
        return out

    # -- conversations ------------------------------------------------------

    def _gen_conversations(self, rng):
        """Generate 20-60 conversations per UTC day over 21 days."""
        base = epoch_ms(DATASET_START)
        agents = [u for u in self.users if u["state"] == "active"][:80]
        convs = []
        midnight_days = {0, 7, 14}
        lastms_days = {0, 5, 13, 20}
        for d in range(DATASET_DAYS):
            day0 = base + d * DAY_MS
            n = rng.randint(20, 60) * self.scale
            starts = sorted(day0 + rng.randint(60000, DAY_MS - 3 * 3600 * 1000) for _ in range(n))
            if d in midnight_days:
                starts[0] = day0
            if d in lastms_days:
                starts[-1] = day0 + DAY_MS - 1
            for k, st in enumerate(starts):
                in_progress = (d == DATASET_DAYS - 1 and k >= n - 5) or (d == 9 and k == n // 2)
                media = "email" if (d == 9 and k == n // 2) else None
                convs.append(self._gen_conversation(rng, st, agents, in_progress, media))
        convs.sort(key=lambda c: (c["meta"]["start"], c["meta"]["id"]))
        return convs

    def _gen_conversation(self, rng, start, agents, in_progress, media=None):
        """Build one conversation (wire dict with attributes + match metadata)."""
        cid = det_uuid(rng)
        media = media or rng.choices(["voice", "chat", "email", "message", "callback"],
                                     [55, 15, 10, 10, 10])[0]
        outbound = media == "voice" and rng.random() < 0.25
        queue = rng.choice(self.queues)
        agent = rng.choice(agents)
        cust_name = rng.choice(CUSTOMERS)
        ani = "tel:" + phone(rng)
        dnis = "tel:+18005550%03d" % rng.randint(100, 199)
        edge = det_uuid(rng)
        divs = sorted({rng.choice(self.divisions)["id"] for _ in range(rng.randint(1, 2))})
        parts = []

        def seg(s, e, stype, **kw):
            """A segment dict; e None = still open."""
            out = {}
            for k in ("conference", "disconnectType"):
                if k in kw:
                    out[k] = kw[k]
            if "q850" in kw:
                out["q850ResponseCodes"] = kw["q850"]
            if "queueId" in kw:
                out["queueId"] = kw["queueId"]
            if e is not None:
                out["segmentEnd"] = iso_ms(e)
            out["segmentStart"] = iso_ms(s)
            out["segmentType"] = stype
            if "sip" in kw:
                out["sipResponseCodes"] = kw["sip"]
            if "wrapUpCode" in kw:
                out["wrapUpCode"] = kw["wrapUpCode"]
            if "wrapUpNote" in kw:
                out["wrapUpNote"] = kw["wrapUpNote"]
            return out

        def metric(name, value, at):
            return {"emitDate": iso_ms(at), "name": name, "value": value}

        def session(direction, segments, metrics=None, **kw):
            s = {}
            keys = ["addressFrom", "addressOther", "addressSelf", "addressTo", "ani",
                    "callbackNumbers", "callbackUserName", "direction", "dnis", "edgeId",
                    "mediaType", "protocolCallId", "provider", "recording", "remote",
                    "requestedRoutings", "sessionDnis", "sessionId", "usedRouting",
                    "mediaEndpointStats", "flow"]
            kw["direction"] = direction
            kw["mediaType"] = media
            kw["sessionId"] = det_uuid(rng)
            for k in keys:
                if kw.get(k) is not None:
                    s[k] = kw[k]
            if metrics:
                s["metrics"] = metrics
            s["segments"] = segments
            return s

        addr_kw = {}
        if media == "voice":
            addr_kw = {"ani": ani, "dnis": dnis, "addressFrom": ani, "addressTo": dnis,
                       "edgeId": edge, "provider": "Edge"}
        elif media == "message":
            addr_kw = {"ani": ani, "dnis": dnis, "addressFrom": ani[4:], "addressTo": dnis[4:],
                       "provider": "PureCloud SMS"}
        elif media == "email":
            addr_kw = {"addressFrom": "%s@customer.example" % (ascii_slug(cust_name) or "guest"),
                       "addressTo": "support@genesys-emu.example", "provider": "PureCloud Email"}
        elif media == "chat":
            addr_kw = {"addressFrom": cust_name, "provider": "PureCloud Webchat v2"}
        else:
            addr_kw = {"ani": ani, "provider": "PureCloud Callback",
                       "callbackNumbers": [ani], "callbackUserName": cust_name}
        t = start
        abandoned = (not outbound and not in_progress and rng.random() < 0.08)
        answered = True
        has_ivr = media in ("voice", "message") and not outbound
        end = None
        mos = None
        cust_segs, cust_metrics = [], [metric("nConnected", 1, start)]

        def agent_participant(t_alert, t_answer, t_end, direction, dialing=False):
            """Agent participant with alert/dialing, interact, hold, wrapup."""
            segs, mets = [], []
            code = rng.choice(self.wrapups)
            if dialing:
                segs.append(seg(t_alert, t_answer, "dialing"))
            else:
                segs.append(seg(t_alert, t_answer, "alert", queueId=queue["id"]))
                mets.append(metric("nOffered", 1, t_alert))
                mets.append(metric("tAlert", t_answer - t_alert, t_answer))
                mets.append(metric("tAnswered", t_answer - start, t_answer))
            mets.append(metric("nConnected", 1, t_answer))
            held = 0
            kw = {} if outbound else {"queueId": queue["id"]}
            if t_end is None:
                segs.append(seg(t_answer, None, "interact", **kw))
            else:
                if media == "voice" and rng.random() < 0.25 and t_end - t_answer > 20000:
                    h0 = t_answer + (t_end - t_answer) // 3
                    held = rng.randint(3000, (t_end - t_answer) // 3)
                    segs.append(seg(t_answer, h0, "interact", **kw))
                    segs.append(seg(h0, h0 + held, "hold", **kw))
                    segs.append(seg(h0 + held, t_end, "interact", **kw))
                    mets.append(metric("tHeld", held, h0 + held))
                    mets.append(metric("tHeldComplete", held, t_end))
                else:
                    last = {"disconnectType": rng.choice(["client", "peer", "endpoint"])}
                    if media == "voice" and rng.random() < 0.6:
                        last["sip"] = [200]
                        last["q850"] = [16]
                    if rng.random() < 0.1:
                        last["conference"] = False
                    kw.update(last)
                    segs.append(seg(t_answer, t_end, "interact", **kw))
                if "disconnectType" not in segs[-1]:
                    segs[-1]["disconnectType"] = "client"
                acw = rng.randint(3000, 120000)
                wkw = {"wrapUpCode": code}
                if not outbound:
                    wkw["queueId"] = queue["id"]
                if rng.random() < 0.3:
                    wkw["wrapUpNote"] = rng.choice(NOTES)
                segs.append(seg(t_end, t_end + acw, "wrapup", **wkw))
                talk = t_end - t_answer - held
                mets.append(metric("tTalk", talk, t_end))
                mets.append(metric("tTalkComplete", talk, t_end))
                mets.append(metric("tAcw", acw, t_end + acw))
                mets.append(metric("tHandle", t_end - t_answer + acw, t_end + acw))
            skw = dict(addr_kw)
            skw.update({"addressSelf": "sip:%s@localhost" % agent["id"][:8],
                        "remote": cust_name, "requestedRoutings": ["Standard"],
                        "usedRouting": "Standard"})
            if media == "voice":
                skw["recording"] = rng.random() < 0.7
                skw["protocolCallId"] = det_uuid(rng)
            if outbound:
                skw.pop("requestedRoutings")
                skw.pop("usedRouting")
            return {"participantId": det_uuid(rng), "participantName": agent["name"],
                    "purpose": "agent", "userId": agent["id"],
                    "sessions": [session(direction, segs, mets, **skw)]}

        if outbound:
            ring = rng.randint(2000, 25000)
            answered = rng.random() > 0.15
            t_ans = start + ring
            t_end = None if in_progress else t_ans + rng.randint(20000, 900000)
            if answered:
                ag = agent_participant(start, t_ans, t_end, "outbound", dialing=True)
            else:
                t_end = t_ans
                ag = {"participantId": det_uuid(rng), "participantName": agent["name"],
                      "purpose": "agent", "userId": agent["id"],
                      "sessions": [session("outbound", [
                          seg(start, t_ans, "dialing", disconnectType="peer"),
                          seg(t_ans, t_ans + 5000, "wrapup", wrapUpCode=self.wrapups[3])],
                          [metric("tAcw", 5000, t_ans + 5000)],
                          ani=dnis, dnis=ani, addressFrom=dnis, addressTo=ani,
                          edgeId=edge, provider="Edge")]}
            parts.append(ag)
            ext_segs = ([seg(t_ans, t_end, "interact", disconnectType="endpoint", sip=[200])]
                        if answered else
                        [seg(start, t_ans, "alert", disconnectType="endpoint", sip=[486], q850=[17])])
            parts.append({"participantId": det_uuid(rng), "participantName": cust_name,
                          "purpose": "external",
                          "sessions": [session("outbound", ext_segs, None, ani=dnis, dnis=ani,
                                               addressFrom=dnis, addressTo=ani, edgeId=edge,
                                               provider="Edge", remote=cust_name)]})
            end = t_end
        else:
            t_ivr_end = start
            if has_ivr:
                flow = self.flows[2] if media == "message" else rng.choice(self.flows[:2])
                t_ivr_end = start + rng.randint(4000, 60000)
                fl = {"endingLanguage": "en-us", "entryReason": dnis if media == "voice" else dnis[4:],
                      "entryType": "dnis", "exitReason": "TRANSFER", "flowId": flow["id"],
                      "flowName": flow["name"], "flowType": flow["type"], "flowVersion": "3.0",
                      "startingLanguage": "en-us", "transferTargetAddress": queue["id"],
                      "transferTargetName": queue["name"], "transferType": "ACD"}
                ivr_kw = dict(addr_kw)
                ivr_kw["flow"] = fl
                parts.append({"participantId": det_uuid(rng), "participantName": flow["name"],
                              "purpose": "ivr",
                              "sessions": [session("inbound", [
                                  seg(start, t_ivr_end, "ivr", disconnectType="transfer")],
                                  [metric("tIvr", t_ivr_end - start, t_ivr_end)], **ivr_kw)],
                              "attributes": {"Language": "en-us",
                                             "IVR.Path": "Main>%s" % queue["name"]}})
            wait = rng.randint(1500, 240000)
            t_answer = t_ivr_end + wait
            acd_metrics = [metric("nOffered", 1, t_ivr_end)]
            if abandoned:
                acd_segs = [seg(t_ivr_end, t_answer, "interact", queueId=queue["id"],
                                disconnectType="peer")]
                acd_metrics.append(metric("tAbandon", wait, t_answer))
                end = t_answer
                answered = False
            else:
                acd_segs = [seg(t_ivr_end, t_answer, "interact", queueId=queue["id"],
                                disconnectType="transfer")]
                acd_metrics.append(metric("tAcd", wait, t_answer))
            acd_kw = dict(addr_kw)
            acd_kw.update({"requestedRoutings": ["Standard"], "usedRouting": "Standard"})
            acd = {"participantId": det_uuid(rng), "participantName": queue["name"],
                   "purpose": "acd",
                   "sessions": [session("inbound", acd_segs, acd_metrics, **acd_kw)]}
            if not abandoned:
                t_alert = max(t_ivr_end, t_answer - rng.randint(1200, 15000))
                long_media = media == "email"
                t_end = None if in_progress else t_answer + rng.randint(
                    20000, 7200000 if long_media else 1200000)
                ag = agent_participant(t_alert, t_answer, t_end, "inbound")
                end = t_end
            parts.append(acd)
            if not abandoned:
                parts.append(ag)
        # customer participant first
        ckw = dict(addr_kw)
        ckw["remote"] = cust_name
        if media == "voice":
            ckw["recording"] = False
        cstart = start
        cust_segs = [seg(cstart, end, "interact" if answered or not outbound else "alert",
                         **({"disconnectType": "endpoint" if answered else "peer"}
                            if end is not None else {}))]
        if media == "voice" and end is not None and rng.random() < 0.5:
            cust_segs[0]["sipResponseCodes"] = [200]
        if media == "voice" and rng.random() < 0.85:
            mos = round(rng.uniform(3.1, 4.95), 6)
            ckw["mediaEndpointStats"] = [{
                "codecs": ["audio/opus"], "eventTime": iso_ms(end if end is not None else start + 1000),
                "maxLatencyMs": rng.randint(20, 300), "minMos": mos,
                "minRFactor": round(mos * 19.0 + rng.uniform(0, 3), 6),
                "receivedPackets": rng.randint(500, 90000)}]
        if not outbound:
            cust = {"participantId": det_uuid(rng), "participantName": cust_name,
                    "purpose": "customer",
                    "sessions": [session("inbound", cust_segs, cust_metrics, **ckw)]}
            if rng.random() < 0.5:
                cust["attributes"] = {"customerTier": rng.choice(["gold", "silver", "bronze"]),
                                      "note \"quoted\"": "it's a \\ test",
                                      "Ünïcödé": "✓"}
            parts.insert(0, cust)
        conv = {}
        if end is not None:
            conv["conversationEnd"] = iso_ms(end)
        conv["conversationId"] = cid
        conv["conversationInitiator"] = "agent" if outbound else "customer"
        conv["conversationStart"] = iso_ms(start)
        conv["customerParticipation"] = bool(answered or not outbound)
        conv["divisionIds"] = divs
        ext = None
        if rng.random() < 0.35:
            ext = rng.choice(["EXT-%05d" % rng.randint(0, 99999), "crm/%d" % rng.randint(1, 999),
                              "tag'with\"quotes\""])
            conv["externalTag"] = ext
        if mos is not None:
            conv["mediaStatsMinConversationMos"] = mos
            conv["mediaStatsMinConversationRFactor"] = ckw["mediaEndpointStats"][0]["minRFactor"]
        conv["originatingDirection"] = "outbound" if outbound else "inbound"
        conv["participants"] = parts
        return make_entry(conv, media)


def iter_segments(conv):
    """Yield (participant, session, segment) for every segment of a conversation."""
    for p in conv.get("participants", []):
        for s in p.get("sessions", []):
            for g in s.get("segments", []):
                yield p, s, g


def make_entry(conv, media):
    """A dataset entry {meta, full, plain} from a wire conversation with attributes.

    "plain" (served by the sync query and lookups) is "full" without
    participant attributes; "meta" holds the instants the query matching
    and ordering use.  Every change to a conversation rebuilds its entry
    here so the three never disagree.

    "plain" shares everything below the participants with "full" (a deep
    copy took 60% of the dataset generation time and half its memory).
    That is safe because nothing edits an entry once built: mutations
    deep-copy "full", change the copy and build a new entry.  The same
    holds for the serialized JSON that entry_json() keeps in the entry."""
    seg_starts, seg_ends, open_seg = [], [], False
    for _, _, g in iter_segments(conv):
        seg_starts.append(parse_iso(g["segmentStart"]))
        if "segmentEnd" in g:
            seg_ends.append(parse_iso(g["segmentEnd"]))
        else:
            open_seg = True
    plain = dict(conv)
    plain["participants"] = [{k: v for k, v in p.items() if k != "attributes"}
                             for p in conv["participants"]]
    end = conv.get("conversationEnd")
    meta = {"id": conv["conversationId"], "start": parse_iso(conv["conversationStart"]),
            "end": None if end is None else parse_iso(end), "seg_start": min(seg_starts),
            "seg_end": None if open_seg or not seg_ends else max(seg_ends), "media": media}
    return {"meta": meta, "full": conv, "plain": plain}


# ---------------------------------------------------------------------------
# Dataset mutations (POST /__emu/mutate): the org changing under a sync
# ---------------------------------------------------------------------------

class MutationError(Exception):
    """Bad input for /__emu/mutate; answered with 400 {"error": message}."""


MEDIA_TYPES = ("voice", "chat", "email", "message", "callback")
WRAPUP_MS = 30000                     # length of a wrapup segment a mutation appends
USER_STATES = ("active", "inactive", "deleted")
# user fields update_user may change -> kind of value accepted ("?" = may be null)
USER_FIELDS = {"name": "str", "email": "str", "jabber": "str", "state": "state",
               "division": "division", "acdAutoAnswer": "bool", "employerInfo": "dict?",
               "department": "str?", "title": "str?", "phone": "str?", "work_phone": "str?",
               "image": "str?", "preferredName": "str?", "manager": "str?",
               "dateLastLogin": "time?"}


def metric_dict(name, value, at):
    """A session metric as the API renders it."""
    return {"emitDate": iso_ms(at), "name": name, "value": value}


def check_keys(body, allowed):
    """Reject keys an action does not know (a typo must not pass silently)."""
    extra = sorted(set(body) - set(allowed) - {"action"})
    if extra:
        raise MutationError("unknown keys for action %s: %s" % (body["action"], ", ".join(extra)))


def req_str(body, key):
    """A required non-empty string member of the body."""
    v = body.get(key)
    if not isinstance(v, str) or not v:
        raise MutationError("%s must be a non-empty string" % key)
    return v


def req_time(body, key):
    """A required ISO-8601 instant member of the body -> epoch ms."""
    v = body.get(key)
    try:
        return parse_iso(v)
    except (ValueError, TypeError, AttributeError):
        raise MutationError("%s must be an ISO-8601 date-time, not %s" % (key, json.dumps(v)))


def opt_bool(body, key, default):
    """An optional boolean member of the body."""
    v = body.get(key, default)
    if not isinstance(v, bool):
        raise MutationError("%s must be true or false" % key)
    return v


def take_conversation(ds, body):
    """(entry, deep copy of its "full" conversation) for body.conversationId."""
    cid = req_str(body, "conversationId")
    entry = ds.conv_by_id.get(cid)
    if entry is None:
        raise MutationError("unknown conversationId %s" % cid)
    return entry, copy.deepcopy(entry["full"])


def put_conversation(ds, old, conv):
    """Replace entry old by the changed conversation (its start is unchanged).

    Keys are put back in the generator's order (alphabetical, segments
    last in a session) so the JSON reads as if generated that way."""
    for p in conv["participants"]:
        for s in p["sessions"]:
            segs = [dict(sorted(g.items())) for g in s.pop("segments")]
            s["segments"] = segs
    conv = dict(sorted(conv.items()))
    new = make_entry(conv, old["meta"]["media"])
    i = next(k for k, c in enumerate(ds.conversations) if c is old)
    ds.conversations[i] = new
    ds.conv_by_id[new["meta"]["id"]] = new
    return new


def append_wrapup(session, t0, code):
    """Append a closed wrapup segment t0 .. t0+30 s and its tAcw/tHandle metrics."""
    segs = session["segments"]
    g = {"segmentStart": iso_ms(t0), "segmentEnd": iso_ms(t0 + WRAPUP_MS),
         "segmentType": "wrapup", "wrapUpCode": code}
    if "queueId" in segs[-1]:
        g["queueId"] = segs[-1]["queueId"]
    segs.append(g)
    mets = session.setdefault("metrics", [])
    mets.append(metric_dict("tAcw", WRAPUP_MS, t0 + WRAPUP_MS))
    answered = [parse_iso(x["segmentStart"]) for x in segs if x["segmentType"] == "interact"]
    if answered:
        mets.append(metric_dict("tHandle", t0 - answered[0] + WRAPUP_MS, t0 + WRAPUP_MS))
    return g


def mutate_wrapup(ds, body):
    """A wrap-up code arrives late or changes.

    Sets wrapUpCode (and wrapUpNote when given; null removes it) on the
    conversation's last wrapup segment; without one, appends a wrapup
    segment to the last session of an agent whose last segment is closed."""
    check_keys(body, ("conversationId", "wrapUpCode", "wrapUpNote"))
    old, conv = take_conversation(ds, body)
    code = req_str(body, "wrapUpCode")
    note = body.get("wrapUpNote")
    if note is not None and not isinstance(note, str):
        raise MutationError("wrapUpNote must be a string or null")
    wraps = [g for _, _, g in iter_segments(conv) if g["segmentType"] == "wrapup"]
    if wraps:
        # the latest by segmentStart; on a tie the later one in the document
        g = max(enumerate(wraps), key=lambda kg: (parse_iso(kg[1]["segmentStart"]), kg[0]))[1]
    else:
        agents = [p for p in conv["participants"] if p["purpose"] == "agent"
                  and p["sessions"] and "segmentEnd" in p["sessions"][-1]["segments"][-1]]
        if not agents:
            raise MutationError("conversation %s has no wrapup segment and no agent whose last "
                                "segment is closed" % conv["conversationId"])
        s = agents[-1]["sessions"][-1]
        g = append_wrapup(s, parse_iso(s["segments"][-1]["segmentEnd"]), code)
    g["wrapUpCode"] = code
    if "wrapUpNote" in body:
        if note is None:
            g.pop("wrapUpNote", None)
        else:
            g["wrapUpNote"] = note
    put_conversation(ds, old, conv)
    return {"ok": True, "conversationId": conv["conversationId"]}


def mutate_end(ds, body):
    """An in-progress conversation ends at body.at.

    Closes every open segment, sets conversationEnd and adds the agents'
    talk metrics; unless "wrapup" is false each agent also gets a closed
    wrapup segment (at .. at+30 s) with a wrap-up code (body.wrapUpCode,
    else one of the dataset's codes picked from the conversation id)."""
    check_keys(body, ("conversationId", "at", "wrapup", "wrapUpCode"))
    old, conv = take_conversation(ds, body)
    cid = conv["conversationId"]
    at = req_time(body, "at")
    with_wrapup = opt_bool(body, "wrapup", True)
    code = body.get("wrapUpCode")
    if code is not None:
        code = req_str(body, "wrapUpCode")
    if old["meta"]["end"] is not None:
        raise MutationError("conversation %s is not in progress" % cid)
    latest = max(parse_iso(g["segmentStart"]) for _, _, g in iter_segments(conv))
    if at <= latest:
        raise MutationError("at must be after every segmentStart of conversation %s (the latest "
                            "is %s)" % (cid, iso_ms(latest)))
    code = code or random.Random("end:%s" % cid).choice(ds.wrapups)
    out = {"ok": True, "conversationId": cid}
    for p in conv["participants"]:
        closed = False
        for s in p["sessions"]:
            for g in s["segments"]:
                if "segmentEnd" not in g:
                    g["segmentEnd"] = iso_ms(at)
                    g.setdefault("disconnectType",
                                 "client" if p["purpose"] == "agent" else "endpoint")
                    closed = True
        if not closed or p["purpose"] != "agent":
            continue
        s = p["sessions"][-1]
        talk = sum(parse_iso(g["segmentEnd"]) - parse_iso(g["segmentStart"])
                   for g in s["segments"] if g["segmentType"] == "interact")
        s.setdefault("metrics", []).extend([metric_dict("tTalk", talk, at),
                                            metric_dict("tTalkComplete", talk, at)])
        if with_wrapup:
            append_wrapup(s, at, code)
            out["wrapUpCode"] = code
    conv["conversationEnd"] = iso_ms(at)
    put_conversation(ds, old, conv)
    return out


def mutate_add(ds, body):
    """A new conversation appears at body.start (possibly in an old interval).

    Generated like the dataset's own (optionally of body.media, or still
    in progress with inProgress: true) from a random.Random seeded by the
    dataset seed, the start instant and the number of adds so far, so the
    same sequence of mutations always yields the same conversations."""
    check_keys(body, ("start", "media", "inProgress"))
    start = req_time(body, "start")
    media = body.get("media")
    if media is not None and media not in MEDIA_TYPES:
        raise MutationError("media must be one of %s" % ", ".join(MEDIA_TYPES))
    in_progress = opt_bool(body, "inProgress", False)
    agents = [u for u in ds.users if u["state"] == "active"][:80]
    if not agents:
        raise MutationError("there is no active user to take the conversation")
    ds.added += 1
    rng = random.Random("add:%d:%d:%d" % (ds.seed, start, ds.added))
    entry = ds._gen_conversation(rng, start, agents, in_progress, media)
    cid = entry["meta"]["id"]
    if cid in ds.conv_by_id:
        raise MutationError("generated conversation id %s already exists" % cid)
    keys = [(c["meta"]["start"], c["meta"]["id"]) for c in ds.conversations]
    ds.conversations.insert(bisect.bisect_left(keys, (start, cid)), entry)
    ds.conv_by_id[cid] = entry
    return {"ok": True, "conversationId": cid}


def take_user(ds, body):
    """The stored user dict for body.id."""
    uid = req_str(body, "id")
    u = ds.users_by_id.get(uid)
    if u is None:
        raise MutationError("unknown user id %s" % uid)
    return u


def mutate_remove_user(ds, body):
    """A user disappears from /api/v2/users (every state) and by-id requests."""
    check_keys(body, ("id",))
    u = take_user(ds, body)
    ds.users = [x for x in ds.users if x is not u]
    del ds.users_by_id[u["id"]]
    return {"ok": True, "id": u["id"]}


USER_FIELD_KINDS = {
    "str": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "dict": (lambda v: isinstance(v, dict), "an object"),
    "state": (lambda v: isinstance(v, str) and v in USER_STATES,
              "one of " + ", ".join(USER_STATES)),
    "division": (lambda v: isinstance(v, dict) and isinstance(v.get("id"), str)
                 and isinstance(v.get("name"), str), "an object with id and name"),
    "time": (lambda v: isinstance(v, str), "an ISO-8601 date-time"),
}


def check_user_field(key, value):
    """Validate one update_user field -> the value to store."""
    kind = USER_FIELDS.get(key)
    if kind is None:
        raise MutationError("%s is not a user field update_user can change" % key)
    nullable = kind.endswith("?")
    if nullable and value is None:
        return None
    test, want = USER_FIELD_KINDS[kind.rstrip("?")]
    ok = test(value)
    if ok and kind.startswith("time"):
        try:
            value = iso_ms(parse_iso(value))
        except ValueError:
            ok = False
    if not ok:
        raise MutationError("%s must be %s%s" % (key, want, " or null" if nullable else ""))
    return copy.deepcopy(value)


def mutate_update_user(ds, body):
    """Change some fields of a user and bump its version by 1."""
    check_keys(body, ("id", "fields"))
    u = take_user(ds, body)
    fields = body.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise MutationError("fields must be a non-empty object")
    new = copy.deepcopy(u)
    for k in sorted(fields):
        if k not in u:
            raise MutationError("%s is not a user field" % k)
        new[k] = check_user_field(k, fields[k])
    new["version"] += 1
    ds.replace_user(u, new)
    return {"ok": True, "id": new["id"], "version": new["version"]}


MUTATIONS = {"wrapup": mutate_wrapup, "end": mutate_end, "add": mutate_add,
             "remove_user": mutate_remove_user, "update_user": mutate_update_user}


def apply_mutation(ds, body):
    """Apply one /__emu/mutate action to ds (a fork) -> the answer dict."""
    if not isinstance(body, dict):
        raise MutationError("the body must be a JSON object with an action")
    action = body.get("action")
    fn = MUTATIONS.get(action) if isinstance(action, str) else None
    if fn is None:
        raise MutationError("unknown action %s; expected one of %s"
                            % (json.dumps(action), ", ".join(MUTATIONS)))
    return fn(ds, body)


# ---------------------------------------------------------------------------
# User updates: PATCH /api/v2/users/{userId} (body UpdateUser)
# ---------------------------------------------------------------------------

# UpdateUser fields (SDK typings) the emulator stores -> kind of value.
# "?" = null (or "") clears the field.
PATCH_FIELDS = {"name": "str", "email": "str", "username": "str", "department": "str?",
                "title": "str?", "preferredName": "str?", "manager": "str?",
                "acdAutoAnswer": "bool", "employerInfo": "employerInfo?", "state": "state"}
# UpdateUser fields the API takes but the emulator does not emulate.
PATCH_UNEMULATED = ("chat", "addresses", "images", "profileSkills", "locations", "groups",
                    "certifications", "biography")
# Read-only: set by the platform (UpdateUser id/selfUri/primaryContactInfo have no
# setter in the SDKs) or only on User, never on UpdateUser.
PATCH_READ_ONLY = ("id", "selfUri", "primaryContactInfo", "division", "dateLastLogin",
                   "routingStatus", "presence", "integrationPresence", "conversationSummary",
                   "outOfOffice", "geolocation", "station", "authorization", "team",
                   "workPlanBidRanks", "skills", "languages", "languagePreference",
                   "lastTokenIssued", "dateWelcomeSent")
EMPLOYER_INFO_KEYS = ("officialName", "employeeId", "employeeType", "dateHire")


def parse_user_patch(body):
    """Validate an UpdateUser body -> (version, {stored field: value}).

    Raises QueryError (400) naming the first offending field; the checks
    here need no dataset (the caller checks the user, the manager and the
    version under the state lock)."""
    if not isinstance(body, dict):
        raise QueryError("The request body must be a JSON object (UpdateUser)")
    for k in sorted(body):
        if k == "version" or k in PATCH_FIELDS:
            continue
        if k in PATCH_READ_ONLY:
            raise QueryError("%s is read-only and cannot be changed with PATCH /api/v2/users/"
                             "{userId}" % k, "bad.request")
        if k in PATCH_UNEMULATED:
            raise QueryError("%s is an UpdateUser field the emulator does not emulate" % k)
        raise QueryError("Unrecognized field %s: not a field of UpdateUser" % json.dumps(k))
    if "version" not in body:
        raise QueryError("version: may not be null (the current version of the user is "
                         "required)")
    version = body["version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise QueryError("version must be an integer, not %s" % json.dumps(version))
    changes = {}
    for k in sorted(set(body) - {"version"}):
        v = body[k]
        kind = PATCH_FIELDS[k]
        nullable = kind.endswith("?")
        kind = kind.rstrip("?")
        if nullable and (v is None or v == ""):
            changes[k] = None
        elif kind == "str":
            if not isinstance(v, str) or not v:
                raise QueryError("%s must be a non-empty string%s" % (k, ", or null" if nullable
                                                                      else ""))
            changes[k] = v
        elif kind == "bool":
            if not isinstance(v, bool):
                raise QueryError("%s must be true or false" % k)
            changes[k] = v
        elif kind == "state":
            if v == "deleted":
                raise QueryError("state cannot be set to deleted with PATCH; use "
                                 "DELETE /api/v2/users/{userId}")
            if v not in ("active", "inactive"):
                raise QueryError("state must be active or inactive", "invalid.value")
            changes[k] = v
        elif kind == "employerInfo":
            if not isinstance(v, dict):
                raise QueryError("employerInfo must be an object or null")
            ei = {}
            for ek in sorted(v):
                if ek not in EMPLOYER_INFO_KEYS:
                    raise QueryError("Unrecognized field employerInfo.%s" % ek)
                ev = v[ek]
                if ev is None or ev == "":
                    continue
                if not isinstance(ev, str):
                    raise QueryError("employerInfo.%s must be a string or null" % ek)
                if ek == "dateHire":
                    try:
                        dt.date.fromisoformat(ev)
                    except ValueError:
                        raise QueryError("employerInfo.dateHire must be a date YYYY-MM-DD",
                                         "invalid.date")
                ei[ek] = ev
            # keys in the generator's order
            changes[k] = {ek: ei[ek] for ek in EMPLOYER_INFO_KEYS if ek in ei} or None
    if "state" in changes and len(changes) > 1:
        raise QueryError("state must be the only field changed when it is specified (with "
                         "version)")
    return version, changes


def version_conflict(supplied, current):
    """The 409 answer to a stale version (code and wording: see the README)."""
    return QueryError("The version supplied (%d) does not match the current version (%d)"
                      % (supplied, current), "general.conflict", 409)


def patch_log_body(raw):
    """What the request log keeps of a PATCH user body: field names and version."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    return {"fields": sorted(k for k in body if k != "version"), "version": body.get("version")}


# ---------------------------------------------------------------------------
# Query filters
# ---------------------------------------------------------------------------

class QueryError(Exception):
    """An error answer (400 unless told) with its platform error code."""

    def __init__(self, message, code="bad.request", status=400):
        super().__init__(message)
        self.code = code
        self.status = status


CONV_DIMS = {"conversationId", "divisionId", "externalTag", "originatingDirection",
             "conversationEnd", "conversationStart", "conversationInitiator",
             "customerParticipation", "mediaStatsMinConversationMos",
             "mediaStatsMinConversationRFactor"}
SESSION_DIMS = {"mediaType", "direction", "ani", "dnis", "sessionDnis", "addressFrom",
                "addressTo", "addressSelf", "provider", "remote", "sessionId", "edgeId",
                "usedRouting", "requestedRoutings", "protocolCallId", "recording"}
PART_DIMS = {"purpose", "userId", "participantName", "participantId", "externalContactId",
             "externalOrganizationId", "teamId"}
SEG_DIMS = {"queueId", "segmentType", "wrapUpCode", "wrapUpNote", "disconnectType",
            "conference", "segmentStart", "segmentEnd"}
FLOW_DIMS = {"flowId": "flowId", "flowName": "flowName", "flowType": "flowType"}


def _as_values(v):
    """Normalise a field value to a list of comparable strings."""
    if v is None:
        return []
    if isinstance(v, list):
        return [_as_values(x)[0] for x in v if x is not None]
    if isinstance(v, bool):
        return ["true" if v else "false"]
    return [str(v)]


def conv_dim(conv, dim):
    """Values of a conversation-level dimension."""
    if dim == "divisionId":
        return conv.get("divisionIds", [])
    return _as_values(conv.get(dim))


def seg_dim(ctx, dim):
    """Values of a segment-level dimension for (participant, session, segment)."""
    p, s, g = ctx
    if dim in SESSION_DIMS:
        return _as_values(s.get(dim))
    if dim in PART_DIMS:
        return _as_values(p.get(dim))
    if dim in SEG_DIMS:
        return _as_values(g.get(dim))
    if dim in FLOW_DIMS:
        return _as_values((s.get("flow") or {}).get(FLOW_DIMS[dim]))
    return []


def validate_filter(f, dims, what):
    """Check a filter's structure and dimension names; raise QueryError."""
    if not isinstance(f, dict):
        raise QueryError("%s must be objects" % what)
    if str(f.get("type", "")).lower() not in ("and", "or"):
        raise QueryError("%s type must be 'and' or 'or'" % what)
    preds = list(f.get("predicates") or [])
    for c in f.get("clauses") or []:
        if not isinstance(c, dict) or str(c.get("type", "")).lower() not in ("and", "or"):
            raise QueryError("%s clause type must be 'and' or 'or'" % what)
        preds.extend(c.get("predicates") or [])
    if not preds:
        raise QueryError("%s must contain at least one predicate or clause" % what)
    for p in preds:
        if not isinstance(p, dict):
            raise QueryError("predicates must be objects")
        if p.get("type", "dimension") != "dimension":
            raise QueryError("Predicate type '%s' is not supported by the emulator" % p.get("type"))
        if p.get("dimension") not in dims:
            raise QueryError("Invalid dimension '%s' for %s" % (p.get("dimension"), what),
                             "invalid.value")
        op = p.get("operator", "matches")
        if op not in ("matches", "exists", "notExists"):
            raise QueryError("Invalid operator '%s'" % op, "invalid.value")
        if op == "matches" and p.get("value") is None:
            raise QueryError("A 'matches' predicate requires a value")


def eval_filter(f, getter):
    """Evaluate a filter against one subject; getter(dim) -> list of strings."""
    def pred(p):
        vals = getter(p["dimension"])
        op = p.get("operator", "matches")
        if op == "exists":
            return bool(vals)
        if op == "notExists":
            return not vals
        return str(p.get("value")) in vals

    def combine(kind, results):
        return all(results) if kind.lower() == "and" else any(results)

    items = [pred(p) for p in f.get("predicates") or []]
    for c in f.get("clauses") or []:
        items.append(combine(c["type"], [pred(p) for p in c.get("predicates") or []]))
    return combine(f["type"], items)


def conversation_matches(conv, conv_filters, seg_filters):
    """True when the conversation satisfies every filter."""
    for f in conv_filters:
        if not eval_filter(f, lambda d: conv_dim(conv, d)):
            return False
    for f in seg_filters:
        hit = False
        for p in conv.get("participants", []):
            for s in p.get("sessions", []):
                for g in s.get("segments", []):
                    if eval_filter(f, lambda d: seg_dim((p, s, g), d)):
                        hit = True
                        break
                if hit:
                    break
            if hit:
                break
        if not hit:
            return False
    return True


def parse_query_common(body):
    """Validate shared parts of a details query -> (start, end, cf, sf, order, orderBy)."""
    if not isinstance(body, dict):
        raise QueryError("Request body must be a JSON object")
    if "interval" not in body or body.get("interval") in (None, ""):
        raise QueryError("interval: may not be null", "bad.request")
    try:
        start, end = parse_interval(body["interval"])
    except (ValueError, TypeError) as e:
        raise QueryError("Invalid interval '%s': %s" % (body.get("interval"), e), "invalid.date")
    if start >= end:
        raise QueryError("Interval start must be before interval end", "invalid.date")
    cf = body.get("conversationFilters") or []
    sf = body.get("segmentFilters") or []
    if not isinstance(cf, list) or not isinstance(sf, list):
        raise QueryError("conversationFilters and segmentFilters must be arrays")
    for f in cf:
        validate_filter(f, CONV_DIMS, "conversationFilters")
    for f in sf:
        validate_filter(f, SESSION_DIMS | PART_DIMS | SEG_DIMS | set(FLOW_DIMS), "segmentFilters")
    order = body.get("order", "asc") or "asc"
    if order not in ("asc", "desc", "unordered"):
        raise QueryError("Invalid order '%s'" % order, "invalid.value")
    order_by = body.get("orderBy", "conversationStart") or "conversationStart"
    if order_by not in ("conversationStart", "conversationEnd", "segmentStart", "segmentEnd"):
        raise QueryError("Invalid orderBy '%s'" % order_by, "invalid.value")
    return start, end, cf, sf, order, order_by


def parse_details_query(body, max_results):
    """Validate a sync details query -> {"match": (first_day, last_day, cf,
    sf, order, orderBy) for ServeCache.query_hits, "page_size", "page_number"}.

    Raises QueryError as the API answers it."""
    start, end, cf, sf, order, order_by = parse_query_common(body)
    days = (end - start) / DAY_MS
    limit_days = 31 if (cf or sf) else 7
    if days > limit_days:
        raise QueryError("Interval length of %.2f days exceeds the maximum of %d days%s. "
                         "Use a smaller interval." % (days, limit_days,
                                                      "" if (cf or sf) else
                                                      " for queries without filters"))
    paging = body.get("paging") or {}
    if not isinstance(paging, dict):
        raise QueryError("paging must be an object")
    try:
        page_size = int(paging.get("pageSize", 25) if paging.get("pageSize") is not None else 25)
        page_number = int(paging.get("pageNumber", 1) if paging.get("pageNumber") is not None else 1)
    except (TypeError, ValueError):
        raise QueryError("paging values must be integers", "invalid.value")
    if not 1 <= page_size <= 100:
        raise QueryError("paging.pageSize must be between 1 and 100", "invalid.value")
    if page_number < 1:
        raise QueryError("paging.pageNumber must be at least 1", "invalid.value")
    if page_number * page_size > max_results:
        raise QueryError("Pagination may not exceed %d results" % max_results)
    # day-touch matching: start day D with D_start < end and D_end > start
    first_day = start // DAY_MS
    last_day = (end - 1) // DAY_MS
    return {"match": (first_day, last_day, cf, sf, order, order_by),
            "page_size": page_size, "page_number": page_number}


def details_offset(page_number, page_size, page_shift):
    """The first row of a sync query page; pages after the first start
    page_shift rows early (the setting page_shift)."""
    offset = (page_number - 1) * page_size
    if page_number > 1:
        offset = max(0, offset - page_shift)
    return offset


def sort_conversations(items, order, order_by):
    """Sort dataset entries; open ends sort as +infinity; tie-break on id."""
    inf = float("inf")
    key_field = {"conversationStart": "start", "conversationEnd": "end",
                 "segmentStart": "seg_start", "segmentEnd": "seg_end"}[order_by]

    def key(c):
        v = c["meta"][key_field]
        return (inf if v is None else v, c["meta"]["id"])
    return sorted(items, key=key, reverse=(order == "desc"))


# ---------------------------------------------------------------------------
# Pre-rendered pages: serving fast enough not to be the benchmark bottleneck
# ---------------------------------------------------------------------------
#
# A published Dataset is never modified (mutations publish forks), so
# everything derived from one version can be kept with it and needs no
# invalidation: /__emu/mutate and user PATCHes publish a fork with an empty
# ServeCache, and /__emu/reset switches back to the pristine dataset, whose
# cache is still right.  Settings that change a body (page_shift,
# availability_date) are part of the cache keys; the ones that only decide
# whether a request is answered at all (max_results, rate_limit, tokens)
# are checked before the cache is consulted, per request.  A request that a
# fault rule fires on never reads or fills the page cache.

def dumps_bytes(obj):
    """The emulator's one JSON encoding (compact, UTF-8, not ASCII-escaped)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_json(entry, which):
    """The serialized "plain" or "full" conversation of a dataset entry.

    Kept in the entry itself: entries are never edited (make_entry), so
    the bytes stay right for every dataset version sharing the entry.  Two
    threads may both compute it; they store equal bytes."""
    key = which + "_json"
    raw = entry.get(key)
    if raw is None:
        raw = dumps_bytes(entry[which])
        entry[key] = raw
    return raw


def canonical_json(value):
    """A hashable text for filters: equal JSON gives equal text, whatever
    the key order the client sent."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def details_page_body(hits, offset, page_size):
    """A sync query page, byte for byte what dumps_bytes() makes of
    {"conversations": [...], "totalHits": n} ("conversations" absent when
    the page is empty), built from the conversations' cached JSON."""
    page = hits[offset: offset + page_size]
    if not page:
        return b'{"totalHits":%d}' % len(hits)
    return (b'{"conversations":[' + b",".join(entry_json(c, "plain") for c in page)
            + b'],"totalHits":%d}' % len(hits))


def job_page_body(ds, ids, cursor, availability):
    """An async job results page, as dumps_bytes() renders {conversations,
    cursor?, dataAvailabilityDate}; rows read from ds (a job's ids are fixed
    at submission, its rows are not)."""
    parts = [b'{"conversations":[',
             b",".join(entry_json(ds.conv_by_id[i], "full") for i in ids if i in ds.conv_by_id),
             b"]"]
    if cursor is not None:
        parts.append(b',"cursor":' + dumps_bytes(cursor))
    parts.append(b',"dataAvailabilityDate":' + dumps_bytes(availability) + b"}")
    return b"".join(parts)


class RenderedPage:
    """One cached answer body: identity bytes, and gzip once asked for."""
    __slots__ = ("identity", "gzip")

    def __init__(self, identity):
        self.identity = identity
        self.gzip = None

    def size(self):
        return len(self.identity) + (len(self.gzip) if self.gzip is not None else 0)


class ServeCache:
    """What one Dataset version serves repeatedly, computed on first use:
    the conversations grouped by UTC start day, the hit list of each sync
    query and the rendered page bodies (identity and gzip)."""

    def __init__(self, ds):
        self.ds = ds
        self.lock = threading.Lock()
        self.days = None              # UTC day number -> entries in (start, id) order
        self.hits = OrderedDict()     # query key -> sorted entries (LRU)
        self.pages = OrderedDict()    # page key -> RenderedPage (LRU)
        self.page_bytes = 0
        self.evictions = 0

    def by_day(self):
        """The day index; ds.conversations is kept in (start, id) order, so
        each day's list is too."""
        days = self.days
        if days is None:
            days = {}
            for c in self.ds.conversations:
                days.setdefault(c["meta"]["start"] // DAY_MS, []).append(c)
            self.days = days
        return days

    def query_hits(self, first_day, last_day, cf, sf, order, order_by):
        """(key, hits): the sorted entries a sync query matches (day-touch
        matching over first_day..last_day, then the filters), reading only
        the days the interval touches.  The key names the query for the
        page cache: the days, not the exact instants, decide the hits."""
        order = "desc" if order == "desc" else "asc"     # unordered behaves as asc
        key = (first_day, last_day, canonical_json(cf), canonical_json(sf), order, order_by)
        with self.lock:
            hits = self.hits.get(key)
            if hits is not None:
                self.hits.move_to_end(key)
                return key, hits
        days = self.by_day()
        hits = []
        for d in range(first_day, last_day + 1):
            for c in days.get(d, ()):
                if not (cf or sf) or conversation_matches(c["plain"], cf, sf):
                    hits.append(c)
        hits = sort_conversations(hits, order, order_by)
        with self.lock:
            self.hits[key] = hits
            while len(self.hits) > QUERY_CACHE_ENTRIES:
                self.hits.popitem(last=False)
        return key, hits

    def page(self, key, render, want_gzip):
        """(RenderedPage, hit): the page for key, rendering (render() ->
        identity bytes) and compressing only what is not cached yet.  hit
        says whether the encoding asked for was already there.  Rendering
        happens outside the lock; two threads missing the same page both
        render it and one copy is kept."""
        with self.lock:
            rp = self.pages.get(key)
            if rp is not None:
                self.pages.move_to_end(key)
                if rp.gzip is not None or not want_gzip:
                    return rp, True
        if rp is None:
            rp = RenderedPage(render())
        gz = None
        if want_gzip:
            gz = gzip.compress(rp.identity, compresslevel=GZIP_LEVEL, mtime=0)
        with self.lock:
            kept = self.pages.get(key)
            if kept is None:
                kept = rp
                self.pages[key] = rp
                self.page_bytes += len(rp.identity)
            if gz is not None and kept.gzip is None:
                kept.gzip = gz
                self.page_bytes += len(gz)
            while self.page_bytes > PAGE_CACHE_BYTES and len(self.pages) > 1:
                _, old = self.pages.popitem(last=False)
                self.page_bytes -= old.size()
                self.evictions += 1
        return kept, False


# ---------------------------------------------------------------------------
# Shared mutable state (tokens, faults, settings, log, jobs)
# ---------------------------------------------------------------------------

class State:
    """Everything mutable, guarded by one lock."""

    def __init__(self, clients, dataset):
        self.lock = threading.RLock()
        self.clients = clients
        self.pristine = dataset   # never modified; /__emu/mutate publishes forks
        self.dataset = dataset
        self.mutated = False
        self.tokens = {}          # token -> {seq, client_id, expires, revoked}
        self.token_seq = 0
        self.stats_lock = threading.Lock()    # not self.lock: taken on every request
        self.reset(tokens=False)

    def reset(self, tokens=False, caches=False):
        """Clear faults, settings, log, rate windows, jobs and stats (and tokens).

        A mutated dataset goes back to the pristine one.  Its rendered pages
        stay (they are still right) unless caches is true, which also drops
        the conversations' serialized JSON, for a cold-start measurement."""
        with self.lock:
            if self.mutated:
                self.dataset = self.pristine
                self.mutated = False
            if caches:
                self.pristine.cache = ServeCache(self.pristine)
                for c in self.pristine.conversations:
                    c.pop("plain_json", None)
                    c.pop("full_json", None)
            with self.stats_lock:
                self.stats = {"requests": 0, "handler_seconds": 0.0, "latency_seconds": 0.0,
                              "cache_hits": 0, "cache_misses": 0}
            self.faults = []
            self.settings = dict(DEFAULT_SETTINGS)
            self.log = []
            self.log_seq = 0
            self.windows = {}
            self.jobs = {}
            self.patches = 0      # accepted user PATCHes, for patch_conflict_every
            self.fault_rng = random.Random(self.settings["fault_seed"])
            self.rule_seq = 0     # ids of fault rules (for refunds)
            if tokens:
                self.tokens = {}

    def mutate(self, body):
        """Apply one /__emu/mutate action; raises MutationError on bad input.

        The action changes a fork of the dataset, which then replaces the
        current one in a single assignment: a request already running keeps
        the version it started with, and a failed action changes nothing."""
        with self.lock:
            ds = self.dataset.fork()
            out = apply_mutation(ds, body)
            self.dataset = ds
            self.mutated = True
        return out

    def publish_user(self, old, new):
        """Publish a dataset where user dict new replaces old (lock held)."""
        ds = self.dataset.fork()
        ds.replace_user(old, new)
        self.dataset = ds
        self.mutated = True
        return ds

    def patch_user(self, uid, raw):
        """PATCH /api/v2/users/{uid}: the updated user as rendered, or QueryError.

        Checks, changes and publishes under the lock, so two PATCHes with
        the same version cannot both succeed; the stored user is replaced
        by a changed copy (copy-on-write), never edited."""
        version, changes = parse_user_patch(parse_json(raw))
        with self.lock:
            u = self.dataset.users_by_id.get(uid)
            if u is None or (u["state"] == "deleted" and "state" not in changes):
                raise QueryError("User %s not found" % uid, "not.found", 404)
            mid = changes.get("manager")
            if mid is not None:
                m = self.dataset.users_by_id.get(mid)
                if m is None or m["state"] == "deleted" or mid == uid:
                    raise QueryError("manager %s is not the id of another user who is not "
                                     "deleted" % mid, "invalid.value")
            if version != u["version"]:
                raise version_conflict(version, u["version"])
            self.patches += 1
            every = int(self.settings.get("patch_conflict_every") or 0)
            if every > 0 and self.patches % every == 0:
                remote = copy.deepcopy(u)     # someone else saved first
                remote["version"] += 1
                remote["title"] = "Changed remotely"
                self.publish_user(u, remote)
                raise version_conflict(version, remote["version"])
            new = copy.deepcopy(u)
            if "email" in changes and "username" not in new:
                new["username"] = u["email"]  # the username stays what it was
            new.update(copy.deepcopy(changes))
            new["version"] += 1
            return self.publish_user(u, new).render_user(new)

    def issue_token(self, client_id):
        """Mint a new opaque token; returns (token, lifetime)."""
        with self.lock:
            self.token_seq += 1
            tok = secrets.token_urlsafe(32)
            life = int(self.settings["token_lifetime"])
            self.tokens[tok] = {"seq": self.token_seq, "client_id": client_id,
                                "expires": time.time() + life, "revoked": False}
            return tok, life

    def revoke_all(self):
        """Invalidate every token issued so far."""
        with self.lock:
            for t in self.tokens.values():
                t["revoked"] = True

    def take_fault(self, endpoint_class, method, path, query_page=None):
        """Return the fault rule that fires for this request, or None.

        query_page is the pageNumber of a details query (POST .../details/query),
        None for any other request: kinds in QUERY_PAGE_KINDS only match
        details query pages (repeat_page: page 2 and later)."""
        with self.lock:
            for r in self.faults:
                if r["_spent"]:
                    continue
                ep = r.get("endpoint", "any")
                if not endpoint_matches(ep, endpoint_class):
                    continue
                if r.get("method") and r["method"].upper() != method:
                    continue
                if r.get("path") and not path.startswith(r["path"]):
                    continue
                kind = r.get("kind", "status")
                if kind in QUERY_PAGE_KINDS and (query_page is None or
                                                 (kind == "repeat_page" and query_page < 2)):
                    continue
                if r["_seen"] < int(r.get("after", 0) or 0):
                    r["_seen"] += 1
                    continue
                every = int(r.get("every", 1) or 1)
                if every > 1:
                    r["_n"] += 1
                    if r["_n"] % every:
                        continue
                p = r.get("probability")
                if p is not None and p < 1 and self.fault_rng.random() >= p:
                    continue
                r["_fired"] += 1
                cnt = int(r.get("count", 1) if r.get("count") is not None else 1)
                if cnt > 0 and r["_fired"] >= cnt:
                    r["_spent"] = True
                return dict(r)
        return None

    def refund_fault(self, rule):
        """Undo the firing of rule (a copy take_fault returned): it had
        nothing to act on, so it does not count."""
        with self.lock:
            for r in self.faults:
                if r["_id"] == rule["_id"]:
                    r["_fired"] -= 1
                    cnt = int(r.get("count", 1) if r.get("count") is not None else 1)
                    r["_spent"] = cnt > 0 and r["_fired"] >= cnt
                    return

    def rate_check(self, key):
        """Count a request in the client's window -> (allowed, count, reset_s, over)."""
        with self.lock:
            now = time.time()
            limit = int(self.settings["rate_limit"] or 0)
            window = float(self.settings["rate_window"] or 60)
            w = self.windows.get(key)
            if w is None or now >= w["start"] + window:
                w = {"start": now, "count": 0}
                self.windows[key] = w
            reset = max(0.0, w["start"] + window - now)
            if limit > 0 and w["count"] >= limit:
                return limit, w["count"], reset, True
            w["count"] += 1
            # no budget configured (limit 0): announce none, or clients that
            # pace themselves from the headers would wait for a limit the
            # emulator never enforces
            return (limit if limit > 0 else None), w["count"], reset, False

    def count_request(self, seconds, latency):
        """Add one answered request to /__emu/stats (latency = the latency_ms
        sleep, which is not part of seconds)."""
        with self.stats_lock:
            self.stats["requests"] += 1
            self.stats["handler_seconds"] += seconds
            self.stats["latency_seconds"] += latency

    def count_cache(self, hit):
        """Add one page served from (hit) or rendered into the page cache."""
        with self.stats_lock:
            self.stats["cache_hits" if hit else "cache_misses"] += 1

    def add_log(self, entry):
        """Append a request log entry, assigning its seq."""
        with self.lock:
            self.log_seq += 1
            entry["seq"] = self.log_seq
            self.log.append(entry)


def endpoint_class(path):
    """Classify a request path: token, users, details, jobs, api or other."""
    if path == "/oauth/token":
        return "token"
    if path.startswith("/api/v2/users"):
        return "users"
    if path.startswith("/api/v2/analytics/conversations/details/jobs"):
        return "jobs"
    if path.startswith("/api/v2/analytics/conversations"):
        return "details"
    if path.startswith("/api/v2/"):
        return "api"
    return "other"


def endpoint_matches(rule_ep, cls):
    """Does a fault rule's endpoint selector cover this request class?"""
    if rule_ep in ("any", None):
        return True
    if rule_ep == "api":
        return cls in ("users", "details", "jobs", "api")
    return rule_ep == cls


ERROR_CODES = {400: "bad.request", 401: "authentication.required", 403: "missing.permissions",
               404: "not.found", 408: "request.timeout", 409: "general.conflict",
               429: "too.many.requests.retry.after", 500: "internal.server.error",
               502: "bad.gateway", 503: "service.unavailable", 504: "request.timeout"}
ERROR_MESSAGES = {500: "The server encountered an unexpected condition.",
                  502: "The gateway received an invalid response.",
                  503: "Service Unavailable - The server is currently unavailable "
                       "(because it is overloaded or down for maintenance).",
                  504: "The request timed out.", 408: "The request timed out.",
                  403: "You are not authorized to perform the requested action.",
                  404: "The requested resource was not found."}
OAUTH_ERRORS = {400: "invalid_request", 401: "invalid_client", 403: "unauthorized_client"}
HTML_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
                503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def query_page_number(body):
    """pageNumber of a details query body (1 when absent), None if unusable."""
    if not isinstance(body, dict):
        return None
    paging = body.get("paging")
    if paging is None:
        return 1
    if not isinstance(paging, dict):
        return None
    n = paging.get("pageNumber", 1)
    if n is None:
        return 1
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def huge_text(size):
    """The 'huge_string' value: "00000000|00000001|..." cut to size characters
    (ASCII, so size bytes too).  Each 9-character cell holds its own index,
    so a lost or repeated piece shows."""
    return "".join("%08d|" % i for i in range(size // 9 + 1))[:size]


DEEP_PLACEHOLDER = "\u0000emu-deep-nesting\u0000"


def body_rows(obj):
    """The rows of an API answer: users of a listing, conversations of a
    details query, lookup or job results page, or a single conversation."""
    if not isinstance(obj, dict):
        return []
    for key in ("entities", "conversations"):
        if isinstance(obj.get(key), list):
            return [r for r in obj[key] if isinstance(r, dict)]
    if "conversationId" in obj:
        return [obj]
    return []


def with_extra_fields(obj, level):
    """obj with unknown fields before and after its own ones.

    The values have every JSON type, and the nested object reuses key names
    a client looks for (id, conversationId, entities, conversations), so a
    client that searches by name instead of reading the right level picks
    the wrong one."""
    first = {"emuExtra%sFirst" % level: {
        "id": "not-an-id", "conversationId": "not-a-conversation", "name": "shadow",
        "entities": [{"id": "shadow"}], "conversations": [{"conversationId": "shadow"}],
        "nested": [1, -2.5e-3, "text", None, True, False, {"deeper": {"deepest": []}}]}}
    last = {"emuExtra%sText" % level: "unknown \"quoted\" \\ \u00e9 \U0001f3a7",
            "emuExtra%sNull" % level: None,
            "emuExtra%sNumber" % level: 123456789012345678901234567890,
            "emuExtra%sList" % level: [[], {}, [[{"segments": []}]]]}
    out = dict(first)
    out.update(obj)
    out.update(last)
    return out


def add_extra_fields(obj):
    """extra_fields: unknown fields at the top level and in every user,
    conversation, participant, session, segment and metric."""
    def conversation(c):
        parts = []
        for p in c.get("participants") or []:
            if not isinstance(p, dict):
                parts.append(p)
                continue
            sessions = []
            for se in p.get("sessions") or []:
                if not isinstance(se, dict):
                    sessions.append(se)
                    continue
                se = dict(se)
                if isinstance(se.get("segments"), list):
                    se["segments"] = [with_extra_fields(g, "Segment") if isinstance(g, dict)
                                      else g for g in se["segments"]]
                if isinstance(se.get("metrics"), list):
                    se["metrics"] = [with_extra_fields(m, "Metric") if isinstance(m, dict)
                                     else m for m in se["metrics"]]
                sessions.append(with_extra_fields(se, "Session"))
            p = dict(p)
            if "sessions" in p:
                p["sessions"] = sessions
            parts.append(with_extra_fields(p, "Participant"))
        c = dict(c)
        if "participants" in c:
            c["participants"] = parts
        return with_extra_fields(c, "Row")

    def row(r):
        return conversation(r) if "conversationId" in r else with_extra_fields(r, "Row")
    if "conversationId" in obj:
        return conversation(obj)
    out = dict(obj)
    for key in ("entities", "conversations"):
        if isinstance(out.get(key), list):
            out[key] = [row(r) if isinstance(r, dict) else r for r in out[key]]
    return with_extra_fields(out, "Top")


def wrong_type_value(value):
    """A value of another JSON type than value, for wrong_type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        try:
            return parse_iso(value)          # an instant as epoch ms
        except ValueError:
            return 12345
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return 12345


def rewrite_body(rep, rule, cls):
    """Apply a BODY_KINDS rule to a 2xx JSON answer in place.

    Returns False (and leaves rep alone) when there is nothing to act on:
    not a 2xx JSON object, or no rows for the kinds that change a row."""
    if not 200 <= rep.status < 300 or not rep.body:
        return False
    try:
        obj = json.loads(rep.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(obj, dict):
        return False
    kind = rule["kind"]
    rows = body_rows(obj)
    splice = None
    if kind == "extra_fields":
        obj = add_extra_fields(obj)
    elif kind == "total_hits":
        if not isinstance(obj.get("totalHits"), int):
            return False
        obj["totalHits"] = max(0, obj["totalHits"] + int(rule.get("delta", 50)))
    else:
        if not rows:
            return False
        first = rows[0]
        is_user = cls == "users"
        if kind == "huge_string":
            first[rule.get("field") or ("title" if is_user else "externalTag")] = \
                huge_text(int(rule.get("size", 1048576)))
        elif kind == "deep_nesting":
            first[rule.get("field") or "emuDeep"] = DEEP_PLACEHOLDER
            depth = int(rule.get("depth", 10000))
            splice = b"[" * depth + b"]" * depth
        elif kind == "splice":
            # raw text, JSON or not, that json.dumps could not write
            first[rule.get("field") or "emuSplice"] = DEEP_PLACEHOLDER
            splice = rule["text"].encode("utf-8", "surrogatepass")
        elif kind == "wrong_type":
            field = rule.get("field") or ("version" if is_user else "conversationStart")
            first[field] = (rule["value"] if "value" in rule
                            else wrong_type_value(first.get(field)))
    body = dumps_bytes(obj)
    if splice is not None:
        # json.dumps cannot nest 10,000 levels (recursion limit) nor write
        # what is not JSON: splice the bytes in
        body = body.replace(json.dumps(DEEP_PLACEHOLDER).encode(), splice, 1)
    rep.body = body
    rep.ctype = "application/json"
    return True


class Reply:
    """A response under construction."""

    def __init__(self, status, obj=None, raw=None, ctype="application/json", headers=None):
        self.status = status
        if raw is None and obj is not None:
            raw = dumps_bytes(obj)
        self.body = raw or b""
        self.gzip = None            # body already gzip-compressed (a cached page)
        self.ctype = ctype
        self.headers = dict(headers or {})
        self.mode = "normal"        # normal | delay | stream | truncate | reset | stall
        self.seconds = 0.0
        self.fault = None
        self.ctype_exact = False    # send ctype as is (no "; charset=UTF-8")


def platform_error(corr, status, code, message, headers=None):
    """A Genesys platform error body (contextId == correlation id)."""
    return Reply(status, {"message": message, "code": code, "status": status,
                          "contextId": corr, "messageWithParams": message,
                          "messageParams": {}, "details": [], "errors": []},
                 headers=headers)


def oauth_error(status, error, description):
    """An OAuth-style error body."""
    return Reply(status, {"error": error, "description": description,
                          "error_description": description})


# ---------------------------------------------------------------------------
# HTTP handler
# ---------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    """Routes emulator, control and API requests."""

    protocol_version = "HTTP/1.1"
    # small answers on a kept-alive connection (a PATCH's user) would
    # otherwise wait ~40 ms for the client's delayed ACK (Nagle)
    disable_nagle_algorithm = True
    server_version = "gc-emulator/1.0"
    sys_version = ""
    timeout = 300

    def log_message(self, fmt, *args):
        """Silence the default stderr access log."""

    def handle(self):
        """Serve the connection; with --tls-cert, finish the TLS handshake
        first (here, in the connection's thread, not in accept())."""
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True    # e.g. a client that does not trust us
                return
        super().handle()

    def parse_request(self):
        """Note when the request line has been read: /__emu/stats counts a
        request's handler time from here (not the keep-alive wait before)."""
        self.request_started = time.perf_counter()
        return super().parse_request()

    def version_string(self):
        """Server header value."""
        return self.server_version

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    # -- plumbing -----------------------------------------------------------

    @property
    def state(self):
        return self.server.state

    def read_body(self):
        """Read the request body (Content-Length or chunked)."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def wants_gzip(self):
        """True when Accept-Encoding allows gzip."""
        ae = self.headers.get("Accept-Encoding") or ""
        for part in ae.split(","):
            bits = [b.strip() for b in part.split(";")]
            if bits[0].lower() in ("gzip", "x-gzip", "*"):
                q = 1.0
                for b in bits[1:]:
                    if b.startswith("q="):
                        try:
                            q = float(b[2:])
                        except ValueError:
                            q = 0.0
                return q > 0
        return False

    def send_reply(self, rep, corr, rate=None):
        """Write a Reply honouring gzip, streaming and truncation modes."""
        body = rep.body
        if body and rep.status != 204 and self.wants_gzip():
            body = rep.gzip if rep.gzip is not None else gzip.compress(
                body, compresslevel=GZIP_LEVEL, mtime=0)
            rep.headers["Content-Encoding"] = "gzip"
        if rep.mode == "delay":
            time.sleep(rep.seconds)
        self.send_response(rep.status)
        if rep.ctype_exact:
            self.send_header("Content-Type", rep.ctype)
        elif body or rep.status != 204:
            self.send_header("Content-Type", rep.ctype + ("; charset=UTF-8" if "json" in rep.ctype or "html" in rep.ctype else ""))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ININ-Correlation-Id", corr)
        if rate is not None and rate[0] is not None:
            self.send_header("inin-ratelimit-allowed", str(rate[0]))
            self.send_header("inin-ratelimit-count", str(rate[1]))
            self.send_header("inin-ratelimit-reset", str(int(math.ceil(rate[2]))))
        for k, v in rep.headers.items():
            self.send_header(k, v)
        if rep.mode in ("truncate", "reset", "stall"):
            self.send_header("Connection", "close")
        self.end_headers()
        if rep.mode == "reset":
            self.wfile.write(body[:max(1, len(body) // 2)])
            self.wfile.flush()
            time.sleep(0.05)            # let the part arrive before the RST
            self.close_connection = True
            self.reset_connection()
            return
        if rep.mode == "stall":
            self.wfile.write(body[:max(1, len(body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            self.wait_for_hangup(rep.seconds)
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if rep.mode == "truncate":
            self.wfile.write(body[:max(1, len(body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if rep.mode == "stream" and body:
            pieces = 10
            step = max(1, math.ceil(len(body) / pieces))
            chunks = [body[i:i + step] for i in range(0, len(body), step)]
            for i, c in enumerate(chunks):
                self.wfile.write(c)
                self.wfile.flush()
                if i < len(chunks) - 1:
                    time.sleep(rep.seconds / max(1, len(chunks) - 1))
            return
        self.wfile.write(body)
        self.wfile.flush()

    def reset_connection(self):
        """Close the connection with a TCP RST (SO_LINGER 0): the client
        sees "connection reset by peer", not an orderly end of stream."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            # detach so the real close happens now, whatever file objects
            # (rfile, wfile) still refer to the socket
            os.close(self.connection.detach())
        except OSError:
            pass

    def wait_for_hangup(self, seconds):
        """Send nothing for up to seconds; return early once the client
        closes its end (it has given up on the answer)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                r, _, _ = select.select([self.connection], [], [], min(left, 0.5))
                if r:
                    self.connection.settimeout(0.5)
                    if not self.connection.recv(1):
                        return
            except socket.timeout:
                continue            # e.g. part of a TLS record: keep waiting
            except (OSError, ValueError):
                return

    def dispatch(self):
        """Top-level request handling: control API or emulated endpoints."""
        arrival = time.time()
        corr = str(uuid.uuid4())
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        try:
            raw = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if path.startswith("/__emu/") or path == "/__emu":
            rep = self.control(self.command, path, query, raw)
            self.send_reply(rep, corr)
            return
        entry = {"seq": None, "time": arrival, "end_time": None, "method": self.command,
                 "path": path, "query": query, "body": None, "status": None,
                 "client_id": None, "token_seq": None, "fault": None,
                 "accept_encoding": self.headers.get("Accept-Encoding"),
                 "user_agent": self.headers.get("User-Agent"),
                 "peer_port": self.client_address[1]}
        cls = endpoint_class(path)
        if cls == "token":
            form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
            entry["body"] = {"grant_type": (form.get("grant_type") or [None])[0]}
        elif cls == "users" and self.command == "PATCH":
            entry["body"] = patch_log_body(raw) if raw else None
        elif raw:
            try:
                entry["body"] = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                entry["body"] = None
        self.state.add_log(entry)
        rate = None
        try:
            rep, rate = self.handle_emulated(cls, path, query, raw, corr, entry)
        except Exception as e:  # never let a bug kill the connection silently
            sys.stderr.write("emulator: internal error on %s %s: %r\n" % (self.command, path, e))
            rep = platform_error(corr, 500, "internal.server.error", "Emulator internal error")
        entry["status"] = rep.status
        if rep.fault and not entry["fault"]:
            entry["fault"] = rep.fault
        latency = 0.0
        if path.startswith("/api/"):
            # a network round trip: in this connection's thread, so
            # requests on other connections overlap with it
            latency = float(self.state.settings.get("latency_ms") or 0) / 1000.0
            if latency > 0:
                time.sleep(latency)
        try:
            self.send_reply(rep, corr, rate)
        finally:
            entry["end_time"] = time.time()
            self.state.count_request(time.perf_counter() - self.request_started - latency,
                                     latency)

    # -- emulated endpoints -------------------------------------------------

    def handle_emulated(self, cls, path, query, raw, corr, entry):
        """Apply faults, auth and rate limits, then route. Returns (Reply, rate)."""
        st = self.state
        is_api = path.startswith("/api/v2/")
        query_page = None
        if (cls == "details" and self.command == "POST"
                and path.rstrip("/").endswith("/details/query")):
            query_page = query_page_number(entry["body"])
        fault = (st.take_fault(cls, self.command, path, query_page)
                 if cls != "other" else None)
        # a fault may rewrite or cut the body: such a request neither reads
        # nor fills the rendered-page cache
        self.page_cache_ok = fault is None
        rate = None
        post = None      # post-processing mode from the fault
        if fault:
            kind = fault.get("kind", "status")
            entry["fault"] = kind
            if kind == "status":
                rep = self.fault_status(fault, corr)
                rep.fault = kind
                if is_api:
                    rate = st.rate_check(self._rate_key())[:3]
                return rep, rate
            if kind == "revoke":
                st.revoke_all()
            elif kind == "repeat_page":
                # answer the previous page of the same query instead
                body = dict(entry["body"])
                body["paging"] = dict(body["paging"], pageNumber=query_page - 1)
                raw = json.dumps(body).encode("utf-8")
                post = fault
            else:
                post = fault
        if cls == "token":
            rep = self.token_endpoint(raw, entry)
        elif cls == "other":
            rep = platform_error(corr, 404, "not.found", "The requested resource was not found.")
        else:
            rep, rate = self.api(cls, path, query, raw, corr, entry)
        if post:
            rep.gzip = None     # the body may change below; compress what is sent
            kind = post["kind"]
            if kind in BODY_KINDS and not rewrite_body(rep, post, cls):
                # nothing to rewrite (an error answer, no rows): not counted
                st.refund_fault(post)
                entry["fault"] = None
                return rep, rate
            if kind == "repeat_page" and rep.status != 200:
                st.refund_fault(post)
                entry["fault"] = None
                return rep, rate
            rep.fault = kind
            if kind == "delay":
                rep.mode = "stream" if post.get("stream") else "delay"
                rep.seconds = float(post.get("seconds", 1.0))
            elif kind == "malformed":
                body = rep.body if rep.body else b'{"entities":[{"id":"x"}]}'
                if cls == "token":      # never hand out part of a live token
                    body = b'{"access_token":"tr","token_type":"bearer","expires_in":86399}'
                rep.status = 200
                rep.ctype = "application/json"
                rep.body = body[:max(1, len(body) // 2)] + b'\x00{"\x7f'
                rep.headers.pop("Retry-After", None)
            elif kind in ("truncate", "reset", "stall"):
                if len(rep.body) < 2:
                    rep.body = b'{"conversations":[],"totalHits":0}'
                if cls == "token" and rep.status == 200:
                    # never hand out part of a live token
                    rep.body = b'{"access_token":"tr","token_type":"bearer","expires_in":86399}'
                rep.mode = kind
                if kind == "stall":
                    rep.seconds = float(post.get("seconds", 30.0))
            elif kind == "content_type":
                rep.ctype = post.get("ctype", "text/html")
                rep.ctype_exact = True
            elif kind == "empty_200":
                rep.status = 200
                rep.body = b""
                rep.ctype = "application/json"
                rep.headers.pop("Retry-After", None)
            elif kind == "raw_body":
                # any bytes as the whole answer (tests/integration feeds the
                # fuzz corpus through it); check_rule decoded them once
                rep.status = int(post.get("status") or 200)
                rep.body = base64.b64decode(post["body_b64"])
                rep.ctype = "application/json"
                rep.headers.pop("Retry-After", None)
        return rep, rate

    def _rate_key(self):
        """Rate limit bucket: the token's client id, else 'anonymous'."""
        tok = self._bearer()
        info = self.state.tokens.get(tok) if tok else None
        return info["client_id"] if info else "anonymous"

    def _bearer(self):
        """The bearer token from the Authorization header, or None."""
        auth = self.headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return None

    def fault_status(self, fault, corr):
        """Build the answer for a kind=status fault."""
        status = int(fault.get("status", 500))
        kind = fault.get("body", "json")
        headers = {}
        ra = fault.get("retry_after")
        if ra is not None:
            headers["Retry-After"] = str(ra)
        if kind == "html":
            reason = HTML_REASONS.get(status, "Error")
            html = ("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s"
                    "</h1></center>\r\n<hr><center>awselb/2.0</center>\r\n</body>\r\n</html>\r\n"
                    % (status, reason, status, reason))
            return Reply(status, raw=html.encode(), ctype="text/html", headers=headers)
        if kind == "empty":
            return Reply(status, raw=b"", headers=headers)
        if kind == "oauth":
            rep = oauth_error(status, fault.get("code") or OAUTH_ERRORS.get(status, "server_error"),
                              fault.get("message") or "HTTP %d from the login service" % status)
            rep.headers.update(headers)
            return rep
        code = fault.get("code") or ERROR_CODES.get(status, "internal.server.error")
        if status == 429 and not fault.get("code") and ra is None:
            code = "too.many.requests"
        msg = fault.get("message")
        if not msg:
            if status == 429:
                secs = ra if ra is not None and str(ra).isdigit() else "60"
                msg = "Rate limit exceeded the maximum. Retry the request in [%s] seconds" % secs
            else:
                msg = ERROR_MESSAGES.get(status, "HTTP %d" % status)
        return platform_error(corr, status, code, msg, headers)

    def token_endpoint(self, raw, entry):
        """POST /oauth/token (client credentials only)."""
        if self.command != "POST":
            return oauth_error(405, "invalid_request", "Method not allowed")
        auth = self.headers.get("Authorization") or ""
        cid = secret = None
        if auth[:6].lower() == "basic ":
            try:
                dec = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
                cid, _, secret = dec.partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                cid = None
        entry["client_id"] = cid
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return oauth_error(400, "invalid_request",
                               "Content-Type must be application/x-www-form-urlencoded")
        if cid is None or cid not in self.state.clients or \
                not secrets.compare_digest(self.state.clients[cid].encode(), (secret or "").encode()):
            return oauth_error(401, "invalid_client", "client credentials are invalid")
        grant = entry["body"]["grant_type"]
        if grant != "client_credentials":
            sys.stderr.write("emulator: unsupported grant_type %r from client %s\n" % (grant, cid))
            return oauth_error(400, "unsupported_grant_type",
                               "grant type %s is not supported" % grant)
        tok, life = self.state.issue_token(cid)
        entry["token_seq"] = self.state.token_seq
        return Reply(200, {"access_token": tok, "token_type": "bearer", "expires_in": life})

    def api(self, cls, path, query, raw, corr, entry):
        """Authenticate, rate-limit and route an /api/v2 request."""
        st = self.state
        tok = self._bearer()
        info = st.tokens.get(tok) if tok else None
        if info:
            entry["client_id"] = info["client_id"]
            entry["token_seq"] = info["seq"]
        rate = st.rate_check(info["client_id"] if info else "anonymous")
        over = rate[3]
        rate = rate[:3]
        if tok is None:
            return platform_error(corr, 401, "authentication.required",
                                  "No authentication bearer token specified in authorization header."), rate
        if info is None or info["revoked"]:
            return platform_error(corr, 401, "authentication.required",
                                  "Invalid login credentials."), rate
        if time.time() >= info["expires"]:
            return platform_error(corr, 401, "credentials.expired",
                                  "The authentication token has expired."), rate
        if over:
            secs = max(1, int(math.ceil(rate[2])))
            rep = platform_error(corr, 429, "too.many.requests.retry.after",
                                 "Rate limit exceeded the maximum. Retry the request in [%d] seconds" % secs,
                                 {"Retry-After": str(secs)})
            rep.fault = "rate_limit"
            entry["fault"] = "rate_limit"
            return rep, rate
        try:
            rep = self.route(path, query, raw)
        except QueryError as e:
            rep = platform_error(corr, e.status, e.code, str(e))
        if rep is None:
            rep = platform_error(corr, 404, "not.found", "The requested resource was not found.")
        elif rep.status >= 400 and not rep.body:
            rep = platform_error(corr, rep.status, ERROR_CODES.get(rep.status, "bad.request"),
                                 rep.headers.pop("X-Message", "Error"))
        return rep, rate

    def route(self, path, query, raw):
        """Dispatch an authenticated /api/v2 request; None means 404."""
        m = self.command
        parts = path.rstrip("/").split("/")[3:]   # after /api/v2
        if parts == ["users"] and m == "GET":
            return self.users(query)
        if len(parts) == 2 and parts[0] == "users" and m == "PATCH":
            return Reply(200, self.state.patch_user(parts[1], raw))
        if len(parts) == 2 and parts[0] == "users" and m == "GET":
            u = self.state.dataset.users_by_id.get(parts[1])
            if not u:
                return None
            exp = split_list(query.get("expand"))
            return Reply(200, self.state.dataset.render_user(u, "dateLastLogin" in exp))
        if parts[:2] != ["analytics", "conversations"]:
            return None
        rest = parts[2:]
        if rest == ["details", "query"] and m == "POST":
            return self.details_query(parse_json(raw))
        if rest == ["details"] and m == "GET":
            ids = split_list(query.get("id"))
            ds = self.state.dataset
            return Reply(200, {"conversations": [ds.conv_by_id[i]["plain"] for i in ids
                                                 if i in ds.conv_by_id]})
        if len(rest) == 2 and rest[1] == "details" and m == "GET":
            c = self.state.dataset.conv_by_id.get(rest[0])
            return Reply(200, c["plain"]) if c else None
        if rest[:2] == ["details", "jobs"]:
            return self.jobs(rest[2:], query, raw)
        return None

    # -- users --------------------------------------------------------------

    def users(self, query):
        """GET /api/v2/users."""
        ds = self.state.dataset
        page_size = int_param(query, "pageSize", 25)
        page_number = int_param(query, "pageNumber", 1)
        if not 1 <= page_size <= 500:
            raise QueryError("pageSize must be between 1 and 500", "invalid.value")
        if page_number < 1:
            raise QueryError("pageNumber must be at least 1", "invalid.value")
        state = (query.get("state") or ["active"])[-1] or "active"
        if state not in ("active", "inactive", "deleted", "any"):
            raise QueryError("Invalid value '%s' for state" % state, "invalid.value")
        order = ((query.get("sortOrder") or ["ASC"])[-1] or "ASC").upper()
        if order not in ("ASC", "DESC"):
            raise QueryError("Invalid value '%s' for sortOrder" % order, "invalid.value")
        ids = set(split_list(query.get("id")))
        expand = split_list(query.get("expand"))
        users = [u for u in ds.users if (state == "any" or u["state"] == state)
                 and (not ids or u["id"] in ids)]
        users.sort(key=lambda u: (u["name"].casefold(), u["id"]), reverse=(order == "DESC"))
        total = len(users)
        page_count = int(math.ceil(total / page_size))
        chunk = users[(page_number - 1) * page_size: page_number * page_size]
        extra = [(k, v) for k in query if k not in ("pageSize", "pageNumber") for v in query[k]]

        def uri(n):
            q = [("pageSize", page_size), ("pageNumber", n)] + extra
            return "/api/v2/users?" + urllib.parse.urlencode(q)

        def render():
            out = {"entities": [ds.render_user(u, "dateLastLogin" in expand) for u in chunk],
                   "pageSize": page_size, "pageNumber": page_number, "total": total,
                   "firstUri": uri(1), "selfUri": uri(page_number)}
            if page_number < page_count:
                out["nextUri"] = uri(page_number + 1)
            if page_number > 1:
                out["previousUri"] = uri(page_number - 1)
            out["lastUri"] = uri(max(1, page_count))
            out["pageCount"] = page_count
            return dumps_bytes(out)
        # every other parameter, in the order sent, shapes the page (the URIs
        # repeat them), so all of them are the key
        key = ("users", page_size, page_number,
               tuple((k, tuple(v)) for k, v in query.items()
                     if k not in ("pageSize", "pageNumber")))
        return self.cached_page(ds, key, render)

    # -- sync details query -------------------------------------------------

    def details_query(self, body):
        """POST /api/v2/analytics/conversations/details/query."""
        ds = self.state.dataset
        page_shift = int(self.state.settings.get("page_shift") or 0)
        q = parse_details_query(body, int(self.state.settings["max_results"]))
        qkey, hits = ds.cache.query_hits(*q["match"])
        offset = details_offset(q["page_number"], q["page_size"], page_shift)
        return self.cached_page(ds, ("details", qkey, offset, q["page_size"]),
                                lambda: details_page_body(hits, offset, q["page_size"]))

    def cached_page(self, ds, key, render):
        """A 200 answer whose body render() makes from ds, served from ds's
        rendered-page cache (identity or gzip, as the client asks).  A
        request a fault fired on renders afresh and caches nothing."""
        if not self.page_cache_ok:
            return Reply(200, raw=render())
        want_gzip = self.wants_gzip()
        rp, hit = ds.cache.page(key, render, want_gzip)
        self.state.count_cache(hit)
        rep = Reply(200, raw=rp.identity)
        if want_gzip:
            rep.gzip = rp.gzip
        return rep

    # -- async jobs ---------------------------------------------------------

    def jobs(self, rest, query, raw):
        """The /details/jobs family (submit, availability, status, results, delete)."""
        st = self.state
        m = self.command
        if rest == [] and m == "POST":
            return self.job_submit(parse_json(raw))
        if rest == ["availability"] and m == "GET":
            return Reply(200, {"dataAvailabilityDate": st.settings["availability_date"]})
        if not rest:
            return None
        with st.lock:
            job = st.jobs.get(rest[0])
        if job is None:
            return None
        if len(rest) == 1 and m == "GET":
            with st.lock:
                if job["state"] in ("QUEUED", "PENDING"):
                    job["polls"] += 1
                    n = int(st.settings["job_polls"])
                    if job["polls"] > n and st.settings.get("job_fail"):
                        job["state"] = "FAILED"
                        job["error"] = st.settings["job_fail"]
                    elif job["polls"] > n:
                        job["state"] = "FULFILLED"
                        job["completion"] = int(time.time() * 1000)
                    elif job["polls"] > 1:
                        job["state"] = "PENDING"
                out = {"state": job["state"]}
                if job["state"] == "FAILED":
                    out["errorMessage"] = job.get("error", "")
                out["expirationDate"] = iso_ms(job["submission"] + DAY_MS)
                out["submissionDate"] = iso_ms(job["submission"])
                if job.get("completion"):
                    out["completionDate"] = iso_ms(job["completion"])
            return Reply(200, out)
        if len(rest) == 1 and m == "DELETE":
            with st.lock:
                job["state"] = "CANCELLED"
            return Reply(204)
        if rest[1:] == ["results"] and m == "GET":
            if job["state"] != "FULFILLED":
                raise QueryError("Results are not available: job %s is %s" % (rest[0], job["state"]))
            page_size = int_param(query, "pageSize", 1000)
            if not 1 <= page_size <= 1000:
                raise QueryError("pageSize must be between 1 and 1000", "invalid.value")
            offset = 0
            cur = (query.get("cursor") or [""])[-1]
            if cur:
                try:
                    jid, _, off = base64.urlsafe_b64decode(cur.encode()).decode().partition(":")
                    offset = int(off)
                    if jid != rest[0] or offset < 0:
                        raise ValueError
                except (ValueError, binascii.Error, UnicodeDecodeError):
                    raise QueryError("Invalid cursor", "invalid.value")
            ids = job["ids"]
            page = ids[offset: offset + page_size]
            ds = st.dataset
            cursor = None
            if offset + page_size < len(ids):
                cursor = base64.urlsafe_b64encode(
                    ("%s:%d" % (rest[0], offset + page_size)).encode()).decode()
            avail = st.settings["availability_date"]
            # job ids are unique uuids, and the job's ids never change
            key = ("job", rest[0], offset, page_size, avail)
            return self.cached_page(ds, key, lambda: job_page_body(ds, page, cursor, avail))
        return None

    def job_submit(self, body):
        """POST .../details/jobs -> 202 {jobId}; resolves the result set at once."""
        st = self.state
        start, end, cf, sf, order, order_by = parse_query_common(body)
        if "paging" in body:
            raise QueryError("paging is not supported for async queries; use cursor on results")
        limit = body.get("limit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise QueryError("limit must be a positive integer", "invalid.value")
        sod = bool(body.get("startOfDayIntervalMatching"))
        sod_floor = (start // DAY_MS) * DAY_MS
        hits = []
        for c in st.dataset.conversations:
            cs, ce = c["meta"]["start"], c["meta"]["end"]
            if not (cs < end and (ce is None or ce >= start)):
                continue
            if sod and cs < sod_floor:
                continue
            if conversation_matches(c["plain"], cf, sf):
                hits.append(c)
        hits = sort_conversations(hits, order, order_by)
        cap = int(st.settings["max_job_results"])
        n = len(hits) if limit is None else min(limit, len(hits))
        if n > cap:
            raise QueryError("The number of results (%d) may not exceed %d results. "
                             "Use a smaller interval or more filters." % (n, cap))
        jid = str(uuid.uuid4())
        with st.lock:
            st.jobs[jid] = {"state": "QUEUED", "polls": 0, "ids": [c["meta"]["id"] for c in hits[:n]],
                            "submission": int(time.time() * 1000), "completion": None}
        return Reply(202, {"jobId": jid})

    # -- control API --------------------------------------------------------

    def control(self, method, path, query, raw):
        """The /__emu/ control API (no auth, never logged)."""
        st = self.state
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            return Reply(400, {"error": "body is not valid JSON"})
        if path == "/__emu/health":
            return Reply(200, {"ok": True, "users": len(st.dataset.users),
                               "conversations": len(st.dataset.conversations),
                               "mutated": st.mutated})
        if path == "/__emu/reset" and method == "POST":
            st.reset(tokens=bool(body and body.get("tokens")),
                     caches=bool(body and body.get("caches")))
            return Reply(200, {"ok": True})
        if path == "/__emu/prerender" and method == "POST":
            try:
                return Reply(200, prerender_details(st, body))
            except QueryError as e:
                return Reply(400, {"error": str(e)})
        if path == "/__emu/stats" and method == "GET":
            cache = st.dataset.cache
            with st.stats_lock:
                out = dict(st.stats)
            with cache.lock:
                out.update({"cached_pages": len(cache.pages), "cache_bytes": cache.page_bytes,
                            "cache_evictions": cache.evictions})
            return Reply(200, out)
        if path == "/__emu/mutate" and method == "POST":
            try:
                return Reply(200, st.mutate(body))
            except MutationError as e:
                return Reply(400, {"error": str(e)})
        if path == "/__emu/faults":
            if method == "POST":
                rules = body if isinstance(body, list) else [body]
                for r in rules:
                    err = check_rule(r)
                    if err:
                        return Reply(400, {"error": err})
                with st.lock:
                    for r in rules:
                        r = dict(r)
                        st.rule_seq += 1
                        r.update({"_seen": 0, "_n": 0, "_fired": 0, "_spent": False,
                                  "_id": st.rule_seq})
                        st.faults.append(r)
                    n = len(st.faults)
                return Reply(200, {"ok": True, "faults": n})
            if method == "DELETE":
                with st.lock:
                    st.faults = []
                return Reply(200, {"ok": True})
            with st.lock:
                return Reply(200, [dict((k.lstrip("_"), v) for k, v in r.items()) for r in st.faults])
        if path == "/__emu/settings":
            if method == "POST":
                if not isinstance(body, dict):
                    return Reply(400, {"error": "settings must be a JSON object"})
                bad = [k for k in body if k not in DEFAULT_SETTINGS]
                if bad:
                    return Reply(400, {"error": "unknown settings: %s" % ", ".join(bad)})
                pce = body.get("patch_conflict_every", 0)
                if not isinstance(pce, int) or isinstance(pce, bool) or pce < 0:
                    return Reply(400, {"error": "patch_conflict_every must be an integer >= 0"})
                fs = body.get("fault_seed", 0)
                if not isinstance(fs, int) or isinstance(fs, bool):
                    return Reply(400, {"error": "fault_seed must be an integer"})
                lat = body.get("latency_ms", 0)
                if not isinstance(lat, (int, float)) or isinstance(lat, bool) or \
                        not 0 <= lat <= 600000:
                    return Reply(400, {"error": "latency_ms must be a number from 0 to 600000"})
                if "availability_date" in body:
                    try:
                        body["availability_date"] = iso_ms(parse_iso(body["availability_date"]))
                    except (ValueError, TypeError, AttributeError):
                        return Reply(400, {"error": "availability_date must be ISO-8601"})
                with st.lock:
                    st.settings.update(body)
                    if "patch_conflict_every" in body:
                        st.patches = 0    # count from this setting on
                    if "fault_seed" in body:
                        st.fault_rng = random.Random(body["fault_seed"])
            with st.lock:
                return Reply(200, dict(st.settings))
        if path == "/__emu/log":
            with st.lock:
                return Reply(200, [dict(e) for e in st.log])
        if path == "/__emu/revoke" and method == "POST":
            st.revoke_all()
            return Reply(200, {"ok": True})
        if path == "/__emu/dataset/users":
            return Reply(200, [st.dataset.render_user(u, True) for u in st.dataset.users])
        if path == "/__emu/dataset/conversations":
            return Reply(200, [c["plain"] for c in st.dataset.conversations])
        return Reply(404, {"error": "unknown control endpoint %s %s" % (method, path)})


def prerender_details(st, body):
    """POST /__emu/prerender: render every page of a sync query (identity
    and gzip) into the current dataset's page cache, so that a benchmark's
    first pass is served like any later one.

    body is a details query (interval, filters, order, orderBy,
    paging.pageSize; pageNumber is ignored), validated as the API does.
    Pages run from 1 to the last one holding rows (at least 1), under the
    current page_shift, and stop where max_results would refuse them."""
    t0 = time.perf_counter()
    if isinstance(body, dict) and isinstance(body.get("paging"), dict):
        body = dict(body, paging={k: v for k, v in body["paging"].items() if k != "pageNumber"})
    with st.lock:
        cap = int(st.settings["max_results"])
        shift = int(st.settings.get("page_shift") or 0)
        ds = st.dataset
    q = parse_details_query(body, cap)
    size = q["page_size"]
    qkey, hits = ds.cache.query_hits(*q["match"])
    pages = identity = compressed = 0
    number = 1
    while number * size <= cap:
        offset = details_offset(number, size, shift)
        rp, _ = ds.cache.page(("details", qkey, offset, size),
                              lambda: details_page_body(hits, offset, size), True)
        pages += 1
        identity += len(rp.identity)
        compressed += len(rp.gzip)
        if offset + size >= len(hits):
            break
        number += 1
    return {"pages": pages, "totalHits": len(hits), "bytes": identity + compressed,
            "identity_bytes": identity, "gzip_bytes": compressed,
            "seconds": round(time.perf_counter() - t0, 6)}


FAULT_KINDS = ("status", "delay", "revoke", "malformed", "truncate", "content_type", "reset",
               "stall", "extra_fields", "huge_string", "deep_nesting", "empty_200",
               "total_hits", "repeat_page", "wrong_type", "splice", "raw_body")
FAULT_ENDPOINTS = ("token", "users", "details", "jobs", "api", "any")
# kinds that rewrite a 2xx JSON answer; a rule of such a kind that meets
# any other answer (a 401, a 404, ...) lets it through and is not counted
BODY_KINDS = ("extra_fields", "huge_string", "deep_nesting", "total_hits", "wrong_type",
              "splice")
# kinds that only match details query pages (POST .../details/query)
QUERY_PAGE_KINDS = ("total_hits", "repeat_page")


def check_rule(r):
    """Validate a fault rule; returns an error string or None."""
    if not isinstance(r, dict):
        return "a fault rule must be a JSON object"
    if r.get("kind", "status") not in FAULT_KINDS:
        return "kind must be one of %s" % ", ".join(FAULT_KINDS)
    if r.get("endpoint", "any") not in FAULT_ENDPOINTS:
        return "endpoint must be one of %s" % ", ".join(FAULT_ENDPOINTS)
    if r.get("body", "json") not in ("json", "html", "empty", "oauth"):
        return "body must be json, html, empty or oauth"
    for k in ("status", "after", "count", "delta", "size", "depth", "every"):
        if k in r and r[k] is not None and (not isinstance(r[k], int) or isinstance(r[k], bool)):
            return "%s must be an integer" % k
    if "every" in r and r["every"] < 1:
        return "every must be at least 1"
    for k in ("size", "depth"):
        if k in r and not 1 <= r[k] <= 64 * 1024 * 1024:
            return "%s must be between 1 and 67108864" % k
    if "seconds" in r and (not isinstance(r["seconds"], (int, float)) or
                           isinstance(r["seconds"], bool)):
        return "seconds must be a number"
    if "probability" in r:
        p = r["probability"]
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
            return "probability must be a number between 0 and 1"
    for k in ("ctype", "field"):
        if k in r and (not isinstance(r[k], str) or not r[k]):
            return "%s must be a non-empty string" % k
    if r.get("kind") == "splice" and not isinstance(r.get("text"), str):
        return "a splice rule needs text, a string"
    if r.get("kind") == "raw_body":
        try:
            base64.b64decode(r.get("body_b64"), validate=True)
        except (TypeError, ValueError):
            return "a raw_body rule needs body_b64, the body in base64"
        if not 100 <= (r.get("status") or 200) <= 599:
            return "status must be between 100 and 599"
    return None


def split_list(values):
    """Flatten repeated and comma-joined query values."""
    out = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def int_param(query, name, default):
    """An integer query parameter or QueryError(invalid.value)."""
    v = (query.get(name) or [None])[-1]
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise QueryError("Invalid value '%s' for %s" % (v, name), "invalid.value")


def parse_json(raw):
    """Parse a JSON request body or raise QueryError."""
    try:
        return json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise QueryError("Unable to parse the request body as JSON")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer carrying the emulator state."""
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops the SYNs of a client opening
    # more connections at once (concurrent page fetch), which then waits a
    # second for the retransmission
    request_queue_size = 128

    def handle_error(self, request, client_address):
        """Connections the client drops (or that a fault resets) are normal
        here; report anything else as the base class does."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    """Parse args, build the dataset, serve until SIGTERM/SIGINT."""
    global PAGE_CACHE_BYTES
    ap = argparse.ArgumentParser(description="Genesys Cloud CX API emulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--client", action="append", metavar="ID:SECRET")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--scale", type=int, default=1,
                    help="multiply conversations per day (benchmarks); 1 = the test dataset")
    ap.add_argument("--tls-cert", metavar="FILE",
                    help="serve HTTPS with this PEM certificate (chain); needs --tls-key")
    ap.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert")
    ap.add_argument("--page-cache-mb", type=int, default=PAGE_CACHE_BYTES >> 20,
                    help="rendered-page cache budget per dataset version, MiB")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    clients = {}
    for c in args.client or DEFAULT_CLIENTS:
        cid, sep, sec = c.partition(":")
        if not sep or not cid:
            ap.error("--client must be ID:SECRET")
        clients[cid] = sec
    PAGE_CACHE_BYTES = max(0, args.page_cache_mb) << 20
    # The dataset is millions of long-lived objects: collecting cycles while
    # it is built is a third of the generation time, and a full collection
    # later would walk all of it in the middle of serving (seconds at
    # --scale 250).  So build it with the collector off, then move it out of
    # the collector's sight (gc.freeze); request garbage is collected as usual.
    # a thread per connection: with the default GIL switch interval (5 ms)
    # a few connections answered at once queue behind each other for
    # milliseconds each, which made parallel clients look slow
    sys.setswitchinterval(0.0002)
    gc.disable()
    try:
        ds = Dataset(args.seed, scale=args.scale)
    finally:
        gc.enable()
    gc.freeze()
    httpd = Server(("127.0.0.1", args.port), Handler)
    httpd.state = State(clients, ds)
    scheme = "http"
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as e:
            ap.error("cannot load --tls-cert/--tls-key: %s" % e)
        # the handshake runs in each connection's thread (Handler.handle),
        # so a client that never completes it cannot block accept()
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True,
                                       do_handshake_on_connect=False)
        scheme = "https"
    port = httpd.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stderr.write("genesys emulator listening on %s://127.0.0.1:%d (seed %d, %d users, %d "
                     "conversations, clients: %s)\n" % (scheme, port, args.seed, len(ds.users),
                                                      len(ds.conversations), ", ".join(sorted(clients))))
    sys.stderr.flush()
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
