-- After pg_promote(): still in recovery or not, and the timeline WAL is now written on. The timeline is
-- read from the current WAL file's name (its first 8 hex digits): pg_control_checkpoint() shows the new
-- timeline only once the end-of-recovery checkpoint, requested at promotion, has completed.
SELECT pg_is_in_recovery() AS in_recovery,
       CASE WHEN NOT pg_is_in_recovery() THEN ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int
       END AS timeline
