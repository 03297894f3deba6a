-- A primary's view of its standbys.
SELECT r.pid, r.application_name AS application,
       CASE WHEN r.client_port = -1 THEN 'local'
            WHEN r.client_addr IS NOT NULL THEN host(r.client_addr) || ':' || r.client_port END AS client,
       r.state, r.sync_state,
       r.sent_lsn::text AS sent_lsn, r.write_lsn::text AS write_lsn,
       r.flush_lsn::text AS flush_lsn, r.replay_lsn::text AS replay_lsn,
       extract(epoch FROM r.write_lag)::float8 AS write_lag_s,
       extract(epoch FROM r.flush_lag)::float8 AS flush_lag_s,
       extract(epoch FROM r.replay_lag)::float8 AS replay_lag_s,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint AS replay_lag_bytes
FROM pg_stat_replication r
ORDER BY r.application_name, r.pid
