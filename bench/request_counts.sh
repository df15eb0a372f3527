#!/usr/bin/env bash
# Requests and time of reads that one query makes several reads of, or
# that list a large directory: a week of conversations x participants x
# segments with join pushdown on and off (issue 17), and a full read of
# each directory table against 200 queues and 2,000 users (issue 16).
# Writes the section of docs/performance.md between <!-- requests:begin -->
# and <!-- requests:end --> and bench/results/requests.json.
#
#   bench/request_counts.sh             # SCALE 40 (a week: about 11,000 conversations)
#   RUNS=3 bench/request_counts.sh      # medians of 3 (default)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

: "${SCALE:=40}" "${RUNS:=3}"
export SCALE RUNS
install_packages python3-psycopg2
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || build_and_install
work=$(mktemp -d /tmp/gc_fdw_requests.XXXXXX)
trap 'stop_emulator; rm -rf "$work"' EXIT
GC_EMU_START_SECS=600 start_emulator "$work" --scale "$SCALE" --directory-scale 8
pg_virtualenv -t -v 15 /usr/bin/python3 bench/request_counts.py
