SELECT current_setting('server_version') AS version, pg_is_in_recovery() AS standby, current_user AS who
