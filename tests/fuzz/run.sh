#!/usr/bin/env bash
# tests/fuzz/run.sh: build gc_fdw's libFuzzer targets and run each for a
# fixed time, then report executions, corpus and crashes per target.
#
# A developer tool, not part of CI: it needs clang with libFuzzer (Debian:
# apt-get install clang) and nothing else -- the targets link src/json_parse.c
# and src/json_write.c alone, no PostgreSQL.  It never installs anything and
# never touches the PGXS build (src/*.o).
#
#   tests/fuzz/run.sh                      # every target, 60 s each
#   FUZZ_SECONDS=600 tests/fuzz/run.sh json
#   FUZZ_JOBS=2 tests/fuzz/run.sh          # parallel workers per target
#   FUZZ_COVERAGE=1 tests/fuzz/run.sh      # then line coverage (llvm-cov)
#
# Targets (both tests/fuzz/fuzz_json.c and json_oracle.c over src/json_parse.c):
#   json         every node its own allocation, so that an access past a
#                node is caught
#   json_blocks  nodes from blocks, as in the backend build
#                (-DGC_JSON_NODE_BLOCKS)
# both under ASan, UBSan and LeakSanitizer.
#
# Output goes to tests/fuzz/build/ (git-ignored): binaries, logs, the
# corpus each run grew (build/corpus/<target>), and crash artifacts
# (build/artifacts/).  Exit status: 0 when no target crashed, 1 otherwise,
# 2 when the targets could not be built.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$here/build}
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
cc=${CC_FUZZ:-clang}

all_targets=(json json_blocks)
if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=("${all_targets[@]}")
fi

die() {
	echo "run.sh: $*" >&2
	exit 2
}

command -v "$cc" >/dev/null || die "$cc not found (Debian: apt-get install clang)"

# plain C11: the parser must not need anything from PostgreSQL to build
common_cflags="-g -O1 -std=c11 -fno-omit-frame-pointer -Wall -Wextra -Wpedantic
	-Werror=implicit-function-declaration -I$root/src"

# sanitizers and defines of TARGET
cflags_of() {
	case $1 in
		json) echo "-fsanitize=address,undefined -fno-sanitize-recover=all" ;;
		json_blocks) echo "-fsanitize=address,undefined -fno-sanitize-recover=all -DGC_JSON_NODE_BLOCKS" ;;
		*) die "unknown target $1 (${all_targets[*]})" ;;
	esac
}

# build FLAVOUR TARGET: build/fuzz_TARGET (FLAVOUR fuzz) or build/cov_TARGET
# (FLAVOUR cov: coverage instrumentation, no sanitizer), from the harness,
# its oracle and src/json_parse.c
build_target() {
	local flavour=$1 target=$2 flags out obj src
	flags=$(cflags_of "$target")
	out="$build/fuzz_$target"
	if [ "$flavour" = cov ]; then
		flags="-fprofile-instr-generate -fcoverage-mapping"
		[ "$target" = json_blocks ] && flags="$flags -DGC_JSON_NODE_BLOCKS"
		out="$build/cov_$target"
	fi
	obj="$build/$flavour-obj/$target"
	mkdir -p "$obj"
	for src in "$here/fuzz_json.c" "$here/json_oracle.c" "$root/src/json_parse.c" \
		"$root/src/json_write.c"; do
		# shellcheck disable=SC2086
		"$cc" $flags $common_cflags -fsanitize=fuzzer-no-link -c "$src" \
			-o "$obj/$(basename "${src%.c}").o" || die "could not compile $src"
	done
	# shellcheck disable=SC2086
	"$cc" $flags -fsanitize=fuzzer -g "$obj/fuzz_json.o" "$obj/json_oracle.o" "$obj/json_parse.o" \
		"$obj/json_write.o" \
		-o "$out" || die "could not link $out"
}

echo "== building targets in $build"
for t in "${targets[@]}"; do
	build_target fuzz "$t"
done

fork_args=()
if [ "$jobs" -gt 1 ]; then
	fork_args=(-fork="$jobs")
fi

mkdir -p "$build/artifacts" "$build/corpus"
failed=0
summary=()
for t in "${targets[@]}"; do
	log="$build/$t.log"
	corpus="$build/corpus/$t"
	mkdir -p "$corpus"
	before=$(find "$build/artifacts" -name "$t-*" | wc -l)
	echo "== fuzz_$t for ${seconds}s (log: $log)"
	set +e
	# the first corpus directory receives new inputs; the seeds (result
	# pages, also fed to a real backend by tests/integration) stay read-only
	"$build/fuzz_$t" \
		-max_total_time="$seconds" -print_final_stats=1 \
		-max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-dict="$here/dict/json.dict" \
		-artifact_prefix="$build/artifacts/$t-" \
		"${fork_args[@]}" \
		"$corpus" "$here/corpus/page" >"$log" 2>&1
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
	grown=$(find "$corpus" -type f | wc -l)
	if [ "$crashes" -gt 0 ]; then
		failed=1
		echo "   CRASH: see $log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_json:|.*runtime error)' "$log" | head -6 | sed 's/^/   /'
		find "$build/artifacts" -name "$t-*" -newer "$build/fuzz_$t" | sed 's/^/   artifact: /'
	fi
	summary+=("$(printf '%-12s %6ss %12s execs %8s execs/s %6s corpus %3s crashes' \
		"$t" "$seconds" "$execs" "$rate" "$grown" "$crashes")")
done

echo "== summary"
printf '%s\n' "${summary[@]}"

# FUZZ_COVERAGE=1: line coverage of src/json_parse.c by seeds + grown corpus
if [ "${FUZZ_COVERAGE:-0}" = 1 ]; then
	echo "== coverage of src/json_parse.c by the seed and grown corpora"
	for t in "${targets[@]}"; do
		build_target cov "$t"
		rm -f "$build/cov_$t.profraw"
		LLVM_PROFILE_FILE="$build/cov_$t.profraw" "$build/cov_$t" -runs=0 \
			"$build/corpus/$t" "$here/corpus/page" >"$build/cov_$t.log" 2>&1 || true
		llvm-profdata merge -sparse "$build/cov_$t.profraw" -o "$build/cov_$t.profdata"
		echo "-- $t"
		llvm-cov report "$build/cov_$t" -instr-profile="$build/cov_$t.profdata" \
			"$root/src/json_parse.c" | sed 's/^/   /'
	done
fi
exit $failed
