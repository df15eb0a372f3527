/*
 * extension/sync_directory.sql
 *		gc_fdw.sync_directory: a full refresh of the directory (users,
 *		queues and their members, wrap-up codes, divisions, groups, skills,
 *		languages, locations, presence definitions) into local tables, one
 *		table per transaction; rows gone from the API are kept and marked.
 *		gc_fdw.sync_users (sync_users.sql) is the same refresh of users
 *		alone.
 *
 * Must not: take locks, prepare tables or keep state other than through
 * sync_common.sql, or mark a row missing on an empty or failed read.
 */

/*
 * Internal: the directory's tables other than users (sync_users.sql lists
 * that one), keyed on their ids, a queue's members on (queue, user), each
 * with the two columns a users sync adds: when a row was last written, and
 * since when the API has stopped returning it.
 */
CREATE FUNCTION gc_fdw.sync_directory_tables(
    OUT table_name text, OUT primary_key text, OUT omit text[], OUT extra text,
    OUT index_on text)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE
AS $$
    SELECT t.table_name, t.primary_key, '{}'::text[],
           'synced_at timestamptz NOT NULL DEFAULT now(), missing_since timestamptz', NULL::text
      FROM (VALUES ('queues', 'id'), ('queue_members', 'queue_id, user_id'),
                   ('wrapup_codes', 'id'), ('divisions', 'id'), ('groups', 'id'),
                   ('skills', 'id'), ('languages', 'id'), ('locations', 'id'),
                   ('presence_definitions', 'id')) t(table_name, primary_key)
$$;

-- Internal: every table a directory sync refreshes, users first, in order
CREATE FUNCTION gc_fdw.sync_directory_order(OUT table_name text, OUT primary_key text)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE
AS $$
    SELECT s.table_name, s.primary_key
      FROM (SELECT u.table_name, u.primary_key, 0 AS kind_order, u.ordinality
              FROM gc_fdw.sync_users_tables() WITH ORDINALITY u
            UNION ALL
            SELECT d.table_name, d.primary_key, 1, d.ordinality
              FROM gc_fdw.sync_directory_tables() WITH ORDINALITY d) s
     ORDER BY s.kind_order, s.ordinality
$$;

/*
 * Internal: read the whole listing of one directory table through its
 * source foreign table and upsert it into the target: rows that changed are
 * written, rows the API no longer returns are marked missing_since (not
 * when it returned none).  Runs inside the caller's transaction; the
 * caller commits.
 */
CREATE FUNCTION gc_fdw.sync_directory_table(
    p_src text, p_target text, p_table text, p_key text,
    OUT mode text, OUT rows_read bigint, OUT rows_upserted bigint, OUT rows_unchanged bigint,
    OUT rows_marked_missing bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    v_cols text := gc_fdw.sync_columns(p_src, p_target, p_table);
    v_same_key text := (SELECT string_agg(format('b.%1$I = t.%1$I', k), ' AND ')
                          FROM regexp_split_to_table(p_key, '\s*,\s*') k);
BEGIN
    IF to_regclass('pg_temp.gc_fdw_sync_directory') IS NOT NULL THEN
        DROP TABLE pg_temp.gc_fdw_sync_directory;
    END IF;
    EXECUTE format('CREATE TEMP TABLE gc_fdw_sync_directory (LIKE %I.%I) ON COMMIT DROP', p_src, p_table);
    -- a row seen twice (pages shifting while the listing is read) counts once
    EXECUTE format('INSERT INTO pg_temp.gc_fdw_sync_directory (%1$s) SELECT DISTINCT ON (%2$s) %1$s FROM %3$I.%4$I',
                   v_cols, p_key, p_src, p_table);
    GET DIAGNOSTICS rows_read = ROW_COUNT;
    rows_upserted := gc_fdw.sync_upsert(p_src, p_target, p_table, 'gc_fdw_sync_directory', p_key, true);
    -- rows gone from the API are kept, and marked (never on an empty answer:
    -- an organization always has users, divisions and presences)
    rows_marked_missing := 0;
    IF rows_read > 0 THEN
        EXECUTE format('UPDATE %I.%I t SET missing_since = now(), synced_at = now()'
                       ' WHERE t.missing_since IS NULL'
                       ' AND NOT EXISTS (SELECT 1 FROM pg_temp.gc_fdw_sync_directory b WHERE %s)',
                       p_target, p_table, v_same_key);
        GET DIAGNOSTICS rows_marked_missing = ROW_COUNT;
    END IF;
    DROP TABLE pg_temp.gc_fdw_sync_directory;
    mode := p_table;
    rows_unchanged := rows_read - rows_upserted;
END
$$;

/*
 * Internal: the refresh that gc_fdw.sync_directory and gc_fdw.sync_users
 * run (p_procedure names the caller in the log): the tables p_tables (NULL:
 * all of them), each read, upserted and committed in a transaction of its
 * own, logged as a chunk of the run, and recorded in sync_state under its
 * own name.  A table that fails leaves the others to be refreshed; a
 * cancel stops the run.  One run of a server into a schema at a time, both
 * procedures alike.
 */
CREATE PROCEDURE gc_fdw.sync_directory_run(p_procedure text, p_server text, p_target text,
                                           p_tables text[])
LANGUAGE plpgsql
AS $$
DECLARE
    v_known text[] := ARRAY(SELECT o.table_name FROM gc_fdw.sync_directory_order() o);
    v_unknown text;
    v_src text;
    v_run bigint;
    v_entry jsonb;
    v_table_started timestamptz;
    v_before jsonb;
    v_failed text[] := '{}';
    v_cancelled boolean := false;
    v_ok boolean;
    v_err text;
    v_state text;
    v_detail text;
    v_hint text;
    v_first_err text;
    v_first_state text;
    v_first_detail text;
    v_first_hint text;
    v_first_logged text;
    v_logged text;
    c record;
    spec record;
BEGIN
    -- one transaction per table: refuse at once inside a transaction block
    COMMIT;
    p_tables := coalesce(p_tables, v_known);
    SELECT string_agg(CASE WHEN t IS NULL THEN 'NULL' ELSE format('"%s"', t) END, ', ') INTO v_unknown
      FROM unnest(p_tables) t WHERE t IS NULL OR t <> ALL (v_known);
    IF v_unknown IS NOT NULL OR cardinality(p_tables) = 0 THEN
        RAISE EXCEPTION 'gc_fdw.% keeps no table %', p_procedure, coalesce(v_unknown, 'in an empty list')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Name some of %s, or pass NULL for all of them.', array_to_string(v_known, ', '));
    END IF;

    IF NOT gc_fdw.sync_lock('directory', p_server, p_target) THEN
        RETURN;
    END IF;
    BEGIN
        IF 'users' = ANY (p_tables) THEN
            v_src := gc_fdw.sync_prepare(p_server, p_target, 'users');
        END IF;
        IF EXISTS (SELECT 1 FROM gc_fdw.sync_directory_tables() d WHERE d.table_name = ANY (p_tables)) THEN
            v_src := gc_fdw.sync_prepare(p_server, p_target, 'directory');
        END IF;
        v_run := nextval('gc_fdw.sync_run_id_seq');
        v_entry := jsonb_build_object('run_id', v_run, 'procedure', p_procedure,
                                      'server_name', p_server, 'target_schema', p_target);
        PERFORM gc_fdw.sync_log_write(v_entry || jsonb_build_object('entry', 'run', 'status', 'running'));
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM gc_fdw.sync_unlock('directory', p_server, p_target);
        RAISE;
    END;
    COMMIT;

    FOR spec IN SELECT o.* FROM gc_fdw.sync_directory_order() o WHERE o.table_name = ANY (p_tables) LOOP
        v_table_started := clock_timestamp();
        v_before := to_jsonb(gc_fdw.stats_totals());
        v_ok := true;
        BEGIN
            c := gc_fdw.sync_directory_table(v_src, p_target, spec.table_name, spec.primary_key);
            PERFORM gc_fdw.sync_log_write(
                v_entry || to_jsonb(c) || gc_fdw.sync_counters_since(v_before) || jsonb_build_object(
                    'entry', 'chunk', 'started_at', v_table_started, 'finished_at', clock_timestamp(),
                    'status', 'succeeded'));
            PERFORM gc_fdw.sync_state_record(p_server, p_target, spec.table_name, v_run, 'succeeded');
        EXCEPTION
            WHEN query_canceled THEN
                GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE,
                                        v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
                v_ok := false;
                v_cancelled := true;
            WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE,
                                        v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
                v_ok := false;
        END;

        IF v_ok THEN
            COMMIT;
            RAISE INFO 'gc_fdw: %: % read, % written, % unchanged, % newly missing from the API',
                spec.table_name, c.rows_read, c.rows_upserted, c.rows_unchanged, c.rows_marked_missing;
        ELSE
            -- the table's transaction was rolled back: nothing of it is kept
            v_logged := v_state || ': ' || v_err || coalesce(E'\n' || nullif(v_detail, ''), '');
            PERFORM gc_fdw.sync_log_write(v_entry || jsonb_build_object(
                'entry', 'chunk', 'mode', spec.table_name, 'started_at', v_table_started,
                'finished_at', clock_timestamp(), 'status', 'failed', 'error', v_logged));
            PERFORM gc_fdw.sync_state_record(p_server, p_target, spec.table_name, v_run, 'failed');
            COMMIT;
            IF cardinality(v_failed) = 0 THEN
                v_first_err := v_err;
                v_first_state := v_state;
                v_first_detail := v_detail;
                v_first_hint := v_hint;
                v_first_logged := v_logged;
            END IF;
            v_failed := v_failed || spec.table_name;
            EXIT WHEN v_cancelled;
        END IF;
    END LOOP;

    PERFORM gc_fdw.sync_run_finish(v_run, CASE WHEN cardinality(v_failed) > 0 THEN 'failed' ELSE 'succeeded' END,
                                   CASE WHEN cardinality(v_failed) > 0
                                        THEN format('%s failed: %s', array_to_string(v_failed, ', '),
                                                    v_first_logged) END,
                                   p_mode => CASE WHEN cardinality(p_tables) = 1 THEN p_tables[1]
                                                  ELSE 'directory' END);
    PERFORM gc_fdw.sync_unlock('directory', p_server, p_target);
    COMMIT;

    IF cardinality(v_failed) > 0 THEN
        RAISE EXCEPTION USING ERRCODE = v_first_state, MESSAGE = v_first_err,
            DETAIL = coalesce(nullif(v_first_detail, ''),
                              format('gc_fdw.%s failed reading %s; that table is unchanged.',
                                     p_procedure, v_failed[1])),
            HINT = coalesce(nullif(v_first_hint, '') || ' ', '') ||
                   format('Tables that failed, left as they were: %s%s. See gc_fdw.sync_log run %s.',
                          array_to_string(v_failed, ', '),
                          CASE WHEN v_cancelled THEN ' (cancelled: the tables after it were not read)' END,
                          v_run);
    END IF;
END
$$;

CREATE PROCEDURE gc_fdw.sync_directory(server_name text, target_schema text,
                                       tables text[] DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    CALL gc_fdw.sync_directory_run('sync_directory', server_name, target_schema, tables);
END
$$;
COMMENT ON PROCEDURE gc_fdw.sync_directory(text, text, text[])
    IS 'full refresh of the directory (users, queues, queue members, wrap-up codes, divisions, groups, skills, languages, locations, presence definitions) from a gc_fdw server into local tables; rows gone from the API are kept and marked';
