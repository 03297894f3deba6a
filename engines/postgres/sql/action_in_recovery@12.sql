-- Whether a server is in recovery (a standby), and which server it is.
SELECT pg_is_in_recovery() AS in_recovery,
       (SELECT system_identifier FROM pg_control_system())::text AS system_identifier
