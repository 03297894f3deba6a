"""kill-op: MongoDB's killOp of one operation by its opid, checked to still be the operation seen
(same kind, namespace, client connection and application) and a client's, not the server's own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import json_util

from ..engines.redact import redact
from .pg_common import utc_now
from .plan import Plan, PlanTarget, Precondition, Progress, Scalar

MAX_TIME_MS = 5000


def opid_of(value: Scalar) -> int:
    """The opid as an int, from an int or its text ('12345'; mongos's 'shard:12345' is not supported)."""
    if isinstance(value, bool) or value is None:
        raise ValueError("opid: give the operation's opid (a number, as currentOp shows it)")
    try:
        opid = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"opid: {value!r} is not an operation id (a number, as currentOp shows it)") from None
    if opid < 0:
        raise ValueError(f"opid: {opid} is an idle session, not an operation: nothing runs to kill")
    return opid


def _command_line(op: dict[str, Any]) -> str:
    command = op.get("command")
    text = json_util.dumps(command) if command else ""
    return " ".join((redact(text) or "").split())[:120]


def same_operation(opid: int, op: dict[str, Any] | None) -> Precondition:
    """The operation is the one seen: the same kind, namespace, client connection and application."""
    name, description = "same_operation", f"operation {opid} still runs what was shown (same op, namespace, client)"
    if op is None:
        return Precondition(name=name, description=description, passed=False,
                            detail=f"no operation has opid {opid} now (it finished)")
    seen: dict[str, Scalar] = {"op": op.get("op"), "ns": op.get("ns"), "client": op.get("client") or op.get("client_s"),
                               "connection": op.get("connectionId"), "app": op.get("appName")}
    if not seen["client"]:
        return Precondition(name=name, description=description, passed=False, seen=seen,
                            detail=f"operation {opid} is the server's own ({op.get('desc') or 'an internal thread'}): "
                                   "dbtop kills client operations only")
    users = op.get("effectiveUsers") or []
    who = ",".join(f"{u.get('user')}@{u.get('db')}" for u in users) or "no user"
    running = op.get("secs_running")
    return Precondition(name=name, description=description, passed=True, seen=seen,
                        detail=f"{op.get('op')} on {op.get('ns') or '-'} by {who} from {seen['client']}"
                               + (f" ({op.get('appName')})" if op.get("appName") else "")
                               + (f", running {running} s" if running is not None else "")
                               + f": {_command_line(op) or '(no command)'}")


def kill_op_plan(opid: int, op: dict[str, Any] | None, *, target: PlanTarget,
                 planned_at: datetime | None = None) -> Plan:
    """The plan to kill operation `opid`; `op` is its currentOp entry now (None: not running)."""
    from ..engines.mongo.runner import command_statement

    warnings = ["killOp marks the operation killed: it stops at its next interrupt point (a yield), not always at "
                "once; a write stopped part-way leaves the documents it already wrote, and an operation in a "
                "multi-document transaction aborts the transaction"]
    if op is not None and op.get("waitingForLock"):
        warnings.append(f"operation {opid} is waiting for a lock: killing it frees its place in the queue")
    where = f" ({op.get('op')} on {op.get('ns') or '-'})" if op is not None else ""
    return Plan(action="kill-op", target=target, summary=f"kill operation {opid}{where}", params={"opid": opid},
                statements=(command_statement({"killOp": 1, "op": opid, "maxTimeMS": MAX_TIME_MS}),),
                preconditions=(same_operation(opid, op),), risk="disruptive", warnings=tuple(warnings),
                confirm_text=str(opid), planned_at=planned_at or utc_now())


async def read_operation(session: Any, opid: int) -> dict[str, Any] | None:
    reply = await session.command({"currentOp": 1, "$all": True, "opid": opid})
    ops = reply.get("inprog") or []
    return ops[0] if ops else None


class KillOp:
    """kill-op (opid: the operation's opid)."""

    name = "kill-op"
    engines = frozenset({"mongo"})

    async def plan(self, session: Any, *, opid: Scalar) -> Plan:
        wanted = opid_of(opid)
        return kill_op_plan(wanted, await read_operation(session, wanted), target=session.target)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        opid = int(plan.params["opid"])  # type: ignore[arg-type]
        await session.send(plan.statements[0])
        if await read_operation(session, opid) is None:
            return f"killed operation {opid}: it is gone"
        return f"killOp sent to operation {opid}: it is marked killed and stops at its next interrupt point"


KILL_OP = KillOp()
