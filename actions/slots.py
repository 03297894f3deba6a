"""drop-slot: pg_drop_replication_slot on an inactive slot (an active one is refused: its consumer
is reading from it), checked to be the slot seen (same type, database and restart position)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .pg_common import Facts, utc_now
from .plan import Plan, PlannedStatement, PlanTarget, Precondition, Progress


def _size(n: int | None) -> str:
    if n is None:
        return "an unknown amount"
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def drop_slot_plan(slot: str, facts: Facts | None, *, target: PlanTarget, planned_at: datetime | None = None) -> Plan:
    """The plan to drop replication slot `slot`, `facts` being sql/action_slot's row (None: no such slot)."""
    description = f"replication slot {slot} exists and is the one seen"
    if facts is None:
        preconditions = [Precondition(name="same_slot", description=description, passed=False,
                                      detail=f"there is no replication slot named {slot}")]
    else:
        preconditions = [
            Precondition(name="same_slot", description=description, passed=True,
                         detail=f"{facts['slot_type']} slot" + (f" of database {facts['database']}"
                                                                if facts["database"] else "")
                                + f", retains {_size(facts['retained_bytes'])} of WAL",
                         seen={"slot_type": facts["slot_type"], "database": facts["database"],
                               "plugin": facts["plugin"], "restart_lsn": facts["restart_lsn"]}),
            Precondition(name="inactive", description="no consumer is connected to it", passed=not facts["active"],
                         detail=f"it is active (pid {facts['active_pid']}): stop its consumer first"
                                if facts["active"] else None),
            Precondition(name="privilege", description="this role may drop replication slots",
                         passed=bool(facts["may_drop"]),
                         detail=None if facts["may_drop"] else "needs the REPLICATION attribute or a superuser")]
        if facts["slot_type"] == "logical" and facts["database"] != facts["here"]:
            preconditions.append(Precondition(
                name="same_database", description="a logical slot is dropped from its own database", passed=False,
                detail=f"slot {slot} belongs to database {facts['database']}: connect to it"))
    return Plan(action="drop-slot", target=target, summary=f"drop replication slot {slot}",
                params={"slot": slot},
                statements=(PlannedStatement(text="SELECT pg_drop_replication_slot($1)", arguments=(slot,)),),
                preconditions=tuple(preconditions), risk="destructive",
                warnings=("the WAL it retains is freed at the next checkpoint; a standby or consumer that used it "
                          "can no longer resume from where it stopped: it needs a new base backup or resync",),
                confirm_text=slot, statement_timeout_ms=10_000, lock_timeout_ms=1000,
                planned_at=planned_at or utc_now())


class DropSlot:
    name = "drop-slot"
    engines = frozenset({"postgres"})

    async def plan(self, session: Any, *, slot: str) -> Plan:
        row = await session.conn.fetchrow(session.sql("action_slot"), slot)
        return drop_slot_plan(slot, dict(row) if row else None, target=session.target)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        statement = plan.statements[0]
        await session.conn.execute(statement.text, *statement.arguments)
        return f"dropped replication slot {plan.params['slot']}"


DROP_SLOT = DropSlot()
