-- The tables where Alembic and Django record the migrations applied, in any schema, and whether
-- this role may read them (reading one it may not would fail the section).
SELECT n.nspname AS schema_name, c.relname AS name, has_table_privilege(c.oid, 'SELECT') AS readable
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname IN ('alembic_version', 'django_migrations')
  AND c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY 1, 2
