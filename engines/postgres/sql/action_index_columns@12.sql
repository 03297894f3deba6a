-- For an index on table $1 (oid) over columns $2 (names, in order) named $3: which of the columns
-- exist, the valid indexes whose leading columns already are these, and whether the name is free in
-- the table's schema.
SELECT ARRAY(SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY($2::text[])
             ORDER BY a.attnum) AS existing,
       ARRAY(SELECT i.indexrelid::regclass::text FROM pg_index i
             WHERE i.indrelid = $1 AND i.indisvalid AND i.indpred IS NULL
               AND i.indnkeyatts >= cardinality($2::text[])
               AND ARRAY(SELECT a.attname::text FROM unnest(i.indkey[0:cardinality($2::text[]) - 1]) WITH ORDINALITY k(attnum, n)
                         JOIN pg_attribute a ON a.attrelid = $1 AND a.attnum = k.attnum ORDER BY k.n) = $2::text[]
             ORDER BY 1) AS covered_by,
       NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.relname = $3
                   AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = $1)) AS name_free
