-- pg_stat_statements 1.7 and older (PostgreSQL 12): one total_time. No text: texts are fetched
-- once per new queryid, so the query-text file is not read on every poll.
SELECT s.userid::bigint AS user_id, s.dbid::bigint AS database_id, s.queryid AS query_id,
       true AS toplevel, s.calls, s.total_time AS total_time_ms, s.rows,
       s.shared_blks_hit, s.shared_blks_read
FROM pg_stat_statements(false) s
WHERE s.queryid IS NOT NULL
