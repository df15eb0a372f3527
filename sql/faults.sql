--
-- Faults the scan recovers from: the result stays exact and the emulator's
-- request log shows what was retried, waited for or re-authenticated.
--
\getenv emu_url GC_EMU_URL
\getenv emu_client GC_EMU_CLIENT_ID
\getenv emu_secret GC_EMU_SECRET
SET TimeZone = 'UTC';
-- EXPLAIN ANALYZE with the (jittered) wait times masked
CREATE FUNCTION explain_analyze(query text) RETURNS SETOF text AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
    RETURN NEXT regexp_replace(line, 'Time: [0-9.]+ s', 'Time: N s');
  END LOOP;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION users_exact() RETURNS text AS $$
  SELECT CASE WHEN (SELECT count(*) FROM (SELECT id, name, state FROM users
                                          EXCEPT ALL SELECT id, name, state FROM users_truth) x) = 0
               AND (SELECT count(*) FROM (SELECT id, name, state FROM users_truth
                                          EXCEPT ALL SELECT id, name, state FROM users) y) = 0
              THEN 'exact' ELSE 'DIFFERENT' END
$$ LANGUAGE sql;

-- Results that shift while the scan pages (live traffic): after page 1 is
-- read, 3 rows move earlier in the order, so page 2 starts with the last 3
-- rows of page 1 again; each row is still returned exactly once.  Rows
-- pushed forward mean rows may have been inserted before the page being
-- read, so the window is read once more: that pass returns nothing new and
-- totalHits stays the same, so the window is complete (Windows Read Again)
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py settings '{"page_shift": 3}'
SELECT * FROM diff_with_truth('2024-03-06', '2024-03-13');
SELECT explain_analyze($$SELECT * FROM conversations
  WHERE conversation_start >= '2024-03-06' AND conversation_start < '2024-03-13'$$);
\! python3 tests/emuctl.py reset

-- The deep-paging cap (150 here, 100000 in Genesys): windows that hold
-- more are split at UTC midnights and read again; rows returned before a
-- split are not returned twice
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py settings '{"max_results": 150}'
SELECT * FROM diff_with_truth('2024-03-04', '2024-03-11');
\! python3 tests/emuctl.py log-intervals
SELECT explain_analyze($$SELECT * FROM conversations
  WHERE conversation_start >= '2024-03-04' AND conversation_start < '2024-03-11'
  ORDER BY conversation_start DESC$$);
\! python3 tests/emuctl.py reset

-- A 500 with a JSON body, then success
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "status", "status": 500, "after": 1}'
SELECT users_exact();
\! python3 tests/emuctl.py log-summary

-- A 503 with an HTML gateway page, then success
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "details", "kind": "status", "status": 503, "body": "html"}'
SELECT * FROM diff_with_truth('2024-03-05', '2024-03-07');
\! python3 tests/emuctl.py log-summary

-- The connection dropped in the middle of a body, then success
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "truncate"}'
SELECT users_exact();
\! python3 tests/emuctl.py log-summary

-- 429 with Retry-After: 1 is waited out (the gap before the retry is >= 1 s)
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "status", "status": 429, "retry_after": "1", "after": 1}'
SELECT users_exact();
\! python3 tests/emuctl.py log-summary
\! python3 tests/emuctl.py waits

-- 429 without Retry-After: exponential backoff, then success
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "status", "status": 429}'
SELECT users_exact();
\! python3 tests/emuctl.py log-summary

-- 429 on every try: gives up after max_retries (2) with the attempts and wait
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "status", "status": 429, "retry_after": "1", "count": 10}'
SELECT show_error('SELECT count(*) FROM users');
\! python3 tests/emuctl.py log-count --endpoint users --status 429
\! python3 tests/emuctl.py reset

-- The token revoked mid-scan: one 401, one new token, the same request
-- retried, rows exact, and never a refresh grant
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "revoke", "after": 1}'
SELECT users_exact();
\! python3 tests/emuctl.py log-summary
\! python3 tests/emuctl.py log-count --endpoint token
\! python3 tests/emuctl.py log-count --grant refresh_token

-- Two 401s in a row (a fresh token revoked too) still succeed ...
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "status", "status": 401, "count": 2}'
SELECT count(*) FROM users;
\! python3 tests/emuctl.py log-count --endpoint token
-- ... three are an authentication error (SQLSTATE 28000)
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "status", "status": 401, "count": 3}'
SELECT show_error('SELECT count(*) FROM users');
\! python3 tests/emuctl.py log-summary
\! python3 tests/emuctl.py reset

-- Altering the user mapping drops the cached token (the next scan
-- authenticates again); an unrelated scan keeps using it
SELECT count(*) > 0 FROM users WHERE state = 'deleted';
\! python3 tests/emuctl.py reset
SELECT count(*) > 0 FROM users WHERE state = 'deleted';
\! python3 tests/emuctl.py log-count --endpoint token
ALTER USER MAPPING FOR CURRENT_USER SERVER emu OPTIONS (SET client_id :'emu_client');
SELECT count(*) > 0 FROM users WHERE state = 'deleted';
\! python3 tests/emuctl.py log-count --endpoint token
ALTER SERVER emu OPTIONS (SET max_retries '2');
SELECT count(*) > 0 FROM users WHERE state = 'deleted';
\! python3 tests/emuctl.py log-count --endpoint token

-- EXPLAIN ANALYZE counts the re-authentication and the retries
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '[{"endpoint": "users", "kind": "revoke", "after": 1}, {"endpoint": "users", "kind": "status", "status": 500, "after": 1}]'
SELECT explain_analyze('SELECT count(*) FROM users');
\! python3 tests/emuctl.py reset
