-- Slow-changing facts about the server, read at a low rate. 16 adds reserved_connections.
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       pg_postmaster_start_time() AS started_at,
       extract(epoch FROM now() - pg_postmaster_start_time())::float8 AS uptime_s,
       pg_is_in_recovery() AS is_standby,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int
         + current_setting('reserved_connections')::int AS reserved_connections,
       current_database() AS database,
       current_user AS current_user,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_superuser,
       ARRAY(SELECT r.rolname FROM pg_roles r
             WHERE r.rolname IN ('pg_monitor', 'pg_read_all_stats', 'pg_read_all_settings',
                                 'pg_stat_scan_tables', 'pg_signal_backend', 'pg_read_server_files')
               AND pg_has_role(current_user, r.oid, 'USAGE')
             ORDER BY r.rolname)::text[] AS monitoring_roles,
       (SELECT sum(relpages)::bigint * current_setting('block_size')::bigint FROM pg_class) AS size_estimate,
       (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements') AS statements_version
