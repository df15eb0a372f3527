#!/usr/bin/env bash
# gc_fdw's whole test suite, for a fresh Debian machine as root:
#   1. installs the Debian packages it needs (idempotent), builds and installs
#      the extension;
#   2. starts the bundled Genesys Cloud emulator on 127.0.0.1;
#   3. runs the emulator's own wire-format tests, and reads it through the
#      official JS SDK (npm ci of the pinned SDK when missing);
#   4. in a throwaway PostgreSQL 15 cluster (pg_virtualenv) logging at
#      debug5, runs the pg_regress suites, the integration and fault tests,
#      every SQL example of the docs, and scans every output and the server
#      log for secrets;
#   5. runs the pg_regress suites once more against a clang build.
# Ends with one line "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
# each step says when it began: CI must stay under 20 minutes
log() { printf '== %s (at %d:%02d)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)) >&2; }

install_packages valgrind clang || exit 1
build_and_install || exit 1

export GC_TEST_WORK="$GC_ROOT/tests/work"
rm -rf "$GC_TEST_WORK" && mkdir -p "$GC_TEST_WORK"
: >"$GC_TEST_WORK/counts"
start_emulator "$GC_TEST_WORK" || exit 1
trap stop_emulator EXIT

# emulator self-test (unittest; counts recorded for the summary)
log "emulator wire-format tests"
python3 tests/count_unittest.py emulator tests/emulator/selftest
# the emulator read through the official JS SDK (installs it with npm ci)
log "SDK wire-format tests"
python3 tests/count_unittest.py sdk tests/sdk/test_sdk.py

# everything that needs PostgreSQL runs inside one throwaway cluster
log "PostgreSQL suites in a throwaway cluster"
# gc_fdw is preloaded for the gc_fdw.progress view, pg_cron for the
# scheduled-sync test (its jobs run in background workers)
pg_virtualenv -t -v 15 -o log_min_messages=debug5 \
	-o shared_preload_libraries=pg_cron,gc_fdw -o cron.database_name=postgres \
	-o cron.use_background_workers=on -o max_worker_processes=16 \
	tests/in-cluster.sh 2>&1 | tee "$GC_TEST_WORK/console.log"

# the pg_regress suites again against a clang build: C leaves some things
# to the compiler (the order in which a call's arguments are evaluated,
# say), and a bug can hide behind one compiler's choice
log "pg_regress against a clang build"
GC_CC=clang build_and_install || exit 1
pg_virtualenv -t -v 15 -o shared_preload_libraries=pg_cron,gc_fdw \
	-o cron.database_name=postgres -o cron.use_background_workers=on \
	-o max_worker_processes=16 \
	tests/in-cluster.sh regress-only pg_regress-clang 2>&1 | tee -a "$GC_TEST_WORK/console.log"

# the gc_fdw.progress view in a cluster without the preload
log "without shared_preload_libraries"
pg_virtualenv -t -v 15 tests/no-preload.sh 2>&1 | tee -a "$GC_TEST_WORK/console.log"

# secrets: nothing the tests printed (console.log), the emulator logged or
# the server logged at debug5 (server.log) may hold the client secret, its
# Basic credential, a bearer token or a token response
log "secret scan"
python3 tests/scan_secrets.py "$GC_EMU_SECRET" "$GC_TEST_WORK" tests/results

# every suite must have reported: one that could not even start (a cluster
# that did not come up, say) is a failure, not a silent omission
for suite in emulator sdk pg_regress integration docs pg_regress-clang no-preload secrets; do
	grep -q "^$suite " "$GC_TEST_WORK/counts" || echo "$suite 0 1" >>"$GC_TEST_WORK/counts"
done

passed=$(awk '{p += $2} END {print p + 0}' "$GC_TEST_WORK/counts")
failed=$(awk '{f += $3} END {print f + 0}' "$GC_TEST_WORK/counts")
echo
sed 's/^/  suite /' "$GC_TEST_WORK/counts"
echo "$passed passed, $failed failed, in $((SECONDS / 60)) min $((SECONDS % 60)) s"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
