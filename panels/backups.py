"""Backups: the recovery point against the RPO, WAL archiving, pgBackRest, and every backup file with
its verification and whether the retention policy would prune it."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from ..engines.snapshot import BackupEntry, Backups, PgBackRestStatus, Snapshot, WalArchiving
from .base import Cell, Panel, SnapshotTable, add_columns, part_notice, sync_rows, update_static
from .text import duration, literal, size

COLUMNS = [
    ("name", "backup", 34), ("status", "status", 13), ("age", "taken", 10), ("origin", "origin", 10),
    ("kind", "format", 10), ("size", "size", 9), ("database", "database", 12), ("verified", "verified", 16),
    ("prune", "retention", 9),
]

STATUS_LABELS = {
    "verified": ("verified", None),
    "unverified": ("unverified", "medium"),
    "verification_failed": ("VERIFY FAILED", "critical"),
    "partial": ("PARTIAL", "high"),
    "corrupt_metadata": ("BAD METADATA", "high"),
    "missing_file": ("FILE MISSING", "high"),
}
GAUGE_WIDTH = 24


def ago(then: datetime | None, now: datetime) -> str:
    return "-" if then is None else f"{duration((now - then).total_seconds())} ago"


class BackupsPanel(Panel):
    ENGINES = frozenset({"postgres", "mongo"})
    panel_title = "Backups"

    def compose(self) -> ComposeResult:
        yield Static(id="backups-summary", classes="panel-summary")
        table = SnapshotTable(id="backups-table", cursor_type="row")
        add_columns(table, COLUMNS)
        yield table

    def render_snapshot(self, snapshot: Snapshot) -> None:
        backups = snapshot.backups
        text = Text()
        rows: dict[str, list[Cell]] = {}
        if backups is None:
            text.append("backup inventory not read yet")
        else:
            now = snapshot.taken_at
            self._recovery_point(text, backups, now)
            text.append("\n")
            self._archiving(text, snapshot.postgres.archiving if snapshot.postgres else None, now)
            text.append("\n")
            self._sources(text, backups, snapshot.postgres.pgbackrest if snapshot.postgres else None)
            for index, entry in enumerate(backups.entries):
                rows[f"{entry.origin}:{entry.name}:{index}"] = self._row(entry, now)
        sync_rows(self.query_one("#backups-table", DataTable), rows)
        notice = part_notice("backups", snapshot.part("backups"))
        if notice:
            text.append("\n")
            text.append_text(notice)
        update_static(self.query_one("#backups-summary", Static), text)

    def _recovery_point(self, text: Text, backups: Backups, now: datetime) -> None:
        rpo = backups.rpo_s
        text.append("recovery point ", style="bold")
        if backups.newest_verified_at is None:
            text.append("NO VERIFIED BACKUP", style=self.severity_style("critical", bold=True))
            text.append(f" · RPO {duration(rpo)}: ")
            newest = max((e.taken_at for e in backups.entries if e.status == "unverified" and e.taken_at),
                         default=None)
            if newest is None:
                text.append("nothing to restore from; every change since the database was created is at risk")
            else:
                text.append(f"the newest backup ({ago(newest, now)}) was never verified to restore")
            return
        age = (now - backups.newest_verified_at).total_seconds()
        over = age > rpo
        filled = min(GAUGE_WIDTH, round(GAUGE_WIDTH * age / rpo)) if rpo > 0 else GAUGE_WIDTH
        style = self.severity_style("critical" if over else "low", bold=over)
        text.append("[")
        text.append("█" * filled, style=style)
        text.append("░" * (GAUGE_WIDTH - filled))
        text.append("] ")
        text.append(f"newest verified backup {duration(age)} ago · RPO {duration(rpo)}")
        if over:
            text.append(f" · EXCEEDED by {duration(age - rpo)}", style=style)

    def _archiving(self, text: Text, archiving: WalArchiving | None, now: datetime) -> None:
        text.append("WAL archiving ", style="bold")
        if archiving is None:
            text.append("unknown")
            return
        if not archiving.enabled:
            text.append(f"OFF (archive_mode={archiving.archive_mode})", style=self.severity_style("high", bold=True))
            text.append(": no point-in-time recovery; a restore loses everything after the backup")
            return
        text.append(f"on ({archiving.archive_mode}) · {archiving.archived_count} archived")
        if archiving.last_archived_wal:
            text.append(f", last {archiving.last_archived_wal} {ago(archiving.last_archived_at, now)}")
        if not archiving.archive_command_set:
            text.append(" · archive_command is empty: WAL piles up in pg_wal",
                        style=self.severity_style("critical", bold=True))
        if archiving.failed_count:
            style = self.severity_style("critical", bold=True) if archiving.failing else ""
            text.append(f" · {'FAILING: ' if archiving.failing else ''}{archiving.failed_count} failure(s), "
                        f"last {archiving.last_failed_wal or '-'} {ago(archiving.last_failed_at, now)}", style=style)

    def _sources(self, text: Text, backups: Backups, rest: PgBackRestStatus | None) -> None:
        text.append("directory ", style="bold")
        text.append_text(literal(backups.directory or "-", 120))
        if backups.directory_error:
            text.append(" · ")
            text.append_text(literal(backups.directory_error, 200))
        prune = sum(1 for e in backups.entries if e.prune)
        text.append(f" · keep {duration(backups.retention_s)} and the newest {backups.retention_keep}")
        if prune:
            text.append(f" · pruning would delete {prune}", style="bold")
        if rest is not None and rest.available:
            text.append(" · pgBackRest ")
            if rest.error:
                text.append_text(literal(rest.error, 160))
            else:
                text.append(", ".join(rest.stanzas) if rest.stanzas else "installed, no stanza configured")

    def _row(self, entry: BackupEntry, now: datetime) -> list[Cell]:
        label, severity = STATUS_LABELS[entry.status]
        taken = entry.taken_at
        age = (now - taken).total_seconds() if taken is not None else None
        verified = "-"
        if entry.verified_at is not None:
            verified = ago(entry.verified_at, now)
        elif entry.status == "verification_failed":
            verified = "failed"
        kind = entry.backup_type or entry.format or "-"
        return [
            Cell.untrusted(entry.name, 120),
            Cell(label, entry.status, self.severity_style(severity, bold=severity == "critical") if severity else ""),
            Cell(f"{duration(age)} ago" if age is not None else "-", age),
            Cell(entry.origin),
            Cell(kind),
            Cell(size(entry.size_bytes), entry.size_bytes),
            Cell.untrusted(entry.database or "-", 40),
            Cell(verified, entry.verified_at),
            Cell("PRUNE" if entry.prune else "keep", entry.prune, "bold" if entry.prune else ""),
        ]
