"""What every panel shares: the snapshot it renders, staleness, and tables updated in place."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from rich.text import Text
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual._two_way_dict import TwoWayDict
from textual.widgets import DataTable
from textual.widgets.data_table import Row, RowKey

from ..engines.snapshot import PartStatus, Snapshot
from ..themes import rich_color
from .text import clean, literal


SORT_BY_TEXT = object()


class Cell:
    """A table cell: the text shown (already safe to show), its style, and the value it sorts by
    (a duration sorts as seconds, an unknown value as None, which sorts last). The Rich Text is
    built only when the cell is drawn: of a thousand rows, a screen shows thirty."""

    __slots__ = ("plain", "style", "sort_value")

    def __init__(self, text: Text | str, sort_value: Any = SORT_BY_TEXT, style: str = ""):
        if isinstance(text, Text):
            self.plain, self.style = text.plain, str(text.style) if text.style else style
        else:
            self.plain, self.style = text, style
        self.sort_value = self.plain if sort_value is SORT_BY_TEXT else sort_value

    @classmethod
    def untrusted(cls, value: object, limit: int, sort_value: Any = SORT_BY_TEXT, style: str = "") -> Cell:
        """Text from the database: control characters replaced, one line, cut at `limit`."""
        return cls(clean(value, limit), value if sort_value is SORT_BY_TEXT else sort_value, style)

    @property
    def text(self) -> Text:
        return Text(self.plain, style=self.style, no_wrap=True, overflow="ellipsis", end="")

    def __rich__(self) -> Text:
        return self.text

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Cell) and self.plain == other.plain and self.style == other.style
                and self.sort_value == other.sort_value)

    def __hash__(self) -> int:
        return hash(self.plain)


def sort_key(value: Any, reverse: bool = False) -> tuple:
    """Sort None last in either direction, numbers as numbers, text case-insensitively."""
    cell_value = value.sort_value if isinstance(value, Cell) else value
    if cell_value is None:
        return (-1, 0) if reverse else (1, 0)
    if isinstance(cell_value, str):
        return (0, cell_value.lower())
    return (0, cell_value)


class SnapshotTable(DataTable):
    """A DataTable that takes all its rows at once, as each snapshot brings them.

    DataTable's add_row measures every new cell and remove_row and update_cell each redo
    bookkeeping over all rows: with a thousand sessions refreshed every half second that cost a
    quarter of a second per refresh. These tables' columns all have fixed widths, so nothing
    needs measuring, and replace_rows() sets the rows in one pass. It is the one place that
    relies on DataTable's internals (textual is pinned below 9; every panel test exercises it)."""

    def replace_rows(self, rows: dict[str, Sequence[Cell]]) -> None:
        """Show exactly `rows`, in this order, keeping the cursor on the row it was on."""
        cursor_key = current_row_key(self)
        column_keys = [column.key for column in self.ordered_columns]
        old_rows = self.rows
        data, meta, locations = {}, {}, {}
        for index, (key, cells) in enumerate(rows.items()):
            row_key = RowKey(key)
            data[row_key] = dict(zip(column_keys, cells))
            meta[row_key] = old_rows.get(row_key) or Row(row_key, 1)
            locations[row_key] = index
        resized = len(data) != len(old_rows)
        self._data = data
        self.rows = meta
        self._row_locations = TwoWayDict(locations)
        self._update_count += 1
        if resized:
            self._require_update_dimensions = True
            self.check_idle()
        if data:
            row = locations.get(RowKey(cursor_key), None) if cursor_key is not None else None
            if row is None:
                row = min(self.cursor_coordinate.row, len(data) - 1)
            self.move_cursor(row=row, animate=False, scroll=False)
        self.refresh(layout=resized)


def sync_rows(table: SnapshotTable, rows: dict[str, Sequence[Cell]], sort_column: str | None = None,
              reverse: bool = False) -> None:
    """Make `table` show `rows`, sorted by `sort_column` (else in the order given)."""
    if sort_column is not None:
        index = [column.key.value for column in table.ordered_columns].index(sort_column)
        ordered = sorted(rows.items(), key=lambda item: sort_key(item[1][index], reverse), reverse=reverse)
        rows = dict(ordered)
    table.replace_rows(rows)


def current_row_key(table: DataTable) -> str | None:
    if not table.row_count:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:  # noqa: BLE001 - an out-of-range cursor just means no row
        return None


def part_notice(name: str, part: PartStatus) -> Text | None:
    """One line saying why a part is missing or partial, with the fix."""
    if part.available and not part.reason:
        return None
    text = Text()
    text.append("unavailable: " if not part.available else "partial: ", style="bold")
    text.append_text(literal(part.reason))
    if part.fix:
        text.append(" — fix: ")
        text.append_text(literal(part.fix))
    return text


class SessionChosen(Message):
    """The operator asked for one session's details (Enter on a session's row, in any panel)."""

    def __init__(self, pid: int) -> None:
        super().__init__()
        self.pid = pid


class ActionRequested(Message):
    """The operator asked for a guarded action on what a panel shows (the app plans it, shows the
    plan and runs it; a panel never does). `params` are the action's parameters."""

    def __init__(self, action: str, params: dict[str, Any]) -> None:
        super().__init__()
        self.action = action
        self.params = params


class Panel(Vertical):
    """A dashboard panel. The app hands it each snapshot; it renders only its own part.
    It never talks to a database."""

    ALLOW_MAXIMIZE = True
    # The engines whose snapshots this panel can show; the app composes only the panels that serve
    # the target's engine.
    ENGINES: frozenset[str] = frozenset({"postgres"})
    panel_title: str = ""
    stale: reactive[bool] = reactive(False)
    # Key bindings (their action names) that ask for a guarded action: gone when the app is read-only.
    GUARDED: frozenset[str] = frozenset()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.snapshot: Snapshot | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.GUARDED and getattr(self.app, "read_only", False):
            return False
        return True

    def apply(self, snapshot: Snapshot) -> None:
        """Show this snapshot. Called only with reachable snapshots."""
        self.snapshot = snapshot
        self.render_snapshot(snapshot)

    def render_snapshot(self, snapshot: Snapshot) -> None:
        """Each panel draws its own part of the snapshot here."""

    def reset(self) -> None:
        """Forget what was shown: the dashboard now watches another target."""
        self.snapshot = None
        self.stale = False
        for table in self.query(DataTable):
            table.clear()
        for summary in self.query(".panel-summary"):
            summary.update("")

    def severity_style(self, severity: str, bold: bool = False) -> str:
        """The Rich style of a severity (critical, high, medium, low, info) in the current theme."""
        color = rich_color(self.app.theme_variables.get(f"severity-{severity}", "red"))
        return f"bold {color}" if bold else color

    def watch_stale(self, stale: bool) -> None:
        self.set_class(stale, "stale")


def add_columns(table: DataTable, columns: Iterable[tuple[str, str, int | None]]) -> None:
    for key, label, width in columns:
        table.add_column(label, key=key, width=width)


class Column(NamedTuple):
    """A column of a table that fits its width: `width` None fills what is left; columns of
    priority 0 are always shown, the others by rising priority as long as they fit whole."""

    key: str
    label: str
    width: int | None
    priority: int = 0


CELL_PADDING = 2
SCROLLBAR = 2  # a vertical scrollbar appears when the rows outnumber the lines


def fit_columns(columns: Sequence[Column], width: int, fill_min: int = 24,
                fill_max: int = 400) -> list[tuple[str, str, int]]:
    """The columns for a table `width` cells wide, in their declared order: every column shown
    is shown whole (none is cut at the right edge), and the fill column takes what is left."""
    budget = width - SCROLLBAR

    def cost(column: Column) -> int:
        return (fill_min if column.width is None else column.width) + CELL_PADDING

    chosen = {c.key for c in columns if c.priority == 0}
    used = sum(cost(c) for c in columns if c.key in chosen)
    for column in sorted((c for c in columns if c.priority), key=lambda c: c.priority):
        if used + cost(column) > budget:
            break  # strictly by priority: a wider table only ever adds columns
        chosen.add(column.key)
        used += cost(column)
    fill = max(fill_min, min(fill_max, budget - used + fill_min))
    return [(c.key, c.label, fill if c.width is None else c.width) for c in columns if c.key in chosen]


def refit_columns(table: DataTable, shown: list[tuple[str, str, int]],
                  wanted: list[tuple[str, str, int]]) -> bool:
    """Give `table` the `wanted` columns if they differ from those `shown`; True when they did
    (the caller then renders its rows again)."""
    if wanted == shown:
        return False
    table.clear(columns=True)
    add_columns(table, wanted)
    return True
