#!/usr/bin/env python3
"""Two runs of bench/perf.sh side by side: gc_fdw's loads on a build before
a change and after it, with each run's floors (curl, COPY) beside them.

    bench/compare_loads.py BEFORE.json AFTER.json "before label" "after label" [MARKER]

BEFORE.json and AFTER.json are the latest.json of each run (BENCH_RESULTS).
Prints a markdown table; with MARKER, also rewrites the section of
docs/performance.md (BENCH_DOC) between <!-- MARKER:begin --> and
<!-- MARKER:end -->.  A load is "within 5%" when the after build's median
rows/s is at least 95% of the before build's.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.environ.get("BENCH_DOC", os.path.join(HERE, "..", "docs", "performance.md"))


def loads(path):
    with open(path) as f:
        run = json.load(f)
    out = {}
    for load in run["loads"]:
        rows = load["range"]["rows"]
        out[rows] = {"gc_fdw": load["loaders"]["gc_fdw"]["summary"],
                     "curl": load["loaders"].get("curl", {}).get("summary"),
                     "copy": load["floors"].get("copy")}
    return run, out


def main():
    before_path, after_path, before_label, after_label = sys.argv[1:5]
    marker = sys.argv[5] if len(sys.argv) > 5 else None
    brun, before = loads(before_path)
    arun, after = loads(after_path)
    L = ["| conversations | %s rows/s | %s rows/s | after / before | backend CPU s per 10k"
         " (before, after) | peak RSS MiB (before, after) | requests (before, after) |"
         " curl floor rows/s (before, after) | COPY rows/s (before, after) |"
         % (before_label, after_label),
         "|---|---|---|---|---|---|---|---|---|"]
    worst = None
    for rows in sorted(set(before) & set(after)):
        b, a = before[rows], after[rows]
        ratio = a["gc_fdw"]["rows_per_s"] / b["gc_fdw"]["rows_per_s"]
        worst = ratio if worst is None else min(worst, ratio)

        def pair(key, sub="gc_fdw", fmt="%.0f"):
            vals = [x[sub][key] if x.get(sub) else None for x in (b, a)]
            return ", ".join(fmt % v if v is not None else "-" for v in vals)

        L.append("| %d | %.0f | %.0f | %.3f | %s | %s | %s | %s | %s |" % (
            rows, b["gc_fdw"]["rows_per_s"], a["gc_fdw"]["rows_per_s"], ratio,
            pair("backend_cpu_per_10k", fmt="%.2f"),
            ", ".join("%.0f" % (x["gc_fdw"]["peak_rss_kib"] / 1024) for x in (b, a)),
            pair("requests", fmt="%d"), pair("rows_per_s", "curl"), pair("rows_per_s", "copy")))
    L += ["", "Slowest load of the after build: %.1f%% of the before build's rows/s (%s)."
          % (100 * worst, "within 5%" if worst >= 0.95 else "NOT within 5%"),
          "Runs: before %s (%s), after %s (%s); medians of %s runs each, --scale %s."
          % (brun["date"], brun["versions"].get("gc_fdw"), arun["date"],
             arun["versions"].get("gc_fdw"), arun["runs"], arun["scale"])]
    publish(L, marker)


def publish(lines, marker):
    """Print a report's lines; with marker, also put them in its section
    of docs/performance.md."""
    text = "\n".join(lines)
    print(text)
    if marker:
        write_section(marker, text)


def write_section(marker, text):
    """Put text between <!-- marker:begin --> and <!-- marker:end --> in
    docs/performance.md (BENCH_DOC)."""
    begin, end = "<!-- %s:begin -->" % marker, "<!-- %s:end -->" % marker
    with open(DOC) as f:
        doc = f.read()
    if begin not in doc or end not in doc:
        sys.exit("%s has no %s ... %s section" % (DOC, begin, end))
    doc = doc[:doc.index(begin) + len(begin)] + "\n" + text + "\n" + doc[doc.index(end):]
    with open(DOC, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
