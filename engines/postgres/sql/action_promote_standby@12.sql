-- What a promotion rests on, read on the standby: whether it is in recovery, whether replay is paused,
-- how far replay is behind what was received (0 s when everything received is replayed, however old
-- the last transaction is, as in wal_receiver), where its primary is (the WAL receiver's sender, else
-- primary_conninfo: pg_settings hides it, and pg_stat_wal_receiver its host, from roles without
-- pg_read_all_settings / pg_read_all_stats), and what pg_rewind will later need of this cluster.
SELECT pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_is_in_recovery() THEN CASE WHEN pg_is_wal_replay_paused() THEN 'paused' ELSE 'not paused' END
       END AS pause_state,
       pg_last_wal_receive_lsn()::text AS received_lsn,
       pg_last_wal_replay_lsn()::text AS replayed_lsn,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint AS unreplayed_bytes,
       CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float8 AS replay_lag_s,
       w.status AS receiver_status, w.sender_host, w.sender_port,
       (SELECT setting FROM pg_settings WHERE name = 'primary_conninfo') AS primary_conninfo,
       (SELECT setting FROM pg_settings WHERE name = 'primary_slot_name') AS primary_slot_name,
       (SELECT setting FROM pg_settings WHERE name = 'data_checksums') AS data_checksums,
       (SELECT setting FROM pg_settings WHERE name = 'full_page_writes') AS full_page_writes,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       has_function_privilege('pg_catalog.pg_promote(boolean, integer)', 'EXECUTE') AS may_promote,
       current_user AS role,
       (SELECT timeline_id FROM pg_control_checkpoint()) AS timeline
FROM (SELECT 1) one
LEFT JOIN pg_stat_wal_receiver w ON true
