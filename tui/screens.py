"""Screens over the dashboard: a session's detail, a statement's full text, and the key help."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import NamedTuple

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..engines.snapshot import Session, Snapshot, Statement, StatementDelta
from ..findings.model import Finding
from ..panels.findings import finding_detail_body
from ..panels.text import clean, duration, literal, milliseconds, number


class DetailPage(NamedTuple):
    """What a detail screen shows: its parts, the text `y` copies, and when the data was read."""

    body: list[Text | Table]
    copy_text: str | None = None
    taken_at: datetime | None = None


class DetailScreen(ModalScreen[None]):
    """A scrollable page of details; Escape or q closes it, y copies its statement.

    With `follow`, the page is read again from each new snapshot (the app calls `follow_latest`);
    when `follow` returns None (the session ended) or no new snapshot comes (disconnected, paused),
    the title says the page is frozen and how old it is, counted by the app's 1 s tick."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("q", "close", "Close", show=False),
                Binding("y", "copy", "Copy statement"), Binding("a", "act", "Act on it")]

    def __init__(self, title: str, body: list[Text | Table] | DetailPage,
                 follow: Callable[[], DetailPage | None] | None = None, gone: str = "no longer there",
                 act: Callable[[], object] | None = None):
        super().__init__()
        self.act = act  # plans the dbtop action that addresses what the page shows (a finding)
        self.page_title = title
        self.page = body if isinstance(body, DetailPage) else DetailPage(body)
        self.follow = follow
        self.gone = gone
        self.ended = False
        self.stalled: str | None = None

    @property
    def body(self) -> list[Text | Table]:
        return self.page.body

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(self.title_text(), classes="detail-title")
            with Vertical(id="detail-body"):
                for part in self.body:
                    yield Static(part, classes="detail-part")

    def title_text(self) -> Text:
        title = Text.assemble((self.page_title, "bold"))
        taken_at = self.page.taken_at
        if taken_at is not None:
            age = duration((datetime.now(timezone.utc) - taken_at).total_seconds())
            clock = taken_at.astimezone().strftime("%H:%M:%S")
            if self.ended:
                title.append(f"  {self.gone}: frozen at {clock}, {age} old", style="bold")
            elif self.follow is None or self.stalled:
                title.append(f"  frozen at {clock}, {age} old" + (f" ({self.stalled})" if self.stalled else ""),
                             style="bold")
            else:
                title.append(f"  live: as of {clock}, {age} old")
        keys = "Esc closes, y copies" if self.page.copy_text else "Esc closes"
        if self.act is not None:
            keys += ", a acts on it"
        title.append(f"  ({keys})")
        return title

    def refresh_age(self, stalled: str | None = None) -> None:
        """Called every second by the app, with why no new data comes (paused, disconnected):
        the age in the title keeps counting."""
        self.stalled = stalled
        if self.is_mounted:
            self.query_one(".detail-title", Static).update(self.title_text())

    async def follow_latest(self) -> None:
        """Read the page again from the newest data; keep the old one, marked frozen, if its
        subject is gone."""
        if self.follow is None or self.ended or not self.is_mounted:
            return
        page = self.follow()
        if page is None:
            self.ended = True
        else:
            self.page = page
            holder = self.query_one("#detail-body", Vertical)
            statics = list(holder.query_children(Static))
            if len(statics) == len(page.body):
                for static, part in zip(statics, page.body):
                    static.update(part)
            else:
                await holder.remove_children()
                await holder.mount_all([Static(part, classes="detail-part") for part in page.body])
        self.refresh_age(self.stalled)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy":
            return bool(self.page.copy_text)
        if action == "act":
            return self.act is not None
        return True

    def action_act(self) -> None:
        if self.act is not None:
            self.dismiss(None)
            self.act()

    def action_copy(self) -> None:
        text = self.page.copy_text
        if not text:
            return
        # OSC 52: the terminal (through SSH too) puts it on the clipboard; tmux needs set-clipboard on.
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {len(text)} characters (OSC 52; in tmux: set -g set-clipboard on)", markup=False)

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


def session_page(session: Session, snapshot: Snapshot) -> DetailPage:
    others = {s.pid: s for s in snapshot.sessions}
    blocks = sorted(s.pid for s in snapshot.sessions if session.pid in s.blocked_by)

    def describe(pids: list[int]) -> Text:
        lines = []
        for pid in pids:
            other = others.get(pid)
            line = Text(f"{pid}  ", style="bold")
            if other:
                line.append_text(literal(f"{other.user} {other.state} {duration(snapshot.xact_s(other))}  {other.query}",
                                        160))
            lines.append(line)
        return Text("\n").join(lines) if pids else Text("none")

    # Who blocks whom comes before the query text: a long query would push it off an 80x24 screen.
    body: list[Text | Table] = [
        fields([
            ("user", session.user), ("database", session.database),
            ("application", session.application), ("client", session.client),
            ("state", session.state),
            ("wait", f"{session.wait_event_type}:{session.wait_event}" if session.wait_event_type else "-"),
            ("in state", duration(snapshot.state_s(session))), ("transaction", duration(snapshot.xact_s(session))),
            ("query running", duration(snapshot.query_s(session)) if session.state == "active" else "-"),
            ("backend", session.backend_type),
            ("started", session.backend_start), ("query id", session.query_id),
        ], columns=2),
        Text.assemble(("waiting for (blocked by)\n", "bold"), describe(session.blocked_by)),
        Text.assemble(("blocks\n", "bold"), describe(blocks)),
        Text.assemble(("query\n", "bold"), literal(session.query or "", one_line=False)),
    ]
    return DetailPage(body, session.query or None, snapshot.taken_at)


def session_detail(session: Session, snapshot: Snapshot,
                   latest: Callable[[], Snapshot] | None = None) -> DetailScreen:
    """A session's page; with `latest` (the newest reachable snapshot), it follows the session
    until it ends (its pid gone, or reused by a backend started later)."""

    def follow() -> DetailPage | None:
        now = latest()
        same = next((s for s in now.sessions if s.pid == session.pid and s.backend_start == session.backend_start),
                    None)
        return session_page(same, now) if same is not None else None

    return DetailScreen(f"session {session.pid}", session_page(session, snapshot), follow if latest else None,
                        gone="the session has ended")


def statement_page(statement: Statement, delta: StatementDelta | None, taken_at: datetime | None) -> DetailPage:
    body: list[Text | Table] = [fields([
        ("query id", statement.query_id), ("user", statement.user), ("database", statement.database),
        ("top level", "yes" if statement.toplevel else "no (inside a function)"),
        ("calls", number(statement.calls)), ("total time", milliseconds(statement.total_time_ms)),
        ("mean time", milliseconds(statement.mean_time_ms)), ("rows", number(statement.rows) if statement.rows is not None else "not counted (an operation in flight)"),
        ("shared blocks hit / read", f"{number(statement.shared_blks_hit)} / {number(statement.shared_blks_read)}"),
        ("last interval", (f"{delta.calls} calls, {milliseconds(delta.total_time_ms)}, {delta.rows} rows "
                           f"in {duration(delta.interval_s)}") if delta else "did not run"),
    ])]
    body.append(Text("normalized statement", style="bold"))
    body.append(literal(statement.query or "(text not available)", one_line=False))
    return DetailPage(body, statement.query or None, taken_at)


def statement_detail(statement: Statement, delta: StatementDelta | None, taken_at: datetime | None = None,
                     follow: Callable[[], DetailPage | None] | None = None) -> DetailScreen:
    return DetailScreen(f"statement {statement.query_id}", statement_page(statement, delta, taken_at), follow,
                        gone="no longer in pg_stat_statements")


def finding_page(finding: Finding, taken_at: datetime | None) -> DetailPage:
    return DetailPage(finding_detail_body(finding), finding.statement, taken_at)


def keys_help(sections: list[tuple[str, list[Binding]]], key_display: Callable[[Binding], str]) -> DetailScreen:
    tables = []
    for title, bindings in sections:
        table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold", min_width=12)
        table.add_column()
        for binding in bindings:
            table.add_row(clean(key_display(binding)), clean(binding.description or binding.action))
        tables.append(table)
    # The panels' keys side by side, two sections to a row: the whole help fits 120x40.
    body: list[Text | Table] = tables[:1]
    for start in range(1, len(tables), 2):
        pair = Table.grid(padding=(0, 2), expand=True)
        pair.add_column(ratio=1)
        pair.add_column(ratio=1)
        pair.add_row(*tables[start:start + 2], *([""] if len(tables[start:start + 2]) == 1 else []))
        body.append(pair)
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
