--
-- The async jobs API: mode 'jobs' and 'auto', data availability, participant
-- attributes, the per-job cap, failed jobs, and jobs deleted on cancel.
--
\getenv emu_url GC_EMU_URL
\getenv emu_client GC_EMU_CLIENT_ID
\getenv emu_secret GC_EMU_SECRET
SET TimeZone = 'UTC';
CREATE SERVER emu_jobs FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', mode 'jobs', jobs_poll_interval '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_jobs
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE SCHEMA gj;
IMPORT FOREIGN SCHEMA genesys FROM SERVER emu_jobs INTO gj;

-- errors with job ids (random) masked
CREATE FUNCTION job_error(query text) RETURNS text AS $$
DECLARE
  st text; msg text; det text;
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
  RETURN regexp_replace(st || ': ' || msg || E'\n' || coalesce(det, ''),
                        '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g');
END
$$ LANGUAGE plpgsql;

-- EXPLAIN shows the jobs request without calling the API
\! python3 tests/emuctl.py reset
EXPLAIN (COSTS OFF) SELECT conversation_id FROM gj.conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-15';
\! python3 tests/emuctl.py log-count

-- A jobs read returns exactly what the details query returns
SELECT count(*) AS rows,
  (SELECT count(*) FROM (
     SELECT conversation_id, conversation_start, conversation_end FROM gj.conversations
      WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-15'
     EXCEPT ALL
     SELECT conversation_id, conversation_start, conversation_end FROM conversations_truth
      WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-15') x) AS extra,
  (SELECT count(*) FROM (
     SELECT conversation_id, conversation_start, conversation_end FROM conversations_truth
      WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-15'
     EXCEPT ALL
     SELECT conversation_id, conversation_start, conversation_end FROM gj.conversations
      WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-15') x) AS missing
  FROM conversations_truth
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-15';
\! python3 tests/emuctl.py reset
SELECT count(*) FROM gj.segments
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-15';
\! python3 tests/emuctl.py log-summary

-- participant attributes come with job results: the same as PostgreSQL
-- unnesting the participants' raw objects
SELECT count(*) > 0 AS has_attributes,
  (SELECT count(*) FROM (
     SELECT conversation_id, participant_id, name, value FROM gj.participant_attributes
      WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-08'
     EXCEPT ALL
     SELECT conversation_id, participant_id, a.key, a.value FROM gj.participants,
            jsonb_each_text(raw->'attributes') a
      WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-08') x) AS extra,
  (SELECT count(*) FROM (
     SELECT conversation_id, participant_id, a.key, a.value FROM gj.participants,
            jsonb_each_text(raw->'attributes') a
      WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-08'
     EXCEPT ALL
     SELECT conversation_id, participant_id, name, value FROM gj.participant_attributes
      WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-08') x) AS missing
  FROM gj.participant_attributes
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-08';

-- Filters travel in the job body
\! python3 tests/emuctl.py reset
SELECT count(*) FROM gj.sessions WHERE media_type = 'chat'
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-15';
SELECT count(*) FROM g.sessions WHERE media_type = 'chat'
   AND conversation_start >= '2024-03-01' AND conversation_start < '2024-03-15';
\! python3 tests/emuctl.py log-json | python3 -c "import json,sys; [print(json.dumps(e['body'], sort_keys=True)) for e in json.load(sys.stdin) if e['method'] == 'POST' and e['path'].endswith('/jobs')]"

-- ORDER BY conversation_start reads through the details query, which sorts
EXPLAIN (COSTS OFF) SELECT conversation_id FROM gj.conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-15'
 ORDER BY conversation_start;

-- mode 'auto': ranges of jobs_min_days or more use jobs, when their size
-- (rows_per_day, or the catalogue's 1000 conversations a day) makes a
-- job's wait worth it
ALTER SERVER emu_jobs OPTIONS (SET mode 'auto', ADD jobs_min_days '10');
\! python3 tests/emuctl.py reset
SELECT count(*) FROM gj.conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-05';
SELECT count(*) FROM gj.conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-12';
\! python3 tests/emuctl.py log-summary
-- a range reaching past the date the jobs' data is complete (2024-03-20):
-- jobs up to that date, the details query after it; every conversation
-- once, and no warning, since nothing is missing
EXPLAIN (COSTS OFF) SELECT conversation_id FROM gj.conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
\! python3 tests/emuctl.py reset
SELECT count(*) AS rows, count(DISTINCT conversation_id) AS distinct_ids,
  (SELECT count(*) FROM conversations_truth
    WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22') AS truth,
  (SELECT count(*) FROM (
     SELECT conversation_id FROM gj.conversations
      WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22'
     EXCEPT
     SELECT conversation_id FROM conversations_truth) x) AS extra
  FROM gj.conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
\! python3 tests/emuctl.py log-summary | uniq -c
-- a range small enough (rows_per_day) is not worth a job's wait: the
-- details query reads it all
ALTER FOREIGN TABLE gj.conversations OPTIONS (ADD rows_per_day '40');
EXPLAIN (COSTS OFF) SELECT conversation_id FROM gj.conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-22';
ALTER FOREIGN TABLE gj.conversations OPTIONS (DROP rows_per_day);
ALTER SERVER emu_jobs OPTIONS (SET mode 'jobs', DROP jobs_min_days);

-- A range past dataAvailabilityDate (2024-03-20): a WARNING naming the
-- date, or with unavailable_data 'error' an ERROR
SELECT count(*) FROM gj.conversations
 WHERE conversation_start >= '2024-03-15' AND conversation_start < '2024-03-22';
ALTER FOREIGN TABLE gj.conversations OPTIONS (ADD unavailable_data 'error');
SELECT count(*) FROM gj.conversations
 WHERE conversation_start >= '2024-03-15' AND conversation_start < '2024-03-22';
ALTER FOREIGN TABLE gj.conversations OPTIONS (DROP unavailable_data);

-- The per-job result cap: the window is split, rows stay exact
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py settings '{"max_job_results": 150}'
SELECT count(*), count(DISTINCT conversation_id) FROM gj.conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-08';
SELECT count(*) FROM conversations_truth
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-08';
\! python3 tests/emuctl.py log-count --method POST --status 400
\! python3 tests/emuctl.py reset

-- A failed job is an error with the API's errorMessage
\! python3 tests/emuctl.py settings '{"job_fail": "Internal analytics failure"}'
SELECT job_error($$SELECT count(*) FROM gj.conversations
  WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-02'$$);
\! python3 tests/emuctl.py log-count --method DELETE
\! python3 tests/emuctl.py reset

-- A query cancelled while its job runs deletes the job
\! python3 tests/emuctl.py settings '{"job_polls": 1000}'
SET statement_timeout = '2s';
SELECT count(*) FROM gj.conversations
 WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-02';
RESET statement_timeout;
\! python3 tests/emuctl.py log-count --method DELETE
\! python3 tests/emuctl.py reset
-- and so does an error caught by a savepoint: the failed subtransaction's
-- job is deleted, the transaction goes on
\! python3 tests/emuctl.py settings '{"job_polls": 1000}'
\! python3 tests/emuctl.py fault '{"endpoint": "jobs", "kind": "malformed", "after": 3}'
BEGIN;
SELECT job_error($$SELECT count(*) FROM gj.conversations
  WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-03-02'$$);
\! python3 tests/emuctl.py log-summary
SELECT 1 AS still_in_transaction;
COMMIT;
\! python3 tests/emuctl.py reset
