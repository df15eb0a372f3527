/*
 * extension/sync_upgrade.sql
 *		gc_fdw.slim_warehouse: brings a warehouse that an earlier version's
 *		syncs built to the shape this version's syncs create, table by
 *		table, in place: columns the tables now leave out are dropped and
 *		their space given back, and jsonb columns compress with lz4.
 *
 * Must not: touch a table no sync kind names, drop anything a user's object
 * depends on (the error says what), or read the API.  Which columns a table
 * leaves out is the business of gc_fdw.sync_<kind>_tables().
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

            -- columns this version's tables leave out (a view on one stops
            -- the drop, with PostgreSQL's error naming it)
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
            -- CLUSTER rewrites it in key order, its indexes rebuilt full, and
            -- the table's own CLUSTER choice, if any, is kept
            IF v_dropped IS NOT NULL THEN
                SELECT i.indexrelid INTO v_clustered FROM pg_catalog.pg_index i
                 WHERE i.indrelid = v_rel AND i.indisclustered;
                SELECT i.indexrelid INTO v_index FROM pg_catalog.pg_index i
                 WHERE i.indrelid = v_rel AND i.indisprimary;
                v_index := coalesce(v_clustered, v_index);
                IF v_index IS NULL THEN
                    RAISE NOTICE 'gc_fdw: % has no primary key to rewrite it by; VACUUM FULL % gives the dropped columns'' space back',
                        v_rel, v_rel;
                ELSE
                    EXECUTE format('CLUSTER %s USING %I', v_rel,
                                   (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = v_index));
                    IF v_clustered IS NULL THEN
                        EXECUTE format('ALTER TABLE %s SET WITHOUT CLUSTER', v_rel);
                    END IF;
                END IF;
            END IF;

            IF v_dropped IS NOT NULL OR v_compressed IS NOT NULL THEN
                RAISE NOTICE 'gc_fdw: slimmed % (%): % -> %', v_rel,
                    concat_ws('; ', 'dropped ' || v_dropped, 'lz4 for ' || v_compressed),
                    pg_size_pretty(v_before), pg_size_pretty(pg_total_relation_size(v_rel));
            END IF;
            COMMIT;
        END LOOP;
    END LOOP;
END
$$;
COMMENT ON PROCEDURE gc_fdw.slim_warehouse(text)
    IS 'bring the tables gc_fdw syncs keep in a schema to this version''s shape: columns they now leave out dropped and their space given back, lz4 for jsonb';
