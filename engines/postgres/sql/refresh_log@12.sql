-- The newest refresh that left each view populated, from dbtop's event-trigger log.
SELECT DISTINCT ON (view_oid) view_oid, started_at, finished_at, role::text AS role, command
FROM dbtop.refresh_log
WHERE populated
ORDER BY view_oid, id DESC
