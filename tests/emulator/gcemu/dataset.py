"""The deterministic dataset: users and analytics conversation details.

Owns: generating the users and conversations from the seed (the same seed
gives the same ids and the same JSON, byte for byte), rendering a user as
GET /api/v2/users does, the dataset entries ({meta, full, plain}) that
queries, lookups and job results read, and one dataset version: its
directory (directory_data.py) and agent status history
(agent_status_data.py) beside them, forked together.

Must not: change a published dataset (mutations.py works on a fork), draw
anything else from the conversations' random stream (new data takes random
streams of its own, or the existing ids would move), or know about HTTP.
"""

import copy
import datetime as dt
import random
import unicodedata
import uuid

from .agent_status_data import AgentStatus
from .directory_data import Directory
from .pages import ServeCache
from .wire import DAY_MS, epoch_ms, iso_ms, parse_iso

DATASET_START = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
# --directory-scale S makes max(600, 250 * S) users (S = 8: 2,000)
USERS_PER_DIRECTORY_SCALE = 250
DATASET_DAYS = 21                     # 2024-03-01 .. 2024-03-22 (exclusive)


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
    """The deterministic users and conversations served by the emulator,
    with the directory and the agent status history built from them."""

    def __init__(self, seed=42, scale=1, directory_scale=1):
        self.seed = seed
        self.scale = scale
        rng = random.Random(seed)
        self.divisions = [{"id": det_uuid(rng), "name": n} for n in DIVISION_NAMES]
        self.queues = [{"id": det_uuid(rng), "name": n} for n in QUEUE_NAMES]
        self.flows = [{"id": det_uuid(rng), "name": n, "type": t} for n, t in FLOW_NAMES]
        self.wrapups = [det_uuid(rng) for _ in WRAPUP_NAMES]
        self.users = self._gen_users(rng)
        # a big directory has more users than the 600: they come from a
        # stream of their own, so the 600 and the conversations stay as
        # they are (their agents are the first 80 active users)
        extra = USERS_PER_DIRECTORY_SCALE * directory_scale - len(self.users)
        if extra > 0:
            self.users += self._gen_extra_users(random.Random("users:extra:%d" % seed), extra)
        self.users_by_id = {u["id"]: u for u in self.users}
        self.conversations = self._gen_conversations(rng)
        self.conv_by_id = {c["meta"]["id"]: c for c in self.conversations}
        self.wrapup_names = WRAPUP_NAMES
        self.directory = Directory(self, directory_scale)
        self.agent_status = AgentStatus(self, self.directory.tables["presence_definitions"])
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
        ds.directory = self.directory.fork()
        ds.agent_status = self.agent_status.fork()
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
            users.append(self._make_user(rng, i, names[i], states[i], emails))
        managers = [u for u in users if u["state"] == "active"][:40]
        for u in users:
            if u["state"] != "deleted" and rng.random() < 0.8:
                m = rng.choice(managers)
                if m is not u:
                    u["manager"] = m["id"]
        return users

    def _make_user(self, rng, i, name, state, emails):
        """The stored user number i (from 0) called name, in state; its email
        is made unique against emails (and added to it)."""
        uid = det_uuid(rng)
        slug = ascii_slug(name) or "user"
        email = "%s@example.com" % slug
        k = 2
        while email in emails:
            email = "%s%d@example.com" % (slug, k)
            k += 1
        emails.add(email)
        div = self.divisions[0 if rng.random() < 0.6 else rng.randint(1, 2)]
        u = {
            "id": uid, "name": name, "state": state, "email": email,
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
        if rng.random() < 0.85 and state != "deleted" or (state == "deleted" and rng.random() < 0.5):
            base = epoch_ms(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
            u["dateLastLogin"] = iso_ms(base + rng.randint(0, 80 * DAY_MS))
        return u

    def _gen_extra_users(self, rng, count):
        """count more users for a big directory (--directory-scale), from
        their own random stream, after the 600 (which stay as they are):
        mostly active, numbered names, a manager among the first 40 active."""
        emails = {u["email"] for u in self.users}
        managers = [u for u in self.users if u["state"] == "active"][:40]
        out = []
        for k in range(count):
            i = len(self.users) + k
            name = "%s %s %d" % (rng.choice(FIRST), rng.choice(LAST), i + 1)
            state = rng.choices(["active", "inactive", "deleted"], [90, 7, 3])[0]
            u = self._make_user(rng, i, name, state, emails)
            if state != "deleted" and rng.random() < 0.8:
                u["manager"] = rng.choice(managers)["id"]
            out.append(u)
        return out

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
