#!/usr/bin/env bash
# The warehouse gc_fdw.sync_conversations builds: its size against the JSON
# it received, and its time against a plain load and against COPY of the
# same rows (bench/sync_footprint.py says what each run does).  Builds and
# installs gc_fdw (from BENCH_TREE, default this checkout: run it once on a
# checkout of the version before a change for the "before" numbers), then
# for each dataset starts an emulator and, for each settings, a throwaway
# cluster:
#   week         2024-03-01..2024-03-08 at --scale WEEK_SCALE (80: 19,120
#                conversations, one 7-day chunk);
#   month        the emulator's whole 21 days at --scale MONTH_SCALE (114:
#                87,324 conversations, a month at about the week's rate,
#                in three chunks; the emulator's data spans 21 days);
#   default      pg_virtualenv's defaults (what initdb gives);
#   recommended  the settings docs/warehousing.md recommends for backfills.
# Results merge into bench/results/sync_footprint.json; the section of
# docs/performance.md between the sync-footprint markers is rewritten.
# MODE=shapes measures, instead, the same warehouse's rows in other table
# shapes (bench/sync_shapes.sql; bench/results/sync_shapes.json).
#
#   bench/sync_footprint.sh
#   BENCH_TREE=/tmp/gc_fdw-1.1 bench/sync_footprint.sh
#   RUNS=1 DATASETS=week SETTINGS=default bench/sync_footprint.sh
#   MODE=shapes DATASETS=week SETTINGS=default bench/sync_footprint.sh
# Runs as root (packages, make install); the clusters are pg_virtualenv's.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

: "${RUNS:=3}" "${DATASETS:=week,month}" "${SETTINGS:=default,recommended}" "${MODE:=measure}"
: "${WEEK_SCALE:=80}" "${MONTH_SCALE:=114}"
export RUNS
# docs/warehousing.md, "Server settings for a backfill"
RECOMMENDED=(-o shared_buffers=1GB -o max_wal_size=4GB -o wal_compression=lz4
	-o checkpoint_timeout=15min -o work_mem=64MB)

install_packages python3-psycopg2
tree=${BENCH_TREE:-$GC_ROOT}
log "building gc_fdw from $tree"
make -C "$tree" -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config >/dev/null
make -C "$tree" -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config install >/dev/null

work=$(mktemp -d /tmp/gc_fdw_footprint.XXXXXX)
trap 'stop_emulator; rm -rf "$work"' EXIT
for dataset in ${DATASETS//,/ }; do
	case $dataset in
	week) scale=$WEEK_SCALE ;;
	month) scale=$MONTH_SCALE ;;
	*) echo "unknown dataset $dataset" >&2; exit 1 ;;
	esac
	GC_EMU_START_SECS=600 start_emulator "$work" --scale "$scale" --page-cache-mb 4096
	for settings in ${SETTINGS//,/ }; do
		opts=()
		[ "$settings" = recommended ] && opts=("${RECOMMENDED[@]}")
		SCALE=$scale pg_virtualenv -t -v 15 "${opts[@]}" \
			/usr/bin/python3 bench/sync_footprint.py "$MODE" "$dataset" "$settings"
	done
	stop_emulator
done
/usr/bin/python3 bench/sync_footprint.py report
