"""Screens over the dashboard: a session's detail, a statement's full text, and the key help."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..engines.snapshot import Session, Snapshot, Statement
from ..panels.text import clean, duration, literal, milliseconds, number


class DetailScreen(ModalScreen[None]):
    """A scrollable page of details; Escape or q closes it."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("q", "close", "Close", show=False)]

    def __init__(self, title: str, body: list[Text | Table]):
        super().__init__()
        self.page_title = title
        self.body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(Text(self.page_title, style="bold"), classes="detail-title")
            for part in self.body:
                yield Static(part, classes="detail-part")

    def action_close(self) -> None:
        self.dismiss(None)


def fields(rows: list[tuple[str, object]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, value if isinstance(value, Text) else literal(value, 200))
    return table


def session_detail(session: Session, snapshot: Snapshot) -> DetailScreen:
    others = {s.pid: s for s in snapshot.sessions}
    blocks = sorted(s.pid for s in snapshot.sessions if session.pid in s.blocked_by)
    body: list[Text | Table] = [fields([
        ("user", session.user), ("database", session.database), ("application", session.application),
        ("client", session.client), ("backend", session.backend_type), ("state", session.state),
        ("wait", f"{session.wait_event_type}:{session.wait_event}" if session.wait_event_type else "-"),
        ("in state", duration(session.state_s)), ("transaction", duration(session.xact_s)),
        ("query running", duration(session.query_s) if session.state == "active" else "-"),
        ("backend start", session.backend_start), ("query id", session.query_id),
    ])]
    body.append(Text("query", style="bold"))
    body.append(literal(session.query or "", one_line=False))

    def describe(pids: list[int]) -> Text:
        text = Text()
        for pid in pids:
            other = others.get(pid)
            text.append(f"{pid}  ", style="bold")
            if other:
                text.append_text(literal(f"{other.user} {other.state} {duration(other.xact_s)}  {other.query}", 160))
            text.append("\n")
        return text if pids else Text("none")

    body.append(Text("waiting for (blocked by)", style="bold"))
    body.append(describe(session.blocked_by))
    body.append(Text("blocks", style="bold"))
    body.append(describe(blocks))
    return DetailScreen(f"session {session.pid}", body)


def statement_detail(statement: Statement) -> DetailScreen:
    delta = statement.delta
    body: list[Text | Table] = [fields([
        ("query id", statement.query_id), ("user", statement.user), ("database", statement.database),
        ("top level", "yes" if statement.toplevel else "no (inside a function)"),
        ("calls", number(statement.calls)), ("total time", milliseconds(statement.total_time_ms)),
        ("mean time", milliseconds(statement.mean_time_ms)), ("rows", number(statement.rows)),
        ("shared blocks hit / read", f"{number(statement.shared_blks_hit)} / {number(statement.shared_blks_read)}"),
        ("last interval", (f"{delta.calls} calls, {milliseconds(delta.total_time_ms)}, {delta.rows} rows "
                           f"in {duration(delta.interval_s)}") if delta else "not yet measured"),
    ])]
    body.append(Text("normalized statement", style="bold"))
    body.append(literal(statement.query or "(text not available)", one_line=False))
    return DetailScreen(f"statement {statement.query_id}", body)


def keys_help(sections: list[tuple[str, list[Binding]]]) -> DetailScreen:
    body: list[Text | Table] = []
    for title, bindings in sections:
        table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold", min_width=12)
        table.add_column()
        for binding in bindings:
            table.add_row(clean(binding.key_display or binding.key), clean(binding.description or binding.action))
        body.append(table)
    return DetailScreen("keys (Ctrl+P opens the command palette)", body)
