/*
 * extension/sync_conversations.sql
 *		gc_fdw.sync_conversations: incremental load of conversation details
 *		into local tables, a chunk of whole UTC days per transaction, and
 *		what it needs of its own: the tables it keeps, gc_fdw.conversation_rows()
 *		(C, src/sync.c) to derive the child rows from each conversation's raw
 *		JSON, and the chunk function that reads, upserts and brings the child
 *		rows of what changed in line.
 *
 * Must not: take locks, prepare tables or keep state other than through
 * sync_common.sql.
 */

CREATE FUNCTION gc_fdw.conversation_rows(resource text, conversation jsonb, row_type anyelement)
RETURNS SETOF anyelement
AS 'MODULE_PATHNAME', 'gc_fdw_conversation_rows'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION gc_fdw.conversation_rows(text, jsonb, anyelement) IS 'the rows of a conversation resource (participants, sessions, ...) in one stored conversation, shaped like row_type';

-- Internal: the same, given the conversation's JSON text, which a chunk
-- prints once for the four child tables it derives from it
CREATE FUNCTION gc_fdw.sync_conversation_rows(resource text, conversation text, row_type anyelement)
RETURNS SETOF anyelement
AS 'MODULE_PATHNAME', 'gc_fdw_conversation_rows'
LANGUAGE C STABLE PARALLEL SAFE ROWS 10;

/*
 * Internal: the tables a conversations sync keeps (gc_fdw.sync_prepare), in
 * the order it writes them, with their keys and the source columns they
 * leave out.  Each value is stored once: conversations.raw keeps the whole
 * document, and a child row keeps its level's typed columns with
 * conversation_id and its parent's id, but no raw and nothing a join to
 * its parent gives (conversation_start; participant_id below a session).
 * Their objects and those columns are derived from conversations.raw
 * (docs/tables.md).  A child table has no primary key but an index on
 * conversation_id, by which the sync finds a conversation's rows, at a
 * fraction of a natural key's size: its rows are all derived from one
 * document, and a re-read writes only the rows not stored yet, so the sync
 * never duplicates one.
 */
CREATE FUNCTION gc_fdw.sync_conversations_tables(
    OUT table_name text, OUT primary_key text, OUT omit text[], OUT extra text,
    OUT index_on text)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE
AS $$
    VALUES ('conversations', 'conversation_id', '{}'::text[], NULL::text, NULL::text),
           ('participants', NULL, '{conversation_start,raw}', NULL, 'conversation_id'),
           ('sessions', NULL, '{conversation_start,raw}', NULL, 'conversation_id'),
           ('segments', NULL, '{conversation_start,participant_id,raw}', NULL, 'conversation_id'),
           ('session_metrics', NULL, '{conversation_start,participant_id,raw}', NULL, 'conversation_id'),
           ('participant_attributes', NULL, '{conversation_start}', NULL, 'conversation_id')
$$;

/*
 * Internal: bring the rows of child table p_table for the conversations
 * p_changed (whose JSON text the chunk keeps in pg_temp.gc_fdw_sync_json)
 * in line with their JSON, and return how many rows were written.  Those of p_new, new to the target, are only
 * inserted (after clearing rows a conversation row deleted by hand may have
 * left).  For the others, only rows that differ from what the JSON gives
 * are deleted and inserted: a late wrap-up code rewrites one segment, not
 * the conversation's whole graph.  Rows compare whole (*=, byte images), so
 * any column type, a user's own too, compares.  Rows are written in
 * conversation_id order (see the chunk).  JIT is off: the planner cannot
 * see how few rows a conversation gives, and compiling costs more than
 * these statements save.
 */
CREATE FUNCTION gc_fdw.sync_conversation_children(
    p_target text, p_table text, p_changed uuid[], p_new uuid[])
RETURNS bigint
LANGUAGE plpgsql
SET jit = off
AS $$
DECLARE
    v_rows text := format('SELECT r.* FROM (SELECT j.json FROM pg_temp.gc_fdw_sync_json j'
                          ' WHERE j.conversation_id = ANY ($1) ORDER BY j.conversation_id) j'
                          ' CROSS JOIN LATERAL gc_fdw.sync_conversation_rows(%L, j.json, NULL::%I.%I) r',
                          p_table, p_target, p_table);
    v_known uuid[] := ARRAY(SELECT unnest(p_changed) EXCEPT SELECT unnest(p_new));
    v_n bigint;
    v_written bigint := 0;
BEGIN
    IF cardinality(p_new) > 0 THEN
        EXECUTE format('DELETE FROM %I.%I WHERE conversation_id = ANY ($1)', p_target, p_table)
            USING p_new;
        EXECUTE format('INSERT INTO %I.%I %s', p_target, p_table, v_rows) USING p_new;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_written := v_n;
    END IF;
    IF cardinality(v_known) > 0 THEN
        IF to_regclass('pg_temp.gc_fdw_sync_rows') IS NOT NULL THEN
            DROP TABLE pg_temp.gc_fdw_sync_rows;
        END IF;
        EXECUTE format('CREATE TEMP TABLE gc_fdw_sync_rows ON COMMIT DROP AS %s', v_rows)
            USING v_known;
        EXECUTE format('DELETE FROM %I.%I t WHERE t.conversation_id = ANY ($1)'
                       ' AND NOT EXISTS (SELECT 1 FROM pg_temp.gc_fdw_sync_rows n'
                       ' WHERE n.conversation_id = t.conversation_id AND n *= t)', p_target, p_table)
            USING v_known;
        EXECUTE format('INSERT INTO %1$I.%2$I SELECT n.* FROM pg_temp.gc_fdw_sync_rows n'
                       ' WHERE NOT EXISTS (SELECT 1 FROM %1$I.%2$I t WHERE t.conversation_id = ANY ($1)'
                       ' AND t.conversation_id = n.conversation_id AND t *= n)', p_target, p_table)
            USING v_known;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_written := v_written + v_n;
        DROP TABLE pg_temp.gc_fdw_sync_rows;
    END IF;
    RETURN v_written;
END
$$;

/*
 * Internal: read one chunk (conversation_start in [p_lo, p_hi), or the
 * conversations p_ids) through the source foreign table, upsert what
 * changed and bring the child rows of exactly those conversations in line.
 * Runs inside the caller's transaction; the caller commits.
 */
CREATE FUNCTION gc_fdw.sync_conversations_chunk(
    p_src text, p_target text, p_lo timestamptz, p_hi timestamptz, p_ids uuid[],
    OUT mode text, OUT requests bigint, OUT pages bigint, OUT rows_read bigint,
    OUT rows_upserted bigint, OUT rows_unchanged bigint, OUT child_rows bigint,
    OUT in_progress bigint, OUT http_429 bigint, OUT wait_429_seconds double precision,
    OUT reauths bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    s0 record;
    s1 record;
    v_cols text := gc_fdw.sync_columns(p_src, p_target, 'conversations');
    v_known uuid[];
    v_changed uuid[];
    v_new uuid[];
    v_table text;
BEGIN
    s0 := gc_fdw.stats_totals();
    IF to_regclass('pg_temp.gc_fdw_sync_batch') IS NOT NULL THEN
        DROP TABLE pg_temp.gc_fdw_sync_batch;
    END IF;
    -- raw compressed as the target compresses it, so the upsert moves each
    -- document on as it is, compressed once
    EXECUTE format('CREATE TEMP TABLE gc_fdw_sync_batch (LIKE %I.conversations INCLUDING COMPRESSION)'
                   ' ON COMMIT DROP', p_target);
    EXECUTE format('INSERT INTO pg_temp.gc_fdw_sync_batch (%1$s) SELECT %1$s'
                   ' FROM %2$I.conversations WHERE %3$s', v_cols, p_src,
                   CASE WHEN p_ids IS NULL THEN 'conversation_start >= $1 AND conversation_start < $2'
                        ELSE 'conversation_id = ANY ($3)' END)
        USING p_lo, p_hi, p_ids;
    GET DIAGNOSTICS rows_read = ROW_COUNT;
    s1 := gc_fdw.stats_totals();

    -- those the target holds already: only their child rows can differ
    EXECUTE format('SELECT coalesce(array_agg(b.conversation_id), ''{}'') FROM pg_temp.gc_fdw_sync_batch b'
                   ' JOIN %I.conversations t USING (conversation_id)', p_target)
        INTO v_known;

    -- the conversation rows: written only when something in them changed
    EXECUTE format(
        'WITH up AS (INSERT INTO %1$I.conversations AS t (%2$s) SELECT %2$s FROM pg_temp.gc_fdw_sync_batch'
        ' ON CONFLICT (conversation_id) DO UPDATE SET (%2$s) = ROW(%3$s)'
        ' WHERE ROW(%4$s) IS DISTINCT FROM ROW(%3$s) RETURNING t.conversation_id)'
        ' SELECT coalesce(array_agg(conversation_id), ''{}'') FROM up',
        p_target, v_cols,
        gc_fdw.sync_columns(p_src, p_target, 'conversations', 'EXCLUDED.'),
        gc_fdw.sync_columns(p_src, p_target, 'conversations', 't.'))
        INTO v_changed;

    -- their child rows (segments and metrics have no ids: rows compare whole),
    -- derived from their JSON text, printed once for the four child tables,
    -- in conversation_id order, the column every child table is indexed on,
    -- which keeps those index pages full (a quarter smaller than in arrival
    -- order); analysed, so that the planner reads it back in that order
    child_rows := 0;
    IF cardinality(v_changed) > 0 THEN
        IF to_regclass('pg_temp.gc_fdw_sync_json') IS NOT NULL THEN
            DROP TABLE pg_temp.gc_fdw_sync_json;
        END IF;
        EXECUTE format('CREATE TEMP TABLE gc_fdw_sync_json (conversation_id uuid PRIMARY KEY,'
                       ' json text COMPRESSION %s) ON COMMIT DROP',
                       CASE WHEN gc_fdw.sync_lz4() THEN 'lz4' ELSE 'pglz' END);
        -- kept in the row: no TOAST lookup when each child table reads it
        ALTER TABLE pg_temp.gc_fdw_sync_json ALTER COLUMN json SET STORAGE MAIN;
        INSERT INTO pg_temp.gc_fdw_sync_json
        SELECT b.conversation_id, b.raw::text
          FROM (SELECT conversation_id, raw FROM pg_temp.gc_fdw_sync_batch
                 WHERE conversation_id = ANY (v_changed) ORDER BY conversation_id) b;
        ANALYZE pg_temp.gc_fdw_sync_json;
        v_new := ARRAY(SELECT unnest(v_changed) EXCEPT SELECT unnest(v_known));
        FOR v_table IN SELECT t.table_name FROM gc_fdw.sync_conversations_tables() t
                        WHERE t.table_name <> 'conversations' LOOP
            -- attributes come only with job results, so a details query keeps them
            CONTINUE WHEN v_table = 'participant_attributes' AND s1.jobs_requests = s0.jobs_requests;
            child_rows := child_rows
                + gc_fdw.sync_conversation_children(p_target, v_table, v_changed, v_new);
        END LOOP;
    END IF;

    SELECT count(*) FILTER (WHERE b.conversation_end IS NULL) INTO in_progress
      FROM pg_temp.gc_fdw_sync_batch b;
    rows_upserted := cardinality(v_changed);
    rows_unchanged := rows_read - rows_upserted;
    mode := CASE WHEN s1.jobs_requests > s0.jobs_requests THEN 'jobs'
                 WHEN s1.lookup_requests > s0.lookup_requests THEN 'lookup'
                 WHEN s1.query_requests > s0.query_requests THEN 'query'
                 ELSE 'none' END;
    requests := s1.requests - s0.requests;
    pages := s1.pages - s0.pages;
    http_429 := s1.http_429 - s0.http_429;
    wait_429_seconds := s1.wait_429_seconds - s0.wait_429_seconds;
    reauths := s1.reauths - s0.reauths;
END
$$;

CREATE PROCEDURE gc_fdw.sync_conversations(
    server_name text, target_schema text,
    start_from timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL,
    lookback interval DEFAULT '2 days', max_runtime interval DEFAULT '10 minutes')
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    v_server text := sync_conversations.server_name;
    v_target text := sync_conversations.target_schema;
    v_started timestamptz := clock_timestamp();
    v_src text;
    v_run bigint;
    v_range record;
    v_wm timestamptz;
    v_wm_new timestamptz;
    v_lo timestamptz;
    v_hi timestamptz;
    v_ids uuid[];
    v_phase text := 'chunk';
    v_chunk_started timestamptz;
    v_chunk_no int := 0;
    v_chunks int := 0;
    v_status text := 'succeeded';
    v_failed boolean := false;
    v_err text;
    v_state text;
    v_detail text;
    v_hint text;
    v_logged text;
    v_entry jsonb;
    c record;
BEGIN
    -- transaction control below: refuse at once inside a transaction block
    COMMIT;

    PERFORM gc_fdw.sync_check_args(start_from, until, lookback, max_runtime);

    IF NOT gc_fdw.sync_lock('conversations', v_server, v_target) THEN
        RETURN;
    END IF;

    BEGIN
        v_src := gc_fdw.sync_prepare(v_server, v_target, 'conversations');
        IF NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_attribute
             WHERE attrelid = format('%I.conversations', v_target)::regclass
               AND attname = 'raw' AND atttypid = 'jsonb'::regtype AND NOT attisdropped) THEN
            RAISE EXCEPTION 'table %.conversations has no jsonb column "raw"', quote_ident(v_target)
                USING ERRCODE = 'undefined_column',
                      DETAIL = 'The sync derives participants, sessions, segments and metrics from each conversation''s raw JSON.',
                      HINT = format('ALTER TABLE %I.conversations ADD COLUMN raw jsonb;', v_target);
        END IF;
        v_range := gc_fdw.sync_range('conversations', 'conversations', v_server, v_target,
                                     start_from, until, lookback, v_started);
        v_run := nextval('gc_fdw.sync_run_id_seq');
        v_entry := jsonb_build_object('run_id', v_run, 'procedure', 'sync_conversations',
                                      'server_name', v_server, 'target_schema', v_target);
        PERFORM gc_fdw.sync_log_write(v_entry || jsonb_build_object(
            'entry', 'run', 'window_start', v_range.range_from, 'window_end', v_range.range_until,
            'watermark_before', v_range.watermark, 'started_at', v_started, 'status', 'running'));
        PERFORM gc_fdw.sync_state_record(v_server, v_target, 'conversations', v_run, 'running');
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM gc_fdw.sync_unlock('conversations', v_server, v_target);
        RAISE;
    END;
    COMMIT;

    -- chunks: the scan's windows (whole UTC days, max_interval_days() at most)
    v_lo := v_range.range_from;
    WHILE v_lo < v_range.range_until LOOP
        v_chunks := v_chunks + 1;
        v_lo := gc_fdw.sync_chunk_end(v_lo, v_range.range_until);
    END LOOP;

    v_wm := v_range.watermark;
    v_lo := v_range.range_from;
    LOOP
        IF v_phase = 'chunk' AND v_lo >= v_range.range_until THEN
            -- then conversations still in progress from before this run's range
            v_phase := 'refresh';
        ELSIF v_phase IN ('refresh', 'done') THEN
            EXIT;
        END IF;
        IF clock_timestamp() - v_started >= max_runtime THEN
            v_status := 'stopped';
            RAISE NOTICE 'gc_fdw: max_runtime (%) spent; stopped with the watermark at %', max_runtime, v_wm;
            EXIT;
        END IF;
        IF v_phase = 'chunk' THEN
            v_hi := gc_fdw.sync_chunk_end(v_lo, v_range.range_until);
            v_chunk_no := v_chunk_no + 1;
        END IF;
        v_chunk_started := clock_timestamp();

        BEGIN
            IF v_phase = 'chunk' THEN
                c := gc_fdw.sync_conversations_chunk(v_src, v_target, v_lo, v_hi, NULL);
                -- v_wm moves once the chunk commits: a failure below rolls
                -- the state back
                v_wm_new := gc_fdw.sync_state_record(v_server, v_target, 'conversations',
                                                     v_run, 'running', v_hi);
            ELSE
                -- the newest first: an id the API no longer returns stays
                -- open locally, and must not crowd out live ones
                EXECUTE format('SELECT array_agg(conversation_id) FROM (SELECT conversation_id'
                               ' FROM %I.conversations WHERE conversation_end IS NULL'
                               ' AND conversation_start < $1'
                               ' ORDER BY conversation_start DESC LIMIT 1000) s', v_target)
                    INTO v_ids USING v_range.range_from;
                IF v_ids IS NULL THEN
                    v_phase := 'done';
                ELSE
                    c := gc_fdw.sync_conversations_chunk(v_src, v_target, NULL, NULL, v_ids);
                END IF;
            END IF;
            IF v_phase <> 'done' THEN
                PERFORM gc_fdw.sync_log_write(v_entry || to_jsonb(c) || jsonb_build_object(
                    'entry', v_phase, 'window_start', CASE WHEN v_phase = 'chunk' THEN v_lo END,
                    'window_end', CASE WHEN v_phase = 'chunk' THEN v_hi END,
                    'watermark_after', coalesce(v_wm_new, v_wm), 'started_at', v_chunk_started,
                    -- the date the jobs API gave for this chunk
                    'data_availability', CASE WHEN c.mode = 'jobs' THEN gc_fdw.data_availability_seen() END,
                    'finished_at', clock_timestamp(), 'status', 'succeeded'));
            END IF;
        EXCEPTION WHEN OTHERS OR query_canceled THEN
            GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE,
                                    v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
            v_failed := true;
        END;

        IF v_failed THEN
            v_status := 'failed';
            v_logged := v_state || ': ' || v_err || coalesce(E'\n' || nullif(v_detail, ''), '');
            PERFORM gc_fdw.sync_log_write(v_entry || jsonb_build_object(
                'entry', v_phase, 'window_start', CASE WHEN v_phase = 'chunk' THEN v_lo END,
                'window_end', CASE WHEN v_phase = 'chunk' THEN v_hi END, 'watermark_after', v_wm,
                'started_at', v_chunk_started, 'finished_at', clock_timestamp(),
                'status', 'failed', 'error', v_logged));
            EXIT;
        END IF;
        COMMIT;
        v_wm := coalesce(v_wm_new, v_wm);
        v_wm_new := NULL;

        IF v_phase = 'chunk' THEN
            RAISE INFO 'gc_fdw: conversations % .. %: % read (% written, % unchanged, % in progress), % pages, % requests, % rows/s; chunk % of %, ETA %',
                v_lo, v_hi, c.rows_read, c.rows_upserted, c.rows_unchanged, c.in_progress,
                c.pages, c.requests,
                round(c.rows_read / greatest(extract(epoch FROM clock_timestamp() - v_chunk_started), 0.001)),
                v_chunk_no, v_chunks,
                date_trunc('second', (clock_timestamp() - v_started) / v_chunk_no * (v_chunks - v_chunk_no));
            v_lo := v_hi;
        ELSIF v_phase = 'refresh' THEN
            RAISE INFO 'gc_fdw: % conversation(s) in progress from before % re-read by id: % written, % still in progress',
                c.rows_read, v_range.range_from, c.rows_upserted, c.in_progress;
        END IF;
    END LOOP;

    PERFORM gc_fdw.sync_run_finish(v_run, v_status, v_logged, v_wm);
    PERFORM gc_fdw.sync_state_record(v_server, v_target, 'conversations', v_run, v_status);
    PERFORM gc_fdw.sync_unlock('conversations', v_server, v_target);
    COMMIT;

    IF v_failed THEN
        RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_err,
            DETAIL = coalesce(nullif(v_detail, ''),
                              format('gc_fdw.sync_conversations failed reading %s.',
                                     CASE WHEN v_phase = 'chunk' THEN format('conversations from %s to %s', v_lo, v_hi)
                                          ELSE 'conversations in progress by id' END)),
            HINT = coalesce(nullif(v_hint, '') || ' ', '') ||
                   format('Chunks committed before the failure are kept; the next run resumes from the watermark (%s). See gc_fdw.sync_log run %s.',
                          coalesce(v_wm::text, 'none'), v_run);
    END IF;
END
$$;
COMMENT ON PROCEDURE gc_fdw.sync_conversations(text, text, timestamptz, timestamptz, interval, interval)
    IS 'incremental, idempotent load of conversation details from a gc_fdw server into local tables';
