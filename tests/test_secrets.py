"""No password read from the server reaches the operator: every form a statement, a session's query
or an error message can carry is run on a real server and looked for in the snapshot model,
`dbtop snapshot --json`, the panels and both audit formats (issue 10, "Secrets")."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from textual.widgets import DataTable

from dbtop.engines.postgres.cluster import LocalCluster
from dbtop.engines.policy import WatchPolicy
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.profiles.target import resolve_target
from dbtop.tui.screens import DetailScreen

from .conftest import _start_cluster, dbtop_command
from .test_app import dashboard, screen_text, until

# Statements that run and land in pg_stat_statements with their literals (utility statements):
# the secret of each, and a name that must still be shown.
STATEMENTS = {
    "S3cretA-plain": ("CREATE ROLE secret_owner LOGIN PASSWORD 'S3cretA-plain'", "secret_owner"),
    "S3cretB-escaped": ("ALTER USER secret_owner WITH ENCRYPTED PASSWORD E'S3cretB-escaped\\'quote'",
                        "ALTER USER secret_owner"),
    "S3cretC-dollar": ("ALTER ROLE secret_owner PASSWORD $$S3cretC-dollar$$ CONNECTION LIMIT 5",
                       "CONNECTION LIMIT 5"),
    "S3cretD-tagged": ("ALTER ROLE secret_owner PASSWORD $pw$S3cretD-tagged'quote$pw$ VALID UNTIL 'infinity'",
                       "VALID UNTIL"),
    "S3cretE-fdw": ("CREATE USER MAPPING FOR secret_owner SERVER remote OPTIONS (user 'remote_user', "
                    "password 'S3cretE-fdw')", "remote_user"),
    "S3cretF-fdw-set": ("ALTER USER MAPPING FOR secret_owner SERVER remote OPTIONS (SET password 'S3cretF-fdw-set')",
                        "ALTER USER MAPPING"),
    "S3cretG-conninfo": ("CREATE SUBSCRIPTION secret_sub CONNECTION 'host=publisher dbname=app "
                         "password=S3cretG-conninfo' PUBLICATION p WITH (connect = false)", "secret_sub"),
    "S3cretH quoted": ("ALTER SUBSCRIPTION secret_sub CONNECTION 'host=publisher password=''S3cretH quoted'''",
                       "ALTER SUBSCRIPTION"),
    "S3cretI-url": ("DO $$BEGIN PERFORM 'postgresql://app:S3cretI-url@publisher/app'; END$$",
                    "postgresql://app:***@publisher"),
}
# Sessions whose running query carries a secret (pg_stat_activity only): a dblink-style connection
# string, and a statement cut off at track_activity_query_size inside the password.
CUT_PREFIX = "SELECT pg_sleep(600) /* " + "p" * 900 + " */; CREATE ROLE never_made PASSWORD '"
ACTIVITY = {
    "S3cretK-dblink": "SELECT pg_sleep(600), 'host=db dbname=app password=S3cretK-dblink' AS conninfo",
    "S3cretL-cut": CUT_PREFIX + "S3cretL-cut" + "x" * 300 + "'; SELECT 'tail-marker'",
}
# An error the collector passes on as a part's reason: dbtop's refresh log turned into a view that
# raises, echoing a connection string and a URL.
ERROR_SECRETS = ("S3cretM-error", "S3cretN-errurl")
RAISING_REFRESH_LOG = f"""
CREATE FUNCTION raise_refresh_log() RETURNS SETOF record LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION 'refresh log unavailable: could not connect to host=logdb password={ERROR_SECRETS[0]} '
                  'nor postgresql://log:{ERROR_SECRETS[1]}@logdb/log';
END $f$;
CREATE SCHEMA dbtop;
CREATE VIEW dbtop.refresh_log AS
  SELECT * FROM raise_refresh_log() AS r(view_oid oid, started_at timestamptz, finished_at timestamptz,
                                         role name, command text, populated boolean, id bigint);
CREATE MATERIALIZED VIEW daily_totals AS SELECT 1 AS total;
"""
# A setting that carries one (dbtop reads archive_command), and a value an error message echoes.
SETTING_SECRET = "S3cretO-setting"
DATA_SECRET = "S3cretP-data"
SECRETS = [*STATEMENTS, *ACTIVITY, *ERROR_SECRETS, SETTING_SECRET, DATA_SECRET]


def psql_command(cluster: LocalCluster, sql: str) -> list[str]:
    # -c sends the text as one query, so pg_stat_activity shows all of it, as a client's would be.
    return [str(cluster.bindir / "psql"), "-X", "-q", "-h", str(cluster.socket_dir), "-p", str(cluster.port),
            "-U", cluster.superuser, "-d", "postgres", "-c", sql]


def prepare(cluster: LocalCluster, secrets: list[str]) -> None:
    """Set up the objects the statements need, then run the statements of `secrets` on a reset
    pg_stat_statements."""
    role = "" if "S3cretA-plain" in secrets else "CREATE ROLE secret_owner LOGIN;"
    cluster.psql("CREATE EXTENSION pg_stat_statements; CREATE EXTENSION postgres_fdw;"
                 "CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'remote', dbname 'app');"
                 + role + RAISING_REFRESH_LOG)
    cluster.psql("SELECT pg_stat_statements_reset();\n" + ";\n".join(STATEMENTS[s][0] for s in secrets) + ";")


@pytest.fixture(scope="module")
def secrets_server():
    """A server of its own with every statement carrying a secret in pg_stat_statements, and two
    sessions that keep running a query carrying one."""
    cluster = _start_cluster(settings={"archive_mode": "on", "archive_command": f"'PGPASSWORD={SETTING_SECRET} true'"})
    prepare(cluster, list(STATEMENTS))
    sleepers = [subprocess.Popen(psql_command(cluster, sql), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for sql in ACTIVITY.values()]
    try:
        yield cluster
    finally:
        for proc in sleepers:
            proc.terminate()
            proc.wait(timeout=10)
        cluster.destroy()


def assert_no_secret(text: str) -> None:
    leaked = [secret for secret in SECRETS if secret.split("-")[0] in text or secret in text]
    assert not leaked, f"secrets shown: {leaked}"


def statement_texts(snapshot) -> list[str]:
    return [s.query for s in snapshot.statements.entries if s.query and not s.from_dbtop]


async def collected(cluster: LocalCluster):
    collector = PostgresCollector(resolve_target(cluster.dsn()))
    await collector.connect()
    try:
        snapshot = await collector.snapshot()
        await until_sessions_run(collector, snapshot)
        return await collector.snapshot()
    finally:
        await collector.close()


async def until_sessions_run(collector, snapshot) -> None:
    for _ in range(100):
        if sum("pg_sleep(600)" in (s.query or "") for s in snapshot.sessions) == len(ACTIVITY):
            return
        snapshot = await collector.snapshot()
    raise AssertionError("the sessions carrying secrets are not running")


async def test_snapshot_holds_no_secret_and_still_shows_the_statements(secrets_server):
    snapshot = await collected(secrets_server)
    assert_no_secret(snapshot.model_dump_json())
    texts = statement_texts(snapshot)
    for secret, (_, shown) in STATEMENTS.items():  # each statement is still there, its secret hidden
        assert any(shown in t for t in texts), (secret, texts)
    assert sum("PASSWORD '***'" in t for t in texts) == 4  # the four role statements
    queries = [s.query for s in snapshot.sessions if "pg_sleep(600)" in (s.query or "")]
    assert any("password=***' AS conninfo" in q for q in queries)
    cut = next(q for q in queries if "never_made" in q)
    assert cut.endswith("PASSWORD '***'") and "tail-marker" not in cut  # cut off inside the literal
    assert snapshot.server.settings["archive_command"] == "PGPASSWORD=*** true"
    views = snapshot.part("views")
    assert not views.available and "refresh log unavailable" in views.reason
    assert "password=***" in views.reason and "postgresql://log:***@logdb" in views.reason


async def test_error_echoing_a_value_is_redacted(secrets_server):
    """max(column)::timestamptz of a view's data-age column fails with the value in the message."""
    secrets_server.psql("CREATE DATABASE data_age")
    secrets_server.psql(f"CREATE MATERIALIZED VIEW notes AS SELECT 'host=db password={DATA_SECRET}'::text AS note",
                        "data_age")
    collector = PostgresCollector(resolve_target(secrets_server.dsn(database="data_age")),
                                  policy=WatchPolicy(data_age_columns={"notes": "note"}))
    await collector.connect()
    try:
        snapshot = await collector.snapshot()
    finally:
        await collector.close()
    error = snapshot.views.views[0].data_age_error
    assert "invalid input syntax" in error and "password=***" in error
    assert_no_secret(snapshot.model_dump_json())


def test_snapshot_json_command_holds_no_secret(secrets_server):
    result = subprocess.run([*dbtop_command(), "snapshot", secrets_server.dsn(), "--json", "--count", "2",
                             "--interval", "0.5"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert_no_secret(result.stdout + result.stderr)
    snapshots = [json.loads(line) for line in result.stdout.splitlines()]
    texts = [s["query"] or "" for s in snapshots[-1]["statements"]["entries"]]
    assert any("secret_owner LOGIN PASSWORD '***'" in t for t in texts)
    assert any("password=S3c" not in (s["query"] or "") and "pg_sleep(600)" in (s["query"] or "")
               for s in snapshots[-1]["sessions"])


# The audit reports the ten statements that took the most time: a server per group keeps each
# group's statements among them (asyncpg's type introspection and the reset are there too).
ROLE_FORMS = ["S3cretA-plain", "S3cretB-escaped", "S3cretC-dollar", "S3cretD-tagged"]
OTHER_FORMS = [s for s in STATEMENTS if s not in ROLE_FORMS]


@pytest.mark.parametrize("forms", [ROLE_FORMS, OTHER_FORMS], ids=["roles", "fdw-subscriptions-urls"])
def test_audit_reports_hold_no_secret(start_cluster, forms):
    cluster = start_cluster()
    prepare(cluster, forms)
    for report_format in ("md", "json"):
        result = subprocess.run([*dbtop_command(), "audit", cluster.dsn(), "--format", report_format],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert_no_secret(result.stdout + result.stderr)
        if report_format == "json":
            report = "\n".join(s["query"] for s in json.loads(result.stdout)["metrics"]["top_statements"])
        else:
            report = result.stdout.split("## Performance metrics")[1]
        for secret in forms:  # each statement is in the report, its secret hidden
            assert STATEMENTS[secret][1] in report, (secret, report)
        assert "refresh log unavailable" in result.stdout  # the error is reported, without its secrets


async def show_detail(pilot, table: DataTable, row_text: str, containing: str) -> None:
    """Enter on the row with `row_text` in a cell: the detail view shows the whole text."""
    row = next(row for row in range(table.row_count)
               if any(row_text in cell.plain for cell in table.get_row_at(row)))
    table.move_cursor(row=row)
    await pilot.press("enter")
    assert isinstance(pilot.app.screen, DetailScreen)
    detail = screen_text(pilot.app)
    assert containing in detail and "'***'" in detail
    assert_no_secret(detail)
    await pilot.press("escape")


async def test_panels_show_no_secret(secrets_server):
    async with dashboard(resolve_target(secrets_server.dsn()), (160, 50)) as (app, pilot):
        await until(pilot, lambda: sum("pg_sleep(600)" in (s.query or "") for s in app.last_reachable.sessions)
                    == len(ACTIVITY))
        await pilot.press("3")
        await pilot.press("m")  # total time since reset: the statements ran before dbtop started
        table = app.query_one("#statements-table", DataTable)
        await until(pilot, lambda: table.row_count >= len(STATEMENTS))
        await pilot.pause(0.2)
        cells = "\n".join(cell.plain for row in range(table.row_count) for cell in table.get_row_at(row))
        assert "secret_owner LOGIN PASSWORD '***'" in cells
        assert_no_secret(cells + screen_text(app))
        await show_detail(pilot, table, "CREATE USER MAPPING", "remote_user")

        await pilot.press("1")
        connections = app.query_one("#connections-table", DataTable)
        cells = "\n".join(cell.plain for row in range(connections.row_count) for cell in connections.get_row_at(row))
        assert "pg_sleep(600)" in cells
        assert_no_secret(cells + screen_text(app))
        await show_detail(pilot, connections, "pppp", "never_made")  # its cell ends before the password

        await pilot.press("5")
        await until(pilot, lambda: "refresh log unavailable" in screen_text(app))
        assert_no_secret(screen_text(app))
        assert re.search(r"password=\*\*\*", screen_text(app))
