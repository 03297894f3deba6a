-- Whether index $1 (oid) is valid (NULL: it is gone), after a DROP INDEX CONCURRENTLY stopped.
SELECT indisvalid FROM pg_index WHERE indexrelid = $1
