"""Screens over the dashboard: a session's detail, a statement's full text, and the key help."""

from __future__ import annotations

from collections.abc import Callable
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..engines.snapshot import Session, Snapshot, Statement, StatementDelta
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
            yield Static(Text.assemble((self.page_title, "bold"), "  (Esc closes)"), classes="detail-title")
            for part in self.body:
                yield Static(part, classes="detail-part")

    def action_close(self) -> None:
        self.dismiss(None)


def fields(rows: list[tuple[str, object]], columns: int = 1) -> Table:
    """Name/value pairs, `columns` pairs to a line."""
    table = Table.grid(padding=(0, 2))
    for _ in range(columns):
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
    for start in range(0, len(rows), columns):
        cells: list[Text | str] = []
        for name, value in rows[start:start + columns]:
            cells += [name, value if isinstance(value, Text) else literal(value, 200)]
        table.add_row(*cells)
    return table


def session_detail(session: Session, snapshot: Snapshot) -> DetailScreen:
    others = {s.pid: s for s in snapshot.sessions}
    blocks = sorted(s.pid for s in snapshot.sessions if session.pid in s.blocked_by)

    def describe(pids: list[int]) -> Text:
        lines = []
        for pid in pids:
            other = others.get(pid)
            line = Text(f"{pid}  ", style="bold")
            if other:
                line.append_text(literal(f"{other.user} {other.state} {duration(other.xact_s)}  {other.query}", 160))
            lines.append(line)
        return Text("\n").join(lines) if pids else Text("none")

    # Who blocks whom comes before the query text: a long query would push it off an 80x24 screen.
    body: list[Text | Table] = [
        fields([
            ("user", session.user), ("database", session.database),
            ("application", session.application), ("client", session.client),
            ("state", session.state),
            ("wait", f"{session.wait_event_type}:{session.wait_event}" if session.wait_event_type else "-"),
            ("in state", duration(session.state_s)), ("transaction", duration(session.xact_s)),
            ("query running", duration(session.query_s) if session.state == "active" else "-"),
            ("backend", session.backend_type),
            ("started", session.backend_start), ("query id", session.query_id),
        ], columns=2),
        Text.assemble(("waiting for (blocked by)\n", "bold"), describe(session.blocked_by)),
        Text.assemble(("blocks\n", "bold"), describe(blocks)),
        Text.assemble(("query\n", "bold"), literal(session.query or "", one_line=False)),
    ]
    return DetailScreen(f"session {session.pid}", body)


def statement_detail(statement: Statement, delta: StatementDelta | None) -> DetailScreen:
    body: list[Text | Table] = [fields([
        ("query id", statement.query_id), ("user", statement.user), ("database", statement.database),
        ("top level", "yes" if statement.toplevel else "no (inside a function)"),
        ("calls", number(statement.calls)), ("total time", milliseconds(statement.total_time_ms)),
        ("mean time", milliseconds(statement.mean_time_ms)), ("rows", number(statement.rows)),
        ("shared blocks hit / read", f"{number(statement.shared_blks_hit)} / {number(statement.shared_blks_read)}"),
        ("last interval", (f"{delta.calls} calls, {milliseconds(delta.total_time_ms)}, {delta.rows} rows "
                           f"in {duration(delta.interval_s)}") if delta else "did not run"),
    ])]
    body.append(Text("normalized statement", style="bold"))
    body.append(literal(statement.query or "(text not available)", one_line=False))
    return DetailScreen(f"statement {statement.query_id}", body)


def keys_help(sections: list[tuple[str, list[Binding]]], key_display: Callable[[Binding], str]) -> DetailScreen:
    body: list[Text | Table] = []
    for title, bindings in sections:
        table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold", min_width=12)
        table.add_column()
        for binding in bindings:
            table.add_row(clean(key_display(binding)), clean(binding.description or binding.action))
        body.append(table)
    return DetailScreen("keys (Ctrl+P opens the command palette)", body)


class ProfilePicker(ModalScreen[str | None]):
    """Choose a connection profile, like k9s contexts: Enter connects, Escape keeps the current one."""

    BINDINGS = [Binding("escape", "close", "Keep the current target")]

    def __init__(self, entries: list[tuple[str, str]], current: str | None = None):
        super().__init__()
        self.entries = entries
        self.current = current

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="picker"):
            yield Static(Text.assemble(("connect to a profile", "bold"), "  (Enter connects, Esc keeps the current one)"),
                         classes="detail-title")
            options = []
            for name, description in self.entries:
                label = Text.assemble(("● " if name == self.current else "  "), (clean(name, 40), "bold"),
                                      "  ", literal(description, 100))
                options.append(Option(label, id=name))
            yield OptionList(*options, id="profile-options")

    def on_mount(self) -> None:
        names = [name for name, _ in self.entries]
        option_list = self.query_one(OptionList)
        if self.current in names:
            option_list.highlighted = names.index(self.current)
        option_list.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)
