-- On the leader: how far one standby (by its application_name, Patroni's member name) is behind,
-- in bytes and seconds, and whether it streams. replay_lag is NULL once a standby has caught up
-- and nothing is written; the bytes then say 0.
SELECT r.state,
       extract(epoch FROM r.replay_lag)::float8 AS replay_lag_s,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint AS replay_lag_bytes
FROM pg_stat_replication r
WHERE r.application_name = $1
ORDER BY r.state = 'streaming' DESC, r.pid
LIMIT 1
