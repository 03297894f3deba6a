-- One relation an action is about to act on, by exact schema and name ($1 NULL: the one the search
-- path finds), with what the acting role may do to it. Before 17 maintenance needs ownership (or
-- superuser; VACUUM and ANALYZE also the database's owner); 17 has the MAINTAIN privilege.
SELECT c.oid::bigint AS oid, n.nspname::text AS schema_name, c.relname::text AS name, c.relkind::text AS relkind,
       pg_get_userbyid(c.relowner)::text AS owner, c.relispopulated AS populated, c.relisshared AS shared,
       current_user::text AS role,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       pg_has_role(current_user, c.relowner, 'USAGE') AS owns,
       pg_has_role(current_user, (SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE')
           AS owns_database,
       has_table_privilege(c.oid, 'MAINTAIN') AS maintain,
       EXISTS (SELECT 1 FROM pg_index i
               WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid
                 AND i.indpred IS NULL AND i.indexprs IS NULL) AS unique_index,
       ARRAY(SELECT l.pid FROM pg_locks l
             WHERE l.locktype = 'relation' AND l.relation = c.oid AND l.mode = 'AccessExclusiveLock'
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             ORDER BY l.pid) AS locked_by,
       x.indisvalid AS index_valid, x.indisunique AS index_unique,
       (SELECT quote_ident(tn.nspname) || '.' || quote_ident(t.relname) FROM pg_class t
        JOIN pg_namespace tn ON tn.oid = t.relnamespace WHERE t.oid = x.indrelid) AS index_table,
       (SELECT k.conname::text || ' (' || CASE k.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique'
                                            WHEN 'x' THEN 'exclusion' WHEN 'f' THEN 'referenced by a foreign key'
                                            ELSE k.contype::text END || ')'
        FROM pg_constraint k WHERE k.conindid = c.oid ORDER BY k.contype = 'f', k.conname LIMIT 1) AS index_constraint,
       c.relpages::bigint * current_setting('block_size')::bigint AS size_bytes  -- no lock: a running refresh holds one
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index x ON x.indexrelid = c.oid
WHERE c.relname = $2 AND (n.nspname = $1 OR ($1 IS NULL AND pg_table_is_visible(c.oid)))
