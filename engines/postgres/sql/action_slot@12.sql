-- The replication slot a drop is about to remove, and whether the acting role may drop it
-- (superuser or REPLICATION; a logical slot only from its own database).
SELECT s.slot_name::text AS slot_name, s.slot_type::text AS slot_type, s.plugin::text AS plugin,
       s.database::text AS database, s.active, s.active_pid, s.restart_lsn::text AS restart_lsn,
       CASE WHEN NOT pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint END
           AS retained_bytes,
       current_database()::text AS here,
       (SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user) AS may_drop
FROM pg_replication_slots s WHERE s.slot_name = $1
