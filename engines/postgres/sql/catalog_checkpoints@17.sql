-- Checkpoints since the counters' reset: started by checkpoint_timeout against requested (WAL reached
-- max_wal_size, or a CHECKPOINT); whether pg_stat_statements can be read here (the statements that
-- spill to disk come from it); this database's block reads and the time they took (0 unless
-- track_io_timing is on), which tell SSD-class storage from spinning disks. PostgreSQL 17 moved the
-- checkpoint counters to pg_stat_checkpointer.
SELECT num_timed AS timed, num_requested AS requested, stats_reset,
       to_regprocedure('pg_stat_statements(boolean)') IS NOT NULL AS has_statements,
       (SELECT blks_read FROM pg_stat_database WHERE datname = current_database()) AS blocks_read,
       (SELECT blk_read_time FROM pg_stat_database WHERE datname = current_database()) AS block_read_time_ms
FROM pg_stat_checkpointer
