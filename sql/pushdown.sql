--
-- Pushdown: each SQL shape, the exact request the emulator received, and
-- the same result as with pushdown 'false' (schema g_off).
--
\getenv emu_url GC_EMU_URL
\getenv emu_client GC_EMU_CLIENT_ID
\getenv emu_secret GC_EMU_SECRET
SET TimeZone = 'UTC';
CREATE SERVER emu_off FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', pushdown 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_off
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE SCHEMA g_off;
IMPORT FOREIGN SCHEMA genesys FROM SERVER emu_off INTO g_off;

-- same_result(query with %1$s for the schema): runs it on g and on g_off
CREATE FUNCTION same_result(query text) RETURNS text AS $$
DECLARE
  n_on bigint; n_off bigint; diff bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM (%s) q', format(query, 'g')) INTO n_on;
  EXECUTE format('SELECT count(*) FROM (%s) q', format(query, 'g_off')) INTO n_off;
  EXECUTE format('SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) d',
                 format(query, 'g'), format(query, 'g_off'),
                 format(query, 'g_off'), format(query, 'g')) INTO diff;
  RETURN CASE WHEN diff = 0 AND n_on = n_off THEN format('same (%s rows)', n_on)
              ELSE format('DIFFERENT: %s vs %s rows, %s differ', n_on, n_off, diff) END;
END
$$ LANGUAGE plpgsql;

-- values taken from the data
SELECT conversation_id AS conv1 FROM conversations_truth ORDER BY conversation_start LIMIT 1 OFFSET 10 \gset
SELECT conversation_id AS conv2 FROM conversations_truth ORDER BY conversation_start LIMIT 1 OFFSET 400 \gset
SELECT queue_id AS queue1 FROM g.segments
 WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06' AND queue_id IS NOT NULL
 ORDER BY segment_start LIMIT 1 \gset
SELECT user_id AS agent1 FROM g.participants
 WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06' AND purpose = 'agent'
 ORDER BY user_id LIMIT 1 \gset
SELECT division_ids[1] AS division1 FROM conversations_truth
 WHERE conversation_start >= '2024-03-05' ORDER BY conversation_start LIMIT 1 \gset

--
-- conversation_id = x / IN (...): looked up by id, no interval needed
--
\! python3 tests/emuctl.py reset
EXPLAIN (VERBOSE, COSTS OFF) SELECT conversation_id FROM g.conversations WHERE conversation_id = :'conv1';
SELECT count(*), min(conversation_start) FROM g.conversations WHERE conversation_id = :'conv1';
SELECT count(*) FROM g.segments WHERE conversation_id IN (:'conv1', :'conv2', '00000000-0000-4000-8000-000000000000');
\! python3 tests/emuctl.py log-summary
SELECT same_result($q$SELECT * FROM %1$s.conversations WHERE conversation_id IN ('$q$ || :'conv1' || $q$', '$q$ || :'conv2' || $q$')
  AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22'$q$);

--
-- Segment dimensions: segmentFilters (windows may then grow to 31 days)
--
\! python3 tests/emuctl.py reset
EXPLAIN (VERBOSE, COSTS OFF)
SELECT session_id FROM g.sessions
 WHERE media_type = 'voice' AND direction IN ('inbound', 'outbound')
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
SELECT count(*) FROM g.sessions
 WHERE media_type = 'voice' AND direction IN ('inbound', 'outbound')
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
\! python3 tests/emuctl.py log-bodies
SELECT same_result($q$SELECT conversation_id, session_id FROM %1$s.sessions
 WHERE media_type = 'voice' AND direction IN ('inbound', 'outbound')
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22'$q$);

\! python3 tests/emuctl.py reset
SELECT count(*) FROM g.segments
 WHERE queue_id = :'queue1' AND segment_type = 'interact'
   AND conversation_start >= '2024-03-04' AND conversation_start < '2024-03-08';
\! python3 tests/emuctl.py log-bodies
SELECT same_result($q$SELECT conversation_id, session_id, segment_start FROM %1$s.segments
 WHERE queue_id = '$q$ || :'queue1' || $q$' AND segment_type = 'interact'
   AND conversation_start >= '2024-03-04' AND conversation_start < '2024-03-08'$q$);

\! python3 tests/emuctl.py reset
SELECT count(*) FROM g.participants
 WHERE user_id = :'agent1' AND purpose = 'agent'
   AND conversation_start >= '2024-03-04' AND conversation_start < '2024-03-08';
\! python3 tests/emuctl.py log-bodies
SELECT same_result($q$SELECT conversation_id, participant_id FROM %1$s.participants
 WHERE user_id = '$q$ || :'agent1' || $q$' AND purpose = 'agent'
   AND conversation_start >= '2024-03-04' AND conversation_start < '2024-03-08'$q$);

\! python3 tests/emuctl.py reset
SELECT segment_type, disconnect_type, count(*) FROM g.segments
 WHERE segment_type IN ('interact', 'dialing') AND disconnect_type IN ('client', 'peer')
   AND conversation_start >= '2024-03-04' AND conversation_start < '2024-03-08'
 GROUP BY 1, 2 ORDER BY 1, 2;
\! python3 tests/emuctl.py log-bodies
SELECT same_result($q$SELECT conversation_id, session_id, segment_start FROM %1$s.segments
 WHERE segment_type IN ('interact', 'dialing') AND disconnect_type IN ('client', 'peer')
   AND conversation_start >= '2024-03-04' AND conversation_start < '2024-03-08'$q$);
-- wrap-up codes
SELECT wrap_up_code AS wrapup1 FROM g.segments
 WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-05' AND wrap_up_code IS NOT NULL
 ORDER BY segment_start LIMIT 1 \gset
\! python3 tests/emuctl.py reset
SELECT count(*) FROM g.segments WHERE wrap_up_code = :'wrapup1'
   AND conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11';
\! python3 tests/emuctl.py log-bodies
SELECT same_result($q$SELECT conversation_id, session_id, segment_start FROM %1$s.segments
 WHERE wrap_up_code = '$q$ || :'wrapup1' || $q$'
   AND conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11'$q$);

--
-- Conversation dimensions: conversationFilters
--
\! python3 tests/emuctl.py reset
SELECT count(*) FROM g.conversations
 WHERE originating_direction = 'outbound' AND conversation_end IS NOT NULL
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
\! python3 tests/emuctl.py log-bodies
SELECT same_result($q$SELECT conversation_id FROM %1$s.conversations
 WHERE originating_direction = 'outbound' AND conversation_end IS NOT NULL
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22'$q$);

\! python3 tests/emuctl.py reset
SELECT count(*) FROM g.conversations
 WHERE conversation_end IS NULL
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
\! python3 tests/emuctl.py log-bodies
SELECT same_result($q$SELECT conversation_id FROM %1$s.conversations WHERE conversation_end IS NULL
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22'$q$);

\! python3 tests/emuctl.py reset
SELECT count(*) FROM g.conversations
 WHERE :'division1' = ANY (division_ids) AND external_tag IS NOT NULL
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-08';
SELECT count(*) FROM g.conversations
 WHERE division_ids @> ARRAY[:'division1'::uuid]
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-08';
\! python3 tests/emuctl.py log-bodies
SELECT same_result($q$SELECT conversation_id FROM %1$s.conversations
 WHERE division_ids @> ARRAY['$q$ || :'division1' || $q$'::uuid]
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-08'$q$);

-- external_tag equality
SELECT external_tag AS tag1 FROM conversations_truth WHERE external_tag IS NOT NULL
 ORDER BY conversation_start LIMIT 1 \gset
\! python3 tests/emuctl.py reset
SELECT count(*) FROM g.conversations WHERE external_tag = :'tag1'
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
\! python3 tests/emuctl.py log-bodies

-- what is not exact is not pushed: <> and LIKE stay local
\! python3 tests/emuctl.py reset
SELECT count(*) FROM g.sessions WHERE media_type <> 'voice' AND ani LIKE 'tel:%'
   AND conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06';
\! python3 tests/emuctl.py log-bodies

--
-- ORDER BY conversation_start: the API sorts, no Sort node; LIMIT stops paging
--
\! python3 tests/emuctl.py reset
EXPLAIN (COSTS OFF) SELECT conversation_id FROM g.conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22'
 ORDER BY conversation_start DESC LIMIT 5;
SELECT conversation_start FROM g.conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22'
 ORDER BY conversation_start DESC LIMIT 5;
\! python3 tests/emuctl.py log-intervals
\! python3 tests/emuctl.py log-bodies
SELECT (SELECT array_agg(conversation_id) FROM (SELECT conversation_id FROM g.conversations
          WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22'
          ORDER BY conversation_start) a)
     = (SELECT array_agg(conversation_id ORDER BY conversation_start, conversation_id) FROM conversations_truth)
       AS ascending_order_exact;

--
-- users: id = x / IN (...) -> the id list parameter; joins look users up
--
\! python3 tests/emuctl.py reset
SELECT name FROM g.users WHERE id = :'agent1';
SELECT count(*) FROM g.users WHERE id IN (:'agent1', '00000000-0000-4000-8000-000000000000');
\! python3 tests/emuctl.py log-summary
SELECT same_result($q$SELECT id, name FROM %1$s.users WHERE id IN ('$q$ || :'agent1' || $q$')$q$);

\! python3 tests/emuctl.py reset
EXPLAIN (VERBOSE, COSTS OFF)
SELECT p.participant_id, u.name FROM g.participants p JOIN g.users u ON u.id = p.user_id
 WHERE p.conversation_id = :'conv1';
SELECT count(*), bool_and(u.name IS NOT NULL) FROM g.participants p JOIN g.users u ON u.id = p.user_id
 WHERE p.conversation_id = :'conv1';
\! python3 tests/emuctl.py log-summary
