-- The demo warehousing export: what a user writes to load Genesys Cloud
-- conversations, the users' status history and the directory into local
-- tables and report from them.  Credentials and the range come from the
-- environment (see scripts/demo-export.sh).  Every table it prints fits 80
-- columns.
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

-- 2. Load: gc_fdw.sync_conversations and gc_fdw.sync_user_status create
-- their tables in schema "warehouse" and load them a chunk (at most 7 UTC
-- days) per transaction; gc_fdw.sync_directory refreshes the users, queues,
-- wrap-up codes and the rest of the directory
\echo '== Loading the warehouse'
\timing on
CALL gc_fdw.sync_conversations('genesys', 'warehouse',
                               start_from => :'export_from', until => :'export_to');
CALL gc_fdw.sync_user_status('genesys', 'warehouse',
                             start_from => :'export_from', until => :'export_to');
CALL gc_fdw.sync_directory('genesys', 'warehouse');
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
UNION ALL SELECT 'user_presence', count(*) FROM warehouse.user_presence
UNION ALL SELECT 'user_routing_status', count(*) FROM warehouse.user_routing_status
UNION ALL SELECT 'users', count(*) FROM warehouse.users
UNION ALL SELECT 'queues', count(*) FROM warehouse.queues
UNION ALL SELECT 'queue_members', count(*) FROM warehouse.queue_members
UNION ALL SELECT 'wrapup_codes', count(*) FROM warehouse.wrapup_codes
UNION ALL SELECT 'divisions', count(*) FROM warehouse.divisions
UNION ALL SELECT 'groups', count(*) FROM warehouse.groups
UNION ALL SELECT 'skills', count(*) FROM warehouse.skills
UNION ALL SELECT 'languages', count(*) FROM warehouse.languages
UNION ALL SELECT 'locations', count(*) FROM warehouse.locations
UNION ALL SELECT 'presence_definitions', count(*) FROM warehouse.presence_definitions;

-- The reports an analyst asks for first, from the warehouse tables, with
-- names from the directory: the SQL of docs/warehousing.md ("Reports from
-- the warehouse"), over the export's last seven days and its last day
SELECT greatest(:'export_from'::timestamptz, :'export_to'::timestamptz - interval '7 days')
           AS report_from,
       :'export_to'::timestamptz AS report_to,
       date_trunc('day', :'export_to'::timestamptz - interval '1 microsecond', 'UTC')
           AS report_day \gset
\echo
\echo '== Per queue and day (UTC), from' :report_from 'to' :report_to
-- offered, answered, abandoned and average handle time per queue and UTC day
WITH period AS (
    SELECT :'report_from'::timestamptz AS lo, :'report_to'::timestamptz AS hi
), session_queue AS (
    -- each session's queue: that of its first segment in one
    SELECT DISTINCT ON (g.conversation_id, g.session_id)
           g.conversation_id, g.session_id, g.queue_id
      FROM warehouse.segments g
     WHERE g.queue_id IS NOT NULL
     ORDER BY g.conversation_id, g.session_id, g.segment_start
), queue_metrics AS (
    SELECT sq.queue_id, (m.emit_date AT TIME ZONE 'UTC')::date AS day,
           p.purpose || '.' || m.name AS metric, m.value
      FROM period
      JOIN warehouse.session_metrics m
        ON m.emit_date >= period.lo AND m.emit_date < period.hi
      JOIN session_queue sq USING (conversation_id, session_id)
      JOIN warehouse.sessions s USING (conversation_id, session_id)
      JOIN warehouse.participants p USING (conversation_id, participant_id)
     WHERE p.purpose || '.' || m.name IN ('acd.nOffered', 'acd.tAbandon',
                                          'agent.tAnswered', 'agent.tHandle')
)
SELECT coalesce(q.name, qm.queue_id::text) AS queue, qm.day,
       coalesce(sum(qm.value) FILTER (WHERE qm.metric = 'acd.nOffered'), 0) AS offered,
       count(*) FILTER (WHERE qm.metric = 'agent.tAnswered') AS answered,
       count(*) FILTER (WHERE qm.metric = 'acd.tAbandon') AS abandoned,
       round(avg(qm.value) FILTER (WHERE qm.metric = 'agent.tHandle') / 1000, 1)
           AS avg_handle_s
  FROM queue_metrics qm
  LEFT JOIN warehouse.queues q ON q.id = qm.queue_id
 GROUP BY 1, 2
 ORDER BY 1, 2;
\echo '== Wrap-up codes given, by name'
-- wrap-up codes given, by name
WITH period AS (
    SELECT :'report_from'::timestamptz AS lo, :'report_to'::timestamptz AS hi
)
SELECT coalesce(w.name, g.wrap_up_code) AS wrap_up, count(*) AS segments
  FROM period
  JOIN warehouse.segments g
    ON g.segment_start >= period.lo AND g.segment_start < period.hi
  LEFT JOIN warehouse.wrapup_codes w ON w.id = g.wrap_up_code
 WHERE g.segment_type = 'wrapup' AND g.wrap_up_code IS NOT NULL
 GROUP BY 1
 ORDER BY 2 DESC, 1;
\echo '== Occupancy per agent (INTERACTING over on queue),' :report_day
-- occupancy per agent for one UTC day: time INTERACTING over time on queue
WITH day AS (
    SELECT tstzrange(d, d + interval '1 day') AS span
      FROM (VALUES (:'report_day'::timestamptz)) AS v(d)
), presence AS (
    SELECT p.user_id, tstzrange(p.start_time, coalesce(p.end_time, now())) AS span
      FROM warehouse.user_presence p
     WHERE p.system_presence = 'ON_QUEUE'
), routing AS (
    SELECT r.user_id, r.routing_status,
           tstzrange(r.start_time, coalesce(r.end_time, now())) AS span
      FROM warehouse.user_routing_status r
     WHERE r.routing_status <> 'OFF_QUEUE'
), on_queue AS (
    -- the time both held, within the day
    SELECT r.user_id, r.routing_status, p.span * r.span * day.span AS span
      FROM day
      JOIN presence p ON p.span && day.span
      JOIN routing r ON r.user_id = p.user_id AND r.span && p.span * day.span
), seconds AS (
    SELECT o.user_id,
           sum(extract(epoch FROM upper(o.span) - lower(o.span))) AS on_queue,
           coalesce(sum(extract(epoch FROM upper(o.span) - lower(o.span)))
                    FILTER (WHERE o.routing_status = 'INTERACTING'), 0) AS interacting
      FROM on_queue o
     GROUP BY o.user_id
)
SELECT coalesce(u.name, s.user_id::text) AS agent,
       round(s.on_queue / 3600, 2) AS on_queue_h,
       round(s.interacting / 3600, 2) AS interacting_h,
       round(100 * s.interacting / s.on_queue, 1) AS occupancy_pct
  FROM seconds s
  LEFT JOIN warehouse.users u ON u.id = s.user_id
 ORDER BY occupancy_pct DESC, agent;

-- 4. Costs.  The next scheduled run (pg_cron would call the same every 15
-- minutes): it re-reads the lookback before the watermark and rewrites
-- nothing that did not change
\echo '== A second, incremental run'
CALL gc_fdw.sync_conversations('genesys', 'warehouse', until => :'export_to',
                               lookback => '2 days');
CALL gc_fdw.sync_user_status('genesys', 'warehouse', until => :'export_to',
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

