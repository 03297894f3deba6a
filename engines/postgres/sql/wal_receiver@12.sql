-- A standby's own view: what it received, what it replayed, and how far behind replay is.
-- When everything received is replayed the lag is 0, however old the last transaction is.
SELECT w.status, w.sender_host || ':' || w.sender_port AS sender,
       pg_last_wal_receive_lsn()::text AS received_lsn,
       pg_last_wal_replay_lsn()::text AS replayed_lsn,
       w.last_msg_receipt_time AS last_message_at,
       pg_is_wal_replay_paused() AS replay_paused,
       pg_last_xact_replay_timestamp() AS last_replayed_xact_at,
       CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float8 AS replay_lag_s,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint AS replay_lag_bytes
FROM (SELECT 1) one
LEFT JOIN pg_stat_wal_receiver w ON true
