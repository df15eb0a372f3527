#!/usr/bin/env bash
# Without gc_fdw in shared_preload_libraries the extension still works, and
# gc_fdw.progress fails with an error that says how to enable it (SQLSTATE
# 55000) instead of failing obscurely.  Run by run-tests.sh inside a
# throwaway cluster of its own (pg_virtualenv, nothing preloaded); appends
# "no-preload passed failed" to $GC_TEST_WORK/counts.
set -uo pipefail
out=$(psql -X -q -v VERBOSITY=verbose -d postgres 2>&1 <<'SQL'
CREATE EXTENSION gc_fdw;
SELECT 'stats rows: ' || count(*) FROM gc_fdw.stats();
SELECT * FROM gc_fdw.progress;
SQL
)
echo "$out"
pass=0 fail=0
check() {
	if grep -qF -- "$1" <<<"$out"; then pass=$((pass + 1)); else
		echo "no-preload: missing: $1" >&2; fail=$((fail + 1)); fi
}
check "stats rows: 0"
check "ERROR:  55000: gc_fdw.progress needs gc_fdw in shared_preload_libraries"
check "HINT:  Add gc_fdw to shared_preload_libraries in postgresql.conf and restart the server"
[ "$fail" -eq 0 ] && echo "no-preload 1 0" >>"$GC_TEST_WORK/counts" ||
	echo "no-preload 0 1" >>"$GC_TEST_WORK/counts"
