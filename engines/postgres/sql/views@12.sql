-- Materialized views of the current database. Sizes are read only for views no session holds or
-- awaits an ACCESS EXCLUSIVE lock on (a plain REFRESH in progress): pg_total_relation_size opens
-- the relation and would queue behind that lock. File times are a query of their own
-- (view_file_times), run only for a role with EXECUTE on pg_stat_file: privileges on a function are
-- checked when the query starts, whatever a CASE around the call says. The system identifier and
-- database find the refreshes dbtop's own actions ran in the action journal.
WITH exclusive AS (
    SELECT l.relation, array_agg(l.pid ORDER BY l.pid) AS pids
    FROM pg_locks l
    WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    GROUP BY l.relation
), views AS (
    SELECT c.oid, n.nspname AS schema_name, c.relname AS name, pg_get_userbyid(c.relowner) AS owner,
           c.relispopulated AS populated,
           CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS rows_estimate,
           EXISTS (SELECT 1 FROM pg_index i
                   WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid
                     AND i.indpred IS NULL AND i.indexprs IS NULL) AS unique_index,
           coalesce(x.pids, '{}') AS locked_by,
           ARRAY(SELECT a.attname::text FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)
                 ORDER BY a.attnum) AS time_columns
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN exclusive x ON x.relation = c.oid
    WHERE c.relkind = 'm' AND n.nspname <> 'dbtop'
    ORDER BY n.nspname, c.relname
    LIMIT 1001
)
SELECT v.*,
       CASE WHEN cardinality(v.locked_by) = 0 THEN pg_total_relation_size(v.oid) END AS size_bytes,
       has_function_privilege('pg_catalog.pg_stat_file(text, boolean)', 'EXECUTE') AS file_times_readable,
       to_regclass('dbtop.refresh_log') IS NOT NULL AS refresh_log_installed,
       (SELECT system_identifier FROM pg_control_system())::text AS system_identifier,
       current_database()::text AS database
FROM views v
