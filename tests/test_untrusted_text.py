"""Text from the database is shown as the characters it contains: no markup, no actions, no
terminal control, no broken rows."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from rich.text import Text
from textual.widgets import DataTable

from dbtop.engines.snapshot import Snapshot
from dbtop.panels.text import clean, literal
from dbtop.tui.app import SnapshotArrived

from .test_app import dashboard, rows, screen_text, until

HOSTILE_QUERY = ("SELECT 1 /* [bold]boom[/bold] [@click=app.quit]quit[/] \x1b[2J\x1b[H\x1b[31mred\x1b[0m "
                 "\u202eevil\u202c bell\x07 tab\there\nnext line  数据库 🚀 */")


def test_clean_removes_control_characters_and_folds_lines():
    text = clean(HOSTILE_QUERY)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\n" not in text and "\t" not in text
    assert "[bold]boom[/bold]" in text and "[@click=app.quit]" in text
    assert "数据库 🚀" in text
    assert "\ufffd[2J" in text  # the escape is shown as a replacement character, the rest as it is


def test_clean_leaves_no_character_it_removes_in_any_text():
    """clean() skips its work for text Python calls printable: every character it removes or
    replaces must be one Python does not call printable (whatever Unicode version it has)."""
    from dbtop.findings.wording import CONTROL, LINE_BREAKS

    characters = [chr(point) for point in range(0x110000)]
    controls = [c for c in characters if CONTROL.match(c)]
    breaks = [c for c in characters if LINE_BREAKS.match(c)]
    assert len(controls) > 60 and "\u2028" in breaks
    for character in controls + breaks:
        assert character not in clean(f"ok {character} ok")
    for character in controls:
        assert character not in clean(f"ok {character} ok", one_line=False).replace("\n", "")


def test_clean_keeps_lines_for_full_text_and_cuts_long_lines():
    assert clean("a\nb\tc", one_line=False) == "a\nb    c"
    assert clean("x" * 5000, limit=100) == "x" * 99 + "…"


def test_literal_is_never_markup():
    rendered = literal("[bold red]not bold[/]")
    assert isinstance(rendered, Text)
    assert rendered.plain == "[bold red]not bold[/]"
    assert rendered.spans == []


@pytest.fixture
async def hostile_sessions(pg, sessions):
    conn = await sessions(app="[@click=app.quit]app[/]")
    await conn.execute("BEGIN")
    await conn.execute(HOSTILE_QUERY)
    long = await sessions(app="long-query")
    await long.execute("BEGIN")
    await long.execute("SELECT " + " + ".join(["1"] * 3000) + " AS very_long_line")
    return conn.get_server_pid(), long.get_server_pid()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_hostile_query_text_and_names_render_literally(pg_target, hostile_sessions, size):
    hostile_pid, long_pid = hostile_sessions
    async with dashboard(pg_target, size) as (app, pilot):
        await until(pilot, lambda: str(hostile_pid) in rows(app, "connections-table"))
        table = app.query_one("#connections-table", DataTable)
        row = table.get_row(str(hostile_pid))
        query = table.get_cell(str(hostile_pid), "query").text
        assert "[bold]boom[/bold]" in query.plain and "[@click=app.quit]quit[/]" in query.plain
        assert query.spans == []
        if "application" in table.columns:  # shown from 100 columns on
            assert table.get_cell(str(hostile_pid), "application").text.plain == "[@click=app.quit]app[/]"
        assert all("\x1b" not in cell.text.plain and "\n" not in cell.text.plain for cell in row)
        long_query = table.get_cell(str(long_pid), "query").text.plain
        assert len(long_query) <= 400 and long_query.endswith("…")  # a query is one line in a table

        # Clicking the cell that holds the fake action must not trigger it.
        table.move_cursor(row=table.get_row_index(str(hostile_pid)))
        await pilot.click("#connections-table", offset=(60, table.get_row_index(str(hostile_pid)) + 1))
        await pilot.pause(0.2)
        assert app.is_running

        screen = screen_text(app)
        assert "\x1b" not in screen
        assert len(screen.splitlines()) == size[1]  # nothing pushed the layout out of shape

        # The full text in the detail view keeps its line break, still literally.
        await pilot.press("enter")
        detail = screen_text(app)
        assert "[bold]boom[/bold]" in detail and "next line" in detail
        assert "[@click=app.quit]app[/]" in detail
        assert "\x1b" not in detail
        await pilot.press("escape")
        assert app.is_running


async def test_server_error_text_with_brackets_is_shown_literally(pg_target):
    async with dashboard(pg_target, (120, 40)) as (app, pilot):
        error = "connection lost: [@click=app.quit]x[/] [bold]FATAL[/bold] \x1b[31m"
        app.post_message(SnapshotArrived(Snapshot(
            sequence=10_000, taken_at=datetime.now(timezone.utc), target="t", engine="postgres",
            reachable=False, error=error)))
        await until(pilot, lambda: app.disconnected_since is not None)
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "[@click=app.quit]x[/] [bold]FATAL[/bold]" in text
        assert "\x1b" not in text
        assert app.is_running
