-- The demo warehousing export: what a user writes to load Genesys Cloud
-- users and conversations into local tables.  Credentials and the range come
-- from the environment (see scripts/demo-export.sh).
\getenv emulator_url GC_EMU_URL
\getenv environment GENESYS_ENVIRONMENT
\getenv client_id GC_CLIENT_ID
\getenv client_secret GC_CLIENT_SECRET
\getenv export_from EXPORT_FROM
\getenv export_to EXPORT_TO

CREATE EXTENSION gc_fdw;
\if :{?emulator_url}
CREATE SERVER genesys FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emulator_url', login_url :'emulator_url');
\else
CREATE SERVER genesys FOREIGN DATA WRAPPER gc_fdw OPTIONS (environment :'environment');
\endif
CREATE USER MAPPING FOR CURRENT_USER SERVER genesys
  OPTIONS (client_id :'client_id', client_secret :'client_secret');

CREATE SCHEMA genesys;
CREATE FOREIGN TABLE genesys.users (
  id uuid, name text, email text, username text, state text, title text,
  department text, division_id uuid, division_name text, manager_id uuid,
  version integer, acd_auto_answer boolean, date_last_login timestamptz, raw jsonb
) SERVER genesys OPTIONS (resource 'users');
CREATE FOREIGN TABLE genesys.conversations (
  conversation_id uuid, conversation_start timestamptz, conversation_end timestamptz,
  originating_direction text, division_ids uuid[],
  media_stats_min_conversation_mos float8, external_tag text, raw jsonb
) SERVER genesys OPTIONS (resource 'conversations');

-- the warehouse
CREATE TABLE users_dim (LIKE genesys.users, PRIMARY KEY (id));
CREATE TABLE conversations_fact (LIKE genesys.conversations, PRIMARY KEY (conversation_id));

\timing on
INSERT INTO users_dim SELECT * FROM genesys.users;
INSERT INTO conversations_fact
SELECT * FROM genesys.conversations
 WHERE conversation_start >= :'export_from'::timestamptz
   AND conversation_start < :'export_to'::timestamptz;
\timing off

\echo
\echo 'Loaded users by state:'
SELECT state, count(*) AS users FROM users_dim GROUP BY state ORDER BY state;
\echo 'Loaded conversations by day (UTC):'
SELECT (conversation_start AT TIME ZONE 'UTC')::date AS day, count(*) AS conversations,
       count(*) FILTER (WHERE conversation_end IS NULL) AS in_progress,
       round(avg(media_stats_min_conversation_mos)::numeric, 2) AS avg_min_mos
  FROM conversations_fact GROUP BY 1 ORDER BY 1;
SELECT (SELECT count(*) FROM users_dim) AS users_loaded,
       (SELECT count(*) FROM conversations_fact) AS conversations_loaded,
       :'export_from' AS range_from, :'export_to' AS range_to;
\echo 'What the export cost (the same query under EXPLAIN ANALYZE):'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM genesys.conversations
 WHERE conversation_start >= :'export_from'::timestamptz
   AND conversation_start < :'export_to'::timestamptz;
