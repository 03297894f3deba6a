-- The last refresh of view $1 that dbtop's refresh log recorded (run only when the log is installed
-- and this role may read it).
SELECT started_at, finished_at FROM dbtop.refresh_log WHERE view_oid = $1 AND populated ORDER BY id DESC LIMIT 1
