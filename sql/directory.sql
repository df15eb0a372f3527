--
-- The directory: queues and their members, wrap-up codes, divisions,
-- groups, skills, languages, locations and presence definitions, read
-- through the entity-listing driver and compared with the emulator's truth
--
\getenv emu_url GC_EMU_URL
\getenv emu_client GC_EMU_CLIENT_ID
\getenv emu_secret GC_EMU_SECRET
CREATE SERVER emu_dir FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', max_retries '2', concurrency '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_dir
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE SCHEMA dir;
IMPORT FOREIGN SCHEMA genesys LIMIT TO (queues, queue_members, wrapup_codes, divisions,
  groups, skills, languages, locations, presence_definitions)
  FROM SERVER emu_dir INTO dir;

-- The emulator's own copy of each listing, with the same columns
CREATE SCHEMA truth;
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['queues', 'queue_members', 'wrapup_codes', 'divisions', 'groups',
                           'skills', 'languages', 'locations', 'presence_definitions'] LOOP
    EXECUTE format('CREATE TABLE truth.%I AS SELECT * FROM dir.%I WITH NO DATA', t, t);
    EXECUTE format('ALTER TABLE truth.%I DROP COLUMN raw', t);
  END LOOP;
END $$;
\copy truth.queues FROM PROGRAM 'python3 tests/emuctl.py csv queues' CSV HEADER
\copy truth.queue_members FROM PROGRAM 'python3 tests/emuctl.py csv queue_members' CSV HEADER
\copy truth.wrapup_codes FROM PROGRAM 'python3 tests/emuctl.py csv wrapup_codes' CSV HEADER
\copy truth.divisions FROM PROGRAM 'python3 tests/emuctl.py csv divisions' CSV HEADER
\copy truth.groups FROM PROGRAM 'python3 tests/emuctl.py csv groups' CSV HEADER
\copy truth.skills FROM PROGRAM 'python3 tests/emuctl.py csv skills' CSV HEADER
\copy truth.languages FROM PROGRAM 'python3 tests/emuctl.py csv languages' CSV HEADER
\copy truth.locations FROM PROGRAM 'python3 tests/emuctl.py csv locations' CSV HEADER
\copy truth.presence_definitions FROM PROGRAM 'python3 tests/emuctl.py csv presence_definitions' CSV HEADER

-- exact: every column of every row, nothing missing, nothing extra (both
-- ways of EXCEPT ALL), and the count; a digest of the sorted rows
-- EXPLAIN ANALYZE without what varies from run to run
CREATE FUNCTION dir_explain(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
    IF line !~ '(Time|Filter|Interval):' THEN
      RETURN NEXT line;
    END IF;
  END LOOP;
END $$;

CREATE FUNCTION dir_exact(t text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  cols text;
  missing bigint;
  extra bigint;
  n bigint;
BEGIN
  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute WHERE attrelid = format('truth.%I', t)::regclass
     AND attnum > 0 AND NOT attisdropped;
  EXECUTE format('SELECT count(*) FROM (SELECT %s FROM truth.%I EXCEPT ALL SELECT %s FROM dir.%I) x',
                 cols, t, cols, t) INTO missing;
  EXECUTE format('SELECT count(*) FROM (SELECT %s FROM dir.%I EXCEPT ALL SELECT %s FROM truth.%I) x',
                 cols, t, cols, t) INTO extra;
  EXECUTE format('SELECT count(*) FROM dir.%I', t) INTO n;
  RETURN format('%s: %s rows, %s missing, %s extra', t, n, missing, extra);
END $$;

-- Every table, as a user reads it, in pages of 100 (one listing each)
\! python3 tests/emuctl.py reset
SELECT dir_exact(t) FROM unnest(ARRAY['queues', 'wrapup_codes', 'divisions', 'groups', 'skills',
  'languages', 'locations', 'presence_definitions']) t;
-- and across page boundaries: pages of 7 rows
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['queues', 'wrapup_codes', 'divisions', 'groups', 'skills',
                           'languages', 'locations', 'presence_definitions'] LOOP
    EXECUTE format('ALTER FOREIGN TABLE dir.%I OPTIONS (ADD page_size %L)', t, '7');
  END LOOP;
END $$;
\! python3 tests/emuctl.py reset
SELECT dir_exact(t) FROM unnest(ARRAY['queues', 'wrapup_codes', 'divisions', 'groups', 'skills',
  'languages', 'locations', 'presence_definitions']) t;
\! python3 tests/emuctl.py log-count --endpoint directory

-- Names as real directories hold them: quotes, backslashes, accents,
-- emoji, leading and trailing spaces come back byte for byte
SELECT count(*) FILTER (WHERE name ~ '[''"\\]') AS quoted,
       count(*) FILTER (WHERE name <> btrim(name)) AS padded,
       count(*) FILTER (WHERE name ~ '[^\x01-\x7f]') AS non_ascii
  FROM dir.queues;

-- A queue's members: the listing nested in each queue (its rows carry the
-- queue's id, which the API does not send); pages of 10
ALTER FOREIGN TABLE dir.queue_members OPTIONS (ADD page_size '10');
\! python3 tests/emuctl.py reset
SELECT dir_exact('queue_members');
-- a read lists every queue once (in pages of 500), then each queue's
-- members: one request for the queues, and a page of 10 per 10 members
-- (at least one per queue)
\! python3 tests/emuctl.py reset
SELECT count(*) FROM dir.queue_members;
\! python3 tests/emuctl.py log-count --endpoint directory
SELECT 1 + sum(greatest(ceil(c / 10.0), 1)) AS expected_requests
  FROM (SELECT q.id, count(m.user_id) AS c FROM truth.queues q
        LEFT JOIN truth.queue_members m ON m.queue_id = q.id GROUP BY q.id) x;

-- WHERE queue_id = ... / IN (...) reads those queues' members only
SELECT id AS q1 FROM truth.queues ORDER BY member_count DESC, id LIMIT 1 \gset
SELECT id AS q2 FROM truth.queues ORDER BY member_count DESC, id OFFSET 1 LIMIT 1 \gset
\! python3 tests/emuctl.py reset
SELECT count(*) = (SELECT count(*) FROM truth.queue_members WHERE queue_id = :'q1') AS exact
  FROM dir.queue_members WHERE queue_id = :'q1';
SELECT count(*) = (SELECT count(*) FROM truth.queue_members WHERE queue_id IN (:'q1', :'q2')) AS exact
  FROM dir.queue_members WHERE queue_id IN (:'q1', :'q2');
\! python3 tests/emuctl.py log-summary | sed -e 's/[0-9a-f-]\{36\}/<queue>/'
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM dir.queue_members WHERE queue_id IN ('d5a1c2f0-0000-4000-8000-000000000001',
  'd5a1c2f0-0000-4000-8000-000000000002');

-- Pushdown: id lists, names (matched by prefix by the API, rechecked
-- here), divisions
SELECT id AS q1_division FROM truth.queues q WHERE id = :'q1' \gset
SELECT division_id AS div FROM truth.queues WHERE id = :'q1' \gset
SELECT name AS qname FROM truth.queues WHERE id = :'q1' \gset
\! python3 tests/emuctl.py reset
SELECT count(*) FROM dir.queues WHERE id IN (:'q1', :'q2');
SELECT count(*) = 1 AS exact FROM dir.queues WHERE name = :'qname';
SELECT count(*) = (SELECT count(*) FROM truth.queues WHERE division_id = :'div') AS exact
  FROM dir.queues WHERE division_id = :'div';
\! python3 tests/emuctl.py log-count --endpoint directory
\! python3 tests/emuctl.py log-summary | sed -e 's/[0-9a-f-]\{36\}/<id>/g' -e 's/name=.* \([0-9][0-9][0-9]\) -$/name=<name> \1 -/'
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM dir.queues WHERE name = 'Sales' AND division_id IN ('d5a1c2f0-0000-4000-8000-000000000001',
  'd5a1c2f0-0000-4000-8000-000000000002') AND id = 'd5a1c2f0-0000-4000-8000-000000000003';
-- a prefix of a name matches in the API, not here
SELECT count(*) FROM dir.queues WHERE name = left(:'qname', 3);
\! python3 tests/emuctl.py reset
SELECT count(*) FROM dir.skills WHERE name = 'no such skill';
\! python3 tests/emuctl.py log-summary

-- Wrap-up codes join a segment's wrap_up_code directly (text ids); the
-- platform's own codes are not in the listing
CREATE FOREIGN TABLE dir.segments (conversation_id uuid, conversation_start timestamptz,
  queue_id uuid, wrap_up_code text) SERVER emu_dir OPTIONS (resource 'segments');
\! python3 tests/emuctl.py reset
SELECT count(*) AS wrapups, count(w.id) AS named
  FROM dir.segments s LEFT JOIN dir.wrapup_codes w ON w.id = s.wrap_up_code
 WHERE s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06'
   AND s.wrap_up_code IS NOT NULL;
\! python3 tests/emuctl.py mutate '{"action": "system_wrapups", "every": 3}' > /dev/null
SELECT s.wrap_up_code, w.name IS NOT NULL AS in_listing, count(*)
  FROM dir.segments s LEFT JOIN dir.wrapup_codes w ON w.id = s.wrap_up_code
 WHERE s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06'
   AND s.wrap_up_code LIKE 'ININ-%'
 GROUP BY 1, 2;

-- A join from a fact table: PostgreSQL reads the queue listing once (a
-- hash join), never the directory once per row
\! python3 tests/emuctl.py reset
SELECT count(*), count(DISTINCT q.id) FROM dir.segments s JOIN dir.queues q ON q.id = s.queue_id
 WHERE s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06';
\! python3 tests/emuctl.py log-count --endpoint directory
-- a lookup per row (a parameterised scan; here forced by LATERAL): each
-- queue id the segments name is asked for once, the repeats answered from
-- the scan's own cache
\! python3 tests/emuctl.py reset
SELECT dir_explain($$SELECT count(*) FROM dir.segments s
  CROSS JOIN LATERAL (SELECT * FROM dir.queues q WHERE q.id = s.queue_id OFFSET 0) q
 WHERE s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06'$$);
\! python3 tests/emuctl.py log-summary | grep routing | sed -e 's/[0-9a-f-]\{36\}/<id>/g' | sort | uniq -c
SELECT count(DISTINCT queue_id) AS distinct_queues FROM dir.segments
 WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06';

-- Faults: a 401 (a revoked token), a 429 and a 503 each cost a retry, and
-- the rows stay exact
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "directory", "kind": "revoke", "after": 1}'
SELECT dir_exact('queues');
\! python3 tests/emuctl.py log-count --endpoint directory --status 401
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "directory", "kind": "status", "status": 429, "retry_after": "1", "after": 1}'
SELECT dir_exact('wrapup_codes');
\! python3 tests/emuctl.py log-count --endpoint directory --status 429
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "directory", "kind": "status", "status": 503, "after": 2}'
SELECT dir_exact('queue_members');
\! python3 tests/emuctl.py log-count --endpoint directory --status 503
\! python3 tests/emuctl.py reset
