#!/usr/bin/env bash
# Developer check, not part of CI: the whole test suite (tests/run-tests.sh:
# emulator tests, every pg_regress suite, every integration and fault test)
# with gc_fdw built under UndefinedBehaviorSanitizer.  Every backend that
# runs gc_fdw code reports undefined behaviour ("runtime error:") to the
# server log, which run-tests.sh keeps in tests/work/server.log.  Fails when
# the suite fails or the log holds a report.  Rebuilds without UBSan at the
# end so the installed extension is the normal one again.
#
# (AddressSanitizer is not used for the backend: with libasan preloaded,
# postgres -V, which pg_virtualenv runs, deadlocks.  Memory errors are
# covered by tests/run-valgrind.sh and by the ASan-built fuzzers in
# tests/fuzz.)
set -uo pipefail
cd "$(dirname "$0")/.."
GC_COPT="-fsanitize=undefined -fno-omit-frame-pointer -g" bash tests/run-tests.sh
suite=$?
# the suite ran the instrumented library, or this check proves nothing
if ! ldd "$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir)/gc_fdw.so" | grep -q libubsan; then
	echo "UBSan: the installed gc_fdw.so is not instrumented" >&2
	suite=1
fi
reports=$(grep -c 'runtime error:' tests/work/server.log 2>/dev/null || true)
grep -B2 -A8 'runtime error:' tests/work/server.log 2>/dev/null | head -60
. scripts/common.sh
make -s clean PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
GC_COPT= build_and_install
echo "UBSan: suite exit $suite, ${reports:-0} undefined-behaviour report(s) in the server log"
[ "$suite" -eq 0 ] && [ "${reports:-0}" -eq 0 ]
