"""dbtop must work as a plain role granted pg_monitor, and say what a role without it misses."""

import subprocess

import pytest

from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.profiles.target import resolve_target

from .conftest import dbtop_command


@pytest.fixture(scope="module")
def roles(pg):
    pg.psql("""
        DROP ROLE IF EXISTS watcher; CREATE ROLE watcher LOGIN; GRANT pg_monitor TO watcher;
        DROP ROLE IF EXISTS nobody_special; CREATE ROLE nobody_special LOGIN;
        DROP ROLE IF EXISTS locked_out; CREATE ROLE locked_out LOGIN;
        DROP DATABASE IF EXISTS guarded;
        CREATE DATABASE guarded;
        REVOKE CONNECT ON DATABASE guarded FROM PUBLIC;
    """)
    pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", database="guarded")


async def test_pg_monitor_role_sees_everything(pg, roles, sessions):
    busy = await sessions(app="api")
    await busy.execute("BEGIN; SELECT 'secret plan' AS q")
    col = PostgresCollector(resolve_target(pg.dsn(user="watcher")))
    await col.connect()
    try:
        await col.snapshot()
        snap = await col.snapshot()
        assert not snap.server.is_superuser
        assert "pg_monitor" in snap.server.monitoring_roles
        assert all(part.available and part.reason is None for part in snap.parts.values()), snap.parts
        other = next(s for s in snap.sessions if s.pid == busy.get_server_pid())
        assert "secret plan" in other.query
        assert snap.statements.entries
        assert snap.replication is not None
    finally:
        await col.close()


async def test_role_without_pg_monitor_gets_partial_snapshot_with_reasons(pg, roles, sessions):
    busy = await sessions(app="api")
    await busy.execute("BEGIN; SELECT 'hidden plan' AS q")
    col = PostgresCollector(resolve_target(pg.dsn(user="nobody_special")))
    await col.connect()
    try:
        snap = await col.snapshot()
        assert snap.reachable
        sessions_part = snap.parts["sessions"]
        assert sessions_part.available
        assert "hidden" in sessions_part.reason
        assert sessions_part.fix.startswith("GRANT pg_monitor TO nobody_special")
        other = next(s for s in snap.sessions if s.pid == busy.get_server_pid())
        assert "hidden plan" not in (other.query or "")
        assert "GRANT pg_monitor" in snap.parts["statements"].fix
    finally:
        await col.close()


def test_role_without_connect_privilege_is_one_line_exit_2(pg, roles):
    result = subprocess.run([*dbtop_command(), "snapshot", pg.dsn(user="locked_out", database="guarded"), "--json"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "GRANT CONNECT ON DATABASE guarded TO locked_out" in result.stderr
