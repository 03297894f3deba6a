-- The indexes of the tables examined ($1: their oids).
SELECT n.nspname AS schema_name, t.relname AS "table", c.relname AS name,
       pg_get_indexdef(i.indexrelid) AS definition, am.amname AS method,
       ARRAY(SELECT i.indkey[k]::int FROM generate_series(0, i.indnkeyatts - 1) k) AS key_columns,
       pg_get_expr(i.indpred, i.indrelid) AS predicate, i.indexprs IS NOT NULL AS has_expressions,
       i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisvalid AS is_valid,
       k.conname AS "constraint", s.idx_scan AS scans,
       c.relpages::bigint * current_setting('block_size')::bigint AS size_bytes
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = c.relam
LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
WHERE i.indrelid = ANY ($1::oid[])
ORDER BY n.nspname, t.relname, c.relname
