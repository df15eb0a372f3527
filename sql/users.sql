--
-- users: GET /api/v2/users against the emulator's known directory
--
-- The emulator's URL and the test credentials come from the environment, so
-- no secret is ever written in this file or echoed into its output.
\getenv emu_url GC_EMU_URL
\getenv emu_client GC_EMU_CLIENT_ID
\getenv emu_secret GC_EMU_SECRET
-- One page at a time (concurrency 1): the request logs printed by these
-- tests show the order pages are asked for.  concurrency.sql tests pages
-- requested several at a time.
CREATE SERVER emu FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', max_retries '2', concurrency '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');

CREATE FOREIGN TABLE users (
  id uuid, name text, email text, username text, state text, title text,
  department text, division_id uuid, division_name text, manager_id uuid,
  version integer, acd_auto_answer boolean, date_last_login timestamptz,
  raw jsonb OPTIONS (key '.')
) SERVER emu OPTIONS (resource 'users');

-- The emulator's own copy of its directory, to compare against
CREATE TABLE users_truth (
  id uuid, name text, email text, username text, state text, title text,
  department text, division_id uuid, division_name text, manager_id uuid,
  version integer, acd_auto_answer boolean, date_last_login timestamptz);
\copy users_truth FROM PROGRAM 'python3 tests/emuctl.py csv users' CSV HEADER
SELECT state, count(*) FROM users_truth GROUP BY state ORDER BY state;

-- Every state is read (state=any), in pages of 500 until nextUri is gone
\! python3 tests/emuctl.py reset
SELECT state, count(*) FROM users GROUP BY state ORDER BY state;
\! python3 tests/emuctl.py log-summary

-- Exactly the emulator's rows, every column, nothing lost or duplicated
SELECT count(*) AS missing FROM (
  SELECT id, name, email, username, state, title, department, division_id,
         division_name, manager_id, version, acd_auto_answer, date_last_login
    FROM users_truth
  EXCEPT ALL
  SELECT id, name, email, username, state, title, department, division_id,
         division_name, manager_id, version, acd_auto_answer, date_last_login
    FROM users) m;
SELECT count(*) AS extra FROM (
  SELECT id, name, email, username, state, title, department, division_id,
         division_name, manager_id, version, acd_auto_answer, date_last_login
    FROM users
  EXCEPT ALL
  SELECT id, name, email, username, state, title, department, division_id,
         division_name, manager_id, version, acd_auto_answer, date_last_login
    FROM users_truth) e;

-- WHERE state = '...' is sent to the API; other states never leave Genesys
\! python3 tests/emuctl.py reset
SELECT count(*) FROM users WHERE state = 'inactive';
SELECT count(*) FROM users WHERE 'deleted' = state;
\! python3 tests/emuctl.py log-summary
-- a state Genesys Cloud does not use (states are lower case) can match no
-- row: nothing is sent, and a NOTICE names the valid values
\! python3 tests/emuctl.py reset
SELECT count(*) FROM users WHERE state = 'ACTIVE';
\! python3 tests/emuctl.py log-summary
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM users WHERE state = 'active';

-- dateLastLogin is expanded only when a column needs it (count(*) needs none)
\! python3 tests/emuctl.py reset
SELECT count(*) FROM users WHERE date_last_login IS NOT NULL;
SELECT count(name) FROM users;
SELECT count(*) FROM users;
\! python3 tests/emuctl.py log-summary

-- Unicode, quotes and backslashes come through unchanged
SELECT count(*) FROM users u JOIN users_truth t USING (id)
 WHERE u.name = t.name AND (u.name ~ '[^\x01-\x7f]' OR u.name ~ '[''"\\]');
SELECT name FROM users WHERE name ~ '[\\"🎧王]' ORDER BY name COLLATE "C" LIMIT 6;

-- The whole object as jsonb, and a dotted key
SELECT raw->>'id' = id::text AS same_id, raw->'division'->>'id' = division_id::text AS same_division
  FROM users WHERE state = 'active' ORDER BY id LIMIT 1;
CREATE FOREIGN TABLE users_custom (
  user_key text OPTIONS (key 'id'),
  division text OPTIONS (key 'division.name'),
  missing text OPTIONS (key 'no.such.field'),
  chat_id text OPTIONS (key 'chat.jabberId'),
  contact jsonb OPTIONS (key 'primaryContactInfo'),
  version_big bigint OPTIONS (key 'version'),
  version_num numeric(10,2) OPTIONS (key 'version'),
  auto_answer_text text OPTIONS (key 'acdAutoAnswer')
) SERVER emu OPTIONS (resource 'users', page_size '100');
SELECT count(*), count(DISTINCT user_key), count(missing), count(division),
       bool_and(jsonb_typeof(contact) = 'array') FILTER (WHERE contact IS NOT NULL),
       sum(version_big) = (SELECT sum(version) FROM users_truth) AS bigint_ok,
       bool_and(version_num = version_big AND scale(version_num) = 2) AS numeric_ok,
       string_agg(DISTINCT auto_answer_text, ',' ORDER BY auto_answer_text) AS bool_as_text
  FROM users_custom;

-- Timestamps are exact to the millisecond whatever TimeZone and DateStyle say
SET TimeZone = 'Asia/Kolkata';
SET DateStyle = 'SQL, DMY';
SELECT count(*) AS mismatched FROM users u JOIN users_truth t USING (id)
 WHERE u.date_last_login IS DISTINCT FROM t.date_last_login;
SELECT to_char(date_last_login AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') = raw->>'dateLastLogin' AS exact
  FROM users WHERE date_last_login IS NOT NULL ORDER BY id LIMIT 3;
RESET TimeZone;
RESET DateStyle;
