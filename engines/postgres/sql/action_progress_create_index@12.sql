-- How far the CREATE INDEX or REINDEX of backend $1 is: blocks while it scans the table, else tuples.
SELECT phase::text AS phase,
       CASE WHEN blocks_total > 0 THEN blocks_done ELSE tuples_done END AS done,
       CASE WHEN blocks_total > 0 THEN blocks_total ELSE tuples_total END AS total,
       CASE WHEN blocks_total > 0 THEN 'blocks' ELSE 'tuples' END AS unit
FROM pg_stat_progress_create_index WHERE pid = $1
