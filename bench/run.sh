#!/usr/bin/env bash
# Benchmarks: builds and installs gc_fdw, starts the emulator with a scaled
# dataset (SCALE, default 40: about 33,000 conversations over 21 days) and
# runs bench/scan_memory.py (scan memory and throughput) and
# bench/sync_week.py (a week through gc_fdw.sync_conversations) in a
# throwaway cluster.  Numbers go to
# docs/performance.md by hand, with the date and machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
install_packages
build_and_install
work=$(mktemp -d /tmp/gc_fdw_bench.XXXXXX)
trap 'stop_emulator; rm -rf "$work"' EXIT
start_emulator "$work" --scale "${SCALE:-40}"
pg_virtualenv -t -v 15 bash -c 'python3 bench/scan_memory.py && echo && python3 bench/sync_week.py && echo && python3 bench/repeat_scans.py'
