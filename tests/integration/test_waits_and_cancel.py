"""Every wait honours cancel, statement_timeout and terminate within about a
second, and Retry-After is waited out in full when it is allowed."""
import time
import unittest

import gcfdw

USERS = "SELECT count(*) FROM users;"


def setUpModule():
    gcfdw.setup_database()


class WaitsAndCancel(unittest.TestCase):
    def setUp(self):
        gcfdw.emu_reset()

    def test_retry_after_is_waited_in_full(self):
        gcfdw.emu_fault({"endpoint": "users", "kind": "status", "status": 429,
                         "retry_after": "2"})
        out = gcfdw.psql(USERS).stdout.strip()
        self.assertEqual(out, "600")
        log = [e for e in gcfdw.emu_log() if e["path"] == "/api/v2/users"]
        self.assertEqual([e["status"] for e in log[:2]], [429, 200])
        self.assertGreaterEqual(log[1]["time"] - log[0]["end_time"], 2.0)

    def test_retry_after_http_date_is_honoured(self):
        when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3))
        gcfdw.emu_fault({"endpoint": "users", "kind": "status", "status": 429,
                         "retry_after": when})
        self.assertEqual(gcfdw.psql(USERS).stdout.strip(), "600")
        log = [e for e in gcfdw.emu_log() if e["path"] == "/api/v2/users"]
        self.assertEqual(log[0]["status"], 429)
        # the date has one-second resolution: at least ~2 s were waited
        self.assertGreaterEqual(log[1]["time"] - log[0]["end_time"], 1.5)

    def test_statement_timeout_interrupts_retry_after(self):
        gcfdw.emu_fault({"endpoint": "users", "kind": "status", "status": 429,
                         "retry_after": "60"})
        start = time.monotonic()
        proc = gcfdw.psql("SET statement_timeout = '1s';\n" + USERS, check=False)
        elapsed = time.monotonic() - start
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("canceling statement due to statement timeout", proc.stderr)
        self.assertLess(elapsed, 3.0, "cancel took %.2f s" % elapsed)
        print("\n    statement_timeout 1s during a 60 s Retry-After returned after %.2f s" % elapsed)

    def interrupt_during(self, fault, app_name, signal_sql, waiting_on, query=USERS):
        """Start query under fault, wait until gc_fdw.progress shows the
        backend waiting on what waiting_on (a LIKE pattern) describes, send
        signal_sql at it, and return (seconds until psql returned, stderr)."""
        if fault:
            gcfdw.emu_fault(fault)
        proc = gcfdw.psql_background(query, app_name)
        pid = gcfdw.backend_pid(app_name)
        deadline = time.monotonic() + 30
        while gcfdw.psql("SELECT count(*) FROM gc_fdw.progress WHERE pid = %d"
                         " AND waiting_on LIKE '%s'" % (pid, waiting_on)).stdout.strip() != "1":
            self.assertLess(time.monotonic(), deadline, "the backend never waited on " + waiting_on)
            self.assertIsNone(proc.poll(), "the query ended before it waited")
            time.sleep(0.02)  # polling interval, not a race fix
        start = time.monotonic()
        gcfdw.psql(signal_sql % pid)
        proc.stdin = None           # psql_background wrote and closed it
        _, stderr = proc.communicate(timeout=30)
        return time.monotonic() - start, stderr

    def test_cancel_interrupts_retry_after(self):
        latency, stderr = self.interrupt_during(
            {"endpoint": "users", "kind": "status", "status": 429, "retry_after": "60"},
            "gc_cancel_sleep", "SELECT pg_cancel_backend(%d);", "Retry-After after HTTP 429%")
        self.assertIn("canceling statement due to user request", stderr)
        self.assertLess(latency, 1.5, "cancel took %.2f s" % latency)
        print("\n    pg_cancel_backend during a 429 sleep: returned after %.3f s" % latency)

    def test_cancel_interrupts_slow_transfer(self):
        latency, stderr = self.interrupt_during(
            {"endpoint": "users", "kind": "delay", "seconds": 60, "stream": True},
            "gc_cancel_transfer", "SELECT pg_cancel_backend(%d);", "HTTP GET /api/v2/users%")
        self.assertIn("canceling statement due to user request", stderr)
        self.assertLess(latency, 1.5, "cancel took %.2f s" % latency)
        print("\n    pg_cancel_backend during a slow transfer: returned after %.3f s" % latency)

    def test_cancel_interrupts_5xx_backoff(self):
        latency, stderr = self.interrupt_during(
            {"endpoint": "users", "kind": "status", "status": 503, "count": 0},
            "gc_cancel_backoff", "SELECT pg_cancel_backend(%d);", "backoff after HTTP 503%")
        self.assertIn("canceling statement due to user request", stderr)
        self.assertLess(latency, 1.5, "cancel took %.2f s" % latency)
        print("\n    pg_cancel_backend during a 5xx backoff: returned after %.3f s" % latency)

    def test_terminate_interrupts_slow_transfer(self):
        latency, stderr = self.interrupt_during(
            {"endpoint": "users", "kind": "delay", "seconds": 60, "stream": True},
            "gc_terminate_transfer", "SELECT pg_terminate_backend(%d);", "HTTP GET /api/v2/users%")
        self.assertIn("terminating connection due to administrator command", stderr)
        self.assertLess(latency, 1.5, "terminate took %.2f s" % latency)
        print("\n    pg_terminate_backend during a slow transfer: returned after %.3f s" % latency)

    def test_terminate_interrupts_5xx_backoff(self):
        latency, stderr = self.interrupt_during(
            {"endpoint": "users", "kind": "status", "status": 503, "count": 0},
            "gc_terminate_backoff", "SELECT pg_terminate_backend(%d);", "backoff after HTTP 503%")
        self.assertIn("terminating connection due to administrator command", stderr)
        self.assertLess(latency, 1.5, "terminate took %.2f s" % latency)
        print("\n    pg_terminate_backend during a 5xx backoff: returned after %.3f s" % latency)

    def test_statement_timeout_interrupts_5xx_backoff(self):
        """Backoff sleeps (1, 2, 4 s ... with max_retries 8) end with the
        statement."""
        gcfdw.emu_fault({"endpoint": "users", "kind": "status", "status": 503, "count": 0})
        start = time.monotonic()
        proc = gcfdw.psql("ALTER SERVER emu OPTIONS (SET max_retries '8');\n"
                          "SET statement_timeout = '2s';\n" + USERS, check=False)
        elapsed = time.monotonic() - start
        gcfdw.psql("ALTER SERVER emu OPTIONS (SET max_retries '3');")
        self.assertIn("canceling statement due to statement timeout", proc.stderr)
        self.assertLess(elapsed, 4.0, "cancel took %.2f s" % elapsed)
        print("\n    statement_timeout 2s during 5xx backoffs returned after %.2f s" % elapsed)

    def test_terminate_interrupts_retry_after(self):
        latency, stderr = self.interrupt_during(
            {"endpoint": "users", "kind": "status", "status": 429, "retry_after": "60"},
            "gc_terminate_sleep", "SELECT pg_terminate_backend(%d);", "Retry-After after HTTP 429%")
        self.assertIn("terminating connection due to administrator command", stderr)
        self.assertLess(latency, 1.5, "terminate took %.2f s" % latency)
        print("\n    pg_terminate_backend during a 429 sleep: returned after %.3f s" % latency)
        # the server is fine afterwards
        self.assertEqual(gcfdw.psql("SELECT 1;").stdout.strip(), "1")

    def job_poll_interrupted(self, app_name, signal_sql):
        gcfdw.emu_settings({"job_polls": 1000})
        return self.interrupt_during(
            None, app_name, signal_sql, "analytics job % next status poll",
            query="SELECT count(*) FROM jobs_conversations WHERE conversation_start >= "
                  "'2024-03-01' AND conversation_start < '2024-03-02';")

    def test_cancel_during_job_poll_deletes_the_job(self):
        latency, stderr = self.job_poll_interrupted("gc_cancel_job", "SELECT pg_cancel_backend(%d);")
        self.assertIn("canceling statement due to user request", stderr)
        self.assertLess(latency, 1.5, "cancel took %.2f s" % latency)
        deletes = [e for e in gcfdw.emu_log() if e["method"] == "DELETE"]
        self.assertEqual([e["status"] for e in deletes], [204])
        print("\n    pg_cancel_backend during a job poll: returned after %.3f s, job deleted" % latency)

    def test_terminate_during_job_poll_deletes_the_job(self):
        latency, stderr = self.job_poll_interrupted("gc_terminate_job",
                                                    "SELECT pg_terminate_backend(%d);")
        self.assertIn("terminating connection due to administrator command", stderr)
        self.assertLess(latency, 1.5, "terminate took %.2f s" % latency)
        deletes = gcfdw.wait_for_log(lambda log: [e for e in log if e["method"] == "DELETE"])
        self.assertEqual([e["status"] for e in deletes if e["method"] == "DELETE"], [204])
        print("\n    pg_terminate_backend during a job poll: returned after %.3f s, job deleted"
              % latency)

    def test_statement_timeout_interrupts_job_polling(self):
        """A 30 s sleep between job polls ends with the statement, and the
        unfinished job is deleted."""
        gcfdw.emu_settings({"job_polls": 1000})
        start = time.monotonic()
        proc = gcfdw.psql("SET statement_timeout = '1s';\n"
                          "SELECT count(*) FROM jobs_conversations WHERE conversation_start >= "
                          "'2024-03-01' AND conversation_start < '2024-03-02';", check=False)
        elapsed = time.monotonic() - start
        self.assertIn("canceling statement due to statement timeout", proc.stderr)
        self.assertLess(elapsed, 3.0, "cancel took %.2f s" % elapsed)
        deletes = [e for e in gcfdw.emu_log() if e["method"] == "DELETE"]
        self.assertEqual(len(deletes), 1)
        self.assertEqual(deletes[0]["status"], 204)
        print("\n    statement_timeout 1s during a 30 s job poll sleep returned after %.2f s" % elapsed)

    def test_statement_timeout_interrupts_slow_transfer(self):
        gcfdw.emu_fault({"endpoint": "users", "kind": "delay", "seconds": 60,
                         "stream": True})
        start = time.monotonic()
        proc = gcfdw.psql("SET statement_timeout = '1s';\n" + USERS, check=False)
        elapsed = time.monotonic() - start
        self.assertIn("canceling statement due to statement timeout", proc.stderr)
        self.assertLess(elapsed, 3.0)


if __name__ == "__main__":
    unittest.main()
