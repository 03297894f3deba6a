-- Locks of the sessions in the blocking graph (14 adds waitstart). A relation oid is named only
-- when it belongs to this database (or is shared): regclass would otherwise name another relation.
SELECT l.pid, l.locktype, l.mode, l.granted,
       CASE WHEN l.relation IS NULL THEN NULL
            WHEN l.database IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
              THEN l.relation::regclass::text
            ELSE 'oid ' || l.relation END AS relation,
       extract(epoch FROM now() - l.waitstart)::float8 AS wait_s
FROM pg_locks l
WHERE l.pid = ANY($1::int[]) AND l.locktype <> 'virtualxid'
LIMIT 2000
