#!/usr/bin/env python3
"""The floor of the loader benchmark: curl fetching the same details-query
pages gc_fdw asks for, to /dev/null.  No parsing, no database: what it costs
just to move the pages from the emulator to a client.

For a range [FROM, TO) it cuts the same windows gc_fdw cuts (a window starts
at the range start and ends at the range end or 7 days after the UTC
midnight on or before its start, whichever comes first), and sends exactly
the body gc_fdw builds (src/deparse.c gc_build_details_query):

    {"interval":"<start>/<end>","order":"asc","orderBy":"conversationStart",
     "paging":{"pageSize":100,"pageNumber":N}}

for N = 1 .. ceil(totalHits / 100), with Accept-Encoding gzip
(--compressed), as gc_fdw does, so the emulator's page cache serves the very
pages gc_fdw gets.  What is timed: one curl process for the token, then one
curl process for every page (a -K config of `next` entries, so the
keep-alive connection is reused): the sequential floor.  With --parallel N
the pages go through `--parallel --parallel-max N --parallel-immediate`
instead (N connections at once), the counterpart of gc_fdw's concurrency
option.  totalHits of each window is asked for beforehand (untimed, a
pageSize 1 query), since a floor need not discover it.

Usage: curl_floor.py URL CLIENT_ID FROM TO [--parallel N] [--runs R]
(secret in GC_LOADER_SECRET; FROM/TO are UTC dates or ISO instants)
Prints one JSON object per run: wall, cpu (curl's user+system seconds),
requests, pages, statuses, bytes.  bench/perf.py imports run_floor().
"""
import argparse
import datetime as dt
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

DETAILS = "/api/v2/analytics/conversations/details/query"
PAGE_SIZE = 100


def parse_utc(s):
    if isinstance(s, dt.datetime):
        return s if s.tzinfo else s.replace(tzinfo=dt.timezone.utc)
    d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


def iso_ms(d):
    """gc_format_timestamp: 2024-03-01T00:00:00.000Z"""
    d = d.astimezone(dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def windows(lo, hi):
    """gc_fdw's interval windows of [lo, hi): at most 7 days, cut 7 days
    after the UTC midnight on or before each window's start."""
    lo, hi = parse_utc(lo), parse_utc(hi)
    out = []
    while lo < hi:
        midnight = lo.replace(hour=0, minute=0, second=0, microsecond=0)
        end = min(hi, midnight + dt.timedelta(days=7))
        out.append((lo, end))
        lo = end
    return out


def body(w_lo, w_hi, page, page_size=PAGE_SIZE):
    """The exact bytes gc_fdw sends (no spaces, this key order)."""
    return ('{"interval":"%s/%s","order":"asc","orderBy":"conversationStart",'
            '"paging":{"pageSize":%d,"pageNumber":%d}}'
            % (iso_ms(w_lo), iso_ms(w_hi), page_size, page))


def token_urllib(url, client, secret):
    req = urllib.request.Request(
        url + "/oauth/token", data=b"grant_type=client_credentials", method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Authorization": "Basic " + __import__("base64").b64encode(
                     ("%s:%s" % (client, secret)).encode()).decode()})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())["access_token"]


def total_hits(url, token, w_lo, w_hi):
    """totalHits of a window (a pageSize 1 query, not one of gc_fdw's pages)."""
    req = urllib.request.Request(url + DETAILS, data=body(w_lo, w_hi, 1, 1).encode(),
                                 method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer " + token})
    with urllib.request.urlopen(req) as r:
        return int(json.loads(r.read()).get("totalHits") or 0)


def plan(url, client, secret, lo, hi):
    """[(w_lo, w_hi, totalHits, pages)] for the range, asked untimed."""
    tok = token_urllib(url, client, secret)
    out = []
    for w_lo, w_hi in windows(lo, hi):
        n = total_hits(url, tok, w_lo, w_hi)
        out.append((w_lo, w_hi, n, max(1, math.ceil(n / PAGE_SIZE))))
    return out


def _q(s):
    """A double-quoted curl config value."""
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def run_floor(url, client, secret, lo, hi, parallel=0, windows_plan=None, curl="curl"):
    """One timed pass: token + every page.  Returns a dict."""
    if windows_plan is None:
        windows_plan = plan(url, client, secret, lo, hi)
    with tempfile.TemporaryDirectory(prefix="gc_curl_floor.") as tmp:
        cfg_tok = os.path.join(tmp, "token.cfg")
        with open(cfg_tok, "w") as f:
            # the secret goes through a config file, not the command line
            f.write("url = %s\nuser = %s\ndata = \"grant_type=client_credentials\"\n"
                    "silent\nshow-error\nfail\n" % (_q(url + "/oauth/token"),
                                                     _q("%s:%s" % (client, secret))))
        cfg = os.path.join(tmp, "pages.cfg")
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        out = subprocess.run([curl, "-q", "-K", cfg_tok], capture_output=True, check=True).stdout
        tok = json.loads(out)["access_token"]
        # the config is written inside the timed part: it needs the token
        entries = []
        for w_lo, w_hi, _, pages in windows_plan:
            for p in range(1, pages + 1):
                entries.append(
                    "url = %s\nrequest = \"POST\"\nheader = %s\n"
                    "header = \"Content-Type: application/json\"\ndata-binary = %s\n"
                    "compressed\noutput = \"/dev/null\"\n"
                    "write-out = \"%%{http_code} %%{size_download} %%{num_connects}\\n\"\n"
                    % (_q(url + DETAILS), _q("Authorization: Bearer " + tok),
                       _q(body(w_lo, w_hi, p))))
        with open(cfg, "w") as f:
            f.write("silent\nshow-error\n" + "next\n".join(entries))
        args = [curl, "-q"]
        if parallel and parallel > 1:
            args += ["--parallel", "--parallel-max", str(parallel), "--parallel-immediate"]
        res = subprocess.run(args + ["-K", cfg], capture_output=True, text=True)
        wall = time.monotonic() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise RuntimeError("curl failed (%d): %s" % (res.returncode, res.stderr[-500:]))
    statuses = {}
    size = connects = 0
    for line in res.stdout.split("\n"):
        if not line.strip():
            continue
        code, nbytes, nconn = line.split()
        statuses[code] = statuses.get(code, 0) + 1
        size += int(nbytes)
        connects += int(nconn)
    pages = sum(w[3] for w in windows_plan)
    return {"wall": wall,
            "cpu": (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime),
            "requests": pages + 1, "pages": pages,
            "rows": sum(w[2] for w in windows_plan),
            "statuses": statuses, "bytes_downloaded": size, "connections": connects,
            "parallel": parallel or 1}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url")
    ap.add_argument("client")
    ap.add_argument("lo")
    ap.add_argument("hi")
    ap.add_argument("--parallel", type=int, default=0)
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args()
    secret = os.environ["GC_LOADER_SECRET"]
    wp = plan(a.url, a.client, secret, a.lo, a.hi)
    for _ in range(a.runs):
        print(json.dumps(run_floor(a.url, a.client, secret, a.lo, a.hi, a.parallel, wp)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
