--
-- conversations: POST /api/v2/analytics/conversations/details/query
--
-- The emulator holds conversations from 2024-03-01 to 2024-03-21 (UTC) and
-- answers like Genesys: every conversation that started on a UTC day the
-- interval touches, i.e. a superset the scan must trim.  Times below are UTC.
SET TimeZone = 'UTC';
CREATE FOREIGN TABLE conversations (
  conversation_id uuid, conversation_start timestamptz, conversation_end timestamptz,
  originating_direction text, division_ids uuid[],
  media_stats_min_conversation_mos float8, external_tag text, raw jsonb
) SERVER emu OPTIONS (resource 'conversations');

CREATE TABLE conversations_truth (
  conversation_id uuid, conversation_start timestamptz, conversation_end timestamptz,
  originating_direction text, division_ids uuid[],
  media_stats_min_conversation_mos float8, external_tag text);
\copy conversations_truth FROM PROGRAM 'python3 tests/emuctl.py csv conversations' CSV HEADER
SELECT count(*), min(conversation_start), max(conversation_start),
       count(*) FILTER (WHERE conversation_end IS NULL) AS in_progress
  FROM conversations_truth;

-- A function comparing a scan with the truth over [lo, hi)
CREATE FUNCTION diff_with_truth(lo timestamptz, hi timestamptz,
                                OUT missing bigint, OUT extra bigint) AS $$
  SELECT (SELECT count(*) FROM (
            SELECT * FROM conversations_truth WHERE conversation_start >= lo AND conversation_start < hi
            EXCEPT ALL
            SELECT conversation_id, conversation_start, conversation_end, originating_direction,
                   division_ids, media_stats_min_conversation_mos, external_tag
              FROM conversations WHERE conversation_start >= lo AND conversation_start < hi) m),
         (SELECT count(*) FROM (
            SELECT conversation_id, conversation_start, conversation_end, originating_direction,
                   division_ids, media_stats_min_conversation_mos, external_tag
              FROM conversations WHERE conversation_start >= lo AND conversation_start < hi
            EXCEPT ALL
            SELECT * FROM conversations_truth WHERE conversation_start >= lo AND conversation_start < hi) e)
$$ LANGUAGE sql;

-- One UTC day: one window, pages of 100 until a short page
\! python3 tests/emuctl.py reset
SELECT count(*) FROM conversations
 WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-06';
\! python3 tests/emuctl.py log-summary
SELECT * FROM diff_with_truth('2024-03-05', '2024-03-06');

-- The whole dataset (3 weeks) is split into windows of at most 7 days
\! python3 tests/emuctl.py reset
SELECT count(*), count(DISTINCT conversation_id) FROM conversations
 WHERE conversation_start >= '2024-02-28' AND conversation_start < '2024-03-25';
\! python3 tests/emuctl.py log-intervals
SELECT * FROM diff_with_truth('2024-02-28', '2024-03-25');

-- Windows that start and end mid-day: the API returns whole days, each
-- conversation is kept by exactly one window and trimmed to the bounds
\! python3 tests/emuctl.py reset
SELECT * FROM diff_with_truth('2024-03-05 12:00Z', '2024-03-13 12:00Z');
\! python3 tests/emuctl.py log-intervals

-- Bound shapes: >, <=, BETWEEN, =, reversed operands, date and timestamp
-- values, other time zones; each equals the same filter on the truth
SELECT (SELECT count(*) FROM conversations WHERE conversation_start > '2024-03-03 00:00:00Z' AND conversation_start <= '2024-03-04 00:00:00Z')
     = (SELECT count(*) FROM conversations_truth WHERE conversation_start > '2024-03-03 00:00:00Z' AND conversation_start <= '2024-03-04 00:00:00Z') AS gt_le;
SELECT (SELECT count(*) FROM conversations WHERE conversation_start BETWEEN '2024-03-10' AND '2024-03-10 23:59:59.999Z')
     = (SELECT count(*) FROM conversations_truth WHERE conversation_start BETWEEN '2024-03-10' AND '2024-03-10 23:59:59.999Z') AS between_ms;
SELECT (SELECT count(*) FROM conversations WHERE '2024-03-07'::date <= conversation_start AND '2024-03-08'::timestamp > conversation_start)
     = (SELECT count(*) FROM conversations_truth WHERE conversation_start >= '2024-03-07' AND conversation_start < '2024-03-08') AS date_and_timestamp;
SELECT (SELECT count(*) FROM conversations WHERE conversation_start >= '2024-03-07 00:00+05:30' AND conversation_start < '2024-03-07 23:00-08:00')
     = (SELECT count(*) FROM conversations_truth WHERE conversation_start >= '2024-03-07 00:00+05:30' AND conversation_start < '2024-03-07 23:00-08:00') AS offsets;
-- boundary instants: exactly midnight and the last millisecond of a day
SELECT conversation_start FROM conversations WHERE conversation_start = '2024-03-06 23:59:59.999Z';
SELECT conversation_start FROM conversations WHERE conversation_start = '2024-03-08 00:00:00Z';
SELECT count(*) FROM conversations
 WHERE conversation_start > '2024-03-06 23:59:59.998Z' AND conversation_start <= '2024-03-08 00:00:00Z';
SELECT count(*) FROM conversations_truth
 WHERE conversation_start > '2024-03-06 23:59:59.998Z' AND conversation_start <= '2024-03-08 00:00:00Z';

-- Stable expressions are evaluated once at scan start (no data in 2026)
\! python3 tests/emuctl.py reset
SELECT count(*) FROM conversations
 WHERE conversation_start >= now() - interval '1 day' AND conversation_start < now();
\! python3 tests/emuctl.py log-count --endpoint details
-- A NULL bound matches nothing and asks the API nothing
SELECT count(*) FROM conversations
 WHERE conversation_start >= NULL::timestamptz AND conversation_start < '2024-03-02';
-- An empty range asks nothing either
SELECT count(*) FROM conversations
 WHERE conversation_start >= '2024-03-05' AND conversation_start < '2024-03-05';
\! python3 tests/emuctl.py log-count --endpoint details

-- Without both bounds the scan refuses to read the whole history
SELECT count(*) FROM conversations;
SELECT count(*) FROM conversations WHERE conversation_start >= '2024-03-01';
SELECT count(*) FROM conversations WHERE conversation_start < '2024-03-01';
SELECT count(*) FROM conversations WHERE conversation_start >= '-infinity' AND conversation_start < '2024-03-01';
-- a bound the API cannot use (not a constant) is rejected with the same hint
SELECT count(*) FROM conversations WHERE conversation_start::date = '2024-03-05';
-- the bound column may have any name; the table needs one
CREATE FOREIGN TABLE conversations_renamed (id uuid OPTIONS (key 'conversationId'),
  started timestamptz OPTIONS (key 'conversationStart')) SERVER emu OPTIONS (resource 'conversations');
SELECT count(*) FROM conversations_renamed WHERE started >= '2024-03-05' AND started < '2024-03-06';
SELECT count(*) FROM conversations_renamed WHERE started >= '2024-03-05';
CREATE FOREIGN TABLE conversations_nostart (conversation_id uuid, conversation_start text)
  SERVER emu OPTIONS (resource 'conversations');
SELECT count(*) FROM conversations_nostart WHERE conversation_start >= '2024-03-05';

-- Types: in-progress conversations, arrays, floats and the raw object
SELECT count(*) FILTER (WHERE conversation_end IS NULL) AS in_progress,
       count(*) FILTER (WHERE cardinality(division_ids) > 1) AS multi_division,
       count(media_stats_min_conversation_mos) AS with_mos,
       count(external_tag) AS tagged,
       bool_and(raw->>'conversationId' = conversation_id::text) AS raw_matches
  FROM conversations WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
SELECT conversation_id, conversation_start, conversation_end, originating_direction,
       division_ids, media_stats_min_conversation_mos
  FROM conversations
 WHERE conversation_start >= '2024-03-03' AND conversation_start < '2024-03-03 03:00'
 ORDER BY conversation_start;
-- jsonb columns are built from the parsed page directly, json columns from
-- its text: both must hold the same values (numbers, strings, nesting) for
-- every conversation and user
CREATE FOREIGN TABLE conversations_json (conversation_start timestamptz, raw jsonb,
  raw_text json OPTIONS (key '.'))
  SERVER emu OPTIONS (resource 'conversations');
SELECT count(*) AS conversations, count(*) FILTER (WHERE raw = raw_text::jsonb) AS same
  FROM conversations_json WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
CREATE FOREIGN TABLE users_json (raw jsonb, raw_text json OPTIONS (key '.'))
  SERVER emu OPTIONS (resource 'users');
SELECT count(*) AS users, count(*) FILTER (WHERE raw = raw_text::jsonb) AS same FROM users_json;

-- Columns may read any field by key, nested objects as jsonb
CREATE FOREIGN TABLE conversation_docs (
  conversation_id text,
  conversation_start timestamptz,
  participants jsonb,
  initiator text OPTIONS (key 'conversationInitiator')
) SERVER emu OPTIONS (resource 'conversations', page_size '25');
SELECT count(*), sum(jsonb_array_length(participants)) > count(*) AS nested,
       count(initiator) > 0 AS has_initiator
  FROM conversation_docs
 WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-05';

-- EXPLAIN names the request and what bounds it, without calling the API
\! python3 tests/emuctl.py reset
EXPLAIN (VERBOSE, COSTS OFF)
SELECT conversation_id FROM conversations
 WHERE conversation_start >= now() - interval '7 days' AND conversation_start < now()
   AND originating_direction = 'inbound';
\! python3 tests/emuctl.py log-count
-- EXPLAIN ANALYZE adds what the scan cost
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM conversations
 WHERE conversation_start >= '2024-03-05 12:00Z' AND conversation_start < '2024-03-13 12:00Z';

-- Warehousing: INSERT ... SELECT loads exactly the truth
CREATE TABLE warehouse_conversations AS SELECT * FROM conversations_truth WITH NO DATA;
INSERT INTO warehouse_conversations
SELECT conversation_id, conversation_start, conversation_end, originating_direction,
       division_ids, media_stats_min_conversation_mos, external_tag
  FROM conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
SELECT count(*) FROM (TABLE warehouse_conversations EXCEPT ALL TABLE conversations_truth) x;
SELECT count(*) FROM (TABLE conversations_truth EXCEPT ALL TABLE warehouse_conversations) x;
