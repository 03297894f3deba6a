"""Each panel in the running app, fed built snapshots by the FakeCollector through the real poller, at
80x24 and 120x40: it shows its rows, and when the server goes away it keeps them, marked stale, under
the disconnected line. No server."""

from __future__ import annotations

from dataclasses import dataclass

import re

import pytest
from textual.widgets import DataTable, Static, TabbedContent

from dbtop.panels.overview import OverviewStrip

from . import fakes as f
from .fakes import FakeCollector, fake_dashboard, next_snapshot
from .test_app import SIZES, screen_text, until

ERROR = "connection to server at db1.example:5432 lost: [FATAL] terminating connection"

# One scene for every panel: the healthy server with a lock chain and no verified backup.
CHAIN = f.lock_chain(100, 101, 102, wait_s=45)


def scene():
    return f.healthy(sessions=[*f.healthy_sessions(), *CHAIN],
                     backups=f.backups(f.backup("app-nightly.dump", status="unverified")))


@dataclass(frozen=True)
class PanelCase:
    key: str              # the panel's key in the app
    number: str           # the key that shows it
    tables: dict          # table id -> the row keys it must show (a list: in this order; a set: any order)
    on_screen: tuple      # text that must be on screen


def statement_key(query_id: int) -> str:
    return next(s.key for s in f.healthy_statements().entries if s.query_id == query_id)


PANELS = [
    PanelCase("connections", "1", {"connections-table": {str(s.pid) for s in [*f.healthy_sessions(), *CHAIN]}},
              ("9 sessions", "100", "idle in tx")),
    PanelCase("locks", "2", {"locks-table": ["100", "100/101", "100/101/102"]},
              ("2 sessions waiting behind 1 root blocker", "└─ 101", "└─ 102")),
    # ranked by time in the last interval; dbtop's own statement is not shown
    PanelCase("statements", "3", {"statements-table": [statement_key(2), statement_key(3), statement_key(1)]},
              ("ranked by time in last interval", "170")),
    PanelCase("replication", "4", {"replication-standbys": ["4000"], "replication-slots": ["replica1"]},
              ("primary with 1 standby(s)", "replica1")),
    PanelCase("views", "5", {"views-table": {"analytics.daily_sales", "analytics.weekly_signups"}},
              ("2 materialized view(s)", "analytics.daily_sales", "fresh")),
    PanelCase("backups", "6", {"backups-table": ["dbtop:app-nightly.dump:0"]},
              ("NO VERIFIED BACKUP", "app-nightly.dump", "unverified")),
    PanelCase("findings", "7", {"findings-table": ["backup.no_verified_backup", "connections.root_blocker:100",
                                                   "backup.never_verified"]},
              ("3 finding(s)", "Critical", "No verified backup")),
]


def row_keys(app, table_id: str) -> list[str]:
    table = app.query_one(f"#{table_id}", DataTable)
    return [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]


def shows_rows(app, case: PanelCase) -> bool:
    for table_id, expected in case.tables.items():
        keys = row_keys(app, table_id)
        if (set(keys) if isinstance(expected, set) else keys) != expected:
            return False
    return True


async def show(app, pilot, case: PanelCase) -> None:
    await pilot.press(case.number)
    await until(pilot, lambda: shows_rows(app, case), timeout=10)
    await pilot.pause()


def describe(app, case: PanelCase) -> dict:
    return {table_id: row_keys(app, table_id) for table_id in case.tables}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("case", PANELS, ids=lambda c: c.key)
async def test_panel_shows_its_rows_and_keeps_them_marked_stale_when_the_server_goes(case, size):
    collector = FakeCollector([scene(), f.unreachable(error=ERROR)])
    async with fake_dashboard(collector, size) as (app, pilot):
        try:
            await show(app, pilot, case)
        except AssertionError:
            raise AssertionError(f"{case.key} shows {describe(app, case)}") from None
        text = screen_text(app)
        for expected in case.on_screen:
            assert expected in text, f"{expected!r} not on screen:\n{text}"
        assert "connection lost" not in text
        assert not app.panel(case.key).has_class("stale")
        before = describe(app, case)

        latest = await next_snapshot(app, pilot)
        assert not latest.reachable  # (the retry a second later may already have come: unreachable too)
        assert not app.query_one("#connection-status", Static).has_class("hidden")
        text = screen_text(app)
        assert "connection lost — showing the last data, marked stale" in text
        assert "[FATAL]" in text  # the server's text shown literally, brackets and all
        assert app.query_one(OverviewStrip).status.startswith("disconnected")
        assert app.panel(case.key).has_class("stale")
        assert describe(app, case) == before  # the last data stays on screen
        assert app.last_reachable.sequence == 1


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_overview_strip_from_the_built_snapshot(size):
    snap = scene()
    async with fake_dashboard(FakeCollector(snap), size) as (app, pilot):
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "primary" in text and f"PG {snap.server.version}" in text
        assert f"{snap.connections_used}/100" in text
        # The counts stay on the tabs at every width; the words around them shorten to fit.
        assert re.search(r"Locks!? \(2( waiting)?\)", text)
        tabs = app.query_one("#panels", TabbedContent)
        await until(pilot, lambda: re.fullmatch(r"7 Findings!? \(2( urgent)?\)", str(tabs.get_tab("findings").label)),
                    timeout=5)


async def test_the_app_comes_back_when_the_server_does():
    collector = FakeCollector([scene(), f.unreachable(error=ERROR)])
    async with fake_dashboard(collector, (120, 40)) as (app, pilot):
        await next_snapshot(app, pilot)
        assert app.disconnected_since is not None
        collector.more(f.healthy())
        app.poller.wake()  # rather than wait for the retry
        await until(pilot, lambda: app.latest.reachable, timeout=10)
        await pilot.pause()
        assert app.disconnected_since is None
        assert app.query_one("#connection-status", Static).has_class("hidden")
        assert not app.panel("connections").has_class("stale")
        assert "connection lost" not in screen_text(app)
        assert app.last_reachable.backups is not None and app.last_reachable.sequence > 2


def test_the_overview_says_an_idle_caught_up_standby_is_caught_up_not_of_unknown_lag():
    from dbtop.panels.overview import replication_lag

    idle = f.standby(replay_lag_s=None, write_lag_s=None, flush_lag_s=None, replay_lag_bytes=0)
    assert replication_lag(f.healthy(replication=f.replication(standbys=[idle]))) == "1 standby, caught up"
    behind = f.standby(replay_lag_s=None, write_lag_s=None, flush_lag_s=None, replay_lag_bytes=None)
    assert replication_lag(f.healthy(replication=f.replication(standbys=[behind]))) == "1 standby, lag ?"


async def test_a_panel_shown_by_its_number_focuses_a_table_the_operator_can_see():
    # The Replication panel's first table (Patroni's members) is hidden on a cluster no manager runs:
    # keys typed after `4` must reach a visible table, not a hidden one.
    async with fake_dashboard(FakeCollector(f.healthy()), size=(120, 40)) as (app, pilot):
        await pilot.press("4")
        await pilot.pause()
        assert app.focused is not None and app.focused.display and app.focused.id == "replication-standbys"


async def test_the_connections_summary_counts_states_waits_and_hidden_sessions():
    hidden = dict(backend_type=None, state=None, query=None, wait_event_type=None, wait_event=None,
                  xact_s=None, query_s=None, state_s=None, user="other")
    sessions = [f.running(1, 3.0), f.idle(2), f.idle_in_transaction(3, 9.0), f.blocked(4, 3, 5.0),
                f.session(5, **hidden), f.session(6, **{**hidden, "blocked_by": [3]})]
    async with fake_dashboard(FakeCollector(f.snapshot(sessions=sessions)), size=(160, 40)) as (app, pilot):
        await until(pilot, lambda: "sessions" in app.query_one("#connections-summary", Static).render().plain)
        summary = " ".join(app.query_one("#connections-summary", Static).render().plain.split())
        # 1 and 4 are active, and 6 (state hidden) waits on a lock, so runs a statement: ≥ 3 active
        assert summary.startswith("6 sessions · ≥3 active · ≥1 idle in tx · 2 waiting on locks · 2 with state hidden")


def test_the_uptime_is_shown_to_the_second_only_in_the_first_minute():
    from dbtop.panels.text import uptime
    assert [uptime(s) for s in (None, 12.4, 59.9, 60, 1992.5, 3599, 3600 + 125, 2 * 86400 + 7200)] == [
        "-", "12s", "60s", "1m", "33m", "59m", "1h02m", "2d02h"]


async def test_the_overview_trend_lines_draw_what_textual_sparklines_draw():
    from textual.app import App
    from textual.widgets import Sparkline
    from dbtop.panels.overview import TrendLine

    def cells(strip):
        return [(char, segment.style) for segment in strip for char in segment.text]

    datasets = [[0.0, 1.0], [5.0, 5.0, 5.0], [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0],
                [float(i % 17) * 1.5 for i in range(180)], [99.1, 99.7, 98.2] * 9]

    class Both(App):
        CSS = "Sparkline { height: 1; } #narrow, #narrow-plain { width: 7; } #wide, #wide-plain { width: 30; }"

        def compose(self):
            for name in ("narrow", "wide"):
                yield TrendLine([], id=name)
                yield Sparkline([], id=f"{name}-plain")

    app = Both()
    async with app.run_test(size=(40, 8)) as pilot:
        for data in datasets:
            for name in ("narrow", "wide"):
                ours, theirs = app.query_one(f"#{name}", TrendLine), app.query_one(f"#{name}-plain", Sparkline)
                ours.data, theirs.data = data, data
                await pilot.pause()
                assert cells(ours.render_line(0)) == cells(theirs.render_line(0)), (name, data)


async def test_live_data_that_stops_coming_shows_its_age_once_late_and_not_before():
    from datetime import datetime, timezone
    snap = f.snapshot(sessions=[f.idle(1)]).model_copy(update={"taken_at": datetime.now(timezone.utc)})
    async with fake_dashboard(FakeCollector(snap), interval_s=60) as (app, pilot):
        identity = app.query_one("#overview-identity", Static)
        app.poller.interval_s = 0.5  # said to poll every 0.5 s, but asleep for a minute: no new data comes
        app.update_status()
        await pilot.pause(1.5)
        assert "live every 0.5s" in identity.render().plain and "age" not in identity.render().plain
        await until(pilot, lambda: "age" in identity.render().plain, timeout=4)  # late after 2 x 0.5 + 2 s


async def test_a_session_carried_over_unchanged_shows_its_durations_moved_on_by_the_servers_clock():
    """The collector hands on a session that did not change as the very same object, with the
    durations it was read with: the row shows them as of each snapshot's server clock."""
    stuck = f.idle_in_transaction(7, 9.0, read_at_s=1000.0)
    quiet = f.idle(8, 30.0, read_at_s=1000.0)
    first = f.snapshot(sessions=[stuck, quiet], server_clock_s=1000.0)
    later = f.snapshot(sessions=[stuck, quiet], server_clock_s=1020.0)
    async with fake_dashboard(FakeCollector([first, later]), size=(240, 40)) as (app, pilot):
        table = app.query_one("#connections-table", DataTable)
        await until(pilot, lambda: table.row_count == 2)
        columns = [column.key.value for column in table.ordered_columns]
        assert "state_s" in columns  # wide enough to show how long each has been in its state

        def shown(pid: int, column: str) -> str:
            return table.get_row(str(pid))[columns.index(column)].plain

        while app.latest.server_clock_s != 1000.0:
            await next_snapshot(app, pilot)
        assert (shown(7, "xact_s"), shown(7, "state_s"), shown(8, "state_s")) == ("9.0s", "9.0s", "30s")
        await next_snapshot(app, pilot)
        assert app.latest.sessions[0] is stuck
        assert (shown(7, "xact_s"), shown(7, "state_s"), shown(8, "state_s")) == ("29s", "29s", "50s")
