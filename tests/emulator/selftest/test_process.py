"""The process: custom clients and seed, a clean SIGTERM exit, and HTTPS
with --tls-cert/--tls-key.
"""

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import support
from support import EMULATOR, basic, ctl

setUpModule = support.start_emulator
tearDownModule = support.stop_emulator


class TestProcess(unittest.TestCase):
    """A second emulator: custom clients and seed, clean SIGTERM exit."""

    def test_clients_seed_sigterm(self):
        pf = os.path.join(support.TMPDIR, "port2")
        p = subprocess.Popen([sys.executable, EMULATOR, "--port", "0", "--port-file", pf,
                              "--client", "alt:alt-secret", "--seed", "7"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for _ in range(200):
                if os.path.exists(pf):
                    break
                time.sleep(0.05)
            with open(pf) as f:
                port = int(f.read())
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("POST", "/oauth/token", body="grant_type=client_credentials",
                      headers={"Authorization": basic("alt", "alt-secret"),
                               "Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
            c.request("POST", "/oauth/token", body="grant_type=client_credentials",
                      headers={"Authorization": basic(),
                               "Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            self.assertEqual(r.status, 401)
            r.read()
            c.request("GET", "/__emu/dataset/users")
            other = json.loads(c.getresponse().read())
            c.close()
            self.assertNotEqual(other[20]["id"], ctl("GET", "/__emu/dataset/users")[20]["id"])
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=10), 0)
            err = p.stderr.read().decode()
            self.assertNotIn("alt-secret", err)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()

class TestTLS(unittest.TestCase):
    """--tls-cert/--tls-key: HTTPS with a self-signed certificate."""

    def test_https_with_and_without_the_ca(self):
        import ssl
        if shutil.which("openssl") is None or subprocess.run(
                ["openssl", "version"], capture_output=True).returncode != 0:
            self.skipTest("openssl is not installed: cannot make a self-signed certificate")
        d = tempfile.mkdtemp(prefix="gcemu-tls", dir=support.TMPDIR)
        cert, key, pf = (os.path.join(d, n) for n in ("cert.pem", "key.pem", "port"))
        p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-days", "2", "-keyout", key, "-out", cert],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        proc = subprocess.Popen([sys.executable, EMULATOR, "--port", "0", "--port-file", pf,
                                 "--tls-cert", cert, "--tls-key", key],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = ""
        try:
            for _ in range(200):
                if os.path.exists(pf) or proc.poll() is not None:
                    break
                time.sleep(0.05)
            self.assertIsNone(proc.poll(), "emulator with TLS did not start")
            with open(pf) as f:
                port = int(f.read())
            # trusting the certificate: the token endpoint and the API work
            ctx = ssl.create_default_context(cafile=cert)
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=ctx)
            c.request("POST", "/oauth/token", body="grant_type=client_credentials",
                      headers={"Authorization": basic(),
                               "Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            tok = json.loads(r.read())["access_token"]
            c.request("GET", "/api/v2/users?pageSize=3", headers={"Authorization": "Bearer " + tok})
            r = c.getresponse()
            self.assertEqual((r.status, len(json.loads(r.read())["entities"])), (200, 3))
            self.assertIsInstance(c.sock, ssl.SSLSocket)
            c.close()
            # without the CA the handshake fails verification ...
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=30,
                                            context=ssl.create_default_context())
            with self.assertRaises(ssl.SSLCertVerificationError):
                c.request("GET", "/__emu/health")
            c.close()
            # ... plain HTTP gets no answer, and the server keeps serving
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
                c.request("GET", "/__emu/health")
                c.getresponse()
            c.close()
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=ctx)
            c.request("GET", "/__emu/health")
            self.assertTrue(json.loads(c.getresponse().read())["ok"])
            # transport faults work over TLS too: a reset mid-body
            c.request("POST", "/__emu/faults", body=json.dumps({"kind": "reset"}),
                      headers={"Content-Type": "application/json"})
            c.getresponse().read()
            c.request("GET", "/api/v2/users?pageSize=100", headers={"Authorization": "Bearer " + tok})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            with self.assertRaises((ConnectionResetError, http.client.IncompleteRead, ssl.SSLError)):
                r.read()
            c.close()
            # --tls-cert without --tls-key is a usage error
            bad = subprocess.run([sys.executable, EMULATOR, "--tls-cert", cert],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(bad.returncode, 2)
            self.assertIn("--tls-cert and --tls-key go together", bad.stderr)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            err = proc.stderr.read().decode()
            proc.stderr.close()
        self.assertEqual(rc, 0, err)
        self.assertIn("listening on https://127.0.0.1:", err)
        self.assertNotIn("Traceback", err)
