"""The dashboard on a MongoDB snapshot (built by tests/fakes.py as the MongoCollector builds them), at
80x24 and 120x40: only the panels serving MongoDB, each with its rows; columns MongoDB has no figure
for are hidden. No server."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, TabbedContent

from . import fakes as f
from .fakes import FakeCollector, fake_dashboard
from .test_app import screen_text, until


def scene():
    scan = f.mongo_statement(plan="COLLSCAN")
    return f.mongo_healthy(
        sessions=[f.mongo_op(301), f.mongo_op(102, 75, waiting=True)],
        blocking=f.model.Blocking(blocked_count=1, locks=[f.mongo_lock_wait(102, 75)]),
        statements=f.model.Statements(extension_version="profiler", entries=[scan], interval_s=2.0,
                                      deltas={scan.key: f.delta(2, 300.0)}))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_mongodb_panels(size):
    collector = FakeCollector(scene(), target=f.MONGO_TARGET, engine="mongo")
    async with fake_dashboard(collector, size) as (app, pilot):
        tabs = app.query_one(TabbedContent)
        panes = {pane.id for pane in tabs.query("TabPane")}
        assert "views" in panes and type(app.panel("views")).__name__ == "MongoViewsPanel"  # MongoDB's own
        await pilot.press("2")
        table = app.query_one("#locks-table", DataTable)
        await until(pilot, lambda: table.row_count == 1)
        assert "1 operation(s) waiting for a lock" in screen_text(app)
        await pilot.press("3")
        statements = app.query_one("#statements-table", DataTable)
        await until(pilot, lambda: statements.row_count == 1)
        row = [getattr(c, "plain", str(c)) for c in statements.get_row_at(0)]
        assert any(cell.startswith("[COLLSCAN]") for cell in row), row
        await pilot.press("4")
        standbys = app.query_one("#replication-standbys", DataTable)
        labels = [str(c.label) for c in standbys.ordered_columns]
        assert "write lag" not in labels and "replay lsn" not in labels and "sync source" in labels
        await until(pilot, lambda: standbys.row_count == 2)
        identity = str(app.query_one("#overview-identity").render())
        assert "Mongo 7.0.12" in identity and "set rs0" in identity


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_slow_operations_from_current_op_hide_the_columns_they_have_no_figure_for(size):
    """Without the profiler, the slow operations are those running now: ranked by how long they have
    run, without rows (not counted: None, never 0), calls, means or a hit ratio."""
    running = [f.mongo_statement(key=f"op:{opid}", calls=1, mean_time_ms=ms, total_time_ms=ms, rows=None,
                                 plan="COLLSCAN" if opid == 102 else "IXSCAN { a: 1 }", query_id=opid)
               for opid, ms in ((101, 2_000.0), (102, 75_000.0))]
    snap = f.mongo_healthy(statements=f.model.Statements(extension_version="currentOp", entries=running))
    collector = FakeCollector(snap, target=f.MONGO_TARGET, engine="mongo")
    async with fake_dashboard(collector, size) as (app, pilot):
        await pilot.press("3")
        table = app.query_one("#statements-table", DataTable)
        await until(pilot, lambda: table.row_count == 2)
        labels = [str(c.label) for c in table.ordered_columns]
        assert "Σ rows" not in labels and "Σ calls" not in labels and "Σ hit%" not in labels
        assert labels[1] == "running"
        assert [k.value for k in table.rows] == ["op:102", "op:101"]  # the longest-running first
        assert "time running now (currentOp)" in screen_text(app) and "rows are not counted" in screen_text(app)
        await pilot.press("m")  # nothing else to rank operations in flight by
        assert [k.value for k in table.rows] == ["op:102", "op:101"]


async def test_the_profilers_statements_keep_their_rows_and_hide_only_the_hit_ratio():
    collector = FakeCollector(scene(), target=f.MONGO_TARGET, engine="mongo")
    async with fake_dashboard(collector, (120, 40)) as (app, pilot):
        await pilot.press("3")
        table = app.query_one("#statements-table", DataTable)
        await until(pilot, lambda: table.row_count == 1)
        labels = [str(c.label) for c in table.ordered_columns]
        assert "Σ rows" in labels and "Σ hit%" not in labels


async def test_the_palette_offers_mongodbs_actions_and_not_postgresqls():
    collector = FakeCollector(scene(), target=f.MONGO_TARGET, engine="mongo")
    async with fake_dashboard(collector, (120, 40), read_only=False) as (app, pilot):
        await pilot.press("1")
        await until(pilot, lambda: app.panel("connections").chosen_pids())
        opid = app.panel("connections").chosen_pids()[0]
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert f"Kill operation {opid}" in titles and "Step down the primary" in titles
        assert "Take a backup" in titles and "Freeze this member" in titles
        assert not [t for t in titles if "Terminate" in t or "Refresh the" in t or "refresh log" in t]
