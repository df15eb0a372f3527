--
-- Who may do what: the SSRF guard on api_url/login_url, ca_file, user
-- mappings seen by other roles, and non-superusers using the wrapper only
-- through a user mapping of their own.
--
\getenv emu_url GC_EMU_URL
\getenv emu_client GC_EMU_CLIENT_ID
\getenv emu_secret GC_EMU_SECRET
SET client_min_messages = warning;
DROP ROLE IF EXISTS gc_analyst;
DROP ROLE IF EXISTS gc_other;
RESET client_min_messages;
CREATE ROLE gc_analyst;
CREATE ROLE gc_other;
GRANT USAGE ON FOREIGN DATA WRAPPER gc_fdw TO gc_analyst;

-- a non-superuser may create servers for Genesys Cloud regions only
SET ROLE gc_analyst;
CREATE SERVER sec_de FOREIGN DATA WRAPPER gc_fdw OPTIONS (environment 'mypurecloud.de');
CREATE SERVER sec_url FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url 'https://api.euw2.pure.cloud', login_url 'https://login.euw2.pure.cloud');
CREATE SERVER sec_evil FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url 'https://metadata.internal.example');
CREATE SERVER sec_lookalike FOREIGN DATA WRAPPER gc_fdw OPTIONS (api_url 'https://api.mypurecloud.com.evil.example');
CREATE SERVER sec_loop FOREIGN DATA WRAPPER gc_fdw OPTIONS (login_url 'http://127.0.0.1:8080');
CREATE SERVER sec_ca FOREIGN DATA WRAPPER gc_fdw OPTIONS (ca_file '/etc/ssl/certs/ca-certificates.crt');
-- altering an option of a server it owns keeps the guard
ALTER SERVER sec_url OPTIONS (SET api_url 'https://10.0.0.5');
RESET ROLE;
-- superusers may (the bundled emulator runs on loopback)
CREATE SERVER sec_ca FOREIGN DATA WRAPPER gc_fdw
  OPTIONS (api_url 'https://127.0.0.1:1', ca_file '/etc/ssl/certs/ca-certificates.crt');
ALTER SERVER sec_ca OPTIONS (SET ca_file 'relative/ca.pem');
DROP SERVER sec_ca;

-- user mappings: options visible only to the mapping's user, the server
-- owner and superusers (PostgreSQL's pg_user_mappings rules)
GRANT USAGE ON FOREIGN SERVER emu TO gc_analyst, gc_other;
CREATE USER MAPPING FOR gc_analyst SERVER emu
  OPTIONS (client_id :'emu_client', client_secret :'emu_secret');
-- (an unknown client; its secret is made up here and never printed)
SELECT md5(random()::text) AS other_secret \gset
CREATE USER MAPPING FOR gc_other SERVER emu
  OPTIONS (client_id 'other-client', client_secret :'other_secret');
CREATE FOREIGN TABLE sec_users (id uuid, name text, state text) SERVER emu OPTIONS (resource 'users');
GRANT SELECT ON sec_users TO gc_analyst, gc_other;
SET ROLE gc_analyst;
SELECT usename, umoptions IS NOT NULL AS options_visible,
       array_to_string(umoptions, ',') LIKE '%client_secret%' AS secret_visible
  FROM pg_user_mappings WHERE srvname = 'emu' ORDER BY usename;
-- the analyst reads through its own mapping
SELECT count(*) > 0 AS reads FROM sec_users WHERE state = 'active';
-- and sees only its own statistics (they are per session)
SELECT endpoint, requests FROM gc_fdw.stats() WHERE endpoint LIKE 'GET%';
RESET ROLE;
-- a role without a mapping cannot use the wrapper at all
CREATE ROLE gc_nomap;
GRANT USAGE ON FOREIGN SERVER emu TO gc_nomap;
GRANT SELECT ON sec_users TO gc_nomap;
SET ROLE gc_nomap;
SELECT count(*) FROM sec_users;
RESET ROLE;
-- the other role's (wrong) credentials are its own business
SET ROLE gc_other;
\set VERBOSITY terse
SELECT count(*) FROM sec_users;
\set VERBOSITY default
RESET ROLE;

DROP FOREIGN TABLE sec_users;
DROP USER MAPPING FOR gc_analyst SERVER emu;
DROP USER MAPPING FOR gc_other SERVER emu;
REVOKE USAGE ON FOREIGN SERVER emu FROM gc_analyst, gc_other, gc_nomap;
DROP SERVER sec_de, sec_url;
REVOKE USAGE ON FOREIGN DATA WRAPPER gc_fdw FROM gc_analyst;
DROP ROLE gc_analyst, gc_other, gc_nomap;
