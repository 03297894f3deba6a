-- Replication slots and the WAL each one keeps on disk.
SELECT s.slot_name::text AS name, s.slot_type AS slot_type, s.database::text AS database,
       s.active, s.active_pid,
       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                            ELSE pg_current_wal_lsn() END, s.restart_lsn)::bigint AS retained_wal_bytes,
       NULL::text AS wal_status
FROM pg_replication_slots s
ORDER BY s.slot_name
