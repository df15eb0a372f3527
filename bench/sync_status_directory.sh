#!/usr/bin/env bash
# What the syncs of the status history and the directory cost (issues 15
# and 16): gc_fdw.sync_directory's requests and time per table against 200
# queues and 2,000 users (emulator --directory-scale 8), first load and an
# unchanged re-run; gc_fdw.sync_user_status's time for one week, first load
# and an unchanged re-run.  Prints markdown tables; writes
# bench/results/sync_status_directory.json.
#
#   bench/sync_status_directory.sh            # SCALE 1: the tests' dataset
#   SCALE=40 RUNS=3 bench/sync_status_directory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

: "${SCALE:=1}" "${RUNS:=3}"
export SCALE RUNS
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || build_and_install
work=$(mktemp -d /tmp/gc_fdw_syncs.XXXXXX)
trap 'stop_emulator; rm -rf "$work"' EXIT
GC_EMU_START_SECS=600 start_emulator "$work" --scale "$SCALE" --directory-scale 8
pg_virtualenv -t -v 15 python3 bench/sync_status_directory.py
