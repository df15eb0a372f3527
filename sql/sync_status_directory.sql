--
-- Warehousing the status history and the directory: gc_fdw.sync_user_status
-- and gc_fdw.sync_directory (with gc_fdw.sync_users, now its refresh of
-- users alone): their argument checks and errors, the tables they create,
-- and a directory refresh whose INFO lines and log are deterministic.  A
-- status sync prints rates and ETAs: tests/integration/test_sync_user_status.py
-- runs it (by hand, and from pg_cron with the directory in
-- test_sync_directory.py) and checks its results against the emulator.
--
SET TimeZone = 'UTC';
-- CONTEXT lines would pin PL/pgSQL line numbers; DETAIL and HINT stay
\set SHOW_CONTEXT never
\! python3 tests/emuctl.py reset

-- sync_user_status: what it refuses, before it reads anything
CALL gc_fdw.sync_user_status(NULL, 'sds_wh', '2024-03-01');
CALL gc_fdw.sync_user_status('no_such_server', 'sds_wh', '2024-03-01');
CALL gc_fdw.sync_user_status('emu', 'sds_wh', '2024-03-01', lookback => '-1 hour');
CALL gc_fdw.sync_user_status('emu', 'sds_wh', '2024-03-01', max_runtime => '0');
CALL gc_fdw.sync_user_status('emu', 'sds_wh', '2024-03-01', until => 'infinity');
-- the first run needs start_from; nothing it did is kept
CALL gc_fdw.sync_user_status('emu', 'sds_wh');
SELECT to_regnamespace('sds_wh') IS NULL AS no_schema_left,
       (SELECT count(*) FROM gc_fdw.sync_state WHERE kind = 'user_status') AS states;
-- it commits as it goes, so it refuses to run inside a transaction block
BEGIN;
CALL gc_fdw.sync_user_status('emu', 'sds_wh', '2024-03-01', '2024-03-02');
ROLLBACK;

-- sync_directory: the tables it keeps, by name, or NULL for all
CALL gc_fdw.sync_directory('emu', NULL);
CALL gc_fdw.sync_directory('emu', 'sds_wh', ARRAY['queues', 'queue', NULL]);
CALL gc_fdw.sync_directory('emu', 'sds_wh', '{}');
BEGIN;
CALL gc_fdw.sync_directory('emu', 'sds_wh');
ROLLBACK;
BEGIN;
CALL gc_fdw.sync_users('emu', 'sds_wh');
ROLLBACK;
SELECT count(*) AS log_rows FROM gc_fdw.sync_log
 WHERE procedure IN ('sync_user_status', 'sync_directory', 'sync_users');

-- the tables they create: keyed as the API identifies a row; a status
-- record has no raw (its JSON has no field without a column); the
-- directory's rows keep theirs, compressed with lz4, and the two columns
-- that say when a row was written and since when the API has not returned it
SELECT gc_fdw.sync_prepare('emu', 'sds_shape', 'user_status');
SELECT gc_fdw.sync_prepare('emu', 'sds_shape', 'directory');
SELECT c.relname, count(*) AS columns,
       string_agg(a.attname || ' ' || a.attcompression::text, ', ')
         FILTER (WHERE a.atttypid = 'jsonb'::regtype) AS jsonb_columns,
       bool_or(a.attname = 'missing_since') AS marks_missing,
       pg_get_constraintdef(k.oid) AS key
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p'
 WHERE c.relnamespace = 'sds_shape'::regnamespace
 GROUP BY c.relname, k.oid ORDER BY c.relname;
-- their columns are the foreign tables' (raw aside for the status history)
SELECT c.relname,
       (SELECT string_agg(a.attname, ', ' ORDER BY a.attnum) FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attname NOT IN ('raw', 'synced_at', 'missing_since')) =
       (SELECT string_agg(a.attname, ', ' ORDER BY a.attnum) FROM pg_attribute a
         WHERE a.attrelid = format('gc_fdw_src_emu.%I', c.relname)::regclass
           AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'raw') AS same_columns
  FROM pg_class c
 WHERE c.relnamespace = 'sds_shape'::regnamespace AND c.relkind = 'r'
 ORDER BY c.relname;
-- a warehouse of this version has nothing to slim
CALL gc_fdw.slim_warehouse('sds_shape');

-- A directory refresh: every table, users first, each in a transaction of
-- its own, logged as a chunk of the run and recorded in sync_state under
-- its own name
CALL gc_fdw.sync_directory('emu', 'sds_wh');
SELECT l.entry, l.mode, l.requests > 0 AS requested, l.rows_read, l.rows_upserted,
       l.rows_unchanged, l.rows_marked_missing, l.status
  FROM gc_fdw.sync_log l
 WHERE l.run_id = (SELECT max(run_id) FROM gc_fdw.sync_log) ORDER BY l.log_id;
SELECT kind, last_status, last_success IS NOT NULL AS succeeded, watermark
  FROM gc_fdw.sync_state WHERE target_schema = 'sds_wh' ORDER BY kind;
-- again: nothing changed, nothing written
CALL gc_fdw.sync_directory('emu', 'sds_wh', ARRAY['queues', 'queue_members']);
-- sync_users is that refresh of users alone, under its 1.1 name
CALL gc_fdw.sync_users('emu', 'sds_wh');
SELECT l.procedure, l.entry, l.mode, l.rows_read, l.rows_upserted, l.status
  FROM gc_fdw.sync_log l
 WHERE l.run_id = (SELECT max(run_id) FROM gc_fdw.sync_log) ORDER BY l.log_id;

SET client_min_messages = warning;
DROP SCHEMA sds_shape CASCADE;
DROP SCHEMA sds_wh CASCADE;
RESET client_min_messages;
DELETE FROM gc_fdw.sync_state WHERE target_schema IN ('sds_wh', 'sds_shape');
