"""Slow queries: statements from pg_stat_statements ranked by what they cost in the last interval
(or since the statistics were reset), with each one's share of the total."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from ..engines.snapshot import Snapshot, Statement, StatementDelta
from .base import Cell, Panel, SnapshotTable, add_columns, part_notice, sync_rows
from .text import milliseconds, number

TOP = 200


def _interval(field: str) -> Callable[[Statement, StatementDelta | None], float | None]:
    return lambda s, delta: getattr(delta, field) if delta is not None else None


# name -> (label, value used to rank, how the value is shown)
RANKINGS: dict[str, tuple[str, Callable[[Statement, StatementDelta | None], float | None],
                          Callable[[float | None], str]]] = {
    "interval": ("time in last interval", _interval("total_time_ms"), milliseconds),
    "total": ("total time since reset", lambda s, _: s.total_time_ms, milliseconds),
    "mean": ("mean time", lambda s, _: s.mean_time_ms, milliseconds),
    "calls": ("calls in last interval", _interval("calls"), lambda v: number(v)),
    "rows": ("rows in last interval", _interval("rows"), lambda v: number(v)),
    "io": ("blocks read in last interval", _interval("shared_blks_read"), lambda v: number(v)),
}
RANKING_ORDER = list(RANKINGS)

COLUMNS = [
    ("rank", "#", 4),
    ("value", "value", 10),
    ("share", "share", 6),
    ("calls_per_s", "calls/s", 8),
    ("mean", "mean", 9),
    ("calls", "calls", 8),
    ("rows", "rows", 8),
    ("hit", "hit%", 6),
    ("query", "query", 70),
    ("user", "user", 10),
    ("database", "database", 12),
]


class StatementsPanel(Panel):
    """Top statements; `m` switches what they are ranked by."""

    panel_title = "Slow queries"
    BINDINGS = [Binding("m", "next_ranking", "Rank by")]
    ranking: reactive[str] = reactive("interval")

    class StatementChosen(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def compose(self) -> ComposeResult:
        yield Static(id="statements-summary", classes="panel-summary")
        table = SnapshotTable(id="statements-table", cursor_type="row", zebra_stripes=True)
        add_columns(table, COLUMNS)
        yield table

    @property
    def table(self) -> DataTable:
        return self.query_one("#statements-table", DataTable)

    def ranked(self, snapshot: Snapshot) -> tuple[list[tuple[Statement, float]], float]:
        _, value_of, _ = RANKINGS[self.ranking]
        statements = snapshot.statements
        values = [(s, value_of(s, statements.delta(s))) for s in statements.entries if not s.from_dbtop]
        present = [(s, v) for s, v in values if v]
        total = sum(v for _, v in present)
        present.sort(key=lambda pair: pair[1], reverse=True)
        return present[:TOP], total

    def render_snapshot(self, snapshot: Snapshot) -> None:
        label, _, show = RANKINGS[self.ranking]
        top, total = self.ranked(snapshot)
        rows = {}
        for rank, (s, value) in enumerate(top, start=1):
            blocks = s.shared_blks_hit + s.shared_blks_read
            delta = snapshot.statements.delta(s)
            calls_per_s = delta.calls_per_s if delta else (0.0 if snapshot.statements.interval_s else None)
            rows[s.key] = [
                Cell(str(rank), rank),
                Cell(show(value), value),
                Cell(f"{value / total:.0%}" if total else "", value / total if total else None),
                Cell(number(calls_per_s, 1) if calls_per_s is not None else "", calls_per_s),
                Cell(milliseconds(s.mean_time_ms), s.mean_time_ms),
                Cell(number(s.calls), s.calls),
                Cell(number(s.rows), s.rows),
                Cell(f"{s.shared_blks_hit / blocks:.0%}" if blocks else "", s.shared_blks_hit / blocks if blocks else None),
                Cell.untrusted(s.query if s.query is not None else f"(text not available, queryid {s.query_id})", 200),
                Cell.untrusted(s.user, 30),
                Cell.untrusted(s.database, 40),
            ]
        sync_rows(self.table, rows)
        part = snapshot.part("statements")
        notice = part_notice("statements", part)
        if not part.available:
            self.query_one("#statements-summary", Static).update(notice)
            return
        text = Text()
        text.append(f"ranked by {label}", style="bold")
        own = sum(1 for s in snapshot.statements.entries if s.from_dbtop)
        text.append(f" · {len(snapshot.statements.entries) - own} statements tracked"
                    f" ({own} of dbtop's own not shown) · m changes the ranking")
        if self.ranking in ("interval", "calls", "rows", "io") and snapshot.statements.interval_s is None:
            text.append(" · interval figures appear from the second refresh")
        if notice:
            text.append("\n")
            text.append_text(notice)
        self.query_one("#statements-summary", Static).update(text)

    def action_next_ranking(self) -> None:
        self.ranking = RANKING_ORDER[(RANKING_ORDER.index(self.ranking) + 1) % len(RANKING_ORDER)]

    def watch_ranking(self) -> None:
        if self.snapshot is not None:
            self.render_snapshot(self.snapshot)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.StatementChosen(event.row_key.value))
