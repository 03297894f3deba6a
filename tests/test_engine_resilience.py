"""The monitor never waits behind the locks it shows, backs off what keeps failing, and survives
the server going away and coming back."""

import asyncio
import json
import subprocess

import asyncpg
import pytest

from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.profiles.target import resolve_target

from .conftest import dbtop_command, wait_until


async def test_part_blocked_by_a_lock_gives_up_after_lock_timeout_and_backs_off(pg, sessions, pg_target):
    locker = await sessions(app="ddl-migration")
    col = PostgresCollector(pg_target, backoff_base_s=0.5)
    await col.connect()
    try:
        await locker.execute("BEGIN; LOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE")
        snap = await asyncio.wait_for(col.snapshot(), timeout=5)
        server = snap.parts["server"]
        assert not server.available
        assert "lock_timeout" in server.reason and "500 ms" in server.reason
        assert server.retry_at is not None
        # the parts that do not need the locked catalog still arrive
        assert snap.reachable
        assert locker.get_server_pid() in {s.pid for s in snap.sessions}
        assert snap.postgres.activity is not None
        assert "needs the server facts" in snap.parts["statements"].reason

        backed_off = await asyncio.wait_for(col.snapshot(), timeout=5)
        assert "paused until the next retry" in backed_off.parts["server"].reason
        assert backed_off.cost.wall_ms < 400  # did not wait for the lock again

        await locker.execute("ROLLBACK")
        await asyncio.sleep(0.6)
        recovered = await col.snapshot()
        assert recovered.parts["server"].available
        assert recovered.server is not None
        assert recovered.parts["statements"].available
    finally:
        await col.close()


async def test_statement_timeout_marks_the_part_and_the_rest_arrives(pg, sessions, pg_target):
    locker = await sessions()
    col = PostgresCollector(pg_target, statement_timeout_ms=300, lock_timeout_ms=5000)
    await col.connect()
    try:
        await locker.execute("BEGIN; LOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE")
        snap = await asyncio.wait_for(col.snapshot(), timeout=5)
        assert snap.parts["server"].reason == "timed out after 0.3 s (statement_timeout)"
        assert snap.sessions
    finally:
        await locker.execute("ROLLBACK")
        await col.close()


async def test_server_going_away_yields_an_unreachable_snapshot_then_reconnects(start_cluster):
    cluster = start_cluster()
    col = PostgresCollector(resolve_target(cluster.dsn()))
    await col.connect()
    try:
        assert (await col.snapshot()).reachable
        await asyncio.to_thread(cluster.stop, "immediate")
        lost = await asyncio.wait_for(col.snapshot(), timeout=10)
        assert not lost.reachable
        assert "lost" in lost.error or "cannot reach" in lost.error
        down = await asyncio.wait_for(col.snapshot(), timeout=10)
        assert not down.reachable and "cannot reach" in down.error
        await asyncio.to_thread(cluster.start)
        back = await wait_until(col.snapshot, timeout=20)
        assert back.reachable and back.server is not None
    finally:
        await col.close()


async def test_terminated_monitoring_session_reconnects(pg, collector, sessions):
    admin = await sessions()
    assert (await collector.snapshot()).reachable
    await admin.execute("SELECT pg_terminate_backend($1)", collector._conn.get_server_pid())
    lost = await collector.snapshot()
    assert not lost.reachable
    assert (await collector.snapshot()).reachable


def test_snapshot_command_prints_what_it_got_when_the_server_dies(start_cluster):
    cluster = start_cluster()
    proc = subprocess.Popen([*dbtop_command(), "snapshot", cluster.dsn(), "--json", "--count", "20",
                             "--interval", "0.3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    assert json.loads(first)["reachable"] is True
    cluster.stop("immediate")
    out, err = proc.communicate(timeout=30)
    lines = [first] + out.splitlines()
    assert all(json.loads(line)["reachable"] for line in lines if line.strip())
    assert proc.returncode == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("dbtop: snapshot ") and "failed" in err


def test_one_error_map_for_parts_and_catalog_sections():
    from dbtop.engines.postgres.catalog import SECTION_PRIVILEGE, _gap
    from dbtop.engines.postgres.errors import explain_error

    timeout = asyncpg.QueryCanceledError("canceling statement due to statement timeout")
    part = explain_error(timeout, statement_timeout_ms=2000)
    assert part.reason == "timed out after 2 s (statement_timeout)"
    assert _gap("tables", timeout) == ("timed out (statement_timeout); "
                                       "the server is slow to answer this part; dbtop retries it less often")
    denied = asyncpg.InsufficientPrivilegeError("permission denied for function pg_hba_file_rules")
    assert _gap("hba_rules", denied) == f"permission denied for function pg_hba_file_rules; {SECTION_PRIVILEGE['hba_rules']}"
    assert explain_error(asyncpg.UndefinedTableError('relation "x"\n  does not exist')).reason == \
        'relation "x" does not exist'
    # A lost connection or a bug is not a part's failure: the collector reconnects or reports it.
    assert explain_error(asyncpg.AdminShutdownError("terminating connection")) is None
    assert explain_error(ValueError("bug")) is None
    with pytest.raises(asyncpg.AdminShutdownError):
        _gap("tables", asyncpg.AdminShutdownError("terminating connection"))
