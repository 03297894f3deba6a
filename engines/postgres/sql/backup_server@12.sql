-- What a backup records of the server and what a restore needs: its version, the database's size,
-- and whether this role may create a scratch database.
SELECT current_setting('server_version') AS server_version,
       pg_database_size(current_database()) AS database_size,
       (SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can_create_database,
       current_user AS role
