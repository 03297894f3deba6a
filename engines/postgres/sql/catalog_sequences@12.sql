-- Sequences ($1 at most, the largest share of their range used first), each with the column it
-- feeds (owned by, or an identity column): an integer column runs out at 2^31 whatever the
-- sequence's own maximum. last_value is NULL for a sequence never used or not readable by this role.
WITH seqs AS (
    SELECT s.schemaname, s.sequencename, s.data_type, s.last_value, s.max_value, s.increment_by,
           col.column_schema, col.column_table, col.column_name, col.column_type,
           CASE col.column_type WHEN 'smallint' THEN 32767 WHEN 'integer' THEN 2147483647 END AS column_max
    FROM pg_sequences s
    LEFT JOIN LATERAL (
        SELECT tn.nspname AS column_schema, t.relname AS column_table, a.attname AS column_name,
               format_type(a.atttypid, NULL) AS column_type
        FROM pg_depend d
        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_namespace tn ON tn.oid = t.relnamespace
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
          AND d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
          AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
        LIMIT 1) col ON true
    WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema', 'dbtop')
)
SELECT schemaname AS schema_name, sequencename AS name, data_type::text AS data_type, last_value,
       max_value, increment_by AS increment, column_schema, column_table, column_name, column_type, count(*) OVER () AS total
FROM seqs
ORDER BY last_value::numeric / nullif(least(max_value, coalesce(column_max, max_value)), 0) DESC NULLS LAST,
         schemaname, sequencename
LIMIT $1
