-- Estimated bloat of the tables examined ($1: their oids): the heap's pages against the pages its
-- rows would fill at its fillfactor, the row width taken from the planner's statistics (pg_stats:
-- null fraction and average width per column), as check_postgres and ioguix's pgsql-bloat-estimation
-- do. Catalog and statistics only, no relation lock. `expected_bytes` is NULL where the estimate
-- cannot be made: a column without statistics (never analyzed, or not readable by this role) or of
-- type `name` (whose average width is not what it stores).
WITH facts AS (
    SELECT t.oid, n.nspname AS schema_name, t.relname AS "table", t.reltuples, t.relpages,
           coalesce((SELECT substring(o FROM '^fillfactor=([0-9]+)$')::int
                     FROM unnest(t.reloptions) o WHERE o LIKE 'fillfactor=%'), 100) AS fillfactor,
           current_setting('block_size')::int AS block_size,
           count(*) AS columns, count(s.attname) AS columns_with_stats,
           bool_or(a.atttypid = 'pg_catalog.name'::regtype) AS has_name_column,
           max(coalesce(s.null_frac, 0)) > 0 AS has_nulls,
           sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0)) AS data_width
    FROM pg_class t
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname
                        AND NOT s.inherited
    WHERE t.oid = ANY ($1::oid[]) AND t.relkind = 'r' AND t.relpages > 0
    GROUP BY t.oid, n.nspname, t.relname, t.reltuples, t.relpages, t.reloptions
),
widths AS (
    -- a heap tuple: 23-byte header (+ the null bitmap), MAXALIGNed, then the data, MAXALIGNed,
    -- plus its 4-byte line pointer; a page keeps 24 bytes of header.
    SELECT f.*, 8 AS align,
           23 + CASE WHEN has_nulls THEN (7 + columns) / 8 ELSE 0 END AS header_width
    FROM facts f
)
SELECT schema_name, "table", fillfactor,
       relpages::bigint * block_size AS size_bytes,
       greatest(reltuples, 0)::bigint AS estimated_rows,
       CASE WHEN columns_with_stats < columns OR has_name_column OR reltuples < 0 THEN NULL
            ELSE (ceil(greatest(reltuples, 0) / greatest(1, floor(
                     (block_size - 24) * fillfactor / 100.0
                     / (4 + ceil(header_width / align::numeric) * align
                          + ceil(data_width / align) * align))))
                  * block_size)::bigint
       END AS expected_bytes
FROM widths
ORDER BY relpages DESC
