-- How far the VACUUM of backend $1 is.
SELECT phase::text AS phase, heap_blks_scanned AS done, heap_blks_total AS total
FROM pg_stat_progress_vacuum WHERE pid = $1
