-- Sequences ($1 at most, the largest share of their range used first); last_value is NULL for a
-- sequence never used or not readable by this role.
SELECT schemaname AS schema_name, sequencename AS name, data_type::text AS data_type, last_value,
       max_value, increment_by AS increment, count(*) OVER () AS total
FROM pg_sequences
WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'dbtop')
ORDER BY last_value::numeric / nullif(max_value, 0) DESC NULLS LAST, schemaname, sequencename
LIMIT $1
