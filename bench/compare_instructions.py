#!/usr/bin/env python3
"""Two builds of gc_fdw.so, each counted by callgrind reading and loading
the same conversations in a single-user backend.

    compare_instructions.py BEFORE.so AFTER.so "before label" "after label" [MARKER]

Run by bench/compare_instructions.sh inside a pg_virtualenv cluster, with
the emulator's URL and credentials in GC_EMU_URL, GC_EMU_CLIENT_ID and
GC_EMU_SECRET, the after build installed and INS_WORK a directory the
postgres user can write to (the profiles go there).  Each build reads through a database of its own,
made as bench/compare_builds.py makes them.  The cluster is then stopped,
and each statement runs once per build in `postgres --single` under
`valgrind --tool=callgrind`:

  scan: SELECT count(*) FROM gc.conversations over [INS_LO, INS_HI)
  load: TRUNCATE t; INSERT INTO t SELECT * FROM gc.conversations over the
        same range; SELECT count(*) FROM t

The count is every instruction the backend ran, from its start to its
exit: the same start-up and catalogue work for both builds, and gc_fdw's
own.  Prints a markdown table of the totals and, for each statement, the
functions whose own instructions moved most; with MARKER, also rewrites
the section of docs/performance.md between <!-- MARKER:begin --> and
<!-- MARKER:end -->.
"""
import json
import os
import re
import subprocess
import sys
import time

from compare_builds import databases, emu, use
from compare_loads import publish

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ["INS_WORK"]
LO = os.environ.get("INS_LO", "2024-03-01")
HI = os.environ.get("INS_HI", "2024-03-04")
RANGE = "conversation_start >= '%s' AND conversation_start < '%s'" % (LO, HI)
SCRIPTS = {"scan": "SELECT count(*) FROM gc.conversations WHERE %s;\n" % RANGE,
           "load": "TRUNCATE t;\nINSERT INTO t SELECT * FROM gc.conversations WHERE %s;\n"
                   "SELECT count(*) FROM t;\n" % RANGE}
CONF_DIR = os.path.join(os.environ.get("PG_CLUSTER_CONF_ROOT", "/etc/postgresql"), "15", "regress")
POSTGRES = "/usr/lib/postgresql/15/bin/postgres"


def log(msg):
    print("== compare_instructions: " + msg, file=sys.stderr, flush=True)


def data_directory():
    with open(os.path.join(CONF_DIR, "postgresql.conf")) as f:
        return re.search(r"^data_directory\s*=\s*'([^']*)'", f.read(), re.M).group(1)


def counted(build, mode, db, tag):
    """Run SCRIPTS[mode] in a single-user backend under callgrind; the
    instruction total, the row count the script printed, and the profile."""
    use(build)
    emu("/__emu/reset", {})
    script = os.path.join(WORK, "%s.sql" % mode)
    with open(script, "w") as f:
        f.write(SCRIPTS[mode])
    os.chmod(script, 0o644)
    out = os.path.join(WORK, "callgrind.%s.%s.out" % (mode, tag))
    with open(script) as stdin:
        p = subprocess.run(["runuser", "-u", "postgres", "--", "valgrind", "--tool=callgrind",
                            "--callgrind-out-file=" + out, POSTGRES, "--single", "-D",
                            data_directory(), "-c",
                            "config_file=" + os.path.join(CONF_DIR, "postgresql.conf"), db],
                           stdin=stdin, capture_output=True, text=True)
    counts = re.findall(r'count = "(\d+)"', p.stdout)
    if p.returncode != 0 or not counts or re.search(r"^\s*(ERROR|FATAL):", p.stdout + p.stderr,
                                                    re.M):
        sys.exit("compare_instructions: %s with %s failed:\n%s\n%s"
                 % (mode, tag, p.stdout[-2000:], p.stderr[-2000:]))
    with open(out) as f:
        total = int(re.search(r"^(?:summary|totals):\s*(\d+)", f.read(), re.M).group(1))
    return {"instructions": total, "rows": int(counts[-1]), "profile": out}


def functions(profile):
    """Each function's own instructions (paths of gc_fdw's sources cut to src/)."""
    text = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no", profile],
                          capture_output=True, text=True, check=True).stdout
    own = {}
    for line in text.split("\n"):
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(\S.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            name = re.sub(r"^\S*?/src/", "src/", m.group(2).split(" [")[0])
            name = re.sub(r"'\d+$", "", name)
            own[name] = own.get(name, 0) + int(m.group(1).replace(",", ""))
    return own


def main():
    before, after, before_label, after_label = sys.argv[1:5]
    marker = sys.argv[5] if len(sys.argv) > 5 else None
    databases(before, after, os.environ.get("INS_BEFORE_VERSION"), "ins")
    subprocess.run(["pg_ctlcluster", "15", "regress", "stop"], check=True)
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "range": [LO, HI],
              "labels": [before_label, after_label], "modes": {}}
    for mode in ("scan", "load"):
        b = counted(before, mode, "ins_before", "before")
        a = counted(after, mode, "ins_after", "after")
        log("%s: %d rows; %d instructions before, %d after"
            % (mode, b["rows"], b["instructions"], a["instructions"]))
        fb, fa = functions(b["profile"]), functions(a["profile"])
        moved = sorted(set(fb) | set(fa), key=lambda k: -abs(fa.get(k, 0) - fb.get(k, 0)))
        result["modes"][mode] = {"before": b, "after": a,
                                 "moved": [(k, fb.get(k, 0), fa.get(k, 0)) for k in moved[:8]]}
    subprocess.run(["pg_ctlcluster", "15", "regress", "start"], check=True)
    use(after)
    report(result, before_label, after_label, marker)


def report(result, before_label, after_label, marker):
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "compare_instructions.json"), "w") as f:
        json.dump(result, f, indent=1)
    name = {"scan": "`SELECT count(*)` (scan only)", "load": "`INSERT ... SELECT`"}
    L = ["| statement | conversations | %s instructions | %s instructions | after / before |"
         % (before_label, after_label), "|---|---|---|---|---|"]
    for mode, m in result["modes"].items():
        b, a = m["before"]["instructions"], m["after"]["instructions"]
        L.append("| %s | %d | %s | %s | %.3f |" % (name[mode], m["before"]["rows"],
                                                  "{:,}".format(b), "{:,}".format(a), a / b))
    for mode, m in result["modes"].items():
        L += ["", "Functions whose own instructions moved most, %s:" % name[mode], "",
              "| function | before | after | after - before |", "|---|---|---|---|"]
        for k, fb, fa in m["moved"]:
            L.append("| `%s` | %s | %s | %+d |" % (k.replace("|", "\\|"), "{:,}".format(fb),
                                                  "{:,}".format(fa), fa - fb))
    L += ["", "Counted by callgrind in a single-user backend, the whole session (start-up,"
          " the statement, exit), %s; range %s..%s." % (result["date"], LO, HI)]
    publish(L, marker)


if __name__ == "__main__":
    main()
