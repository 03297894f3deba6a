-- Checkpoints since the counters' reset: started by checkpoint_timeout against requested (WAL reached
-- max_wal_size, or a CHECKPOINT), and whether pg_stat_statements can
-- be read here (the statements that spill to disk come from it).
SELECT checkpoints_timed AS timed, checkpoints_req AS requested, stats_reset,
       to_regprocedure('pg_stat_statements(boolean)') IS NOT NULL AS has_statements
FROM pg_stat_bgwriter
