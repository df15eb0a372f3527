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
python3 tests/emulator/genesys_emulator.py --port 0 --port-file "$work/port" \
	--scale "${SCALE:-40}" --client demo-client:demo-secret-PLUGH >"$work/emulator.log" 2>&1 &
GC_EMU_PID=$!
for _ in $(seq 1 600); do [ -s "$work/port" ] && break; sleep 0.1; done
export GC_EMU_URL="http://127.0.0.1:$(cat "$work/port")"
cat "$work/emulator.log" >&2
pg_virtualenv -t -v 15 bash -c 'python3 bench/scan_memory.py && echo && python3 bench/sync_week.py && echo && python3 bench/repeat_scans.py'
