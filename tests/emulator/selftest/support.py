"""What the emulator's self-test modules share.

Each test_*.py module here starts genesys_emulator.py on a free port
(--port 0 --port-file) for its own tests (setUpModule/tearDownModule) and
talks to it with the helpers below.  Together the modules exercise every
endpoint, fault kind, setting and emuctl subcommand.
Run:  python3 -m unittest discover -s tests/emulator/selftest
"""

import base64
import gzip
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

EMU_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMULATOR = os.path.join(EMU_DIR, "genesys_emulator.py")
EMUCTL = os.path.join(os.path.dirname(EMU_DIR), "emuctl.py")
CLIENT_ID, CLIENT_SECRET = "gc-test-client", "gc-test-secret-XYZZY"
QUERY = "/api/v2/analytics/conversations/details/query"
JOBS = "/api/v2/analytics/conversations/details/jobs"

PROC = None
PORT = None
TMPDIR = None


def start_emulator():
    """Start the emulator for the calling test module."""
    global PROC, PORT, TMPDIR
    TMPDIR = tempfile.mkdtemp(prefix="gcemu")
    pf = os.path.join(TMPDIR, "port")
    PROC = subprocess.Popen([sys.executable, EMULATOR, "--port", "0", "--port-file", pf],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(200):
        if os.path.exists(pf):
            with open(pf) as f:
                PORT = int(f.read())
            return
        if PROC.poll() is not None:
            raise RuntimeError("emulator died: %s" % PROC.stderr.read().decode())
        time.sleep(0.05)
    raise RuntimeError("emulator did not start")


def stop_emulator():
    """Stop the emulator with SIGTERM; it must exit cleanly."""
    if PROC and PROC.poll() is None:
        PROC.send_signal(signal.SIGTERM)
        try:
            PROC.wait(timeout=10)
        except subprocess.TimeoutExpired:
            PROC.kill()
            PROC.wait()
    if PROC:
        PROC.stdout.close()
        PROC.stderr.close()
    if TMPDIR:
        shutil.rmtree(TMPDIR, ignore_errors=True)


def request(method, path, body=None, headers=None, conn=None, form=False):
    """One HTTP request -> (status, headers dict (lowercase), raw body bytes)."""
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    h = dict(headers or {})
    data = None
    if body is not None:
        if form:
            data = body.encode()
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        else:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    if own:
        c.close()
    if hdrs.get("content-encoding") == "gzip":
        raw = gzip.decompress(raw)
    return r.status, hdrs, raw


def jbody(raw):
    """Parse a JSON body."""
    return json.loads(raw.decode("utf-8"))


def basic(cid=CLIENT_ID, secret=CLIENT_SECRET):
    """Authorization header value for client credentials."""
    return "Basic " + base64.b64encode(("%s:%s" % (cid, secret)).encode()).decode()


def get_token(cid=CLIENT_ID, secret=CLIENT_SECRET):
    """Fetch an access token (asserts success)."""
    st, _, raw = request("POST", "/oauth/token", "grant_type=client_credentials",
                         {"Authorization": basic(cid, secret)}, form=True)
    assert st == 200, raw
    return jbody(raw)["access_token"]


def ctl(method, path, body=None):
    """Call the control API -> parsed JSON."""
    st, _, raw = request(method, path, body)
    assert st == 200, (st, raw)
    return jbody(raw)


def emuctl(*args, check=True):
    """Run tests/emuctl.py -> (rc, stdout, stderr)."""
    env = dict(os.environ, GC_EMU_URL="http://127.0.0.1:%d" % PORT)
    p = subprocess.run([sys.executable, EMUCTL] + list(args), capture_output=True,
                       text=True, env=env, timeout=60)
    if check:
        assert p.returncode == 0, p.stderr
    return p.returncode, p.stdout, p.stderr


class Base(unittest.TestCase):
    """Resets the emulator and holds a token for each test."""

    @classmethod
    def setUpClass(cls):
        cls.token = get_token()

    def setUp(self):
        ctl("POST", "/__emu/reset")

    def auth(self):
        return {"Authorization": "Bearer " + self.token}

    def api(self, method, path, body=None, headers=None):
        h = self.auth()
        h.update(headers or {})
        return request(method, path, body, h)

    def query(self, body):
        st, _, raw = self.api("POST", QUERY, body)
        return st, jbody(raw)

    def assert_platform_error(self, st, hdrs, raw, status, code):
        self.assertEqual(st, status)
        b = jbody(raw)
        self.assertEqual(set(b), {"message", "code", "status", "contextId", "messageWithParams",
                                  "messageParams", "details", "errors"})
        self.assertEqual(b["code"], code)
        self.assertEqual(b["status"], status)
        self.assertEqual(b["contextId"], hdrs["inin-correlation-id"])
        return b

    def all_pages(self, body):
        """Every conversation of a details query, paged by 100 -> (rows, totalHits)."""
        out, n = [], 1
        while True:
            body = dict(body, paging={"pageSize": 100, "pageNumber": n})
            st, b = self.query(body)
            self.assertEqual(st, 200, b)
            if "conversations" not in b:
                return out, b["totalHits"]
            out.extend(b["conversations"])
            n += 1

    def mutate(self, body, status=200):
        """POST /__emu/mutate, expecting status -> the answer."""
        st, _, raw = request("POST", "/__emu/mutate", body)
        self.assertEqual(st, status, raw)
        return jbody(raw)

    def users_any(self):
        """All users of every state (two pages of 500)."""
        out = []
        for n in (1, 2):
            st, _, raw = self.api("GET", "/api/v2/users?pageSize=500&state=any&pageNumber=%d" % n)
            out.extend(jbody(raw)["entities"])
        return out


DAY2 = {"interval": "2024-03-02T00:00:00Z/2024-03-03T00:00:00Z"}


def strip_extra(obj):
    """obj without the keys extra_fields adds (emuExtra...), at any depth."""
    if isinstance(obj, dict):
        return {k: strip_extra(v) for k, v in obj.items() if not k.startswith("emuExtra")}
    if isinstance(obj, list):
        return [strip_extra(v) for v in obj]
    return obj


def raw_get(path, headers, timeout=10):
    """GET over a raw socket -> (bytes received, how it ended: 'eof',
    'reset' or 'timeout'), for answers http.client cannot show."""
    import socket
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    try:
        req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % path
        req += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
        s.sendall(req.encode())
        data = b""
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                return data, "reset"
            except socket.timeout:
                return data, "timeout"
            if not d:
                return data, "eof"
            data += d
    finally:
        s.close()


def split_response(data):
    """Raw response bytes -> (status, headers dict (lowercase), body bytes)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, body
