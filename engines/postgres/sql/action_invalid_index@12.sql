-- The INVALID index named $2 on table $1 (oid) that a failed or cancelled build left, if any.
SELECT c.oid::bigint AS oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS quoted
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = $1 AND c.relname = $2 AND NOT i.indisvalid
