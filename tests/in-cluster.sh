#!/usr/bin/env bash
# Runs inside pg_virtualenv (PGHOST/PGPORT/PGUSER set): the pg_regress
# suites, the integration tests and the docs' examples, then keeps the
# server log for the secret scan.  Each suite appends "name passed failed"
# to $GC_TEST_WORK/counts.
# With "regress-only NAME", only the pg_regress suites, counted as NAME.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
suite_name=${2:-pg_regress}

# pg_regress: count the tests that passed and failed from its report
make -s installcheck PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config \
	>"$GC_TEST_WORK/regress.out" 2>&1
regress_rc=$?
cat "$GC_TEST_WORK/regress.out"
ok=$(grep -cE '(^| )ok( |$)' "$GC_TEST_WORK/regress.out" || true)
bad=$(grep -cE '(^| )FAILED( |$)' "$GC_TEST_WORK/regress.out" || true)
# pg_regress failing without a FAILED test (setup, missing file) still fails
[ "$regress_rc" -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
[ -s tests/results/regression.diffs ] && cat tests/results/regression.diffs
echo "$suite_name $ok $bad" >>"$GC_TEST_WORK/counts"
[ "$mode" = regress-only ] && exit 0

# integration and fault tests (Python unittest driving psql and the emulator)
python3 tests/count_unittest.py integration tests/integration

# every ```sql example of README.md and docs/*.md, against the emulator
python3 tests/docs_examples.py

# keep the server log (written at debug5) for the secret scan that
# run-tests.sh does once everything has printed
logfile=$(pg_lsclusters -h | awk '$2 == "regress" {print $NF}' | head -n 1)
echo "server log: ${logfile:-not found} ($(wc -l <"${logfile:-/dev/null}") lines)"
[ -n "$logfile" ] && cp "$logfile" "$GC_TEST_WORK/server.log"
