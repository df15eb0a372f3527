#!/usr/bin/env bash
# Backend CPU of gc_fdw reading and loading the same conversations, on a
# commit before a change and on this tree, the builds alternating run after
# run in one cluster (bench/compare_builds.py says how).  Finer than two
# bench/perf.sh runs, whose loads move with whatever else the machine does
# between them.
#
#   bench/compare_builds.sh COMMIT [MARKER]
#
# COMMIT is built from a throwaway git worktree; this tree is built and
# installed last (its SQL objects are the ones created).  With MARKER, the
# table also goes into docs/performance.md between <!-- MARKER:begin -->
# and <!-- MARKER:end -->.  SCALE (default 250) sizes the emulator's
# dataset; CMP_RUNS, CMP_LOAD_RUNS, CMP_LO and CMP_HI pass through.
# Runs as root (make install); the cluster is pg_virtualenv's.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. bench/two_builds.sh

work=$(mktemp -d /tmp/gc_fdw_compare.XXXXXX)
trap 'two_builds_cleanup "$work"' EXIT
two_builds "$work" "$@"

GC_EMU_START_SECS=600 start_emulator "$work" --scale "${SCALE:-250}" --page-cache-mb 4096
# the before build's SQL objects as its commit installs them (this tree's
# install script of that version: make sqlcheck keeps it equal to the old)
export CMP_BEFORE_VERSION=$before_version
pg_virtualenv -t -v 15 python3 bench/compare_builds.py "$work/before.so" "$work/after.so" \
	"$before (before)" "$after (after)" ${marker:+"$marker"}
# the installed library is the after build again
cp "$work/after.so" "$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir)/gc_fdw.so"
