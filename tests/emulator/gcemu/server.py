"""The emulator process: options, the listening socket, start and stop.

Owns: the command line (--port, --port-file, --client, --seed, --scale,
--directory-scale, --tls-cert/--tls-key, --page-cache-mb), building the dataset, the
threading server (listen backlog, TLS wrapping), the port file, the
startup line on stderr and a clean exit on SIGTERM or SIGINT.

Must not: print a client secret or a token.
"""

import argparse
import gc
import os
import signal
import socket
import ssl
import sys
import threading
from http.server import ThreadingHTTPServer

from . import pages
from .dataset import Dataset
from .handler import Handler
from .state import State

DEFAULT_CLIENTS = ["gc-test-client:gc-test-secret-XYZZY",
                   "demo-client:demo-secret-PLUGH"]


class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer carrying the emulator state."""
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops the SYNs of a client opening
    # more connections at once (concurrent page fetch), which then waits a
    # second for the retransmission
    request_queue_size = 128

    def handle_error(self, request, client_address):
        """Connections the client drops (or that a fault resets) are normal
        here; report anything else as the base class does."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    """Parse args, build the dataset, serve until SIGTERM/SIGINT."""
    ap = argparse.ArgumentParser(description="Genesys Cloud CX API emulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--client", action="append", metavar="ID:SECRET")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--scale", type=int, default=1,
                    help="multiply conversations per day (benchmarks); 1 = the test dataset")
    ap.add_argument("--directory-scale", type=int, default=1,
                    help="multiply the directory (25 queues, 20 wrap-up codes, ... per unit) "
                         "and make max(600, 250 x N) users; 1 = the test dataset")
    ap.add_argument("--tls-cert", metavar="FILE",
                    help="serve HTTPS with this PEM certificate (chain); needs --tls-key")
    ap.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert")
    ap.add_argument("--page-cache-mb", type=int, default=pages.PAGE_CACHE_BYTES >> 20,
                    help="rendered-page cache budget per dataset version, MiB")
    args = ap.parse_args(argv)
    if args.directory_scale < 1:
        ap.error("--directory-scale must be at least 1")
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    clients = {}
    for c in args.client or DEFAULT_CLIENTS:
        cid, sep, sec = c.partition(":")
        if not sep or not cid:
            ap.error("--client must be ID:SECRET")
        clients[cid] = sec
    pages.PAGE_CACHE_BYTES = max(0, args.page_cache_mb) << 20
    # The dataset is millions of long-lived objects: collecting cycles while
    # it is built is a third of the generation time, and a full collection
    # later would walk all of it in the middle of serving (seconds at
    # --scale 250).  So build it with the collector off, then move it out of
    # the collector's sight (gc.freeze); request garbage is collected as usual.
    # a thread per connection: with the default GIL switch interval (5 ms)
    # a few connections answered at once queue behind each other for
    # milliseconds each, which made parallel clients look slow
    sys.setswitchinterval(0.0002)
    gc.disable()
    try:
        ds = Dataset(args.seed, scale=args.scale, directory_scale=args.directory_scale)
    finally:
        gc.enable()
    gc.freeze()
    httpd = Server(("127.0.0.1", args.port), Handler)
    httpd.state = State(clients, ds)
    scheme = "http"
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as e:
            ap.error("cannot load --tls-cert/--tls-key: %s" % e)
        # the handshake runs in each connection's thread (Handler.handle),
        # so a client that never completes it cannot block accept()
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True,
                                       do_handshake_on_connect=False)
        scheme = "https"
    port = httpd.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stderr.write("genesys emulator listening on %s://127.0.0.1:%d (seed %d, %d users, %d "
                     "conversations, clients: %s)\n" % (scheme, port, args.seed, len(ds.users),
                                                      len(ds.conversations), ", ".join(sorted(clients))))
    sys.stderr.flush()
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
    return 0
