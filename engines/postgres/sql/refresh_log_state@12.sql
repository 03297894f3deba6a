SELECT current_database() AS database,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_superuser,
       EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'dbtop') AS schema_exists,
       to_regclass('dbtop.refresh_log') IS NOT NULL AS table_exists,
       EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'dbtop_record_refresh') AS trigger_exists
