"""Views on MongoDB: its views are computed on read (no stored data, so never stale: every read runs
the pipeline on the source collection), listed as such; and the collections an aggregation feeds with
$merge or $out, named in the profile's data_age_columns, with the age of their newest document."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from ..engines.snapshot import FedCollection, MongoView, Snapshot
from .base import Cell, Panel, show_summary, summary_and_table, sync_rows
from .text import duration

COLUMNS = [
    ("name", "name", 30), ("kind", "kind", 15), ("status", "status", 11), ("data", "newest data", 11),
    ("threshold", "threshold", 9), ("from", "computed from / dated by", 24), ("pipeline", "pipeline", 40),
]


def fed_status(fed: FedCollection) -> tuple[str, str | None, int]:
    """(label, severity, sort rank): worst first."""
    if fed.stale is True:
        return "STALE", "high", 0
    if fed.stale is None:
        return "unknown", "medium", 1
    return "fresh", None, 2


class MongoViewsPanel(Panel):
    ENGINES = frozenset({"mongo"})
    panel_title = "Views"

    def compose(self) -> ComposeResult:
        yield from summary_and_table("views", COLUMNS)

    def render_snapshot(self, snapshot: Snapshot) -> None:
        views = snapshot.mongo.views if snapshot.mongo else None
        text = Text()
        rows: dict[str, list[Cell]] = {}
        if views is None:
            text.append("views not read yet")
        else:
            for fed in views.fed:
                rows[f"fed:{fed.qualified_name}"] = self._fed_row(fed)
            for view in views.views:
                rows[f"view:{view.qualified_name}"] = self._view_row(view)
            rows = dict(sorted(rows.items(), key=lambda item: item[1][2].sort_value))
            self._summary(text, views)
        sync_rows(self.query_one("#views-table", DataTable), rows)
        show_summary(self.query_one("#views-summary", Static), text, "views", snapshot)

    def _summary(self, text: Text, views) -> None:
        if views.listed:
            text.append(f"{len(views.views)} view(s)", style="bold")
            text.append(": MongoDB computes a view on every read from its source (no stored data: never stale; "
                        "its pipeline's cost is paid by each query)")
        else:
            text.append("views not listed (the databases could not be listed)", style="bold")
        if views.truncated:
            text.append(f" · only the first {len(views.views)} shown")
        text.append("\n")
        if not views.fed:
            text.append("no collection fed by $merge/$out is named in the profile: data_age_columns = "
                        '{ "db.collection" = "updatedAt" } shows how old its newest document is')
            return
        stale = [f for f in views.fed if f.stale is True]
        unknown = [f for f in views.fed if f.stale is None]
        text.append(f"{len(views.fed)} collection(s) fed by $merge/$out", style="bold")
        text.append(" (the profile's data_age_columns): data age from their newest document")
        if stale:
            text.append(f" · {len(stale)} stale", style="bold")
        if unknown:
            text.append(f" · {len(unknown)} unknown")

    def _fed_row(self, fed: FedCollection) -> list[Cell]:
        label, severity, rank = fed_status(fed)
        style = self.severity_style(severity, bold=severity == "high") if severity else ""
        data = f"{duration(fed.age_s)} old" if fed.age_s is not None else "error"
        return [
            Cell.untrusted(fed.qualified_name, 80), Cell("$merge/$out"), Cell(label, rank, style),
            Cell(data, fed.age_s), Cell(duration(fed.threshold_s), fed.threshold_s),
            Cell.untrusted(f"field {fed.field}", 60),
            Cell.untrusted(fed.error or "-", 200),
        ]

    @staticmethod
    def _view_row(view: MongoView) -> list[Cell]:
        return [
            Cell.untrusted(view.qualified_name, 80), Cell("view"), Cell("on read", 3),
            Cell("= source", None), Cell("-", None), Cell.untrusted(view.view_on or "?", 60),
            Cell.untrusted(view.pipeline or "-", 200),
        ]
