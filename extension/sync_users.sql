/*
 * extension/sync_users.sql
 *		gc_fdw.sync_users: a full refresh of the users directory (every
 *		state) into a local table; users gone from the API are kept and
 *		marked.  Since 1.2 it is gc_fdw.sync_directory's refresh of that one
 *		table (sync_directory.sql).
 *
 * Must not: take locks, prepare tables or keep state other than through
 * sync_common.sql, or refresh anything but users.
 */

-- Internal: the table a users sync keeps (gc_fdw.sync_prepare), with the
-- two columns it adds to the source's: when a user was last written, and
-- since when the API has stopped returning them
CREATE FUNCTION gc_fdw.sync_users_tables(
    OUT table_name text, OUT primary_key text, OUT omit text[], OUT extra text,
    OUT index_on text)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE
AS $$
    VALUES ('users', 'id', '{}'::text[],
            'synced_at timestamptz NOT NULL DEFAULT now(), missing_since timestamptz', NULL::text)
$$;

/*
 * gc_fdw.sync_users: the users table alone, as 1.1 kept it, and by the same
 * name in the log and in sync_state: the directory's refresh of that one
 * table (sync_directory.sql), so that a schedule written for 1.1 goes on
 * reading only what its OAuth client may read.
 */
CREATE PROCEDURE gc_fdw.sync_users(server_name text, target_schema text)
LANGUAGE plpgsql
AS $$
BEGIN
    CALL gc_fdw.sync_directory_run('sync_users', server_name, target_schema, ARRAY['users']);
END
$$;
COMMENT ON PROCEDURE gc_fdw.sync_users(text, text)
    IS 'full refresh of users (every state) from a gc_fdw server into a local table; users gone from the API are kept and marked (gc_fdw.sync_directory refreshes them with the rest of the directory)';
