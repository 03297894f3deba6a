"""High availability: a standby exists, keeps up, and slots do not hold WAL for nobody."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.snapshot import Snapshot
from ..engine import Thresholds, rule
from ..model import Evidence, Finding, Severity
from ..wording import duration, size


@rule
def no_standby(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    rep = snapshot.replication
    if rep is None or rep.role != "primary" or rep.standbys:
        return
    yield Finding(
        id="availability.no_standby", rule="availability.no_standby", area="availability", severity=Severity.HIGH,
        title="No standby is streaming from this primary",
        evidence=[Evidence(subject="pg_stat_replication", detail="no walsender to a standby")],
        impact="If this server or its disk fails there is nothing to fail over to: the outage lasts as long as a "
               "restore from backup, and everything since the last backup is lost.",
        fix="Build a streaming standby (pg_basebackup -R) on another machine, and monitor its lag.",
        addressed_by="runbook:build-standby")


@rule
def replication_lag(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    rep = snapshot.replication
    limit = t.get("availability.lag_s", 10)
    if rep is None:
        return
    lagging = [(s.application or str(s.pid), s.replay_lag_s, s.replay_lag_bytes) for s in rep.standbys
               if (s.replay_lag_s or 0) > limit]
    if rep.receiver is not None and (rep.receiver.replay_lag_s or 0) > limit:
        lagging.append(("this standby", rep.receiver.replay_lag_s, rep.receiver.replay_lag_bytes))
    if not lagging:
        return
    worst = max(lag for _, lag, _ in lagging)
    yield Finding(
        id="availability.replication_lag", rule="availability.replication_lag", area="availability",
        severity=Severity.CRITICAL if worst > 30 * limit else Severity.HIGH,
        title=f"Replication lag {duration(worst)} (over {duration(limit)})",
        evidence=[Evidence(subject=name, detail=f"replay lag {duration(lag)}, {size(nbytes)} behind")
                  for name, lag, nbytes in lagging],
        impact="A failover now would lose the lagging transactions; reads from the standby return old data.",
        fix="Check the standby's IO and network, long queries on the standby (hot_standby_feedback conflicts), "
            "and whether replay is paused.",
        addressed_by="runbook:replication-lag")


@rule
def inactive_slots(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    for slot in snapshot.postgres.slots if snapshot.postgres else []:
        if slot.active:
            continue
        retained = slot.retained_wal_bytes or 0
        yield Finding(
            id=f"availability.inactive_slot:{slot.name}", rule="availability.inactive_slot", area="availability",
            severity=Severity.HIGH if retained >= t.get("availability.slot_retained_bytes", 1 << 30) else Severity.MEDIUM,
            title=f"Replication slot {slot.name} is inactive and retains {size(retained)} of WAL",
            evidence=[Evidence(subject=slot.name, detail=f"{slot.slot_type}, wal_status {slot.wal_status or '?'}, "
                                                          f"retains {size(retained)}")],
            impact="The primary keeps every WAL segment the slot's consumer has not read: pg_wal grows until the "
                   "disk is full and the server stops.",
            fix="Reconnect its consumer, or drop the slot if nothing will use it again.",
            statement=f"SELECT pg_drop_replication_slot('{slot.name.replace(chr(39), chr(39) * 2)}');",
            addressed_by="action:drop-slot", action_params={"slot": slot.name})
