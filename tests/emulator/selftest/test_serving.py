"""The rate limit, pre-rendered pages and their invalidation, /__emu/stats
and the latency_ms setting.
"""

import http.client
import json
import time
import zlib

import support
from support import QUERY, JOBS, request, jbody, basic, get_token, ctl, emuctl, Base

setUpModule = support.start_emulator
tearDownModule = support.stop_emulator


class TestRateLimit(Base):
    def test_rate_limit_and_waits(self):
        ctl("POST", "/__emu/settings", {"rate_limit": 3, "rate_window": 2})
        sts, last = [], None
        for _ in range(4):
            st, h, raw = self.api("GET", "/api/v2/users?pageSize=1")
            sts.append(st)
            last = (st, h, raw)
        self.assertEqual(sts, [200, 200, 200, 429])
        st, h, raw = last
        self.assert_platform_error(st, h, raw, 429, "too.many.requests.retry.after")
        ra = int(h["retry-after"])
        self.assertTrue(1 <= ra <= 2)
        self.assertEqual(h["inin-ratelimit-allowed"], "3")
        time.sleep(ra)
        self.assertEqual(self.api("GET", "/api/v2/users?pageSize=1")[0], 200)
        rc, out, _ = emuctl("waits")
        self.assertEqual(out.split(), [str(ra)])
        self.assertEqual(emuctl("log-count", "--fault", "rate_limit")[1].strip(), "1")


class TestPrerenderedPages(Base):
    """The rendered-page cache: same bytes as a fresh rendering, dropped
    with the dataset version it belongs to, never used by faulted requests."""

    WEEK = "2024-03-01T00:00:00Z/2024-03-08T00:00:00Z"

    def setUp(self):
        # cold caches, so that hits and misses are this test's own
        ctl("POST", "/__emu/reset", {"caches": True})

    def page(self, body, gz=False):
        """A details query page -> (status, headers, identity bytes)."""
        return self.api("POST", QUERY, body, {"Accept-Encoding": "gzip"} if gz else None)

    def fresh(self, method, path, body=None, gz=False):
        """The same request rendered outside the cache: a zero-second delay
        fault fires on it, which changes nothing but the cache's part."""
        ctl("POST", "/__emu/faults", {"kind": "delay", "seconds": 0, "path": path.split("?")[0]})
        st, h, raw = self.api(method, path, body, {"Accept-Encoding": "gzip"} if gz else None)
        self.assertEqual(ctl("GET", "/__emu/faults")[0]["spent"], True)
        ctl("DELETE", "/__emu/faults")
        return st, h, raw

    def test_cached_pages_equal_uncached_rendering(self):
        ctl("POST", "/__emu/settings", {"job_polls": 0})
        jid = jbody(self.api("POST", JOBS, {"interval": "2024-03-05T00:00:00Z/2024-03-07T00:00:00Z"})[2])["jobId"]
        self.api("GET", "%s/%s" % (JOBS, jid))
        seg = [{"type": "and", "predicates": [{"dimension": "mediaType", "value": "voice"}]}]
        requests = [("GET", "/api/v2/users?pageSize=500&state=any&expand=dateLastLogin", None),
                    ("GET", "/api/v2/users?state=inactive&sortOrder=desc&pageSize=7&pageNumber=2", None),
                    ("GET", "%s/%s/results?pageSize=40" % (JOBS, jid), None)]
        for order, order_by, filters, size, number in [
                ("asc", "conversationStart", {}, 100, 1), ("desc", "segmentEnd", {}, 7, 3),
                ("unordered", "conversationEnd", {"segmentFilters": seg}, 25, 2),
                ("asc", "conversationStart", {}, 100, 50)]:        # past the end: no rows
            requests.append(("POST", QUERY, dict(filters, interval=self.WEEK, order=order,
                                                 orderBy=order_by,
                                                 paging={"pageSize": size, "pageNumber": number})))
        for method, path, body in requests:
            for gz in (False, True):
                st, h, raw = self.api(method, path, body, {"Accept-Encoding": "gzip"} if gz else None)
                st2, h2, cached = self.api(method, path, body,
                                           {"Accept-Encoding": "gzip"} if gz else None)
                st3, h3, fresh = self.fresh(method, path, body, gz)
                self.assertEqual((st, st2, st3), (200, 200, 200), raw)
                self.assertEqual(raw, cached, path)
                self.assertEqual(cached, fresh, path)
                self.assertEqual(h2.get("content-encoding"), "gzip" if gz else None)
                self.assertEqual(h2["content-length"], h.get("content-length"))
        # one miss per page and encoding, then hits; faulted requests count neither
        stats = ctl("GET", "/__emu/stats")
        self.assertEqual((stats["cache_misses"], stats["cache_hits"]),
                         (2 * len(requests), 2 * len(requests)))
        # the shape is the one the API answers with, byte for byte
        dataset = ctl("GET", "/__emu/dataset/conversations")
        week = [c for c in dataset if c["conversationStart"] < "2024-03-08"]
        st, _, raw = self.page({"interval": self.WEEK, "paging": {"pageSize": 100}})
        self.assertEqual(raw, json.dumps({"conversations": week[:100], "totalHits": len(week)},
                                         ensure_ascii=False, separators=(",", ":")).encode())
        st, _, raw = self.page({"interval": self.WEEK, "paging": {"pageSize": 100,
                                                                  "pageNumber": 50}})
        self.assertEqual(raw, b'{"totalHits":%d}' % len(week))

    def test_invalidation_after_mutate_settings_and_reset(self):
        body = {"interval": "2024-03-04T00:00:00Z/2024-03-05T00:00:00Z",
                "paging": {"pageSize": 10, "pageNumber": 2}}
        _, _, before = self.page(body)
        self.assertEqual(self.page(body)[2], before)
        conv = jbody(before)["conversations"][0]
        # a late wrap-up code publishes a new dataset version: the page follows
        ctl("POST", "/__emu/mutate", {"action": "wrapup", "conversationId": conv["conversationId"],
                                      "wrapUpCode": "late-code"})
        _, _, after = self.page(body)
        self.assertIn(b'"wrapUpCode":"late-code"', after)
        self.assertNotEqual(after, before)
        # an added conversation before these rows shifts them and adds a hit
        ctl("POST", "/__emu/mutate", {"action": "add", "start": "2024-03-04T00:00:01Z"})
        b = jbody(self.page(body)[2])
        self.assertEqual(b["totalHits"], jbody(before)["totalHits"] + 1)
        self.assertEqual(b["conversations"][1]["conversationId"], conv["conversationId"])
        # a setting that shapes the body is part of the key
        ctl("POST", "/__emu/settings", {"page_shift": 3})
        shifted = jbody(self.page(body)[2])["conversations"]
        self.assertEqual(shifted[4]["conversationId"], conv["conversationId"])
        # user listings follow a PATCH too
        users = "/api/v2/users?pageSize=500&state=any"
        listing = jbody(self.api("GET", users)[2])["entities"]
        u = next(x for x in listing if x["state"] == "active")
        st, _, raw = self.api("PATCH", "/api/v2/users/" + u["id"],
                              {"version": u["version"], "title": "Cache buster"})
        self.assertEqual(st, 200, raw)
        again = {x["id"]: x for x in jbody(self.api("GET", users)[2])["entities"]}
        self.assertEqual(again[u["id"]]["title"], "Cache buster")
        # reset puts back the pristine dataset, whose pages are still right
        ctl("POST", "/__emu/reset")
        self.assertEqual(self.page(body)[2], before)
        stats = ctl("GET", "/__emu/stats")
        self.assertEqual((stats["cache_hits"], stats["cache_misses"]), (1, 0))
        again = {x["id"]: x for x in jbody(self.api("GET", users)[2])["entities"]}
        self.assertEqual(again[u["id"]], u)

    def test_faults_bypass_the_cache(self):
        body = {"interval": self.WEEK, "paging": {"pageSize": 5, "pageNumber": 2}}
        # a rewritten answer is neither served from nor stored in the cache
        ctl("POST", "/__emu/faults", {"kind": "extra_fields", "endpoint": "details"})
        _, _, faulted = self.page(body, gz=True)
        self.assertIn(b"emuExtraTopFirst", faulted)
        st, h, clean = self.page(body, gz=True)
        self.assertNotIn(b"emuExtra", clean)
        self.assertEqual(ctl("GET", "/__emu/stats")["cache_misses"], 1)
        # with the page cached, faults still see (and change) a fresh body
        ctl("POST", "/__emu/faults", [{"kind": "total_hits", "delta": 7},
                                      {"kind": "repeat_page"}])
        self.assertEqual(jbody(self.page(body)[2])["totalHits"], jbody(clean)["totalHits"] + 7)
        page1 = self.page(dict(body, paging={"pageSize": 5, "pageNumber": 1}))[2]
        self.assertEqual(self.page(body)[2], page1)          # repeat_page: page 1 again
        self.assertEqual(self.page(body, gz=True)[2], clean)
        # a truncated gzip answer is half of what a fresh compression sends
        ctl("POST", "/__emu/faults", {"kind": "truncate", "endpoint": "details"})
        c = http.client.HTTPConnection("127.0.0.1", support.PORT, timeout=30)
        c.request("POST", QUERY, json.dumps(body), dict(self.auth(), **{
            "Accept-Encoding": "gzip", "Content-Type": "application/json"}))
        r = c.getresponse()
        full = int(r.getheader("Content-Length"))
        part = b""
        try:
            part = r.read()
        except http.client.IncompleteRead as e:
            part = e.partial
        c.close()
        self.assertEqual(len(part), full // 2)
        head = zlib.decompressobj(31).decompress(part)
        self.assertEqual(head, clean[:len(head)])
        # counted: the two clean pages (misses) and the clean page again (a hit)
        stats = ctl("GET", "/__emu/stats")
        self.assertEqual((stats["cache_hits"], stats["cache_misses"]), (1, 2))

    def test_prerender(self):
        query = {"interval": self.WEEK, "order": "desc", "orderBy": "conversationEnd",
                 "paging": {"pageSize": 100, "pageNumber": 7}}     # pageNumber is ignored
        out = ctl("POST", "/__emu/prerender", query)
        self.assertEqual(set(out), {"pages", "totalHits", "bytes", "identity_bytes",
                                    "gzip_bytes", "seconds"})
        self.assertEqual(out["pages"], -(-out["totalHits"] // 100))
        self.assertEqual(out["bytes"], out["identity_bytes"] + out["gzip_bytes"])
        self.assertGreater(out["gzip_bytes"], 0)
        identity = gzipped = 0
        for n in range(1, out["pages"] + 1):
            page = dict(query, paging={"pageSize": 100, "pageNumber": n})
            st, h, raw = self.page(page)
            self.assertEqual(st, 200)
            identity += len(raw)
            st, h, raw = self.page(page, gz=True)
            gzipped += int(h["content-length"])
        self.assertEqual((identity, gzipped), (out["identity_bytes"], out["gzip_bytes"]))
        stats = ctl("GET", "/__emu/stats")
        self.assertEqual((stats["cache_hits"], stats["cache_misses"]), (2 * out["pages"], 0))
        # an empty interval still has its page 1; page_shift and max_results apply
        empty = ctl("POST", "/__emu/prerender", {"interval": "2023-01-01T00:00:00Z/2023-01-02T00:00:00Z"})
        self.assertEqual((empty["pages"], empty["totalHits"]), (1, 0))
        ctl("POST", "/__emu/settings", {"max_results": 300})
        self.assertEqual(ctl("POST", "/__emu/prerender", query)["pages"], 3)
        ctl("POST", "/__emu/settings", {"max_results": 100000, "page_shift": 50})
        shifted = ctl("POST", "/__emu/prerender", query)
        self.assertEqual(shifted["pages"], -(-(out["totalHits"] + 50) // 100))
        # it validates like the API
        for bad in ({}, {"interval": "2024-03-01T00:00:00Z/2024-03-09T00:00:00Z"},
                    {"interval": self.WEEK, "paging": {"pageSize": 101}}):
            st, _, raw = request("POST", "/__emu/prerender", bad)
            self.assertEqual(st, 400)
            self.assertEqual(set(jbody(raw)), {"error"})

    def test_rate_limit_still_counts_cached_pages(self):
        ctl("POST", "/__emu/prerender", {"interval": self.WEEK})
        ctl("POST", "/__emu/settings", {"rate_limit": 3, "rate_window": 60})
        counts = []
        for _ in range(3):
            st, h, raw = self.page({"interval": self.WEEK}, gz=True)
            self.assertEqual(st, 200)
            counts.append(h["inin-ratelimit-count"])
        self.assertEqual(counts, ["1", "2", "3"])
        st, h, raw = self.page({"interval": self.WEEK}, gz=True)
        self.assert_platform_error(st, h, raw, 429, "too.many.requests.retry.after")
        self.assertTrue(1 <= int(h["retry-after"]) <= 60)
        self.assertEqual(h["inin-ratelimit-allowed"], "3")
        stats = ctl("GET", "/__emu/stats")
        self.assertEqual((stats["cache_hits"], stats["cache_misses"]), (3, 0))

    def test_stats(self):
        stats = ctl("GET", "/__emu/stats")
        self.assertEqual({k: stats[k] for k in ("requests", "handler_seconds", "latency_seconds",
                                                "cache_hits", "cache_misses")},
                         {"requests": 0, "handler_seconds": 0.0, "latency_seconds": 0.0,
                          "cache_hits": 0, "cache_misses": 0})
        t0 = time.monotonic()
        get_token()
        for _ in range(3):
            self.page({"interval": self.WEEK})
        self.api("GET", "/api/v2/users/no-such-user")
        wall = time.monotonic() - t0
        stats = ctl("GET", "/__emu/stats")      # control requests are not counted
        self.assertEqual((stats["requests"], stats["cache_hits"], stats["cache_misses"]),
                         (5, 2, 1))
        self.assertGreater(stats["handler_seconds"], 0)
        self.assertLess(stats["handler_seconds"], wall)
        self.assertGreater(stats["cached_pages"], 0)
        ctl("POST", "/__emu/reset")
        self.assertEqual(ctl("GET", "/__emu/stats")["requests"], 0)


class TestLatency(Base):
    """latency_ms delays /api/ answers in their own connection's thread."""

    def timed(self, method, path, body=None, headers=None, form=False):
        t0 = time.monotonic()
        st, _, _ = request(method, path, body, headers, form=form)
        return st, time.monotonic() - t0

    def test_latency_delays_api_only(self):
        self.assertEqual(ctl("GET", "/__emu/settings")["latency_ms"], 0)
        ctl("POST", "/__emu/settings", {"latency_ms": 300})
        st, took = self.timed("GET", "/api/v2/users?pageSize=1", headers=self.auth())
        self.assertEqual(st, 200)
        self.assertGreaterEqual(took, 0.3)
        st, took = self.timed("GET", "/api/v2/users?pageSize=1")      # a 401 waits as well
        self.assertEqual(st, 401)
        self.assertGreaterEqual(took, 0.3)
        st, took = self.timed("POST", "/oauth/token", "grant_type=client_credentials",
                              {"Authorization": basic()}, form=True)
        self.assertEqual(st, 200)
        self.assertLess(took, 0.3)
        st, took = self.timed("GET", "/__emu/health")
        self.assertLess(took, 0.3)
        stats = ctl("GET", "/__emu/stats")
        self.assertAlmostEqual(stats["latency_seconds"], 0.6, places=6)
        self.assertLess(stats["handler_seconds"], 0.3)       # the wait is not handler time
        for bad in (-1, "100", True, 600001):
            st, _, raw = request("POST", "/__emu/settings", {"latency_ms": bad})
            self.assertEqual(st, 400, bad)

    def test_latency_overlaps_across_connections(self):
        import threading
        ctl("POST", "/__emu/settings", {"latency_ms": 300})
        conns = [http.client.HTTPConnection("127.0.0.1", support.PORT, timeout=30) for _ in range(2)]
        for c in conns:
            c.connect()             # both connections (and threads) exist before the clock
        took = [None, None]
        go = threading.Barrier(2)

        def fetch(i):
            go.wait()
            t0 = time.monotonic()
            st, _, _ = request("POST", QUERY, {"interval": "2024-03-01T00:00:00Z/2024-03-02T00:00:00Z"},
                               self.auth(), conn=conns[i])
            took[i] = (st, time.monotonic() - t0)
        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(2)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        for c in conns:
            c.close()
        for st, secs in took:
            self.assertEqual(st, 200)
            self.assertGreaterEqual(secs, 0.3)
        self.assertLess(wall, 2 * 0.3)
