"""Issue 10, "80 columns and the first screen" and the DBA's smaller UI notes: the dashboard driven
with the Pilot at 80x24, 120x40 and 160x40, against the real test server (and, for the overview
strip alone, a built snapshot)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone

import pytest
from textual.app import App
from textual.widgets import DataTable, Sparkline, Static, TabbedContent

from dbtop.engines.snapshot import Activity, ServerInfo, Snapshot
from dbtop.findings.model import Severity
from dbtop.panels.base import Column, fit_columns
from dbtop.panels.findings import FindingsPanel
from dbtop.panels.overview import OverviewStrip
from dbtop.themes import STYLESHEET, THEMES
from dbtop.tui.screens import DetailScreen
from dbtop.tui.tab_labels import tab_labels

from .test_app import busy_server, dashboard, rows, screen_text, toasts, until  # noqa: F401 - a fixture

SIZES = [(80, 24), (120, 40), (160, 40)]


def header_line(app, first_label: str) -> str:
    """The rendered line of a table's header (the line that starts with its first column)."""
    return next(line for line in screen_text(app).splitlines() if line.lstrip().startswith(first_label + " "))


def urgent_count(app) -> int:
    return sum(1 for f in app.query_one(FindingsPanel).findings if f.severity >= Severity.HIGH)


# -- the first screen ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
async def test_every_tab_and_the_findings_urgent_count_are_on_screen(pg_target, busy_server, size):
    async with dashboard(pg_target, size) as (app, pilot):
        await until(pilot, lambda: app.last_reachable.blocking.blocked_count >= 2 and urgent_count(app) > 0)
        await pilot.pause(0.3)
        text = screen_text(app)
        tab_bar = next(line for line in text.splitlines() if "1 Conn" in line)
        tabs = app.query_one("#panels", TabbedContent)
        for key in ("connections", "locks", "statements", "replication", "views", "backups", "findings"):
            assert str(tabs.get_tab(key).label) in tab_bar, key
        urgent = urgent_count(app)
        assert f"Findings ({urgent}" in tab_bar
        assert f"{urgent} urgent" in text  # in words: in the tab, or in the overview strip at 80 columns
        assert "Locks (2" in tab_bar and "2 waiting" in text
        assert "Backups!" in tab_bar  # no verified backup: a High finding about that panel


def test_tab_labels_shorten_until_they_fit():
    panels = [("connections", "Connections"), ("locks", "Locks"), ("statements", "Slow queries"),
              ("replication", "Replication"), ("views", "Views"), ("backups", "Backups"), ("findings", "Findings")]
    for width in range(60, 200):
        labels = tab_labels(panels, width, waiting=12, urgent=7, marked={"backups", "replication"})
        assert labels["findings"].startswith("7 ") and "(7" in labels["findings"]
        assert "(12" in labels["locks"]
        if width >= 72:
            assert sum(len(label) + 2 for label in labels.values()) <= width, width
    assert tab_labels(panels, 200, 2, 3)["findings"] == "7 Findings (3 urgent)"


# -- Locks --------------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def locks_panel(target, size, waiting: int = 2):
    """The dashboard on the Locks panel once `waiting` sessions wait."""
    async with dashboard(target, size) as (app, pilot):
        await until(pilot, lambda: app.last_reachable.blocking.blocked_count >= waiting)
        await pilot.press("2")
        await pilot.pause(0.4)
        yield app, pilot, app.query_one("#locks-table", DataTable)


@pytest.mark.parametrize("size", SIZES)
async def test_locks_root_shows_the_lock_it_holds_and_no_wait(pg_target, busy_server, size):
    async with locks_panel(pg_target, size) as (app, pilot, table):
        holder, middle = str(busy_server["holder"]), f"{busy_server['holder']}/{busy_server['middle']}"
        root, waiter = table.get_row(holder), table.get_row(middle)
        keys = [column.key.value for column in table.ordered_columns]
        cell = dict(zip(keys, root))
        assert cell["mode"].plain == "ExclusiveLock xid"  # the row lock it holds: its transaction id
        assert cell["relation"].plain == "tickets"
        assert cell.get("wait") is None or cell["wait"].plain == ""  # the root waits for no one
        assert dict(zip(keys, waiter))["mode"].plain == "ShareLock xid"
        # at 80 columns: pid, blocks, lock, relation and application, whole
        header = header_line(app, "pid")
        for label in ("pid", "blocks", "lock", "relation", "application"):
            assert f" {label} " in f" {header} ", label
        assert "billing" in screen_text(app)  # the holder's application


async def test_locks_root_holding_an_access_exclusive_lock_says_so(pg_target, sessions):
    setup = await sessions()
    await setup.execute("DROP TABLE IF EXISTS ledger_lock; CREATE TABLE ledger_lock (id int)")
    holder, reader = await sessions(app="migration"), await sessions(app="report")
    await holder.execute("BEGIN; LOCK TABLE ledger_lock IN ACCESS EXCLUSIVE MODE")
    waiting = asyncio.ensure_future(reader.execute("SELECT count(*) FROM ledger_lock"))
    try:
        async with locks_panel(pg_target, (80, 24), waiting=1) as (app, pilot, table):
            keys = [column.key.value for column in table.ordered_columns]
            root = dict(zip(keys, table.get_row(str(holder.get_server_pid()))))
            assert root["mode"].plain == "AccessExclusiveLock" and root["relation"].plain == "ledger_lock"
            assert "AccessExclusiveLock" in screen_text(app) and "migration" in screen_text(app)
    finally:
        await holder.execute("ROLLBACK")
        await waiting


# -- Connections --------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
async def test_connections_columns_are_whole_with_blocked_by_and_client(pg_target, busy_server, size):
    async with dashboard(pg_target, size) as (app, pilot):
        await until(pilot, lambda: str(busy_server["middle"]) in rows(app, "connections-table"))
        await pilot.pause(0.3)
        table = app.query_one("#connections-table", DataTable)
        header = header_line(app, "pid")
        labels = [str(column.label) for column in table.ordered_columns]
        for label in labels:  # none cut at the right edge (the last one was cut to "b" at 160)
            assert f" {label} " in f" {header} ", (label, header)
        if size[0] >= 100:
            assert "blocked by" in labels
            keys = [column.key.value for column in table.ordered_columns]
            middle = dict(zip(keys, table.get_row(str(busy_server["middle"]))))
            assert middle["blocked_by"].plain == str(busy_server["holder"])
        if size[0] >= 160:
            assert "client" in labels


def test_fit_columns_never_cuts_a_column():
    columns = [Column("a", "a", 10), Column("fill", "fill", None), Column("b", "b", 30, 1), Column("c", "c", 8, 2)]
    for width in range(60, 260):
        shown = fit_columns(columns, width, 20)
        assert sum(w + 2 for _, _, w in shown) <= width - 2, width
        assert [key for key, _, _ in shown][:2] == ["a", "fill"]


# -- zoom ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_zoom_keeps_the_live_line_and_gives_the_table_the_room(pg_target, busy_server, size):
    async with locks_panel(pg_target, size) as (app, pilot, table):
        before = table.size
        await pilot.press("z")
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "live every 0.5s" in text
        assert "3 Slow" not in text  # the tab bar gave its line to the table
        assert table.size.height > before.height and table.size.width >= before.width
        assert str(busy_server["holder"]) in text
        await pilot.press("z")
        await pilot.pause(0.2)
        assert "3 Slow" in screen_text(app)


# -- detail views -------------------------------------------------------------------------------

async def test_session_detail_follows_the_session_then_says_it_is_frozen(pg_target, sessions):
    conn = await sessions(app="copy-me")
    await conn.execute("SELECT 42 AS answer /* the query to copy */")
    pid = conn.get_server_pid()
    async with dashboard(pg_target, (80, 24)) as (app, pilot):
        table = app.query_one("#connections-table", DataTable)
        await until(pilot, lambda: str(pid) in rows(app, "connections-table"))
        table.move_cursor(row=table.get_row_index(str(pid)))
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        detail = app.screen
        first = detail.page.taken_at
        await until(pilot, lambda: detail.page.taken_at > first)  # read again from a newer snapshot
        await pilot.pause(1.1)
        assert "live: as of" in screen_text(app)

        await pilot.press("y")
        assert app.clipboard == "SELECT 42 AS answer /* the query to copy */"
        await until(pilot, lambda: "copied 43 characters" in toasts(app))

        app.poller.set_paused(True)  # no newer data (p, before the page was opened): the title says so
        await pilot.pause(1.2)
        assert "frozen at" in screen_text(app) and "(paused)" in screen_text(app)
        app.poller.set_paused(False)

        await conn.close()
        await until(pilot, lambda: detail.ended)
        await pilot.pause(1.1)
        text = screen_text(app)
        assert "the session has ended: frozen at" in text and " old" in text
        assert "SELECT 42 AS answer" in text  # the last page stays


# -- connections groups -------------------------------------------------------------------------

async def test_enter_on_a_group_shows_exactly_that_value(pg_target, busy_server):
    async with dashboard(pg_target, (120, 40)) as (app, pilot):
        panel = app.panel("connections")
        await until(pilot, lambda: str(busy_server["idle"]) in rows(app, "connections-table"))
        await pilot.press("g")  # by state
        await pilot.pause(0.2)
        groups = app.query_one("#connections-groups", DataTable)
        groups.move_cursor(row=groups.get_row_index("group:idle"))
        await pilot.press("enter")
        await pilot.pause(0.2)
        shown = rows(app, "connections-table")
        assert str(busy_server["idle"]) in shown
        assert str(busy_server["holder"]) not in shown  # idle in transaction is not idle
        sessions = {s.pid: s for s in app.last_reachable.sessions}
        assert all(sessions[int(pid)].state == "idle" for pid in shown)
        assert "state = idle" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert panel.drill is None and str(busy_server["holder"]) in rows(app, "connections-table")


# -- the overview strip -------------------------------------------------------------------------

def overview_snapshot(sequence: int, tps: float | None, used: int = 5, maximum: int = 100) -> Snapshot:
    server = ServerInfo(engine="postgres", version="15.4", version_num=150004, max_connections=maximum,
                        database="app", current_user="ops")
    activity = Activity(xact_commit=0, xact_rollback=0, blks_hit=0, blks_read=0, tup_returned=0, tup_fetched=0,
                        tup_inserted=0, tup_updated=0, tup_deleted=0, deadlocks=0, temp_bytes=0,
                        transactions_per_s=tps, cache_hit_ratio=None)
    return Snapshot(sequence=sequence, taken_at=datetime.now(timezone.utc), target="t", engine="postgres",
                    reachable=True, server=server, connections_used=used, activity=activity)


class OverviewHost(App):
    """The overview strip alone, with dbtop's stylesheet and theme."""

    CSS_PATH = STYLESHEET

    def __init__(self):
        super().__init__()
        self.register_theme(THEMES["dbtop-dark"])
        self.theme = "dbtop-dark"

    def compose(self):
        yield OverviewStrip(id="overview")


def rendered(widget) -> str:
    """The text the screen shows in `widget`'s region."""
    lines = ["".join(segment.text for segment in strip) for strip in widget.app.screen._compositor.render_strips()]
    x, y, width, height = widget.region
    return "\n".join(line[x:x + width] for line in lines[y:y + height])


async def test_a_first_zero_rate_is_not_drawn_as_a_full_sparkline():
    async with OverviewHost().run_test(size=(80, 4)) as pilot:
        strip = pilot.app.query_one(OverviewStrip)
        strip.apply(overview_snapshot(1, 0.0))
        await pilot.pause()
        spark = pilot.app.query_one("#overview-tps-spark", Sparkline)
        assert "tps 0.0" in rendered(pilot.app.query_one("#overview-tps")) and "█" not in rendered(spark)
        strip.apply(overview_snapshot(2, 0.0))
        await pilot.pause()
        assert "█" not in rendered(spark)


@pytest.mark.parametrize("used, maximum, shown", [(2001, 2100, "2001/2100 95%"), (12000, 12500, "12000/12500 96%")])
async def test_the_connection_gauge_keeps_its_percentage(used, maximum, shown):
    async with OverviewHost().run_test(size=(120, 4)) as pilot:
        pilot.app.query_one(OverviewStrip).apply(overview_snapshot(1, 1.0, used, maximum))
        await pilot.pause()
        assert shown in str(pilot.app.query_one("#overview-gauge", Static).render())
        assert shown in rendered(pilot.app.query_one(OverviewStrip))


# -- slow queries -------------------------------------------------------------------------------

async def test_slow_queries_label_their_figures_count_what_they_show_and_start_each_ranking_at_the_top(
        pg_target, sessions):
    conn = await sessions(app="reporting")
    for n in range(40):  # enough statements for the table to scroll at 80x24 (the collector reads the top ones)
        await conn.execute(f"SELECT {n} AS column_{n}")
    async with dashboard(pg_target, (80, 24)) as (app, pilot):
        await pilot.press("3")
        panel, table = app.panel("statements"), app.query_one("#statements-table", DataTable)

        def folded() -> str:
            return " ".join(screen_text(app).split())

        # ranked by the last interval, when nothing ran in it: a line says so (not just an empty table)
        await until(pilot, lambda: panel.snapshot is not None and panel.snapshot.statements.interval_s is not None
                    and table.row_count == 0)
        await pilot.pause(0.1)
        assert "nothing ran in the last" in folded()
        headers = [str(column.label) for column in table.ordered_columns]
        assert headers[1:8] == ["time", "share", "calls/s", "Σ mean", "Σ calls", "Σ rows", "Σ hit%"]
        assert "Σ = since reset" in folded()

        await pilot.press("m")  # total time since reset: every statement
        await until(pilot, lambda: table.row_count >= 20)
        await pilot.pause(0.1)
        shown = panel.snapshot.statements.entries
        own = sum(1 for s in shown if s.from_dbtop)
        assert f"{table.row_count} of {len(shown) - own} shown" in folded()  # the figures add up
        assert f"dbtop's own {own} hidden" in folded()
        assert str(table.columns[table.ordered_columns[1].key].label) == "Σ time"

        table.move_cursor(row=table.row_count - 1)
        await pilot.pause(0.1)
        assert table.scroll_y > 0
        await pilot.press("m")  # another ranking starts at its top
        await pilot.pause(0.2)
        assert panel.ranking == "mean"
        assert table.cursor_row == 0 and table.scroll_y == 0
