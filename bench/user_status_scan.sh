#!/usr/bin/env bash
# What reading the agents' status history costs (issue 15): user_presence
# and user_routing_status over a day, a week and a month, against an
# emulator directory of 1,000 users (--directory-scale 4: about 500 with
# presence records): records/s, requests beside the fewest possible, pages,
# and the backend's peak memory growth.  Rewrites the user-status-scan
# section of docs/performance.md.
#
#   bench/user_status_scan.sh
#   BENCH_SKIP_BUILD=1 bench/user_status_scan.sh   # gc_fdw already installed
# Runs as root (packages, make install); the cluster is pg_virtualenv's.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || build_and_install
work=$(mktemp -d /tmp/gc_fdw_status_scan.XXXXXX)
trap 'stop_emulator; rm -rf "$work"' EXIT
GC_EMU_START_SECS=600 start_emulator "$work" --directory-scale 4
pg_virtualenv -t -v 15 python3 bench/user_status_scan.py
