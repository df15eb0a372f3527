"""Shared helpers of the hostile-input tests (test_hostile_pages.py,
test_hostile_answers.py, test_option_inputs.py): one psql session per
batch of statements, read back as bytes statement by statement; fault
rules armed from inside that session; and the server log, read for
crashed backends.

The statements' output is kept as bytes: a hostile body may put invalid
UTF-8 or control characters into a message, and the tests must see
exactly what a client would.
"""
import base64
import json
import os
import re
import subprocess
import tempfile

import gcfdw

# fields psql prints for an error with VERBOSITY verbose
FIELD = re.compile(rb"^(?:psql:[^\n]*?)?(ERROR|DETAIL|HINT|CONTEXT|LOCATION|WARNING|NOTICE):  (.*)$",
                   re.M)


class Outcome:
    """What one statement printed: rows (stdout lines) and, when it
    failed, its SQLSTATE and error fields (bytes, first line each)."""

    def __init__(self, statement, out, err):
        self.statement = statement
        self.rows = [line for line in out.split(b"\n") if line]
        self.stderr = err
        self.fields = {}
        for m in FIELD.finditer(err):
            self.fields.setdefault(m.group(1).decode(), m.group(2))
        error = self.fields.get("ERROR", b"")
        m = re.match(rb"([0-9A-Z]{5}): (.*)", error)
        self.sqlstate = m.group(1).decode() if m else None
        self.message = m.group(2) if m else error or None

    def __repr__(self):
        return "Outcome(%r -> rows=%d, stderr=%r)" % (self.statement[:300], len(self.rows),
                                                      self.stderr[:1500])


def run_session(statements, db=gcfdw.DB, env_extra=None, timeout=300):
    """Run statements in ONE psql session, errors not stopping it ->
    [Outcome per statement].  Raises AssertionError when the session did
    not survive to its end (a backend that crashed ends it) or its backend
    changed on the way."""
    marker = "@@gc-hostile@@"
    parts = ["\\set ON_ERROR_STOP 0", "\\set VERBOSITY verbose", "\\set SHOW_CONTEXT always",
             "SET TimeZone = 'UTC';", "SELECT 'pid=' || pg_backend_pid();"]
    for st in statements:
        parts += ["\\echo %s" % marker, "\\warn %s" % marker, st]
    parts += ["\\echo %s" % marker, "\\warn %s" % marker, "SELECT 'pid=' || pg_backend_pid();"]
    script = "\\getenv emu_secret GC_EMU_SECRET\n" + "\n".join(parts) + "\n"
    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.run(gcfdw.psql_args(db), input=script.encode("utf-8"),
                          capture_output=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise AssertionError("FDW BUG: the psql session did not survive (exit %d; the backend "
                             "crashed or the connection was lost):\n%r"
                             % (proc.returncode, proc.stderr[-3000:]))
    line = re.compile(rb"^" + re.escape(marker.encode()) + rb"\n", re.M)
    outs = line.split(proc.stdout)
    errs = line.split(proc.stderr)
    assert len(outs) == len(statements) + 2 and len(errs) == len(statements) + 2, \
        (proc.stdout[-2000:], proc.stderr[-2000:])
    pids = [outs[0].strip(), outs[-1].strip()]
    if pids[0] != pids[1] or not pids[0].startswith(b"pid="):
        raise AssertionError("FDW BUG: the backend changed during the session: %r" % pids)
    return [Outcome(st, o, e) for st, o, e in zip(statements, outs[1:-1], errs[1:-1])]


class Rules:
    """Fault rules written to files, for statements that arm them from
    inside a psql session (\\! curl), so that each scan of a session meets
    its own rule."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gc-hostile-")
        self.n = 0

    def arm(self, rule):
        """The psql meta-command that adds rule (a dict) to the emulator."""
        self.n += 1
        path = os.path.join(self.dir, "rule-%d.json" % self.n)
        with open(path, "w") as f:
            json.dump(rule, f)
        return ("\\! curl -sf -o /dev/null -H 'Content-Type: application/json' "
                "--data-binary @%s \"$GC_EMU_URL/__emu/faults\"" % path)

    @staticmethod
    def clear():
        """The psql meta-command that removes every fault rule."""
        return "\\! curl -sf -o /dev/null -X DELETE \"$GC_EMU_URL/__emu/faults\""


def raw_body(data, **rule):
    """A fault rule answering the bytes data (emulator kind raw_body)."""
    return dict(rule, kind="raw_body", body_b64=base64.b64encode(data).decode())


def raw_body_firings():
    """How many answers the emulator has replaced with a raw_body rule,
    per endpoint class ("users", "details", "token", "jobs")."""
    counts = {}
    for e in gcfdw.emu_log():
        if e["fault"] == "raw_body":
            cls = "token" if e["path"] == "/oauth/token" else \
                "users" if e["path"].startswith("/api/v2/users") else \
                "jobs" if "/details/jobs" in e["path"] else "details"
            counts[cls] = counts.get(cls, 0) + 1
    return counts


def sql_literal(text):
    """text as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


class ServerLog:
    """The test cluster's server log, read from where a test started, for
    backends that died: a crash resets every session, so the log is where
    it shows even when no test session was the one that crashed."""

    DEATH = re.compile(r"terminated by signal|PANIC:|TRAP:|all server processes terminated")

    def __init__(self):
        self.path = None
        out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            fields = line.split()
            if len(fields) >= 7 and fields[1] == "regress":
                self.path = fields[-1]
        if self.path is None or not os.path.exists(self.path):
            raise AssertionError("the test cluster's server log was not found "
                                 "(pg_lsclusters shows no cluster \"regress\")")
        self.start = os.path.getsize(self.path)

    def deaths(self):
        """Lines of the log since the start that report a backend dying."""
        with open(self.path, "rb") as f:
            f.seek(self.start)
            text = f.read().decode("utf-8", "replace")
        return [line for line in text.splitlines() if self.DEATH.search(line)]
