-- {table} is the quoted schema.alembic_version found by catalog_migration_tables.
SELECT version_num::text AS version FROM {table}
