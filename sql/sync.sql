--
-- Warehousing and observability: the procedures' argument checks and
-- errors, gc_fdw.conversation_rows against the child foreign tables,
-- gc_fdw.stats() and gc_fdw.progress.  Successful syncs print
-- timing-dependent INFO lines; tests/integration/test_sync.py runs them (by
-- hand and from pg_cron) and checks their results.  The update from 1.0 is
-- upgrade.sql's.
--
\getenv emu_url GC_EMU_URL
SET TimeZone = 'UTC';
-- CONTEXT lines would pin PL/pgSQL line numbers; DETAIL and HINT stay
\set SHOW_CONTEXT never
CREATE SCHEMA sync_src;
IMPORT FOREIGN SCHEMA genesys FROM SERVER emu INTO sync_src;

-- a server that is not there, or not gc_fdw's
CALL gc_fdw.sync_conversations('no_such_server', 'sync_wh', '2024-03-01', '2024-03-02');
CALL gc_fdw.sync_users(NULL, 'sync_wh');
-- the first run needs start_from; nothing it did is kept
CALL gc_fdw.sync_conversations('emu', 'sync_wh');
SELECT to_regnamespace('sync_wh') IS NULL AS no_schema_left,
       (SELECT count(*) FROM gc_fdw.sync_state) AS states;
CALL gc_fdw.sync_conversations('emu', 'sync_wh', '2024-03-01', lookback => '-1 day');
CALL gc_fdw.sync_conversations('emu', 'sync_wh', '2024-03-01', max_runtime => '0');
-- it commits as it goes, so it refuses to run inside a transaction block
BEGIN;
CALL gc_fdw.sync_conversations('emu', 'sync_wh', '2024-03-01', '2024-03-02');
ROLLBACK;
SELECT count(*) AS log_rows FROM gc_fdw.sync_log;

-- conversation_rows: one stored conversation's child rows are exactly what
-- the child foreign table returns, for every child table
CREATE TABLE shape_participants (LIKE sync_src.participants);
CREATE TABLE shape_sessions (LIKE sync_src.sessions);
CREATE TABLE shape_segments (LIKE sync_src.segments);
CREATE TABLE shape_metrics (LIKE sync_src.session_metrics);
CREATE TEMP TABLE day AS
  SELECT * FROM sync_src.conversations
   WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06';
CREATE FUNCTION same_rows(local_query text, foreign_query text) RETURNS text AS $$
DECLARE
  a bigint;
  b bigint;
  n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM (%s EXCEPT ALL %s) x', local_query, foreign_query) INTO a;
  EXECUTE format('SELECT count(*) FROM (%s EXCEPT ALL %s) x', foreign_query, local_query) INTO b;
  EXECUTE format('SELECT count(*) FROM (%s) x', foreign_query) INTO n;
  RETURN format('%s rows, %s only derived, %s only foreign', n, a, b);
END
$$ LANGUAGE plpgsql;
SELECT t, same_rows(
    format('SELECT r.* FROM day CROSS JOIN LATERAL gc_fdw.conversation_rows(%L, day.raw, NULL::%I) r',
           t, 'shape_' || s),
    format('SELECT * FROM sync_src.%I WHERE conversation_start >= %L AND conversation_start < %L',
           t, '2024-03-05', '2024-03-06'))
  FROM (VALUES ('participants', 'participants'), ('sessions', 'sessions'),
               ('segments', 'segments'), ('session_metrics', 'metrics')) v(t, s);
-- columns are matched by name: a narrower table reads just its columns
CREATE TABLE wrapups (conversation_id uuid, wrap_up_code text, segment_type text);
SELECT count(*) AS wrapup_segments, count(DISTINCT r.conversation_id) AS conversations
  FROM day CROSS JOIN LATERAL gc_fdw.conversation_rows('segments', day.raw, NULL::wrapups) r
 WHERE r.segment_type = 'wrapup';
SELECT count(*) FROM gc_fdw.conversation_rows('segments', NULL, NULL::wrapups);
SELECT * FROM gc_fdw.conversation_rows('users', '{}', NULL::wrapups);
SELECT * FROM gc_fdw.conversation_rows('segments', '{}', NULL::integer);
SELECT * FROM gc_fdw.conversation_rows('segments', '{"participants": "none"}', NULL::wrapups);

-- gc_fdw.stats(): this session's requests so far (one token; one page for
-- the day table, and three one-page scans in each same_rows call)
SELECT endpoint, requests, pages, rows, reauths, http_429, retries, errors
  FROM gc_fdw.stats() ORDER BY endpoint;
SELECT gc_fdw.stats_reset();
SELECT count(*) AS endpoints_after_reset FROM gc_fdw.stats();
SELECT gc_fdw.data_availability_seen();

-- gc_fdw.progress: a scan shows itself while it runs, and is gone after
SELECT p.foreign_table, p.server, p.window_start, p.window_end, p.windows, p.pages,
       p.rows, p.waiting_on
  FROM (SELECT conversation_id FROM sync_src.conversations
         WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06'
         LIMIT 1) c,
       LATERAL (SELECT * FROM gc_fdw.progress WHERE pid = pg_backend_pid()) p;
SELECT count(*) AS running_scans FROM gc_fdw.progress WHERE pid = pg_backend_pid();
SELECT endpoint, requests, pages FROM gc_fdw.stats();


-- a sync's chunks are the scan's windows: whole UTC days, at most the API's
-- longest interval without filters, which C gives
SELECT gc_fdw.max_interval_days() AS unfiltered, gc_fdw.max_interval_days(true) AS filtered;
SELECT gc_fdw.sync_chunk_end('2024-03-01 13:30+05:30', '2024-04-01') AS from_a_morning_in_utc,
       gc_fdw.sync_chunk_end('2024-03-20', '2024-03-22') AS until_first;

-- the tables a sync creates: one raw, each conversation's whole document,
-- compressed with lz4; the child tables keep their typed columns but
-- nothing a join to their parent gives, and are indexed on conversation_id
-- instead of a natural key
SELECT gc_fdw.sync_prepare('emu', 'sync_shape', 'conversations');
SELECT gc_fdw.sync_prepare('emu', 'sync_shape', 'users');
CREATE FUNCTION table_shape(p_schema text)
RETURNS TABLE (relname name, columns bigint, jsonb_columns text, left_out text, keys text)
LANGUAGE sql AS $$
SELECT c.relname, count(*) AS columns,
       string_agg(a.attname || ' ' || a.attcompression::text, ', ')
         FILTER (WHERE a.atttypid = 'jsonb'::regtype) AS jsonb_columns,
       (SELECT string_agg(s.attname, ', ' ORDER BY s.attnum) FROM pg_attribute s
         WHERE s.attrelid = format('gc_fdw_src_emu.%I', c.relname)::regclass
           AND s.attnum > 0 AND NOT s.attisdropped
           AND NOT EXISTS (SELECT 1 FROM pg_attribute t WHERE t.attrelid = c.oid
                              AND t.attname = s.attname AND NOT t.attisdropped)) AS left_out,
       (SELECT string_agg(CASE WHEN i.indisprimary THEN 'PRIMARY KEY'
                               WHEN i.indisunique THEN 'UNIQUE' ELSE 'INDEX' END
                          || substring(pg_get_indexdef(i.indexrelid) FROM ' USING btree( .*)$'),
                          '; ' ORDER BY i.indexrelid::regclass::text)
          FROM pg_index i WHERE i.indrelid = c.oid) AS keys
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = p_schema::regnamespace AND c.relkind = 'r'
 GROUP BY c.oid, c.relname ORDER BY c.relname;
$$;
SELECT * FROM table_shape('sync_shape');
-- such a warehouse has nothing to slim; a schema that is not there is an error
CALL gc_fdw.slim_warehouse('sync_shape');
CALL gc_fdw.slim_warehouse('no_such_schema');
SET client_min_messages = warning;
DROP SCHEMA sync_shape CASCADE;
RESET client_min_messages;

-- a child table as 1.1 created it (every column, raw included, and its
-- natural key) is slimmed to that shape with its rows; an index of the
-- user's on a column it leaves out stops it, named, where PostgreSQL would
-- drop the index silently
CREATE SCHEMA sync_old;
CREATE TABLE sync_old.segments (LIKE sync_src.segments,
    PRIMARY KEY (conversation_id, session_id, segment_start, segment_type));
INSERT INTO sync_old.segments SELECT * FROM sync_src.segments
 WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06';
CREATE INDEX old_segments_by_start ON sync_old.segments (conversation_start, segment_start);
CALL gc_fdw.slim_warehouse('sync_old');
SELECT * FROM table_shape('sync_old');
DROP INDEX sync_old.old_segments_by_start;
SET client_min_messages = warning;
CALL gc_fdw.slim_warehouse('sync_old');
RESET client_min_messages;
SELECT * FROM table_shape('sync_old');
SELECT same_rows('SELECT * FROM sync_old.segments',
                 'SELECT conversation_id, session_id, segment_start, segment_end, segment_type,'
                 ' queue_id, wrap_up_code, wrap_up_note, disconnect_type, conference,'
                 ' sip_response_codes, q850_response_codes FROM sync_src.segments'
                 ' WHERE conversation_start >= ''2024-03-05'' AND conversation_start < ''2024-03-06''');
-- once slimmed, there is nothing left to do
CALL gc_fdw.slim_warehouse('sync_old');
SET client_min_messages = warning;
DROP SCHEMA sync_old CASCADE;
RESET client_min_messages;
