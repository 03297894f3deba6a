"""Connections: one row per session, with filter, sort, grouping and a detail view."""

from __future__ import annotations

from collections import Counter, defaultdict
from operator import attrgetter, itemgetter

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Static

from ..engines.snapshot import Session, Snapshot, as_of, same_sessions
from .base import (SESSION_ACTION_ENGINES, Cell, Column, Panel, SnapshotTable, SessionChosen,
                   add_columns, current_row_key, fit_columns, part_notice, refit_columns, session_action, sort_key,
                   sync_rows, update_static)
from .text import clean, duration, literal

# Processes without a client or a query (checkpointer, walwriter, launchers, …) are not sessions.
SESSION_BACKENDS = {"client backend", "autovacuum worker", "walsender", "parallel worker", "background worker"}
STATE_LABELS = {
    "idle in transaction": "idle in tx",
    "idle in transaction (aborted)": "idle in tx (abort)",
    "fastpath function call": "fastpath",
}
# The query text takes what is left; the other columns join by priority while they fit whole,
# and every field is in the detail view (Enter).
COLUMNS = [
    Column("pid", "pid", 7),
    Column("state", "state", 10),
    Column("xact_s", "xact", 7),
    Column("query_s", "query", 7),
    Column("user", "user", 10),
    Column("blocked_by", "blocked by", 10, 1),
    Column("application", "application", 14, 2),
    Column("wait", "wait", 16, 3),
    Column("client", "client", 21, 4),
    Column("database", "database", 12, 5),
    Column("state_s", "in state", 8, 6),
    Column("query", "query text", None),
    Column("backend_type", "backend", 14, 7),
]
QUERY_MIN, QUERY_MAX = 24, 400
GROUPS = [None, "state", "user", "application", "client"]
GROUP_COLUMNS = [("group", "group", 30), ("sessions", "sessions", 9), ("active", "active", 7),
                 ("idle_tx", "idle in tx", 10), ("waiting", "waiting", 8), ("longest_xact", "longest xact", 12)]
FILTERED_FIELDS = ("user", "database", "application", "client", "state", "query")


def session_matches(session: Session, needle: str) -> bool:
    if not needle:
        return True
    needle = needle.lower()
    return any(needle in (getattr(session, f) or "").lower() for f in FILTERED_FIELDS)


def visible_columns(width: int) -> list[tuple[str, str, int]]:
    """The columns for a table `width` cells wide, the query text sized to fill the rest."""
    return fit_columns(COLUMNS, width, max(QUERY_MIN, width // 5), QUERY_MAX)


NO_DURATION = Cell("", None)
DURATION_KEYS = ("xact_s", "query_s", "state_s")


def duration_cell(seconds: float | None) -> Cell:
    return Cell(duration(seconds), seconds) if seconds is not None else NO_DURATION


def fixed_cells(s: Session) -> dict[str, Cell]:
    """The cells that change only when the session does something, not as time passes."""
    state = s.state or s.backend_type or ("hidden" if s.hidden else "")
    wait = f"{s.wait_event_type}:{s.wait_event}" if s.wait_event_type else ""
    waiting_style = "bold" if s.blocked_by else ""
    return {
        "pid": Cell(str(s.pid), s.pid, style=waiting_style),
        "state": Cell.untrusted(STATE_LABELS.get(state, state), 18, state),
        "user": Cell.untrusted(s.user, 30),
        "query": Cell.untrusted(s.query, QUERY_MAX),
        "wait": Cell.untrusted(wait, 40, style=waiting_style),
        "database": Cell.untrusted(s.database, 40),
        "application": Cell.untrusted(s.application, 40),
        "client": Cell.untrusted(s.client, 40),
        "blocked_by": Cell(",".join(map(str, s.blocked_by)), s.blocked_by[0] if s.blocked_by else None,
                           style=waiting_style),
        "backend_type": Cell.untrusted(s.backend_type, 30),
    }


# What fixed_cells() shows of a session, read in one call (a thousand sessions per refresh).
fixed_signature = attrgetter("state", "wait_event_type", "wait_event", "query", "user", "application", "client",
                             "database", "backend_type", "blocked_by")


def session_cells(s: Session, clock_s: float | None,
                  cache: dict[int, tuple[tuple, dict[str, Cell]]] | None = None) -> dict[str, Cell]:
    """Every cell of a session's row, its durations as of the server's clock `clock_s` (the
    snapshot's). Idle sessions change only their durations from one refresh to the next; with
    `cache`, their other cells are reused rather than cleaned and built again."""
    signature = fixed_signature(s)
    cached = cache.get(s.pid) if cache is not None else None
    if cached is not None and cached[0] == signature:
        cells = dict(cached[1])
    else:
        fixed = fixed_cells(s)
        if cache is not None:
            cache[s.pid] = (signature, fixed)
        cells = dict(fixed)
    read_at = s.read_at_s
    cells["xact_s"] = duration_cell(as_of(s.read_xact_s, read_at, clock_s))
    cells["query_s"] = duration_cell(as_of(s.read_query_s, read_at, clock_s) if s.state == "active" else None)
    cells["state_s"] = duration_cell(as_of(s.read_state_s, read_at, clock_s))
    return cells


def count_states(shown: list[Session]) -> tuple[int, int, int, int]:
    """Of these sessions: how many are active, idle in transaction, waiting on a lock, and with
    their state hidden from this role."""
    active = idle_in_transaction = waiting = hidden = 0
    for s in shown:  # one pass: a thousand sessions
        state = s.state
        if state == "active":
            active += 1
        elif state == "idle in transaction":
            idle_in_transaction += 1
        if s.blocked_by:
            waiting += 1
            # A session waiting on a lock is running a statement, whether or not its state is hidden.
            if s.backend_type is None:
                active += 1
        if s.backend_type is None:  # Session.hidden
            hidden += 1
    return active, idle_in_transaction, waiting, hidden


# A session's row key, cells, and sort key (SessionRows.row).
SessionRow = tuple[str, tuple[Cell, ...], tuple]


class SessionRows:
    """Each session's row for the columns shown, kept from one refresh to the next. The collector
    carries a session that did not change into the next snapshot as the very same object: while the
    row shows none of its durations (an idle one, while "in state" is not shown), it keeps the very
    same row, recognised by the session's identity alone, which the table then recognises without
    comparing a cell, and the same sort key."""

    def __init__(self) -> None:
        self.cells: dict[int, tuple[tuple, dict[str, Cell]]] = {}
        # pid -> (the session, the view, the clock its durations were shown as of or None, the row)
        self.rows: dict[int, tuple[Session, tuple, float | None, SessionRow]] = {}
        # The last rows made for a list of sessions: (the list, the view, the rows, the places of
        # those showing a duration, which move with the clock).
        self._last: tuple[list[Session], tuple, list[SessionRow], list[int]] | None = None

    def all_rows(self, shown: list[Session], clock_s: float | None, keys: tuple[str, ...], marked: set[int],
                 sort_index: int, reverse: bool) -> list[SessionRow]:
        """row() for each of `shown`, in its order. For the very list of sessions of the last call
        (the panel keeps it while the sessions are the same objects), only the rows showing a
        duration are made again: on a server of idle sessions, a handful of a thousand."""
        view = (keys, sort_index, reverse)
        last = self._last
        if not marked and last is not None and last[0] is shown and last[1] == view:
            entries = last[2].copy()
            for index in last[3]:
                entries[index] = self.row(shown[index], clock_s, keys, False, sort_index, reverse)
            return entries
        row = self.row
        entries = [row(s, clock_s, keys, s.pid in marked, sort_index, reverse) for s in shown]
        rows = self.rows
        moving = [index for index, s in enumerate(shown) if rows[s.pid][2] is not None]
        self._last = None if marked else (shown, view, entries, moving)
        return entries

    def row(self, s: Session, clock_s: float | None, keys: tuple[str, ...], marked: bool, sort_index: int,
            reverse: bool) -> SessionRow:
        """The session's row key, its cells for `keys` (durations as of the server's clock
        `clock_s`), and its sort key by the cell at `sort_index`."""
        view = (keys, marked, sort_index, reverse)
        cached = self.rows.get(s.pid)
        if cached is not None and cached[0] is s and cached[1] == view and (cached[2] is None or cached[2] == clock_s):
            return cached[3]
        cells = session_cells(s, clock_s, self.cells)
        if marked:
            cells["pid"] = Cell(f"●{s.pid}", s.pid, style="bold reverse")
        row = tuple(cells[key] for key in keys)
        entry = (str(s.pid), row, sort_key(row[sort_index], reverse))
        # a duration on the row, read before this snapshot's clock, moves with the clock
        shows_time = s.read_at_s is not None and any(
            cells[key] is not NO_DURATION for key in DURATION_KEYS if key in keys)
        self.rows[s.pid] = (s, view, clock_s if shows_time else None, entry)
        return entry

    def forget_ended(self, sessions: list[Session]) -> None:
        if len(self.rows) > 2 * len(sessions) + 100:
            live = {s.pid for s in sessions}
            self.rows = {pid: entry for pid, entry in self.rows.items() if pid in live}
            self.cells = {pid: entry for pid, entry in self.cells.items() if pid in live}


class ConnectionsPanel(Panel):
    """Sessions from pg_stat_activity (dbtop's own excluded)."""
    ENGINES = frozenset({"postgres", "mongo"})

    panel_title = "Connections"
    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("s", "next_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse", show=False),
        Binding("g", "next_group", "Group"),
        Binding("i", "toggle_idle", "Hide idle"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("space", "mark", "Mark", show=False),
        Binding("c", "act('cancel-query')", "Cancel query"),
        Binding("k", "act('terminate-session')", "Terminate"),
        Binding("k", "act('kill-op')", "Kill op"),
    ]
    GUARDED = frozenset({"mark", "act"})
    ACTION_ENGINES = SESSION_ACTION_ENGINES

    filter_text: reactive[str] = reactive("")
    sort_column: reactive[str] = reactive("xact_s")
    sort_reverse: reactive[bool] = reactive(True)
    group_by: reactive[str | None] = reactive(None)
    hide_idle: reactive[bool] = reactive(False)
    # A group opened with Enter: (field, exact value); None as value is the "(none)" group.
    drill: reactive[tuple[str, str | None] | None] = reactive(None)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.session_rows = SessionRows()
        self.marked: set[int] = set()  # pids marked with Space, acted on together
        # The last sessions shown: (the snapshot's sessions, the view's settings, those shown), and
        # their counts by state: the same while a snapshot holds the very same sessions.
        self._shown: tuple[list[Session], tuple, list[Session]] | None = None
        self._counted: tuple[list[Session], tuple[int, int, int, int]] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="connections-summary", classes="panel-summary")
        box = Input(placeholder="filter: user, database, application, client, state or query text",
                    id="connections-filter")
        box.display = False
        yield box
        table = SnapshotTable(id="connections-table", cursor_type="row", zebra_stripes=True)
        # As wide as the screen (until the first resize says otherwise): the first snapshot's rows
        # are then made once, for the columns they are shown in.
        self.columns_shown = visible_columns(self.app.size.width or 80)
        add_columns(table, self.columns_shown)
        yield table
        groups = SnapshotTable(id="connections-groups", cursor_type="row", classes="hidden")
        add_columns(groups, GROUP_COLUMNS)
        yield groups

    @property
    def table(self) -> DataTable:
        return self.query_one("#connections-table", DataTable)

    def visible_sessions(self, snapshot: Snapshot) -> list[Session]:
        # The view's settings are read once, not once per session: a reactive's read costs more
        # than the test it feeds, a thousand times per refresh.
        hide_idle, needle, drill = view = self.hide_idle, self.filter_text, self.drill
        last = self._shown
        if last is not None and last[1] == view and same_sessions(snapshot.sessions, last[0]):
            return last[2]
        shown = self._pick_visible(snapshot, hide_idle, needle, drill)
        self._shown = (snapshot.sessions, view, shown)
        return shown

    @staticmethod
    def _pick_visible(snapshot: Snapshot, hide_idle: bool, needle: str,
                      drill: tuple[str, str | None] | None) -> list[Session]:
        shown = [s for s in snapshot.sessions
                 if s.backend_type in SESSION_BACKENDS or (s.backend_type is None and s.counts_as_client)]
        if hide_idle:
            shown = [s for s in shown if s.state != "idle"]
        if needle:
            shown = [s for s in shown if session_matches(s, needle)]
        if drill is not None:
            field, value = drill
            shown = [s for s in shown if (getattr(s, field) or None) == value]
        return shown

    def render_snapshot(self, snapshot: Snapshot) -> None:
        shown = self.visible_sessions(snapshot)
        if self.group_by:
            self.render_groups(snapshot, shown)
        else:
            keys = tuple(key for key, _, _ in self.columns_shown)
            if self.marked:
                self.marked &= {s.pid for s in snapshot.sessions}  # an ended session is no longer marked
            sort_index, reverse = keys.index(self.sort_column), self.sort_reverse
            entries = self.session_rows.all_rows(shown, snapshot.server_clock_s, keys, self.marked, sort_index,
                                                 reverse)
            self.session_rows.forget_ended(snapshot.sessions)
            entries.sort(key=itemgetter(2), reverse=reverse)  # as sync_rows sorts, by keys kept with the rows
            self.table.replace_rows({key: cells for key, cells, _ in entries})
        self.render_summary(snapshot, shown)

    def render_groups(self, snapshot: Snapshot, shown: list[Session]) -> None:
        groups: dict[str, list[Session]] = defaultdict(list)
        for s in shown:
            groups[getattr(s, self.group_by) or "(none)"].append(s)
        rows = {}
        for name, members in groups.items():
            states = Counter(m.state for m in members)
            longest = max((snapshot.xact_s(m) for m in members if m.in_transaction), default=None)
            rows[f"group:{name}"] = [
                Cell.untrusted(name, 60, name), Cell(str(len(members)), len(members)),
                Cell(str(states["active"]), states["active"]),
                Cell(str(states["idle in transaction"]), states["idle in transaction"]),
                Cell(str(sum(1 for m in members if m.blocked_by)), sum(1 for m in members if m.blocked_by)),
                Cell(duration(longest) if longest is not None else "", longest),
            ]
        sync_rows(self.query_one("#connections-groups", DataTable), rows, "sessions", True)

    def render_summary(self, snapshot: Snapshot, shown: list[Session]) -> None:
        if self._counted is not None and self._counted[0] is shown:
            active, idle_in_transaction, waiting, hidden = self._counted[1]
        else:
            active, idle_in_transaction, waiting, hidden = counts = count_states(shown)
            self._counted = (shown, counts)
        at_least = "≥" if hidden else ""  # other states are hidden: counts are lower bounds
        text = Text()
        text.append(f"{len(shown)} sessions", style="bold")
        text.append(f" · {at_least}{active} active · {at_least}{idle_in_transaction} idle in tx"
                    f" · {waiting} waiting on locks")
        if hidden:
            text.append(f" · {hidden} with state hidden", style="bold")
        label = next(c.label for c in COLUMNS if c.key == self.sort_column)
        text.append(f" · sort {label} {'↓' if self.sort_reverse else '↑'}")
        if self.group_by:
            text.append(f" · grouped by {self.group_by}")
        if self.hide_idle:
            text.append(" · idle hidden")
        if self.marked:
            text.append(f" · {len(self.marked)} marked (c cancels, k terminates them)", style="bold")
        if self.drill is not None:
            field, value = self.drill
            text.append(f" · {field} = ")
            text.append_text(literal(value if value is not None else "(none)", 40, style="bold"))
            text.append(" (Esc shows all)")
        if self.filter_text:
            text.append(" · filter ")
            text.append_text(literal(self.filter_text, 40, style="bold"))
        notice = part_notice("sessions", snapshot.part("sessions"))
        if notice:
            text.append("\n")
            text.append_text(notice)
        update_static(self.query_one("#connections-summary", Static), text)

    def on_resize(self) -> None:
        columns = visible_columns(self.size.width)
        if refit_columns(self.table, self.columns_shown, columns):
            self.columns_shown = columns
            if self.sort_column not in [key for key, _, _ in columns]:
                self.sort_column = "xact_s"
            self.rerender()

    def rerender(self) -> None:
        if self.snapshot is not None:
            self.render_snapshot(self.snapshot)

    # -- keys ------------------------------------------------------------------------------------
    def action_filter(self) -> None:
        # Shown and focused at once, not on the next message: keys typed right after "/" are
        # already queued and must land in the box.
        box = self.query_one("#connections-filter", Input)
        box.display = True
        self.screen.set_focus(box)

    def action_clear_filter(self) -> None:
        self.drill = None
        box = self.query_one("#connections-filter", Input)
        box.value = ""
        box.display = False
        self.filter_text = ""
        self.screen.set_focus(self.current_table())

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            event.input.display = False
        self.screen.set_focus(self.current_table())

    def action_next_sort(self) -> None:
        keys = [key for key, _, _ in self.columns_shown]
        index = keys.index(self.sort_column) if self.sort_column in keys else -1
        self.sort_column = keys[(index + 1) % len(keys)]

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse

    def action_next_group(self) -> None:
        self.group_by = GROUPS[(GROUPS.index(self.group_by) + 1) % len(GROUPS)]

    def action_toggle_idle(self) -> None:
        self.hide_idle = not self.hide_idle

    def watch_group_by(self, group_by: str | None) -> None:
        self.query_one("#connections-groups").set_class(group_by is None, "hidden")
        self.table.set_class(group_by is not None, "hidden")
        self.screen.set_focus(self.current_table())
        self.rerender()

    def current_table(self) -> DataTable:
        return self.query_one("#connections-groups" if self.group_by else "#connections-table", DataTable)

    def _watch_view(self) -> None:
        self.rerender()

    watch_filter_text = watch_sort_column = watch_sort_reverse = watch_hide_idle = watch_drill = _watch_view

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        if event.data_table.id == "connections-table":
            key = event.column_key.value
            if key == self.sort_column:
                self.sort_reverse = not self.sort_reverse
            else:
                self.sort_column = key

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value
        if key.startswith("group:"):
            # Enter on a group shows exactly its sessions: `idle` is not `idle in transaction`.
            value = key.split(":", 1)[1]
            self.drill = (self.group_by, None if value == "(none)" else value)
            self.group_by = None
            return
        self.post_message(SessionChosen(int(key)))

    def selected_pid(self) -> int | None:
        key = current_row_key(self.table)
        return int(key) if key and not key.startswith("group:") else None

    def action_mark(self) -> None:
        pid = None if self.group_by else self.selected_pid()
        if pid is None:
            return
        self.marked ^= {pid}
        self.rerender()
        if self.table.cursor_row < self.table.row_count - 1:
            self.table.move_cursor(row=self.table.cursor_row + 1)

    def chosen_pids(self) -> tuple[int, ...]:
        """The marked sessions, else the selected one."""
        if self.marked:
            return tuple(sorted(self.marked))
        pid = None if self.group_by else self.selected_pid()
        return (pid,) if pid is not None else ()

    def action_act(self, action: str) -> None:
        request = session_action(action, self.chosen_pids())
        if isinstance(request, str):
            self.notify(request, severity="warning", markup=False)
        else:
            self.post_message(request)

    def clear_marks(self) -> None:
        if self.marked:
            self.marked.clear()
            self.rerender()


def describe_session(s: Session) -> str:
    """A one-line description used by other panels and screens."""
    return f"{s.pid} {clean(s.user, 20)}@{clean(s.database, 20)} {clean(s.application, 20)} {clean(s.state, 20)}"
