-- Whether backend $1 is still there (a signalled or cancelled action's backend).
SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)
