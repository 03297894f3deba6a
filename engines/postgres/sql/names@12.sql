-- Database and role names, to label pg_stat_statements' oids.
SELECT 'database' AS kind, oid::bigint AS oid, datname::text AS name FROM pg_database
UNION ALL
SELECT 'role', oid::bigint, rolname::text FROM pg_roles
