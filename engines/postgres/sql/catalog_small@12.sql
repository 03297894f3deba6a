-- The small sections in one round trip: NOT VALID constraints, disabled triggers, roles, and the
-- transaction ID age of each database. Each is a JSON array. pg_get_constraintdef opens the table
-- for a CHECK constraint, so a table under an ACCESS EXCLUSIVE lock (held or awaited) gets no
-- definition and `locked` instead: reading it would wait, and take the other sections down with it.
WITH locked AS (
    SELECT DISTINCT l.relation
    FROM pg_locks l
    WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
)
SELECT
  (SELECT coalesce(json_agg(json_build_object(
              'schema_name', n.nspname, 'table', t.relname, 'name', k.conname, 'kind', k.contype,
              'locked', x.locked, 'definition', CASE WHEN NOT x.locked THEN pg_get_constraintdef(k.oid) END)), '[]')
   FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
   CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM locked WHERE relation = k.conrelid) AS locked) x
   WHERE NOT k.convalidated AND k.contype IN ('c', 'f')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'dbtop')) AS constraints_not_valid,
  (SELECT coalesce(json_agg(json_build_object('schema_name', n.nspname, 'table', c.relname, 'name', t.tgname)), '[]')
   FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE NOT t.tgisinternal AND t.tgenabled = 'D') AS disabled_triggers,
  (SELECT coalesce(json_agg(json_build_object('name', rolname, 'superuser', rolsuper, 'can_login', rolcanlogin)), '[]')
   FROM pg_roles) AS roles,
  (SELECT coalesce(json_agg(json_build_object('name', datname, 'xid_age', age(datfrozenxid),
                                              'mxid_age', mxid_age(datminmxid))), '[]')
   FROM pg_database WHERE datallowconn) AS databases
