"""The dashboard driven with Textual's Pilot against the real test server, at 80x24 and 120x40."""

from __future__ import annotations

import asyncio
import contextlib
import datetime

import pytest
from textual.widgets import DataTable, Input, TabbedContent

from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.panels.connections import ConnectionsPanel
from dbtop.panels.overview import OverviewStrip
from dbtop.profiles.target import resolve_target
from dbtop.tui.app import DbtopApp
from dbtop.tui.poller import SnapshotPoller
from dbtop.tui.screens import DetailScreen

from .conftest import open_lock_chain

SIZES = [(80, 24), (120, 40)]


def screen_text(app) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


async def until(pilot, predicate, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            latest = pilot.app.latest
            raise AssertionError(f"condition not met in {timeout} s; latest snapshot: "
                                 f"{latest.sequence if latest else None} {latest.error if latest else ''}")
        await pilot.pause(0.05)


@contextlib.asynccontextmanager
async def dashboard(target, size=(120, 40), interval=0.5, **app_options):
    poller = SnapshotPoller(PostgresCollector(target), interval)
    await asyncio.to_thread(poller.connect)
    app = DbtopApp(poller, theme_name=app_options.pop("theme_name", "dbtop-dark"), **app_options)
    async with app.run_test(size=size, notifications=True) as pilot:
        await until(pilot, lambda: app.last_reachable is not None)
        yield app, pilot


def toasts(app) -> str:
    """The text of the notifications on screen (they sit on a layer the compositor text omits)."""
    from textual.widgets._toast import Toast

    return " ".join(" ".join(str(toast.render()).split()) for toast in app.screen.query(Toast))


def rows(app, table_id: str) -> list[str]:
    table = app.query_one(f"#{table_id}", DataTable)
    return [key.value for key in table.rows] if False else [
        table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]


@pytest.fixture
async def busy_server(pg, sessions):
    """A lock chain three deep (holder idle in transaction) and an idle session."""
    chain = await open_lock_chain(sessions, "tickets", apps=("billing", "api", "api"))
    idle = await sessions(app="reporting")
    yield {"holder": chain.pid("holder"), "middle": chain.pid("middle"), "tail": chain.pid("tail"),
           "idle": idle.get_server_pid()}
    await chain.release()


@pytest.mark.parametrize("size", SIZES)
async def test_first_screen_answers_what_is_wrong(pg_target, busy_server, size):
    async with dashboard(pg_target, size) as (app, pilot):
        await until(pilot, lambda: app.last_reachable.blocking.blocked_count >= 2)
        await pilot.pause(0.6)
        text = screen_text(app)
        assert "live every 0.5s" in text
        assert "primary" in text
        assert "Locks (2 waiting)" in text if size[0] >= 120 else "Locks (2)" in text and "2 waiting" in text
        assert "/200" in text  # connections against max_connections
        assert str(busy_server["holder"]) in text
        overview = app.query_one(OverviewStrip)
        assert overview.snapshot is not None and overview.snapshot.server is not None


@pytest.mark.parametrize("size", SIZES)
async def test_locks_panel_shows_the_chain_as_a_tree(pg_target, busy_server, size):
    async with dashboard(pg_target, size) as (app, pilot):
        await until(pilot, lambda: app.last_reachable.blocking.blocked_count >= 2)
        await pilot.press("2")
        await pilot.pause(0.6)
        holder, middle, tail = busy_server["holder"], busy_server["middle"], busy_server["tail"]
        assert rows(app, "locks-table") == [f"{holder}", f"{holder}/{middle}", f"{holder}/{middle}/{tail}"]
        text = screen_text(app)
        assert f"└─ {middle}" in text and f"  └─ {tail}" in text
        assert app.panel("locks").selected_root_pid() == holder


async def test_number_keys_tab_and_zoom(pg_target):
    async with dashboard(pg_target, (80, 24)) as (app, pilot):
        tabs = app.query_one("#panels", TabbedContent)
        for key, panel in (("3", "statements"), ("4", "replication"), ("1", "connections"), ("2", "locks")):
            await pilot.press(key)
            assert tabs.active == panel
        await pilot.press("tab")
        assert tabs.active == "statements"
        await pilot.press("shift+tab")
        assert tabs.active == "locks"
        await pilot.press("z")
        await pilot.pause(0.1)
        assert app.screen.has_class("-zoomed")
        assert "3 Slow" not in screen_text(app)
        await pilot.press("z")
        await pilot.pause(0.1)
        assert not app.screen.has_class("-zoomed")
        assert "3 Slow" in screen_text(app)


async def test_filter_sort_group_and_hide_idle(pg_target, busy_server):
    async with dashboard(pg_target, (120, 40)) as (app, pilot):
        panel = app.query_one(ConnectionsPanel)
        await until(pilot, lambda: str(busy_server["idle"]) in rows(app, "connections-table"))

        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"billing")
        await pilot.pause(0.1)
        assert rows(app, "connections-table") == [str(busy_server["holder"])]
        await pilot.press("enter")
        await pilot.press("escape")
        assert panel.filter_text == ""
        assert len(rows(app, "connections-table")) >= 4

        await pilot.press("i")  # hide idle
        await pilot.pause(0.1)
        assert str(busy_server["idle"]) not in rows(app, "connections-table")
        assert str(busy_server["holder"]) in rows(app, "connections-table")
        await pilot.press("i")

        # sort: default is longest transaction first; the holder's transaction is the oldest
        assert rows(app, "connections-table")[0] == str(busy_server["holder"])
        await pilot.press("s")  # next column: query time
        assert panel.sort_column == "query_s"
        await pilot.press("S")
        assert panel.sort_reverse is False

        await pilot.press("g")  # group by state
        await pilot.pause(0.1)
        groups = dict(zip(rows(app, "connections-groups"), range(99)))
        assert "group:idle in transaction" in groups and "group:active" in groups
        table = app.query_one("#connections-groups", DataTable)
        idle_tx = table.get_row("group:idle in transaction")
        assert idle_tx[1].sort_value == 1  # the holder; the sessions behind it are active, waiting
        await pilot.press("g", "g")  # user, application
        assert panel.group_by == "application"
        await pilot.pause(0.1)
        table.move_cursor(row=table.get_row_index("group:reporting"))
        await pilot.press("enter")  # a group opens filtered to its sessions
        await pilot.pause(0.1)
        assert panel.group_by is None and panel.drill == ("application", "reporting")
        assert rows(app, "connections-table") == [str(busy_server["idle"])]


async def test_enter_opens_session_detail_with_full_query_and_blockers(pg_target, busy_server):
    async with dashboard(pg_target, (80, 24)) as (app, pilot):
        table = app.query_one("#connections-table", DataTable)
        await until(pilot, lambda: str(busy_server["middle"]) in rows(app, "connections-table"))
        table.move_cursor(row=table.get_row_index(str(busy_server["middle"])))
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        text = screen_text(app)
        assert f"session {busy_server['middle']}" in text
        assert "UPDATE tickets SET v = 3 WHERE id = 1" in text
        assert str(busy_server["holder"]) in text  # blocked by
        assert str(busy_server["tail"]) in text  # blocks
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


async def test_cursor_stays_on_the_same_session_across_refreshes(pg_target, busy_server):
    async with dashboard(pg_target, (120, 40)) as (app, pilot):
        table = app.query_one("#connections-table", DataTable)
        await until(pilot, lambda: str(busy_server["idle"]) in rows(app, "connections-table"))
        table.move_cursor(row=table.get_row_index(str(busy_server["idle"])))
        first = app.last_reachable.sequence
        await until(pilot, lambda: app.last_reachable.sequence >= first + 3)
        assert app.panel("connections").selected_pid() == busy_server["idle"]


def identity_line(app) -> str:
    return str(app.query_one("#overview-identity").render())


async def test_pause_says_when_the_data_was_taken_and_resume_polls_again(pg_target):
    async with dashboard(pg_target, (80, 24)) as (app, pilot):
        await pilot.press("p")
        assert app.poller.paused
        await pilot.pause(0.7)  # let a poll already under way land
        sequence = app.last_reachable.sequence
        taken = app.last_reachable.taken_at.astimezone().strftime("%H:%M:%S")
        line = identity_line(app)
        assert "paused" in line and f"data of {taken}" in line
        # Paused, the line does not change from one second to the next: nothing to redraw.
        content = app.query_one("#overview-identity").content
        await pilot.pause(1.6)
        assert app.last_reachable.sequence == sequence
        assert app.query_one("#overview-identity").content is content
        await pilot.press("p")
        await until(pilot, lambda: app.last_reachable.sequence > sequence, timeout=3)
        assert "live every" in screen_text(app)


async def test_live_data_shows_its_age_only_once_late(pg_target):
    async with dashboard(pg_target, (120, 40)) as (app, pilot):
        await until(pilot, lambda: app.last_reachable.sequence >= 2)
        assert "live every 0.5s" in identity_line(app) and "age" not in identity_line(app)
        overview = app.query_one(OverviewStrip)
        app.poller.set_paused(True)  # no newer data: the one shown ages
        overview.status = "live every 0.5s"  # as if still polling, but nothing arrives
        overview.snapshot = app.last_reachable.model_copy(
            update={"taken_at": app.last_reachable.taken_at - datetime.timedelta(seconds=30)})
        overview.refresh_identity()
        assert "age 30s" in identity_line(app)


async def test_interval_keys(pg_target):
    async with dashboard(pg_target, (80, 24), interval=2.0) as (app, pilot):
        await pilot.press("minus")
        assert app.poller.interval_s == 5.0
        await pilot.press("plus", "plus", "plus", "plus")
        assert app.poller.interval_s == 0.5
        await pilot.press("plus")
        assert app.poller.interval_s == 0.5  # the floor


async def test_disconnect_is_shown_data_kept_stale_and_reconnects(start_cluster):
    cluster = start_cluster()
    async with dashboard(resolve_target(cluster.dsn()), (80, 24)) as (app, pilot):
        await asyncio.to_thread(cluster.stop, "immediate")
        await until(pilot, lambda: app.disconnected_since is not None, timeout=10)
        before = app.last_reachable  # the last snapshot read before the server went (polls run meanwhile)
        assert before is not None
        await pilot.press("z")  # zoomed, the disconnected and connection-lost lines stay
        await pilot.pause(1.2)  # a few failed polls at 0.5 s
        text = screen_text(app)
        assert "disconnected" in text and "retrying" in text
        assert "connection lost" in text
        assert app.panel("connections").has_class("stale")
        assert app.last_reachable is before  # the last data stays on screen
        await asyncio.to_thread(cluster.start)
        await until(pilot, lambda: app.disconnected_since is None, timeout=20)
        await pilot.pause(0.1)
        assert not app.panel("connections").has_class("stale")
        assert "live every" in screen_text(app)
        assert app.is_running


async def test_slow_queries_panel_ranks_and_shows_full_statement(pg_target, sessions):
    conn = await sessions(app="reporting")
    await conn.execute("DROP TABLE IF EXISTS ledger; CREATE TABLE ledger (id int, amount int)")
    async with dashboard(pg_target, (120, 40)) as (app, pilot):
        await pilot.press("3")
        first = app.last_reachable.sequence
        await until(pilot, lambda: app.last_reachable.sequence > first)
        await conn.execute("SELECT pg_sleep(0.3), count(*) FROM ledger /* month-end close */")
        await until(pilot, lambda: any("month-end close" in (s.query or "") and app.last_reachable.statements.delta(s)
                                       for s in app.last_reachable.statements.entries), timeout=5)
        # no pause: the statement is in this interval's ranking only, and the next refresh drops it
        table = app.query_one("#statements-table", DataTable)
        top = table.get_row_at(0)
        assert "month-end close" in top[8].text.plain
        assert "dbtop" not in top[8].text.plain
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert "month-end close" in screen_text(app)
        await pilot.press("escape")
        panel = app.panel("statements")
        for expected in ("total", "mean", "calls", "rows", "io", "interval"):
            await pilot.press("m")
            assert panel.ranking == expected


async def test_slow_queries_panel_says_how_to_enable_pg_stat_statements(pg):
    pg.psql("DROP DATABASE IF EXISTS plain_app; CREATE DATABASE plain_app")
    async with dashboard(resolve_target(pg.dsn(database="plain_app")), (120, 40)) as (app, pilot):
        await pilot.press("3")
        await pilot.pause(0.3)
        folded = " ".join(screen_text(app).split())  # the line wraps at the panel's width
        assert "extension is not created in database plain_app" in folded
        assert "fix: CREATE EXTENSION pg_stat_statements;" in folded


async def test_keys_help_and_command_palette(pg_target):
    async with dashboard(pg_target, (120, 40)) as (app, pilot):
        await pilot.press("question_mark")
        text = screen_text(app)
        assert isinstance(app.screen, DetailScreen)
        for words in ("Filter", "Group", "Hide idle", "Zoom", "Pause", "Rank by", "Ctrl+P"):
            assert words in text, words
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Show Locks", "Zoom panel", "Pause or resume refreshing", "Filter sessions"):
            assert title in titles
        assert titles.count("Keys") == 1  # Textual's own help panel entry is not listed beside dbtop's
        await pilot.press("ctrl+p")
        await pilot.press(*"Show Locks")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.query_one("#panels", TabbedContent).active == "locks"


async def test_themes_cycle_and_16_colour_theme(pg_target):
    async with dashboard(pg_target, (80, 24), theme_name="dbtop-16") as (app, pilot):
        assert app.theme == "dbtop-16"
        assert app.current_theme.ansi
        await pilot.press("t")
        assert app.theme == "dbtop-dark"
        await until(pilot, lambda: "theme dbtop-dark" in toasts(app))  # it says which one it chose
        await pilot.press("t")
        assert app.theme == "dbtop-light"
        await until(pilot, lambda: "theme dbtop-light" in toasts(app))
        for severity in ("critical", "high", "medium", "low", "info"):
            assert f"severity-{severity}" in app.theme_variables


async def test_quit_key(pg_target):
    async with dashboard(pg_target, (80, 24)) as (app, pilot):
        await pilot.press("q")
        await pilot.pause(0.2)
        assert not app.is_running


async def test_no_color_is_respected(pg_target, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    async with dashboard(pg_target, (80, 24)) as (app, pilot):
        strips = app.screen._compositor.render_strips()
        colors = {seg.style.color.name for strip in strips for seg in strip if seg.style and seg.style.color}
        colored = {c for c in colors if c not in ("default",)}
        # Monochrome: whatever colour styles remain are greys, no hues
        from rich.color import Color

        for name in colored:
            r, g, b = Color.parse(name).get_truecolor()
            assert max(r, g, b) - min(r, g, b) <= 2, name


def test_term_linux_gets_the_16_colour_theme():
    from dbtop.themes import default_theme_name

    assert default_theme_name({"TERM": "linux"}) == "dbtop-16"
    assert default_theme_name({"TERM": "xterm-256color"}) == "dbtop-dark"


def test_stylesheet_uses_theme_variables_only():
    import re

    from dbtop.themes import STYLESHEET

    css = STYLESHEET.read_text()
    assert not re.search(r"#[0-9a-fA-F]{3,8}\b(?![-\w])(?=\s*;)", css)  # no hex colour literals
    assert not re.search(r"\b(rgb|hsl)a?\(", css)
    assert "$severity-critical" in css


class ClusterDirectory:
    """Profiles for the picker test: names mapped to real throwaway servers."""

    def __init__(self, clusters: dict[str, object]):
        self.clusters = clusters

    def entries(self):
        return [(name, f"postgres {cluster.port}") for name, cluster in self.clusters.items()]

    def collector(self, name):
        return PostgresCollector(resolve_target(self.clusters[name].dsn()))


async def test_profile_picker_switches_target_without_restarting(pg, start_cluster):
    other = start_cluster()
    directory = ClusterDirectory({"primary": pg, "reporting": other, "broken": other})
    directory.clusters["broken"] = type("Gone", (), {"port": 1, "dsn": lambda self: "postgresql://x@127.0.0.1:1/none"})()
    async with dashboard(resolve_target(pg.dsn()), (100, 30), profile="primary", directory=directory) as (app, pilot):
        assert "[primary]" in screen_text(app)
        first_poller = app.poller
        await pilot.press("colon")
        await pilot.pause(0.2)
        assert "reporting" in screen_text(app)
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.profile == "reporting" and app.last_reachable is not None)
        await until(pilot, lambda: str(other.port) in app.last_reachable.target)
        assert app.poller is not first_poller
        await pilot.pause(0.3)
        assert "[reporting]" in screen_text(app)

        # a profile that cannot be reached leaves the current target in place, with the reason
        await pilot.press("colon")
        await pilot.pause(0.2)
        await pilot.press("down", "enter")  # the picker opens on the current profile
        await until(pilot, lambda: "connection refused" in toasts(app))
        assert app.profile == "reporting"
        assert str(other.port) in app.last_reachable.target


async def test_profile_picker_without_profiles_says_how_to_add_one(pg_target):
    async with dashboard(pg_target, (100, 30)) as (app, pilot):
        await pilot.press("colon")
        await until(pilot, lambda: "dbtop profile add NAME URL" in toasts(app))
