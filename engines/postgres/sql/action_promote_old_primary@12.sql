-- The old primary, as the standby to be promoted sees it: is it still a primary, is it the same
-- cluster, and what pg_rewind needs of it later (wal_log_hints or data checksums, full_page_writes,
-- its data directory and port for the command shown; data_directory is hidden without
-- pg_read_all_settings and comes back NULL).
SELECT pg_is_in_recovery() AS in_recovery,
       (SELECT system_identifier FROM pg_control_system())::text AS system_identifier,
       (SELECT setting FROM pg_settings WHERE name = 'wal_log_hints') AS wal_log_hints,
       (SELECT setting FROM pg_settings WHERE name = 'data_checksums') AS data_checksums,
       (SELECT setting FROM pg_settings WHERE name = 'full_page_writes') AS full_page_writes,
       (SELECT setting FROM pg_settings WHERE name = 'data_directory') AS data_directory,
       current_setting('port') AS port
