-- Locks of the sessions in the blocking graph. A relation oid is named only when it belongs to
-- this database (or is shared): regclass would otherwise name an unrelated local relation.
SELECT l.pid, l.locktype, l.mode, l.granted,
       CASE WHEN l.relation IS NULL THEN NULL
            WHEN l.database IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
              THEN l.relation::regclass::text
            ELSE 'oid ' || l.relation END AS relation,
       NULL::float8 AS wait_s
FROM pg_locks l
WHERE l.pid = ANY($1::int[]) AND l.locktype <> 'virtualxid'
LIMIT 2000
