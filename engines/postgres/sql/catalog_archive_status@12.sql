-- WAL segments written but not yet archived (.ready files in pg_wal/archive_status), and since when
-- the oldest waits. pg_ls_archive_statusdir() needs a superuser or pg_monitor.
SELECT count(*) FILTER (WHERE name ~ '\.ready$') AS ready,
       min(modification) FILTER (WHERE name ~ '\.ready$') AS oldest_ready_at
FROM pg_ls_archive_statusdir()
