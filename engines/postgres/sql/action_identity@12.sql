-- Which server an action is planned and run on: the system identifier tells a rebuilt or
-- failed-over server from the one a plan was made on (pg_control_system() is PUBLIC).
SELECT (SELECT system_identifier FROM pg_control_system())::text AS system_identifier,
       current_database() AS database
