-- bench/sync_shapes.sql: what the space of a warehouse that
-- gc_fdw.sync_conversations built is made of, and what other table shapes
-- would take for the very same data.  Every child table is derived again
-- from the stored conversations.raw (gc_fdw.conversation_rows, in
-- conversation_id order, its indexes in place, as a first sync writes it),
-- in each shape below; conversations.raw is stored again with each
-- compression and type.  Fills shapes.result (variant, table, heap, TOAST,
-- indexes, total in bytes, seconds to fill); bench/sync_footprint.py
-- (`shapes`) runs it after a first sync and reports it.
--
--   psql -v wh=<the sync's target schema> -v src=<its gc_fdw_src_ schema> -f bench/sync_shapes.sql
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS shapes CASCADE;
CREATE SCHEMA shapes;
CREATE TABLE shapes.result (variant text, table_name text, heap bigint, toast bigint,
                            indexes bigint, total bigint, seconds numeric);

-- p_rel's sizes, as variant p_variant
CREATE FUNCTION shapes.record(p_variant text, p_table text, p_rel regclass, p_seconds numeric)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO shapes.result
    SELECT p_variant, p_table, pg_relation_size(p_rel),
           pg_total_relation_size(p_rel) - pg_relation_size(p_rel) - pg_indexes_size(p_rel),
           pg_indexes_size(p_rel), pg_total_relation_size(p_rel), p_seconds
$$;

-- child table p_table as variant p_variant (its first word names the
-- table, shapes."<word>_<table>"): the source foreign table's
-- columns bar p_drop (raw always), in their order or with the fixed-width,
-- 8-byte aligned columns first (p_aligned), and the index p_index ('pk:
-- cols', 'index: cols', or both, ';'-separated), filled from the stored
-- conversations
CREATE FUNCTION shapes.child(p_wh text, p_src text, p_variant text, p_table text, p_drop text[],
                             p_index text, p_aligned boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_rel text := format('shapes.%I', split_part(p_variant, ' ', 1) || '_' || p_table);
    v_cols text;
    v_ix text;
    t0 timestamptz;
BEGIN
    SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', '
                      ORDER BY CASE WHEN p_aligned THEN (t.typlen > 0 AND t.typalign = 'd') END DESC,
                               CASE WHEN p_aligned THEN t.typlen > 0 END DESC, a.attnum)
      INTO v_cols
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = format('%I.%I', p_src, p_table)::regclass AND a.attnum > 0
       AND NOT a.attisdropped AND a.attname <> ALL (p_drop || '{raw}'::text[]);
    EXECUTE format('CREATE TABLE %s (%s)', v_rel, v_cols);
    FOREACH v_ix IN ARRAY string_to_array(p_index, ';') LOOP
        v_ix := trim(v_ix);
        IF v_ix LIKE 'pk:%' THEN
            EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (%s)', v_rel, substr(v_ix, 4));
        ELSIF v_ix LIKE 'unique:%' THEN
            EXECUTE format('CREATE UNIQUE INDEX ON %s (%s)', v_rel, substr(v_ix, 8));
        ELSE
            EXECUTE format('CREATE INDEX ON %s (%s)', v_rel, substr(v_ix, 7));
        END IF;
    END LOOP;
    t0 := clock_timestamp();
    EXECUTE format('INSERT INTO %s SELECT r.* FROM (SELECT raw FROM %I.conversations'
                   ' ORDER BY conversation_id) c'
                   ' CROSS JOIN LATERAL gc_fdw.conversation_rows(%L, c.raw, NULL::%s) r',
                   v_rel, p_wh, p_table, v_rel);
    PERFORM shapes.record(p_variant, p_table, v_rel::regclass,
                          extract(epoch FROM clock_timestamp() - t0));
END
$$;

-- conversations as variant p_variant (shapes."<first word>_conversations"): raw of type p_type, compressed with
-- p_compression, with the table's storage options p_options; every value
-- compressed afresh
CREATE FUNCTION shapes.conversations(p_wh text, p_variant text, p_type text, p_compression text,
                                     p_options text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_rel text := format('shapes.%I', split_part(p_variant, ' ', 1) || '_conversations');
    v_cols text;
    t0 timestamptz;
BEGIN
    EXECUTE format('CREATE TABLE %s (LIKE %I.conversations INCLUDING INDEXES)%s', v_rel, p_wh,
                   coalesce(' WITH (' || p_options || ')', ''));
    EXECUTE format('ALTER TABLE %s ALTER COLUMN raw TYPE %s, ALTER COLUMN raw SET COMPRESSION %s',
                   v_rel, p_type, p_compression);
    SELECT string_agg(CASE WHEN attname = 'raw' THEN format('raw::text::%s', p_type)
                           ELSE quote_ident(attname) END, ', ' ORDER BY attnum)
      INTO v_cols
      FROM pg_attribute WHERE attrelid = format('%I.conversations', p_wh)::regclass
       AND attnum > 0 AND NOT attisdropped;
    t0 := clock_timestamp();
    EXECUTE format('INSERT INTO %s SELECT %s FROM %I.conversations ORDER BY ctid', v_rel, v_cols, p_wh);
    PERFORM shapes.record(p_variant, 'conversations', v_rel::regclass,
                          extract(epoch FROM clock_timestamp() - t0));
END
$$;

-- the child tables: natural keys as 1.1 had them, against an index on
-- conversation_id, and without the columns a join to the parent gives
SELECT shapes.child(:'wh', :'src', v.variant, t.table_name,
                    v.drop || CASE WHEN v.below AND t.table_name IN ('segments', 'session_metrics')
                                   THEN '{participant_id}'::text[] ELSE '{}' END,
                    replace(v.index, '$key', t.natural_key), v.aligned)
  FROM (VALUES (1, 'participants', 'conversation_id, participant_id'),
               (2, 'sessions', 'conversation_id, session_id'),
               (3, 'segments', 'conversation_id, session_id, segment_start, segment_type'),
               (4, 'session_metrics', 'conversation_id, session_id, name, emit_date')
       ) t(n, table_name, natural_key)
 CROSS JOIN (VALUES
       ('1 natural key, every column', '{}'::text[], 'pk: $key', false, false),
       ('2 natural key, every column, 8-byte columns first', '{}', 'pk: $key', true, false),
       ('3 index on conversation_id, every column', '{}', 'index: conversation_id', false, false),
       ('4 index, no conversation_start', '{conversation_start}', 'index: conversation_id',
        false, false),
       ('5 index, no conversation_start, no participant_id below a session',
        '{conversation_start}', 'index: conversation_id', false, true),
       ('6 as 5, and a unique natural key', '{conversation_start}',
        'index: conversation_id; unique: $key', false, true)
       ) v(variant, drop, index, aligned, below)
 ORDER BY v.variant, t.n;

-- conversations.raw: jsonb or json text, lz4 or pglz, and TOAST's target
SELECT shapes.conversations(:'wh', v.variant, v.type, v.compression, v.options)
  FROM (VALUES ('A jsonb, lz4', 'jsonb', 'lz4', NULL),
               ('B jsonb, pglz', 'jsonb', 'pglz', NULL),
               ('C json, lz4', 'json', 'lz4', NULL),
               ('D json, pglz', 'json', 'pglz', NULL),
               ('E jsonb, lz4, toast_tuple_target 128', 'jsonb', 'lz4', 'toast_tuple_target = 128')
       ) v(variant, type, compression, options);
