#!/usr/bin/env bash
# Developer check, not part of CI (it takes minutes): gc_fdw's scan, retry
# (pages cut short among the faults), re-authentication and error paths, the
# sync procedures, stats and the progress slots (gc_fdw preloaded) run in a
# single-user backend under valgrind memcheck.  Fails when valgrind reports
# an error in a stack that involves gc_fdw, libcurl or json-c.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
install_packages valgrind || exit 1
build_and_install || exit 1
export GC_TEST_WORK="$GC_ROOT/tests/work-valgrind"
rm -rf "$GC_TEST_WORK" && mkdir -p "$GC_TEST_WORK" && chmod 777 "$GC_TEST_WORK"
cp tests/valgrind.supp "$GC_TEST_WORK/" && chmod 644 "$GC_TEST_WORK/valgrind.supp"
start_emulator "$GC_TEST_WORK" || exit 1
trap stop_emulator EXIT

pg_virtualenv -t -v 15 bash -s <<'INNER'
set -u
psql -X -q -v ON_ERROR_STOP=1 -v emu_url="$GC_EMU_URL" -v emu_client="$GC_EMU_CLIENT_ID" <<'SQL'
\getenv emu_secret GC_EMU_SECRET
CREATE EXTENSION gc_fdw;
CREATE SERVER emu FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url :'emu_url', login_url :'emu_url', max_retries '3');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE FOREIGN TABLE users (id uuid, name text, state text, division_id uuid, version int,
  acd_auto_answer bool, date_last_login timestamptz, raw jsonb) SERVER emu OPTIONS (resource 'users');
CREATE FOREIGN TABLE conversations (conversation_id uuid, conversation_start timestamptz,
  conversation_end timestamptz, division_ids uuid[], media_stats_min_conversation_mos float8, raw jsonb)
  SERVER emu OPTIONS (resource 'conversations');
-- json (text) columns: the page parser's JSON writer
CREATE FOREIGN TABLE conversations_json (conversation_id uuid, conversation_start timestamptz,
  raw_json json OPTIONS (key '.'), participants json OPTIONS (key 'participants'))
  SERVER emu OPTIONS (resource 'conversations');
-- pages of 10: concurrent batches of 8 pages, a LIMIT that leaves some unread
CREATE FOREIGN TABLE conversations_small (conversation_id uuid, conversation_start timestamptz, raw jsonb)
  SERVER emu OPTIONS (resource 'conversations', page_size '10');
CREATE FOREIGN TABLE conversations_bad (conversation_start timestamptz,
  direction int OPTIONS (key 'originatingDirection')) SERVER emu OPTIONS (resource 'conversations');
CREATE SCHEMA g;
IMPORT FOREIGN SCHEMA genesys FROM SERVER emu INTO g;
CREATE SERVER emu_jobs FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', mode 'jobs', jobs_poll_interval '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_jobs OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE SCHEMA gj;
IMPORT FOREIGN SCHEMA genesys FROM SERVER emu_jobs INTO gj;
-- mode 'auto' over a range past the jobs' availability date: two legs
CREATE SERVER emu_auto FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', mode 'auto', jobs_min_days '5', jobs_poll_interval '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_auto OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE SCHEMA ga;
IMPORT FOREIGN SCHEMA genesys LIMIT TO (conversations) FROM SERVER emu_auto INTO ga;
SQL
# faults fire in order as the script below reaches them
python3 tests/emuctl.py fault '[{"endpoint": "users", "kind": "status", "status": 500},
  {"endpoint": "users", "kind": "revoke", "after": 2},
  {"endpoint": "details", "kind": "malformed", "after": 9},
  {"endpoint": "details", "kind": "status", "status": 429, "retry_after": "1", "after": 10},
  {"endpoint": "details", "kind": "truncate", "after": 12},
  {"endpoint": "details", "kind": "short_200", "after": 14},
  {"endpoint": "users", "kind": "short_200", "after": 1},
  {"endpoint": "jobs", "method": "GET", "kind": "short_200", "page": 1}]' >/dev/null
python3 tests/emuctl.py settings '{"max_results": 250}' >/dev/null
conf="$PG_CLUSTER_CONF_ROOT/15/regress/postgresql.conf"
data=$(awk -F"'" '/^data_directory/ {print $2}' "$conf")
pg_ctlcluster 15 regress stop
cat >"$GC_TEST_WORK/script.sql" <<'SQL'
SELECT count(*), count(DISTINCT id), sum(length(raw::text)) > 0 FROM users;
SELECT count(*), sum(cardinality(division_ids)), sum(length(raw::text)) > 0 FROM conversations WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
SELECT count(*) FROM conversations WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
SELECT count(*), max(raw->>'conversationId') IS NOT NULL FROM conversations WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-09';
SELECT count(*), sum(length(raw_json::text)) > 0, sum(json_array_length(participants)) FROM conversations_json WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-07';
SELECT * FROM conversations_bad WHERE conversation_start >= '2024-03-03' AND conversation_start < '2024-03-04';
SELECT count(*), count(DISTINCT conversation_id), sum(length(raw::text)) > 0 FROM conversations_small WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11';
SELECT count(*) FROM (SELECT * FROM conversations_small WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11' LIMIT 15) x;
SELECT count(*) FROM conversations WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
SELECT count(*), sum(length(raw::text)) > 0 FROM g.segments WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11';
SELECT count(*) FROM g.session_metrics WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-06';
SELECT count(*) FROM g.sessions WHERE media_type IN ('voice', 'chat') AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
SELECT count(*) FROM g.conversations WHERE conversation_end IS NULL AND originating_direction = 'inbound' AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
SELECT conversation_start FROM g.conversations WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22' ORDER BY conversation_start DESC LIMIT 3;
SELECT count(*) FROM g.participants p JOIN g.users u ON u.id = p.user_id WHERE p.conversation_id IN (SELECT conversation_id FROM g.conversations WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-05 02:00');
SELECT count(*) FROM gj.participant_attributes WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-08';
SELECT count(*) FROM gj.conversations WHERE conversation_start >= '2024-03-12' AND conversation_start < '2024-03-15' LIMIT 1;
SELECT count(*), count(s.segment_type), count(DISTINCT p.participant_id) FROM g.conversations c JOIN g.participants p ON p.conversation_id = c.conversation_id JOIN g.segments s ON s.conversation_id = p.conversation_id AND s.participant_id = p.participant_id WHERE c.conversation_start >= '2024-03-04' AND c.conversation_start < '2024-03-06';
SELECT count(*), count(a.name) FROM g.conversations c LEFT JOIN g.participant_attributes a USING (conversation_id) WHERE c.conversation_start >= '2024-03-04' AND c.conversation_start < '2024-03-06';
SELECT count(*), count(DISTINCT queue_id), sum(length(raw::text)) > 0 FROM g.queue_members;
SELECT count(*), count(DISTINCT q.id) FROM g.segments s CROSS JOIN LATERAL (SELECT * FROM g.queues q WHERE q.id = s.queue_id OFFSET 0) q WHERE s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06';
SELECT count(*) FROM g.users WHERE state = 'ACTIVE';
SELECT count(*), count(DISTINCT conversation_id) FROM ga.conversations WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
CALL gc_fdw.sync_conversations('emu', 'wh', '2024-03-01', '2024-03-09');
CALL gc_fdw.sync_conversations('emu', 'wh', until => '2024-03-09', lookback => '8 days');
CALL gc_fdw.sync_users('emu', 'wh');
SELECT (SELECT count(*) FROM wh.conversations), (SELECT count(*) FROM wh.segments), (SELECT count(*) FROM wh.session_metrics), (SELECT count(*) FROM wh.users);
SELECT count(*), count(DISTINCT r.session_id) FROM wh.conversations c CROSS JOIN LATERAL gc_fdw.conversation_rows('session_metrics', c.raw, NULL::wh.session_metrics) r;
SELECT count(*) FROM gc_fdw.conversation_rows('participant_attributes', '{"participants": [{"participantId": "x", "attributes": {"a": 1}}]}', NULL::wh.participant_attributes);
SELECT p.foreign_table, p.pages FROM (SELECT conversation_id FROM conversations WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06' LIMIT 1) c, LATERAL (SELECT * FROM gc_fdw.progress) p;
SELECT endpoint, requests, pages, rows, errors, retries FROM gc_fdw.stats() ORDER BY endpoint;
SELECT gc_fdw.stats_reset();
SQL
chown postgres "$GC_TEST_WORK/script.sql"
runuser -u postgres -- env GC_EMU_URL="$GC_EMU_URL" valgrind --error-exitcode=0 \
	--suppressions="$GC_TEST_WORK/valgrind.supp" \
	--num-callers=30 --log-file="$GC_TEST_WORK/valgrind.log" --trace-children=no \
	/usr/lib/postgresql/15/bin/postgres --single -D "$data" -c config_file="$conf" \
	-c shared_preload_libraries=gc_fdw postgres \
	<"$GC_TEST_WORK/script.sql" >"$GC_TEST_WORK/single.out" 2>&1
# each fault rule above, and how often it fired
python3 tests/emuctl.py faults | sed 's/^/fault: /'
INNER

cat "$GC_TEST_WORK/single.out"
grep "ERROR SUMMARY" "$GC_TEST_WORK/valgrind.log"
# errors whose stack touches gc_fdw or the libraries it drives
python3 - "$GC_TEST_WORK/valgrind.log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r"\n==\d+== \n", text)
ours = [b for b in blocks if re.search(r"gc_fdw|libcurl|libjson-c", b)
        and re.search(r"Invalid (read|write|free)|uninitialised|Mismatched|overlap", b)]
for b in ours:
    print(b)
print("valgrind: %d error reports involving gc_fdw, libcurl or json-c" % len(ours))
sys.exit(1 if ours else 0)
PY
