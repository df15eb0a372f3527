/* gc_fdw--1.2.sql: built by make from extension/ (SQL_SOURCES in the Makefile); edit those, not this file */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION gc_fdw" to load this file. \quit

/*
 * extension/fdw.sql
 *		The foreign data wrapper itself (handler, validator, the wrapper) and
 *		the gc_fdw schema that every other file puts its objects in.
 *
 * Must not: hold anything a sync or a statistic needs; those have files of
 * their own.  Built into the install script first (Makefile SQL_SOURCES).
 */

CREATE FUNCTION gc_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION gc_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER gc_fdw
  HANDLER gc_fdw_handler
  VALIDATOR gc_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER gc_fdw IS 'Genesys Cloud CX analytics and users as foreign tables';

CREATE SCHEMA gc_fdw;
COMMENT ON SCHEMA gc_fdw IS 'gc_fdw warehousing procedures, sync log and state, statistics and progress';
GRANT USAGE ON SCHEMA gc_fdw TO PUBLIC;

/*
 * extension/observability.sql
 *		What a session or an administrator can see of gc_fdw at work: this
 *		session's API counters (gc_fdw.stats(), stats_reset()), the last
 *		dataAvailabilityDate of the jobs API, and the running scans of every
 *		backend (gc_fdw.progress).  All are C functions of src/stats.c and
 *		src/progress.c.
 *
 * Must not: write anything (no tables here), or know about syncs: the sync
 * log sums these counters in sync_common.sql.
 */

CREATE FUNCTION gc_fdw.stats(
    OUT endpoint text, OUT requests bigint, OUT pages bigint, OUT rows bigint,
    OUT bytes bigint, OUT reauths bigint, OUT http_429 bigint,
    OUT wait_429_seconds double precision, OUT retries bigint, OUT errors bigint,
    OUT last_request timestamptz, OUT since timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'gc_fdw_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION gc_fdw.stats() IS 'this session''s Genesys Cloud API counters per endpoint, since the session started or gc_fdw.stats_reset()';

CREATE FUNCTION gc_fdw.stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'gc_fdw_stats_reset'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION gc_fdw.stats_reset() IS 'zero this session''s gc_fdw.stats() counters';

CREATE FUNCTION gc_fdw.data_availability_seen()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'gc_fdw_data_availability_seen'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION gc_fdw.data_availability_seen() IS 'the last dataAvailabilityDate of the jobs API this session saw, or NULL';

CREATE FUNCTION gc_fdw.scan_progress(
    OUT pid integer, OUT role text, OUT database text, OUT foreign_table text,
    OUT server text, OUT scan_started timestamptz, OUT window_start timestamptz,
    OUT window_end timestamptz, OUT windows bigint, OUT pages bigint,
    OUT rows bigint, OUT requests bigint, OUT waiting_on text,
    OUT wait_until timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'gc_fdw_scan_progress'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE VIEW gc_fdw.progress AS SELECT * FROM gc_fdw.scan_progress();
COMMENT ON VIEW gc_fdw.progress IS 'running gc_fdw scans of every backend (needs gc_fdw in shared_preload_libraries)';
GRANT SELECT ON gc_fdw.progress TO PUBLIC;

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

/*
 * extension/sync_users.sql
 *		gc_fdw.sync_users: a full refresh of the users directory (every
 *		state) into a local table; users gone from the API are kept and
 *		marked.  Since 1.2 it is gc_fdw.sync_directory's refresh of that one
 *		table (sync_directory.sql).
 *
 * Must not: take locks, prepare tables or keep state other than through
 * sync_common.sql, or refresh anything but users.
 */

-- Internal: the table a users sync keeps (gc_fdw.sync_prepare), with the
-- two columns it adds to the source's: when a user was last written, and
-- since when the API has stopped returning them
CREATE FUNCTION gc_fdw.sync_users_tables(
    OUT table_name text, OUT primary_key text, OUT omit text[], OUT extra text,
    OUT index_on text)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE
AS $$
    VALUES ('users', 'id', '{}'::text[],
            'synced_at timestamptz NOT NULL DEFAULT now(), missing_since timestamptz', NULL::text)
$$;

/*
 * gc_fdw.sync_users: the users table alone, as 1.1 kept it, and by the same
 * name in the log and in sync_state: the directory's refresh of that one
 * table (sync_directory.sql), so that a schedule written for 1.1 goes on
 * reading only what its OAuth client may read.
 */
CREATE PROCEDURE gc_fdw.sync_users(server_name text, target_schema text)
LANGUAGE plpgsql
AS $$
BEGIN
    CALL gc_fdw.sync_directory_run('sync_users', server_name, target_schema, ARRAY['users']);
END
$$;
COMMENT ON PROCEDURE gc_fdw.sync_users(text, text)
    IS 'full refresh of users (every state) from a gc_fdw server into a local table; users gone from the API are kept and marked (gc_fdw.sync_directory refreshes them with the rest of the directory)';

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

/*
 * extension/sync_upgrade.sql
 *		gc_fdw.slim_warehouse: brings a warehouse that an earlier version's
 *		syncs built to the shape this version's syncs create, table by
 *		table, in place: columns the tables now leave out are dropped and
 *		their space given back, a primary key they now do without becomes
 *		their plain index, and jsonb columns compress with lz4.
 *
 * Must not: touch a table no sync kind names, drop anything a user's object
 * depends on (the error says what), or read the API.  Which columns a table
 * leaves out and how it is keyed is the business of
 * gc_fdw.sync_<kind>_tables().
 */

CREATE PROCEDURE gc_fdw.slim_warehouse(target_schema text)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    v_target text := slim_warehouse.target_schema;
    v_lz4 boolean := gc_fdw.sync_lz4();
    v_kind text;
    v_rel regclass;
    v_index regclass;
    v_clustered regclass;
    v_before bigint;
    v_dropped text;
    v_compressed text;
    v_rekeyed text;
    v_pkey text;
    v_not_null text;
    v_dependent text;
    v_col text;
    spec record;
BEGIN
    -- one transaction per table, so locks are held briefly; refuse at once
    -- inside a transaction block
    COMMIT;
    IF v_target IS NULL OR to_regnamespace(quote_ident(v_target)) IS NULL THEN
        RAISE EXCEPTION 'schema "%" does not exist', v_target
            USING ERRCODE = 'invalid_schema_name',
                  HINT = 'Name the target schema your gc_fdw syncs write into, as given to gc_fdw.sync_conversations.';
    END IF;

    FOR v_kind IN SELECT substring(p.proname FROM '^sync_(.*)_tables$')
                    FROM pg_catalog.pg_proc p
                   WHERE p.pronamespace = 'gc_fdw'::regnamespace
                     AND p.proname LIKE 'sync\_%\_tables'
                   ORDER BY 1 LOOP
        FOR spec IN EXECUTE format('SELECT s.* FROM gc_fdw.%I() WITH ORDINALITY s ORDER BY s.ordinality',
                                   'sync_' || v_kind || '_tables') LOOP
            v_rel := to_regclass(format('%I.%I', v_target, spec.table_name));
            CONTINUE WHEN v_rel IS NULL;
            v_before := pg_total_relation_size(v_rel);

            -- a primary key this version's table does without (an earlier
            -- natural key) gives way to an index on its index_on column, and
            -- its columns lose the NOT NULL it gave them; a foreign key that
            -- references it stops the drop, with PostgreSQL's error naming it
            v_rekeyed := NULL;
            IF spec.primary_key IS NULL AND spec.index_on IS NOT NULL THEN
                SELECT co.conname, lower(pg_get_constraintdef(co.oid)),
                       (SELECT string_agg(format('ALTER COLUMN %I DROP NOT NULL', a.attname), ', ')
                          FROM pg_catalog.pg_attribute a
                         WHERE a.attrelid = v_rel AND a.attnum = ANY (co.conkey))
                  INTO v_pkey, v_rekeyed, v_not_null
                  FROM pg_catalog.pg_constraint co
                 WHERE co.conrelid = v_rel AND co.contype = 'p';
                IF v_pkey IS NOT NULL THEN
                    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I, %s', v_rel, v_pkey, v_not_null);
                END IF;
                -- (any index led by that column serves the sync)
                IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                                 JOIN pg_catalog.pg_attribute a
                                   ON a.attrelid = v_rel AND a.attnum = i.indkey[0]
                                WHERE i.indrelid = v_rel AND i.indisvalid AND i.indpred IS NULL
                                  AND a.attname = spec.index_on) THEN
                    EXECUTE format('CREATE INDEX ON %s (%I)', v_rel, spec.index_on);
                    v_rekeyed := CASE WHEN v_rekeyed IS NULL THEN 'indexed on ' || spec.index_on
                                      ELSE v_rekeyed || ' replaced by an index on ' || spec.index_on END;
                ELSE
                    v_rekeyed := v_rekeyed || ' dropped';
                END IF;
            END IF;

            -- columns this version's tables leave out.  An index, statistics
            -- or check constraint of a user's on one would go with it
            -- silently: refuse instead (a view stops the drop by itself, with
            -- PostgreSQL's error naming it)
            SELECT string_agg(format('%s (on %s)', o.object, o.columns), ', ' ORDER BY o.object)
              INTO v_dependent
              FROM (SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS object,
                           string_agg(a.attname, ', ' ORDER BY a.attnum) AS columns
                      FROM pg_catalog.pg_attribute a
                      JOIN pg_catalog.pg_depend d
                        ON d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = v_rel
                       AND d.refobjsubid = a.attnum AND d.deptype = 'a'
                       AND d.classid <> 'pg_catalog.pg_attrdef'::regclass
                     WHERE a.attrelid = v_rel AND a.attnum > 0 AND NOT a.attisdropped
                       AND a.attname = ANY (spec.omit)
                     GROUP BY 1) o;
            IF v_dependent IS NOT NULL THEN
                RAISE EXCEPTION 'cannot slim table %: % would be dropped with the columns it leaves out',
                    v_rel, v_dependent
                    USING ERRCODE = 'dependent_objects_still_exist',
                          DETAIL = format('This version''s %s keeps none of: %s.', spec.table_name,
                                          array_to_string(spec.omit, ', ')),
                          HINT = 'Drop them (or build them on a join to the parent table, which gives those columns back, docs/tables.md), then call gc_fdw.slim_warehouse again; tables slimmed before this one stay slimmed.';
            END IF;
            v_dropped := NULL;
            FOR v_col IN SELECT a.attname FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = v_rel AND a.attnum > 0 AND NOT a.attisdropped
                            AND a.attname = ANY (spec.omit)
                          ORDER BY a.attnum LOOP
                EXECUTE format('ALTER TABLE %s DROP COLUMN %I', v_rel, v_col);
                v_dropped := concat_ws(', ', v_dropped, v_col);
            END LOOP;

            -- lz4 from now on; values already stored keep their compression
            v_compressed := NULL;
            FOR v_col IN SELECT a.attname FROM pg_catalog.pg_attribute a
                          WHERE v_lz4 AND a.attrelid = v_rel AND a.attnum > 0 AND NOT a.attisdropped
                            AND a.atttypid = 'jsonb'::regtype AND a.attcompression <> 'l'
                          ORDER BY a.attnum LOOP
                EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION lz4', v_rel, v_col);
                v_compressed := concat_ws(', ', v_compressed, v_col);
            END LOOP;

            -- a dropped column keeps its space until the table is rewritten:
            -- CLUSTER rewrites it in the order of its primary key, or else of
            -- its plain index, its indexes rebuilt full, and the table's own
            -- CLUSTER choice, if any, is kept
            IF v_dropped IS NOT NULL THEN
                SELECT i.indexrelid INTO v_clustered FROM pg_catalog.pg_index i
                 WHERE i.indrelid = v_rel AND i.indisclustered;
                SELECT i.indexrelid INTO v_index FROM pg_catalog.pg_index i
                  JOIN pg_catalog.pg_attribute a ON a.attrelid = v_rel AND a.attnum = i.indkey[0]
                 WHERE i.indrelid = v_rel AND i.indisvalid AND i.indpred IS NULL
                   AND (i.indisprimary OR a.attname = spec.index_on)
                 ORDER BY i.indisprimary DESC, i.indnatts
                 LIMIT 1;
                v_index := coalesce(v_clustered, v_index);
                IF v_index IS NULL THEN
                    RAISE NOTICE 'gc_fdw: % has no index to rewrite it by; VACUUM FULL % gives the dropped columns'' space back',
                        v_rel, v_rel;
                ELSE
                    EXECUTE format('CLUSTER %s USING %I', v_rel,
                                   (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = v_index));
                    IF v_clustered IS NULL THEN
                        EXECUTE format('ALTER TABLE %s SET WITHOUT CLUSTER', v_rel);
                    END IF;
                END IF;
            END IF;

            IF v_dropped IS NOT NULL OR v_compressed IS NOT NULL OR v_rekeyed IS NOT NULL THEN
                RAISE NOTICE 'gc_fdw: slimmed % (%): % -> %', v_rel,
                    concat_ws('; ', 'dropped ' || v_dropped, v_rekeyed, 'lz4 for ' || v_compressed),
                    pg_size_pretty(v_before), pg_size_pretty(pg_total_relation_size(v_rel));
            END IF;
            COMMIT;
        END LOOP;
    END LOOP;
END
$$;
COMMENT ON PROCEDURE gc_fdw.slim_warehouse(text)
    IS 'bring the tables gc_fdw syncs keep in a schema to this version''s shape: columns they now leave out dropped and their space given back, child tables indexed on conversation_id, lz4 for jsonb';
