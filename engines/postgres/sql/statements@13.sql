-- pg_stat_statements 1.8 (PostgreSQL 13): execution and planning time are separate.
SELECT s.userid::bigint AS user_id, s.dbid::bigint AS database_id, s.queryid AS query_id,
       true AS toplevel, s.calls, s.total_exec_time + s.total_plan_time AS total_time_ms, s.rows,
       s.shared_blks_hit, s.shared_blks_read
FROM pg_stat_statements(false) s
WHERE s.queryid IS NOT NULL
