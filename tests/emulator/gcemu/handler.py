"""The HTTP handler: one connection's requests, from bytes in to bytes out.

Owns: reading requests (Content-Length or chunked), the request log entry,
the order of the checks every emulated request goes through (fault rules,
then the token endpoint or bearer auth, the rate limit and its headers,
then the route), the API families' routing, gzip, the standard headers
(Content-Length, ININ-Correlation-Id, inin-ratelimit-*), latency_ms, and
writing a reply in each transport mode a fault asks for (delay, stream,
truncate, reset, stall).  /__emu/ requests go to control.py.

Must not: build an endpoint's answer (the family modules do), or print or
log a secret or a token.
"""

import base64
import binascii
import gzip
import json
import math
import os
import secrets
import select
import socket
import ssl
import struct
import sys
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler

from . import conversations, directory, user_details, users
from .control import control
from .endpoints import endpoint_class
from .exchange import ERROR_CODES, Call, Reply, oauth_error, platform_error
from .effects import apply_after, fault_answer, repeat_page_body
from .faults import ANSWER_KINDS, query_page_number, request_page
from .pages import GZIP_LEVEL
from .users import patch_log_body
from .wire import QueryError

# the API families, asked in turn; the first that knows the path answers
FAMILIES = (users, conversations, directory, user_details)


def route(call):
    """Dispatch an authenticated /api/v2 request; None means 404."""
    for family in FAMILIES:
        rep = family.route(call)
        if rep is not None:
            return rep
    return None


class Handler(BaseHTTPRequestHandler):
    """Routes emulator, control and API requests."""

    protocol_version = "HTTP/1.1"
    # small answers on a kept-alive connection (a PATCH's user) would
    # otherwise wait ~40 ms for the client's delayed ACK (Nagle)
    disable_nagle_algorithm = True
    server_version = "gc-emulator/1.0"
    sys_version = ""
    timeout = 300

    def log_message(self, fmt, *args):
        """Silence the default stderr access log."""

    def handle(self):
        """Serve the connection; with --tls-cert, finish the TLS handshake
        first (here, in the connection's thread, not in accept())."""
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True    # e.g. a client that does not trust us
                return
        super().handle()

    def parse_request(self):
        """Note when the request line has been read: /__emu/stats counts a
        request's handler time from here (not the keep-alive wait before)."""
        self.request_started = time.perf_counter()
        return super().parse_request()

    def version_string(self):
        """Server header value."""
        return self.server_version

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    # -- plumbing -----------------------------------------------------------

    @property
    def state(self):
        return self.server.state

    def read_body(self):
        """Read the request body (Content-Length or chunked)."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def wants_gzip(self):
        """True when Accept-Encoding allows gzip."""
        ae = self.headers.get("Accept-Encoding") or ""
        for part in ae.split(","):
            bits = [b.strip() for b in part.split(";")]
            if bits[0].lower() in ("gzip", "x-gzip", "*"):
                q = 1.0
                for b in bits[1:]:
                    if b.startswith("q="):
                        try:
                            q = float(b[2:])
                        except ValueError:
                            q = 0.0
                return q > 0
        return False

    def send_reply(self, rep, corr, rate=None):
        """Write a Reply honouring gzip, streaming and truncation modes."""
        if rep.mode == "gzip_bomb":
            self.send_gzip_bomb(rep, corr, rate)
            return
        body = rep.body
        if body and rep.status != 204 and self.wants_gzip():
            body = rep.gzip if rep.gzip is not None else gzip.compress(
                body, compresslevel=GZIP_LEVEL, mtime=0)
            rep.headers["Content-Encoding"] = "gzip"
        if rep.mode == "delay":
            time.sleep(rep.seconds)
        self.send_response(rep.status)
        if rep.ctype_exact:
            self.send_header("Content-Type", rep.ctype)
        elif body or rep.status != 204:
            self.send_header("Content-Type", rep.ctype + ("; charset=UTF-8" if "json" in rep.ctype or "html" in rep.ctype else ""))
        self.send_header("Content-Length", str(len(body)))
        self.send_standard_headers(corr, rate)
        for k, v in rep.headers.items():
            self.send_header(k, v)
        if rep.mode in ("truncate", "reset", "stall"):
            self.send_header("Connection", "close")
        self.end_headers()
        if rep.mode == "reset":
            self.wfile.write(body[:max(1, len(body) // 2)])
            self.wfile.flush()
            time.sleep(0.05)            # let the part arrive before the RST
            self.close_connection = True
            self.reset_connection()
            return
        if rep.mode == "stall":
            self.wfile.write(body[:max(1, len(body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            self.wait_for_hangup(rep.seconds)
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if rep.mode == "truncate":
            self.wfile.write(body[:max(1, len(body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if rep.mode == "stream" and body:
            pieces = 10
            step = max(1, math.ceil(len(body) / pieces))
            chunks = [body[i:i + step] for i in range(0, len(body), step)]
            for i, c in enumerate(chunks):
                self.wfile.write(c)
                self.wfile.flush()
                if i < len(chunks) - 1:
                    time.sleep(rep.seconds / max(1, len(chunks) - 1))
            return
        self.wfile.write(body)
        self.wfile.flush()

    def send_standard_headers(self, corr, rate):
        """ININ-Correlation-Id and, with a rate budget, inin-ratelimit-*."""
        self.send_header("ININ-Correlation-Id", corr)
        if rate is not None and rate[0] is not None:
            self.send_header("inin-ratelimit-allowed", str(rate[0]))
            self.send_header("inin-ratelimit-count", str(rate[1]))
            self.send_header("inin-ratelimit-reset", str(int(math.ceil(rate[2]))))

    def send_gzip_bomb(self, rep, corr, rate):
        """gzip_bomb: a 200 whose gzip body inflates to rep.bomb's size
        (Content-Length exact), or without end (no Content-Length, the body
        ends when the connection closes: when the client hangs up or after
        rep.seconds)."""
        bomb = rep.bomb
        length = bomb.content_length()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Encoding", "gzip")
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.send_standard_headers(corr, rate)
        self.end_headers()
        deadline = time.monotonic() + rep.seconds
        try:
            for chunk in bomb.chunks():
                self.wfile.write(chunk)
                if length is None and time.monotonic() >= deadline:
                    break
            self.wfile.flush()
        except OSError:
            self.close_connection = True        # the client gave up: what it should do
            return
        if length is None:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def reset_connection(self):
        """Close the connection with a TCP RST (SO_LINGER 0): the client
        sees "connection reset by peer", not an orderly end of stream."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            # detach so the real close happens now, whatever file objects
            # (rfile, wfile) still refer to the socket
            os.close(self.connection.detach())
        except OSError:
            pass

    def wait_for_hangup(self, seconds):
        """Send nothing for up to seconds; return early once the client
        closes its end (it has given up on the answer)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                r, _, _ = select.select([self.connection], [], [], min(left, 0.5))
                if r:
                    self.connection.settimeout(0.5)
                    if not self.connection.recv(1):
                        return
            except socket.timeout:
                continue            # e.g. part of a TLS record: keep waiting
            except (OSError, ValueError):
                return

    def dispatch(self):
        """Top-level request handling: control API or emulated endpoints."""
        arrival = time.time()
        corr = str(uuid.uuid4())
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        try:
            raw = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if path.startswith("/__emu/") or path == "/__emu":
            rep = control(self.state, self.command, path, query, raw)
            self.send_reply(rep, corr)
            return
        entry = {"seq": None, "time": arrival, "end_time": None, "method": self.command,
                 "path": path, "query": query, "body": None, "status": None,
                 "client_id": None, "token_seq": None, "fault": None,
                 "accept_encoding": self.headers.get("Accept-Encoding"),
                 "user_agent": self.headers.get("User-Agent"),
                 "peer_port": self.client_address[1]}
        cls = endpoint_class(path)
        if cls == "token":
            form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
            entry["body"] = {"grant_type": (form.get("grant_type") or [None])[0]}
        elif cls == "users" and self.command == "PATCH":
            entry["body"] = patch_log_body(raw) if raw else None
        elif raw:
            try:
                entry["body"] = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                entry["body"] = None
        self.state.add_log(entry)
        rate = None
        try:
            rep, rate = self.handle_emulated(cls, path, query, raw, corr, entry)
        except Exception as e:  # never let a bug kill the connection silently
            sys.stderr.write("emulator: internal error on %s %s: %r\n" % (self.command, path, e))
            rep = platform_error(corr, 500, "internal.server.error", "Emulator internal error")
        entry["status"] = rep.status
        if rep.fault and not entry["fault"]:
            entry["fault"] = rep.fault
        latency = 0.0
        if path.startswith("/api/"):
            # a network round trip: in this connection's thread, so
            # requests on other connections overlap with it
            latency = float(self.state.settings.get("latency_ms") or 0) / 1000.0
            if latency > 0:
                time.sleep(latency)
        try:
            self.send_reply(rep, corr, rate)
        finally:
            entry["end_time"] = time.time()
            self.state.count_request(time.perf_counter() - self.request_started - latency,
                                     latency)

    def handle_emulated(self, cls, path, query, raw, corr, entry):
        """Apply faults, auth and rate limits, then route. Returns (Reply, rate)."""
        st = self.state
        is_api = path.startswith("/api/v2/")
        query_page = None
        if (cls in ("details", "userdetails") and self.command == "POST"
                and path.rstrip("/").endswith("/details/query")):
            query_page = query_page_number(entry["body"])
        page = request_page(self.command, path, query, entry["body"])
        fault = (st.faults.take(cls, self.command, path, query_page, page)
                 if cls != "other" else None)
        # a fault may rewrite or cut the body: such a request neither reads
        # nor fills the rendered-page cache
        self.page_cache_ok = fault is None
        rate = None
        post = None      # post-processing mode from the fault
        if fault:
            kind = fault.get("kind", "status")
            entry["fault"] = kind
            if kind in ANSWER_KINDS:
                rep = fault_answer(fault, corr, cls, self.path, self.headers.get("Authorization"))
                rep.fault = kind
                if is_api:
                    rate = st.rate_check(self._rate_key())[:3]
                return rep, rate
            if kind == "revoke":
                st.revoke_all()
            elif kind == "repeat_page":
                # answer the previous page of the same query instead
                raw = repeat_page_body(entry["body"], query_page)
                post = fault
            else:
                post = fault
        if cls == "token":
            rep = self.token_endpoint(raw, entry)
        elif cls == "other":
            rep = platform_error(corr, 404, "not.found", "The requested resource was not found.")
        else:
            rep, rate = self.api(cls, path, query, raw, corr, entry)
        if post:
            apply_after(st, post, rep, cls, entry)
        return rep, rate

    def _rate_key(self):
        """Rate limit bucket: the token's client id, else 'anonymous'."""
        tok = self._bearer()
        info = self.state.tokens.get(tok) if tok else None
        return info["client_id"] if info else "anonymous"

    def _bearer(self):
        """The bearer token from the Authorization header, or None."""
        auth = self.headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return None

    def token_endpoint(self, raw, entry):
        """POST /oauth/token (client credentials only)."""
        if self.command != "POST":
            return oauth_error(405, "invalid_request", "Method not allowed")
        auth = self.headers.get("Authorization") or ""
        cid = secret = None
        if auth[:6].lower() == "basic ":
            try:
                dec = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
                cid, _, secret = dec.partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                cid = None
        entry["client_id"] = cid
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return oauth_error(400, "invalid_request",
                               "Content-Type must be application/x-www-form-urlencoded")
        if cid is None or cid not in self.state.clients or \
                not secrets.compare_digest(self.state.clients[cid].encode(), (secret or "").encode()):
            return oauth_error(401, "invalid_client", "client credentials are invalid")
        grant = entry["body"]["grant_type"]
        if grant != "client_credentials":
            sys.stderr.write("emulator: unsupported grant_type %r from client %s\n" % (grant, cid))
            return oauth_error(400, "unsupported_grant_type",
                               "grant type %s is not supported" % grant)
        tok, life = self.state.issue_token(cid)
        entry["token_seq"] = self.state.token_seq
        return Reply(200, {"access_token": tok, "token_type": "bearer", "expires_in": life})

    def api(self, cls, path, query, raw, corr, entry):
        """Authenticate, rate-limit and route an /api/v2 request."""
        st = self.state
        tok = self._bearer()
        info = st.tokens.get(tok) if tok else None
        if info:
            entry["client_id"] = info["client_id"]
            entry["token_seq"] = info["seq"]
        rate = st.rate_check(info["client_id"] if info else "anonymous")
        over = rate[3]
        rate = rate[:3]
        if tok is None:
            return platform_error(corr, 401, "authentication.required",
                                  "No authentication bearer token specified in authorization header."), rate
        if info is None or info["revoked"]:
            return platform_error(corr, 401, "authentication.required",
                                  "Invalid login credentials."), rate
        if time.time() >= info["expires"]:
            return platform_error(corr, 401, "credentials.expired",
                                  "The authentication token has expired."), rate
        if over:
            secs = max(1, int(math.ceil(rate[2])))
            rep = platform_error(corr, 429, "too.many.requests.retry.after",
                                 "Rate limit exceeded the maximum. Retry the request in [%d] seconds" % secs,
                                 {"Retry-After": str(secs)})
            rep.fault = "rate_limit"
            entry["fault"] = "rate_limit"
            return rep, rate
        try:
            call = Call(st, self.command, path.rstrip("/").split("/")[3:], query, raw,
                        self.wants_gzip(), self.page_cache_ok)
            rep = route(call)
        except QueryError as e:
            rep = platform_error(corr, e.status, e.code, str(e))
        if rep is None:
            rep = platform_error(corr, 404, "not.found", "The requested resource was not found.")
        elif rep.status >= 400 and not rep.body:
            rep = platform_error(corr, rep.status, ERROR_CODES.get(rep.status, "bad.request"),
                                 rep.headers.pop("X-Message", "Error"))
        return rep, rate
