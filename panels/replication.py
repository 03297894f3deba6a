"""Replication: standbys and their lag, slots and the WAL they keep; on a standby, its own lag."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from ..engines.snapshot import Snapshot
from .base import Cell, Panel, SnapshotTable, add_columns, part_notice, refit_columns, sync_rows, update_static
from .text import clean, duration, literal, size

STANDBY_COLUMNS = [
    ("application", "standby", 16), ("client", "client", 21), ("state", "state", 10), ("sync", "sync", 6),
    ("write", "write lag", 9), ("flush", "flush lag", 9), ("replay", "replay lag", 10),
    ("bytes", "replay behind", 13), ("replay_lsn", "replay lsn", 14), ("source", "sync source", 21),
]
# The columns an engine has no figure for, hidden rather than shown empty.
STANDBY_COLUMNS_LACKING = {
    "postgres": {"source"},
    "mongo": {"sync", "write", "flush", "bytes", "replay_lsn"},
}
SLOT_COLUMNS = [
    ("name", "slot", 20), ("type", "type", 9), ("active", "active", 7), ("retained", "retained WAL", 12),
    ("wal_status", "wal status", 11), ("database", "database", 12),
]


def standby_columns(engine: str) -> list[tuple[str, str, int]]:
    lacking = STANDBY_COLUMNS_LACKING.get(engine, set())
    return [column for column in STANDBY_COLUMNS if column[0] not in lacking]


class ReplicationPanel(Panel):
    ENGINES = frozenset({"postgres", "mongo"})
    panel_title = "Replication"

    def compose(self) -> ComposeResult:
        yield Static(id="replication-summary", classes="panel-summary")
        standbys = SnapshotTable(id="replication-standbys", cursor_type="row")
        self.standby_columns = standby_columns("postgres")
        add_columns(standbys, self.standby_columns)
        yield standbys
        slots = SnapshotTable(id="replication-slots", cursor_type="row")
        add_columns(slots, SLOT_COLUMNS)
        yield slots

    def render_snapshot(self, snapshot: Snapshot) -> None:
        rep = snapshot.replication
        wanted = standby_columns(snapshot.engine)
        if refit_columns(self.query_one("#replication-standbys", DataTable), self.standby_columns, wanted):
            self.standby_columns = wanted
        text = Text()
        standby_rows, slot_rows = {}, {}
        if rep is None:
            text.append("replication state unknown")
        elif rep.role == "standby":
            r = rep.receiver
            text.append("this server is a standby", style="bold")
            if r is not None:
                text.append(f" · receiver {clean(r.status or 'not running', 20)}")
                if r.sender:
                    text.append(" from ")
                    text.append_text(literal(r.sender, 60))
                text.append(f" · replay lag {duration(r.replay_lag_s)} ({size(r.replay_lag_bytes)} behind)")
                if r.replay_paused:
                    text.append(" · replay PAUSED", style="bold")
                text.append(f" · received {r.received_lsn or '-'} replayed {r.replayed_lsn or '-'}")
        else:
            text.append(f"primary with {len(rep.standbys)} standby(s)", style="bold")
            if not rep.standbys:
                text.append(" · no standby is connected: no failover target")
        oplog = snapshot.mongo.oplog if snapshot.mongo else None
        if oplog is not None and oplog.window_s is not None:
            text.append(f" · oplog window {duration(oplog.window_s)}")
        if rep is not None:
            for sb in rep.standbys:
                cells = dict(zip([key for key, _, _ in STANDBY_COLUMNS], [
                    Cell.untrusted(sb.application, 40, len(standby_rows)), Cell.untrusted(sb.client, 40),
                    Cell.untrusted(sb.state, 20), Cell.untrusted(sb.sync_state, 10),
                    Cell(duration(sb.write_lag_s), sb.write_lag_s), Cell(duration(sb.flush_lag_s), sb.flush_lag_s),
                    Cell(duration(sb.replay_lag_s), sb.replay_lag_s),
                    Cell(size(sb.replay_lag_bytes), sb.replay_lag_bytes), Cell(sb.replay_lsn or "-"),
                    Cell.untrusted(sb.sync_source or "-", 60),
                ]))
                standby_rows[str(sb.pid)] = [cells[key] for key, _, _ in self.standby_columns]
            slots = snapshot.postgres.slots if snapshot.postgres else []
            for slot in slots:
                slot_rows[slot.name] = [
                    Cell.untrusted(slot.name, 60, len(slot_rows)), Cell(slot.slot_type),
                    Cell("yes" if slot.active else Text("no", style="bold")),
                    Cell(size(slot.retained_wal_bytes), slot.retained_wal_bytes),
                    Cell(slot.wal_status or "-"), Cell.untrusted(slot.database, 40),
                ]
            inactive = [s for s in slots if not s.active]
            if inactive:
                kept = sum(s.retained_wal_bytes or 0 for s in inactive)
                text.append(f" · {len(inactive)} inactive slot(s) keeping {size(kept)} of WAL", style="bold")
        sync_rows(self.query_one("#replication-standbys", DataTable), standby_rows)
        sync_rows(self.query_one("#replication-slots", DataTable), slot_rows)
        notice = part_notice("replication", snapshot.part("replication"))
        if notice:
            text.append("\n")
            text.append_text(notice)
        update_static(self.query_one("#replication-summary", Static), text)
