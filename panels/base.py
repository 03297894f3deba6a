"""What every panel shares: the snapshot it renders, staleness, and tables updated in place."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

from ..engines.snapshot import PartStatus, Snapshot
from .text import literal


SORT_BY_TEXT = object()


class Cell:
    """A table cell: the text shown, and the value it sorts by (a duration sorts as seconds,
    an unknown value as None, which sorts last)."""

    __slots__ = ("text", "sort_value")

    def __init__(self, text: Text | str, sort_value: Any = SORT_BY_TEXT):
        self.text = text if isinstance(text, Text) else Text(text)
        self.sort_value = self.text.plain if sort_value is SORT_BY_TEXT else sort_value

    def __rich__(self) -> Text:
        return self.text

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Cell) and self.text.plain == other.text.plain
                and self.text.style == other.text.style and self.sort_value == other.sort_value)

    def __hash__(self) -> int:
        return hash(self.text.plain)


def sort_key(value: Any, reverse: bool = False) -> tuple:
    """Sort None last in either direction, numbers as numbers, text case-insensitively."""
    cell_value = value.sort_value if isinstance(value, Cell) else value
    if cell_value is None:
        return (-1, 0) if reverse else (1, 0)
    if isinstance(cell_value, str):
        return (0, cell_value.lower())
    return (0, cell_value)


def sync_rows(table: DataTable, rows: dict[str, Sequence[Cell]], sort_column: str | None = None,
              reverse: bool = False) -> None:
    """Make `table` show `rows` (in the given order, or sorted by `sort_column`), touching only
    the cells that changed, and keep the cursor on the row it was on."""
    cursor_key = current_row_key(table)
    column_keys = list(table.columns)
    for key in [k for k in table.rows if k.value not in rows]:
        table.remove_row(key)
    for key, cells in rows.items():
        if key in table.rows:
            old = table.get_row(key)
            for column, before, after in zip(column_keys, old, cells):
                if before != after:
                    table.update_cell(key, column, after)
        else:
            table.add_row(*cells, key=key)
    # Without a sort column the rows keep the order given: callers put each row's position in
    # its first cell's sort value.
    table.sort(sort_column or column_keys[0], key=lambda value: sort_key(value, reverse), reverse=reverse)
    if cursor_key is not None and cursor_key in rows:
        table.move_cursor(row=table.get_row_index(cursor_key), animate=False, scroll=False)


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


class Panel(Vertical):
    """A dashboard panel. The app hands it each snapshot; it renders only its own part.
    It never talks to a database."""

    ALLOW_MAXIMIZE = True
    panel_title: str = ""
    stale: reactive[bool] = reactive(False)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.snapshot: Snapshot | None = None

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

    def watch_stale(self, stale: bool) -> None:
        self.set_class(stale, "stale")


def add_columns(table: DataTable, columns: Iterable[tuple[str, str, int | None]]) -> None:
    for key, label, width in columns:
        table.add_column(label, key=key, width=width)
