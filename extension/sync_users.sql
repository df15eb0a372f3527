/*
 * extension/sync_users.sql
 *		gc_fdw.sync_users: a full refresh of the users directory (every
 *		state) into a local table; users gone from the API are kept and
 *		marked.
 *
 * Must not: take locks, prepare tables or keep state other than through
 * sync_common.sql.
 */

-- Internal: the table a users sync keeps (gc_fdw.sync_prepare), with the
-- two columns it adds to the source's: when a user was last written, and
-- since when the API has stopped returning them
CREATE FUNCTION gc_fdw.sync_users_tables(
    OUT table_name text, OUT primary_key text, OUT omit text[], OUT extra text)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE
AS $$
    VALUES ('users', 'id', '{}'::text[],
            'synced_at timestamptz NOT NULL DEFAULT now(), missing_since timestamptz')
$$;

CREATE PROCEDURE gc_fdw.sync_users(server_name text, target_schema text)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    v_server text := sync_users.server_name;
    v_target text := sync_users.target_schema;
    v_started timestamptz := clock_timestamp();
    v_src text;
    v_run bigint;
    v_cols text;
    v_read bigint;
    v_written bigint;
    v_missing bigint := 0;
    v_failed boolean := false;
    v_err text;
    v_state text;
    v_detail text;
    v_hint text;
    s0 record;
    s1 record;
BEGIN
    COMMIT;
    IF NOT gc_fdw.sync_lock('users', v_server, v_target) THEN
        RETURN;
    END IF;

    BEGIN
        v_src := gc_fdw.sync_prepare(v_server, v_target, 'users');
        v_run := nextval('gc_fdw.sync_run_id_seq');
        INSERT INTO gc_fdw.sync_log (run_id, entry, procedure, server_name, target_schema, mode,
                                     started_at, status)
        VALUES (v_run, 'run', 'sync_users', v_server, v_target, 'users', v_started, 'running');
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM gc_fdw.sync_unlock('users', v_server, v_target);
        RAISE;
    END;
    COMMIT;

    BEGIN
        s0 := gc_fdw.stats_totals();
        v_cols := gc_fdw.sync_columns(v_src, v_target, 'users');
        IF to_regclass('pg_temp.gc_fdw_sync_users') IS NOT NULL THEN
            DROP TABLE pg_temp.gc_fdw_sync_users;
        END IF;
        EXECUTE format('CREATE TEMP TABLE gc_fdw_sync_users (LIKE %I.users) ON COMMIT DROP', v_src);
        -- every state; a user seen twice (pages shifting) counts once
        EXECUTE format('INSERT INTO pg_temp.gc_fdw_sync_users (%1$s) SELECT DISTINCT ON (id) %1$s FROM %2$I.users',
                       v_cols, v_src);
        GET DIAGNOSTICS v_read = ROW_COUNT;
        s1 := gc_fdw.stats_totals();
        EXECUTE format(
            'WITH up AS (INSERT INTO %1$I.users AS t (%2$s) SELECT %2$s FROM pg_temp.gc_fdw_sync_users'
            ' ON CONFLICT (id) DO UPDATE SET (%2$s, synced_at, missing_since) = ROW(%3$s, now(), NULL)'
            ' WHERE ROW(%4$s) IS DISTINCT FROM ROW(%3$s) OR t.missing_since IS NOT NULL RETURNING 1)'
            ' SELECT count(*) FROM up',
            v_target, v_cols,
            gc_fdw.sync_columns(v_src, v_target, 'users', 'EXCLUDED.'),
            gc_fdw.sync_columns(v_src, v_target, 'users', 't.'))
            INTO v_written;
        -- users gone from the API are kept, and marked (never on an empty answer)
        IF v_read > 0 THEN
            EXECUTE format('UPDATE %I.users t SET missing_since = now(), synced_at = now()'
                           ' WHERE t.missing_since IS NULL'
                           ' AND NOT EXISTS (SELECT 1 FROM pg_temp.gc_fdw_sync_users b WHERE b.id = t.id)',
                           v_target);
            GET DIAGNOSTICS v_missing = ROW_COUNT;
        END IF;
        UPDATE gc_fdw.sync_log l
           SET requests = s1.requests - s0.requests, pages = s1.pages - s0.pages,
               rows_read = v_read, rows_upserted = v_written, rows_unchanged = v_read - v_written,
               rows_marked_missing = v_missing, http_429 = s1.http_429 - s0.http_429,
               wait_429_seconds = s1.wait_429_seconds - s0.wait_429_seconds,
               reauths = s1.reauths - s0.reauths, finished_at = clock_timestamp(),
               status = 'succeeded'
         WHERE l.run_id = v_run AND l.entry = 'run';
        INSERT INTO gc_fdw.sync_state AS s (server_name, target_schema, kind, last_run_id, last_status, last_success)
        VALUES (v_server, v_target, 'users', v_run, 'succeeded', clock_timestamp())
        ON CONFLICT (server_name, target_schema, kind)
        DO UPDATE SET last_run_id = EXCLUDED.last_run_id, last_status = 'succeeded',
                      last_success = EXCLUDED.last_success, updated_at = clock_timestamp();
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE,
                                v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
        v_failed := true;
    END;

    IF v_failed THEN
        UPDATE gc_fdw.sync_log l
           SET finished_at = clock_timestamp(), status = 'failed', error = v_state || ': ' || v_err || coalesce(E'\n' || nullif(v_detail, ''), '')
         WHERE l.run_id = v_run AND l.entry = 'run';
        INSERT INTO gc_fdw.sync_state AS s (server_name, target_schema, kind, last_run_id, last_status)
        VALUES (v_server, v_target, 'users', v_run, 'failed')
        ON CONFLICT (server_name, target_schema, kind)
        DO UPDATE SET last_run_id = EXCLUDED.last_run_id, last_status = 'failed',
                      updated_at = clock_timestamp();
    END IF;
    PERFORM gc_fdw.sync_unlock('users', v_server, v_target);
    COMMIT;
    IF v_failed THEN
        RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_err,
            DETAIL = coalesce(nullif(v_detail, ''), 'gc_fdw.sync_users failed; the users table is unchanged.'),
            HINT = coalesce(nullif(v_hint, '') || ' ', '') ||
                   format('See gc_fdw.sync_log run %s.', v_run);
    END IF;
    RAISE INFO 'gc_fdw: users: % read, % written, % unchanged, % newly missing from the API',
        v_read, v_written, v_read - v_written, v_missing;
END
$$;
COMMENT ON PROCEDURE gc_fdw.sync_users(text, text)
    IS 'full refresh of users (every state) from a gc_fdw server into a local table; users gone from the API are kept and marked';
