"""The directory's data: divisions, queues and their members, wrap-up
codes, groups, skills, languages, locations and presence definitions.

Owns: generating them deterministically, each table from a random stream
of its own (seeded by the dataset seed and the table's name), consistent
with the users and conversations (every queueId and wrap-up code a
segment carries is listed, every division a user, a queue or a
conversation names exists, a queue's members include the agents who
handle its conversations), at a size chosen by --directory-scale; and
each entity as the API renders it.

Must not: draw from the dataset's own random stream (the users and
conversations would change), change a published directory (mutations
change a fork), or know about HTTP.
"""

import datetime as dt
import random
import uuid

from .wire import DAY_MS, epoch_ms, iso_ms

# Extra names, beyond the dataset's own, with what real directories hold:
# quotes, backslashes, accents, emoji, leading and trailing spaces.
DIVISION_EXTRA = ["Ventes & Marketing – Québec", " Padded Division ", "Back\\Office",
                  "Support \"Tier 3\"", "Équipe 🌍 Global"]
QUEUE_EXTRA = [" Padded Queue ", "Escalations \"Priority\"", "Back\\Office Queue",
               "Réclamations – Facturation", "Support 🎧 Chat", "Ventas España",
               "O'Brien's Callbacks", "Überweisungen", "客户服务", "Tier 2\\Tier 3",
               "Trailing space ", " Leading space", "Emoji 🚀 Launch", "Quotes 'single'"]
WRAPUP_EXTRA = ["Callback scheduled", "Transferred \"warm\"", "No answer\\Voicemail",
                "Résolu – premier appel", "Upsell 💰", " Padded code ", "Duplicate ticket",
                "Réclamation", "Spam / Abuse", "Escalated to \"Tier 2\""]
SKILL_WORDS = ["Billing", "Technical", "Spanish", "French", "Retention", "Sales",
               "Escalations", "VIP", "Hardware", "Software", "Network", "Returns"]
SKILL_SPECIAL = ["Português (BR)", "C:\\Drivers", "\"Premium\" accounts", " Padded skill ",
                 "Emoji 😀 handling"]
LANGUAGE_NAMES = ["English", "Français", "Español", "Deutsch", "Português", "日本語",
                  "中文", "Italiano", "Nederlands", "Русский", "العربية", "Türkçe"]
GROUP_SPECIAL = ["Team \"Alpha\"", "Night shift 🌙", "Back\\Office Group", " Padded Group ",
                 "Équipe Montréal"]
CITIES = [("Indianapolis", "IN", "US", "United States", "46204"),
          ("Paris", "Île-de-France", "FR", "France", "75008"),
          ("São Paulo", "SP", "BR", "Brazil", "01310-100"),
          ("Tokyo", "東京都", "JP", "Japan", "100-0005"),
          ("Galway", "Connacht", "IE", "Ireland", "H91 E2K3"),
          ("Sydney", "NSW", "AU", "Australia", "2000")]
LOCATION_SPECIAL = ["HQ \"Main\" Campus", "Floor 3\\West", " Padded Site ", "Café 🏢 Annex"]
STREETS = ["Main St.", "Rue de Rivoli", "Avenida Paulista", "丸の内", "Eyre Square",
           "George St."]
# the platform's system presences (primary definitions) and their labels
SYSTEM_PRESENCES = [
    ("AVAILABLE", {"en_US": "Available", "fr": "Disponible", "de": "Verfügbar",
                   "es": "Disponible", "ja": "連絡可能", "pt_BR": "Disponível"}),
    ("AWAY", {"en_US": "Away", "fr": "Absent", "de": "Abwesend", "es": "Ausente",
              "ja": "退席中", "pt_BR": "Ausente"}),
    ("BUSY", {"en_US": "Busy", "fr": "Occupé", "de": "Beschäftigt", "es": "Ocupado",
              "ja": "取り込み中"}),
    ("BREAK", {"en_US": "Break", "fr": "Pause", "de": "Pause", "es": "Descanso"}),
    ("MEAL", {"en_US": "Meal", "fr": "Repas", "de": "Mahlzeit", "es": "Comida",
              "ja": "食事中"}),
    ("MEETING", {"en_US": "Meeting", "fr": "Réunion", "de": "Besprechung", "es": "Reunión"}),
    ("TRAINING", {"en_US": "Training", "fr": "Formation", "de": "Schulung",
                  "es": "Formación"}),
    ("ON_QUEUE", {"en_US": "On Queue", "fr": "En file d'attente", "de": "In Warteschlange",
                  "es": "En cola", "ja": "キュー中", "pt_BR": "Na fila"}),
    ("IDLE", {"en_US": "Idle", "fr": "Inactif", "de": "Inaktiv", "es": "Inactivo"}),
    ("OFFLINE", {"en_US": "Offline", "fr": "Hors ligne", "de": "Offline", "es": "Desconectado",
                 "ja": "オフライン", "pt_BR": "Offline"}),
]
# the org's own definitions: (system presence, labels, deactivated)
CUSTOM_PRESENCES = [
    ("MEAL", {"en_US": "Lunch 🍔", "fr": "Déjeuner 🍔"}, False),
    ("MEETING", {"en_US": "Coaching \"1:1\"", "de": "Coaching „1:1“"}, False),
    ("BUSY", {"en_US": "Back\\Office work"}, False),
    ("BUSY", {"en_US": " Focus time ", "es": " Concentración "}, False),
    ("MEETING", {"en_US": "Team huddle", "fr": "Réunion d'équipe"}, False),
    ("BREAK", {"en_US": "Café break", "fr": "Pause café", "pt_BR": "Pausa para café"}, False),
    ("AWAY", {"en_US": "Old \"Away\" status"}, True),
]
ROUTING_STATUSES = ("OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING")
WRAPUP_PROMPTS = ("MANDATORY", "OPTIONAL", "MANDATORY_TIMEOUT", "MANDATORY_FORCED_TIMEOUT",
                  "AGENT_REQUESTED")
MEDIA_SETTINGS = ("call", "callback", "chat", "email", "message")
# when directory entities were created and last changed: before the conversations
CREATED_FROM = epoch_ms(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
MODIFIED_UNTIL = epoch_ms(dt.datetime(2024, 2, 28, tzinfo=dt.timezone.utc))
# "now" for the directory: the dataset's end (renames)
DATASET_END = epoch_ms(dt.datetime(2024, 3, 22, tzinfo=dt.timezone.utc))
# the tables, in the order /__emu/health and emuctl list them
TABLES = ("divisions", "queues", "queue_members", "wrapup_codes", "groups", "skills",
          "languages", "locations", "presence_definitions")


def stream(seed, name):
    """The random stream of one directory table: never the dataset's own."""
    return random.Random("directory:%s:%d" % (name, seed))


def new_id(rng):
    """A deterministic version-4 UUID string from rng."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def dates(rng):
    """(dateCreated, dateModified) as the API writes them."""
    created = rng.randint(CREATED_FROM, MODIFIED_UNTIL - 30 * DAY_MS)
    return iso_ms(created), iso_ms(rng.randint(created, MODIFIED_UNTIL))


def ref(entity, collection):
    """{id, name, selfUri} of an entity under /api/v2/<collection>/."""
    return {"id": entity["id"], "name": entity["name"],
            "selfUri": "/api/v2/%s/%s" % (collection, entity["id"])}


def names(special, count, make):
    """count names: the special ones first, then make(i) for the rest."""
    out = list(special[:count])
    i = 0
    while len(out) < count:
        i += 1
        out.append(make(i))
    return out


class Directory:
    """The directory of one dataset version.

    tables maps each listing to its entities, rendered as the API does
    (queue members are kept as records and rendered per request, since
    they embed the user, who can change); members maps a queue id to its
    member records {userId, ringNumber, joined, memberBy}.  A member shows
    its user's status now, from the agent status history."""

    def __init__(self, ds, scale=1):
        self.scale = scale
        seed = ds.seed
        self.tables = {}
        self.members = {}
        self.group_members = {}
        self.tables["divisions"] = self._divisions(stream(seed, "divisions"), ds)
        self.tables["presence_definitions"] = self._presences(stream(seed, "presence"))
        self.tables["skills"] = self._skills(stream(seed, "skills"))
        self.tables["languages"] = self._languages(stream(seed, "languages"))
        self.tables["wrapup_codes"] = self._wrapups(stream(seed, "wrapups"), ds)
        self.tables["groups"] = self._groups(stream(seed, "groups"), ds)
        self.tables["locations"] = self._locations(stream(seed, "locations"))
        self.tables["queues"] = self._queues(stream(seed, "queues"), ds)
        self.by_id = {t: {e["id"]: e for e in rows} for t, rows in self.tables.items()}

    def fork(self):
        """A copy a mutation may change without touching self (the lists
        and maps are copied; the entities are shared and never edited)."""
        d = Directory.__new__(Directory)
        d.scale = self.scale
        d.tables = {t: list(rows) for t, rows in self.tables.items()}
        d.members = {q: list(m) for q, m in self.members.items()}
        d.group_members = self.group_members
        d.by_id = {t: dict(rows) for t, rows in self.by_id.items()}
        return d

    def replace(self, table, old, new):
        """Put entity new where old was in table, or drop old when new is
        None (a fork only); a queue dropped takes its members along."""
        rows = self.tables[table]
        i = next(k for k, e in enumerate(rows) if e is old)
        if new is None:
            del rows[i]
            del self.by_id[table][old["id"]]
            if table == "queues":
                del self.members[old["id"]]
        else:
            rows[i] = new
            self.by_id[table][new["id"]] = new

    # -- divisions, presence definitions, skills, languages ------------------

    def _divisions(self, rng, ds):
        """The dataset's divisions (Home first, the home division) and more."""
        out = []
        extra = names(DIVISION_EXTRA, 5 * self.scale, lambda i: "Region %02d" % i)
        for i, d in enumerate(list(ds.divisions) + [{"id": new_id(rng), "name": n}
                                                     for n in extra]):
            out.append({"id": d["id"], "name": d["name"],
                        "description": rng.choice(["", "Division for %s" % d["name"],
                                                   "Owned by \"Ops\"; see C:\\docs"]),
                        "homeDivision": i == 0,
                        "selfUri": "/api/v2/authorization/divisions/%s" % d["id"]})
        return out

    def _presences(self, rng):
        """The system presences (primary) and the org's own definitions."""
        out = []
        for i, (system, labels, deactivated) in enumerate(
                [(s, lab, False) for s, lab in SYSTEM_PRESENCES] + CUSTOM_PRESENCES):
            pid = new_id(rng)
            created, modified = dates(rng)
            out.append({"id": pid, "name": labels["en_US"], "languageLabels": dict(labels),
                        "systemPresence": system, "deactivated": deactivated,
                        "primary": i < len(SYSTEM_PRESENCES),
                        "createdDate": created, "modifiedDate": modified,
                        "selfUri": "/api/v2/presencedefinitions/%s" % pid})
        return out

    def _skills(self, rng):
        """Routing skills: words, combinations and special names."""
        out = []
        for name in names(SKILL_SPECIAL, 30 * self.scale,
                          lambda i: "%s %s %d" % (SKILL_WORDS[i % len(SKILL_WORDS)],
                                                  SKILL_WORDS[(i * 7) % len(SKILL_WORDS)], i)):
            sid = new_id(rng)
            out.append({"id": sid, "name": name, "dateModified": dates(rng)[1],
                        "state": "active", "version": str(rng.randint(1, 9)),
                        "selfUri": "/api/v2/routing/skills/%s" % sid})
        return out

    def _languages(self, rng):
        """Routing languages."""
        out = []
        for name in names(LANGUAGE_NAMES, 12 * self.scale,
                          lambda i: "%s (variant %d)" % (LANGUAGE_NAMES[i % 12], i)):
            lid = new_id(rng)
            out.append({"id": lid, "name": name, "dateModified": dates(rng)[1],
                        "state": "active", "version": str(rng.randint(1, 5)),
                        "selfUri": "/api/v2/routing/languages/%s" % lid})
        return out

    # -- wrap-up codes, groups, locations -----------------------------------

    def _wrapups(self, rng, ds):
        """The dataset's wrap-up codes (the ids its segments carry) and more."""
        divisions = self.tables["divisions"]
        rows = list(zip(ds.wrapups, ds.wrapup_names))
        extra = names(WRAPUP_EXTRA, 20 * self.scale - len(rows), lambda i: "Outcome %03d" % i)
        rows += [(new_id(rng), n) for n in extra]
        out = []
        for wid, name in rows:
            created, modified = dates(rng)
            w = {"id": wid, "name": name,
                 "division": ref(divisions[0 if rng.random() < 0.7 else
                                           rng.randrange(len(divisions))],
                                 "authorization/divisions")}
            if rng.random() < 0.5:
                w["description"] = "Use when: %s" % name.strip()
            w.update({"dateCreated": created, "dateModified": modified,
                      "selfUri": "/api/v2/routing/wrapupcodes/%s" % wid})
            out.append(w)
        return out

    def _groups(self, rng, ds):
        """Groups with their members (kept for queues' member groups)."""
        active = [u["id"] for u in ds.users if u["state"] == "active"]
        out = []
        for name in names(GROUP_SPECIAL, 12 * self.scale, lambda i: "Group %03d" % i):
            gid = new_id(rng)
            members = sorted(rng.sample(active, rng.randint(0, min(12, len(active)))))
            self.group_members[gid] = members
            g = {"id": gid, "name": name}
            if rng.random() < 0.6:
                g["description"] = "Members of %s" % name.strip()
            g.update({"dateModified": dates(rng)[1], "memberCount": len(members),
                      "state": "active", "version": rng.randint(1, 30),
                      "type": rng.choice(["official", "official", "social"]),
                      "rulesVisible": rng.random() < 0.5,
                      "visibility": rng.choice(["public", "public", "members", "owners"]),
                      "selfUri": "/api/v2/groups/%s" % gid})
            out.append(g)
        return out

    def _locations(self, rng):
        """Locations in a hierarchy: path lists the ids of the ancestors."""
        out = []
        for name in names(LOCATION_SPECIAL, 10 * self.scale, lambda i: "Site %03d" % i):
            lid = new_id(rng)
            city, region, country, country_name, zipcode = rng.choice(CITIES)
            parent = rng.choice(out) if out and rng.random() < 0.5 else None
            path = (parent["path"] + [parent["id"]]) if parent else []
            loc = {"id": lid, "name": name,
                   "address": {"city": city, "country": country, "countryName": country_name,
                               "state": region, "street1": "%d %s" % (rng.randint(1, 999),
                                                                      rng.choice(STREETS)),
                               "zipcode": zipcode},
                   "state": "active"}
            if rng.random() < 0.3:
                loc["notes"] = "Badge at the \"front desk\"; parking C:\\level 2"
            loc.update({"version": rng.randint(1, 12), "path": path,
                        "selfUri": "/api/v2/locations/%s" % lid})
            out.append(loc)
        return out

    # -- queues and their members -------------------------------------------

    def _queues(self, rng, ds):
        """The dataset's queues (the ids its segments carry) and more, with
        members: the agents who handle each queue's conversations, some
        users not joined, and members by group."""
        handlers = {}
        for c in ds.conversations:
            for p in c["plain"]["participants"]:
                if p.get("purpose") != "agent":
                    continue
                for s in p["sessions"]:
                    for g in s["segments"]:
                        if "queueId" in g:
                            handlers.setdefault(g["queueId"], set()).add(p["userId"])
        divisions = self.tables["divisions"]
        groups = self.tables["groups"]
        active = sorted(u["id"] for u in ds.users if u["state"] == "active")
        rows = [(q["id"], q["name"]) for q in ds.queues]
        extra = names(QUEUE_EXTRA, 25 * self.scale - len(rows), lambda i: "Queue %03d" % i)
        rows += [(new_id(rng), n) for n in extra]
        out = []
        for qid, name in rows:
            members = {}
            for uid in sorted(handlers.get(qid, ())):
                members[uid] = {"userId": uid, "ringNumber": rng.randint(1, 3),
                                "joined": rng.random() < 0.9, "memberBy": "user"}
            # users who are members but not joined (all of a queue nobody in
            # the dataset works: most joined)
            pool = [uid for uid in active if uid not in members]
            quiet = not members
            for uid in rng.sample(pool, rng.randint(2 if members else 3, 8)):
                members[uid] = {"userId": uid, "ringNumber": rng.randint(1, 5),
                                "joined": quiet and rng.random() < 0.6, "memberBy": "user"}
            member_groups = []
            if rng.random() < 0.35:
                group = rng.choice(groups)
                member_groups.append({"id": group["id"], "name": group["name"],
                                      "type": "GROUP", "memberCount": group["memberCount"],
                                      "selfUri": group["selfUri"]})
                for uid in self.group_members[group["id"]]:
                    members.setdefault(uid, {"userId": uid, "ringNumber": 1,
                                             "joined": rng.random() < 0.5, "memberBy": "group"})
            self.members[qid] = sorted(members.values(), key=lambda m: m["userId"])
            out.append(self._queue(rng, qid, name, divisions, member_groups))
        return out

    def _queue(self, rng, qid, name, divisions, member_groups):
        """One Queue as the API renders it (member counts from self.members)."""
        created, modified = dates(rng)
        members = self.members[qid]
        division = divisions[0] if rng.random() < 0.5 else rng.choice(divisions)
        q = {"id": qid, "name": name, "division": ref(division, "authorization/divisions")}
        if rng.random() < 0.6:
            q["description"] = "Calls for %s" % name.strip()
        q.update({"dateCreated": created, "dateModified": modified,
                  "memberCount": len(members),
                  "userMemberCount": sum(1 for m in members if m["memberBy"] == "user"),
                  "joinedMemberCount": sum(1 for m in members if m["joined"])})
        settings = {}
        for media in MEDIA_SETTINGS:
            settings[media] = {"enableAutoAnswer": media != "call" and rng.random() < 0.2,
                               "alertingTimeoutSeconds": rng.choice([8, 15, 30, 60, 300]),
                               "serviceLevel": {"percentage": rng.choice([0.6, 0.75, 0.8, 0.9]),
                                                "durationMs": rng.choice([10000, 20000, 30000,
                                                                          60000, 86400000])}}
        q["mediaSettings"] = settings
        prompt = rng.choice(WRAPUP_PROMPTS)
        q["acwSettings"] = {"wrapupPrompt": prompt}
        if "TIMEOUT" in prompt:
            q["acwSettings"]["timeoutMs"] = rng.choice([30000, 60000, 120000])
        q["skillEvaluationMethod"] = rng.choice(["NONE", "BEST", "ALL"])
        if member_groups:
            q["memberGroups"] = member_groups
        if rng.random() < 0.4:
            q["callingPartyName"] = "Acme \"%s\"" % name.strip()
        q["selfUri"] = "/api/v2/routing/queues/%s" % qid
        return q

    def render_member(self, ds, m):
        """A QueueMember as the API renders it, or None when the user is gone
        (the user as GET /api/v2/users renders them now)."""
        u = ds.users_by_id.get(m["userId"])
        if u is None:
            return None
        status = ds.agent_status.current(u["id"])
        routing = {"userId": u["id"], "status": status["routing"]}
        if status["since"] is not None:
            routing["startTime"] = iso_ms(status["since"])
        return {"id": u["id"], "name": u["name"], "user": ds.render_user(u),
                "ringNumber": m["ringNumber"], "joined": m["joined"],
                "memberBy": m["memberBy"], "routingStatus": routing,
                "selfUri": "/api/v2/users/%s" % u["id"]}

    def truth(self, ds, table):
        """/__emu/dataset/<table>: every entity of a listing as the API
        renders it; for queue_members, every member of every queue, each
        with its queueId, in the listing's order."""
        if table != "queue_members":
            return self.tables[table]
        out = []
        for q in self.tables["queues"]:
            members = [self.render_member(ds, m) for m in self.members[q["id"]]]
            members = sorted((m for m in members if m is not None),
                             key=lambda m: (m["name"].casefold(), m["id"]))
            out.extend(dict({"queueId": q["id"]}, **m) for m in members)
        return out
