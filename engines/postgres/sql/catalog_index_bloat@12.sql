-- Estimated bloat of the btree indexes (1 MB and larger) of the tables examined ($1: their oids): the
-- index's pages against the leaf pages its entries would fill at its fillfactor, each entry's width
-- from the planner's statistics of its columns, as check_postgres and ioguix's btree estimate do.
-- Catalog and statistics only: no relation lock, no pgstattuple. `expected_bytes` is NULL for an
-- index on an expression or on a column without statistics.
WITH keys AS (
    SELECT i.indexrelid, i.indrelid, i.indkey[k] AS attnum
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_am am ON am.oid = ic.relam
    CROSS JOIN LATERAL generate_series(0, i.indnatts - 1) k
    WHERE i.indrelid = ANY ($1::oid[]) AND am.amname = 'btree' AND ic.relpages >= 128
),
widths AS (
    SELECT k.indexrelid, count(*) AS columns, count(s.attname) AS columns_with_stats,
           bool_or(k.attnum = 0) AS has_expressions,
           max(coalesce(s.null_frac, 0)) > 0 AS has_nulls,
           sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0)) AS data_width
    FROM keys k
    JOIN pg_class t ON t.oid = k.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = k.indrelid AND a.attnum = k.attnum
    LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname
                        AND NOT s.inherited
    GROUP BY k.indexrelid
)
SELECT n.nspname AS schema_name, t.relname AS "table", ic.relname AS name,
       ic.relpages::bigint * current_setting('block_size')::bigint AS size_bytes,
       greatest(ic.reltuples, 0)::bigint AS estimated_rows,
       coalesce((SELECT substring(o FROM '^fillfactor=([0-9]+)$')::int
                 FROM unnest(ic.reloptions) o WHERE o LIKE 'fillfactor=%'), 90) AS fillfactor,
       -- an entry: 8-byte tuple header (+ a null bitmap), MAXALIGNed with its data, plus its 4-byte line
       -- pointer; a page keeps 24 bytes of header and 16 of btree special space; one metapage
       CASE WHEN w.has_expressions OR w.columns_with_stats < w.columns OR ic.reltuples < 0 THEN NULL
            ELSE ((ceil(greatest(ic.reltuples, 0) / greatest(1, floor(
                     (current_setting('block_size')::int - 40) * coalesce((SELECT substring(o FROM '^fillfactor=([0-9]+)$')::int
                         FROM unnest(ic.reloptions) o WHERE o LIKE 'fillfactor=%'), 90) / 100.0
                     / (4 + ceil((8 + CASE WHEN w.has_nulls THEN 4 ELSE 0 END + w.data_width) / 8.0) * 8)))) + 1)
                  * current_setting('block_size')::bigint)::bigint
       END AS expected_bytes
FROM widths w
JOIN pg_class ic ON ic.oid = w.indexrelid
JOIN pg_index i ON i.indexrelid = w.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
ORDER BY ic.relpages DESC
