"""What every panel shares: the snapshot it renders, staleness, and tables updated in place."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._segment_tools import line_crop
from textual.geometry import Region
from textual.strip import Strip
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual._two_way_dict import TwoWayDict
from textual.widget import Widget
from textual.content import Content
from textual.widgets import DataTable, Static
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
    """A DataTable that takes all its rows at once, as each snapshot brings them, and draws a row
    only when what it shows has changed.

    DataTable's add_row measures every new cell and remove_row and update_cell each redo
    bookkeeping over all rows: with a thousand sessions refreshed every half second that cost a
    quarter of a second per refresh. These tables' columns all have fixed widths, so nothing
    needs measuring, and replace_rows() sets the rows in one pass.

    Drawing goes through Textual's Line API (render_line returns one Strip per line) with a strip
    cached per row: a row is drawn again only when its cells, its place, the cursor or hover on
    it, the width or the style changed, and replace_rows() asks Textual to repaint only the
    visible lines whose row changed; an unchanged snapshot repaints nothing. DataTable itself
    renders every visible cell through Rich on each change (a tenth of a second for forty rows of
    a thousand-session table). The header and any table these fast paths do not cover (another
    cursor type, fixed columns, row labels, tall rows) are drawn by DataTable as before. It is the
    one place that relies on DataTable's internals (textual is pinned below 9; every panel test
    exercises it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cells: dict[str, tuple] = {}  # row key -> the cells it shows
        self._order: list[str] = []  # row keys in display order
        self._row_key_objects: dict[str, RowKey] = {}
        self._strips: dict[RowKey, tuple[tuple, tuple, Strip]] = {}  # row -> (cells, state, strip)
        self._line_state: tuple = ()
        self._row_styles: tuple[Style, Style] | None = None
        self._styles: dict[tuple, Style] = {}
        self._sizing = False  # in DataTable._update_dimensions, which sets the virtual size

    def _update_dimensions(self, new_rows) -> None:
        self._sizing = True
        try:
            super()._update_dimensions(new_rows)
        finally:
            self._sizing = False

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):
        """A new row count changes the table's virtual size, which lays the whole screen out (a pass
        over every widget and a repaint of the screen, a tenth of the CPU of a refresh at 1,000
        sessions): when the table's own size does not follow its rows, only its scrollbars need
        updating, as a layout would (ScrollView._size_updated). A scrollbar that appears or goes
        still lays out (its reactive asks for it)."""
        if layout and self._sizing and self._size_is_fixed():
            self._sizing = False
            layout = False
            self._scrollbar_changes.clear()
            self._scroll_update(self.virtual_size)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _size_is_fixed(self) -> bool:
        height, width = self.styles.height, self.styles.width
        return not (height is not None and height.is_auto) and not (width is not None and width.is_auto)

    def replace_rows(self, rows: dict[str, Sequence[Cell]]) -> None:
        """Show exactly `rows`, in this order, keeping the cursor on the row it was on."""
        order = list(rows)
        cells_of = {key: tuple(cells) for key, cells in rows.items()}
        if order == self._order and cells_of == self._cells:
            return  # nothing to show that is not shown already: no bookkeeping, no repaint
        old_order, old_cells = self._order, self._cells
        cursor_key = current_row_key(self)
        column_keys = [column.key for column in self.ordered_columns]
        old_rows, old_data = self.rows, self._data
        key_objects = self._row_key_objects
        if order == old_order:
            # The same rows in the same places: only the rows whose cells changed get new data (a
            # row kept from the last snapshot is the same tuple, recognised without a comparison).
            for key, cells in cells_of.items():
                if old_cells[key] != cells:
                    old_data[key_objects[key]] = dict(zip(column_keys, cells))
            resized = False
        else:
            data, meta, locations = {}, {}, {}
            for index, (key, cells) in enumerate(cells_of.items()):
                row_key = key_objects.get(key)
                if row_key is None:
                    row_key = key_objects[key] = RowKey(key)
                old = old_cells.get(key)
                data[row_key] = old_data[row_key] if old is not None and old == cells else dict(zip(column_keys, cells))
                meta[row_key] = old_rows.get(row_key) or Row(row_key, 1)
                locations[row_key] = index
            resized = len(data) != len(old_rows)
            self._data = data
            self.rows = meta
            self._row_locations = TwoWayDict(locations)
        self._order, self._cells = order, cells_of
        if order != old_order or not self._fast_path():
            # DataTable's caches of the row order and line offsets (and of rendered cells, which
            # the fast path does not use) are keyed by this count: rebuilding them walks every row.
            self._update_count += 1
        if len(key_objects) > 2 * len(order) + 256:  # rows that are gone for good
            self._row_key_objects = {key: key_objects[key] for key in order if key in key_objects}
            self._strips = {rk: v for rk, v in self._strips.items() if rk in self._data}
        if resized:
            self._require_update_dimensions = True
            self.check_idle()
        if order and order != old_order:  # in the same order, the cursor's row is where it was
            row = self._row_locations.get(RowKey(cursor_key)) if cursor_key is not None else None
            if row is None:
                row = min(self.cursor_coordinate.row, len(order) - 1)
            self.move_cursor(row=row, animate=False, scroll=False)
        if resized or not self._fast_path():
            self.refresh(layout=resized and not self._size_is_fixed())  # else: the idle _update_dimensions
        else:
            self._refresh_changed_lines(old_order, old_cells)

    def _refresh_changed_lines(self, old_order: list[str], old_cells: dict[str, tuple]) -> None:
        """Repaint the visible lines whose row is not the one shown before, or shows other cells."""
        top = int(self.scroll_y)
        header = self.header_height if self.show_header else 0
        first, last = top, min(len(self._order), top + max(0, self.size.height - header))
        new_order, new_cells = self._order, self._cells
        changed = [index for index in range(first, last)
                   if index >= len(old_order) or old_order[index] != new_order[index]
                   or old_cells.get(new_order[index]) != new_cells[new_order[index]]]
        if changed:
            width = self.scrollable_content_region.width  # not the scrollbar beside it: it did not change
            self.refresh(*(Region(0, header + index - top, width, 1) for index in changed))

    def _fast_path(self) -> bool:
        return (self.cursor_type == "row" and not self.fixed_columns and not self.fixed_rows
                and not self._should_render_row_labels)

    def clear(self, columns: bool = False) -> SnapshotTable:
        self._cells, self._order, self._strips = {}, [], {}
        return super().clear(columns)

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._strips = {}

    def notify_style_update(self) -> None:
        self._strips = {}
        super().notify_style_update()

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every line drawn in this pass shares (the cached strips are drawn with it).
        widths = tuple(column.get_render_width(self) for column in self.ordered_columns)
        self._line_state = (self.size.width, self.get_pseudo_class_state(), self.show_cursor,
                            self._show_hover_cursor, self.zebra_stripes, self.cell_padding, widths)
        self._row_styles = ((self.get_component_styles("datatable--even-row").rich_style,
                             self.get_component_styles("datatable--odd-row").rich_style)
                            if self.zebra_stripes else None)
        self._styles: dict[tuple, Style] = {}
        return super().render_lines(crop)

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        try:
            row_key, line_in_row = self._get_offsets(y)
        except LookupError:
            return Strip.blank(self.size.width, base_style)
        cells = self._cells.get(row_key.value) if row_key is not self._header_row_key else None
        if cells is None or line_in_row or not self._fast_path() or not self._line_state:
            return super()._render_line(y, x1, x2, base_style)
        index = self._row_locations.get(row_key)
        cursor = index == self.cursor_coordinate.row
        hover = index == self.hover_coordinate.row
        state = (index, x1, x2, cursor, hover, base_style, self._line_state)
        cached = self._strips.get(row_key)
        if cached is not None and cached[1] == state and cached[0] == cells:
            return cached[2]
        strip = self._draw_row(index, cells, x1, x2, cursor, hover, base_style)
        self._strips[row_key] = (cells, state, strip)
        return strip

    def _draw_row(self, index: int, cells: tuple, x1: int, x2: int, cursor: bool, hover: bool,
                  base_style: Style) -> Strip:
        """One row as DataTable draws it (padding, ellipsis, zebra, cursor and hover styles,
        the row and column in each cell's meta for the mouse), without going through Rich."""
        width, _, show_cursor, show_hover, _, padding, widths = self._line_state
        row_style = self._row_styles[index % 2] if self._row_styles else base_style
        styles = self._styles
        style_key = (row_style, cursor, hover)
        row_styles = styles.get(style_key)
        if row_styles is None:
            component, post = self._get_styles_to_render_cell(
                False, False, False, hover, cursor, show_cursor, show_hover,
                self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
            extend, _ = self._get_styles_to_render_cell(False, False, False, hover, cursor, show_cursor,
                                                        show_hover, False, False)
            row_styles = styles[style_key] = (row_style + component, post, row_style + extend)
        pre, post, extend = row_styles
        pad = " " * padding
        segments: list[Segment] = []
        for column_index, render_width in enumerate(widths):
            inner = max(0, render_width - 2 * padding)
            cell = cells[column_index] if column_index < len(cells) else None
            plain, style = cell_text(cell)
            length = cell_len(plain)
            if length > inner:
                plain = set_cell_size(plain, inner - 1) + "…" if inner > 0 else ""
                length = inner
            meta = Style.from_meta({"row": index, "column": column_index})
            outer = styles.get((pre, "", post))
            if outer is None:
                outer = styles[(pre, "", post)] = pre + post
            outer = outer + meta
            segments.append(Segment(pad, outer))
            if plain:
                if style:
                    text_style = styles.get((pre, style, post))
                    if text_style is None:
                        text_style = styles[(pre, style, post)] = pre + Style.parse(style) + post
                    segments.append(Segment(plain, text_style + meta))
                else:
                    segments.append(Segment(plain, outer))
            segments.append(Segment(" " * (inner - length) + pad, outer))
        extend = extend + Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
        segments.append(Segment(" " * max(0, width - sum(widths)), extend))
        return Strip(line_crop(segments, x1, x2, width)).adjust_cell_length(width, base_style).simplify()


def cell_text(cell: object) -> tuple[str, str]:
    """The one line a cell shows and its style."""
    if isinstance(cell, Cell):
        return cell.plain, cell.style
    if cell is None:
        return "", ""
    if isinstance(cell, Text):
        return clean(cell.plain, 10_000), str(cell.style) if cell.style else ""
    return clean(str(cell), 10_000), ""


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


def content_key(content: object) -> tuple:
    """What a Static's content shows: its text and its styles (Text's and Content's own equality
    compare the text alone)."""
    if isinstance(content, Text):
        return ("text", content.plain, tuple(content.spans), str(content.style))
    if isinstance(content, Content):
        return ("content", content.plain, tuple(content.spans))
    return ("other", content)


def update_static(static: Static, content: Text | Content | str, fixed_size: bool = False) -> None:
    """Show `content` in `static`. Nothing is done when it shows it already, and the screen is laid
    out again (a pass over every widget) only when the widget's size may change: never for a widget
    of `fixed_size`, else unless old and new are one line each that fits, of the same width or in
    a widget whose width does not follow its content (a summary line: "sort xact" -> "sort query")."""
    old = static.content
    if content_key(old) == content_key(content):
        return
    layout = not fixed_size
    if layout:
        old_plain = old.plain if isinstance(old, (Text, Content)) else old if isinstance(old, str) else None
        new_plain = content.plain if isinstance(content, (Text, Content)) else content
        if old_plain is not None and "\n" not in old_plain and "\n" not in new_plain:
            old_width, new_width, room = cell_len(old_plain), cell_len(new_plain), static.size.width
            width = static.styles.width  # None: fills its container, whatever it shows
            same_size = old_width == new_width or width is None or not (width.is_auto or width.is_fraction)
            floor = static.styles.min_width
            if not same_size and width.is_auto and floor is not None and floor.cells is not None:
                # both fit within the widget's minimum width, which it keeps
                same_size = max(old_width, new_width) + static.styles.gutter.width <= floor.cells
            layout = not (same_size and old_width <= room and new_width <= room)
    static.update(content, layout=layout)


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


# The actions on a session or operation, by engine: PostgreSQL cancels or terminates sessions, MongoDB kills
# an operation (killOp; it has no separate cancel).
SESSION_ACTION_ENGINES = {"cancel-query": frozenset({"postgres"}), "terminate-session": frozenset({"postgres"}),
                          "kill-op": frozenset({"mongo"})}


def session_action(action: str, pids: tuple[int, ...]) -> ActionRequested | str:
    """The request for `action` on the chosen sessions (or operations), or why there is none."""
    if not pids:
        return "select a row first"
    if action == "kill-op":
        if len(pids) > 1:
            return "killOp acts on one operation at a time: unmark all but one"
        return ActionRequested(action, {"opid": pids[0]})
    return ActionRequested(action, {"pids": pids})


def summary_and_table(key: str, columns: Sequence[tuple[str, str, int]]) -> Iterator[Widget]:
    """A panel's summary above its one table: `#KEY-summary` and `#KEY-table`, with `columns`."""
    yield Static(id=f"{key}-summary", classes="panel-summary")
    table = SnapshotTable(id=f"{key}-table", cursor_type="row")
    add_columns(table, columns)
    yield table


def show_summary(summary: Static, text: Text, part: str, snapshot: Snapshot) -> None:
    """Show a panel's summary `text`, followed by why its part is missing or partial, if it is."""
    notice = part_notice(part, snapshot.part(part))
    if notice:
        text.append("\n")
        text.append_text(notice)
    update_static(summary, text)


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

    # Guarded actions (by the id a binding passes, as in act('kill-op'), else the binding's action) that serve
    # some engines only: their keys are hidden, and do nothing, on another engine's snapshots.
    ACTION_ENGINES: dict[str, frozenset[str]] = {}

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.GUARDED and getattr(self.app, "read_only", False):
            return False
        engines = self.ACTION_ENGINES.get(str(parameters[0]) if parameters else action)
        if engines is not None and (self.snapshot is None or self.snapshot.engine not in engines):
            return False
        return True

    @classmethod
    def binding_serves(cls, action: str, engine: str) -> bool:
        """Whether a binding's action (e.g. "act('kill-op')") serves `engine`'s targets."""
        name, _, argument = action.partition("(")
        engines = cls.ACTION_ENGINES.get(argument.rstrip(")").strip("'\"") if argument else name)
        return engines is None or engine in engines

    def apply(self, snapshot: Snapshot) -> None:
        """Show this snapshot. Called only with reachable snapshots."""
        engine_changed = self.snapshot is None or self.snapshot.engine != snapshot.engine
        self.snapshot = snapshot
        self.render_snapshot(snapshot)
        if engine_changed and self.ACTION_ENGINES:
            self.refresh_bindings()

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
