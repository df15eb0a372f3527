/*
 * extension/sync_common.sql
 *		What every sync procedure shares: the sync state (watermarks) and the
 *		sync log, the counters a run logs, the chunks a run commits (the API's
 *		longest interval, asked of C), the preparation of source foreign
 *		tables and target tables (each kind lists its own in
 *		gc_fdw.sync_<kind>_tables()), the column lists of an upsert, and the
 *		advisory lock that keeps two runs of one server into one schema apart.
 *
 * Must not: read a resource itself or know how a kind of data is stored;
 * that is the business of sync_conversations.sql, sync_users.sql and the
 * like.  (A directory sync keeps one state row per table: its kinds are
 * the table names.)
 */

CREATE TABLE gc_fdw.sync_state (
    server_name text NOT NULL,
    target_schema text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('conversations', 'users', 'user_status', 'queues',
                                       'queue_members', 'wrapup_codes', 'divisions', 'groups',
                                       'skills', 'languages', 'locations', 'presence_definitions')),
    watermark timestamptz,          -- conversations, user_status: end of the last committed chunk
    last_run_id bigint,
    last_status text,
    last_success timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_name, target_schema, kind)
);
COMMENT ON TABLE gc_fdw.sync_state IS 'watermark and last outcome of each gc_fdw sync (server, target schema, kind)';

CREATE SEQUENCE gc_fdw.sync_run_id_seq;

CREATE TABLE gc_fdw.sync_log (
    log_id bigserial PRIMARY KEY,
    run_id bigint NOT NULL,
    entry text NOT NULL CHECK (entry IN ('run', 'chunk', 'refresh')),
    procedure text NOT NULL,
    server_name text NOT NULL,
    target_schema text NOT NULL,
    window_start timestamptz,
    window_end timestamptz,
    mode text,                      -- query, jobs, lookup, users
    requests bigint,
    pages bigint,
    rows_read bigint,
    rows_upserted bigint,
    rows_unchanged bigint,
    child_rows bigint,
    rows_marked_missing bigint,
    in_progress bigint,
    http_429 bigint,
    wait_429_seconds double precision,
    reauths bigint,
    watermark_before timestamptz,
    watermark_after timestamptz,
    data_availability timestamptz,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'stopped', 'skipped')),
    error text,
    pid integer NOT NULL DEFAULT pg_backend_pid()
);
CREATE INDEX ON gc_fdw.sync_log (run_id);
CREATE INDEX ON gc_fdw.sync_log (started_at);
COMMENT ON TABLE gc_fdw.sync_log IS 'one row per gc_fdw sync run and per chunk it committed or failed';

-- pg_dump keeps the rows (the extension creates the tables)
SELECT pg_catalog.pg_extension_config_dump('gc_fdw.sync_state', '');
SELECT pg_catalog.pg_extension_config_dump('gc_fdw.sync_log', '');
SELECT pg_catalog.pg_extension_config_dump('gc_fdw.sync_log_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('gc_fdw.sync_run_id_seq', '');

-- Internal: this session's counters summed, for the sync log
CREATE FUNCTION gc_fdw.stats_totals(
    OUT requests bigint, OUT pages bigint, OUT http_429 bigint,
    OUT wait_429_seconds double precision, OUT reauths bigint,
    OUT query_requests bigint, OUT jobs_requests bigint, OUT lookup_requests bigint)
LANGUAGE sql VOLATILE
AS $$
    SELECT coalesce(sum(s.requests) FILTER (WHERE s.endpoint <> 'POST /oauth/token'), 0)::bigint,
           coalesce(sum(s.pages), 0)::bigint,
           coalesce(sum(s.http_429), 0)::bigint,
           coalesce(sum(s.wait_429_seconds), 0)::double precision,
           coalesce(sum(s.reauths), 0)::bigint,
           coalesce(sum(s.requests) FILTER (WHERE s.endpoint = 'POST /api/v2/analytics/conversations/details/query'), 0)::bigint,
           coalesce(sum(s.requests) FILTER (WHERE s.endpoint LIKE '% /api/v2/analytics/conversations/details/jobs%'), 0)::bigint,
           coalesce(sum(s.requests) FILTER (WHERE s.endpoint = 'GET /api/v2/analytics/conversations/details'), 0)::bigint
      FROM gc_fdw.stats() s
$$;

-- Internal: whether the server compresses with lz4 (PostgreSQL 14 and
-- later built with it, as Debian's is): the tables a sync creates use it
-- for their jsonb columns, a server without it the default
CREATE FUNCTION gc_fdw.sync_lz4()
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_settings
                    WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals))
$$;

/*
 * Internal: make sure the source foreign tables (schema gc_fdw_src_<server>,
 * imported from the server) and the target tables of a kind of sync exist.
 * The tables, their keys and the columns they leave out are the kind's:
 * gc_fdw.sync_<kind>_tables() says (sync_conversations.sql,
 * sync_users.sql).  A target table is created with the source table's
 * columns bar those left out, lz4 for its jsonb columns where the server
 * has it, its primary key, if it has one, and its plain index, if it has
 * one; one that exists is used as it is.  Returns the source schema.
 */
CREATE FUNCTION gc_fdw.sync_prepare(p_server text, p_target text, p_kind text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_srv oid;
    v_src text;
    v_tables text[];
    v_missing text;
    v_columns text;
    v_lz4 boolean := gc_fdw.sync_lz4();
    spec record;
BEGIN
    IF p_server IS NULL OR p_target IS NULL THEN
        RAISE EXCEPTION 'server_name and target_schema must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1
                     FROM pg_catalog.pg_foreign_server s
                     JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
                    WHERE s.srvname = p_server AND w.fdwname = 'gc_fdw') THEN
        RAISE EXCEPTION 'server "%" is not a gc_fdw foreign server', p_server
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with CREATE SERVER ... FOREIGN DATA WRAPPER gc_fdw, or check the server_name argument.';
    END IF;
    SELECT s.oid INTO v_srv FROM pg_catalog.pg_foreign_server s WHERE s.srvname = p_server;
    -- readable, and distinct even for long server names that share a prefix
    v_src := CASE WHEN length('gc_fdw_src_' || p_server) <= 63 THEN 'gc_fdw_src_' || p_server
                  ELSE left('gc_fdw_src_' || p_server, 50) || '_' || v_srv END;
    -- syncs starting together (users and conversations into a new schema)
    -- create schemas and tables one at a time; held until the caller commits
    PERFORM pg_advisory_xact_lock(hashtext('gc_fdw.sync_prepare'));

    EXECUTE format('SELECT array_agg(table_name) FROM gc_fdw.%I()', 'sync_' || p_kind || '_tables')
        INTO v_tables;

    IF to_regnamespace(quote_ident(v_src)) IS NULL THEN
        EXECUTE format('CREATE SCHEMA %I', v_src);
    END IF;
    SELECT string_agg(quote_ident(t), ', ') INTO v_missing
      FROM unnest(v_tables) t
     WHERE to_regclass(format('%I.%I', v_src, t)) IS NULL;
    IF v_missing IS NOT NULL THEN
        EXECUTE format('IMPORT FOREIGN SCHEMA genesys LIMIT TO (%s) FROM SERVER %I INTO %I',
                       v_missing, p_server, v_src);
    END IF;
    -- the source tables must read this server, whoever created them
    IF EXISTS (SELECT 1 FROM unnest(v_tables) t
                 JOIN pg_catalog.pg_foreign_table ft
                   ON ft.ftrelid = format('%I.%I', v_src, t)::regclass
                WHERE ft.ftserver <> v_srv) THEN
        RAISE EXCEPTION 'schema "%" holds foreign tables of another server', v_src
            USING ERRCODE = 'duplicate_schema',
                  HINT = 'The sync keeps its source tables there; drop or rename that schema.';
    END IF;

    IF to_regnamespace(quote_ident(p_target)) IS NULL THEN
        EXECUTE format('CREATE SCHEMA %I', p_target);
    END IF;
    FOR spec IN EXECUTE format('SELECT s.* FROM gc_fdw.%I() WITH ORDINALITY s ORDER BY s.ordinality',
                            'sync_' || p_kind || '_tables') LOOP
        CONTINUE WHEN to_regclass(format('%I.%I', p_target, spec.table_name)) IS NOT NULL;
        SELECT string_agg(format('%I %s%s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                                 CASE WHEN a.attcollation <> ty.typcollation
                                      THEN ' COLLATE ' || a.attcollation::regcollation END,
                                 CASE WHEN a.atttypid = 'jsonb'::regtype AND v_lz4
                                      THEN ' COMPRESSION lz4' END,
                                 CASE WHEN a.attnotnull THEN ' NOT NULL' END),
                          ', ' ORDER BY a.attnum)
          INTO v_columns
          FROM pg_catalog.pg_attribute a
          JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
         WHERE a.attrelid = format('%I.%I', v_src, spec.table_name)::regclass
           AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> ALL (spec.omit);
        EXECUTE format('CREATE TABLE %I.%I (%s%s%s)', p_target, spec.table_name, v_columns,
                       coalesce(', ' || spec.extra, ''),
                       coalesce(', PRIMARY KEY (' || spec.primary_key || ')', ''));
        IF spec.index_on IS NOT NULL THEN
            EXECUTE format('CREATE INDEX ON %I.%I (%I)', p_target, spec.table_name, spec.index_on);
        END IF;
        RAISE NOTICE 'gc_fdw: created table %.%', quote_ident(p_target), quote_ident(spec.table_name);
    END LOOP;
    RETURN v_src;
END
$$;

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

-- Internal: the columns of target.tbl that source.tbl also has, in target order
CREATE FUNCTION gc_fdw.sync_columns(p_src text, p_target text, p_table text, p_prefix text DEFAULT '')
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT string_agg(p_prefix || quote_ident(t.attname), ', ' ORDER BY t.attnum)
      FROM pg_catalog.pg_attribute t
      JOIN pg_catalog.pg_attribute s
        ON s.attrelid = format('%I.%I', p_src, p_table)::regclass
       AND s.attname = t.attname AND s.attnum > 0 AND NOT s.attisdropped
     WHERE t.attrelid = format('%I.%I', p_target, p_table)::regclass
       AND t.attnum > 0 AND NOT t.attisdropped
$$;

-- Internal: the one place that knows a sync's advisory lock (a session
-- lock on (sync kind, [server, target]), so runs of one server into one
-- schema exclude each other and nothing else).
--
-- sync_lock takes it, or says which run holds it (NOTICE with its pid, a
-- skipped row in the log) and returns false.  A hold this session still has
-- from an earlier run that failed outside its exception blocks would keep
-- every other session out until this one ends: it is released first
-- (session locks stack).
CREATE FUNCTION gc_fdw.sync_lock(p_kind text, p_server text, p_target text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    k1 int := hashtext('gc_fdw.sync_' || p_kind);
    k2 int := hashtext(jsonb_build_array(p_server, p_target)::text);
    v_holder integer;
BEGIN
    WHILE EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                   WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.granted
                     AND l.objsubid = 2 AND l.classid = k1::oid AND l.objid = k2::oid) LOOP
        PERFORM pg_advisory_unlock(k1, k2);
    END LOOP;
    IF pg_try_advisory_lock(k1, k2) THEN
        RETURN true;
    END IF;
    SELECT l.pid INTO v_holder FROM pg_catalog.pg_locks l
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
       AND l.classid = k1::oid AND l.objid = k2::oid
     LIMIT 1;
    RAISE NOTICE 'gc_fdw: a sync of % from server "%" into schema "%" is already running (pid %); skipped',
        p_kind, p_server, p_target, coalesce(v_holder::text, 'unknown');
    INSERT INTO gc_fdw.sync_log (run_id, entry, procedure, server_name, target_schema,
                                 finished_at, status, error)
    VALUES (nextval('gc_fdw.sync_run_id_seq'), 'run', 'sync_' || p_kind, p_server, p_target,
            clock_timestamp(), 'skipped', 'another sync of the same server and target was running');
    RETURN false;
END
$$;

CREATE FUNCTION gc_fdw.sync_unlock(p_kind text, p_server text, p_target text)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pg_advisory_unlock(hashtext('gc_fdw.sync_' || p_kind),
                              hashtext(jsonb_build_array(p_server, p_target)::text))
$$;

-- ---------------------------------------------------------------------
-- A run's bookkeeping, for the syncs of 1.2 (sync_user_status,
-- sync_directory): the arguments and range of an incremental run, the
-- counters a chunk spent, the state, the log rows, the run's totals, the
-- upsert
-- ---------------------------------------------------------------------

-- Internal: refuse the arguments of an incremental sync that cannot make a
-- range, before anything is locked or read
CREATE FUNCTION gc_fdw.sync_check_args(p_start_from timestamptz, p_until timestamptz,
                                       p_lookback interval, p_max_runtime interval)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF p_lookback IS NULL OR p_lookback < interval '0' THEN
        RAISE EXCEPTION 'lookback must be a non-negative interval'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_max_runtime IS NULL OR p_max_runtime <= interval '0' THEN
        RAISE EXCEPTION 'max_runtime must be a positive interval'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT isfinite(coalesce(p_start_from, now())) OR NOT isfinite(coalesce(p_until, now())) THEN
        RAISE EXCEPTION 'start_from and until must be finite timestamps'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

/*
 * Internal: the range an incremental sync of a kind reads, from its
 * watermark: [watermark - lookback (in UTC days), until), or from
 * start_from on the first run, which needs it (p_what names the data in
 * the error).  until is never past a minute before the run started: a
 * watermark in the future would skip everything between now and then.
 */
CREATE FUNCTION gc_fdw.sync_range(p_kind text, p_what text, p_server text, p_target text,
                                  p_start_from timestamptz, p_until timestamptz,
                                  p_lookback interval, p_started timestamptz,
                                  OUT watermark timestamptz, OUT range_from timestamptz,
                                  OUT range_until timestamptz)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT s.watermark INTO watermark FROM gc_fdw.sync_state s
     WHERE s.server_name = p_server AND s.target_schema = p_target AND s.kind = p_kind;
    IF watermark IS NULL AND p_start_from IS NULL THEN
        RAISE EXCEPTION 'the first sync of % from server "%" into schema "%" needs start_from',
            p_what, p_server, p_target
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('CALL gc_fdw.sync_%s(%L, %L, start_from => now() - interval ''30 days'');',
                                p_kind, p_server, p_target);
    END IF;
    range_until := least(coalesce(p_until, 'infinity'),
                         date_trunc('second', p_started) - interval '1 minute');
    range_from := CASE WHEN watermark IS NULL THEN p_start_from
                       ELSE ((watermark AT TIME ZONE 'UTC') - p_lookback) AT TIME ZONE 'UTC' END;
END
$$;

/*
 * Internal: what this session's API calls have cost since p_before (the
 * JSON of an earlier gc_fdw.stats_totals()), named as the log's columns:
 * requests, pages, http_429, wait_429_seconds, reauths.
 */
CREATE FUNCTION gc_fdw.sync_counters_since(p_before jsonb)
RETURNS jsonb
LANGUAGE sql VOLATILE
AS $$
    SELECT jsonb_object_agg(n.key, n.value::numeric - (p_before ->> n.key)::numeric)
      FROM jsonb_each(to_jsonb(gc_fdw.stats_totals())) n
     WHERE n.key IN ('requests', 'pages', 'http_429', 'wait_429_seconds', 'reauths')
$$;

/*
 * Internal: record in sync_state what run p_run of a kind did: its status,
 * the time of its last success (a stopped run succeeded as far as it went)
 * and a watermark that only moves forward (NULL leaves it).  Returns the
 * watermark.
 */
CREATE FUNCTION gc_fdw.sync_state_record(p_server text, p_target text, p_kind text, p_run bigint,
                                         p_status text, p_watermark timestamptz DEFAULT NULL)
RETURNS timestamptz
LANGUAGE sql
AS $$
    INSERT INTO gc_fdw.sync_state AS s (server_name, target_schema, kind, watermark, last_run_id,
                                        last_status, last_success)
    VALUES (p_server, p_target, p_kind, p_watermark, p_run, p_status,
            CASE WHEN p_status IN ('succeeded', 'stopped') THEN clock_timestamp() END)
    ON CONFLICT (server_name, target_schema, kind)
    DO UPDATE SET watermark = greatest(s.watermark, EXCLUDED.watermark),
                  last_run_id = EXCLUDED.last_run_id, last_status = EXCLUDED.last_status,
                  last_success = coalesce(EXCLUDED.last_success, s.last_success),
                  updated_at = clock_timestamp()
    RETURNING s.watermark
$$;

/*
 * Internal: write one sync_log row, its fields given as a JSON object
 * named as the log's columns: the counters a chunk function returns
 * (to_jsonb of its result) and what the caller adds to them.  Keys that
 * are not columns are ignored; started_at defaults to now.
 */
CREATE FUNCTION gc_fdw.sync_log_write(p_fields jsonb)
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO gc_fdw.sync_log (run_id, entry, procedure, server_name, target_schema,
                                 window_start, window_end, mode, requests, pages, rows_read,
                                 rows_upserted, rows_unchanged, child_rows, rows_marked_missing,
                                 in_progress, http_429, wait_429_seconds, reauths,
                                 watermark_before, watermark_after, data_availability,
                                 started_at, finished_at, status, error)
    SELECT f.run_id, f.entry, f.procedure, f.server_name, f.target_schema,
           f.window_start, f.window_end, f.mode, f.requests, f.pages, f.rows_read,
           f.rows_upserted, f.rows_unchanged, f.child_rows, f.rows_marked_missing,
           f.in_progress, f.http_429, f.wait_429_seconds, f.reauths,
           f.watermark_before, f.watermark_after, f.data_availability,
           coalesce(f.started_at, clock_timestamp()), f.finished_at, f.status, f.error
      FROM jsonb_populate_record(NULL::gc_fdw.sync_log, p_fields) f
$$;

/*
 * Internal: close run p_run's row in the log: its outcome, and the sums of
 * the chunks (and refreshes, and directory tables) it committed; open
 * records are counted in the run's range, so refreshes' are left out.  Its
 * mode is p_mode, or the chunks' modes.  Returns the run's row.
 */
CREATE FUNCTION gc_fdw.sync_run_finish(p_run bigint, p_status text, p_error text,
                                       p_watermark timestamptz DEFAULT NULL,
                                       p_mode text DEFAULT NULL)
RETURNS gc_fdw.sync_log
LANGUAGE sql
AS $$
    UPDATE gc_fdw.sync_log l
       SET mode = coalesce(p_mode, t.mode), requests = t.requests, pages = t.pages,
           rows_read = t.rows_read, rows_upserted = t.rows_upserted, rows_unchanged = t.rows_unchanged,
           child_rows = t.child_rows, rows_marked_missing = t.rows_marked_missing,
           in_progress = t.in_progress, http_429 = t.http_429,
           wait_429_seconds = t.wait_429_seconds, reauths = t.reauths,
           data_availability = t.data_availability, watermark_after = p_watermark,
           finished_at = clock_timestamp(), status = p_status, error = p_error
      FROM (SELECT string_agg(DISTINCT e.mode, ',') AS mode, sum(e.requests) AS requests,
                   sum(e.pages) AS pages, sum(e.rows_read) AS rows_read,
                   sum(e.rows_upserted) AS rows_upserted, sum(e.rows_unchanged) AS rows_unchanged,
                   sum(e.child_rows) AS child_rows, sum(e.rows_marked_missing) AS rows_marked_missing,
                   sum(e.in_progress) FILTER (WHERE e.entry = 'chunk') AS in_progress,
                   sum(e.http_429) AS http_429, sum(e.wait_429_seconds) AS wait_429_seconds,
                   sum(e.reauths) AS reauths, max(e.data_availability) AS data_availability
              FROM gc_fdw.sync_log e
             WHERE e.run_id = p_run AND e.entry <> 'run' AND e.status = 'succeeded') t
     WHERE l.run_id = p_run AND l.entry = 'run'
    RETURNING l.*
$$;

/*
 * Internal: upsert the temporary table pg_temp.<p_batch> (the source's
 * columns) into p_target.p_table on its key p_key, writing only the rows in
 * which some column changed; returns how many rows were written.  A
 * directory table (p_directory) also has synced_at set on the rows written
 * and missing_since cleared, a row marked missing being written again even
 * when unchanged.
 */
CREATE FUNCTION gc_fdw.sync_upsert(p_src text, p_target text, p_table text, p_batch text,
                                   p_key text, p_directory boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_written bigint;
BEGIN
    EXECUTE format(
        'WITH up AS (INSERT INTO %1$I.%2$I AS t (%3$s) SELECT %3$s FROM pg_temp.%4$I'
        ' ON CONFLICT (%5$s) DO UPDATE SET (%3$s%6$s) = ROW(%7$s%8$s)'
        ' WHERE ROW(%9$s) IS DISTINCT FROM ROW(%7$s)%10$s RETURNING 1)'
        ' SELECT count(*) FROM up',
        p_target, p_table, gc_fdw.sync_columns(p_src, p_target, p_table), p_batch, p_key,
        CASE WHEN p_directory THEN ', synced_at, missing_since' ELSE '' END,
        gc_fdw.sync_columns(p_src, p_target, p_table, 'EXCLUDED.'),
        CASE WHEN p_directory THEN ', now(), NULL' ELSE '' END,
        gc_fdw.sync_columns(p_src, p_target, p_table, 't.'),
        CASE WHEN p_directory THEN ' OR t.missing_since IS NOT NULL' ELSE '' END)
        INTO v_written;
    RETURN v_written;
END
$$;
