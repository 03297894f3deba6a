-- Prepared transactions (two-phase commit) waiting for COMMIT PREPARED or ROLLBACK PREPARED.
SELECT gid, prepared, owner, database, age(transaction) AS xid_age
FROM pg_prepared_xacts
ORDER BY prepared
LIMIT 100
