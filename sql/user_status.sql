--
-- The users' status history: user_presence and user_routing_status, from
-- the analytics user details query (and its jobs), compared with the
-- emulator's truth.  A record is (user_id, start_time); the API returns
-- every record that overlaps a window, unclipped, so one record comes back
-- from every window it touches: each is kept only where its start falls.
--
\getenv emu_url GC_EMU_URL
\getenv emu_client GC_EMU_CLIENT_ID
\getenv emu_secret GC_EMU_SECRET
CREATE SERVER emu_us FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', max_retries '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_us
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE SCHEMA us;
IMPORT FOREIGN SCHEMA genesys LIMIT TO (user_presence, user_routing_status, users)
  FROM SERVER emu_us INTO us;
SET TimeZone = 'UTC';

CREATE TABLE presence_truth (user_id uuid, start_time timestamptz, end_time timestamptz,
  system_presence text, organization_presence_id uuid);
\copy presence_truth FROM PROGRAM 'python3 tests/emuctl.py csv user_presence' CSV HEADER
CREATE TABLE routing_truth (user_id uuid, start_time timestamptz, end_time timestamptz,
  routing_status text);
\copy routing_truth FROM PROGRAM 'python3 tests/emuctl.py csv user_routing_status' CSV HEADER
SELECT (SELECT count(*) FROM presence_truth) AS presence_records,
       (SELECT count(*) FROM routing_truth) AS routing_records,
       (SELECT count(*) FROM presence_truth WHERE end_time IS NULL) AS open_presence;

-- exact: the records that start in [lo, hi), every column, both ways
CREATE FUNCTION status_exact(lo timestamptz, hi timestamptz) RETURNS TABLE (t text, n bigint, missing bigint, extra bigint)
LANGUAGE sql AS $$
  SELECT 'user_presence', (SELECT count(*) FROM us.user_presence WHERE start_time >= lo AND start_time < hi),
    (SELECT count(*) FROM (SELECT user_id, start_time, end_time, system_presence, organization_presence_id
       FROM presence_truth WHERE start_time >= lo AND start_time < hi
     EXCEPT ALL SELECT user_id, start_time, end_time, system_presence, organization_presence_id
       FROM us.user_presence WHERE start_time >= lo AND start_time < hi) x),
    (SELECT count(*) FROM (SELECT user_id, start_time, end_time, system_presence, organization_presence_id
       FROM us.user_presence WHERE start_time >= lo AND start_time < hi
     EXCEPT ALL SELECT user_id, start_time, end_time, system_presence, organization_presence_id
       FROM presence_truth WHERE start_time >= lo AND start_time < hi) x)
  UNION ALL
  SELECT 'user_routing_status', (SELECT count(*) FROM us.user_routing_status WHERE start_time >= lo AND start_time < hi),
    (SELECT count(*) FROM (SELECT user_id, start_time, end_time, routing_status
       FROM routing_truth WHERE start_time >= lo AND start_time < hi
     EXCEPT ALL SELECT user_id, start_time, end_time, routing_status
       FROM us.user_routing_status WHERE start_time >= lo AND start_time < hi) x),
    (SELECT count(*) FROM (SELECT user_id, start_time, end_time, routing_status
       FROM us.user_routing_status WHERE start_time >= lo AND start_time < hi
     EXCEPT ALL SELECT user_id, start_time, end_time, routing_status
       FROM routing_truth WHERE start_time >= lo AND start_time < hi) x)
$$;

-- Two weeks, across the 7-day window edge of 2024-03-15 and the records
-- that cross it, in windows of 7 days; then a day in pages of 10 users
\! python3 tests/emuctl.py reset
SELECT * FROM status_exact('2024-03-08', '2024-03-22');
\! python3 tests/emuctl.py log-intervals --endpoint userdetails | sort | uniq -c | sort -k2 | head -4
ALTER FOREIGN TABLE us.user_presence OPTIONS (ADD page_size '10');
ALTER FOREIGN TABLE us.user_routing_status OPTIONS (ADD page_size '10');
\! python3 tests/emuctl.py reset
SELECT * FROM status_exact('2024-03-11 06:00', '2024-03-12 06:00');
-- paging stops on an empty page only: the API's pages are short now and then
\! python3 tests/emuctl.py log-intervals --endpoint userdetails | tail -2
EXPLAIN (COSTS OFF) SELECT * FROM us.user_routing_status
 WHERE start_time >= '2024-03-11' AND start_time < '2024-03-25';

-- A scan with no bounds on start_time is refused, and its hint says how to
-- ask for the records in progress at a time
SELECT count(*) FROM us.user_presence WHERE start_time >= '2024-03-11';

-- Who was in which state at a time: the records that began at or before
-- it and had not ended (or are still open); the request's interval starts
-- at that time, and the API returns the records overlapping it
EXPLAIN (VERBOSE, COSTS OFF)
SELECT user_id, system_presence FROM us.user_presence
 WHERE start_time <= '2024-03-12 14:30' AND (end_time > '2024-03-12 14:30' OR end_time IS NULL);
\! python3 tests/emuctl.py reset
SELECT (SELECT count(*) FROM us.user_presence
         WHERE start_time <= '2024-03-12 14:30' AND (end_time > '2024-03-12 14:30' OR end_time IS NULL)) AS in_state,
       (SELECT count(*) FROM presence_truth
         WHERE start_time <= '2024-03-12 14:30' AND (end_time > '2024-03-12 14:30' OR end_time IS NULL)) AS truth,
       (SELECT count(DISTINCT user_id) FROM presence_truth
         WHERE start_time <= '2024-03-12 14:30' AND (end_time > '2024-03-12 14:30' OR end_time IS NULL)) AS users;
\! python3 tests/emuctl.py log-intervals --endpoint userdetails | head -1
-- the records still open: those overlapping the last hour and not ended
SELECT count(*) AS open_now,
       count(*) = (SELECT count(*) FROM routing_truth
                    WHERE start_time < '2024-03-22' AND end_time IS NULL) AS exact
  FROM us.user_routing_status WHERE start_time < '2024-03-22'
   AND (end_time > '2024-03-21 23:00' OR end_time IS NULL) AND end_time IS NULL;

-- Pushdown: user ids to userFilters, presences to presenceFilters,
-- routing statuses to routingStatusFilters (rechecked here: the API's
-- filters keep matching records of their kind)
SELECT user_id AS agent FROM routing_truth GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1 \gset
\! python3 tests/emuctl.py reset
SELECT count(*) = (SELECT count(*) FROM routing_truth WHERE user_id = :'agent'
                    AND start_time >= '2024-03-11' AND start_time < '2024-03-18'
                    AND routing_status IN ('INTERACTING', 'COMMUNICATING')) AS exact
  FROM us.user_routing_status WHERE user_id = :'agent' AND routing_status IN ('INTERACTING', 'COMMUNICATING')
   AND start_time >= '2024-03-11' AND start_time < '2024-03-18';
SELECT count(*) = (SELECT count(*) FROM presence_truth WHERE system_presence = 'MEAL'
                    AND start_time >= '2024-03-11' AND start_time < '2024-03-18') AS exact
  FROM us.user_presence WHERE system_presence = 'MEAL'
   AND start_time >= '2024-03-11' AND start_time < '2024-03-18';
\! python3 tests/emuctl.py log-bodies --endpoint userdetails | sed -e 's/[0-9a-f-]\{36\}/<id>/g' -e 's/"pageNumber":[0-9]*/"pageNumber":N/' | sort | uniq -c
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM us.user_presence WHERE user_id IN ('6e4e2b6c-5e8a-4f0b-9c3e-2a1d7f00b1c4',
  '6e4e2b6c-5e8a-4f0b-9c3e-2a1d7f00b1c5') AND system_presence = 'BREAK'
   AND organization_presence_id = '6e4e2b6c-5e8a-4f0b-9c3e-2a1d7f00b1c6'
   AND start_time >= '2024-03-11' AND start_time < '2024-03-18';
-- a presence Genesys Cloud does not use matches no row: nothing is sent
\! python3 tests/emuctl.py reset
SELECT count(*) FROM us.user_presence WHERE system_presence = 'Available'
   AND start_time >= '2024-03-11' AND start_time < '2024-03-18';
\! python3 tests/emuctl.py log-count --endpoint userdetails

-- ORDER BY start_time is PostgreSQL's: the API returns records by user
EXPLAIN (COSTS OFF) SELECT * FROM us.user_presence
 WHERE start_time >= '2024-03-11' AND start_time < '2024-03-12' ORDER BY start_time;

-- A join from users asks for those users' records only (each outer user
-- narrows the request by a user filter); forced here, as PostgreSQL reads
-- the whole history once (a hash join) when it expects many users
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
\! python3 tests/emuctl.py reset
EXPLAIN (COSTS OFF)
SELECT u.name, r.routing_status, r.start_time FROM us.users u
  JOIN us.user_routing_status r ON r.user_id = u.id
 WHERE u.id IN (SELECT user_id FROM routing_truth GROUP BY user_id ORDER BY user_id LIMIT 3)
   AND r.start_time >= '2024-03-12' AND r.start_time < '2024-03-13';
SELECT count(*) = (SELECT count(*) FROM routing_truth t
                    WHERE t.user_id IN (SELECT user_id FROM routing_truth GROUP BY user_id ORDER BY user_id LIMIT 3)
                      AND t.start_time >= '2024-03-12' AND t.start_time < '2024-03-13') AS exact
  FROM us.users u JOIN us.user_routing_status r ON r.user_id = u.id
 WHERE u.id IN (SELECT user_id FROM routing_truth GROUP BY user_id ORDER BY user_id LIMIT 3)
   AND r.start_time >= '2024-03-12' AND r.start_time < '2024-03-13';
\! python3 tests/emuctl.py log-bodies --endpoint userdetails | sed -e 's/[0-9a-f-]\{36\}/<id>/g' | sort | uniq -c
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;

-- Long ranges through the jobs API: the same records
CREATE SERVER emu_us_jobs FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url :'emu_url', login_url :'emu_url', mode 'jobs', jobs_poll_interval '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER emu_us_jobs
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
CREATE FOREIGN TABLE us.routing_jobs (user_id uuid, start_time timestamptz,
  end_time timestamptz, routing_status text) SERVER emu_us_jobs OPTIONS (resource 'user_routing_status');
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py settings '{"job_polls": 0}'
SELECT count(*),
  (SELECT count(*) FROM (SELECT * FROM routing_truth WHERE start_time >= '2024-03-01' AND start_time < '2024-03-15'
                         EXCEPT ALL SELECT * FROM us.routing_jobs
                          WHERE start_time >= '2024-03-01' AND start_time < '2024-03-15') x) AS missing
  FROM us.routing_jobs WHERE start_time >= '2024-03-01' AND start_time < '2024-03-15';
\! python3 tests/emuctl.py log-summary | sed -e 's/[0-9a-f-]\{36\}/<id>/g' | uniq -c

-- Live data: users whose records arrive after the window's first page
-- are read by reading the window again; every record once
\! python3 tests/emuctl.py reset
\! python3 tests/emuctl.py fault '{"endpoint": "userdetails", "kind": "late_arrivals", "page": 1, "add": 2}'
SELECT count(*) FROM us.user_presence WHERE start_time >= '2024-03-12' AND start_time < '2024-03-13';
CREATE TEMP TABLE presence_after AS SELECT * FROM presence_truth WITH NO DATA;
\copy presence_after FROM PROGRAM 'python3 tests/emuctl.py csv user_presence' CSV HEADER
SELECT count(*) AS truth_after FROM presence_after WHERE start_time >= '2024-03-12' AND start_time < '2024-03-13';
\! python3 tests/emuctl.py reset
