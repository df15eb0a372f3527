/*
 * extension/sync_user_status.sql
 *		gc_fdw.sync_user_status: incremental load of the users' status
 *		history (user_presence, user_routing_status) into local tables, a
 *		chunk of whole UTC days per transaction, and the re-read of records
 *		still open from before the run's range until they close.
 *
 * Must not: take locks, prepare tables or keep state other than through
 * sync_common.sql, or insert a record that starts before the range a run
 * reads (the warehouse holds the records that start from start_from on).
 */

/*
 * Internal: the tables a status sync keeps (gc_fdw.sync_prepare), keyed as
 * the API identifies a record.  A record's JSON has no field without a
 * column, so no raw is kept.
 */
CREATE FUNCTION gc_fdw.sync_user_status_tables(
    OUT table_name text, OUT primary_key text, OUT omit text[], OUT extra text,
    OUT index_on text)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE
AS $$
    VALUES ('user_presence', 'user_id, start_time', '{raw}'::text[], NULL::text, NULL::text),
           ('user_routing_status', 'user_id, start_time', '{raw}', NULL, NULL)
$$;

-- Internal: this session's requests to the user details query and jobs
CREATE FUNCTION gc_fdw.sync_user_status_requests(OUT query bigint, OUT jobs bigint)
LANGUAGE sql VOLATILE
AS $$
    SELECT coalesce(sum(s.requests) FILTER (WHERE s.endpoint = 'POST /api/v2/analytics/users/details/query'), 0),
           coalesce(sum(s.requests) FILTER (WHERE s.endpoint LIKE '% /api/v2/analytics/users/details/jobs%'), 0)
      FROM gc_fdw.stats() s
$$;

/*
 * Internal: read the records of both tables that start in [p_lo, p_hi), or,
 * given p_open_at, those in progress at that time that the target holds
 * already (the overlap shape: one request series for an instant), and
 * upsert what changed.  A table the target holds no open record of from
 * before p_open_at is not read then.  Runs inside the caller's transaction;
 * the caller commits.  summary says what each table read and wrote.
 */
CREATE FUNCTION gc_fdw.sync_user_status_chunk(
    p_src text, p_target text, p_lo timestamptz, p_hi timestamptz, p_open_at timestamptz,
    OUT mode text, OUT rows_read bigint, OUT rows_upserted bigint, OUT rows_unchanged bigint,
    OUT in_progress bigint, OUT summary text)
LANGUAGE plpgsql
AS $$
DECLARE
    r0 record := gc_fdw.sync_user_status_requests();
    r1 record;
    v_table text;
    v_key text;
    v_held boolean;
    v_read bigint;
    v_written bigint;
    v_open bigint;
BEGIN
    rows_read := 0;
    rows_upserted := 0;
    in_progress := 0;
    FOR v_table, v_key IN SELECT t.table_name, t.primary_key FROM gc_fdw.sync_user_status_tables() t LOOP
        IF p_open_at IS NOT NULL THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I WHERE end_time IS NULL AND start_time < $1)',
                           p_target, v_table)
                INTO v_held USING p_open_at;
            CONTINUE WHEN NOT v_held;
        END IF;
        IF to_regclass('pg_temp.gc_fdw_sync_status') IS NOT NULL THEN
            DROP TABLE pg_temp.gc_fdw_sync_status;
        END IF;
        EXECUTE format('CREATE TEMP TABLE gc_fdw_sync_status (LIKE %I.%I) ON COMMIT DROP', p_target, v_table);
        EXECUTE format('INSERT INTO pg_temp.gc_fdw_sync_status (%1$s) SELECT %1$s FROM %2$I.%3$I WHERE %4$s',
                       gc_fdw.sync_columns(p_src, p_target, v_table), p_src, v_table,
                       CASE WHEN p_open_at IS NULL THEN 'start_time >= $1 AND start_time < $2'
                            ELSE 'start_time <= $3 AND (end_time > $3 OR end_time IS NULL)' END)
            USING p_lo, p_hi, p_open_at;
        IF p_open_at IS NOT NULL THEN
            -- only records the target holds: none that started before its range
            EXECUTE format('DELETE FROM pg_temp.gc_fdw_sync_status b WHERE NOT EXISTS (SELECT 1 FROM %I.%I t'
                           ' WHERE t.user_id = b.user_id AND t.start_time = b.start_time)', p_target, v_table);
        END IF;
        SELECT count(*), count(*) FILTER (WHERE b.end_time IS NULL) INTO v_read, v_open
          FROM pg_temp.gc_fdw_sync_status b;
        v_written := gc_fdw.sync_upsert(p_src, p_target, v_table, 'gc_fdw_sync_status', v_key);
        DROP TABLE pg_temp.gc_fdw_sync_status;
        rows_read := rows_read + v_read;
        rows_upserted := rows_upserted + v_written;
        in_progress := in_progress + v_open;
        summary := concat_ws('; ', summary,
                             format('%s: %s read, %s written, %s open', v_table, v_read, v_written, v_open));
    END LOOP;
    rows_unchanged := rows_read - rows_upserted;
    r1 := gc_fdw.sync_user_status_requests();
    mode := CASE WHEN r1.jobs > r0.jobs THEN 'jobs'
                 WHEN r1.query > r0.query THEN 'query'
                 ELSE 'none' END;
END
$$;

CREATE PROCEDURE gc_fdw.sync_user_status(
    server_name text, target_schema text,
    start_from timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL,
    lookback interval DEFAULT '2 days', max_runtime interval DEFAULT '10 minutes')
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    v_server text := sync_user_status.server_name;
    v_target text := sync_user_status.target_schema;
    v_started timestamptz := clock_timestamp();
    v_src text;
    v_run bigint;
    v_range record;
    v_wm timestamptz;
    v_wm_new timestamptz;
    v_lo timestamptz;
    v_hi timestamptz;
    v_phase text := 'chunk';
    v_chunk_started timestamptz;
    v_chunk_no int := 0;
    v_chunks int := 0;
    v_status text := 'succeeded';
    v_failed boolean := false;
    v_err text;
    v_logged text;
    v_state text;
    v_detail text;
    v_hint text;
    v_entry jsonb;
    v_before jsonb;
    v_spent jsonb;
    c record;
BEGIN
    -- transaction control below: refuse at once inside a transaction block
    COMMIT;

    PERFORM gc_fdw.sync_check_args(start_from, until, lookback, max_runtime);

    IF NOT gc_fdw.sync_lock('user_status', v_server, v_target) THEN
        RETURN;
    END IF;

    BEGIN
        v_src := gc_fdw.sync_prepare(v_server, v_target, 'user_status');
        v_range := gc_fdw.sync_range('user_status', 'user status', v_server, v_target, start_from,
                                     until, lookback, v_started);
        v_run := nextval('gc_fdw.sync_run_id_seq');
        v_entry := jsonb_build_object('run_id', v_run, 'procedure', 'sync_user_status',
                                      'server_name', v_server, 'target_schema', v_target);
        PERFORM gc_fdw.sync_log_write(v_entry || jsonb_build_object(
            'entry', 'run', 'window_start', v_range.range_from, 'window_end', v_range.range_until,
            'watermark_before', v_range.watermark, 'started_at', v_started, 'status', 'running'));
        PERFORM gc_fdw.sync_state_record(v_server, v_target, 'user_status', v_run, 'running');
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM gc_fdw.sync_unlock('user_status', v_server, v_target);
        RAISE;
    END;
    COMMIT;

    v_lo := v_range.range_from;
    WHILE v_lo < v_range.range_until LOOP
        v_chunks := v_chunks + 1;
        v_lo := gc_fdw.sync_chunk_end(v_lo, v_range.range_until);
    END LOOP;

    /*
     * The chunks read every record that starts in the range.  A record the
     * target holds open from before the range was read open by an earlier
     * run, at a time past the watermark, so it ends (if it has) after the
     * range's start: it is in progress then, and the refresh, one read of
     * the records in progress at that instant, finds it, however long ago
     * it started.
     */
    v_wm := v_range.watermark;
    v_lo := v_range.range_from;
    LOOP
        IF v_phase = 'chunk' AND v_lo >= v_range.range_until THEN
            v_phase := 'refresh';
        ELSIF v_phase = 'refresh' THEN
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
        v_before := to_jsonb(gc_fdw.stats_totals());

        BEGIN
            IF v_phase = 'chunk' THEN
                c := gc_fdw.sync_user_status_chunk(v_src, v_target, v_lo, v_hi, NULL);
                -- v_wm moves once the chunk commits: a failure below rolls
                -- the state back
                v_wm_new := gc_fdw.sync_state_record(v_server, v_target, 'user_status', v_run,
                                                     'running', v_hi);
            ELSE
                c := gc_fdw.sync_user_status_chunk(v_src, v_target, NULL, NULL, v_range.range_from);
            END IF;
            v_spent := gc_fdw.sync_counters_since(v_before);
            IF c.summary IS NOT NULL THEN
                PERFORM gc_fdw.sync_log_write(v_entry || to_jsonb(c) || v_spent || jsonb_build_object(
                    'entry', v_phase, 'window_start', CASE WHEN v_phase = 'chunk' THEN v_lo END,
                    'window_end', CASE WHEN v_phase = 'chunk' THEN v_hi END,
                    'watermark_after', coalesce(v_wm_new, v_wm), 'started_at', v_chunk_started,
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
            RAISE INFO 'gc_fdw: user status % .. %: % (% rows/s), % pages, % requests; chunk % of %, ETA %',
                v_lo, v_hi, c.summary,
                round(c.rows_read / greatest(extract(epoch FROM clock_timestamp() - v_chunk_started), 0.001)),
                v_spent ->> 'pages', v_spent ->> 'requests', v_chunk_no, v_chunks,
                date_trunc('second', (clock_timestamp() - v_started) / v_chunk_no * (v_chunks - v_chunk_no));
            v_lo := v_hi;
        ELSIF c.summary IS NOT NULL THEN
            RAISE INFO 'gc_fdw: user status records open from before % re-read: %',
                v_range.range_from, c.summary;
        END IF;
    END LOOP;

    PERFORM gc_fdw.sync_run_finish(v_run, v_status, v_logged, v_wm);
    PERFORM gc_fdw.sync_state_record(v_server, v_target, 'user_status', v_run, v_status);
    PERFORM gc_fdw.sync_unlock('user_status', v_server, v_target);
    COMMIT;

    IF v_failed THEN
        RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_err,
            DETAIL = coalesce(nullif(v_detail, ''),
                              format('gc_fdw.sync_user_status failed reading %s.',
                                     CASE WHEN v_phase = 'chunk' THEN format('the records that start from %s to %s', v_lo, v_hi)
                                          ELSE format('the records open at %s', v_range.range_from) END)),
            HINT = coalesce(nullif(v_hint, '') || ' ', '') ||
                   format('Chunks committed before the failure are kept; the next run resumes from the watermark (%s). See gc_fdw.sync_log run %s.',
                          coalesce(v_wm::text, 'none'), v_run);
    END IF;
END
$$;
COMMENT ON PROCEDURE gc_fdw.sync_user_status(text, text, timestamptz, timestamptz, interval, interval)
    IS 'incremental, idempotent load of the users'' presence and routing-status history from a gc_fdw server into local tables';
