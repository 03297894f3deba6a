"""SnapshotTable draws through the Line API with a strip cached per row: what it draws is what
DataTable draws, an unchanged snapshot repaints nothing, and a changed row repaints only its line.
No server."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from dbtop.panels.base import Cell, SnapshotTable, add_columns, sync_rows

COLUMNS = [("pid", "pid", 6), ("state", "state", 10), ("query", "query text", 24)]


def rows(n: int, changed: dict[int, str] | None = None) -> dict[str, list[Cell]]:
    changed = changed or {}
    return {str(pid): [Cell(str(pid), pid, style="bold" if pid % 3 == 0 else ""),
                       Cell("idle in transaction" if pid % 2 else "active", style="red" if pid % 5 == 0 else ""),
                       Cell.untrusted(changed.get(pid, f"SELECT {pid} FROM a_rather_long_table_name_x"), 200)]
            for pid in range(100, 100 + n)}


class Tables(App):
    def compose(self) -> ComposeResult:
        for table_id in ("fast", "plain"):
            table = (SnapshotTable if table_id == "fast" else DataTable)(id=table_id, cursor_type="row",
                                                                         zebra_stripes=True)
            add_columns(table, COLUMNS)
            table.styles.height = 12
            yield table


def plain_rows(table: DataTable, data: dict[str, list[Cell]]) -> None:
    for key, cells in data.items():
        table.add_row(*cells, key=key)


def drawn(table: DataTable) -> list[list[tuple[str, str]]]:
    """Each line as (text, style without the mouse meta) per character run."""
    return [[(seg.text, str(seg.style.clear_meta_and_links()) if seg.style else "")
             for seg in table.render_line(y)] for y in range(table.size.height)]


async def test_draws_what_datatable_draws():
    app = Tables()
    async with app.run_test(size=(60, 30)) as pilot:
        fast, plain = app.query_one("#fast", SnapshotTable), app.query_one("#plain", DataTable)
        sync_rows(fast, rows(30))
        plain_rows(plain, rows(30))
        await pilot.pause()
        fast.move_cursor(row=2)
        plain.move_cursor(row=2)
        app.set_focus(None)  # the focused table's header is drawn brighter
        await pilot.pause()
        assert drawn(fast) == drawn(plain)
        fast.focus()
        await pilot.pause()
        focused = drawn(fast)
        plain.focus()
        await pilot.pause()
        assert drawn(plain) == focused
        assert "SELECT 100 FROM a_rathe…" in fast.render_line(1).text  # cut with an ellipsis


async def test_unchanged_snapshot_repaints_nothing_and_a_changed_row_only_its_line():
    app = Tables()
    async with app.run_test(size=(60, 30)) as pilot:
        fast = app.query_one("#fast", SnapshotTable)
        sync_rows(fast, rows(200))
        await pilot.pause()
        drawn_lines: list[int] = []
        original = fast._render_line

        def counting(y, *args):
            drawn_lines.append(y)
            return original(y, *args)

        fast._render_line = counting
        sync_rows(fast, rows(200))  # the same rows, built again as each snapshot builds them
        await pilot.pause()
        assert drawn_lines == []
        sync_rows(fast, rows(200, changed={103: "SELECT 'new'"}))
        await pilot.pause()
        assert drawn_lines == [4]  # header, rows 100..102, then 103
        assert "SELECT 'new'" in fast.render_line(4).text
        drawn_lines.clear()
        sync_rows(fast, rows(200, changed={103: "SELECT 'new'", 180: "off screen"}))
        await pilot.pause()
        assert drawn_lines == []  # row 180 is not on screen
        assert fast.get_row("180")[2].plain == "off screen"


async def test_a_sorted_table_keeps_its_cursor_row_through_in_place_updates():
    app = Tables()
    async with app.run_test(size=(60, 30)) as pilot:
        fast = app.query_one("#fast", SnapshotTable)
        data = rows(50)
        sync_rows(fast, data, "pid", reverse=True)
        await pilot.pause()
        fast.move_cursor(row=fast.get_row_index("130"))
        # The same order, one row's cells changed in place (the cursor's own, and another)
        changed = rows(50, changed={130: "SELECT 'cursor row'", 140: "SELECT 'other'"})
        sync_rows(fast, changed, "pid", reverse=True)
        await pilot.pause()
        assert fast.coordinate_to_cell_key(fast.cursor_coordinate).row_key.value == "130"
        assert fast.get_row("130")[2].plain == "SELECT 'cursor row'"
        assert fast.get_row("140")[2].plain == "SELECT 'other'"
        assert "SELECT 'cursor row'" in fast.render_line(1 + fast.get_row_index("130") - int(fast.scroll_y)).text
        # Another order (sorted by the query text now) and rows gone: the cursor follows its row
        fewer = {key: cells for key, cells in changed.items() if key not in ("149", "148")}
        sync_rows(fast, fewer, "query")
        await pilot.pause()
        assert fast.coordinate_to_cell_key(fast.cursor_coordinate).row_key.value == "130"
        assert fast.row_count == 48
        assert [fast.coordinate_to_cell_key((i, 0)).row_key.value for i in range(2)] == ["130", "140"]


def spy_layouts(screen) -> list[int]:
    """Counts the screen's layout passes."""
    calls: list[int] = []
    original = screen._refresh_layout

    def refresh_layout(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    screen._refresh_layout = refresh_layout
    return calls


class OneTable(App):
    def __init__(self, height: str) -> None:
        super().__init__()
        self.table_height = height

    def compose(self) -> ComposeResult:
        table = SnapshotTable(id="fast", cursor_type="row")
        add_columns(table, COLUMNS)
        table.styles.height = self.table_height
        yield table


async def test_a_new_row_count_moves_the_scrollbar_without_laying_the_screen_out():
    """Sessions come and go: the table's row count changes, its place on screen does not. Only
    its scrollbar changes (a screen layout is a pass over every widget and a repaint of the screen);
    a scrollbar appearing, or a table sized by its rows, still lays out."""
    app = OneTable("12")
    async with app.run_test(size=(60, 30)) as pilot:
        table = app.query_one("#fast", SnapshotTable)
        sync_rows(table, rows(40))
        await pilot.pause()
        assert table.show_vertical_scrollbar
        calls = spy_layouts(app.screen)
        sync_rows(table, rows(55))
        await pilot.pause()
        assert not calls
        assert table.vertical_scrollbar.window_virtual_size == 55 + 1  # the rows and the header
        table.move_cursor(row=54)
        await pilot.pause()
        assert table.scroll_y == table.max_scroll_y > 0
        sync_rows(table, rows(20))
        await pilot.pause()
        assert table.vertical_scrollbar.window_virtual_size == 20 + 1 and table.scroll_y <= table.max_scroll_y
        assert not calls
        sync_rows(table, rows(5))  # fits: the scrollbar goes, and the rows take its column
        await pilot.pause()
        assert not table.show_vertical_scrollbar and calls

    app = OneTable("auto")
    async with app.run_test(size=(60, 30)) as pilot:
        table = app.query_one("#fast", SnapshotTable)
        sync_rows(table, rows(5))
        await pilot.pause()
        height = table.size.height
        calls = spy_layouts(app.screen)
        sync_rows(table, rows(9))
        await pilot.pause()
        assert calls and table.size.height == height + 4


class TablesOnTheDashboardScreen(Tables):
    def get_default_screen(self):
        from dbtop.tui.dashboard_screen import DashboardScreen
        return DashboardScreen(id="_default")


async def test_a_changed_row_does_not_repaint_the_scrollbar_beside_it():
    app = TablesOnTheDashboardScreen()
    async with app.run_test(size=(60, 30)) as pilot:
        fast = app.query_one("#fast", SnapshotTable)
        sync_rows(fast, rows(200))
        await pilot.pause()
        scrollbar = fast.vertical_scrollbar
        assert scrollbar.display and fast.show_vertical_scrollbar
        drawn_scrollbar: list = []
        original = scrollbar.render_lines
        scrollbar.render_lines = lambda crop: drawn_scrollbar.append(crop) or original(crop)
        await pilot.pause(0.2)  # the first drawing of the scrollbar, shown for 200 rows, may still be on its way
        drawn_scrollbar.clear()
        sync_rows(fast, rows(200, changed={103: "SELECT 'new'"}))
        await pilot.pause()
        assert drawn_scrollbar == []
        assert "SELECT 'new'" in fast.render_line(4).text
