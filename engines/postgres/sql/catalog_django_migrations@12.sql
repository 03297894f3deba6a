-- {table} is the quoted schema.django_migrations found by catalog_migration_tables.
SELECT app::text AS app, name::text AS name FROM {table}
