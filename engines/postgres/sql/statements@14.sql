-- pg_stat_statements 1.9 and newer (PostgreSQL 14+): toplevel is part of an entry's key. $1: the
-- signatures (an entry's key and counters, hashed) of the entries the collector read last time, as
-- one array literal (text: see signatures.py). An entry still carrying one of them has not moved
-- and is not sent again; an entry that is new or moved comes back whole; a signature no entry
-- carries any more (the entry moved, was evicted, or reset) comes back alone in `gone`.
SELECT n.*, k.signature AS gone
FROM (SELECT s.userid::bigint AS user_id, s.dbid::bigint AS database_id, s.queryid AS query_id,
             s.toplevel, s.calls, s.total_exec_time + s.total_plan_time AS total_time_ms, s.rows,
             s.shared_blks_hit, s.shared_blks_read,
             hashfloat8extended(s.total_exec_time + s.total_plan_time, hashint8extended(s.calls,
               hashint8extended(s.queryid, hashint8extended(s.userid::bigint,
                 s.dbid::bigint * 2 + s.toplevel::int)))) AS signature
      FROM pg_stat_statements(false) s
      WHERE s.queryid IS NOT NULL
      OFFSET 0) n  -- so that each signature is worked out once, not in the join and again in the filter
     FULL JOIN unnest($1::text::bigint[]) AS k(signature) ON n.signature = k.signature
WHERE n.signature IS NULL OR k.signature IS NULL
