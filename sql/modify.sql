--
-- UPDATE on users: one PATCH /api/v2/users/{userId} per changed user, with
-- the version read by the same statement; conflicts (409), on_conflict
-- 'retry', RETURNING, and the statements gc_fdw refuses before sending.
--
SET TimeZone = 'UTC';
\! python3 tests/emuctl.py reset
CREATE SCHEMA m;
IMPORT FOREIGN SCHEMA genesys LIMIT TO (users, segments) FROM SERVER emu INTO m;
-- errors with the correlation id (random) masked
CREATE FUNCTION try(statement text) RETURNS text AS $$
BEGIN
  EXECUTE statement;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  DECLARE
    state text; msg text; detail text; hint text;
  BEGIN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN state || ': ' || msg || E'\nDETAIL: ' ||
           regexp_replace(detail, 'correlation id [0-9a-f-]+', 'correlation id <id>', 'g') ||
           E'\nHINT: ' || hint;
  END;
END
$$ LANGUAGE plpgsql;
CREATE VIEW three AS
  SELECT id FROM m.users WHERE state = 'active' ORDER BY name LIMIT 3;

-- what is sent: only the columns being set, and only when they change
EXPLAIN (VERBOSE, COSTS OFF)
UPDATE m.users SET title = 'Team Lead', department = NULL WHERE id IN (SELECT id FROM three);
SELECT name, title, department, version FROM m.users WHERE id IN (SELECT id FROM three) ORDER BY name;
UPDATE m.users SET title = 'Team Lead', department = NULL WHERE id IN (SELECT id FROM three)
RETURNING name, title, department, version;
\! python3 tests/emuctl.py log-patches
-- setting the values they already have sends nothing; RETURNING still works
\! python3 tests/emuctl.py reset
UPDATE m.users SET title = title, acd_auto_answer = acd_auto_answer
 WHERE id IN (SELECT id FROM three) RETURNING name, version;
\! python3 tests/emuctl.py log-patches
-- a manager (manager.id) and a boolean; EXPLAIN ANALYZE counts the requests
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
UPDATE m.users u SET manager_id = (SELECT id FROM three LIMIT 1), acd_auto_answer = NOT acd_auto_answer
 WHERE u.id IN (SELECT id FROM three OFFSET 1);
SELECT count(*) FILTER (WHERE manager_id = (SELECT id FROM three LIMIT 1)) AS managed
  FROM m.users WHERE id IN (SELECT id FROM three OFFSET 1);

-- a user changed since the statement read it: 409 is an error naming both versions
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py settings '{"patch_conflict_every": 2}'
SELECT try($$UPDATE m.users SET title = 'Changed here' WHERE id IN (SELECT id FROM three)$$);
\! python3 tests/emuctl.py log-patches
-- on_conflict 'retry': re-read once; retried when the columns being set did not change
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "users", "method": "PATCH", "status": 409, "count": 1}'
ALTER FOREIGN TABLE m.users OPTIONS (ADD on_conflict 'retry');
UPDATE m.users SET department = 'Retried' WHERE id = (SELECT id FROM three LIMIT 1)
RETURNING name, department, version;
\! python3 tests/emuctl.py log-patches
-- ... and not retried when they did (the emulator changes the title remotely)
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py settings '{"patch_conflict_every": 1}'
SELECT try($$UPDATE m.users SET title = 'Mine' WHERE id = (SELECT id FROM three LIMIT 1)$$);
-- ... and retried only once
SELECT try($$UPDATE m.users SET department = 'Mine' WHERE id = (SELECT id FROM three LIMIT 1)$$);
\! python3 tests/emuctl.py log-patches
ALTER FOREIGN TABLE m.users OPTIONS (DROP on_conflict);
ALTER FOREIGN TABLE m.users OPTIONS (ADD on_conflict 'sometimes');

-- an answer lost after the PATCH was applied: the transport repeats it, the
-- repeat gets 409, and reading the user back shows the first one landed
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "users", "method": "PATCH", "kind": "truncate", "count": 1}'
UPDATE m.users SET title = 'Applied once' WHERE id = (SELECT id FROM three LIMIT 1)
RETURNING name, title, version;
\! python3 tests/emuctl.py log-patches

-- the API is not transactional: a rollback warns that the updates stay
\! python3 tests/emuctl.py reset
BEGIN;
UPDATE m.users SET title = 'Rolled back?' WHERE id IN (SELECT id FROM three);
ROLLBACK;
SELECT name, title FROM m.users WHERE id IN (SELECT id FROM three) ORDER BY name;
-- a failure part-way says how many users were already updated
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "users", "method": "PATCH", "status": 403, "after": 2}'
SELECT try($$UPDATE m.users SET title = 'Part way' WHERE id IN (SELECT id FROM three)$$);

-- a generated column is computed locally and never sent, even when its key
-- is writable (it once crashed the backend)
\! python3 tests/emuctl.py reset
CREATE FOREIGN TABLE m.users_gen (id uuid, version integer, name text,
  dept_shout text OPTIONS (key 'department') GENERATED ALWAYS AS (upper(name)) STORED)
  SERVER emu OPTIONS (resource 'users');
EXPLAIN (VERBOSE, COSTS OFF) UPDATE m.users_gen SET name = name || ' Jr';
UPDATE m.users_gen SET name = name || ' Jr' WHERE id = (SELECT id FROM three LIMIT 1)
RETURNING name, dept_shout;
\! python3 tests/emuctl.py log-patches

-- refused before anything is sent
\! python3 tests/emuctl.py reset
UPDATE m.users SET division_id = NULL;
UPDATE m.users SET version = 1;
UPDATE m.users SET name = NULL WHERE id IN (SELECT id FROM three);
INSERT INTO m.users (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'New');
DELETE FROM m.users WHERE state = 'deleted';
UPDATE m.segments SET wrap_up_code = 'x';
DELETE FROM m.segments;
-- every table but users, the directory included, is read-only
CREATE FOREIGN TABLE m.queues (id uuid, name text) SERVER emu OPTIONS (resource 'queues');
UPDATE m.queues SET name = 'Renamed';
DROP FOREIGN TABLE m.queues;
CREATE FOREIGN TABLE m.users_no_version (id uuid, title text) SERVER emu OPTIONS (resource 'users');
UPDATE m.users_no_version SET title = 'x';
\! python3 tests/emuctl.py log-patches
