-- Whether this role may read the server's log back, before trying: the file functions are a
-- superuser's unless granted, and pg_current_logfile() is NULL when logging_collector is off.
SELECT current_user AS role,
       has_function_privilege('pg_current_logfile(text)', 'EXECUTE')
         AND has_function_privilege('pg_stat_file(text, boolean)', 'EXECUTE')
         AND has_function_privilege('pg_read_binary_file(text, bigint, bigint, boolean)', 'EXECUTE') AS may_read,
       current_setting('logging_collector')::bool AS logging_collector
