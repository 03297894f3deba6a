"""Views: materialized views, whether they can be refreshed concurrently, and how fresh they are —
each refresh time with the source it comes from."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from ..engines.snapshot import MaterializedView, Snapshot
from .base import ActionRequested, Cell, Panel, current_row_key, SnapshotTable, add_columns, part_notice, sync_rows, update_static
from .text import duration, number, size

COLUMNS = [
    ("view", "view", 30), ("status", "status", 12), ("age", "refreshed", 11), ("source", "known from", 14),
    ("took", "took", 7), ("threshold", "threshold", 9), ("concurrent", "concurrently", 12),
    ("populated", "populated", 9), ("size", "size", 9), ("rows", "rows", 8), ("data", "newest data", 11),
]

SOURCE_LABELS = {
    "refresh_log": "refresh log",
    "dbtop_action": "dbtop action",
    "file_time": "file written",
    "unknown": "unknown",
}


def view_status(view: MaterializedView) -> tuple[str, str | None, int]:
    """(label, severity, sort rank): worst first."""
    if view.locked_by:
        return "refreshing", None, 3
    if not view.populated:
        return "NO DATA", "critical", 0
    if view.stale is True:
        return "STALE", "high", 1
    if view.stale is None:
        return "maybe stale" if view.last_refresh.at is not None else "unknown", "medium", 2
    return "fresh", None, 4


class ViewsPanel(Panel):
    panel_title = "Views"
    BINDINGS = [Binding("R", "refresh_view", "Refresh view")]  # not r: r reconnects
    GUARDED = frozenset({"refresh_view"})

    def compose(self) -> ComposeResult:
        yield Static(id="views-summary", classes="panel-summary")
        table = SnapshotTable(id="views-table", cursor_type="row")
        add_columns(table, COLUMNS)
        yield table

    def render_snapshot(self, snapshot: Snapshot) -> None:
        views = snapshot.views
        text = Text()
        rows: dict[str, list[Cell]] = {}
        if views is None:
            text.append("materialized views not read yet")
        else:
            for view in views.views:
                rows[view.qualified_name] = self._row(view, snapshot)
            rows = dict(sorted(rows.items(), key=lambda item: (item[1][1].sort_value, -(item[1][2].sort_value or 0))))
            self._summary(text, views)
        sync_rows(self.query_one("#views-table", DataTable), rows)
        notice = part_notice("views", snapshot.part("views"))
        if notice:
            text.append("\n")
            text.append_text(notice)
        update_static(self.query_one("#views-summary", Static), text)

    def _summary(self, text: Text, views) -> None:
        items = views.views
        empty = [v for v in items if not v.populated]
        stale = [v for v in items if v.populated and v.stale is True]
        blocking = [v for v in items if not v.unique_index]
        text.append(f"{len(items)} materialized view(s)", style="bold")
        if empty:
            text.append(f" · {len(empty)} never populated", style="bold")
        if stale:
            text.append(f" · {len(stale)} stale", style="bold")
        if blocking:
            text.append(f" · {len(blocking)} cannot refresh CONCURRENTLY (no unique index): a refresh locks readers out")
        if views.truncated:
            text.append(f" · only the first {len(items)} shown")
        text.append("\nrefresh times: ")
        if views.refresh_log_installed:
            text.append("dbtop's refresh log (exact)")
            if views.file_times_readable:
                text.append("; views refreshed before it was installed: their file's write time (a lower bound)")
        elif views.file_times_readable:
            text.append("file write times only, a lower bound — for exact times run ")
            text.append("dbtop views install-refresh-log", style="bold")
        else:
            text.append("unknown: this role may not read file times (pg_stat_file) and the refresh log is not "
                        "installed — run ")
            text.append("dbtop views install-refresh-log", style="bold")

    def _row(self, view: MaterializedView, snapshot: Snapshot) -> list[Cell]:
        label, severity, rank = view_status(view)
        style = self.severity_style(severity, bold=severity in ("critical", "high")) if severity else ""
        refresh = view.last_refresh
        age = (snapshot.taken_at - refresh.at).total_seconds() if refresh.at is not None else None
        if age is None:
            age_text = "never" if not view.populated else "?"
        else:
            age_text = f"{'≤ ' if refresh.source == 'file_time' else ''}{duration(age)} ago"
        data_age = None
        if view.data_newest_at is not None:
            data_age = (snapshot.taken_at - view.data_newest_at).total_seconds()
        data_text = f"{duration(data_age)} old" if data_age is not None else ("error" if view.data_age_error else "-")
        return [
            Cell.untrusted(view.qualified_name, 80),
            Cell(label, rank, style),
            Cell(age_text, age),
            Cell(SOURCE_LABELS[refresh.source] if view.populated else "catalog: empty", refresh.source),
            Cell(duration(refresh.duration_s), refresh.duration_s),
            Cell(duration(view.threshold_s), view.threshold_s),
            Cell("yes" if view.unique_index else "NO", view.unique_index, "" if view.unique_index else self.severity_style("medium")),
            Cell("yes" if view.populated else "NO", view.populated),
            Cell(size(view.size_bytes), view.size_bytes),
            Cell(number(view.rows_estimate), view.rows_estimate),
            Cell(data_text, data_age),
        ]

    def action_refresh_view(self) -> None:
        view = current_row_key(self.query_one("#views-table", DataTable))
        if view:
            self.post_message(ActionRequested("refresh-view", {"view": view}))
