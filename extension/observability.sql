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
