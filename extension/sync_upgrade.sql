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
