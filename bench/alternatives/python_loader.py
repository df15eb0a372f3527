#!/usr/bin/python3
"""The loader users run today, in the seeds' style: requests + psycopg2.

Pages POST /api/v2/analytics/conversations/details/query over 7-day
windows, refreshes the token on 401, sleeps on 429 as Retry-After says, and
inserts each page's conversations with psycopg2's executemany into a table
with the columns of gc_fdw's conversations foreign table (the eleven top
level fields and raw, the whole conversation as jsonb).  Used by
bench/perf.py as a baseline gc_fdw is measured against; it is not part
of gc_fdw.  Needs Debian's python3-requests and python3-psycopg2 (run with
/usr/bin/python3).

Usage: python_loader.py API_URL CLIENT_ID FROM TO TABLE   (secret in
GC_LOADER_SECRET; PostgreSQL connection from the PG* environment)
Prints one line: rows requests cpu_seconds peak_rss_kib
"""
import datetime as dt
import json
import os
import resource
import sys
import time

import psycopg2
import requests


# The target table's columns (those of gc_fdw's conversations foreign table)
# and the conversation keys they come from; raw is the whole conversation.
# Absent keys insert NULL; psycopg2 sends divisionIds as ARRAY['...'], a
# text[] that needs the explicit cast to uuid[].
COLUMNS = ("conversation_id", "conversation_start", "conversation_end", "originating_direction",
           "division_ids", "media_stats_min_conversation_mos",
           "media_stats_min_conversation_r_factor", "conversation_initiator",
           "customer_participation", "external_tag", "self_served")
KEYS = ("conversationId", "conversationStart", "conversationEnd", "originatingDirection",
        "divisionIds", "mediaStatsMinConversationMos", "mediaStatsMinConversationRFactor",
        "conversationInitiator", "customerParticipation", "externalTag", "selfServed")

PLACEHOLDERS = ", ".join("%s::uuid[]" if c == "division_ids" else "%s"
                         for c in COLUMNS + ("raw",))


def windows(lo, hi):
    day = dt.timedelta(days=7)
    while lo < hi:
        end = min(hi, dt.datetime.combine(lo.date(), dt.time(), lo.tzinfo) + day)
        yield lo, end
        lo = end


def iso(d):
    return d.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def main():
    api, client, lo, hi, table = sys.argv[1:6]
    secret = os.environ["GC_LOADER_SECRET"]
    lo = dt.datetime.fromisoformat(lo).replace(tzinfo=dt.timezone.utc)
    hi = dt.datetime.fromisoformat(hi).replace(tzinfo=dt.timezone.utc)
    session = requests.Session()
    requests_sent = 0

    def token():
        nonlocal requests_sent
        requests_sent += 1
        r = session.post(api + "/oauth/token", auth=(client, secret),
                         data={"grant_type": "client_credentials"})
        r.raise_for_status()
        return r.json()["access_token"]

    tok = token()
    db = psycopg2.connect("")
    cur = db.cursor()
    for w_lo, w_hi in windows(lo, hi):
        page = 1
        while True:
            body = {"interval": "%s/%s" % (iso(w_lo), iso(w_hi)), "order": "asc",
                    "orderBy": "conversationStart", "paging": {"pageSize": 100, "pageNumber": page}}
            r = session.post(api + "/api/v2/analytics/conversations/details/query", json=body,
                             headers={"Authorization": "Bearer " + tok})
            requests_sent += 1
            if r.status_code == 401:
                tok = token()
                continue
            if r.status_code == 429:
                time.sleep(float(r.headers.get("Retry-After", "3")))
                continue
            r.raise_for_status()
            convs = r.json().get("conversations") or []
            if not convs:
                break
            batch = [tuple(c.get(k) for k in KEYS) + (json.dumps(c),) for c in convs
                     if iso(w_lo) <= c["conversationStart"] < iso(w_hi)]
            cur.executemany("INSERT INTO %s (%s, raw) VALUES (%s) ON CONFLICT DO NOTHING"
                            % (table, ", ".join(COLUMNS), PLACEHOLDERS), batch)
            db.commit()
            page += 1
    cur.execute("SELECT count(*) FROM %s" % table)
    rows = cur.fetchone()[0]
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(rows, requests_sent, round(ru.ru_utime + ru.ru_stime, 3), ru.ru_maxrss)


if __name__ == "__main__":
    main()
