DROP EVENT TRIGGER IF EXISTS dbtop_record_refresh;
DROP FUNCTION IF EXISTS dbtop.record_refresh();
DROP TABLE IF EXISTS dbtop.refresh_log;
DROP SCHEMA IF EXISTS dbtop;
