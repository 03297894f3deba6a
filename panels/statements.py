"""Slow queries: statements from pg_stat_statements ranked by what they cost in the last interval
(or since the statistics were reset), with each one's share of the total."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from ..engines.snapshot import Snapshot, Statement, StatementDelta
from .base import Cell, Panel, SnapshotTable, add_columns, part_notice, refit_columns, sync_rows, update_static
from .text import duration, milliseconds, number

TOP = 200


def _interval(field: str) -> Callable[[Statement, StatementDelta | None], float | None]:
    return lambda s, delta: getattr(delta, field) if delta is not None else None


class Ranking(NamedTuple):
    label: str
    header: str  # the value column's header: Σ marks a figure since the statistics were reset
    value_of: Callable[[Statement, StatementDelta | None], float | None]
    show: Callable[[float | None], str]
    per_interval: bool


RANKINGS: dict[str, Ranking] = {
    "interval": Ranking("time in last interval", "time", _interval("total_time_ms"), milliseconds, True),
    "total": Ranking("total time since reset", "Σ time", lambda s, _: s.total_time_ms, milliseconds, False),
    "mean": Ranking("mean time since reset", "Σ mean", lambda s, _: s.mean_time_ms, milliseconds, False),
    "calls": Ranking("calls in last interval", "calls", _interval("calls"), lambda v: number(v), True),
    "rows": Ranking("rows in last interval", "rows", _interval("rows"), lambda v: number(v), True),
    "io": Ranking("blocks read in last interval", "read", _interval("shared_blks_read"), lambda v: number(v), True),
}
RANKING_ORDER = list(RANKINGS)
# MongoDB without the profiler: the operations running now, from currentOp, ranked by how long they have run.
RUNNING = Ranking("time running now (currentOp)", "running", lambda s, _: s.total_time_ms, milliseconds, False)
CURRENT_OP = "currentOp"

# The value, its share and calls/s are per interval (or, for Σ rankings, since reset); Σ columns
# are counted since the statistics were reset.
COLUMNS = [
    ("rank", "#", 4),
    ("value", "value", 10),
    ("share", "share", 6),
    ("calls_per_s", "calls/s", 8),
    ("mean", "Σ mean", 9),
    ("calls", "Σ calls", 8),
    ("rows", "Σ rows", 8),
    ("hit", "Σ hit%", 6),
    ("query", "query", 70),
    ("user", "user", 10),
    ("database", "database", 12),
]


# The columns a source of statements has no figure for, hidden rather than shown empty or as a fake zero:
# MongoDB has no buffer blocks; an operation from currentOp is one call, still running, rows not counted.
COLUMNS_LACKING = {
    "postgres": frozenset(),
    "mongo": frozenset({"hit"}),
    CURRENT_OP: frozenset({"calls_per_s", "mean", "calls", "rows", "hit"}),
}


def source_of(snapshot: Snapshot) -> str:
    return CURRENT_OP if snapshot.statements.extension_version == CURRENT_OP else snapshot.engine


def rankings_for(source: str) -> list[str]:
    """The rankings that mean something for a source of statements (`m` cycles through them)."""
    if source == CURRENT_OP:
        return [CURRENT_OP]
    return [key for key in RANKING_ORDER if not (source == "mongo" and key == "io")]


def ranking_named(key: str) -> Ranking:
    return RUNNING if key == CURRENT_OP else RANKINGS[key]


def columns_for(ranking: str, source: str = "postgres") -> list[tuple[str, str, int]]:
    header = ranking_named(ranking).header
    lacking = COLUMNS_LACKING.get(source, frozenset())
    return [(key, header if key == "value" else label, width) for key, label, width in COLUMNS if key not in lacking]


class StatementsPanel(Panel):
    """Top statements; `m` switches what they are ranked by."""
    ENGINES = frozenset({"postgres", "mongo"})

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
        self.columns_shown = columns_for(self.ranking)
        add_columns(table, self.columns_shown)
        yield table

    @property
    def table(self) -> DataTable:
        return self.query_one("#statements-table", DataTable)

    def ranking_for(self, snapshot: Snapshot) -> str:
        """The ranking chosen, or the first that means something for this snapshot's statements."""
        available = rankings_for(source_of(snapshot))
        return self.ranking if self.ranking in available else available[0]

    def ranked(self, snapshot: Snapshot) -> tuple[list[tuple[Statement, float]], float]:
        value_of = ranking_named(self.ranking_for(snapshot)).value_of
        statements = snapshot.statements
        values = [(s, value_of(s, statements.delta(s))) for s in statements.entries if not s.from_dbtop]
        present = [(s, v) for s, v in values if v]
        total = sum(v for _, v in present)
        present.sort(key=lambda pair: pair[1], reverse=True)
        return present[:TOP], total

    def render_snapshot(self, snapshot: Snapshot) -> None:
        ranking = ranking_named(self.ranking_for(snapshot))
        wanted = columns_for(self.ranking_for(snapshot), source_of(snapshot))
        if refit_columns(self.table, self.columns_shown, wanted):
            self.columns_shown = wanted
        top, total = self.ranked(snapshot)
        rows = {}
        for rank, (s, value) in enumerate(top, start=1):
            # Block counters are None where the engine has none (MongoDB): the hit% cell stays empty.
            blocks = (s.shared_blks_hit or 0) + (s.shared_blks_read or 0)
            delta = snapshot.statements.delta(s)
            calls_per_s = delta.calls_per_s if delta else (0.0 if snapshot.statements.interval_s else None)
            cells = dict(zip([key for key, _, _ in COLUMNS], [
                Cell(str(rank), rank),
                Cell(ranking.show(value), value),
                Cell(f"{value / total:.0%}" if total else "", value / total if total else None),
                Cell(number(calls_per_s, 1) if calls_per_s is not None else "", calls_per_s),
                Cell(milliseconds(s.mean_time_ms), s.mean_time_ms),
                Cell(number(s.calls), s.calls),
                Cell(number(s.rows), s.rows),
                Cell(f"{s.shared_blks_hit / blocks:.0%}" if blocks else "", s.shared_blks_hit / blocks if blocks else None),
                Cell.untrusted(("[COLLSCAN] " if s.collection_scan else "")
                               + (s.query if s.query is not None else f"(text not available, queryid {s.query_id})"),
                               200),
                Cell.untrusted(s.user, 30),
                Cell.untrusted(s.database, 40),
            ]))
            rows[s.key] = [cells[key] for key, _, _ in self.columns_shown]
        sync_rows(self.table, rows)
        part = snapshot.part("statements")
        notice = part_notice("statements", part)
        if not part.available:
            update_static(self.query_one("#statements-summary", Static), notice)
            return
        update_static(self.query_one("#statements-summary", Static), self.summary(snapshot, len(top), notice))

    def summary(self, snapshot: Snapshot, shown: int, notice: Text | None) -> Text:
        ranking = ranking_named(self.ranking_for(snapshot))
        interval_s = snapshot.statements.interval_s
        own = sum(1 for s in snapshot.statements.entries if s.from_dbtop)
        tracked = len(snapshot.statements.entries) - own
        text = Text()
        # What the table cannot say itself comes first: the summary has three lines at most.
        if ranking.per_interval and interval_s is None:
            text.append("interval figures appear from the second refresh\n", style="bold")
        elif ranking.per_interval and not shown and tracked:
            text.append(f"nothing ran in the last {duration(interval_s)}: m ranks by the totals since reset\n",
                        style="bold")
        if notice:  # what this role cannot see, before the legend: at three lines, the legend is what is cut
            text.append_text(notice)
            text.append("\n")
        text.append(f"ranked by {ranking.label}", style="bold")
        text.append(f" (m: next) · {shown} of {tracked} shown")
        rest = tracked - shown
        if rest and shown == TOP:
            text.append(f", the top {TOP}")
        elif rest and ranking.per_interval and interval_s is not None:
            text.append(f", {rest} did not run")
        elif rest:
            text.append(f", {rest} at zero")
        if own:
            text.append(f" · dbtop's own {own} hidden")
        if source_of(snapshot) == CURRENT_OP:
            text.append(" · one row per operation, from its start: no totals, rows are not counted")
            return text
        last = f"the last {duration(interval_s)}" if interval_s is not None else "the last interval"
        text.append(f" · Σ = since reset, others = {last}")
        return text

    def action_next_ranking(self) -> None:
        order = rankings_for(source_of(self.snapshot)) if self.snapshot is not None else RANKING_ORDER
        current = order.index(self.ranking) if self.ranking in order else -1
        self.ranking = order[(current + 1) % len(order)]

    def watch_ranking(self) -> None:
        if not self.is_mounted:
            return
        wanted = columns_for(self.ranking_for(self.snapshot) if self.snapshot is not None else self.ranking,
                             source_of(self.snapshot) if self.snapshot is not None else "postgres")
        if refit_columns(self.table, self.columns_shown, wanted):
            self.columns_shown = wanted
        if self.snapshot is not None:
            self.render_snapshot(self.snapshot)
        # Another ranking is another list: start at its top, not where the last one was scrolled.
        if self.table.row_count:
            self.table.move_cursor(row=0, animate=False)
        self.table.scroll_home(animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.StatementChosen(event.row_key.value))
