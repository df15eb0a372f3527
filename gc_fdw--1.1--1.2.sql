/* gc_fdw--1.1--1.2.sql: what 1.2 adds to 1.1 and changes in it */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION gc_fdw UPDATE TO '1.2'" to load this file. \quit

-- The API's longest interval, asked of C: the chunks of a sync are the
-- scan's windows
CREATE FUNCTION gc_fdw.max_interval_days(filtered boolean DEFAULT false)
RETURNS integer
AS 'MODULE_PATHNAME', 'gc_fdw_max_interval_days'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION gc_fdw.max_interval_days(boolean) IS 'the longest interval, in days, of one conversation details query, without or with filters: the scan''s longest window';

-- Internal: the end of the chunk that starts at p_lo: the UTC midnight
-- max_interval_days() after the start of p_lo's UTC day, or p_until if
-- sooner.  The scan cuts its windows alike, so a chunk is one window.
CREATE FUNCTION gc_fdw.sync_chunk_end(p_lo timestamptz, p_until timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE
AS $$
    SELECT least(p_until, (date_trunc('day', p_lo AT TIME ZONE 'UTC')
                           + make_interval(days => gc_fdw.max_interval_days()))
                          AT TIME ZONE 'UTC')
$$;

CREATE OR REPLACE PROCEDURE gc_fdw.sync_conversations(
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
    v_wm_before timestamptz;
    v_wm timestamptz;
    v_from timestamptz;
    v_until timestamptz;
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
    v_avail timestamptz;
    v_wm_new timestamptz;
    c record;
    t record;
BEGIN
    -- transaction control below: refuse at once inside a transaction block
    COMMIT;

    IF lookback IS NULL OR lookback < interval '0' THEN
        RAISE EXCEPTION 'lookback must be a non-negative interval'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_runtime IS NULL OR max_runtime <= interval '0' THEN
        RAISE EXCEPTION 'max_runtime must be a positive interval'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT isfinite(coalesce(start_from, now())) OR NOT isfinite(coalesce(until, now())) THEN
        RAISE EXCEPTION 'start_from and until must be finite timestamps'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF NOT gc_fdw.sync_lock('conversations', v_server, v_target) THEN
        RETURN;
    END IF;

    BEGIN
        v_src := gc_fdw.sync_prepare(v_server, v_target, 'conversations');
        SELECT s.watermark INTO v_wm_before FROM gc_fdw.sync_state s
         WHERE s.server_name = v_server AND s.target_schema = v_target
           AND s.kind = 'conversations';
        IF v_wm_before IS NULL AND start_from IS NULL THEN
            RAISE EXCEPTION 'the first sync of conversations from server "%" into schema "%" needs start_from',
                v_server, v_target
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('CALL gc_fdw.sync_conversations(%L, %L, start_from => now() - interval ''30 days'');',
                                    v_server, v_target);
        END IF;
        -- never past a minute ago: a watermark in the future would skip
        -- every conversation between now and then
        v_until := least(coalesce(until, 'infinity'),
                         date_trunc('second', v_started) - interval '1 minute');
        -- lookback counted in UTC days, whatever the session's time zone
        v_from := CASE WHEN v_wm_before IS NULL THEN start_from
                       ELSE ((v_wm_before AT TIME ZONE 'UTC') - lookback) AT TIME ZONE 'UTC' END;
        v_run := nextval('gc_fdw.sync_run_id_seq');
        INSERT INTO gc_fdw.sync_log (run_id, entry, procedure, server_name, target_schema,
                                     window_start, window_end, watermark_before, started_at, status)
        VALUES (v_run, 'run', 'sync_conversations', v_server, v_target, v_from, v_until,
                v_wm_before, v_started, 'running');
        INSERT INTO gc_fdw.sync_state AS s (server_name, target_schema, kind, last_run_id, last_status)
        VALUES (v_server, v_target, 'conversations', v_run, 'running')
        ON CONFLICT (server_name, target_schema, kind)
        DO UPDATE SET last_run_id = EXCLUDED.last_run_id, last_status = 'running',
                      updated_at = clock_timestamp();
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM gc_fdw.sync_unlock('conversations', v_server, v_target);
        RAISE;
    END;
    COMMIT;

    -- chunks: the scan's windows (whole UTC days, max_interval_days() at most)
    v_lo := v_from;
    WHILE v_lo < v_until LOOP
        v_chunks := v_chunks + 1;
        v_lo := gc_fdw.sync_chunk_end(v_lo, v_until);
    END LOOP;

    v_wm := v_wm_before;
    v_lo := v_from;
    LOOP
        IF v_phase = 'chunk' AND v_lo >= v_until THEN
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
            v_hi := gc_fdw.sync_chunk_end(v_lo, v_until);
            v_chunk_no := v_chunk_no + 1;
        END IF;
        v_chunk_started := clock_timestamp();

        BEGIN
            IF v_phase = 'chunk' THEN
                c := gc_fdw.sync_conversations_chunk(v_src, v_target, v_lo, v_hi, NULL);
                INSERT INTO gc_fdw.sync_state AS s (server_name, target_schema, kind, watermark, last_run_id, last_status)
                VALUES (v_server, v_target, 'conversations', v_hi, v_run, 'running')
                ON CONFLICT (server_name, target_schema, kind)
                DO UPDATE SET watermark = greatest(s.watermark, EXCLUDED.watermark),
                              updated_at = clock_timestamp()
                RETURNING s.watermark INTO v_wm_new;
            ELSE
                -- the newest first: an id the API no longer returns stays
                -- open locally, and must not crowd out live ones
                EXECUTE format('SELECT array_agg(conversation_id) FROM (SELECT conversation_id'
                               ' FROM %I.conversations WHERE conversation_end IS NULL'
                               ' AND conversation_start < $1'
                               ' ORDER BY conversation_start DESC LIMIT 1000) s', v_target)
                    INTO v_ids USING v_from;
                IF v_ids IS NULL THEN
                    v_phase := 'done';
                ELSE
                    c := gc_fdw.sync_conversations_chunk(v_src, v_target, NULL, NULL, v_ids);
                END IF;
            END IF;
            -- the date the jobs API gave for this chunk (NULL for other modes)
            IF v_phase <> 'done' THEN
            v_avail := CASE WHEN c.mode = 'jobs' THEN gc_fdw.data_availability_seen() END;
            INSERT INTO gc_fdw.sync_log (run_id, entry, procedure, server_name, target_schema,
                                         window_start, window_end, mode, requests, pages, rows_read,
                                         rows_upserted, rows_unchanged, child_rows, in_progress,
                                         http_429, wait_429_seconds, reauths, watermark_after,
                                         data_availability, started_at, finished_at, status)
            VALUES (v_run, v_phase, 'sync_conversations', v_server, v_target,
                    CASE WHEN v_phase = 'chunk' THEN v_lo END, CASE WHEN v_phase = 'chunk' THEN v_hi END,
                    c.mode, c.requests, c.pages, c.rows_read, c.rows_upserted, c.rows_unchanged,
                    c.child_rows, c.in_progress, c.http_429, c.wait_429_seconds, c.reauths,
                    coalesce(v_wm_new, v_wm),
                    v_avail, v_chunk_started, clock_timestamp(), 'succeeded');
            END IF;
        EXCEPTION WHEN OTHERS OR query_canceled THEN
            GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE,
                                    v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
            v_failed := true;
        END;

        IF v_failed THEN
            v_status := 'failed';
            INSERT INTO gc_fdw.sync_log (run_id, entry, procedure, server_name, target_schema,
                                         window_start, window_end, watermark_after, started_at,
                                         finished_at, status, error)
            VALUES (v_run, v_phase, 'sync_conversations', v_server, v_target,
                    CASE WHEN v_phase = 'chunk' THEN v_lo END, CASE WHEN v_phase = 'chunk' THEN v_hi END,
                    v_wm, v_chunk_started, clock_timestamp(), 'failed', v_state || ': ' || v_err || coalesce(E'\n' || nullif(v_detail, ''), ''));
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
                c.rows_read, v_from, c.rows_upserted, c.in_progress;
        END IF;
    END LOOP;

    -- the run's totals
    SELECT sum(l.requests) AS requests, sum(l.pages) AS pages, sum(l.rows_read) AS rows_read,
           sum(l.rows_upserted) AS rows_upserted, sum(l.rows_unchanged) AS rows_unchanged,
           sum(l.child_rows) AS child_rows, sum(l.in_progress) FILTER (WHERE l.entry = 'chunk') AS in_progress,
           sum(l.http_429) AS http_429, sum(l.wait_429_seconds) AS wait_429_seconds,
           sum(l.reauths) AS reauths, max(l.data_availability) AS data_availability,
           string_agg(DISTINCT l.mode, ',') AS mode
      INTO t
      FROM gc_fdw.sync_log l
     WHERE l.run_id = v_run AND l.entry <> 'run' AND l.status = 'succeeded';
    UPDATE gc_fdw.sync_log l
       SET mode = t.mode, requests = t.requests, pages = t.pages, rows_read = t.rows_read,
           rows_upserted = t.rows_upserted, rows_unchanged = t.rows_unchanged,
           child_rows = t.child_rows, in_progress = t.in_progress, http_429 = t.http_429,
           wait_429_seconds = t.wait_429_seconds, reauths = t.reauths,
           data_availability = t.data_availability, watermark_after = v_wm,
           finished_at = clock_timestamp(), status = v_status,
           error = CASE WHEN v_failed THEN v_state || ': ' || v_err || coalesce(E'\n' || nullif(v_detail, ''), '') END
     WHERE l.run_id = v_run AND l.entry = 'run';
    UPDATE gc_fdw.sync_state s
       SET last_status = v_status,
           last_success = CASE WHEN v_failed THEN s.last_success ELSE clock_timestamp() END,
           updated_at = clock_timestamp()
     WHERE s.server_name = v_server AND s.target_schema = v_target AND s.kind = 'conversations';
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
