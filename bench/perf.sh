#!/usr/bin/env bash
# The loader benchmark, one command: gc_fdw against the Python loader
# (requests + psycopg2), the JS SDK loader (purecloud-platform-client-v2 +
# node pg) and the curl floor, on one emulator with one dataset in one run.
# Writes bench/results/latest.json, docs/img/bench-*.png and the section of
# docs/performance.md between <!-- bench:begin --> and <!-- bench:end -->.
#
#   bench/perf.sh                    # full run: --scale 250, ~200k conversations
#   QUICK=1 bench/perf.sh            # smoke test of the harness (small scale, sizes)
#   BENCH_SKIP_BUILD=1 bench/perf.sh # use the gc_fdw already installed
#
# SCALE (default 250; 10 with QUICK), RUNS (3; 1 with QUICK) and the variables
# bench/perf.py documents (SIZES, LEVELS, LATENCY_MS, PACE_*, SKIP, ...) pass
# through.  Runs as root (packages, npm); the cluster is pg_virtualenv's.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

if [ -n "${QUICK:-}" ] && [ "${QUICK}" != 0 ]; then
	: "${SCALE:=10}" "${RUNS:=1}" "${SIZES:=1000,3000,8000}" "${LEVELS:=1,4,16}"
	: "${PACE_LIMIT:=30}" "${PACE_WINDOW:=6}" "${PACE_REQUESTS:=42}" "${SLOW_SECS:=60}"
	: "${BENCH_LABEL:=QUICK smoke run, not a measurement}"
fi
: "${SCALE:=250}"
export SCALE RUNS SIZES LEVELS PACE_LIMIT PACE_WINDOW PACE_REQUESTS SLOW_SECS BENCH_LABEL

install_packages python3-requests python3-psycopg2 gnuplot-nox nodejs
bench/alternatives/js_loader/install.sh >/dev/null
if [ "${BENCH_SKIP_BUILD:-0}" = 1 ]; then
	log "BENCH_SKIP_BUILD=1: using the installed gc_fdw"
else
	build_and_install
fi

work=$(mktemp -d /tmp/gc_fdw_perf.XXXXXX)
trap 'stop_emulator; rm -rf "$work"' EXIT
# pages of every range stay rendered: identity + gzip of ~4000 pages is ~1.7 GB
log "generating the emulator's dataset (--scale $SCALE)"
# the dataset at --scale 250 takes about a minute to generate: allow ten
GC_EMU_START_SECS=600 start_emulator "$work" --scale "$SCALE" --page-cache-mb "${PAGE_CACHE_MB:-4096}"
# simultaneous connects beyond the listen backlog would wait a second for a
# SYN retry (the emulator asks for 128; socketserver's default was 5)
log "emulator listen backlog: $(ss -ltnH "sport = :${GC_EMU_URL##*:}" | awk '{print $3}')"
export GC_LOADER_SECRET=demo-secret-PLUGH
pg_virtualenv -t -v 15 /usr/bin/python3 bench/perf.py
