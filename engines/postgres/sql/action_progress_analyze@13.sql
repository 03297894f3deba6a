-- How far the ANALYZE of backend $1 is.
SELECT phase::text AS phase, sample_blks_scanned AS done, sample_blks_total AS total
FROM pg_stat_progress_analyze WHERE pid = $1
