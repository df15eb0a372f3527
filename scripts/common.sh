# shellcheck shell=bash
# Shared steps of gc_fdw's two commands (scripts/demo-export.sh and
# tests/run-tests.sh): install Debian packages, build and install the
# extension, start and stop the bundled Genesys emulator.  Sourced, not run.

GC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GC_PACKAGES="build-essential pkg-config postgresql-15 postgresql-server-dev-15 \
postgresql-15-cron libcurl4-openssl-dev libjson-c-dev python3 curl ca-certificates openssl"

log() { printf '== %s\n' "$*" >&2; }

# install_packages: apt-get install whatever of GC_PACKAGES (plus "$@") is
# missing; a no-op when everything is there, so it is safe to run each time.
install_packages() {
	local missing=() pkg
	for pkg in $GC_PACKAGES "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing Debian packages: ${missing[*]} (run as root to install them)" >&2
		return 1
	fi
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build_and_install: compile with the project's warning flags and install
# into the PostgreSQL 15 tree.
# GC_CC chooses the compiler (default gcc; tests/run-tests.sh also builds
# with clang), GC_COPT adds compiler flags (tests/run-ubsan.sh builds with
# UBSan).  A build with another compiler or other flags than the objects on
# disk starts from clean, so no stale object escapes either.
build_and_install() {
	local cc=${GC_CC:-gcc} stamp="$GC_ROOT/src/.build-flags" flags
	flags="$cc ${GC_COPT:-}"
	log "building gc_fdw with $flags"
	# (the objects only: make clean would also drop tests/results)
	if [ "$(cat "$stamp" 2>/dev/null)" != "$flags" ]; then
		rm -f "$GC_ROOT"/src/*.o "$GC_ROOT"/src/*.bc "$GC_ROOT"/gc_fdw.so
	fi
	make -C "$GC_ROOT" -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config CC="$cc" COPT="${GC_COPT:-}" >/dev/null &&
		make -C "$GC_ROOT" -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config CC="$cc" COPT="${GC_COPT:-}" install >/dev/null &&
		echo "$flags" >"$stamp"
}

# start_emulator WORKDIR [EMULATOR OPTIONS...]: start the emulator on a
# free loopback port and export GC_EMU_URL; the test credentials come from
# the environment (GC_EMU_CLIENT_ID/GC_EMU_SECRET) so they never appear in
# SQL files.  Extra options (e.g. --scale 40 for the benchmarks) are passed
# on; a large dataset takes a while to generate, hence the minute allowed
# (GC_EMU_START_SECS overrides it).
start_emulator() {
	local work=$1
	shift
	mkdir -p "$work"
	rm -f "$work/emulator.port"
	: "${GC_EMU_CLIENT_ID:=gc-test-client}"
	: "${GC_EMU_SECRET:=gc-test-secret-XYZZY}"
	export GC_EMU_CLIENT_ID GC_EMU_SECRET
	python3 "$GC_ROOT/tests/emulator/genesys_emulator.py" --port 0 \
		--port-file "$work/emulator.port" \
		--client "$GC_EMU_CLIENT_ID:$GC_EMU_SECRET" \
		--client "demo-client:demo-secret-PLUGH" "$@" \
		>"$work/emulator.log" 2>&1 &
	GC_EMU_PID=$!
	local i
	for i in $(seq 1 $((${GC_EMU_START_SECS:-60} * 10))); do
		[ -s "$work/emulator.port" ] && break
		kill -0 "$GC_EMU_PID" 2>/dev/null || { cat "$work/emulator.log" >&2; return 1; }
		sleep 0.1
	done
	[ -s "$work/emulator.port" ] || { echo "emulator did not start" >&2; return 1; }
	export GC_EMU_URL="http://127.0.0.1:$(cat "$work/emulator.port")"
	log "Genesys emulator listening on $GC_EMU_URL"
}

stop_emulator() {
	[ -n "${GC_EMU_PID:-}" ] && kill "$GC_EMU_PID" 2>/dev/null && wait "$GC_EMU_PID" 2>/dev/null
	GC_EMU_PID=
	return 0
}
