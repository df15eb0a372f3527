#!/usr/bin/env bash
# gc_fdw against the seed-style Python loader (bench/compare.py), one
# command: installs the Debian packages the loader needs, builds and installs
# gc_fdw, starts the emulator at SCALE (default 10) and runs the comparison
# in a throwaway cluster.  Groundwork for the performance issue.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
install_packages python3-requests python3-psycopg2
build_and_install
work=$(mktemp -d /tmp/gc_fdw_cmp.XXXXXX)
trap 'stop_emulator; rm -rf "$work"' EXIT
python3 tests/emulator/genesys_emulator.py --port 0 --port-file "$work/port" \
	--scale "${SCALE:-10}" --client demo-client:demo-secret-PLUGH >"$work/emulator.log" 2>&1 &
GC_EMU_PID=$!
for _ in $(seq 1 600); do [ -s "$work/port" ] && break; sleep 0.1; done
export GC_EMU_URL="http://127.0.0.1:$(cat "$work/port")"
pg_virtualenv -t -v 15 python3 bench/compare.py
