--
-- Join pushdown: joins of the conversation model's tables on their keys
-- run as one read of the deepest table.  Every shape is compared with the
-- same query with pushdown off (PostgreSQL joining the tables it read one
-- by one): the same rows, and the requests of a single-table read.
--
\getenv emu_url GC_EMU_URL
\getenv emu_client GC_EMU_CLIENT_ID
\getenv emu_secret GC_EMU_SECRET
CREATE SERVER emu_join FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', concurrency '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_join
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE SCHEMA jn;
IMPORT FOREIGN SCHEMA genesys FROM SERVER emu_join INTO jn;
SET TimeZone = 'UTC';

-- count and digest of a query's rows, whatever their order
CREATE FUNCTION rows_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  EXECUTE format('SELECT count(*) || '' rows, '' || md5(coalesce(string_agg(t::text, '','' ORDER BY t::text), ''''))
                    FROM (%s) t', query) INTO result;
  RETURN result;
END $$;

ALTER SERVER emu_join OPTIONS (ADD pushdown 'true');

-- Conversations and their segments: one read of segments, each with its
-- conversation; the bounds may be written on either table
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.originating_direction, s.segment_type
  FROM jn.conversations c JOIN jn.segments s USING (conversation_id)
 WHERE s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06';
\! python3 tests/emuctl.py reset
SELECT rows_of($$SELECT c.conversation_id, c.originating_direction, s.segment_start, s.segment_type, s.queue_id
  FROM jn.conversations c JOIN jn.segments s USING (conversation_id)
 WHERE s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06'$$) AS pushed;
\! python3 tests/emuctl.py log-count --endpoint details
\! python3 tests/emuctl.py reset
SELECT rows_of($$SELECT s.conversation_id FROM jn.segments s
 WHERE s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06'$$) AS segments_alone;
\! python3 tests/emuctl.py log-count --endpoint details
-- pushdown off: PostgreSQL joins two reads (each table needs its bounds)
ALTER SERVER emu_join OPTIONS (SET pushdown 'false');
\! python3 tests/emuctl.py reset
SELECT rows_of($$SELECT c.conversation_id, c.originating_direction, s.segment_start, s.segment_type, s.queue_id
  FROM jn.conversations c JOIN jn.segments s USING (conversation_id)
 WHERE s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06'
   AND c.conversation_start >= '2024-03-05' AND c.conversation_start < '2024-03-06'$$) AS local;
\! python3 tests/emuctl.py log-count --endpoint details
ALTER SERVER emu_join OPTIONS (SET pushdown 'true');

-- Three levels: conversations, participants, segments, each joined to its
-- parent on the parent's key and the conversation's; a filter on any
-- table narrows the one read
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.conversation_id, p.purpose, s.segment_type
  FROM jn.conversations c
  JOIN jn.participants p ON p.conversation_id = c.conversation_id
  JOIN jn.segments s ON s.conversation_id = p.conversation_id AND s.participant_id = p.participant_id
 WHERE c.conversation_start >= '2024-03-05' AND c.conversation_start < '2024-03-06'
   AND p.purpose = 'agent';
\! python3 tests/emuctl.py reset
SELECT rows_of($$SELECT c.conversation_id, c.conversation_end, p.participant_id, p.purpose, p.user_id, s.segment_start, s.segment_type
  FROM jn.conversations c
  JOIN jn.participants p ON p.conversation_id = c.conversation_id
  JOIN jn.segments s ON s.conversation_id = p.conversation_id AND s.participant_id = p.participant_id
 WHERE c.conversation_start >= '2024-03-05' AND c.conversation_start < '2024-03-06'
   AND p.purpose = 'agent'$$) AS pushed;
\! python3 tests/emuctl.py log-count --endpoint details
ALTER SERVER emu_join OPTIONS (SET pushdown 'false');
\! python3 tests/emuctl.py reset
SELECT rows_of($$SELECT c.conversation_id, c.conversation_end, p.participant_id, p.purpose, p.user_id, s.segment_start, s.segment_type
  FROM jn.conversations c
  JOIN jn.participants p ON p.conversation_id = c.conversation_id
  JOIN jn.segments s ON s.conversation_id = p.conversation_id AND s.participant_id = p.participant_id
 WHERE c.conversation_start >= '2024-03-05' AND c.conversation_start < '2024-03-06'
   AND p.conversation_start >= '2024-03-05' AND p.conversation_start < '2024-03-06'
   AND s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06'
   AND p.purpose = 'agent'$$) AS local;
\! python3 tests/emuctl.py log-count --endpoint details
ALTER SERVER emu_join OPTIONS (SET pushdown 'true');

-- Sessions and their segments on (conversation_id, session_id): a session
-- id alone may repeat across conversations, so it is not a key
EXPLAIN (COSTS OFF)
SELECT count(*) FROM jn.sessions se JOIN jn.segments s
    ON s.conversation_id = se.conversation_id AND s.session_id = se.session_id
 WHERE se.conversation_start >= '2024-03-05' AND se.conversation_start < '2024-03-06';
\! python3 tests/emuctl.py reset
SELECT rows_of($$SELECT se.session_id, se.media_type, s.segment_start, s.segment_type
  FROM jn.sessions se JOIN jn.segments s
    ON s.conversation_id = se.conversation_id AND s.session_id = se.session_id
 WHERE se.conversation_start >= '2024-03-05' AND se.conversation_start < '2024-03-06'$$) AS pushed;
ALTER SERVER emu_join OPTIONS (SET pushdown 'false');
SELECT rows_of($$SELECT se.session_id, se.media_type, s.segment_start, s.segment_type
  FROM jn.sessions se JOIN jn.segments s
    ON s.conversation_id = se.conversation_id AND s.session_id = se.session_id
 WHERE se.conversation_start >= '2024-03-05' AND se.conversation_start < '2024-03-06'
   AND s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06'$$) AS local;
ALTER SERVER emu_join OPTIONS (SET pushdown 'true');
-- on session_id alone the join stays PostgreSQL's
EXPLAIN (COSTS OFF)
SELECT count(*) FROM jn.sessions se JOIN jn.segments s ON s.session_id = se.session_id
 WHERE se.conversation_start >= '2024-03-05' AND se.conversation_start < '2024-03-06'
   AND s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06';

-- A left join from parent to child: a conversation with no child row
-- comes once, its child columns NULL.  Participant attributes come only
-- with job results, so in query mode every conversation is such a one
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.conversation_id, a.name
  FROM jn.conversations c LEFT JOIN jn.participant_attributes a USING (conversation_id)
 WHERE c.conversation_start >= '2024-03-05' AND c.conversation_start < '2024-03-06';
\! python3 tests/emuctl.py reset
SELECT rows_of($$SELECT c.conversation_id, a.participant_id, a.name, a.value
  FROM jn.conversations c LEFT JOIN jn.participant_attributes a USING (conversation_id)
 WHERE c.conversation_start >= '2024-03-05' AND c.conversation_start < '2024-03-06'$$) AS pushed;
\! python3 tests/emuctl.py log-count --endpoint details
SELECT count(*) AS conversations FROM jn.conversations
 WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06';
ALTER SERVER emu_join OPTIONS (SET pushdown 'false');
SELECT rows_of($$SELECT c.conversation_id, a.participant_id, a.name, a.value
  FROM jn.conversations c
  LEFT JOIN (SELECT * FROM jn.participant_attributes
              WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06') a
    USING (conversation_id)
 WHERE c.conversation_start >= '2024-03-05' AND c.conversation_start < '2024-03-06'$$) AS local;
ALTER SERVER emu_join OPTIONS (SET pushdown 'true');
-- a left join whose child side has a condition of its own (a filter in
-- ON) stays PostgreSQL's: rows without a matching child must still come
EXPLAIN (COSTS OFF)
SELECT count(*) FROM jn.participants p
  LEFT JOIN jn.segments s ON s.conversation_id = p.conversation_id
                         AND s.participant_id = p.participant_id AND s.segment_type = 'wrapup'
                         AND s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06'
 WHERE p.conversation_start >= '2024-03-05' AND p.conversation_start < '2024-03-06';
-- participants and their segments, left joined: pushed, and as PostgreSQL
-- joins them
\! python3 tests/emuctl.py reset
SELECT rows_of($$SELECT p.participant_id, p.purpose, s.segment_start, s.segment_type
  FROM jn.participants p
  LEFT JOIN jn.segments s ON s.conversation_id = p.conversation_id AND s.participant_id = p.participant_id
 WHERE p.conversation_start >= '2024-03-05' AND p.conversation_start < '2024-03-06'$$) AS pushed;
ALTER SERVER emu_join OPTIONS (SET pushdown 'false');
SELECT rows_of($$SELECT p.participant_id, p.purpose, s.segment_start, s.segment_type
  FROM jn.participants p
  LEFT JOIN (SELECT * FROM jn.segments
              WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06') s
    ON s.conversation_id = p.conversation_id AND s.participant_id = p.participant_id
 WHERE p.conversation_start >= '2024-03-05' AND p.conversation_start < '2024-03-06'$$) AS local;
ALTER SERVER emu_join OPTIONS (SET pushdown 'true');

-- Shapes that stay PostgreSQL's: siblings (segments and session metrics of
-- one session would be a product), another API (users), a join not on keys
EXPLAIN (COSTS OFF)
SELECT count(*) FROM jn.segments s JOIN jn.session_metrics m
    ON m.conversation_id = s.conversation_id AND m.session_id = s.session_id
 WHERE s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06'
   AND m.conversation_start >= '2024-03-05' AND m.conversation_start < '2024-03-06';
EXPLAIN (COSTS OFF)
SELECT count(*) FROM jn.participants p JOIN jn.users u ON u.id = p.user_id
 WHERE p.conversation_start >= '2024-03-05' AND p.conversation_start < '2024-03-06';
EXPLAIN (COSTS OFF)
SELECT count(*) FROM jn.conversations c JOIN jn.segments s ON s.conversation_start = c.conversation_start
 WHERE c.conversation_start >= '2024-03-05' AND c.conversation_start < '2024-03-06'
   AND s.conversation_start >= '2024-03-05' AND s.conversation_start < '2024-03-06';

-- In a subplan (a materialized CTE), the plan's range table is renumbered
-- into the query's: the pushed join still finds its tables
\! python3 tests/emuctl.py reset
WITH pairs AS MATERIALIZED (
  SELECT c.conversation_id, s.segment_type
    FROM jn.conversations c JOIN jn.segments s USING (conversation_id)
   WHERE c.conversation_start >= '2024-03-05' AND c.conversation_start < '2024-03-06')
SELECT (SELECT count(*) FROM jn.users WHERE state = 'deleted') AS deleted_users,
       count(*) AS pairs FROM pairs;
\! python3 tests/emuctl.py log-count --endpoint details
