--
-- The page parser (src/json_parse.c): what a result page's JSON becomes.
-- The emulator's splice fault puts raw text, JSON or not, into the first
-- user of the first page (field emuSplice) or into a conversation.  Bytes
-- are shown hex-encoded, so that the database encoding does not matter.
--
-- Uses conversations_truth (conversations.sql).
\getenv emu_url GC_EMU_URL
\getenv emu_client GC_EMU_CLIENT_ID
\getenv emu_secret GC_EMU_SECRET
SET TimeZone = 'UTC';
CREATE SERVER emu_json FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', concurrency '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_json
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE FOREIGN TABLE json_users (
  id uuid,
  s text OPTIONS (key 'emuSplice'),
  j json OPTIONS (key 'emuSplice'),
  jb jsonb OPTIONS (key 'emuSplice'),
  a text OPTIONS (key 'emuSplice.a'),
  nums numeric[] OPTIONS (key 'emuSplice')
) SERVER emu_json OPTIONS (resource 'users');
CREATE FUNCTION json_error(query text) RETURNS void AS $$
DECLARE
  st text; msg text; det text; ctx text;
BEGIN
  EXECUTE query;
  RAISE NOTICE 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
    det = PG_EXCEPTION_DETAIL, ctx = PG_EXCEPTION_CONTEXT;
  RAISE NOTICE E'SQLSTATE %\nmessage: %\ndetail: %\ncontext: %', st, msg, det,
    regexp_replace(substring(ctx from 'column .*\)'), '"[0-9a-f-]{36}"', '"<id>"');
END
$$ LANGUAGE plpgsql;
\! python3 tests/emuctl.py reset

-- Escapes: \" \\ \/ \t \n, \u escapes to UTF-8, a surrogate pair to one
-- character, an unpaired surrogate to U+FFFD (efbfbd), as json-c read them
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "\"q\\\" bs\\\\ sl\\/ tab\\t nl\\n e\\u00e9 pair\\ud83d\\ude00 lone\\ud800 low\\udc00x end\""}'
SELECT encode(convert_to(s, 'UTF8'), 'hex') AS text_bytes,
       encode(convert_to(j::text, 'UTF8'), 'hex') AS json_bytes,
       j::jsonb = jb AS jsonb_agrees
  FROM json_users WHERE s IS NOT NULL;
-- the same bytes, spelled out
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "\"q\\\" bs\\\\ sl\\/ tab\\t nl\\n e\\u00e9 pair\\ud83d\\ude00 lone\\ud800 low\\udc00x end\""}'
SELECT convert_to(E'q" bs\\ sl/ tab\t nl\n e', 'UTF8') || '\xc3a9'::bytea
       || convert_to(' pair', 'UTF8') || '\xf09f9880'::bytea
       || convert_to(' lone', 'UTF8') || '\xefbfbd'::bytea
       || convert_to(' low', 'UTF8') || '\xefbfbd'::bytea || convert_to('x end', 'UTF8')
       = (SELECT convert_to(s, 'UTF8') FROM json_users WHERE s IS NOT NULL) AS same_text;

-- Numbers keep the digits sent (json), are numerics in jsonb (1e400 too,
-- which a double cannot hold), and read into numeric[] by numeric_in
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "[0, -0, 1.50, -12.5E-3, 1e400, 12345678901234567890123, true, false, null, \"7\"]"}'
SELECT j::text, (jb->>4)::numeric = 1e400 AS big, jsonb_typeof(jb->9) AS quoted
  FROM json_users WHERE j IS NOT NULL;
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "[1.50, -0, 2E+2, null]"}'
SELECT nums FROM json_users WHERE nums IS NOT NULL;

-- A name given twice: the last wins (as in jsonb); json keeps the text
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "{\"a\": 1, \"b\": {\"c\": []}, \"a\": \"last\"}"}'
SELECT a, j::text, jb::text FROM json_users WHERE j IS NOT NULL;

-- \u0000: PostgreSQL text cannot hold it (22P05, as ->> on json); a json
-- column keeps the escape
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "\"a\\u0000b\""}'
SELECT j::text FROM json_users WHERE j IS NOT NULL;
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "\"a\\u0000b\""}'
SELECT json_error('SELECT s FROM json_users WHERE s IS NOT NULL');
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "\"a\\u0000b\""}'
SELECT json_error('SELECT jb FROM json_users WHERE jb IS NOT NULL');

-- Nesting: 32 levels are read (page, entities, user and 29 arrays), 33 are
-- refused without recursing further
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"}'
SELECT length(j::text) FROM json_users WHERE j IS NOT NULL;
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"}'
SELECT json_error('SELECT count(*) FROM json_users');

-- Malformed pages: HV00K, with the reason and where (no body text quoted);
-- numbers and literals follow JSON's grammar (01, 1., NaN, tru are refused)
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "01"}'
SELECT json_error('SELECT count(*) FROM json_users');
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "1."}'
SELECT json_error('SELECT count(*) FROM json_users');
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "NaN"}'
SELECT json_error('SELECT count(*) FROM json_users');
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "\"\\x\""}'
SELECT json_error('SELECT count(*) FROM json_users');
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "\"\\u12G4\""}'
SELECT json_error('SELECT count(*) FROM json_users');
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "[1 2]"}'
SELECT json_error('SELECT count(*) FROM json_users');
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "{\"a\" 1}"}'
SELECT json_error('SELECT count(*) FROM json_users');
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "{a: 1}"}'
SELECT json_error('SELECT count(*) FROM json_users');
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "tru"}'
SELECT json_error('SELECT count(*) FROM json_users');
\! python3 tests/emuctl.py fault '{"endpoint": "users", "kind": "splice", "text": "\"a\u0000b\""}'
SELECT json_error('SELECT count(*) FROM json_users');
-- and the session goes on
SELECT count(*) FROM json_users;

-- Attributes are an object read as rows: one row per name, the last value
SELECT conversation_id AS conv FROM conversations_truth ORDER BY conversation_start LIMIT 1 \gset
IMPORT FOREIGN SCHEMA genesys LIMIT TO (participant_attributes) FROM SERVER emu_json INTO public;
\! python3 tests/emuctl.py fault '{"endpoint": "details", "kind": "splice", "field": "participants", "text": "[{\"participantId\": \"0e5c2d7f-4a1b-4c3d-9e8f-0a1b2c3d4e5f\", \"purpose\": \"customer\", \"attributes\": {\"k\": \"1\", \"j\": \"2\", \"k\": \"3\"}}]"}'
SELECT participant_id, name, value FROM participant_attributes WHERE conversation_id = :'conv';
-- more than 32 names (an index instead of a scan per member): the same rule
\! python3 tests/emuctl.py fault '{"endpoint": "details", "kind": "splice", "field": "participants", "text": "[{\"participantId\": \"0e5c2d7f-4a1b-4c3d-9e8f-0a1b2c3d4e5f\", \"purpose\": \"customer\", \"attributes\": {\"a0\": \"0\", \"a1\": \"1\", \"a2\": \"2\", \"a3\": \"3\", \"a4\": \"4\", \"a5\": \"5\", \"a6\": \"6\", \"a7\": \"7\", \"a8\": \"8\", \"a9\": \"9\", \"a10\": \"10\", \"a11\": \"11\", \"a12\": \"12\", \"a13\": \"13\", \"a14\": \"14\", \"a15\": \"15\", \"a16\": \"16\", \"a17\": \"17\", \"a18\": \"18\", \"a19\": \"19\", \"a20\": \"20\", \"a21\": \"21\", \"a22\": \"22\", \"a23\": \"23\", \"a24\": \"24\", \"a25\": \"25\", \"a26\": \"26\", \"a27\": \"27\", \"a28\": \"28\", \"a29\": \"29\", \"a30\": \"30\", \"a31\": \"31\", \"a32\": \"32\", \"a33\": \"33\", \"a34\": \"34\", \"a1\": \"x1\", \"a2\": \"x2\"}}]"}'
SELECT count(*), count(DISTINCT name),
       string_agg(name || '=' || value, ',' ORDER BY name) FILTER (WHERE name IN ('a0', 'a1', 'a2', 'a34')) AS some
  FROM participant_attributes WHERE conversation_id = :'conv';
\! python3 tests/emuctl.py reset
