--
-- Options: what each object accepts, and how a bad name or value is reported
--
CREATE EXTENSION gc_fdw;
SELECT extversion FROM pg_extension WHERE extname = 'gc_fdw';
SELECT fdwname, fdwhandler::regproc, fdwvalidator::regproc
  FROM pg_foreign_data_wrapper WHERE fdwname = 'gc_fdw';

-- Server: unknown names list the valid ones; secrets belong to user mappings
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (region 'mypurecloud.de');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (client_secret 'not-echoed');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (client_id 'abc');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (resource 'users');

-- Server: environment must be a Genesys Cloud region domain
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (environment 'example.com');
CREATE SERVER gc_de FOREIGN DATA WRAPPER gc_fdw OPTIONS (environment 'mypurecloud.de');
CREATE SERVER gc_usw2 FOREIGN DATA WRAPPER gc_fdw OPTIONS (environment 'usw2.pure.cloud');
CREATE SERVER gc_default FOREIGN DATA WRAPPER gc_fdw;

-- Server: URLs are https://, or http:// on a loopback host only
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url 'http://api.example.com');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (login_url 'http://10.0.0.1:8080');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url 'ftp://api.example.com');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url 'http://127.0.0.1.example.com/');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (login_url 'http://127.0.0.1:80@evil.example.com/');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url 'https://user:pw@api.mypurecloud.com');
CREATE SERVER gc_proxy FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url 'https://genesys-proxy.internal/api', login_url 'https://genesys-proxy.internal/login');
CREATE SERVER gc_loop FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url 'http://127.0.0.1:8080/', login_url 'http://localhost:8081');
CREATE SERVER gc_loop6 FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url 'http://[::1]:8080');

-- Server: numbers and their ranges
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (request_timeout '0');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (connect_timeout '1.5');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (max_retries '21');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (max_retry_after 'soon');
ALTER SERVER gc_default OPTIONS (ADD request_timeout '120', ADD connect_timeout '5',
  ADD max_retries '0', ADD max_retry_after '30');
ALTER SERVER gc_default OPTIONS (SET max_retries '-1');
-- reading: pushdown, mode and the jobs options
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (pushdown 'maybe');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (mode 'bulk');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (unavailable_data 'ignore');
CREATE SERVER bad FOREIGN DATA WRAPPER gc_fdw OPTIONS (jobs_poll_interval '0');
CREATE SERVER gc_jobs FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (pushdown 'yes', mode 'jobs', jobs_min_days '14', jobs_poll_interval '5', unavailable_data 'error');
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname LIKE 'gc\_%' ORDER BY 1;

-- User mapping: only client_id and client_secret, neither empty
CREATE USER MAPPING FOR CURRENT_USER SERVER gc_de OPTIONS (environment 'mypurecloud.de');
CREATE USER MAPPING FOR CURRENT_USER SERVER gc_de OPTIONS (client_id 'abc', client_secret '');
CREATE USER MAPPING FOR CURRENT_USER SERVER gc_de OPTIONS (client_id '', client_secret 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER gc_de OPTIONS (client_id 'abc', client_secret 'hidden-value');

-- Secrets stay hidden from roles that do not own the mapping
CREATE ROLE gc_reader;
SET ROLE gc_reader;
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 'gc_de';
RESET ROLE;
DROP ROLE gc_reader;

-- Foreign table: resource is required and must be known
CREATE FOREIGN TABLE t_bad (id text) SERVER gc_de;
CREATE FOREIGN TABLE t_bad (id text) SERVER gc_de OPTIONS (resource 'agents');
CREATE FOREIGN TABLE t_bad (id text) SERVER gc_de OPTIONS (resource 'users', environment 'x');

-- Foreign table: page_size is bounded by the resource's maximum
CREATE FOREIGN TABLE t_bad (id text) SERVER gc_de OPTIONS (resource 'users', page_size '501');
CREATE FOREIGN TABLE t_bad (id text) SERVER gc_de OPTIONS (resource 'conversations', page_size '101');
CREATE FOREIGN TABLE t_bad (id text) SERVER gc_de OPTIONS (resource 'conversations', page_size '0');
CREATE FOREIGN TABLE t_users (id text) SERVER gc_de OPTIONS (resource 'users', page_size '500');
ALTER FOREIGN TABLE t_users OPTIONS (SET resource 'conversations');
ALTER FOREIGN TABLE t_users OPTIONS (SET page_size '250');
ALTER FOREIGN TABLE t_users OPTIONS (DROP resource);

-- Column: only "key", not empty
CREATE FOREIGN TABLE t_bad (id text OPTIONS (json_key 'id')) SERVER gc_de OPTIONS (resource 'users');
CREATE FOREIGN TABLE t_bad (id text OPTIONS (key '')) SERVER gc_de OPTIONS (resource 'users');
CREATE FOREIGN TABLE t_cols (div text OPTIONS (key 'division.id'), doc jsonb OPTIONS (key '.'))
  SERVER gc_de OPTIONS (resource 'users');

-- The FDW itself takes no options
ALTER FOREIGN DATA WRAPPER gc_fdw OPTIONS (ADD environment 'mypurecloud.com');

-- A scan needs both credentials and names the mapping when one is missing
CREATE ROLE gc_half;
GRANT USAGE ON FOREIGN SERVER gc_de TO gc_half;
GRANT SELECT ON t_users TO gc_half;
CREATE USER MAPPING FOR gc_half SERVER gc_de OPTIONS (client_id 'abc');
SET ROLE gc_half;
SELECT * FROM t_users;
RESET ROLE;
-- EXPLAIN alone never needs credentials nor calls the API
SET ROLE gc_half;
EXPLAIN (COSTS OFF) SELECT * FROM t_users;
RESET ROLE;
DROP OWNED BY gc_half;
DROP ROLE gc_half;

DROP FOREIGN TABLE t_users, t_cols;
-- table options override the server's; jobs_poll_interval is the server's alone
CREATE FOREIGN TABLE t_jobs (conversation_start timestamptz) SERVER gc_jobs
  OPTIONS (resource 'conversations', mode 'query', pushdown 'off', rows_per_day '250');
CREATE FOREIGN TABLE t_bad (id text) SERVER gc_jobs OPTIONS (resource 'users', jobs_poll_interval '2');
EXPLAIN (COSTS OFF) SELECT * FROM t_jobs WHERE conversation_start >= '2024-03-01' AND conversation_start < '2024-04-30';
DROP FOREIGN TABLE t_jobs;
DROP SERVER gc_de, gc_usw2, gc_default, gc_proxy, gc_loop, gc_loop6, gc_jobs CASCADE;
-- gc_fdw's one setting, and its prefix reserved: a misspelt gc_fdw.*
-- setting is an error, not a placeholder that silently does nothing
SHOW gc_fdw.max_response_memory;
SET gc_fdw.max_respons_memory = '64MB';
