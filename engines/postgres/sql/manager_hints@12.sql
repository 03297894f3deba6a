-- What the server says that hints at a cluster manager (Patroni, repmgr, pg_auto_failover). Hints
-- only: Patroni is confirmed through its REST API. Every part is readable by any login role.
SELECT (SELECT system_identifier FROM pg_control_system())::text AS system_identifier,
       pg_is_in_recovery() AS in_recovery,
       current_setting('cluster_name') AS cluster_name,
       current_setting('port') AS port,
       ARRAY(SELECT name FROM pg_settings WHERE source = 'command line' ORDER BY name) AS command_line_settings,
       ARRAY(SELECT DISTINCT application_name FROM pg_stat_activity
             WHERE application_name IN ('Patroni', 'Patroni heartbeat', 'Patroni restapi')
             ORDER BY application_name) AS patroni_sessions,
       EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'repmgr') AS repmgr_schema,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgautofailover') AS pgautofailover_extension,
       EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgautofailover_monitor') AS pgautofailover_role
