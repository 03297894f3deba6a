-- pg_stat_statements 1.7 and older (PostgreSQL 12): one total_time. No text: texts are fetched
-- once per new queryid, so the query-text file is not read on every poll.
-- $1: the signatures of the last reading (see statements@14.sql): only new or moved entries come
-- back whole, and the signatures no entry carries any more come back in `gone`.
SELECT n.*, k.signature AS gone
FROM (SELECT s.userid::bigint AS user_id, s.dbid::bigint AS database_id, s.queryid AS query_id,
             true AS toplevel, s.calls, s.total_time AS total_time_ms, s.rows,
             s.shared_blks_hit, s.shared_blks_read,
             hashfloat8extended(s.total_time, hashint8extended(s.calls,
               hashint8extended(s.queryid, hashint8extended(s.userid::bigint, s.dbid::bigint)))) AS signature
      FROM pg_stat_statements(false) s
      WHERE s.queryid IS NOT NULL
      OFFSET 0) n  -- so that each signature is worked out once, not in the join and again in the filter
     FULL JOIN unnest($1::text::bigint[]) AS k(signature) ON n.signature = k.signature
WHERE n.signature IS NULL OR k.signature IS NULL
