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
       s.n_tup_ins AS rows_inserted, s.n_tup_upd AS rows_updated, s.n_tup_del AS rows_deleted,
       s.n_tup_hot_upd AS rows_hot_updated, s.n_mod_since_analyze AS modified_since_analyze,
       -- 13 and later; read through the row's JSON so that one file serves 12 too (NULL there)
       (to_jsonb(s) ->> 'n_ins_since_vacuum')::bigint AS inserted_since_vacuum,
       coalesce((SELECT substring(o FROM '^fillfactor=([0-9]+)$')::int
                 FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), 100) AS fillfactor,
       c.relkind = 'p' AS partitioned,
       -- transaction ID and multixact ages of the heap and of its TOAST table (a partitioned parent has none)
       CASE WHEN c.relkind = 'r' THEN age(c.relfrozenxid) END AS xid_age,
       CASE WHEN c.relkind = 'r' THEN mxid_age(c.relminmxid) END AS mxid_age,
       CASE WHEN toast.oid IS NOT NULL THEN age(toast.relfrozenxid) END AS toast_xid_age,
       CASE WHEN toast.oid IS NOT NULL THEN mxid_age(toast.relminmxid) END AS toast_mxid_age,
       count(*) OVER () AS total,
       (SELECT d.stats_reset FROM pg_stat_database d WHERE d.datname = current_database()) AS stats_reset
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'dbtop')
  AND n.nspname !~ '^pg_(toast|temp)'
ORDER BY c.relpages DESC, n.nspname, c.relname
LIMIT $1
