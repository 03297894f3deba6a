-- The sessions holding a lock on the relation an action works on, or on an index's table: named
-- when the action gave up waiting (lock_timeout), since by then it no longer waits and
-- pg_blocking_pids() has nothing to say. $1 schema (NULL: the search path's), $2 name.
SELECT DISTINCT ON (a.pid) a.pid, a.usename::text AS usename, a.application_name, a.state,
       coalesce(a.xact_start, a.query_start) AS since
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.relation IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.relname = $2 AND (n.nspname = $1 OR ($1 IS NULL AND pg_table_is_visible(c.oid)))
                     UNION
                     SELECT i.indrelid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.relname = $2 AND (n.nspname = $1 OR ($1 IS NULL AND pg_table_is_visible(c.oid))))
ORDER BY a.pid
LIMIT 10
