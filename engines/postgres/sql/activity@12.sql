-- One row per backend. pg_blocking_pids is only called for sessions waiting on a lock:
-- it takes the lock manager's partition locks and is too costly for every row.
SELECT a.pid, a.usename::text AS "user", a.datname::text AS database,
       a.application_name AS application,
       CASE WHEN a.client_port = -1 THEN 'local'
            WHEN a.client_addr IS NOT NULL THEN host(a.client_addr) || ':' || a.client_port END AS client,
       a.backend_type, a.state, a.wait_event_type, a.wait_event,
       a.backend_start, a.xact_start, a.query_start,
       extract(epoch FROM now() - a.state_change)::float8 AS state_s,
       extract(epoch FROM now() - a.xact_start)::float8 AS xact_s,
       extract(epoch FROM now() - a.query_start)::float8 AS query_s,
       NULL::bigint AS query_id,
       a.query,
       CASE WHEN a.wait_event_type = 'Lock'
              -- another role's row hides its wait event (and its type) from a role without
              -- pg_read_all_stats; pg_locks, readable by all, says whether it waits (read once)
              OR (a.backend_type IS NULL AND a.pid = ANY (ARRAY(SELECT l.pid FROM pg_locks l WHERE NOT l.granted)))
            THEN pg_blocking_pids(a.pid) ELSE '{}' END AS blocked_by
FROM pg_stat_activity a
