-- Client sessions from other machines without SSL.
SELECT a.pid, a.usename AS "user", host(a.client_addr) AS client, a.application_name AS application
FROM pg_stat_activity a
JOIN pg_stat_ssl s ON s.pid = a.pid
WHERE a.backend_type = 'client backend' AND a.client_addr IS NOT NULL AND NOT s.ssl
  AND NOT (a.client_addr <<= '127.0.0.0/8'::inet OR a.client_addr = '::1'::inet)
