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
