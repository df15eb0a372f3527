#!/usr/bin/env bash
# tests/fuzz/run.sh: build gc_fdw's libFuzzer harnesses and run each for a
# fixed time, then report executions and crashes per target.
#
# A developer tool for the "Hardening" issue, not part of CI: it needs clang
# with libFuzzer (Debian: apt-get install clang), PostgreSQL 15 server
# headers, libpgcommon/libpgport, json-c and libcurl development files.  It
# never installs anything and never touches the PGXS build (src/*.o).
#
#   tests/fuzz/run.sh                      # every target, 60 s each
#   FUZZ_SECONDS=600 tests/fuzz/run.sh page
#   FUZZ_JOBS=2 tests/fuzz/run.sh          # parallel workers per target
#   FUZZ_COVERAGE=1 tests/fuzz/run.sh      # then line coverage of src/ (llvm-cov)
#
# Targets: page (src/json_parse.c and src/json_tuple.c over result pages), response (error,
# token and jobs answers through src/http.c, src/auth.c, src/jobs.c),
# options (src/option.c's validator through to column maps).
#
# Output goes to tests/fuzz/build/ (git-ignored): binaries, logs, the
# corpus each run grew (build/corpus/<target>), and crash artifacts
# (build/artifacts/).  Exit status: 0 when no target crashed, 1 otherwise,
# 2 when the harnesses could not be built.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$here/build}
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
cc=${CC_FUZZ:-clang}
pg_config=${PG_CONFIG:-pg_config}

if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=(page response options)
fi

die() {
	echo "run.sh: $*" >&2
	exit 2
}

command -v "$cc" >/dev/null || die "$cc not found (Debian: apt-get install clang)"
command -v "$pg_config" >/dev/null || die "pg_config not found (PostgreSQL 15 server development files)"
pg_server_inc=$("$pg_config" --includedir-server)
pg_inc=$("$pg_config" --includedir)
pg_libdir=$("$pg_config" --libdir)
pg_pkglibdir=$("$pg_config" --pkglibdir)
[ -f "$pg_server_inc/postgres.h" ] || die "no postgres.h in $pg_server_inc"
jsonc_cflags=$(pkg-config --cflags json-c) || die "json-c development files not found"
jsonc_libs=$(pkg-config --libs json-c)
curl_libs=$(pkg-config --libs libcurl 2>/dev/null || curl-config --libs) ||
	die "libcurl development files not found"
# libpgcommon.a/libpgport.a: Debian puts them in the pkglibdir
pg_static=""
for d in "$pg_pkglibdir" "$pg_libdir"; do
	if [ -f "$d/libpgcommon.a" ] && [ -f "$d/libpgport.a" ]; then
		pg_static="-L$d"
		break
	fi
done
[ -n "$pg_static" ] || die "libpgcommon.a/libpgport.a not found"

sanitize="-fsanitize=address,undefined -fno-sanitize-recover=all"
coverage="-fprofile-instr-generate -fcoverage-mapping"
common_cflags="-g -O1 -std=gnu11 -fno-omit-frame-pointer -Wall
	-Wno-unused-parameter -Wno-ignored-attributes -Werror=implicit-function-declaration
	-I$root/src -I$here -I$pg_server_inc -I$pg_inc $jsonc_cflags"

mkdir -p "$build/artifacts" "$build/corpus"

# compile FLAVOUR SOURCE: build/FLAVOUR-obj/NAME.o (FLAVOUR: fuzz or cov)
compile() {
	local flavour=$1 src=$2 flags=$sanitize
	[ "$flavour" = cov ] && flags=$coverage
	mkdir -p "$build/$flavour-obj"
	# shellcheck disable=SC2086
	"$cc" $flags $common_cflags -fsanitize=fuzzer-no-link -c "$src" \
		-o "$build/$flavour-obj/$(basename "${src%.c}").o" || die "could not compile $src"
}

# link FLAVOUR TARGET NAME... [-- LINKFLAGS...]: the binary of TARGET from
# build/FLAVOUR-obj/NAME.o: build/fuzz_TARGET, or build/cov_TARGET
link() {
	local flavour=$1 target=$2 flags=$sanitize out="$build/fuzz_$2"
	shift 2
	local objs=() extra=()
	if [ "$flavour" = cov ]; then
		flags=$coverage
		out="$build/cov_$target"
	fi
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		objs+=("$build/$flavour-obj/$1.o")
		shift
	done
	if [ $# -gt 0 ]; then
		shift
		extra=("$@")
	fi
	# shellcheck disable=SC2086
	"$cc" $flags -fsanitize=fuzzer -g "${objs[@]}" "${extra[@]}" \
		$pg_static -lpgcommon -lpgport $jsonc_libs $curl_libs -lm \
		-o "$out" || die "could not link $out"
}

# build FLAVOUR: every target's binary
build_targets() {
	local flavour=$1 src t
	for src in "$here/pg_shim.c" "$root/src/json_parse.c" "$root/src/json_tuple.c" "$root/src/catalog.c" \
		"$root/src/option.c" "$root/src/http.c" "$root/src/auth.c" "$root/src/jobs.c"; do
		compile "$flavour" "$src"
	done
	for t in "${targets[@]}"; do
		case $t in
			page)
				compile "$flavour" "$here/fuzz_page.c"
				link "$flavour" page fuzz_page json_parse json_tuple catalog option pg_shim
				;;
			response)
				# the exchanges are fakes in fuzz_response.c: see its header
				compile "$flavour" "$here/fuzz_response.c"
				link "$flavour" response fuzz_response http auth jobs pg_shim -- \
					-Wl,--wrap=gc_http_token_request,--wrap=gc_api_call,--wrap=gc_api_call_ex,--wrap=gc_sleep_interruptible
				;;
			options)
				compile "$flavour" "$here/fuzz_options.c"
				link "$flavour" options fuzz_options option catalog json_parse json_tuple pg_shim
				;;
			*)
				die "unknown target $t (page, response, options)"
				;;
		esac
	done
}

# the gc_fdw sources a target runs, for its coverage report
sources_of() {
	case $1 in
		page) echo "$root/src/json_parse.c $root/src/json_tuple.c $root/src/catalog.c $root/src/option.c" ;;
		response) echo "$root/src/http.c $root/src/auth.c $root/src/jobs.c" ;;
		options) echo "$root/src/option.c $root/src/catalog.c $root/src/json_parse.c $root/src/json_tuple.c" ;;
	esac
}

echo "== building harnesses in $build"
build_targets fuzz

max_len_of() {
	case $1 in
		page) echo 65536 ;;
		response) echo 16384 ;;
		options) echo 2048 ;;
	esac
}

fork_args=()
if [ "$jobs" -gt 1 ]; then
	fork_args=(-fork="$jobs")
fi

failed=0
summary=()
for t in "${targets[@]}"; do
	log="$build/$t.log"
	corpus="$build/corpus/$t"
	mkdir -p "$corpus"
	before=$(find "$build/artifacts" -name "$t-*" | wc -l)
	echo "== fuzz_$t for ${seconds}s (log: $log)"
	set +e
	# the first corpus directory receives new inputs; the seeds stay read-only
	"$build/fuzz_$t" \
		-max_total_time="$seconds" -print_final_stats=1 \
		-max_len="$(max_len_of "$t")" -timeout=10 -rss_limit_mb=2048 \
		-dict="$here/dict/$t.dict" \
		-artifact_prefix="$build/artifacts/$t-" \
		"${fork_args[@]}" \
		"$corpus" "$here/corpus/$t" >"$log" 2>&1
	rc=$?
	set -e
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
	rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
	# fork mode prints no final stats: take the last status line instead
	if [ "$execs" -eq 0 ]; then
		execs=$(grep -o '#[0-9]*' "$log" | tail -1 | tr -d '#')
		execs=${execs:-0}
		rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | awk '{print $2}')
		rate=${rate:-0}
	fi
	after=$(find "$build/artifacts" -name "$t-*" | wc -l)
	crashes=$((after - before))
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1
	fi
	new_inputs=$(find "$corpus" -type f | wc -l)
	if [ "$crashes" -gt 0 ]; then
		failed=1
		echo "   CRASH: see $log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|shim:|fuzz_[a-z]+:|  [a-z]|.*runtime error)' "$log" | head -6 | sed 's/^/   /'
		find "$build/artifacts" -name "$t-*" -newer "$build/fuzz_$t" | sed 's/^/   artifact: /'
	fi
	summary+=("$(printf '%-9s %6ss %12s execs %8s execs/s %6s corpus %3s crashes' \
		"$t" "$seconds" "$execs" "$rate" "$new_inputs" "$crashes")")
done

echo "== summary"
printf '%s\n' "${summary[@]}"

# FUZZ_COVERAGE=1: line coverage of gc_fdw's sources by seeds + grown corpus
if [ "${FUZZ_COVERAGE:-0}" = 1 ]; then
	echo "== coverage of src/ by the seed and grown corpora"
	build_targets cov
	for t in "${targets[@]}"; do
		rm -f "$build/cov_$t.profraw"
		LLVM_PROFILE_FILE="$build/cov_$t.profraw" "$build/cov_$t" -runs=0 \
			"$build/corpus/$t" "$here/corpus/$t" >"$build/cov_$t.log" 2>&1 || true
		llvm-profdata merge -sparse "$build/cov_$t.profraw" -o "$build/cov_$t.profdata"
		echo "-- $t"
		# shellcheck disable=SC2046
		llvm-cov report "$build/cov_$t" -instr-profile="$build/cov_$t.profdata" \
			$(sources_of "$t") | sed 's/^/   /'
	done
fi
exit $failed
