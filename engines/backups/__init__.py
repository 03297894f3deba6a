"""The backup inventory (dbtop's own backup files and pgBackRest's), read off the file system and
handed to a collector, which adds only what the server says about WAL archiving."""
