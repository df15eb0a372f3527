/* gc_fdw--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION gc_fdw" to load this file. \quit

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
