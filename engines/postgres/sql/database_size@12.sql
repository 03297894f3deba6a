-- Exact size of the current database: stats every file, so read rarely.
SELECT pg_database_size(current_database()) AS size
