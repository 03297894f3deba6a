-- The largest tables ($1 at most). Sizes come from relpages: pg_relation_size would open the table
-- and queue behind an ACCESS EXCLUSIVE lock. `total` says whether the cap cut some off. The largest
-- are chosen first and only their statistics read (each column of pg_stat_user_tables is a function
-- call: over every table of a large database they would cost more than the rest of the catalog).
WITH largest AS MATERIALIZED (
    SELECT c.oid, n.nspname, c.relname, c.relpages, c.relkind, c.reloptions, c.relpersistence,
           c.reltoastrelid, c.relfrozenxid, c.relminmxid, c.reltuples, count(*) OVER () AS total
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'dbtop')
      AND n.nspname !~ '^pg_(toast|temp)'
    ORDER BY c.relpages DESC, n.nspname, c.relname
    LIMIT $1
)
SELECT c.oid, c.nspname AS schema_name, c.relname AS name,
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
       s.n_ins_since_vacuum AS inserted_since_vacuum,
       coalesce((SELECT substring(o FROM '^fillfactor=([0-9]+)$')::int
                 FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), 100) AS fillfactor,
       c.relkind = 'p' AS partitioned,
       -- transaction ID and multixact ages of the heap and of its TOAST table (a partitioned parent has none)
       CASE WHEN c.relkind = 'r' THEN age(c.relfrozenxid) END AS xid_age,
       CASE WHEN c.relkind = 'r' THEN mxid_age(c.relminmxid) END AS mxid_age,
       CASE WHEN toast.oid IS NOT NULL THEN age(toast.relfrozenxid) END AS toast_xid_age,
       CASE WHEN toast.oid IS NOT NULL THEN mxid_age(toast.relminmxid) END AS toast_mxid_age,
       c.total,
       (SELECT d.stats_reset FROM pg_stat_database d WHERE d.datname = current_database()) AS stats_reset
FROM largest c
LEFT JOIN LATERAL (
    -- pg_stat_user_tables' columns, called for these tables only (joined, the view computes every table's)
    SELECT pg_stat_get_live_tuples(c.oid) AS n_live_tup, pg_stat_get_dead_tuples(c.oid) AS n_dead_tup,
           pg_stat_get_numscans(c.oid) AS seq_scan, pg_stat_get_tuples_returned(c.oid) AS seq_tup_read,
           (SELECT sum(pg_stat_get_numscans(i.indexrelid))::bigint FROM pg_index i WHERE i.indrelid = c.oid) AS idx_scan,
           pg_stat_get_last_vacuum_time(c.oid) AS last_vacuum,
           pg_stat_get_last_autovacuum_time(c.oid) AS last_autovacuum,
           pg_stat_get_last_analyze_time(c.oid) AS last_analyze,
           pg_stat_get_last_autoanalyze_time(c.oid) AS last_autoanalyze,
           pg_stat_get_tuples_inserted(c.oid) AS n_tup_ins, pg_stat_get_tuples_updated(c.oid) AS n_tup_upd,
           pg_stat_get_tuples_deleted(c.oid) AS n_tup_del, pg_stat_get_tuples_hot_updated(c.oid) AS n_tup_hot_upd,
           pg_stat_get_mod_since_analyze(c.oid) AS n_mod_since_analyze,
           NULL::bigint AS n_ins_since_vacuum
) s ON c.relkind = 'r'
LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
ORDER BY c.relpages DESC, c.nspname, c.relname
