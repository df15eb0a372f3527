#!/usr/bin/env bash
# Developer check, not part of CI: the pg_regress suites with gc_fdw built
# under AddressSanitizer.  The postmaster gets libasan preloaded through the
# cluster's environment file; any ASan report fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
install_packages
asan=$(gcc -print-file-name=libasan.so)
make -s clean
make -s COPT='-fsanitize=address -fno-omit-frame-pointer -g' >/dev/null &&
	make -s install >/dev/null || exit 1
export GC_TEST_WORK="$GC_ROOT/tests/work-asan"
rm -rf "$GC_TEST_WORK" && mkdir -p "$GC_TEST_WORK" && : >"$GC_TEST_WORK/counts"
start_emulator "$GC_TEST_WORK" || exit 1
trap 'stop_emulator; make -s clean; build_and_install' EXIT
export GC_ASAN_LIB=$asan
pg_virtualenv -t -v 15 bash -c '
	conf="$PG_CLUSTER_CONF_ROOT/15/regress"
	echo "LD_PRELOAD = '"'"'$GC_ASAN_LIB'"'"'" >>"$conf/environment"
	echo "ASAN_OPTIONS = '"'"'detect_leaks=0:abort_on_error=0:log_path=$GC_TEST_WORK/asan'"'"'" >>"$conf/environment"
	pg_ctlcluster 15 regress restart
	make -s installcheck; rc=$?
	[ -s tests/results/regression.diffs ] && head -50 tests/results/regression.diffs
	exit $rc'
rc=$?
if ls "$GC_TEST_WORK"/asan* >/dev/null 2>&1; then
	cat "$GC_TEST_WORK"/asan*
	echo "AddressSanitizer reported errors"
	exit 1
fi
echo "ASan run: pg_regress exit $rc, no AddressSanitizer reports"
exit $rc
