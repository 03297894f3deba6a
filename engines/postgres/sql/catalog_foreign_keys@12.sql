-- Foreign keys ($1 at most), with their ON DELETE rule and whether an index on the referencing
-- table starts with the key's columns (in any order).
SELECT n.nspname AS schema_name, t.relname AS "table", k.conname AS name,
       ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.ord) AS columns,
       k.conkey::int[] AS column_numbers,
       rn.nspname AS referenced_schema, r.relname AS referenced_table,
       CASE k.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'
                          WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END AS on_delete,
       k.convalidated AS validated,
       EXISTS (SELECT 1 FROM pg_index i
               WHERE i.indrelid = k.conrelid AND i.indisvalid AND i.indpred IS NULL
                 AND i.indnkeyatts >= cardinality(k.conkey)
                 AND ARRAY(SELECT i.indkey[j] FROM generate_series(0, cardinality(k.conkey) - 1) j) @> k.conkey)
           AS has_supporting_index,
       count(*) OVER () AS total
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class r ON r.oid = k.confrelid
JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE k.contype = 'f' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'dbtop')
ORDER BY rn.nspname, r.relname, n.nspname, t.relname, k.conname
LIMIT $1
