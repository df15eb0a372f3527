#!/usr/bin/env bash
# gc_fdw's main job, for a fresh Debian machine as root: install what is
# missing, build and install the extension, start a throwaway PostgreSQL 15
# cluster, and run a warehousing export (scripts/demo-export.sql: the sync
# procedures into schema "warehouse", reports from it, an incremental
# re-run) that prints what it loaded and what it cost, in 80 columns.
#
# By default it talks to the bundled Genesys Cloud emulator, whose data
# covers 2024-03-01 to 2024-03-21 (UTC).  With GENESYS_CLIENT_ID,
# GENESYS_CLIENT_SECRET and GENESYS_ENVIRONMENT (e.g. mypurecloud.de) set,
# it exports from that real organization instead.  EXPORT_FROM / EXPORT_TO
# (timestamps) choose the range: by default the last full UTC day for a
# real org, the emulator's three weeks otherwise.
#
# KEEP=1 leaves the cluster (and the emulator) running at the end, prints
# the psql command that connects to it and the command that stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

install_packages
build_and_install

work=$(mktemp -d /tmp/gc_fdw_demo.XXXXXX)
chmod 755 "$work"
export GC_DEMO_WORK=$work
cleanup() {
	[ -e "$work/cluster.pid" ] && touch "$work/stop" && wait_gone "$(cat "$work/cluster.pid")"
	stop_emulator
	rm -rf "$work"
}
# wait_gone PID: until a process (not a child of ours) has exited
wait_gone() {
	while kill -0 "$1" 2>/dev/null; do sleep 0.2; done
}
trap cleanup EXIT

if [ -n "${GENESYS_CLIENT_ID:-}" ] && [ -n "${GENESYS_CLIENT_SECRET:-}" ]; then
	: "${GENESYS_ENVIRONMENT:=mypurecloud.com}"
	source_name="the Genesys Cloud organization at $GENESYS_ENVIRONMENT"
	export GENESYS_ENVIRONMENT
	unset GC_EMU_URL
	export GC_CLIENT_ID=$GENESYS_CLIENT_ID GC_CLIENT_SECRET=$GENESYS_CLIENT_SECRET
	: "${EXPORT_FROM:=$(date -u -d 'yesterday' +%Y-%m-%dT00:00:00Z)}"
	: "${EXPORT_TO:=$(date -u +%Y-%m-%dT00:00:00Z)}"
else
	start_emulator "$work"
	source_name="the bundled emulator (data: 2024-03-01 to 2024-03-21, UTC)"
	log "no GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET: using the bundled emulator"
	export GC_CLIENT_ID=demo-client GC_CLIENT_SECRET=demo-secret-PLUGH
	: "${EXPORT_FROM:=2024-03-01T00:00:00Z}"
	: "${EXPORT_TO:=2024-03-22T00:00:00Z}"
fi
export EXPORT_FROM EXPORT_TO
log "exporting from $source_name"
log "conversations from $EXPORT_FROM until $EXPORT_TO"

# The export itself.  psql's messages (the sync's INFO lines) are folded to
# 80 columns like the rest of the output, line by line as they come.
export_sql='psql -X -v ON_ERROR_STOP=1 -q <scripts/demo-export.sql 2> >(stdbuf -oL fold -s -w 79 >&2)'

if [ "${KEEP:-0}" != 1 ]; then
	pg_virtualenv -t -v 15 bash -c "$export_sql"
	exit
fi

# KEEP=1: the cluster outlives this script.  pg_virtualenv runs in a
# session of its own, exports, writes how to connect (a libpq service
# file, its password in a pgpass file), then waits for $work/stop; it
# drops the cluster when that appears.
setsid pg_virtualenv -t -v 15 bash -c "
	$export_sql
	rc=\$?
	umask 077
	printf '%s:%s:*:%s:%s\n' \"\$PGHOST\" \"\$PGPORT\" \"\$PGUSER\" \"\$PGPASSWORD\" >\"\$GC_DEMO_WORK/pgpass\"
	printf '[gc_fdw_demo]\nhost=%s\nport=%s\nuser=%s\ndbname=postgres\npassfile=%s\n' \\
		\"\$PGHOST\" \"\$PGPORT\" \"\$PGUSER\" \"\$GC_DEMO_WORK/pgpass\" >\"\$GC_DEMO_WORK/service\"
	chmod 644 \"\$GC_DEMO_WORK/service\"
	echo \$rc >\"\$GC_DEMO_WORK/rc\"
	[ \$rc -eq 0 ] || exit \$rc
	while [ ! -e \"\$GC_DEMO_WORK/stop\" ]; do sleep 1; done" &
echo $! >"$work/cluster.pid"
while [ ! -e "$work/rc" ] && kill -0 "$(cat "$work/cluster.pid")" 2>/dev/null; do
	sleep 0.5
done
rc=$(cat "$work/rc" 2>/dev/null || echo 1)
[ "$rc" -eq 0 ] || exit "$rc"

cat >"$work/stop.sh" <<EOF
#!/bin/sh
# Stops what KEEP=1 scripts/demo-export.sh left running, and removes $work
touch $work/stop
while kill -0 $(cat "$work/cluster.pid") 2>/dev/null; do sleep 0.2; done
${GC_EMU_PID:+kill $GC_EMU_PID 2>/dev/null}
rm -rf $work
EOF
chmod 755 "$work/stop.sh"
trap - EXIT

if [ -n "${GC_EMU_PID:-}" ]; then
	running="The cluster and the emulator are still running (KEEP=1)."
	what=them
else
	running="The cluster is still running (KEEP=1)."
	what=it
fi
cat <<EOF

$running
Connect to it (server "genesys", its tables in schema "g", the warehouse
in schema "warehouse"):

  PGSERVICEFILE=$work/service psql service=gc_fdw_demo

Stop $what and remove $work:

  $work/stop.sh
EOF
