# shellcheck shell=bash
# Shared set-up of bench/compare_builds.sh and bench/compare_instructions.sh:
# the commit before a change, built in a throwaway worktree, and this tree,
# built and installed.  Sourced after scripts/common.sh, not run.
#
#   two_builds WORK COMMIT [MARKER]     (the script's own arguments)
#
# leaves WORK/before.so and WORK/after.so, and sets before and after (the
# labels: short commits, "+changes" when src/ has uncommitted edits),
# before_version (the extension version COMMIT installs) and marker.  Stop the
# emulator and remove the worktree with two_builds_cleanup WORK.
# shellcheck disable=SC2034  # the variables set are the caller's

two_builds() {
	local work=$1 pg_config=/usr/lib/postgresql/15/bin/pg_config
	[ $# -ge 2 ] || { echo "usage: $0 COMMIT [MARKER]" >&2; exit 2; }
	before=$(git rev-parse --short "$2^{commit}")
	marker=${3:-}
	log "building $before"
	git worktree add -q --detach "$work/before" "$before"
	make -C "$work/before" -s PG_CONFIG=$pg_config >/dev/null
	cp "$work/before/gc_fdw.so" "$work/before.so"
	before_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$work/before/gc_fdw.control")

	log "building this tree"
	build_and_install
	cp "$($pg_config --pkglibdir)/gc_fdw.so" "$work/after.so"
	after="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo +changes)"
}

two_builds_cleanup() {
	stop_emulator
	git worktree remove --force "$1/before" 2>/dev/null || true
	rm -rf "$1"
}
