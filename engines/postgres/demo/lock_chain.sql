-- How deep the deepest blocking chain in the current database is, and how many sessions wait on
-- a lock: "3|3" once a session waits behind one that itself waits behind a third.
WITH RECURSIVE waits AS (
    SELECT a.pid, unnest(pg_blocking_pids(a.pid)) AS blocker
    FROM pg_stat_activity a
    WHERE a.wait_event_type = 'Lock' AND a.datname = current_database()
), chain (pid, depth) AS (
    SELECT DISTINCT w.blocker, 1
    FROM waits w
    WHERE w.blocker NOT IN (SELECT pid FROM waits)
    UNION ALL
    SELECT w.pid, c.depth + 1
    FROM waits w
    JOIN chain c ON w.blocker = c.pid
    WHERE c.depth < 10
)
SELECT coalesce((SELECT max(depth) FROM chain), 0) AS depth,
       (SELECT count(DISTINCT pid) FROM waits) AS waiting
