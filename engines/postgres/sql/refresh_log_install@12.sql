CREATE SCHEMA dbtop;
COMMENT ON SCHEMA dbtop IS 'dbtop: refresh log of materialized views; remove with dbtop views uninstall-refresh-log';
CREATE TABLE dbtop.refresh_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    view_oid oid NOT NULL,
    view_name text NOT NULL,
    command text NOT NULL,
    populated boolean NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    role name NOT NULL
);
CREATE INDEX refresh_log_view_oid_id_idx ON dbtop.refresh_log (view_oid, id DESC);
-- SECURITY DEFINER so that a view's owner who is not a superuser can refresh it and be logged
-- without being able to write the log directly; session_user is the role that logged in.
CREATE FUNCTION dbtop.record_refresh() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    command record;
BEGIN
    FOR command IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE object_type = 'materialized view' LOOP
        INSERT INTO dbtop.refresh_log (view_oid, view_name, command, populated, started_at, finished_at, role)
        SELECT command.objid, command.object_identity, command.command_tag, c.relispopulated,
               statement_timestamp(), clock_timestamp(), session_user
        FROM pg_class c WHERE c.oid = command.objid;
        -- keep the newest 50 refreshes of each view
        DELETE FROM dbtop.refresh_log
        WHERE view_oid = command.objid
          AND id <= (SELECT id FROM dbtop.refresh_log WHERE view_oid = command.objid ORDER BY id DESC OFFSET 50 LIMIT 1);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION dbtop.record_refresh() FROM PUBLIC;
CREATE EVENT TRIGGER dbtop_record_refresh ON ddl_command_end
    WHEN TAG IN ('REFRESH MATERIALIZED VIEW', 'CREATE MATERIALIZED VIEW')
    EXECUTE FUNCTION dbtop.record_refresh();
GRANT USAGE ON SCHEMA dbtop TO pg_monitor;
GRANT SELECT ON dbtop.refresh_log TO pg_monitor;
