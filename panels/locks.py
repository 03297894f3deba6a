"""Locks: the blocking tree, root blockers first, the sessions waiting behind each indented."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from ..engines.snapshot import BlockingNode, Lock, RootBlocker, Session, Snapshot
from ..themes import rich_color
from .base import (SESSION_ACTION_ENGINES, Cell, Column, Panel, SnapshotTable, SessionChosen,
                   add_columns, current_row_key, fit_columns, part_notice, refit_columns, session_action, sync_rows,
                   update_static)
from .text import duration

# At 80 columns: pid, blocks, lock, relation and application; the others join as the table widens
# (and every field is in the detail view, Enter).
COLUMNS = [
    Column("pid", "pid", 12),
    Column("blocks", "blocks", 6),
    Column("wait", "waiting", 8, 1),
    Column("mode", "lock", 24),
    Column("relation", "relation", 14),
    Column("application", "application", 12),
    Column("state", "state", 10, 2),
    Column("user", "user", 10, 3),
    Column("query", "query text", None, 4),
]
QUERY_MIN, QUERY_MAX = 20, 400
# pg_locks' lock types as a DBA reads them; a relation lock is named by its relation alone.
LOCK_TYPES = {"relation": "", "transactionid": "xid", "virtualxid": "vxid", "tuple": "row"}
# Table-level lock modes, weakest first.
MODES = ["AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
         "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"]


def lock_label(lock: Lock | None) -> str:
    if lock is None:
        return ""
    what = LOCK_TYPES.get(lock.locktype, lock.locktype)
    return f"{lock.mode} {what}".strip()


def blocking_locks(root: RootBlocker) -> list[Lock]:
    """The locks the root holds that its direct waiters wait for: same lock type, and for a table
    lock the same table. A row-lock wait is on the root's transaction id (its ExclusiveLock); the
    waiter's relation, taken from its tuple lock, names the table. Without a match (pg_locks read
    between two changes), the strongest lock it holds."""
    awaited = [child.waiting_for for child in root.tree.blocked if child.waiting_for is not None]
    matched: list[Lock] = []
    for want in awaited:
        for held in root.holds:
            if held.locktype == want.locktype and (held.locktype != "relation" or held.relation == want.relation):
                lock = held
                if not held.relation and want.relation:
                    lock = held.model_copy(update={"relation": want.relation})
                if lock not in matched:
                    matched.append(lock)
    if matched or not root.holds:
        return matched
    return [max(root.holds, key=lambda lock: MODES.index(lock.mode) if lock.mode in MODES else -1)]


def session_state(session: Session | None) -> str:
    if session is None:
        return "gone"
    return session.state or ("hidden" if session.hidden else "")


class LocksPanel(Panel):
    """Who blocks whom. The root blocker's row is the one to act on."""
    ENGINES = frozenset({"postgres", "mongo"})

    panel_title = "Locks"
    BINDINGS = [
        Binding("c", "act('cancel-query')", "Cancel query"),
        Binding("k", "act('terminate-session')", "Terminate"),
        Binding("k", "act('kill-op')", "Kill op"),
    ]
    GUARDED = frozenset({"act"})
    ACTION_ENGINES = SESSION_ACTION_ENGINES

    def compose(self) -> ComposeResult:
        yield Static(id="locks-summary", classes="panel-summary")
        table = SnapshotTable(id="locks-table", cursor_type="row")
        self.columns_shown = fit_columns(COLUMNS, 80, QUERY_MIN, QUERY_MAX)
        add_columns(table, self.columns_shown)
        yield table

    @property
    def table(self) -> DataTable:
        return self.query_one("#locks-table", DataTable)

    def on_resize(self) -> None:
        columns = fit_columns(COLUMNS, self.size.width, QUERY_MIN, QUERY_MAX)
        if refit_columns(self.table, self.columns_shown, columns):
            self.columns_shown = columns
            if self.snapshot is not None:
                self.render_snapshot(self.snapshot)

    def render_snapshot(self, snapshot: Snapshot) -> None:
        sessions = {s.pid: s for s in snapshot.sessions}
        rows: dict[str, dict[str, Cell]] = {}
        critical = rich_color(self.app.theme_variables.get("severity-critical", "red"))
        for root in snapshot.blocking.roots:
            self._add(rows, root.tree, sessions, depth=0, path=str(root.pid), root=root, style=critical)
        # Waiters whose blocker the server does not name (MongoDB's currentOp): longest first, no tree.
        in_trees = {int(path.rsplit("/", 1)[-1]) for path in rows}
        for lock in snapshot.blocking.locks:
            if not lock.granted and lock.pid not in in_trees:
                in_trees.add(lock.pid)
                self._add(rows, BlockingNode(pid=lock.pid, wait_s=lock.wait_s, waiting_for=lock), sessions,
                          depth=0, path=str(lock.pid))
        keys = [key for key, _, _ in self.columns_shown]
        sync_rows(self.table, {path: [cells[key] for key in keys] for path, cells in rows.items()})
        self.render_summary(snapshot)

    def _add(self, rows: dict[str, dict[str, Cell]], node: BlockingNode, sessions: dict[int, Session], depth: int,
             path: str, root: RootBlocker | None = None, style: str = "") -> None:
        session = sessions.get(node.pid)
        indent = "" if depth == 0 else "  " * (depth - 1) + "└─ "
        pid_text = Text(indent + str(node.pid), style=f"bold {style}" if root else "")
        if root is not None:
            # The root waits for no one: its lock is the one it holds, and its waiting cell is empty.
            held = blocking_locks(root)
            blocks = Cell(f"{root.blocks_direct}/{root.blocks_total}", root.blocks_total)
            wait = Cell("", None)
            mode = Cell.untrusted(", ".join(dict.fromkeys(lock_label(lock) for lock in held)), 80, style="bold")
            relation = Cell.untrusted(", ".join(dict.fromkeys(lock.relation for lock in held if lock.relation)), 60)
        else:
            blocks = Cell(str(len(node.blocked)) if node.blocked else "", len(node.blocked))
            wait = Cell(duration(node.wait_s), node.wait_s)
            mode = Cell.untrusted(lock_label(node.waiting_for), 40)
            relation = Cell.untrusted(node.waiting_for.relation if node.waiting_for else "", 60)
        rows[path] = {
            "pid": Cell(pid_text, len(rows)),
            "blocks": blocks, "wait": wait, "mode": mode, "relation": relation,
            "state": Cell.untrusted(session_state(session), 20),
            "user": Cell.untrusted(session.user if session else "", 30),
            "query": Cell.untrusted(session.query if session else "", 200),
            "application": Cell.untrusted(session.application if session else "", 40),
        }
        for child in node.blocked:
            self._add(rows, child, sessions, depth + 1, f"{path}/{child.pid}")

    def render_summary(self, snapshot: Snapshot) -> None:
        blocking = snapshot.blocking
        sessions = snapshot.part("sessions")
        text = Text()
        unattributed = sum(1 for lock in blocking.locks if not lock.granted) if not blocking.roots else 0
        if unattributed:
            longest = max((lock.wait_s or 0 for lock in blocking.locks), default=0)
            text.append(f"{unattributed} operation(s) waiting for a lock", style="bold")
            text.append(f" · longest wait {duration(longest)} · the server does not say which operation holds it")
        elif not blocking.roots and not sessions.available:
            # the waits are read with the sessions: none read is not none waiting
            text.append("Lock waits unknown: the sessions could not be read.", style="bold")
        elif not blocking.roots and sessions.reason:
            text.append("No session is waiting for a lock (pg_locks shows every role's waits).")
        elif not blocking.roots:
            text.append("No session is waiting for a lock.")
        else:
            longest = max((r.longest_wait_s or 0 for r in blocking.roots), default=0)
            text.append(f"{blocking.blocked_count} sessions waiting behind {len(blocking.roots)} root blocker(s)",
                        style="bold")
            text.append(f" · longest wait {duration(longest)} · blocks = direct/total"
                        " · lock: held by a root (bold), awaited by the others")
        for name in ("sessions", "locks"):
            notice = part_notice(name, snapshot.part(name))
            if notice:
                text.append("\n")
                text.append_text(notice)
        update_static(self.query_one("#locks-summary", Static), text)

    def selected_pid(self) -> int | None:
        key = current_row_key(self.table)
        return int(key.rsplit("/", 1)[-1]) if key else None

    def selected_root_pid(self) -> int | None:
        key = current_row_key(self.table)
        return int(key.split("/", 1)[0]) if key else None

    def action_act(self, action: str) -> None:
        """On the selected row: the root blocker is the row to act on (its plan says how many wait
        behind it)."""
        pid = self.selected_pid()
        if pid is not None:
            request = session_action(action, (pid,))
            assert not isinstance(request, str)  # one pid: always a request
            self.post_message(request)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(SessionChosen(int(event.row_key.value.rsplit("/", 1)[-1])))
