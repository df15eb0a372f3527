#!/usr/bin/env python3
"""Fail when a secret appears in test output or the server log.

Usage: scan_secrets.py SECRET PATH...   (files or directories, read whole)
Looks for the client secret itself, the Basic credential that carries it
(base64 of client_id:secret, with or without its '=' padding), anything
that looks like a bearer token or an OAuth token response, and any word
shaped like the emulator's access tokens (43 characters of the URL-safe
base64 alphabet mixing upper case, lower case and digits:
secrets.token_urlsafe(32)), with or without "Bearer" before it: an echoed
token may be quoted alone.  gc_fdw's redaction marker "[redacted]" matches
none of these.
Appends "secrets passed failed" to $GC_TEST_WORK/counts.
"""
import base64
import os
import re
import sys

SKIP_NAMES = {"counts", "emulator.port"}


def files_under(paths):
    for path in paths:
        if os.path.isdir(path):
            for root, _dirs, names in os.walk(path):
                for name in names:
                    if name not in SKIP_NAMES:
                        yield os.path.join(root, name)
        elif os.path.isfile(path):
            yield path


def main():
    secret = sys.argv[1]
    client = os.environ.get("GC_EMU_CLIENT_ID", "gc-test-client")
    basic = base64.b64encode(("%s:%s" % (client, secret)).encode()).decode().rstrip("=")
    patterns = [
        ("client secret", re.compile(re.escape(secret))),
        ("Basic credential", re.compile(re.escape(basic))),
        ("bearer token", re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{8,}")),
        # a token member's value, unless gc_fdw's redaction marker replaced it
        ("token response", re.compile(r'"access_token"\s*:\s*"(?!\[redacted\]")[^"]+')),
        ("access token", re.compile(r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[A-Z])"
                                    r"(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*[0-9])"
                                    r"[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")),
    ]
    scanned = 0
    leaks = []
    for path in files_under(sys.argv[2:]):
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        scanned += 1
        for what, pattern in patterns:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                leaks.append("%s:%d: %s" % (path, line, what))
    for leak in leaks:
        print("SECRET LEAK " + leak)
    print("scanned %d files for secrets: %d leaks" % (scanned, len(leaks)))
    with open(os.path.join(os.environ["GC_TEST_WORK"], "counts"), "a") as counts:
        counts.write("secrets %d %d\n" % (1 if scanned and not leaks else 0,
                                          1 if leaks or not scanned else 0))
    server_log = os.path.join(os.environ["GC_TEST_WORK"], "server.log")
    if not os.path.isfile(server_log) or "DEBUG" not in open(server_log, errors="replace").read():
        print("the server log at debug5 is missing: the scan proves nothing")
        leaks.append("no server log")
    sys.exit(1 if leaks or not scanned else 0)


if __name__ == "__main__":
    main()
