SELECT current_setting('archive_mode') AS archive_mode,
       (current_setting('archive_command') NOT IN ('', '(disabled)')) AS archive_command_set,
       a.archived_count, a.last_archived_wal, a.last_archived_time AS last_archived_at,
       a.failed_count, a.last_failed_wal, a.last_failed_time AS last_failed_at, a.stats_reset
FROM pg_stat_archiver a
