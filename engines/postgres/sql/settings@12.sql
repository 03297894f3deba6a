-- Settings the panels and rules read. pg_settings hides rows the role may not read. dbtop SETs
-- its own timeouts in its session, so for those the value shown is the one the session would
-- reset to: the server's, database's or role's setting, not dbtop's.
SELECT name,
       CASE WHEN source = 'session' AND reset_val IN ('0', '-1') THEN reset_val
            WHEN source = 'session' THEN reset_val || coalesce(unit, '')
            ELSE current_setting(name) END AS value
FROM pg_settings
WHERE name = ANY($1::text[])
