"""TLS is always verified: against the emulator serving HTTPS with a
self-signed certificate on loopback, a server without ca_file fails with a
hint naming ca_file, and with ca_file pointing at that certificate it reads
exactly."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import gcfdw

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def read_text(path):
    with open(path) as f:
        return f.read().strip()


def setUpModule():
    gcfdw.setup_database()


class TlsVerification(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("openssl is not installed (tests/run-tests.sh installs it)")
        cls.dir = tempfile.mkdtemp(prefix="gc_tls_")
        os.chmod(cls.dir, 0o755)    # the server process reads the CA file
        cls.cert = os.path.join(cls.dir, "ca.pem")
        key = os.path.join(cls.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cls.cert, "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        os.chmod(cls.cert, 0o644)
        port_file = os.path.join(cls.dir, "port")
        cls.emulator = subprocess.Popen(
            ["python3", os.path.join(ROOT, "tests/emulator/genesys_emulator.py"), "--port", "0",
             "--port-file", port_file, "--tls-cert", cls.cert, "--tls-key", key,
             "--client", "%s:%s" % (os.environ["GC_EMU_CLIENT_ID"], os.environ["GC_EMU_SECRET"])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not (os.path.exists(port_file) and read_text(port_file)):
            if time.monotonic() > deadline or cls.emulator.poll() is not None:
                raise AssertionError("the TLS emulator did not start")
            time.sleep(0.05)
        cls.url = "https://127.0.0.1:%s" % read_text(port_file)
        gcfdw.psql("""
DROP SERVER IF EXISTS tls_emu CASCADE;
CREATE SERVER tls_emu FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url '%(url)s', login_url '%(url)s', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER tls_emu
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE FOREIGN TABLE tls_users (id uuid, state text) SERVER tls_emu OPTIONS (resource 'users');
""" % {"url": cls.url})

    @classmethod
    def tearDownClass(cls):
        cls.emulator.terminate()
        cls.emulator.wait(timeout=10)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_untrusted_certificate_fails_with_a_hint(self):
        gcfdw.psql("ALTER SERVER tls_emu OPTIONS (DROP ca_file);", check=False)
        proc = gcfdw.psql("\\set VERBOSITY verbose\nSELECT count(*) FROM tls_users;", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("ERROR:  HV00N: could not reach Genesys Cloud login service", proc.stderr)
        self.assertIn("set the ca_file option of server \"tls_emu\"", proc.stderr)

    def test_ca_file_trusts_the_private_ca(self):
        gcfdw.psql("ALTER SERVER tls_emu OPTIONS (DROP ca_file);", check=False)
        gcfdw.psql("ALTER SERVER tls_emu OPTIONS (ADD ca_file '%s');" % self.cert)
        out = gcfdw.psql("SELECT count(*), count(DISTINCT id) FROM tls_users;").stdout.strip()
        self.assertEqual(out, "%d|%d" % (600, 600))


if __name__ == "__main__":
    unittest.main()
