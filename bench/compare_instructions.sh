#!/usr/bin/env bash
# Instructions, not seconds: the CPU work of gc_fdw reading and loading the
# same conversations, on a commit before a change and on this tree, counted
# by valgrind's callgrind in a single-user backend.  A count does not move
# with whatever else the machine is doing, so it settles differences of a
# few percent that timed runs on a busy machine cannot (docs/performance.md,
# "The redesign: loads before and after"); it does not see the kernel's
# work (page faults, I/O), which bench/compare_builds.sh reports.
#
#   bench/compare_instructions.sh COMMIT [MARKER]
#
# COMMIT is built from a throwaway git worktree; this tree is built and
# installed last.  With MARKER, the table also goes into docs/performance.md
# between <!-- MARKER:begin --> and <!-- MARKER:end -->.  SCALE (default
# 250) sizes the emulator's dataset; INS_LO and INS_HI (2024-03-01,
# 2024-03-04: 34,750 conversations) the range read.  About fifteen minutes.
# Runs as root (make install, valgrind); the cluster is pg_virtualenv's.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. bench/two_builds.sh
install_packages valgrind

work=$(mktemp -d /tmp/gc_fdw_instructions.XXXXXX)
chmod 755 "$work"
trap 'two_builds_cleanup "$work"' EXIT
two_builds "$work" "$@"
# the single-user backends run as postgres and write their profiles here
mkdir -m 777 "$work/callgrind"

GC_EMU_START_SECS=600 start_emulator "$work/emulator" --scale "${SCALE:-250}"
export INS_BEFORE_VERSION=$before_version INS_WORK="$work/callgrind"
pg_virtualenv -t -v 15 python3 bench/compare_instructions.py "$work/before.so" "$work/after.so" \
	"$before (before)" "$after (after)" ${marker:+"$marker"}
# the installed library is the after build again
cp "$work/after.so" "$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir)/gc_fdw.so"
