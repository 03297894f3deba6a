-- When each materialized view's relation file was last written (needs EXECUTE on pg_stat_file).
SELECT c.oid, (pg_stat_file(pg_relation_filepath(c.oid), true)).modification AS file_modified_at
FROM pg_class c
WHERE c.relkind = 'm'
