"""The dashboard's first snapshot reads only what its first screen shows (the overview, sessions and
locks); pg_stat_statements, the views, the backup inventory and the cluster manager are read by the
poll that follows at once, and until then they say they are not read yet, never empty or fine."""

from __future__ import annotations

import asyncio
import gc
import threading

from dbtop.engines.postgres.collector import AFTER_FIRST_SCREEN, NOT_READ_YET, PostgresCollector
from dbtop.engines.snapshot import Statements
from dbtop.panels.base import Panel
from dbtop.tui.app import DbtopApp
from dbtop.tui import poller as poller_module
from dbtop.tui.poller import SnapshotPoller

from . import fakes as f
from .fakes import FakeCollector
from .test_app import screen_text, until


async def test_the_first_screen_snapshot_leaves_the_costly_parts_for_the_next_poll(pg_target, sessions):
    conn = await sessions(app="first-screen probe")
    await conn.execute("BEGIN; SELECT 1")
    col = PostgresCollector(pg_target)
    await col.connect()
    try:
        assert col.first_screen_only() is True
        first = await col.snapshot()
        assert first.reachable and first.server is not None and first.postgres.activity is not None
        assert any(s.application == "first-screen probe" for s in first.sessions)
        assert first.statements.entries == [] and first.statements.extension_version is None
        assert first.views is None and first.backups is None
        assert first.postgres.manager is None and first.postgres.archiving is None
        for name in AFTER_FIRST_SCREEN:
            part = first.part(name)
            assert not part.available and "not read yet" in part.reason, (name, part)
        assert first.part("sessions").available and first.part("replication").available

        full = await col.snapshot()  # only the first snapshot after the request is partial
        assert full.statements.extension_version and full.statements.entries
        assert full.views is not None and full.backups is not None and full.postgres.manager is not None
        for name in AFTER_FIRST_SCREEN:
            assert full.part(name).available, (name, full.part(name))
    finally:
        await col.close()


async def test_without_the_request_the_first_snapshot_reads_everything(collector):
    first = await collector.snapshot()
    assert first.statements.extension_version and first.views is not None and first.backups is not None
    assert first.postgres.manager is not None


class FirstScreenCollector(FakeCollector):
    """Serves a first-screen-only snapshot, then the full one once `release` is set (so the test can
    look at the screen in between)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.release = threading.Event()

    def first_screen_only(self) -> bool:
        return True

    async def snapshot(self):
        if self.served:
            await asyncio.to_thread(self.release.wait, 10)
        return await super().snapshot()


class MountWatchingApp(DbtopApp):
    """Notes the snapshot shown once it is mounted (Textual calls this class's on_mount, then
    DbtopApp's; the note is taken right after both, before any other message)."""
    shown_at_mount = None

    def on_mount(self) -> None:
        self.call_next(lambda: setattr(self, "shown_at_mount", self.latest))


def first_screen_snapshot():
    return f.healthy(statements=Statements(), views=None, backups=None, archiving=None,
                     parts={name: NOT_READ_YET for name in AFTER_FIRST_SCREEN})


async def test_the_dashboard_shows_sessions_first_says_what_is_not_read_yet_and_gets_the_rest_at_once(monkeypatch):
    """...and the findings: the rules first run on the whole snapshot read right after the first
    screen (their first run, ~30 ms, would slow that screen down), saying until then that they are
    being checked."""
    monkeypatch.setattr(poller_module, "REST_AFTER_FIRST_SCREEN_S", 60)  # the app must say it drew the first screen
    collector = FirstScreenCollector([first_screen_snapshot(), f.healthy()])
    poller = SnapshotPoller(collector, 60)  # a full interval would fail the wait below
    try:
        await asyncio.to_thread(poller.connect)
        poller.prefetch()  # as run_dashboard does
        await asyncio.to_thread(lambda: poller._first.result(5))  # taken while Textual starts, as it usually is
        app = MountWatchingApp(poller, theme_name="dbtop-dark")
        async with app.run_test(size=(120, 40)) as pilot:
            # shown as the app mounts, so its first screen is drawn with it (not drawn empty first)
            assert app.shown_at_mount is not None and app.shown_at_mount.sequence == 1
            await until(pilot, lambda: app.latest is not None)
            await pilot.pause()
            assert app.latest.sequence == 1
            assert "reporting" in screen_text(app)  # the sessions are on the first screen
            for number, says in (("3", "not read yet: read right after the first screen"),
                                 ("4", "unavailable: not read yet"),  # who manages the cluster
                                 ("5", "materialized views not read yet"),
                                 ("6", "backup inventory not read yet"),
                                 ("7", "not checked: statements (not read yet")):
                await pilot.press(number)
                await pilot.pause()
                assert says in screen_text(app), number
            # the rules run on the whole snapshot, not on the first screen's: until then no "no findings"
            assert "checking the rules…" in screen_text(app) and "no findings" not in screen_text(app)
            assert app.findings_sequence == -1
            collector.release.set()  # the poll for the rest began when the first screen was drawn
            await until(pilot, lambda: app.latest.sequence == 2, timeout=5)
            await until(pilot, lambda: app.findings_sequence == 2, timeout=5)
            await until(pilot, lambda: "no findings in this snapshot" in screen_text(app))
            await pilot.press("3")
            await until(pilot, lambda: "ranked by" in screen_text(app))
            assert "not read yet" not in screen_text(app)
    finally:
        collector.release.set()
        await asyncio.to_thread(poller.stop)


def test_the_dashboard_starts_with_the_garbage_collector_off():
    """Start-up makes hundreds of thousands of long-lived objects (modules, classes, schemas,
    widgets); collecting while making them only walks them again and again."""
    from dbtop.tui.cli import main

    assert gc.isenabled()
    try:
        assert main(["host=/nonexistent port=1 connect_timeout=1"]) == 2  # no terminal here: it stops early
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_other_commands_keep_the_garbage_collector(capsys):
    from dbtop.tui.cli import main

    assert main(["--version"]) == 0
    assert gc.isenabled()


def test_settling_after_the_first_screen_turns_the_garbage_collector_back_on():
    from dbtop.tui.app import settle_garbage_collector

    threshold = gc.get_threshold()
    gc.disable()
    try:
        settle_garbage_collector()
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*threshold)


class GatedCollector(FakeCollector):
    """Holds its first snapshot until `release` is set."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.release = threading.Event()

    async def snapshot(self):
        if not self.served:
            await asyncio.to_thread(self.release.wait, 10)
        return await super().snapshot()


def composed_panels(app) -> set[str]:
    return {panel.id for panel in app.query(Panel)}


async def test_the_first_screen_composes_only_its_panel_and_a_panel_asked_for_early_still_shows():
    """The panels after the first are composed once the first screen is drawn, or as soon as one
    is asked for: a key pressed before that shows its panel, which then gets the snapshot."""
    collector = GatedCollector(f.healthy())
    poller = SnapshotPoller(collector, 60)
    try:
        await asyncio.to_thread(poller.connect)
        app = DbtopApp(poller, theme_name="dbtop-dark")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert composed_panels(app) == {"connections-panel"}
            await pilot.press("3")
            await until(pilot, lambda: app.active_panel_key() == "statements" and len(composed_panels(app)) == 7)
            collector.release.set()
            await until(pilot, lambda: "ranked by" in screen_text(app))
    finally:
        collector.release.set()
        await asyncio.to_thread(poller.stop)


async def test_the_panels_composed_after_the_first_screen_get_its_snapshot_and_findings():
    unverified = f.healthy(backups=f.backups(f.backup(status="unverified")))
    collector = FakeCollector(unverified)
    poller = SnapshotPoller(collector, 60)
    try:
        await asyncio.to_thread(poller.connect)
        app = DbtopApp(poller, theme_name="dbtop-dark")
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: len(composed_panels(app)) == 7)  # by themselves, once it is drawn
            assert len(collector.served) == 1
            await pilot.press("7")
            await until(pilot, lambda: "No verified backup" in screen_text(app))
            await pilot.press("6")
            await until(pilot, lambda: "NO VERIFIED BACKUP" in screen_text(app))
    finally:
        await asyncio.to_thread(poller.stop)


async def test_the_sessions_table_has_the_keys_from_the_start():
    """Arrows and Enter act on the sessions at once, without a Tab to reach the table first."""
    from .fakes import fake_dashboard

    async with fake_dashboard(FakeCollector(f.healthy())) as (app, pilot):
        assert app.focused is app.query_one("#connections-table")
