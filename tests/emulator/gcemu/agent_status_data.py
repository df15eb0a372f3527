"""Agent status history: every user's presence and routing-status timeline.

Owns: generating the timelines deterministically (each user from a random
stream of its own, never the dataset's), consistent with the
conversations: while an agent handles one (from its first segment to the
end of its wrap-up) the agent is ON_QUEUE and INTERACTING (COMMUNICATING
on an outbound call the agent placed); between conversations IDLE, now
and then NOT_RESPONDING, with breaks and meals; off queue AVAILABLE, AWAY,
BUSY, MEETING, TRAINING or OFFLINE.  Each timeline is contiguous, starts
on 2024-02-29 and ends with open records (no end) at the dataset's end;
records cross UTC midnights and 7-day window edges.  Also: what a user's
status is now (queue members show it), the records overlapping an
interval, and the changes mutations make (a fork's copy).

Must not: draw from the dataset's random stream, or know about HTTP.
"""

import bisect
import datetime as dt
import random

from .wire import DAY_MS, epoch_ms, parse_iso

MINUTE = 60000
HOUR = 60 * MINUTE
TIMELINE_START = epoch_ms(dt.datetime(2024, 2, 29, tzinfo=dt.timezone.utc))
DATASET_END = epoch_ms(dt.datetime(2024, 3, 22, tzinfo=dt.timezone.utc))
# handling blocks further apart than this are separate on-queue sessions
SESSION_GAP = 2 * HOUR
# an idle stretch this long inside a session may hold a break or a meal
BREAK_ROOM = 40 * MINUTE
# the org's own definitions used instead of the system one, now and then
CUSTOM_SHARE = 0.25
# the deactivated "away" definition was in use before this instant
DEACTIVATED_UNTIL = epoch_ms(dt.datetime(2024, 3, 10, tzinfo=dt.timezone.utc))
PRESENCE_OFF_QUEUE = ("AVAILABLE", "AWAY", "BUSY", "MEETING", "TRAINING")


def handling_intervals(conversations):
    """user id -> sorted [(start, end or None, routing status)] of the
    conversations each agent handles: from the agent's first segment to its
    last one's end (None while open), COMMUNICATING when the agent dialled."""
    out = {}
    for c in conversations:
        for p in c["plain"]["participants"]:
            if p.get("purpose") != "agent" or not p.get("userId"):
                continue
            segs = [g for s in p["sessions"] for g in s["segments"]]
            start = min(g["segmentStart"] for g in segs)
            ends = [g.get("segmentEnd") for g in segs]
            end = None if None in ends else max(ends)
            status = "COMMUNICATING" if segs[0]["segmentType"] == "dialing" else "INTERACTING"
            out.setdefault(p["userId"], []).append(
                (parse_iso(start), None if end is None else parse_iso(end), status))
    for spans in out.values():
        spans.sort(key=lambda s: s[0])
    return out


def merge_blocks(spans):
    """Overlapping handling intervals merged -> [(start, end or None, status)];
    a block holding an inbound conversation is INTERACTING."""
    blocks = []
    for start, end, status in spans:
        if blocks and (blocks[-1][1] is None or start <= blocks[-1][1]):
            b = blocks[-1]
            new_end = None if (b[1] is None or end is None) else max(b[1], end)
            blocks[-1] = (b[0], new_end, "INTERACTING" if "INTERACTING" in (b[2], status)
                          else status)
        else:
            blocks.append((start, end, status))
    return blocks


def merge_spans(spans):
    """On-queue spans [start, end or None, blocks] merged where they overlap
    -> [(start, end or None, blocks in order)] by start."""
    out = []
    for on, off, blocks in sorted(spans, key=lambda s: s[0]):
        if out and (out[-1][1] is None or on <= out[-1][1]):
            prev = out[-1]
            end = None if (prev[1] is None or off is None) else max(prev[1], off)
            out[-1] = (prev[0], end, prev[2] + blocks)
        else:
            out.append((on, off, list(blocks)))
    return out


class Timeline:
    """One user's records under construction: presence and routing, each
    contiguous; add() appends a record from the end of the last one."""

    def __init__(self, start):
        self.presence = []          # [start, end, systemPresence, organizationPresenceId]
        self.routing = []           # [start, end, routingStatus]
        self.p_at = start
        self.r_at = start

    def add_presence(self, end, system, org_id):
        if end is not None and end <= self.p_at:
            return
        if self.presence and self.presence[-1][2] == system and self.presence[-1][3] == org_id:
            self.presence[-1][1] = end
        else:
            self.presence.append([self.p_at, end, system, org_id])
        self.p_at = end

    def add_routing(self, end, status):
        if end is not None and end <= self.r_at:
            return
        if self.routing and self.routing[-1][2] == status:
            self.routing[-1][1] = end
        else:
            self.routing.append([self.r_at, end, status])
        self.r_at = end


class AgentStatus:
    """Every user's presence and routing-status records.

    presence maps a user id to [(start, end or None, systemPresence,
    organizationPresenceId)] and routing to [(start, end or None,
    routingStatus)], sorted and contiguous, the last one open; starts
    holds each list's start instants for bisect.  A fork shares the lists
    and replaces the ones a mutation changes."""

    def __init__(self, ds, presence_definitions):
        self.seed = ds.seed
        self.definitions = {}
        for p in presence_definitions:
            if not p["deactivated"] or p["systemPresence"] == "AWAY":
                self.definitions.setdefault(p["systemPresence"], []).append(p)
        self.presence = {}
        self.routing = {}
        handling = handling_intervals(ds.conversations)
        agents = {u["id"] for u in ds.users if u["state"] == "active"} & set(handling)
        for u in ds.users:
            uid = u["id"]
            rng = random.Random("status:%d:%s" % (self.seed, uid))
            if uid in agents:
                t = self._agent(rng, merge_blocks(handling[uid]))
            elif u["state"] == "active" and rng.random() < 0.5:
                t = self._office(rng)
            else:
                continue
            self.presence[uid] = [tuple(r) for r in t.presence]
            if t.routing:                       # users who take no conversations have none
                self.routing[uid] = [tuple(r) for r in t.routing]
        self.index()

    def index(self):
        """The start instants of every list, for bisect (after a change)."""
        self.p_starts = {u: [r[0] for r in rs] for u, rs in self.presence.items()}
        self.r_starts = {u: [r[0] for r in rs] for u, rs in self.routing.items()}

    def fork(self):
        """A copy a mutation may change (the maps are copied, the lists shared)."""
        a = AgentStatus.__new__(AgentStatus)
        a.__dict__.update(self.__dict__)
        a.presence = dict(self.presence)
        a.routing = dict(self.routing)
        a.p_starts = dict(self.p_starts)
        a.r_starts = dict(self.r_starts)
        return a

    # -- generation ---------------------------------------------------------

    def org_presence(self, rng, system, at):
        """The organizationPresenceId of a record of system presence at at:
        the system definition, or now and then one of the org's own (the
        deactivated one only before it was deactivated)."""
        defs = self.definitions[system]
        primary = next(p for p in defs if p["primary"])
        own = [p for p in defs if not p["primary"]
               and (not p["deactivated"] or at < DEACTIVATED_UNTIL)]
        if own and rng.random() < CUSTOM_SHARE:
            return rng.choice(own)["id"]
        return primary["id"]

    def _off_queue(self, rng, t, end, first=False, last=False):
        """Presence off queue until end (None: open): AVAILABLE a while after
        a session, OFFLINE through long stretches, AVAILABLE again before the
        next one; shorter stretches in pieces of other presences.  The
        routing status is OFF_QUEUE throughout."""
        start = t.p_at
        span = None if end is None else end - start
        if span is None or span >= 6 * HOUR:
            if not first:
                lead = t.p_at + rng.randint(5, 30) * MINUTE
                t.add_presence(lead, "AVAILABLE", self.org_presence(rng, "AVAILABLE", lead))
            if end is None:
                t.add_presence(None, "OFFLINE", self.org_presence(rng, "OFFLINE", t.p_at))
            else:
                back = end - rng.randint(5, 30) * MINUTE
                t.add_presence(back, "OFFLINE", self.org_presence(rng, "OFFLINE", t.p_at))
                t.add_presence(end, "AVAILABLE", self.org_presence(rng, "AVAILABLE", back))
        else:
            pieces = rng.randint(1, 3)
            for k in range(pieces):
                piece_end = end if k == pieces - 1 else start + span * (k + 1) // pieces
                system = rng.choice(PRESENCE_OFF_QUEUE)
                t.add_presence(piece_end, system, self.org_presence(rng, system, t.p_at))
        t.add_routing(end, "OFF_QUEUE")

    def _agent(self, rng, blocks):
        """An agent's timeline: on queue through its shifts (five days a week
        or so, eight to nine hours from a time of day of its own, night
        shifts crossing midnight) and around every handling block outside
        them, off queue otherwise."""
        t = Timeline(TIMELINE_START + rng.randint(0, 12) * HOUR)
        spans = []
        for b in blocks:                        # handling, grouped into sessions
            if spans and spans[-1][2][-1][1] is not None \
                    and b[0] - spans[-1][2][-1][1] <= SESSION_GAP:
                spans[-1][2].append(b)
            else:
                spans.append([b[0], None, [b]])
        for span in spans:
            first, last = span[2][0], span[2][-1]
            span[0] = first[0] - rng.randint(5, 45) * MINUTE
            span[1] = None if last[1] is None else last[1] + rng.randint(5, 45) * MINUTE
        base = rng.randint(0, 23) * HOUR
        day = TIMELINE_START + DAY_MS
        while day + base + 10 * HOUR < DATASET_END:
            if rng.random() < 5 / 7:
                on = day + base + rng.randint(-60, 60) * MINUTE
                spans.append([on, on + rng.randint(8 * 60, 9 * 60) * MINUTE, []])
            day += DAY_MS
        first = True
        for on, off, session in merge_spans(spans):
            self._off_queue(rng, t, on, first=first)
            first = False
            on_queue = self.org_presence(rng, "ON_QUEUE", on)
            for start, end, status in session:
                self._idle(rng, t, start, on_queue)
                t.add_presence(end, "ON_QUEUE", on_queue)
                t.add_routing(end, status)
                if end is None:
                    return t
            self._idle(rng, t, off, on_queue)
        self._off_queue(rng, t, None)
        return t

    def _idle(self, rng, t, until, on_queue):
        """On queue and idle until until: IDLE, now and then NOT_RESPONDING
        for a few seconds, and in every long stretch maybe a break or a meal
        (off queue)."""
        while until - t.r_at > 3 * HOUR:
            self._idle_stretch(rng, t, t.r_at + rng.randint(90, 150) * MINUTE, on_queue)
        self._idle_stretch(rng, t, until, on_queue)

    def _idle_stretch(self, rng, t, until, on_queue):
        """One idle stretch of _idle: at most one break and one NOT_RESPONDING."""
        gap = until - t.r_at
        if gap >= BREAK_ROOM and rng.random() < 0.5:
            system, length = rng.choice([("BREAK", 15 * MINUTE), ("MEAL", 30 * MINUTE)])
            b0 = t.r_at + (gap - length) // 2
            t.add_presence(b0, "ON_QUEUE", on_queue)
            t.add_routing(b0, "IDLE")
            t.add_presence(b0 + length, system, self.org_presence(rng, system, b0))
            t.add_routing(b0 + length, "OFF_QUEUE")
        if gap > 5 * MINUTE and rng.random() < 0.15:
            nr = t.r_at + rng.randint(1, 3) * MINUTE
            t.add_routing(nr, "IDLE")
            t.add_routing(nr + rng.randint(15, 30) * 1000, "NOT_RESPONDING")
        t.add_presence(until, "ON_QUEUE", on_queue)
        t.add_routing(until, "IDLE")

    def _office(self, rng):
        """A user who takes no conversations: presence only, working days
        (Monday to Friday) from a morning start for eight or nine hours,
        AVAILABLE with meetings, meals and busy spells, OFFLINE otherwise."""
        t = Timeline(TIMELINE_START)
        day = TIMELINE_START
        while day < DATASET_END:
            weekday = dt.datetime.fromtimestamp(day / 1000, tz=dt.timezone.utc).weekday()
            if weekday < 5:
                arrive = day + rng.randint(6 * 60, 11 * 60) * MINUTE
                leave = min(arrive + rng.randint(8 * 60, 9 * 60) * MINUTE, DATASET_END)
                t.add_presence(arrive, "OFFLINE", self.org_presence(rng, "OFFLINE", t.p_at))
                while t.p_at < leave:
                    piece = min(leave, t.p_at + rng.randint(20, 150) * MINUTE)
                    system = rng.choice(["AVAILABLE", "AVAILABLE", "MEETING", "BUSY", "AWAY",
                                         "MEAL", "TRAINING"])
                    t.add_presence(piece, system, self.org_presence(rng, system, t.p_at))
            day += DAY_MS
        t.add_presence(None, "OFFLINE", self.org_presence(rng, "OFFLINE", t.p_at))
        return t

    # -- reading ------------------------------------------------------------

    def current(self, uid):
        """A user's status now: {routing, presence, since} from the open
        records, or OFF_QUEUE and OFFLINE (since unknown) without records."""
        routing = self.routing.get(uid)
        presence = self.presence.get(uid)
        return {"routing": routing[-1][2] if routing else "OFF_QUEUE",
                "presence": presence[-1][2] if presence else "OFFLINE",
                "since": routing[-1][0] if routing else None}

    @staticmethod
    def overlapping(records, starts, lo, hi):
        """The records (sorted, contiguous) that overlap [lo, hi)."""
        i = max(0, bisect.bisect_right(starts, lo) - 1)
        out = []
        while i < len(records) and records[i][0] < hi:
            end = records[i][1]
            if end is None or end > lo:
                out.append(records[i])
            i += 1
        return out

    def user_records(self, uid, lo, hi):
        """(presence, routing) records of uid overlapping [lo, hi)."""
        p = self.presence.get(uid)
        r = self.routing.get(uid)
        return (self.overlapping(p, self.p_starts[uid], lo, hi) if p else [],
                self.overlapping(r, self.r_starts[uid], lo, hi) if r else [])

    # -- changes (on a fork) -------------------------------------------------

    def set_user(self, uid, presence, routing):
        """Replace uid's two lists (a fork only)."""
        self.presence[uid] = presence
        self.routing[uid] = routing
        self.p_starts[uid] = [r[0] for r in presence]
        self.r_starts[uid] = [r[0] for r in routing]
