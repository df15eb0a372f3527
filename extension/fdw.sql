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
