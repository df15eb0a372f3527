#!/usr/bin/env bash
# gc_fdw's main job, for a fresh Debian machine as root: install what is
# missing, build and install the extension, start a throwaway PostgreSQL 15
# cluster, and run a warehousing export (gc_fdw.sync_conversations,
# sync_user_status and sync_directory into schema "warehouse", then an
# incremental re-run) that prints what it loaded, what it cost, and reports.
#
# By default it talks to the bundled Genesys Cloud emulator.  With
# GENESYS_CLIENT_ID, GENESYS_CLIENT_SECRET and GENESYS_ENVIRONMENT (e.g.
# mypurecloud.de) set, it exports from that real organization instead;
# EXPORT_FROM / EXPORT_TO (timestamps) choose the range, by default the last
# full UTC day for a real org and the emulator's three weeks otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

install_packages
build_and_install

work=$(mktemp -d /tmp/gc_fdw_demo.XXXXXX)
trap 'stop_emulator; rm -rf "$work"' EXIT

if [ -n "${GENESYS_CLIENT_ID:-}" ] && [ -n "${GENESYS_CLIENT_SECRET:-}" ]; then
	: "${GENESYS_ENVIRONMENT:=mypurecloud.com}"
	log "exporting from the Genesys Cloud organization at $GENESYS_ENVIRONMENT"
	export GENESYS_ENVIRONMENT
	unset GC_EMU_URL
	export GC_CLIENT_ID=$GENESYS_CLIENT_ID GC_CLIENT_SECRET=$GENESYS_CLIENT_SECRET
	: "${EXPORT_FROM:=$(date -u -d 'yesterday' +%Y-%m-%dT00:00:00Z)}"
	: "${EXPORT_TO:=$(date -u +%Y-%m-%dT00:00:00Z)}"
else
	start_emulator "$work"
	log "exporting from the bundled emulator (set GENESYS_CLIENT_ID, GENESYS_CLIENT_SECRET and GENESYS_ENVIRONMENT for a real org)"
	export GC_CLIENT_ID=demo-client GC_CLIENT_SECRET=demo-secret-PLUGH
	: "${EXPORT_FROM:=2024-03-01T00:00:00Z}"
	: "${EXPORT_TO:=2024-03-22T00:00:00Z}"
fi
export EXPORT_FROM EXPORT_TO

pg_virtualenv -t -v 15 bash -c 'psql -X -v ON_ERROR_STOP=1 -q -f scripts/demo-export.sql' 
