-- One row per backend (14 adds query_id), and only for the backends that changed since the last
-- poll. $1: the signatures (hashed values of every column but the durations) of the rows the
-- collector holds, as one array literal (text: see signatures.py). A backend still carrying one of
-- them has not changed: only its durations moved, and the collector keeps it as it was, the
-- snapshot counting its durations on to `now_s`. A
-- new or changed backend comes back whole; a signature no backend carries any more comes back alone
-- in `gone`. Every row starts with `now_s` and the server-wide counters, and one row always comes
-- back, even when nothing changed.
-- pg_blocking_pids is only called for sessions waiting on a lock: it takes the lock manager's
-- partition locks and is too costly for every row.
SELECT t.*, d.*
FROM (SELECT extract(epoch FROM now())::float8 AS now_s,
             -- server-wide counters, summed over databases (rates come from the difference between
             -- polls), and pg_is_in_recovery() so a promotion or demotion is seen at once: read in
             -- the same statement to spare the server a round trip per poll
             sum(xact_commit)::bigint AS xact_commit, sum(xact_rollback)::bigint AS xact_rollback,
             sum(blks_hit)::bigint AS blks_hit, sum(blks_read)::bigint AS blks_read,
             sum(tup_returned)::bigint AS tup_returned, sum(tup_fetched)::bigint AS tup_fetched,
             sum(tup_inserted)::bigint AS tup_inserted, sum(tup_updated)::bigint AS tup_updated,
             sum(tup_deleted)::bigint AS tup_deleted, sum(deadlocks)::bigint AS deadlocks,
             sum(temp_bytes)::bigint AS temp_bytes,
             pg_is_in_recovery() AS in_recovery
      FROM pg_stat_database) t
LEFT JOIN (
  SELECT n.pid, n."user", n.database, n.application, n.client, n.backend_type, n.state,
         n.wait_event_type, n.wait_event, n.backend_start, n.xact_start, n.query_start,
         extract(epoch FROM now() - n.state_change)::float8 AS state_s,
         extract(epoch FROM now() - n.xact_start)::float8 AS xact_s,
         extract(epoch FROM now() - n.query_start)::float8 AS query_s,
         n.query_id, n.query, n.blocked_by, n.signature, k.signature AS gone
  FROM (SELECT v.*, hash_record_extended(v, 0) AS signature
        FROM (SELECT a.pid, a.usename::text AS "user", a.datname::text AS database,
                     a.application_name AS application,
                     CASE WHEN a.client_port = -1 THEN 'local'
                          WHEN a.client_addr IS NOT NULL THEN host(a.client_addr) || ':' || a.client_port
                     END AS client,
                     a.backend_type, a.state, a.wait_event_type, a.wait_event,
                     a.backend_start, a.xact_start, a.query_start, a.state_change, a.query_id, a.query,
                     CASE WHEN a.wait_event_type = 'Lock'
                            -- another role's row hides its wait event (and its type) from a role
                            -- without pg_read_all_stats; pg_locks, readable by all, says whether it
                            -- waits (read once)
                            OR (a.backend_type IS NULL
                                AND a.pid = ANY (ARRAY(SELECT l.pid FROM pg_locks l WHERE NOT l.granted)))
                          THEN pg_blocking_pids(a.pid) ELSE '{}' END AS blocked_by
              FROM pg_stat_activity a) v
        OFFSET 0) n  -- so that each signature is worked out once, not in the join and again in the filter
  FULL JOIN unnest($1::text::bigint[]) AS k(signature) ON n.signature = k.signature
  WHERE n.signature IS NULL OR k.signature IS NULL) d ON true
