-- Texts of statements not seen before: this reads the query-text file, so only for new ids.
SELECT DISTINCT ON (s.queryid) s.queryid AS query_id, left(s.query, 16384) AS query
FROM pg_stat_statements(true) s
WHERE s.queryid = ANY($1::bigint[])
