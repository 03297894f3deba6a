-- Checkpoints since the counters' reset: started by checkpoint_timeout against requested (WAL reached
-- max_wal_size, or a CHECKPOINT), and whether pg_stat_statements can
-- be read here (the statements that spill to disk come from it). PostgreSQL 17 moved them to pg_stat_checkpointer.
SELECT num_timed AS timed, num_requested AS requested, stats_reset,
       to_regprocedure('pg_stat_statements(boolean)') IS NOT NULL AS has_statements
FROM pg_stat_checkpointer
