-- Schema and security facts in one round trip, each a JSON array: SECURITY DEFINER functions without
-- a fixed search_path, untrusted procedural languages, schemas where PUBLIC may CREATE, tables with
-- row-level policies that are not enforced, partitioned tables (with their default partition and
-- range bounds), and, for the tables examined ($1: their oids), columns of types to avoid, foreign
-- keys whose column type differs from the referenced one, *_id columns no foreign key covers, and
-- single-column indexes on mostly-NULL columns. Catalog only: no definition that opens a relation
-- (partition bounds are deparsed without one: they hold constants only). The examined tables are
-- joined as a set: `= ANY` of a 2,000-element array over pg_attribute compares every row with each.
WITH examined AS MATERIALIZED (SELECT DISTINCT unnest($1::oid[]) AS oid),
-- one pass over pg_attribute for both column sections
columns AS MATERIALIZED (
    SELECT a.attrelid, a.attnum, a.attname, a.atttypid, a.atttypmod
    FROM pg_attribute a
    WHERE a.attnum > 0 AND NOT a.attisdropped
      AND (a.atttypid IN ('timestamp'::regtype, 'money'::regtype)
           OR (a.atttypid = 'bpchar'::regtype AND a.atttypmod > 5)
           OR (a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'uuid'::regtype)
               AND a.attname::text LIKE '_%\_id'))
      AND a.attrelid IN (SELECT oid FROM examined)
),
-- the mostly-NULL columns' statistics, read once as a set: joined per index by name, pg_stats hashed every
-- relation of pg_class for its privilege checks (at 5,000 tables ~70 ms against ~40 ms this way)
mostly_null AS MATERIALIZED (
    SELECT s.schemaname, s.tablename, s.attname, s.null_frac
    FROM pg_stats s
    WHERE s.null_frac >= 0.5 AND NOT s.inherited
)
SELECT
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT n.nspname AS schema_name, p.proname AS name, pg_get_function_identity_arguments(p.oid) AS arguments,
            pg_get_userbyid(p.proowner) AS owner
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'dbtop')
       AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                                   AND d.deptype = 'e')
     ORDER BY 1, 2 LIMIT 200) x) AS definer_functions,
  (SELECT coalesce(json_agg(lanname ORDER BY lanname), '[]') FROM pg_language
   WHERE lanispl AND NOT lanpltrusted) AS untrusted_languages,
  (SELECT coalesce(json_agg(n.nspname ORDER BY n.nspname), '[]') FROM pg_namespace n
   WHERE EXISTS (SELECT 1 FROM aclexplode(n.nspacl) a WHERE a.grantee = 0 AND a.privilege_type = 'CREATE'))
     AS public_create_schemas,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT n.nspname AS schema_name, c.relname AS "table", count(*) AS policies
     FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE NOT c.relrowsecurity
     GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 200) x) AS unenforced_policies,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT n.nspname AS schema_name, c.relname AS name, pt.partstrat::text AS strategy,
            (SELECT count(*) FROM pg_inherits h WHERE h.inhparent = c.oid) AS partition_count,
            dp.relname AS default_partition,
            CASE WHEN dp.oid IS NOT NULL THEN greatest(dp.reltuples, 0)::bigint END AS default_rows,
            CASE WHEN pt.partstrat = 'r' THEN ARRAY(
                SELECT substring(pg_get_expr(ch.relpartbound, 0) FROM 'TO \((.*)\)$')
                FROM pg_inherits h JOIN pg_class ch ON ch.oid = h.inhrelid
                WHERE h.inhparent = c.oid AND ch.oid <> pt.partdefid
                LIMIT 2000) END AS upper_bounds
     FROM pg_partitioned_table pt
     JOIN pg_class c ON c.oid = pt.partrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_class dp ON dp.oid = pt.partdefid
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'dbtop') AND NOT c.relispartition
     ORDER BY 1, 2 LIMIT 200) x) AS partitioned_tables,
  -- the per-table sections filter on pg_attribute, pg_constraint and pg_index alone (index probes
  -- per examined table), then name the few rows that remain
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT (SELECT nspname FROM pg_namespace WHERE oid = (SELECT relnamespace FROM pg_class WHERE oid = a.attrelid))
                AS schema_name,
            (SELECT relname FROM pg_class WHERE oid = a.attrelid) AS "table",
            array_agg(format('%s %s', a.attname, format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum) AS columns
     FROM columns a
     WHERE a.atttypid IN ('timestamp'::regtype, 'money'::regtype)
        OR (a.atttypid = 'bpchar'::regtype AND a.atttypmod > 5)
     GROUP BY a.attrelid ORDER BY 1, 2 LIMIT 500) x) AS avoided_types,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT (SELECT nspname FROM pg_namespace WHERE oid = t.relnamespace) AS schema_name, t.relname AS "table",
            m.conname AS name, m.attname AS "column", m.column_type,
            (SELECT nspname FROM pg_namespace WHERE oid = r.relnamespace) AS referenced_schema,
            r.relname AS referenced_table, m.referenced_column, m.referenced_type
     FROM (SELECT k.conrelid, k.confrelid, k.conname, a.attname, format_type(a.atttypid, a.atttypmod) AS column_type,
                  ra.attname AS referenced_column, format_type(ra.atttypid, ra.atttypmod) AS referenced_type
           FROM examined e
           JOIN pg_constraint k ON k.conrelid = e.oid AND k.contype = 'f' AND cardinality(k.conkey) = 1
           JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
           JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1]
           WHERE a.atttypid <> ra.atttypid
           LIMIT 500) m
     JOIN pg_class t ON t.oid = m.conrelid
     JOIN pg_class r ON r.oid = m.confrelid
     ORDER BY 1, 2, 3) x) AS foreign_key_type_mismatches,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT (SELECT nspname FROM pg_namespace WHERE oid = (SELECT relnamespace FROM pg_class WHERE oid = a.attrelid))
                AS schema_name,
            (SELECT relname FROM pg_class WHERE oid = a.attrelid) AS "table", a.attname AS "column"
     FROM columns a
     WHERE a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'uuid'::regtype)
       AND a.attname::text LIKE '_%\_id'
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = a.attrelid AND k.contype IN ('f', 'p')
                                                       AND a.attnum = ANY (k.conkey))
     ORDER BY 1, 2, 3 LIMIT 500) x) AS unreferenced_id_columns,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT n.nspname AS schema_name, t.relname AS "table", ic.relname AS name, a.attname AS "column",
            st.null_frac, ic.relpages::bigint * current_setting('block_size')::bigint AS size_bytes
     FROM (SELECT i.indexrelid, i.indrelid, i.indkey[0] AS attnum
           FROM examined e JOIN pg_index i ON i.indrelid = e.oid
           WHERE i.indnatts = 1 AND i.indpred IS NULL AND NOT i.indisunique AND i.indkey[0] <> 0) i
     JOIN pg_class ic ON ic.oid = i.indexrelid
     JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
     JOIN pg_class t ON t.oid = i.indrelid
     JOIN pg_namespace n ON n.oid = t.relnamespace
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.attnum
     JOIN mostly_null st ON st.schemaname = n.nspname AND st.tablename = t.relname AND st.attname = a.attname
     ORDER BY ic.relpages DESC LIMIT 200) x) AS mostly_null_indexes
