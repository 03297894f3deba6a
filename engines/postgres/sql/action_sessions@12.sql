-- The sessions a terminate or cancel is about to signal ($1: their pids), each with what it runs,
-- who owns it, and how many sessions wait behind it (transitively, by pg_blocking_pids); and
-- what the acting role may signal (superusers' sessions need a superuser; others need membership
-- in the session's role or pg_signal_backend).
WITH RECURSIVE waiting AS (
    SELECT a.pid, unnest(pg_blocking_pids(a.pid)) AS blocker
    FROM pg_stat_activity a
    WHERE a.wait_event_type = 'Lock'
), behind(root, pid) AS (
    SELECT w.blocker, w.pid FROM waiting w WHERE w.blocker = ANY($1::int[])
    UNION
    SELECT b.root, w.pid FROM behind b JOIN waiting w ON w.blocker = b.pid
)
SELECT p.pid, a.pid IS NOT NULL AS found, a.backend_type::text AS backend_type, a.usename::text AS usename,
       a.datname::text AS datname, a.backend_start, a.query_start, a.state::text AS state,
       left(a.query, 300) AS query,
       coalesce(r.rolsuper, a.usesysid IS NULL) AS superuser_session,
       CASE WHEN a.usesysid IS NOT NULL THEN pg_has_role(current_user, a.usesysid, 'USAGE') END AS member,
       (SELECT count(DISTINCT b.pid) FROM behind b WHERE b.root = p.pid)::int AS waiting_behind,
       current_user::text AS role, current_database()::text AS here,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS signal_backend
FROM unnest($1::int[]) WITH ORDINALITY AS p(pid, n)
LEFT JOIN pg_stat_activity a ON a.pid = p.pid
LEFT JOIN pg_roles r ON r.oid = a.usesysid
ORDER BY p.n
