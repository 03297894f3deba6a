-- The largest tables ($1 at most). Sizes come from relpages: pg_relation_size would open the table
-- and queue behind an ACCESS EXCLUSIVE lock. `total` says whether the cap cut some off.
SELECT c.oid, n.nspname AS schema_name, c.relname AS name,
       c.relpages::bigint * current_setting('block_size')::bigint AS size_bytes,
       coalesce(s.n_live_tup, greatest(c.reltuples, 0)::bigint) AS live_rows, coalesce(s.n_dead_tup, 0) AS dead_rows,
       s.seq_scan, s.seq_tup_read, s.idx_scan,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
       NOT EXISTS (SELECT 1 FROM unnest(c.reloptions) o WHERE o ~* '^autovacuum_enabled=(false|off|no|0)$')
           AS autovacuum_enabled,
       c.relpersistence = 'u' AS unlogged,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') AS has_primary_key,
       (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid)::int AS index_count,
       count(*) OVER () AS total,
       (SELECT d.stats_reset FROM pg_stat_database d WHERE d.datname = current_database()) AS stats_reset
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'dbtop')
  AND n.nspname !~ '^pg_(toast|temp)'
ORDER BY c.relpages DESC, n.nspname, c.relname
LIMIT $1
