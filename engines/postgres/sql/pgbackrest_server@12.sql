-- What a pgBackRest backup of this server rests on: WAL archiving (pgBackRest refuses a backup
-- whose WAL cannot be archived) and whether it is a standby (backed up only with backup-standby).
SELECT current_setting('archive_mode') AS archive_mode,
       pg_is_in_recovery() AS in_recovery
