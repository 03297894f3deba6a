"""The Views, Backups and Findings panels in the running app, against the real test server."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import pytest
from textual.widgets import DataTable, TabbedContent

from dbtop.engines.policy import WatchPolicy
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.profiles.target import resolve_target
from dbtop.tui.app import DbtopApp
from dbtop.tui.poller import SnapshotPoller
from dbtop.tui.screens import DetailScreen

from .test_app import SIZES, screen_text, until
from .test_backups import dbtop_backup

DB = "panels_test"
EVIL = "[bold red]view\x1b[2J"


@pytest.fixture(scope="module")
def panels_db(pg):
    pg.psql(f"DROP DATABASE IF EXISTS {DB}")
    pg.psql(f"CREATE DATABASE {DB}")
    pg.psql(f"""
        CREATE TABLE events (id int PRIMARY KEY, at timestamptz NOT NULL);
        INSERT INTO events SELECT g, now() FROM generate_series(1, 100) g;
        CREATE MATERIALIZED VIEW weekly_rollup AS SELECT id FROM events WITH NO DATA;
        CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n FROM events;
        CREATE MATERIALIZED VIEW "{EVIL}" AS SELECT id FROM events;
        CREATE UNIQUE INDEX ON "{EVIL}" (id);
    """, DB)
    yield pg
    pg.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


@contextlib.asynccontextmanager
async def dashboard(pg, policy: WatchPolicy, size):
    poller = SnapshotPoller(PostgresCollector(resolve_target(pg.dsn(database=DB)), policy=policy), 0.5)
    await asyncio.to_thread(poller.connect)
    app = DbtopApp(poller, theme_name="dbtop-dark")
    async with app.run_test(size=size, notifications=True) as pilot:
        await until(pilot, lambda: app.last_reachable is not None and app.last_reachable.views is not None)
        await app.other_panels_composed()
        yield app, pilot


@pytest.mark.parametrize("size", SIZES)
async def test_views_panel_shows_empty_and_not_concurrently_refreshable_views_with_their_source(panels_db, tmp_path, size):
    async with dashboard(panels_db, WatchPolicy(backup_dir=str(tmp_path)), size) as (app, pilot):
        await pilot.press("5")
        await pilot.pause(0.3)
        table = app.query_one("#views-table", DataTable)
        rows = {table.get_row_at(i)[0].plain: [c.plain for c in table.get_row_at(i)] for i in range(table.row_count)}
        assert rows["public.weekly_rollup"][1] == "NO DATA"
        assert rows["public.weekly_rollup"][3] == "catalog: empty"
        totals = rows["public.totals"]
        assert totals[1] == "fresh" and totals[3] == "file written" and totals[2].startswith("≤ ")
        assert totals[6] == "NO"  # no unique index: not concurrently refreshable
        evil = next(k for k in rows if "view" in k and "bold" in k)
        assert "\x1b" not in evil and "[bold red]" in evil  # shown literally, no escape sequence
        text = screen_text(app)
        assert "never populated" in text
        assert table.get_row_at(0)[0].plain == "public.weekly_rollup"  # worst first


@pytest.mark.parametrize("size", SIZES)
async def test_backups_panel_says_there_is_no_verified_backup_and_the_rpo(panels_db, tmp_path, size):
    dbtop_backup(tmp_path, "app-unverified.dump", timedelta(hours=3))
    (tmp_path / "app.dump.partial").write_bytes(b"half")
    async with dashboard(panels_db, WatchPolicy(backup_dir=str(tmp_path), rpo_s=6 * 3600), size) as (app, pilot):
        await pilot.press("6")
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "NO VERIFIED BACKUP" in text and "RPO 6h00m" in text
        assert "never verified" in text
        assert "WAL archiving OFF" in text
        table = app.query_one("#backups-table", DataTable)
        statuses = {table.get_row_at(i)[0].plain: table.get_row_at(i)[1].plain for i in range(table.row_count)}
        assert statuses == {"app-unverified.dump": "unverified", "app.dump.partial": "PARTIAL"}


async def test_backups_panel_gauge_when_a_verified_backup_exists(panels_db, tmp_path):
    dbtop_backup(tmp_path, "app.dump", timedelta(hours=2), "passed")
    async with dashboard(panels_db, WatchPolicy(backup_dir=str(tmp_path), rpo_s=8 * 3600), (120, 40)) as (app, pilot):
        await pilot.press("6")
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "newest verified backup 2h00m ago · RPO 8h00m" in text
        assert "██████░" in text  # a quarter of the RPO used


@pytest.mark.parametrize("size", SIZES)
async def test_findings_panel_lists_worst_first_and_enter_shows_the_statement(panels_db, tmp_path, size):
    async with dashboard(panels_db, WatchPolicy(backup_dir=str(tmp_path)), size) as (app, pilot):
        await until(pilot, lambda: app.query_one("#findings-table", DataTable).row_count > 0 or
                    bool(app.query_one("FindingsPanel").findings))
        await pilot.press("p", "7")  # paused: the catalog's findings, due 10 s in, must not move the rows read
        await pilot.pause(0.3)
        table = app.query_one("#findings-table", DataTable)
        severities = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
        order = ["Critical", "High", "Medium", "Low", "Info"]
        assert severities == sorted(severities, key=order.index)
        assert severities[0] == "Critical"  # no verified backup
        label = app.query_one("#panels", TabbedContent).get_tab("findings").label
        assert "Findings (" in str(label) and "urgent)" in str(label)
        # the catalog is read a little after connecting: until then the panel says what is not checked
        assert "not checked:" in screen_text(app) and "the catalog is read" in screen_text(app)
        titles = [table.get_row_at(i)[2].plain for i in range(table.row_count)]
        row = next(i for i, t in enumerate(titles) if "weekly_rollup has never been populated" in t)
        table.move_cursor(row=row)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DetailScreen)
        detail = screen_text(app)
        assert "REFRESH MATERIALIZED VIEW public.weekly_rollup;" in detail
        assert "Refresh the materialized view" in detail and "action:" not in detail  # a name, not an id
        await pilot.press("y")
        assert app.clipboard == "REFRESH MATERIALIZED VIEW public.weekly_rollup;"
        await pilot.press("escape")
        assert "Refresh the materialized view" in [c.plain for c in table.get_row_at(row)]


async def test_findings_rows_follow_each_computation_even_when_ids_repeat():
    """The panel reuses the rows of unchanged findings (thousands come back every poll); a finding whose
    figures changed under the same id must show its new text, and a finding gone must go."""
    from datetime import datetime, timezone

    from textual.app import App

    from dbtop.engines.snapshot import Snapshot
    from dbtop.findings.model import Evidence, Finding, Severity
    from dbtop.panels.findings import FindingsPanel

    def idle(sessions: int) -> Finding:
        return Finding(id="connections.idle_in_transaction", rule="connections.idle_in_transaction",
                       area="performance", severity=Severity.HIGH, title=f"{sessions} session(s) idle in transaction",
                       impact="i", fix="f", evidence=[Evidence(subject="pid 1", detail=f"{sessions} sessions")])

    slow = Finding(id="statements.slow:1", rule="statements.slow", area="performance", severity=Severity.MEDIUM,
                   title="a slow statement", impact="i", fix="f")
    snapshot = Snapshot(sequence=1, taken_at=datetime.now(timezone.utc), target="t", engine="postgres", reachable=True)

    class Host(App):
        def compose(self):
            yield FindingsPanel()

    async with Host().run_test(size=(120, 30)) as pilot:
        panel = pilot.app.query_one(FindingsPanel)
        table = pilot.app.query_one("#findings-table", DataTable)

        def titles() -> list[str]:
            return [table.get_row_at(i)[2].plain for i in range(table.row_count)]

        for n, findings in enumerate(([idle(3), slow], [idle(3), slow.model_copy()], [idle(5), slow], [slow]), 1):
            panel.set_findings(findings, [], n)
            panel.render_snapshot(snapshot)
            await pilot.pause()
            assert titles() == [f.title for f in findings], n
        assert titles() == ["a slow statement"]
