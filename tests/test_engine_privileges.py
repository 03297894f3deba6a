"""dbtop must work as a plain role granted pg_monitor, and say what a role without it misses."""

import asyncio
import subprocess

import pytest
from textual.widgets import Static

from dbtop.engines.policy import WatchPolicy
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.profiles.target import resolve_target
from dbtop.tui.app import DbtopApp
from dbtop.tui.poller import SnapshotPoller

from .conftest import dbtop_command, wait_until
from .test_app import dashboard, rows, screen_text, until


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


# -- a role with no grants at all: what it can read it shows, what it cannot it says ----------------

@pytest.fixture(scope="module")
def no_grants(pg):
    """`no_grants`: a login role granted nothing. `lock_app`: the role whose sessions wait, owning `ledger`."""
    pg.psql("""
        DROP ROLE IF EXISTS no_grants; CREATE ROLE no_grants LOGIN;
        DROP TABLE IF EXISTS ledger; DROP ROLE IF EXISTS lock_app; CREATE ROLE lock_app LOGIN;
        CREATE TABLE ledger (id int PRIMARY KEY, v int); INSERT INTO ledger VALUES (1, 0);
        ALTER TABLE ledger OWNER TO lock_app;
    """)
    yield "no_grants"
    pg.psql("DROP TABLE IF EXISTS ledger")


@pytest.fixture
async def row_lock_queue(pg, no_grants, sessions):
    """lock_app's holder keeps row 1 of ledger locked, idle in transaction; three more lock_app
    sessions wait for it."""
    holder = await sessions(user="lock_app", app="ledger-holder")
    await holder.execute("BEGIN; UPDATE ledger SET v = 1 WHERE id = 1")
    watcher = await sessions()
    waiters, waits = [], []
    for n in range(3):
        waiter = await sessions(user="lock_app", app=f"ledger-waiter-{n}")
        waits.append(asyncio.ensure_future(waiter.execute("UPDATE ledger SET v = 2 WHERE id = 1")))
        waiters.append(waiter.get_server_pid())
        await wait_until(lambda: watcher.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", waiters[-1]))
    yield {"holder": holder.get_server_pid(), "waiters": waiters, "watcher": watcher}
    holder.terminate()
    await asyncio.gather(*waits, return_exceptions=True)


async def test_role_without_grants_builds_the_blocking_graph_and_counts_client_backends(pg, row_lock_queue):
    col = PostgresCollector(resolve_target(pg.dsn(user="no_grants")))
    await col.connect()
    try:
        watcher = row_lock_queue["watcher"]
        for _ in range(10):  # an autovacuum worker may come or go between the two readings
            snap = await col.snapshot()
            seen = await watcher.fetchrow(
                "SELECT count(*) FILTER (WHERE backend_type = 'client backend') AS clients,"
                "       count(*) FILTER (WHERE backend_type <> 'client backend' AND usesysid IS NOT NULL"
                "                        AND datid IS NOT NULL) AS look_alike,"
                "       count(*) FILTER (WHERE backend_type = 'client backend' AND usename <> 'no_grants') AS hidden "
                "FROM pg_stat_activity")
            again = await col.snapshot()
            if again.connections_used == snap.connections_used:
                break
        assert snap.blocking.blocked_count == 3
        assert [root.pid for root in snap.blocking.roots] == [row_lock_queue["holder"]]
        root = snap.blocking.roots[0]
        assert root.blocks_total == 3
        assert any(lock.relation == "ledger" and lock.mode == "RowExclusiveLock" for lock in root.holds)
        waiting = {s.pid: s for s in snap.sessions if s.blocked_by}
        assert set(waiting) == set(row_lock_queue["waiters"])
        # client backends only: not the checkpointer, walwriter or launchers, whose rows are visible too
        # (their type hidden); autovacuum and parallel workers look like clients to this role
        assert seen["clients"] <= snap.connections_used <= seen["clients"] + seen["look_alike"]
        assert snap.connections_hidden >= seen["hidden"] >= 5
        assert snap.parts["sessions"].available and "hidden" in snap.parts["sessions"].reason
    finally:
        await col.close()


async def test_locks_panel_of_a_role_without_grants_shows_the_waiting_sessions(pg, row_lock_queue):
    async with dashboard(resolve_target(pg.dsn(user="no_grants")), (120, 40)) as (app, pilot):
        await until(pilot, lambda: app.last_reachable.blocking.blocked_count == 3)
        await pilot.press("2")
        await pilot.pause(0.6)
        text = screen_text(app)
        assert "No session is waiting" not in text
        assert "3 sessions waiting behind 1 root blocker" in text
        holder = row_lock_queue["holder"]
        assert rows(app, "locks-table")[0] == str(holder)
        assert {key.rsplit("/", 1)[-1] for key in rows(app, "locks-table")} >= {
            str(pid) for pid in row_lock_queue["waiters"]}
        assert "≈" in app.query_one("#overview-gauge", Static).render().plain  # the count is partial


# Per panel: its number key, the parts it shows, and the texts that would say "nothing wrong".
ALL_CLEAR = {
    "connections": ("1", ("sessions",), ("0 active", "0 waiting on locks")),
    "locks": ("2", ("sessions", "locks"), ("No session is waiting for a lock.",)),
    "statements": ("3", ("statements",), ("0 statements tracked",)),
    "replication": ("4", ("replication",), ("no standby is connected",)),
    "views": ("5", ("views",), ("0 materialized view(s)",)),
    "backups": ("6", ("backups",), ()),
    "findings": ("7", ("sessions", "statements", "replication", "views", "backups", "catalog"),
                 ("no findings in this snapshot",)),
}


async def test_no_panel_shows_an_all_clear_for_what_a_role_without_grants_could_not_read(
        pg, standby, row_lock_queue, tmp_path):
    policy = WatchPolicy(backup_dir=str(tmp_path))
    poller = SnapshotPoller(PostgresCollector(resolve_target(pg.dsn(user="no_grants")), policy=policy,
                                              catalog_first_after_s=0), 0.5)
    await asyncio.to_thread(poller.connect)
    app = DbtopApp(poller, theme_name="dbtop-dark")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.last_reachable is not None and app.last_reachable.postgres.catalog is not None
                    and app.last_reachable.views is not None and app.last_reachable.backups is not None)
        await app.other_panels_composed()
        await until(pilot, lambda: app.panel("findings").findings_for >= app.last_reachable.sequence)
        snap = app.last_reachable
        not_whole = {name: part for name, part in snap.parts.items() if not part.available or part.reason}
        assert {"sessions", "statements"} <= set(not_whole)  # what a role without grants cannot read
        for panel, (key, parts, all_clear) in ALL_CLEAR.items():
            await pilot.press(key)
            await pilot.pause(0.3)
            text = " ".join(screen_text(app).split())
            for name in parts:
                part = not_whole.get(name)
                if part is None:
                    continue
                for phrase in all_clear:
                    assert phrase not in text, f"{panel} says {phrase!r} though {name} is partial: {part.reason}"
                reason = " ".join(part.reason.split())[:40]
                assert reason in text, f"{panel} does not say what of {name} is hidden ({reason!r})"


async def test_locks_panel_says_waits_are_unknown_when_the_sessions_could_not_be_read():
    from datetime import datetime, timezone

    from textual.app import App

    from dbtop.engines.snapshot import PartStatus, Snapshot
    from dbtop.panels.locks import LocksPanel

    class Host(App):
        def compose(self):
            yield LocksPanel()

    snapshot = Snapshot(sequence=1, taken_at=datetime.now(timezone.utc), target="t", engine="postgres",
                        reachable=True, parts={"sessions": PartStatus(available=False, reason="permission denied",
                                                                      fix="GRANT pg_monitor TO app")})
    async with Host().run_test(size=(120, 20)) as pilot:
        pilot.app.query_one(LocksPanel).apply(snapshot)
        await pilot.pause()
        text = screen_text(pilot.app)
        assert "No session is waiting" not in text
        assert "Lock waits unknown" in text and "GRANT pg_monitor TO app" in text
