-- Server-wide counters, summed over databases; rates come from the difference between polls.
-- pg_is_in_recovery() rides along so a promotion or demotion is seen at once.
SELECT sum(xact_commit)::bigint AS xact_commit, sum(xact_rollback)::bigint AS xact_rollback,
       sum(blks_hit)::bigint AS blks_hit, sum(blks_read)::bigint AS blks_read,
       sum(tup_returned)::bigint AS tup_returned, sum(tup_fetched)::bigint AS tup_fetched,
       sum(tup_inserted)::bigint AS tup_inserted, sum(tup_updated)::bigint AS tup_updated,
       sum(tup_deleted)::bigint AS tup_deleted, sum(deadlocks)::bigint AS deadlocks,
       sum(temp_bytes)::bigint AS temp_bytes,
       pg_is_in_recovery() AS in_recovery
FROM pg_stat_database
