"""Shared fixtures of the integration tests: psql sessions in the test
cluster (set up by pg_virtualenv) and the emulator's control API.

The tests run in their own database, gc_integration, with the same server,
user mapping and foreign tables a user would create.  Credentials come from
the environment and are passed to psql as variables, never on a command line.
"""
import json
import os
import subprocess
import time
import urllib.request

DB = "gc_integration"
EMU_URL = os.environ["GC_EMU_URL"]

SETUP_SQL = """
CREATE EXTENSION IF NOT EXISTS gc_fdw;
DROP SERVER IF EXISTS emu CASCADE;
CREATE SERVER emu FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', max_retries '3');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE FOREIGN TABLE users (id uuid, name text, state text, date_last_login timestamptz)
  SERVER emu OPTIONS (resource 'users');
CREATE FOREIGN TABLE conversations (conversation_id uuid, conversation_start timestamptz,
  conversation_end timestamptz, division_ids uuid[], raw jsonb)
  SERVER emu OPTIONS (resource 'conversations');
DROP SERVER IF EXISTS emu_jobs CASCADE;
CREATE SERVER emu_jobs FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', mode 'jobs', jobs_poll_interval '30');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_jobs
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE FOREIGN TABLE jobs_conversations (conversation_id uuid, conversation_start timestamptz)
  SERVER emu_jobs OPTIONS (resource 'conversations');
"""


def psql_args(db=DB):
    return ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-v", "emu_url=" + EMU_URL,
            "-v", "emu_client=" + os.environ["GC_EMU_CLIENT_ID"],
            "-d", db]


def psql(sql, db=DB, timeout=120, check=True, env_extra=None):
    """Run sql (fed on stdin so secrets stay off the command line)."""
    env = dict(os.environ)
    env.update(env_extra or {})
    script = "\\getenv emu_secret GC_EMU_SECRET\n" + sql
    proc = subprocess.run(psql_args(db), input=script, capture_output=True,
                          text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError("psql failed (%d): %s" % (proc.returncode, proc.stderr))
    return proc


def psql_background(sql, application_name, db=DB):
    """Start a psql session in the background; returns the Popen."""
    env = dict(os.environ, PGAPPNAME=application_name)
    proc = subprocess.Popen(psql_args(db), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    proc.stdin.write("\\getenv emu_secret GC_EMU_SECRET\n" + sql)
    proc.stdin.close()
    return proc


def backend_pid(application_name, timeout=10):
    """PID of the backend running a given application_name's query."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = psql("SELECT pid FROM pg_stat_activity WHERE application_name = '%s' "
                   "AND state = 'active'" % application_name).stdout.strip()
        if out:
            return int(out.splitlines()[0])
        time.sleep(0.05)
    raise AssertionError("no active backend for " + application_name)


def wait_for_log(predicate, timeout=15):
    """Poll the emulator's request log until predicate(log) holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = emu_log()
        if predicate(log):
            return log
        time.sleep(0.05)
    raise AssertionError("emulator log never reached the expected state")


def emu(path, payload=None):
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(EMU_URL + path, data=data,
                                 method="POST" if data is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = resp.read()
    return json.loads(body) if body else None


def emu_reset():
    emu("/__emu/reset", {})


def emu_fault(rule):
    emu("/__emu/faults", rule)


def emu_settings(settings):
    emu("/__emu/settings", settings)


def emu_log():
    return emu("/__emu/log")


def setup_database():
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", "DROP DATABASE IF EXISTS %s" % DB],
                   check=True, capture_output=True)
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", "CREATE DATABASE %s" % DB],
                   check=True, capture_output=True)
    psql(SETUP_SQL)
