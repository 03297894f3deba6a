-- Settings the catalog's rules judge ($1: their names), with each one's unit-free value and where it
-- was set (a default left as it was reads 'default').
SELECT name, setting, coalesce(unit, '') AS unit, source
FROM pg_settings
WHERE name = ANY ($1::text[])
