"""Locks: the blocking tree, root blockers first, the sessions waiting behind each indented."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from ..engines.snapshot import BlockingNode, Lock, RootBlocker, Session, Snapshot
from ..themes import rich_color
from .base import Cell, Panel, SnapshotTable, SessionChosen, add_columns, current_row_key, part_notice, sync_rows
from .text import duration

COLUMNS = [
    ("pid", "pid", 16),
    ("blocks", "blocks", 8),
    ("wait", "waiting", 8),
    ("mode", "lock", 26),
    ("relation", "relation", 20),
    ("state", "state", 10),
    ("user", "user", 10),
    ("query", "query text", 60),
    ("application", "application", 16),
]


def lock_label(lock: Lock | None) -> str:
    if lock is None:
        return ""
    what = lock.locktype if lock.locktype != "relation" else ""
    return f"{lock.mode} {what}".strip()


def held_relations(root: RootBlocker) -> str:
    names = sorted({lock.relation for lock in root.holds if lock.relation})
    return ", ".join(names)


def session_state(session: Session | None) -> str:
    if session is None:
        return "gone"
    return session.state or ("hidden" if session.hidden else "")


class LocksPanel(Panel):
    """Who blocks whom. The root blocker's row is the one to act on."""

    panel_title = "Locks"

    def compose(self) -> ComposeResult:
        yield Static(id="locks-summary", classes="panel-summary")
        table = SnapshotTable(id="locks-table", cursor_type="row")
        add_columns(table, COLUMNS)
        yield table

    @property
    def table(self) -> DataTable:
        return self.query_one("#locks-table", DataTable)

    def render_snapshot(self, snapshot: Snapshot) -> None:
        sessions = {s.pid: s for s in snapshot.sessions}
        rows: dict[str, list[Cell]] = {}
        critical = rich_color(self.app.theme_variables.get("severity-critical", "red"))
        for root in snapshot.blocking.roots:
            self._add(rows, root.tree, sessions, depth=0, path=str(root.pid), root=root, style=critical)
        sync_rows(self.table, rows)
        self.render_summary(snapshot)

    def _add(self, rows: dict[str, list[Cell]], node: BlockingNode, sessions: dict[int, Session], depth: int,
             path: str, root: RootBlocker | None = None, style: str = "") -> None:
        session = sessions.get(node.pid)
        indent = "" if depth == 0 else "  " * (depth - 1) + "└─ "
        pid_text = Text(indent + str(node.pid), style=f"bold {style}" if root else "")
        if root is not None:
            blocks = Cell(f"{root.blocks_direct}/{root.blocks_total}", root.blocks_total)
            wait = Cell(duration(root.longest_wait_s), root.longest_wait_s)
            mode = Cell("holds", "")
            relation = Cell.untrusted(held_relations(root), 60)
        else:
            blocks = Cell(str(len(node.blocked)) if node.blocked else "", len(node.blocked))
            wait = Cell(duration(node.wait_s), node.wait_s)
            mode = Cell.untrusted(lock_label(node.waiting_for), 40)
            relation = Cell.untrusted(node.waiting_for.relation if node.waiting_for else "", 60)
        rows[path] = [
            Cell(pid_text, len(rows)),
            blocks, wait, mode, relation,
            Cell.untrusted(session_state(session), 20),
            Cell.untrusted(session.user if session else "", 30),
            Cell.untrusted(session.query if session else "", 200),
            Cell.untrusted(session.application if session else "", 40),
        ]
        for child in node.blocked:
            self._add(rows, child, sessions, depth + 1, f"{path}/{child.pid}")

    def render_summary(self, snapshot: Snapshot) -> None:
        blocking = snapshot.blocking
        sessions = snapshot.part("sessions")
        text = Text()
        if not blocking.roots and not sessions.available:
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
            text.append(f" · longest wait {duration(longest)} · blocks = direct/total")
        for name in ("sessions", "locks"):
            notice = part_notice(name, snapshot.part(name))
            if notice:
                text.append("\n")
                text.append_text(notice)
        self.query_one("#locks-summary", Static).update(text)

    def selected_pid(self) -> int | None:
        key = current_row_key(self.table)
        return int(key.rsplit("/", 1)[-1]) if key else None

    def selected_root_pid(self) -> int | None:
        key = current_row_key(self.table)
        return int(key.split("/", 1)[0]) if key else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(SessionChosen(int(event.row_key.value.rsplit("/", 1)[-1])))
