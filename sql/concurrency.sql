--
-- Concurrent paging (option concurrency): once the first page of a request
-- series says how many pages it holds, the next ones are requested several
-- at a time and read in page order.  The result stays exact whatever order
-- the answers arrive in, under faults and within the rate-limit budget, and
-- no request is spent on pages past the end.
--
-- Uses conversations_truth (conversations.sql) and users_truth (users.sql).
\getenv emu_url GC_EMU_URL
\getenv emu_client GC_EMU_CLIENT_ID
\getenv emu_secret GC_EMU_SECRET
SET TimeZone = 'UTC';
CREATE SERVER emu_conc FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', max_retries '3', concurrency '8');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_conc
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
-- small pages, so that a week is 20 to 30 pages: several batches of 8
CREATE FOREIGN TABLE conc_conversations (
  conversation_id uuid, conversation_start timestamptz, conversation_end timestamptz,
  originating_direction text, division_ids uuid[],
  media_stats_min_conversation_mos float8, external_tag text
) SERVER emu_conc OPTIONS (resource 'conversations', page_size '10');
CREATE FOREIGN TABLE conc_users (id uuid, name text, state text)
  SERVER emu_conc OPTIONS (resource 'users', page_size '50');

CREATE FUNCTION conc_diff(lo timestamptz, hi timestamptz,
                          OUT missing bigint, OUT extra bigint) AS $$
  SELECT (SELECT count(*) FROM (
            SELECT * FROM conversations_truth WHERE conversation_start >= lo AND conversation_start < hi
            EXCEPT ALL
            SELECT * FROM conc_conversations WHERE conversation_start >= lo AND conversation_start < hi) a),
         (SELECT count(*) FROM (
            SELECT * FROM conc_conversations WHERE conversation_start >= lo AND conversation_start < hi
            EXCEPT ALL
            SELECT * FROM conversations_truth WHERE conversation_start >= lo AND conversation_start < hi) b)
$$ LANGUAGE sql;

-- EXPLAIN ANALYZE with the (jittered) wait times masked
CREATE FUNCTION conc_explain(query text) RETURNS SETOF text AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
    CONTINUE WHEN line ~ '^\s*Output:';
    RETURN NEXT regexp_replace(line, 'Time: [0-9.]+ s', 'Time: N s');
  END LOOP;
END
$$ LANGUAGE plpgsql;

-- Exact over the whole dataset (three windows), with as many requests as
-- one page at a time: the second run reads with concurrency 1
\! python3 tests/emuctl.py reset
SELECT * FROM conc_diff('2024-03-01', '2024-03-22');
\! python3 tests/emuctl.py log-count --endpoint details
ALTER FOREIGN TABLE conc_conversations OPTIONS (ADD concurrency '1');
\! python3 tests/emuctl.py reset
SELECT * FROM conc_diff('2024-03-01', '2024-03-22');
\! python3 tests/emuctl.py log-count --endpoint details
ALTER FOREIGN TABLE conc_conversations OPTIONS (DROP concurrency);

-- What a week costs: page 1 alone, then the rest 8 at a time
SELECT * FROM conc_explain($$SELECT * FROM conc_conversations
  WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11'$$);

-- Pushed ORDER BY: rows come in order although the pages arrive in any
SELECT count(*) AS rows, count(*) FILTER (WHERE conversation_start > prev) AS out_of_order
  FROM (SELECT conversation_start, lag(conversation_start) OVER () AS prev
          FROM (SELECT conversation_start FROM conc_conversations
                 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22'
                 ORDER BY conversation_start DESC) s) x;
EXPLAIN (COSTS OFF) SELECT conversation_start FROM conc_conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22'
 ORDER BY conversation_start DESC;

-- LIMIT stops early: the pages requested ahead and never read are counted
SELECT * FROM conc_explain($$SELECT * FROM conc_conversations
  WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11' LIMIT 15$$);

-- Faults in the middle of a batch are retried for that page alone
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "details", "kind": "status", "status": 429, "retry_after": 1, "after": 3}'
\! python3 tests/emuctl.py fault '{"endpoint": "details", "kind": "status", "status": 503, "body": "html", "after": 5}'
\! python3 tests/emuctl.py fault '{"endpoint": "details", "kind": "truncate", "after": 12}'
SELECT * FROM conc_diff('2024-03-04', '2024-03-11');
\! python3 tests/emuctl.py log-count --endpoint details --status 429
\! python3 tests/emuctl.py log-count --endpoint details --status 503

-- Results shifting while the scan pages (live traffic): every page after
-- the first starts 3 rows early; each row still comes once
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py settings '{"page_shift": 3}'
SELECT * FROM conc_diff('2024-03-04', '2024-03-11');

-- A revocation hits every page of a batch: one new token, not one per page
\! python3 tests/emuctl.py reset
SELECT count(*) FROM conc_conversations
 WHERE conversation_start >= '2024-03-11' AND conversation_start < '2024-03-12';
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "details", "kind": "revoke", "after": 1}'
SELECT * FROM conc_diff('2024-03-04', '2024-03-11');
\! python3 tests/emuctl.py log-count --endpoint token

-- A rate-limit budget of 10 requests a second: batches shrink to what is
-- left and wait for the window, so no request draws a 429
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py settings '{"rate_limit": 10, "rate_window": 1}'
SELECT * FROM conc_diff('2024-03-04', '2024-03-11');
\! python3 tests/emuctl.py log-count --status 429

-- A statement_timeout while pages are in flight gives them all up; the
-- next query of the session reads exactly again
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py settings '{"latency_ms": 200}'
SET statement_timeout = '700ms';
SELECT count(*) FROM conc_conversations
 WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11';
RESET statement_timeout;
\! python3 tests/emuctl.py settings '{"latency_ms": 0}'
SELECT * FROM conc_diff('2024-03-04', '2024-03-11');

-- A second scan runs while the first keeps 16 pages in flight (a subquery
-- per outer row): the scans share the transfer slots, and the inner one
-- reads on with fewer pages ahead instead of failing
\! python3 tests/emuctl.py reset
ALTER FOREIGN TABLE conc_conversations OPTIONS (ADD concurrency '16');
SELECT count(*) AS outer_rows,
       bool_and(n = (SELECT count(*) FROM conversations_truth t
                      WHERE t.conversation_start >= s.conversation_start
                        AND t.conversation_start < s.conversation_start + interval '1 day'))
         AS inner_counts_exact
  FROM (SELECT a.conversation_start,
               (SELECT count(*) FROM conc_conversations b
                 WHERE b.conversation_start >= a.conversation_start
                   AND b.conversation_start < a.conversation_start + interval '1 day') AS n
          FROM conc_conversations a
         WHERE a.conversation_start >= '2024-03-04' AND a.conversation_start < '2024-03-11'
         LIMIT 12) s;
ALTER FOREIGN TABLE conc_conversations OPTIONS (DROP concurrency);

-- users pages too (600 users in 12 pages of 50)
\! python3 tests/emuctl.py reset
SELECT count(*) AS users,
       (SELECT count(*) FROM (SELECT id, name, state FROM conc_users
                              EXCEPT ALL SELECT id, name, state FROM users_truth) x) AS extra,
       (SELECT count(*) FROM (SELECT id, name, state FROM users_truth
                              EXCEPT ALL SELECT id, name, state FROM conc_users) y) AS missing
  FROM conc_users;
\! python3 tests/emuctl.py log-count --endpoint users
\! python3 tests/emuctl.py reset

-- The option's range
ALTER SERVER emu_conc OPTIONS (SET concurrency '0');
ALTER SERVER emu_conc OPTIONS (SET concurrency '17');
