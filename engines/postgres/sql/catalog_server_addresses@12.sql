-- The server's own addresses, so that a pg_hba.conf line for one of them counts as local: the
-- address this connection reached (NULL over a Unix socket) and the listen_addresses entries
-- (names and wildcards among them are left out by the reader).
SELECT host(inet_server_addr()) AS reached, current_setting('listen_addresses') AS listen_addresses
