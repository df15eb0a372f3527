--
-- Errors: each failure a user can meet, with SQLSTATE, message, detail and
-- hint.  show_error() runs a query and prints its error; correlation ids
-- (random per response) are masked.
--
\getenv emu_url GC_EMU_URL
\getenv emu_client GC_EMU_CLIENT_ID
\getenv emu_secret GC_EMU_SECRET
SET TimeZone = 'UTC';
CREATE FUNCTION show_error(query text) RETURNS void AS $$
DECLARE
  st text; msg text; det text; hnt text; ctx text;
BEGIN
  EXECUTE query;
  RAISE NOTICE 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
    det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
  RAISE NOTICE E'SQLSTATE %\nmessage: %\ndetail: %\nhint: %\ncontext: %', st, msg,
    regexp_replace(regexp_replace(det, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
                                  '<correlation-id>', 'g'), 'after [0-9]+ ms', 'after N ms'),
    hnt, substring(ctx from 'column .*\)');
END
$$ LANGUAGE plpgsql;

-- Wrong client secret: the token endpoint's OAuth error, no secret echoed
CREATE SERVER emu_badauth FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_badauth
  OPTIONS (client_id :'emu_client', client_secret 'wrong-secret');
CREATE FOREIGN TABLE users_badauth (id uuid) SERVER emu_badauth OPTIONS (resource 'users');
SELECT show_error('SELECT * FROM users_badauth');

-- No user mapping at all
CREATE SERVER emu_nomap FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url :'emu_url', login_url :'emu_url');
CREATE FOREIGN TABLE users_nomap (id uuid) SERVER emu_nomap OPTIONS (resource 'users');
SELECT show_error('SELECT * FROM users_nomap');

-- Nothing listening: a connection error after the configured retries
CREATE SERVER emu_down FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url 'http://127.0.0.1:9', login_url 'http://127.0.0.1:9', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_down
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE FOREIGN TABLE users_down (id uuid) SERVER emu_down OPTIONS (resource 'users');
SELECT show_error('SELECT * FROM users_down');

-- A 4xx is not retried: the API's own message and code are shown
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "status", "status": 403}'
SELECT show_error('SELECT count(*) FROM users');
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "status", "status": 404}'
SELECT show_error('SELECT count(*) FROM users');
\! python3 tests/emuctl.py log-summary

-- The API's deep-paging cap: windows are split at UTC midnights (see
-- faults), but a single UTC day over the cap cannot be split: an error,
-- never a truncated result
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py settings '{"max_results": 50}'
SELECT show_error($$SELECT count(*) FROM conversations
  WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-08'$$);
\! python3 tests/emuctl.py log-intervals
\! python3 tests/emuctl.py reset
-- other 400s are reported as the API words them
\! python3 tests/emuctl.py fault '{"endpoint": "details", "kind": "status", "status": 400, "code": "invalid.date", "message": "Invalid interval: start must be before end"}'
SELECT show_error($$SELECT count(*) FROM conversations
  WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-02'$$);
\! python3 tests/emuctl.py reset

-- 5xx: retried max_retries (2) times, then the status and the start of the
-- gateway's HTML page
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "status", "status": 502, "body": "html", "count": 3}'
SELECT show_error('SELECT count(*) FROM users');
\! python3 tests/emuctl.py log-summary
\! python3 tests/emuctl.py reset

-- 429 asking for a longer wait than max_retry_after: no wait, an error
ALTER SERVER emu OPTIONS (ADD max_retry_after '5');
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "status", "status": 429, "retry_after": "120"}'
SELECT show_error('SELECT count(*) FROM users');
ALTER SERVER emu OPTIONS (DROP max_retry_after);
\! python3 tests/emuctl.py reset

-- Malformed JSON: a clear error, and the session carries on
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "malformed"}'
SELECT show_error('SELECT count(*) FROM users');
SELECT count(*) FROM users;
\! python3 tests/emuctl.py reset

-- A value that does not convert names the table, column, JSON key and row
CREATE FOREIGN TABLE conversations_badtype (
  conversation_id uuid, conversation_start timestamptz,
  direction integer OPTIONS (key 'originatingDirection')
) SERVER emu OPTIONS (resource 'conversations');
SELECT show_error($$SELECT * FROM conversations_badtype
  WHERE conversation_start >= '2024-03-03' AND conversation_start < '2024-03-04'$$);
CREATE FOREIGN TABLE conversations_badarray (
  conversation_start timestamptz,
  tag text[] OPTIONS (key 'conversationStart')
) SERVER emu OPTIONS (resource 'conversations');
SELECT show_error($$SELECT * FROM conversations_badarray
  WHERE conversation_start >= '2024-03-03' AND conversation_start < '2024-03-04'$$);
-- and the session is still usable
SELECT count(*) > 0 AS alive FROM conversations
 WHERE conversation_start >= '2024-03-03' AND conversation_start < '2024-03-04';
