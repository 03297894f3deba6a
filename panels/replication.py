"""Replication: standbys and their lag, slots and the WAL they keep; on a standby, its own lag."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from ..engines.snapshot import ClusterManager, PatroniCluster, PatroniMember, Snapshot, Standby
from .base import (ActionRequested, Cell, Panel, SnapshotTable, add_columns, current_row_key, part_notice, refit_columns,
                   sync_rows, update_static)
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
# Patroni's view of each member (GET /cluster), and in the last column what the servers report.
MEMBER_COLUMNS = [
    ("member", "Patroni member", 14), ("role", "role", 8), ("state", "state", 10), ("where", "host:port", 18),
    ("timeline", "TL", 3), ("lag", "lag", 8), ("restart", "restart", 7), ("server", "the server says", 30),
]
SLOT_COLUMNS = [
    ("name", "slot", 20), ("type", "type", 9), ("active", "active", 7), ("retained", "retained WAL", 12),
    ("wal_status", "wal status", 11), ("database", "database", 12),
]


def standby_columns(engine: str) -> list[tuple[str, str, int]]:
    lacking = STANDBY_COLUMNS_LACKING.get(engine, set())
    return [column for column in STANDBY_COLUMNS if column[0] not in lacking]


def manager_line(manager: ClusterManager | None, in_recovery: bool | None) -> Text:
    """Who manages the cluster, in one line, and where Patroni and the server disagree."""
    text = Text("managed by: ", style="bold")
    if manager is None:
        text.append("not known yet")
        return text
    text.append(manager.title, style="bold")
    cluster = manager.patroni_cluster
    if manager.kind == "patroni":
        if cluster is not None and (cluster.version or cluster.scope):
            text.append(f" {clean(cluster.version or '', 20)} (scope ")
            text.append_text(literal(cluster.scope or "?", 40))
            text.append(")")
        if manager.member:
            text.append(" · this server is member ")
            text.append_text(literal(manager.member, 40))
        if cluster is not None and cluster.paused:
            text.append(" · PAUSED (maintenance mode: Patroni does not fail over)", style="bold")
        if manager.api_url:
            text.append(" · REST API ")
            text.append_text(literal(manager.api_url, 60))
    elif manager.evidence and manager.kind != "none":
        text.append(" · ")
        text.append_text(literal(manager.evidence[-1], 120))
    if manager.promote_instead and manager.kind in ("repmgr", "pg_auto_failover"):
        text.append(" · promote with ")
        text.append_text(literal(manager.promote_instead, 100))
    if manager.error:
        text.append(" · ")
        text.append_text(literal(manager.error, 160))
    disagreement = manager.role_disagreement(in_recovery)
    if disagreement:
        text.append("\nDISAGREE: ", style="bold reverse")
        text.append_text(literal(disagreement, 200, style="bold"))
    return text


def server_says(member: PatroniMember, manager: ClusterManager, snapshot: Snapshot) -> Cell:
    """What the servers report of a member, beside Patroni's view: the connected server's own
    recovery state; from a primary, the member's walsender."""
    server = snapshot.server
    if member.name == manager.member and server is not None:
        said = "in recovery" if server.is_standby else "not in recovery"
        return Cell(f"connected: {said}", style="bold" if manager.role_disagreement(server.is_standby) else "")
    rep = snapshot.replication
    if rep is None or rep.role != "primary" or member.is_leader:
        return Cell("-")
    sender: Standby | None = next((s for s in rep.standbys if s.application == member.name), None)
    if sender is None:
        return Cell("no WAL sender here", style="bold")
    lag = f", replay lag {duration(sender.replay_lag_s)}" if sender.replay_lag_s is not None else ""
    return Cell(clean(f"{sender.state or '?'}{lag}", 30))


class ReplicationPanel(Panel):
    ENGINES = frozenset({"postgres", "mongo"})
    panel_title = "Replication"
    BINDINGS = [
        Binding("W", "act('switchover')", "Switchover to member"),
        Binding("F", "act('failover')", "Failover to member"),
        Binding("P", "pause_manager", "Pause/resume Patroni"),
        # Shown only while the target is a PostgreSQL standby (and the app may act); on a managed
        # cluster its plan refuses and names the manager's command.
        Binding("O", "promote", "Promote standby"),
        # MongoDB, on the server dbtop watches: its primary steps down, a secondary is frozen (point dbtop
        # at the member to freeze). F freezes on MongoDB, fails over on a Patroni cluster.
        Binding("D", "act('step-down')", "Step down"),
        Binding("F", "act('freeze-member')", "Freeze member"),
    ]
    GUARDED = frozenset({"act", "pause_manager", "promote"})
    ACTION_ENGINES = {"switchover": frozenset({"postgres"}), "failover": frozenset({"postgres"}),
                      "pause_manager": frozenset({"postgres"}),
                      "step-down": frozenset({"mongo"}), "freeze-member": frozenset({"mongo"})}

    def is_postgres_standby(self) -> bool:
        """The last snapshot says the target is a PostgreSQL standby: the one thing promote acts on."""
        snapshot = self.snapshot
        return bool(snapshot is not None and snapshot.engine == "postgres" and snapshot.replication is not None
                    and snapshot.replication.role == "standby")

    def patroni_cluster(self) -> PatroniCluster | None:
        """Patroni's view of the cluster in the last snapshot, when Patroni manages it."""
        manager = self.snapshot.postgres.manager if self.snapshot is not None and self.snapshot.postgres else None
        return manager.patroni_cluster if manager is not None and manager.kind == "patroni" else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "promote" and not self.is_postgres_standby():
            return False
        patronis = action == "pause_manager" or (action == "act" and parameters[:1] in (("switchover",), ("failover",)))
        if patronis and self.patroni_cluster() is None:
            return False  # W, F and P are Patroni's: shown only on a cluster it manages (D and F are MongoDB's)
        return super().check_action(action, parameters)

    def action_promote(self) -> None:
        if self.is_postgres_standby():  # the plan says the rest: lag, paused replay, the primary, a manager
            self.post_message(ActionRequested("promote", {}))

    def compose(self) -> ComposeResult:
        yield Static(id="replication-summary", classes="panel-summary")
        members = SnapshotTable(id="replication-members", cursor_type="row", classes="hidden")
        add_columns(members, MEMBER_COLUMNS)
        yield members
        standbys = SnapshotTable(id="replication-standbys", cursor_type="row")
        self.standby_columns = standby_columns("postgres")
        add_columns(standbys, self.standby_columns)
        yield standbys
        slots = SnapshotTable(id="replication-slots", cursor_type="row")
        add_columns(slots, SLOT_COLUMNS)
        yield slots

    def render_snapshot(self, snapshot: Snapshot) -> None:
        shown = (self.is_postgres_standby(), self.patroni_cluster() is not None)
        if shown != getattr(self, "_shown_keys", None):
            self._shown_keys = shown
            self.refresh_bindings()  # O (promote) appears or goes with the role, W/F/P with Patroni
        rep = snapshot.replication
        wanted = standby_columns(snapshot.engine)
        if refit_columns(self.query_one("#replication-standbys", DataTable), self.standby_columns, wanted):
            self.standby_columns = wanted
        text = Text()
        standby_rows, slot_rows, member_rows = {}, {}, {}
        if snapshot.engine == "postgres":
            manager = snapshot.postgres.manager if snapshot.postgres else None
            text.append_text(manager_line(manager, snapshot.server.is_standby if snapshot.server else None))
            text.append_text(self._member_rows(manager, snapshot, member_rows) or Text())
            text.append("\n")
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
        members = self.query_one("#replication-members", DataTable)
        members.set_class(not member_rows, "hidden")
        sync_rows(members, member_rows)
        sync_rows(self.query_one("#replication-standbys", DataTable), standby_rows)
        sync_rows(self.query_one("#replication-slots", DataTable), slot_rows)
        for part in ("replication", "manager", "patroni"):
            notice = part_notice(part, snapshot.part(part))
            if notice:
                text.append("\n")
                text.append_text(notice)
        update_static(self.query_one("#replication-summary", Static), text)

    def _member_rows(self, manager: ClusterManager | None, snapshot: Snapshot, rows: dict) -> Text | None:
        """Fill `rows` with the Patroni members; a line when Patroni's cluster could not be read."""
        if manager is None or manager.kind != "patroni":
            return None
        cluster = manager.patroni_cluster
        if cluster is None:
            return Text(" · Patroni's view of the cluster is hidden: GET /cluster did not answer (see below)")
        for member in cluster.members:
            where = f"{member.host}:{member.port}" if member.host else "-"
            rows[member.name] = [
                Cell.untrusted(member.name, 40, len(rows)),
                Cell.untrusted(member.role, 20, style="bold" if member.is_leader else ""),
                Cell.untrusted(member.state or "?", 20,
                               style="" if member.is_leader or member.streaming else "bold"),
                Cell.untrusted(where, 60), Cell(str(member.timeline) if member.timeline is not None else "-",
                                                member.timeline),
                Cell(size(member.lag_bytes) if not member.is_leader else "-", member.lag_bytes),
                Cell("PENDING" if member.pending_restart else "no", member.pending_restart,
                     "bold" if member.pending_restart else ""),
                server_says(member, manager, snapshot),
            ]
        return None

    def action_act(self, action: str) -> None:
        if action in ("step-down", "freeze-member"):  # MongoDB: the member dbtop watches
            self.post_message(ActionRequested(action, {}))
            return
        member = current_row_key(self.query_one("#replication-members", DataTable))
        if member:
            self.post_message(ActionRequested(action, {"candidate": member}))
        else:
            self.app.notify(f"{action}: choose a Patroni member row first", severity="warning", markup=False)

    def action_pause_manager(self) -> None:
        cluster = self.patroni_cluster()
        if cluster is not None:
            self.post_message(ActionRequested("resume" if cluster.paused else "pause", {}))
