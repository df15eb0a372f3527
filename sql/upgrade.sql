--
-- The extension's versions: every way to reach a version builds the same
-- objects.  CREATE EXTENSION of a version runs that version's full install
-- script; an installation of an older version reaches it through the update
-- scripts.  Each path is described from the catalogs (no OIDs: members,
-- function and procedure definitions, columns, constraints, indexes, views,
-- sequences, grants, comments, configuration tables) and the descriptions
-- are compared: any row in only one of them is a difference.  Runs last: it
-- drops and re-creates the extension.
--
SET TimeZone = 'UTC';
SET search_path = public;
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS gc_fdw CASCADE;
RESET client_min_messages;

-- one row per property of each object of the installed gc_fdw
CREATE FUNCTION extension_objects()
RETURNS TABLE (object text, property text, value text)
LANGUAGE sql STABLE AS $$
WITH ext AS (
    SELECT e.oid, e.extconfig, e.extcondition, e.extrelocatable, n.nspname
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'gc_fdw'),
member AS (
    SELECT d.classid, d.objid, pg_describe_object(d.classid, d.objid, d.objsubid) AS object
      FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
       AND d.deptype = 'e'),
func AS (
    SELECT m.object, p.* FROM member m JOIN pg_proc p
        ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid),
rel AS (
    SELECT m.object, c.oid AS relid, c.* FROM member m JOIN pg_class c
        ON m.classid = 'pg_class'::regclass AND c.oid = m.objid)
SELECT object, 'member', NULL FROM member
UNION ALL
SELECT 'extension', 'schema, relocatable', nspname || ', ' || extrelocatable FROM ext
UNION ALL
SELECT 'extension', 'configuration table ' || c.cfg::regclass::text, c.cond
  FROM ext, unnest(ext.extconfig, ext.extcondition) AS c(cfg, cond)
UNION ALL
SELECT object, 'definition', pg_get_functiondef(oid) FROM func
UNION ALL
SELECT object, 'grants', proacl::text FROM func
UNION ALL
SELECT r.object, 'kind', format('%s, persistence %s, options %s',
                                 r.relkind, r.relpersistence, r.reloptions) FROM rel r
UNION ALL
SELECT r.object, 'grants', r.relacl::text FROM rel r
UNION ALL
SELECT r.object, format('column %s (%s)', a.attname, a.attnum),
       format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
       || CASE WHEN a.attcollation <> 0 THEN ' collate ' || a.attcollation::regcollation::text ELSE '' END
       || format(' compression "%s" identity "%s" generated "%s" storage %s',
                 a.attcompression, a.attidentity, a.attgenerated, a.attstorage)
       || coalesce(' grants ' || a.attacl::text, '')
  FROM rel r
  JOIN pg_attribute a ON a.attrelid = r.relid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
UNION ALL
SELECT r.object, 'constraint ' || co.conname, pg_get_constraintdef(co.oid)
  FROM rel r JOIN pg_constraint co ON co.conrelid = r.relid
UNION ALL
SELECT r.object, 'index', pg_get_indexdef(i.indexrelid)
  FROM rel r JOIN pg_index i ON i.indrelid = r.relid
UNION ALL
SELECT r.object, 'trigger ' || tg.tgname, pg_get_triggerdef(tg.oid)
  FROM rel r JOIN pg_trigger tg ON tg.tgrelid = r.relid AND NOT tg.tgisinternal
UNION ALL
SELECT r.object, 'view', pg_get_viewdef(r.relid) FROM rel r WHERE r.relkind = 'v'
UNION ALL
SELECT r.object, 'sequence',
       format('%s start %s increment %s min %s max %s cache %s cycle %s',
              s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
              s.seqcache, s.seqcycle)
  FROM rel r JOIN pg_sequence s ON s.seqrelid = r.relid
UNION ALL
SELECT r.object, 'owned by', pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
  FROM rel r JOIN pg_depend d
    ON d.classid = 'pg_class'::regclass AND d.objid = r.relid AND d.deptype = 'a'
UNION ALL
SELECT m.object, 'grants', n.nspacl::text
  FROM member m JOIN pg_namespace n
    ON m.classid = 'pg_namespace'::regclass AND n.oid = m.objid
UNION ALL
SELECT m.object, 'handler, validator, options, grants',
       concat_ws(', ', w.fdwhandler::regproc, w.fdwvalidator::regproc,
                 w.fdwoptions::text, w.fdwacl::text)
  FROM member m JOIN pg_foreign_data_wrapper w
    ON m.classid = 'pg_foreign_data_wrapper'::regclass AND w.oid = m.objid
UNION ALL
-- comments on the members and on their columns
SELECT pg_describe_object(ds.classoid, ds.objoid, ds.objsubid), 'comment', ds.description
  FROM member m JOIN pg_description ds ON ds.classoid = m.classid AND ds.objoid = m.objid
$$;

-- the descriptions, by the path that built them
CREATE TABLE snapshots (path text, object text, property text, value text);
CREATE FUNCTION snapshot(p_path text) RETURNS text
LANGUAGE sql AS $$
    INSERT INTO snapshots SELECT p_path, o.* FROM extension_objects() o;
    SELECT format('%s: version %s, %s objects, %s properties', p_path,
                  (SELECT extversion FROM pg_extension WHERE extname = 'gc_fdw'),
                  count(*) FILTER (WHERE property = 'member'), count(*))
      FROM snapshots WHERE path = p_path;
$$;
-- rows of one description that the other lacks, both ways
CREATE FUNCTION differences(a text, b text)
RETURNS TABLE (only_in text, object text, property text, value text)
LANGUAGE sql AS $$
    (SELECT a, object, property, value FROM snapshots WHERE path = a
     EXCEPT ALL
     SELECT a, object, property, value FROM snapshots WHERE path = b)
    UNION ALL
    (SELECT b, object, property, value FROM snapshots WHERE path = b
     EXCEPT ALL
     SELECT b, object, property, value FROM snapshots WHERE path = a)
    ORDER BY 1, 2, 3
$$;

-- 1.0: the wrapper alone, no gc_fdw schema
CREATE EXTENSION gc_fdw VERSION '1.0';
SELECT extversion, to_regnamespace('gc_fdw') IS NULL AS no_gc_fdw_schema
  FROM pg_extension WHERE extname = 'gc_fdw';
SELECT snapshot('1.0');

-- 1.0 updated to 1.1 builds what a fresh 1.1 builds
ALTER EXTENSION gc_fdw UPDATE TO '1.1';
SELECT snapshot('1.0 -> 1.1');
DROP EXTENSION gc_fdw;
CREATE EXTENSION gc_fdw VERSION '1.1';
SELECT snapshot('1.1');
SELECT * FROM differences('1.0 -> 1.1', '1.1');

-- 1.1 updated to 1.2, and 1.0 updated to 1.1 then to 1.2, build what a
-- fresh 1.2 builds
ALTER EXTENSION gc_fdw UPDATE TO '1.2';
SELECT snapshot('1.1 -> 1.2');
DROP EXTENSION gc_fdw;
CREATE EXTENSION gc_fdw VERSION '1.0';
ALTER EXTENSION gc_fdw UPDATE TO '1.1';
ALTER EXTENSION gc_fdw UPDATE TO '1.2';
SELECT snapshot('1.0 -> 1.1 -> 1.2');
DROP EXTENSION gc_fdw;
CREATE EXTENSION gc_fdw VERSION '1.2';
SELECT snapshot('1.2');
SELECT * FROM differences('1.1 -> 1.2', '1.2');
SELECT * FROM differences('1.0 -> 1.1 -> 1.2', '1.2');

-- the comparison sees a change: a comment altered after a snapshot is one
-- row on each side
COMMENT ON TABLE gc_fdw.sync_log IS 'altered';
SELECT snapshot('1.2, comment altered');
SELECT only_in, object, property, value FROM differences('1.2', '1.2, comment altered');

-- an installation of 1.0 updates in place to the default version
DROP EXTENSION gc_fdw;
CREATE EXTENSION gc_fdw VERSION '1.0';
ALTER EXTENSION gc_fdw UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'gc_fdw';
\dx+ gc_fdw
