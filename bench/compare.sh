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
start_emulator "$work" --scale "${SCALE:-10}"
pg_virtualenv -t -v 15 python3 bench/compare.py
