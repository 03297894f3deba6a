-- pg_hba.conf as the server reads it (superuser, or EXECUTE on pg_hba_file_rules()).
SELECT line_number, type, database, user_name, address, netmask, auth_method, error
FROM pg_hba_file_rules
