-- pg_stat_statements 1.9 and newer (PostgreSQL 14+): toplevel is part of an entry's key.
SELECT s.userid::bigint AS user_id, s.dbid::bigint AS database_id, s.queryid AS query_id,
       s.toplevel, s.calls, s.total_exec_time + s.total_plan_time AS total_time_ms, s.rows,
       s.shared_blks_hit, s.shared_blks_read
FROM pg_stat_statements(false) s
WHERE s.queryid IS NOT NULL
