#!/usr/bin/env python3
"""Docs that run: every ```sql block of README.md and docs/*.md, executed
against the bundled emulator, so that a renamed column or a stale example
fails the suite.

Usage: docs_examples.py [FILE.md ...]   (default: README.md and docs/*.md)

Runs inside the test cluster (PG* from pg_virtualenv) with the emulator up
(GC_EMU_URL, GC_EMU_CLIENT_ID, GC_EMU_SECRET).  For each Markdown file:

- a database of its own (docs_<name>, or the one the file's examples
  assume) and one psql session, in which the file's ```sql blocks run in
  order, so that a block can use what an earlier one created;
- before the first block, the file's setup (SETUPS below): what its
  examples assume without showing it (the extension, a server "genesys",
  the tables imported into schema g, ...);
- the stand-in for a real organization: an event trigger points every
  gc_fdw server at the emulator (api_url, login_url) and gives every user
  mapping the test credentials, as soon as either is created or altered.
  The credentials come from the environment and are never written in the
  docs, so a block that creates a server for a region and a mapping with
  client_id '...', then queries it, runs as pasted.

An HTML comment on the line before a block's opening fence says how to run
it (several directives are separated by ';' outside parentheses):

  <!-- docs-test: skip (needs a real Genesys Cloud org) -->
        not run; listed as skipped with its reason (the reason is required)
  <!-- docs-test: error 22023 -->
        documents an error: it must fail, every error with that SQLSTATE
  <!-- docs-test: needs user-details -->
        runs when the emulator serves that part of the API (NEEDS below),
        else is skipped, saying why
  <!-- docs-test: each WHERE of SELECT count(*) FROM g.conversations -->
        a list of WHERE clauses (a line starting with WHERE begins one):
        each runs as that statement followed by the clause
  <!-- docs-test: fresh database -->
        this block and those after it run in a new database and session,
        after the file's setup again

Blocks of other languages (sh, text, json, none) are never run.  A block
passes when it raised no error (NOTICEs and WARNINGs are printed, not
judged), or, marked with error, when it raised errors of that SQLSTATE
only.  Prints each block's outcome and the totals, appends
"docs PASSED FAILED" to $GC_TEST_WORK/counts when that is set, and exits
non-zero when a block failed or none ran.
"""
import glob
import json
import os
import re
import subprocess
import sys
import urllib.request

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# What each file's examples assume before its first block.  Files not
# listed get DEFAULT_SETUP.  Roles are created once for the cluster.
DEFAULT_SETUP = ("extension", "server", "schema g")
SETUPS = {
    "README.md": (),                             # creates its own server
    "docs/install.md": (),                       # walks through every step
    "docs/configuration.md": ("extension",),     # creates the server
    "docs/tables.md": ("extension", "server", "users", "hr", "warehouse"),
    "docs/pushdown.md": ("extension", "server", "schema g", "warehouse"),
    "docs/warehousing.md": (),                   # its quick start does it all
}
DATABASES = {"docs/warehousing.md": "warehouse_db"}

SETUP_SQL = {
    "extension": "CREATE EXTENSION gc_fdw;",
    # the stand-in (STAND_IN_SQL) gives them the emulator and the credentials
    "server": "CREATE SERVER genesys FOREIGN DATA WRAPPER gc_fdw;\n"
              "CREATE USER MAPPING FOR CURRENT_USER SERVER genesys;",
    "schema g": "CREATE SCHEMA g;\n"
                "IMPORT FOREIGN SCHEMA genesys FROM SERVER genesys INTO g;",
    # tables.md reads users as install.md creates it, in schema public
    "users": "IMPORT FOREIGN SCHEMA genesys LIMIT TO (users) FROM SERVER genesys INTO public;",
    # the HR table of tables.md's batch UPDATE: nobody moves today
    "hr": "CREATE SCHEMA hr;\n"
          "CREATE TABLE hr.transfers (user_id uuid, effective date);",
    # a warehouse as gc_fdw.sync_conversations keeps it (one day of it),
    # with the sync's own source tables in gc_fdw_src_genesys
    "warehouse": "CALL gc_fdw.sync_conversations('genesys', 'warehouse',\n"
                 "  start_from => '2024-03-20', until => '2024-03-21');",
}
ROLES = ("etl", "reporting")

# Parts of the API an emulator may not serve yet, and how to tell
NEEDS = {
    "user-details": ("/__emu/dataset/user_presence",
                     "the emulator serves no analytics user details"),
}

# The directives a marker may hold: the pattern, and the attribute of the
# block its group (or, without one, True) sets
DIRECTIVES = (
    (r"skip \((.+)\)", "skip"),
    (r"error ([0-9A-Z]{5})", "error"),
    (r"needs (%s)" % "|".join(NEEDS), "needs"),
    (r"each WHERE of (.+)", "each_where"),
    (r"fresh database", "fresh"),
)

MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)```\s*([\w-]*)\s*$")
# psql's report of a message (with \set VERBOSITY verbose: the SQLSTATE
# after the level); any other "psql:" line (a lost connection, say) is an
# error too
MESSAGE = re.compile(r"^psql:[^:]*:\d+: (?:([A-Za-z]+):\s+(?:([0-9A-Z]{5}): )?)?(.*)$")
NOT_ERRORS = ("WARNING", "NOTICE", "INFO", "LOG", "DEBUG")
BLOCK_MARK = "@@docs-test block %d@@"


class Block:
    """One fenced block of a Markdown file and how to run it."""

    def __init__(self, path, line, lang, text, directives):
        self.path, self.line, self.lang, self.text = path, line, lang, text
        self.skip = None        # reason
        self.error = None       # expected SQLSTATE
        self.needs = None
        self.each_where = None  # statement the WHERE clauses complete
        self.fresh = False
        for d in directives:
            self.directive(d)

    def where(self):
        return "%s:%d" % (self.path, self.line)

    def directive(self, d):
        for pattern, attribute in DIRECTIVES:
            m = re.fullmatch(pattern, d)
            if m:
                setattr(self, attribute, m.group(1) if m.groups() else True)
                return
        raise SystemExit("%s: unknown docs-test directive %r" % (self.where(), d))

    def statements(self):
        """The SQL to run: the block, or one statement per WHERE clause."""
        if self.each_where is None:
            return [self.text]
        clauses = []
        for line in self.text.splitlines():
            bare = line.strip()
            if not bare or bare.startswith("--"):
                continue
            if bare.startswith("WHERE "):
                clauses.append(line)
            elif clauses:
                clauses[-1] += "\n" + line
            else:
                raise SystemExit("%s: a line before the first WHERE" % self.where())
        return ["%s\n%s" % (self.each_where, c) for c in clauses]


def directives_of(text):
    """A marker's directives: split at ';' outside parentheses (a skip's
    reason may hold one)."""
    out, depth, current = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == ";" and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += ch
    out.append(current.strip())
    return [d for d in out if d]


def blocks_of(path):
    """The fenced blocks of a Markdown file, with the directives above them."""
    rel = os.path.relpath(path, ROOT)
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks = []
    pending = None      # (line number, directives) of a marker not yet used
    i = 0
    while i < len(lines):
        marker = MARKER.match(lines[i])
        fence = FENCE.match(lines[i])
        if marker:
            pending = (i + 1, directives_of(marker.group(1)))
            i += 1
            continue
        if fence:
            indent, lang = fence.groups()
            j = i + 1
            while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
                j += 1
            if j == len(lines):
                raise SystemExit("%s:%d: a fence that never closes" % (rel, i + 1))
            body = [l[len(indent):] if l.startswith(indent) else l for l in lines[i + 1:j]]
            directives = pending[1] if pending else []
            if directives and lang != "sql":
                raise SystemExit("%s:%d: a docs-test marker above a %s block"
                                 % (rel, pending[0], lang or "plain"))
            blocks.append(Block(rel, i + 1, lang, "\n".join(body), directives))
            pending = None
            i = j + 1
            continue
        if pending and lines[i].strip():
            raise SystemExit("%s:%d: a docs-test marker not right before a block"
                             % (rel, pending[0]))
        i += 1
    if pending:
        raise SystemExit("%s:%d: a docs-test marker at the end of the file" % (rel, pending[0]))
    return blocks


def emu(path, payload=None):
    url = os.environ["GC_EMU_URL"] + path
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def psql(sql, db="postgres", timeout=300):
    """Run sql (a script, on stdin) in db; returns the CompletedProcess."""
    args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=0", "-f", "-", "-d", db,
            "-v", "docs_test_emu_url=" + os.environ["GC_EMU_URL"],
            "-v", "docs_test_emu_client=" + os.environ["GC_EMU_CLIENT_ID"]]
    script = "\\getenv docs_test_emu_secret GC_EMU_SECRET\n\\set VERBOSITY verbose\n" + sql
    return subprocess.run(args, input=script, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


STAND_IN_SQL = r"""
CREATE SCHEMA docs_test;
-- "ADD k 'v', SET k2 'v2'": the options of wanted (k=v) that current lacks
-- or holds with another value; NULL when there is none
CREATE FUNCTION docs_test.options_to_set(current text[], wanted text[]) RETURNS text
LANGUAGE sql AS $f$
  SELECT string_agg(format('%s %I %L', CASE WHEN c.option_value IS NULL THEN 'ADD' ELSE 'SET' END,
                           w.option_name, w.option_value), ', ')
    FROM pg_options_to_table(wanted) w
    LEFT JOIN pg_options_to_table(current) c ON c.option_name = w.option_name
   WHERE c.option_value IS DISTINCT FROM w.option_value
$f$;
-- (its ALTERs carry the test secret: at log_min_messages debug5 the server
-- would log their text as the CONTEXT of its DEBUG lines)
CREATE FUNCTION docs_test.stand_in() RETURNS event_trigger LANGUAGE plpgsql
SET log_min_messages = warning AS $f$
DECLARE
  emu_url text := current_setting('docs_test.emu_url', true);
  server_options text[] := ARRAY['api_url=' || emu_url, 'login_url=' || emu_url];
  mapping_options text[] := ARRAY['client_id=' || current_setting('docs_test.emu_client', true),
                                  'client_secret=' || current_setting('docs_test.emu_secret', true)];
  r record;
BEGIN
  IF emu_url IS NULL THEN
    RETURN;
  END IF;
  FOR r IN
    SELECT s.srvname, docs_test.options_to_set(s.srvoptions, server_options) AS options
      FROM pg_foreign_server s
      JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw AND w.fdwname = 'gc_fdw'
  LOOP
    IF r.options IS NOT NULL THEN
      EXECUTE format('ALTER SERVER %I OPTIONS (%s)', r.srvname, r.options);
    END IF;
  END LOOP;
  FOR r IN
    SELECT CASE WHEN m.umuser = 0 THEN 'PUBLIC' ELSE quote_ident(m.usename) END AS role,
           m.srvname, docs_test.options_to_set(m.umoptions, mapping_options) AS options
      FROM pg_user_mappings m
      JOIN pg_foreign_server s ON s.oid = m.srvid
      JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw AND w.fdwname = 'gc_fdw'
  LOOP
    IF r.options IS NOT NULL THEN
      EXECUTE format('ALTER USER MAPPING FOR %s SERVER %I OPTIONS (%s)', r.role, r.srvname,
                     r.options);
    END IF;
  END LOOP;
END $f$;
CREATE EVENT TRIGGER docs_test_stand_in ON ddl_command_end
  WHEN TAG IN ('CREATE SERVER', 'ALTER SERVER', 'CREATE USER MAPPING', 'ALTER USER MAPPING')
  EXECUTE FUNCTION docs_test.stand_in();
SET docs_test.emu_url = :'docs_test_emu_url';
SET docs_test.emu_client = :'docs_test_emu_client';
SET docs_test.emu_secret = :'docs_test_emu_secret';
"""


def session_script(setup, blocks):
    """The psql script of one session: setup, then each block between
    markers (on stderr, where psql reports errors, so they stay in order)."""
    parts = ["\\set SHOW_CONTEXT never", STAND_IN_SQL]
    parts += [SETUP_SQL[s] for s in setup]
    for n, block in enumerate(blocks):
        parts.append("\\warn '%s'" % (BLOCK_MARK % n))
        # a closing ';' on a line of its own ends a statement the block
        # left open; after a complete one it is an empty query
        parts += ["%s\n;" % s for s in block.statements()]
    return "\n".join(parts) + "\n"


def split_messages(stderr, count):
    """Server and psql messages: those of the setup, and those of each block."""
    before, during = [], [[] for _ in range(count)]
    current = before
    for line in stderr.splitlines():
        m = re.fullmatch(r"@@docs-test block (\d+)@@", line.strip())
        if m:
            current = during[int(m.group(1))]
            continue
        current.append(line)
    return before, during


def errors_in(lines):
    """(SQLSTATE or None, text) of each error among psql's messages."""
    out = []
    for line in lines:
        m = MESSAGE.match(line)
        if m and m.group(1) not in NOT_ERRORS:
            out.append((m.group(2), m.group(3)))
    return out


def judge(block, lines):
    """None when the block behaved as documented, else what went wrong."""
    errors = errors_in(lines)
    if block.error is None:
        if errors:
            return "; ".join("%s %s" % (code or "psql", text) for code, text in errors)
        return None
    expected = len(block.statements()) if block.each_where else 1
    wrong = [e for e in errors if e[0] != block.error]
    if wrong:
        return "expected SQLSTATE %s, got: %s" % (block.error, "; ".join(
            "%s %s" % (code or "psql", text) for code, text in wrong))
    if len(errors) < expected:
        return "expected %d error(s) %s, got %d" % (expected, block.error, len(errors))
    return None


def recreate_database(db):
    for sql in ("DROP DATABASE IF EXISTS %s" % db, "CREATE DATABASE %s" % db):
        proc = subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", sql],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit("could not %s: %s" % (sql, proc.stderr))


def run_session(db, setup, blocks, available, results):
    """Run one session's blocks in database db; print and record each
    block's outcome, in the order of the file."""
    print("\n== %s (database %s)" % (blocks[0].path, db))
    skipped = {}
    for b in blocks:
        if b.skip:
            skipped[b] = b.skip
        elif b.needs and not available[b.needs]:
            skipped[b] = NEEDS[b.needs][1]
    runnable = [b for b in blocks if b not in skipped]
    during = {}
    setup_problem = None
    if runnable:
        recreate_database(db)
        emu("/__emu/reset", {})
        emu("/__emu/settings", {"job_polls": 0})
        proc = psql(session_script(setup, runnable), db)
        before, messages = split_messages(proc.stderr, len(runnable))
        during = dict(zip(runnable, messages))
        trouble = errors_in(before)
        if trouble or proc.returncode != 0:
            setup_problem = "; ".join(t for _, t in trouble) or (
                "psql exited with %d" % proc.returncode)
            print("  FAIL  setup: " + setup_problem)
            for line in before:
                print("        " + line)
    for b in blocks:
        if b in skipped:
            print("  skip  %-28s %s" % (b.where(), skipped[b]))
            results.append(("skip", b, skipped[b]))
            continue
        problem = judge(b, during[b]) or (
            "the session's setup failed" if setup_problem else None)
        kind = "error " + b.error if b.error else (
            "%d clauses" % len(b.statements()) if b.each_where else "sql")
        print("  %-4s  %-28s %s" % ("ok" if problem is None else "FAIL", b.where(), kind))
        for line in during[b]:
            if MESSAGE.match(line):
                print("        " + re.sub(r"^psql:[^:]*:\d+: ", "", line))
        if problem:
            print("        => " + problem)
        results.append(("ok" if problem is None else "fail", b, problem))


def run_file(path, available, results):
    """The ```sql blocks of one Markdown file, in one session per part (a
    "fresh database" block starts a new part)."""
    rel = os.path.relpath(path, ROOT)
    sql_blocks = [b for b in blocks_of(path) if b.lang == "sql"]
    if not sql_blocks:
        return
    setup = SETUPS.get(rel, DEFAULT_SETUP)
    base = DATABASES.get(rel, "docs_" + re.sub(r"\W", "_", os.path.splitext(
        os.path.basename(rel))[0].lower()))
    sessions = [[]]
    for b in sql_blocks:
        if b.fresh and sessions[-1]:
            sessions.append([])
        sessions[-1].append(b)
    for n, blocks in enumerate(sessions):
        run_session(base if n == 0 else "%s_%d" % (base, n + 1), setup, blocks,
                    available, results)


def main():
    files = sys.argv[1:] or ([os.path.join(ROOT, "README.md")] +
                             sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))))
    files = [os.path.abspath(f) for f in files]
    for role in ROLES:
        subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c",
                        "DO $$BEGIN CREATE ROLE %s; EXCEPTION WHEN duplicate_object "
                        "THEN NULL; END$$" % role], capture_output=True, text=True)
    available = {need: emu(probe) == 200 for need, (probe, _) in NEEDS.items()}
    results = []
    try:
        for path in files:
            run_file(path, available, results)
    finally:
        emu("/__emu/reset", {})
    ok = sum(1 for r in results if r[0] == "ok")
    failed = sum(1 for r in results if r[0] == "fail")
    skipped = [r for r in results if r[0] == "skip"]
    print("\ndocs examples: %d ran (%d passed, %d failed), %d not run:"
          % (ok + failed, ok, failed, len(skipped)))
    for _, b, reason in skipped:
        print("  %-28s %s" % (b.where(), reason))
    if os.environ.get("GC_TEST_WORK"):
        with open(os.path.join(os.environ["GC_TEST_WORK"], "counts"), "a") as counts:
            counts.write("docs %d %d\n" % (ok, failed if ok + failed else failed + 1))
    sys.exit(0 if failed == 0 and ok > 0 else 1)


if __name__ == "__main__":
    main()
