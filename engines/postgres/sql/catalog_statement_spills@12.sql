-- The statements that wrote the most temporary blocks (sorts and hashes larger than work_mem), without
-- their text (the rules take it from the statements part by query id).
SELECT queryid AS query_id, sum(calls)::bigint AS calls, sum(temp_blks_written)::bigint AS temp_blks_written
FROM pg_stat_statements(false)
WHERE temp_blks_written > 0 AND queryid IS NOT NULL
GROUP BY queryid
ORDER BY 3 DESC
LIMIT 10
