--
-- The conversation model: IMPORT FOREIGN SCHEMA, and every nested table
-- compared with the same rows unnested independently, by PostgreSQL's jsonb
-- functions, from the raw objects of the conversations table.
--
\getenv emu_url GC_EMU_URL
SET TimeZone = 'UTC';

-- IMPORT FOREIGN SCHEMA: remote schema "genesys" holds every table
CREATE SCHEMA g;
IMPORT FOREIGN SCHEMA genesys FROM SERVER emu INTO g;
-- the generated DDL, column by column
SELECT c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'g'::regnamespace AND a.attnum > 0
 ORDER BY c.relname, a.attnum;
SELECT c.relname, ft.ftoptions, s.srvname
  FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
  JOIN pg_foreign_server s ON s.oid = ft.ftserver
 WHERE c.relnamespace = 'g'::regnamespace ORDER BY 1;
-- LIMIT TO and EXCEPT
CREATE SCHEMA g_some;
IMPORT FOREIGN SCHEMA genesys LIMIT TO (users, segments) FROM SERVER emu INTO g_some;
SELECT relname FROM pg_class WHERE relnamespace = 'g_some'::regnamespace ORDER BY 1;
CREATE SCHEMA g_rest;
IMPORT FOREIGN SCHEMA genesys EXCEPT (users, participant_attributes) FROM SERVER emu INTO g_rest;
SELECT relname FROM pg_class WHERE relnamespace = 'g_rest'::regnamespace ORDER BY 1;
-- mistakes are errors, not silent skips
IMPORT FOREIGN SCHEMA public FROM SERVER emu INTO g_rest;
IMPORT FOREIGN SCHEMA genesys LIMIT TO (queues) FROM SERVER emu INTO g_rest;
DROP SCHEMA g_some, g_rest CASCADE;

-- The truth: one week of raw conversation objects, unnested by PostgreSQL
CREATE TABLE conv_raw AS
SELECT raw FROM g.conversations
 WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11';
SELECT count(*) FROM conv_raw;
CREATE VIEW participants_truth AS
SELECT (c.raw->>'conversationId')::uuid AS conversation_id,
       (c.raw->>'conversationStart')::timestamptz AS conversation_start,
       p.raw AS p
  FROM conv_raw c, jsonb_array_elements(c.raw->'participants') AS p(raw);
CREATE VIEW sessions_truth AS
SELECT t.conversation_id, t.conversation_start, (t.p->>'participantId')::uuid AS participant_id, s.raw AS s
  FROM participants_truth t, jsonb_array_elements(t.p->'sessions') AS s(raw);
-- a jsonb array as a PostgreSQL array (NULL when the key is absent)
CREATE FUNCTION jarr(j jsonb) RETURNS text[] LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN j IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text(j)) END $$;

-- participants: every field, exactly
SELECT count(*) AS rows,
  (SELECT count(*) FROM (
     SELECT conversation_id, conversation_start, (p->>'participantId')::uuid, p->>'participantName',
            p->>'purpose', (p->>'userId')::uuid, p FROM participants_truth
     EXCEPT ALL
     SELECT conversation_id, conversation_start, participant_id, participant_name, purpose, user_id, raw
       FROM g.participants WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11') m) AS missing,
  (SELECT count(*) FROM (
     SELECT conversation_id, conversation_start, participant_id, participant_name, purpose, user_id, raw
       FROM g.participants WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11'
     EXCEPT ALL
     SELECT conversation_id, conversation_start, (p->>'participantId')::uuid, p->>'participantName',
            p->>'purpose', (p->>'userId')::uuid, p FROM participants_truth) e) AS extra
  FROM participants_truth;

-- sessions
SELECT count(*) AS rows,
  (SELECT count(*) FROM (
     SELECT conversation_id, participant_id, (s->>'sessionId')::uuid, s->>'mediaType', s->>'direction',
            s->>'ani', s->>'dnis', s->>'addressFrom', s->>'addressTo', s->>'provider', (s->>'edgeId')::uuid,
            (s->>'recording')::boolean, jarr(s->'requestedRoutings'), s->>'usedRouting',
            (s->'flow'->>'flowId')::uuid, s->'flow'->>'flowName', s->'flow'->>'flowType', s
       FROM sessions_truth
     EXCEPT ALL
     SELECT conversation_id, participant_id, session_id, media_type, direction, ani, dnis, address_from,
            address_to, provider, edge_id, recording, requested_routings, used_routing, flow_id, flow_name,
            flow_type, raw
       FROM g.sessions WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11') m) AS missing,
  (SELECT count(*) FROM g.sessions
    WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11') - count(*) AS extra
  FROM sessions_truth;

-- segments
SELECT count(*) AS rows,
  (SELECT count(*) FROM (
     SELECT conversation_id, participant_id, (s->>'sessionId')::uuid, (g->>'segmentStart')::timestamptz,
            (g->>'segmentEnd')::timestamptz, g->>'segmentType', (g->>'queueId')::uuid, g->>'wrapUpCode',
            g->>'wrapUpNote', g->>'disconnectType', (g->>'conference')::boolean,
            jarr(g->'sipResponseCodes')::int[], jarr(g->'q850ResponseCodes')::int[], g
       FROM sessions_truth, jsonb_array_elements(s->'segments') AS x(g)
     EXCEPT ALL
     SELECT conversation_id, participant_id, session_id, segment_start, segment_end, segment_type, queue_id,
            wrap_up_code, wrap_up_note, disconnect_type, conference, sip_response_codes,
            q850_response_codes, raw
       FROM g.segments WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11') m) AS missing,
  (SELECT count(*) FROM g.segments
    WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11') - count(*) AS extra,
  count(*) FILTER (WHERE g->>'segmentEnd' IS NULL) AS open_segments
  FROM sessions_truth, jsonb_array_elements(s->'segments') AS x(g);

-- session metrics
SELECT count(*) AS rows,
  (SELECT count(*) FROM (
     SELECT conversation_id, participant_id, (s->>'sessionId')::uuid, m->>'name', (m->>'value')::bigint,
            (m->>'emitDate')::timestamptz, m
       FROM sessions_truth, jsonb_array_elements(s->'metrics') AS x(m)
     EXCEPT ALL
     SELECT conversation_id, participant_id, session_id, name, value, emit_date, raw
       FROM g.session_metrics WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11') m) AS missing,
  (SELECT count(*) FROM g.session_metrics
    WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11') - count(*) AS extra
  FROM sessions_truth, jsonb_array_elements(s->'metrics') AS x(m);

-- The natural keys identify rows (no positional keys)
SELECT count(*) = count(DISTINCT (conversation_id, participant_id)) AS participant_key
  FROM g.participants WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
SELECT count(*) = count(DISTINCT (conversation_id, session_id)) AS session_key
  FROM g.sessions WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
SELECT count(*) = count(DISTINCT (conversation_id, session_id, segment_start, segment_type)) AS segment_key
  FROM g.segments WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
SELECT count(*) = count(DISTINCT (conversation_id, session_id, name, emit_date)) AS metric_key
  FROM g.session_metrics WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';

-- The interval pushes from any conversation-derived table, and joins are natural
\! python3 tests/emuctl.py reset
SELECT p.purpose, count(DISTINCT s.session_id) AS sessions, sum(m.value) FILTER (WHERE m.name = 'tTalk') > 0 AS talked
  FROM g.participants p
  JOIN g.sessions s USING (conversation_id, participant_id)
  LEFT JOIN g.session_metrics m USING (conversation_id, session_id)
 WHERE p.conversation_start >= '2024-03-05' AND p.conversation_start < '2024-03-06'
   AND s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06'
   AND m.conversation_start >= '2024-03-05' AND m.conversation_start < '2024-03-06'
 GROUP BY p.purpose ORDER BY 1;
-- one details request: the join is pushed down (joins.sql), one read of
-- session_metrics, each row with its session and participant
\! python3 tests/emuctl.py log-count --endpoint details
EXPLAIN (COSTS OFF)
SELECT count(*)
  FROM g.participants p
  JOIN g.sessions s USING (conversation_id, participant_id)
 WHERE p.conversation_start >= '2024-03-05' AND p.conversation_start < '2024-03-06'
   AND s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06';
-- agents' segments joined to the users directory
SELECT count(*) > 0 AS agent_segments, bool_and(u.state = 'active') AS agents_active
  FROM g.segments s
  JOIN g.participants p USING (conversation_id, participant_id)
  JOIN g.users u ON u.id = p.user_id
 WHERE s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06'
   AND p.conversation_start >= '2024-03-05' AND p.conversation_start < '2024-03-06'
   AND p.purpose = 'agent';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT segment_type FROM g.segments
 WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06';

-- Attributes come only with async job results: the details query has none
SELECT count(*) FROM g.participant_attributes
 WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06';

-- A scoped key must name a level above the row
CREATE FOREIGN TABLE bad_scope (session text OPTIONS (key 'session:sessionId'),
  conversation_start timestamptz) SERVER emu OPTIONS (resource 'participants');
SELECT * FROM bad_scope WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06';
DROP FOREIGN TABLE bad_scope;
