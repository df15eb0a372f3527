-- The demo warehousing export: what a user writes to load Genesys Cloud
-- data into local tables and report from them.  Credentials and the range
-- come from the environment (see scripts/demo-export.sh).  Every table it
-- prints fits 80 columns.
--
-- 1. Connect: the server, the user mapping, the foreign tables.
-- 2. Load: the sync procedures fill schema "warehouse".
-- 3. Reports: one query each, from the warehouse.
-- 4. Costs: an incremental re-run, and what the runs asked of the API
--    (endpoints without their /api/v2 or /api/v2/analytics prefix).
-- A new sync procedure goes in 2, a new report in 3.
\getenv emulator_url GC_EMU_URL
\getenv environment GENESYS_ENVIRONMENT
\getenv client_id GC_CLIENT_ID
\getenv client_secret GC_CLIENT_SECRET
\getenv export_from EXPORT_FROM
\getenv export_to EXPORT_TO

-- 1. Connect
CREATE EXTENSION gc_fdw;
\if :{?emulator_url}
CREATE SERVER genesys FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emulator_url', login_url :'emulator_url');
\else
CREATE SERVER genesys FOREIGN DATA WRAPPER gc_fdw OPTIONS (environment :'environment');
\endif
CREATE USER MAPPING FOR CURRENT_USER SERVER genesys
  OPTIONS (client_id :'client_id', client_secret :'client_secret');
-- the foreign tables, in schema g as the docs' examples name them
CREATE SCHEMA g;
IMPORT FOREIGN SCHEMA genesys FROM SERVER genesys INTO g;
SET TimeZone = 'UTC';

-- 2. Load: gc_fdw.sync_conversations creates the tables in schema
-- "warehouse" and loads them a chunk (at most 7 UTC days) per transaction;
-- gc_fdw.sync_users refreshes the users directory
\echo '== Loading the warehouse'
\timing on
CALL gc_fdw.sync_conversations('genesys', 'warehouse',
                               start_from => :'export_from', until => :'export_to');
CALL gc_fdw.sync_users('genesys', 'warehouse');
\timing off

-- 3. Reports
\echo
\echo '== Users by state'
SELECT state, count(*) AS users FROM warehouse.users GROUP BY state ORDER BY state;

\echo '== Conversations by day (UTC)'
SELECT conversation_start::date AS day, count(*) AS conversations,
       count(*) FILTER (WHERE conversation_end IS NULL) AS in_progress,
       round(avg(media_stats_min_conversation_mos)::numeric, 2) AS avg_min_mos
  FROM warehouse.conversations GROUP BY 1 ORDER BY 1;

\echo '== Rows per table'
SELECT 'conversations' AS "table", count(*) AS rows FROM warehouse.conversations
UNION ALL SELECT 'participants', count(*) FROM warehouse.participants
UNION ALL SELECT 'sessions', count(*) FROM warehouse.sessions
UNION ALL SELECT 'segments', count(*) FROM warehouse.segments
UNION ALL SELECT 'session_metrics', count(*) FROM warehouse.session_metrics
UNION ALL SELECT 'participant_attributes', count(*) FROM warehouse.participant_attributes
UNION ALL SELECT 'users', count(*) FROM warehouse.users;

-- 4. Costs.  The next scheduled run (pg_cron would call the same every 15
-- minutes): it re-reads the lookback before the watermark and rewrites
-- nothing that did not change
\echo '== A second, incremental run'
CALL gc_fdw.sync_conversations('genesys', 'warehouse', until => :'export_to',
                               lookback => '2 days');

\echo '== What the runs cost (gc_fdw.sync_log)'
SELECT replace(procedure, 'sync_', '') AS synced, status,
       requests, rows_read AS "read", rows_upserted AS written,
       rows_unchanged AS unchanged,
       round(extract(epoch FROM finished_at - started_at)::numeric, 1) AS seconds
  FROM gc_fdw.sync_log WHERE entry = 'run' ORDER BY run_id;

\echo '== API requests of this session (gc_fdw.stats())'
SELECT regexp_replace(endpoint, '/api/v2(/analytics)?', '') AS endpoint,
       requests, rows, pg_size_pretty(bytes) AS received,
       http_429 + retries AS retried
  FROM gc_fdw.stats() ORDER BY endpoint;
