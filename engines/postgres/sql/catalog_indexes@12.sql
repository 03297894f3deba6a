-- The indexes of the tables examined ($1: their oids). pg_get_indexdef and pg_get_expr open the
-- relation, so they would queue behind an ACCESS EXCLUSIVE lock (held or awaited: a waiting one
-- blocks newcomers too); such an index comes back with `locked` set and no definition.
WITH locked AS (
    SELECT DISTINCT l.relation
    FROM pg_locks l
    WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
)
SELECT n.nspname AS schema_name, t.relname AS "table", c.relname AS name,
       x.locked,
       CASE WHEN NOT x.locked THEN pg_get_indexdef(i.indexrelid) END AS definition, am.amname AS method,
       ARRAY(SELECT i.indkey[k]::int FROM generate_series(0, i.indnkeyatts - 1) k) AS key_columns,
       -- each key as an expression, only for an INVALID unique index: its fix first lists the duplicate keys
       CASE WHEN NOT x.locked AND i.indisunique AND NOT i.indisvalid
            THEN ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k)
       END AS key_expressions,
       CASE WHEN NOT x.locked THEN pg_get_expr(i.indpred, i.indrelid) END AS predicate,
       i.indexprs IS NOT NULL AS has_expressions,
       i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisvalid AS is_valid,
       -- pg_stat_user_indexes.idx_scan, called for these indexes only (joined, the view computes every index's)
       k.conname AS "constraint", pg_stat_get_numscans(i.indexrelid) AS scans,
       c.relpages::bigint * current_setting('block_size')::bigint AS size_bytes
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = c.relam
CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM locked WHERE relation IN (i.indrelid, i.indexrelid)) AS locked) x
LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')
WHERE i.indrelid = ANY ($1::oid[])
ORDER BY n.nspname, t.relname, c.relname
