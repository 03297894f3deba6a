"""WAL: segments waiting to be archived, checkpoints forced by WAL volume (max_wal_size too small),
and WAL retained by replication slots against max_slot_wal_keep_size.

dbtop actions and runbooks these point to: runbook:archiving-failure, action:drop-slot."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.snapshot import Snapshot
from ..engine import CATALOG_ONLY, Thresholds, catalog_sections, rule
from ..model import Evidence, Finding, Severity
from ..wording import clean, duration, size


@rule
def archive_backlog(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "archive_backlog")
    backlog = catalog.archive_backlog if catalog else None
    if backlog is None or backlog.ready == 0:
        return
    age = (snapshot.taken_at - backlog.oldest_ready_at).total_seconds() if backlog.oldest_ready_at else 0.0
    if backlog.ready < t.get("backup.archive_ready_max", 10) and age < t.get("backup.archive_ready_age_s", 600):
        return
    yield Finding(
        id="backup.archive_backlog", rule="backup.archive_backlog", area="backup",
        severity=Severity.CRITICAL if backlog.ready >= t.get("backup.archive_ready_critical", 500) else Severity.HIGH,
        title=f"{backlog.ready:,} WAL segment(s) waiting to be archived, the oldest for {duration(age)}",
        evidence=[Evidence(subject="pg_wal/archive_status", detail=f"{backlog.ready:,} .ready files; oldest written "
                                                                   f"{duration(age)} ago")],
        impact="Each waiting segment stays in pg_wal until archived: the disk fills and the server stops; and the "
               "point-in-time recovery chain ends at the last archived segment, so a restore now loses "
               "everything since.",
        fix="Find why archive_command is slow or failing (its errors are in the server log and "
            "pg_stat_archiver); make it keep up (parallel archiving, pgBackRest async) before pg_wal fills.",
        addressed_by="runbook:archiving-failure")


@rule(reads=CATALOG_ONLY)
def checkpoints_requested(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "checkpoints")
    counts = catalog.checkpoints if catalog else None
    if counts is None:
        return
    total = counts.timed + counts.requested
    share = counts.requested / total if total else 0.0
    if total < t.get("performance.checkpoints_min", 20) or share < t.get("performance.checkpoints_req_share", 0.2):
        return
    max_wal = catalog.settings.get("max_wal_size")
    current = max_wal.bytes if max_wal is not None else None
    since = f"since {counts.stats_reset:%Y-%m-%d}" if counts.stats_reset else "since statistics began"
    yield Finding(
        id="performance.checkpoints_requested", rule="performance.checkpoints_requested", area="performance",
        severity=Severity.MEDIUM,
        title=f"{100 * share:.0f}% of checkpoints were forced by WAL volume, not by checkpoint_timeout",
        evidence=[Evidence(subject="checkpoints", detail=f"{counts.requested:,} requested, {counts.timed:,} timed {since}"),
                  Evidence(subject="max_wal_size", detail=size(current) if current else "?")],
        impact="Each checkpoint flushes every dirty page and the next change to each page writes it whole to WAL "
               "(full-page writes): frequent checkpoints multiply WAL volume and IO spikes, and slow writes.",
        fix="Raise max_wal_size until nearly all checkpoints are timed (room on the WAL disk permitting); a "
            "manual CHECKPOINT in scripts also counts as requested.",
        statement=(f"ALTER SYSTEM SET max_wal_size = '{max(2, 2 * current // (1 << 30))}GB';\nSELECT pg_reload_conf();"
                   if current else None))


@rule
def slot_wal_limit(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    """Slots near max_slot_wal_keep_size are about to be invalidated; with no limit, a slot can fill
    the disk."""
    catalog = catalog_sections(snapshot, "settings")
    slots = snapshot.postgres.slots if snapshot.postgres else []
    setting = catalog.settings.get("max_slot_wal_keep_size") if catalog else None
    if setting is None or not slots:
        return
    limit = setting.bytes
    if limit is None:  # -1: no limit
        floor = t.get("availability.slot_unbounded_bytes", 10 * 1024 ** 3)
        big = [s for s in slots if (s.retained_wal_bytes or 0) >= floor]
        if big:
            yield Finding(
                id="availability.slot_wal_unbounded", rule="availability.slot_wal_unbounded", area="availability",
                severity=Severity.MEDIUM,
                title=f"Replication slots retain {size(sum(s.retained_wal_bytes or 0 for s in big))} of WAL with "
                      "no max_slot_wal_keep_size",
                evidence=[Evidence(subject=clean(s.name, 63), detail=f"{'active' if s.active else 'inactive'}, retains "
                                                                     f"{size(s.retained_wal_bytes)}") for s in big[:10]],
                impact="Nothing caps what a slot keeps: a consumer that stalls (even an active one, far behind) "
                       "fills pg_wal and stops the server.",
                fix="Set max_slot_wal_keep_size below the free space of the WAL disk: a slot past it is invalidated "
                    "(its consumer must be rebuilt) instead of the primary stopping.",
                statement="ALTER SYSTEM SET max_slot_wal_keep_size = '50GB';  -- below pg_wal's free space\n"
                          "SELECT pg_reload_conf();")
        return
    share = t.get("availability.slot_keep_share", 0.8)
    near = [s for s in slots if (s.retained_wal_bytes or 0) >= share * limit or s.wal_status in ("unreserved", "lost")]
    if not near:
        return
    lost = [s for s in near if s.wal_status == "lost"]
    yield Finding(
        id="availability.slot_near_wal_limit", rule="availability.slot_near_wal_limit", area="availability",
        severity=Severity.HIGH,
        title=(f"Replication slot {clean(lost[0].name, 63)} lost the WAL its consumer needs" if lost else
               f"{len(near)} replication slot(s) near max_slot_wal_keep_size ({size(limit)})"),
        evidence=[Evidence(subject=clean(s.name, 63), detail=f"retains {size(s.retained_wal_bytes)} of {size(limit)}; "
                                                             f"wal_status {s.wal_status or '?'}") for s in near[:10]],
        impact="Past the limit the server removes the WAL anyway and the slot is invalidated: the standby or "
               "logical consumer behind it cannot continue and must be rebuilt from a new base backup.",
        fix="Find why the consumer is behind (down, slow network, slow replay) and fix it now; raise the limit "
            "only if the WAL disk has room.")
