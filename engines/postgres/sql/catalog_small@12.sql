-- The small sections in one round trip: NOT VALID constraints, disabled triggers, roles, and the
-- transaction ID age of each database. Each is a JSON array.
SELECT
  (SELECT coalesce(json_agg(json_build_object('schema_name', n.nspname, 'table', t.relname, 'name', k.conname,
                                              'kind', k.contype, 'definition', pg_get_constraintdef(k.oid))), '[]')
   FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
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
