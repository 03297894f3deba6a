"""terminate-session and cancel-query: signal one or several sessions (pg_terminate_backend,
pg_cancel_backend), each checked to still be the session seen (same backend start, same query
start) and one the acting role may signal. On a root blocker the plan says how many sessions wait
behind it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..engines.redact import redact
from .pg_common import Facts, utc_now
from .plan import Plan, PlannedStatement, PlanTarget, Precondition, Progress, Scalar

# pg_terminate_backend(pid, timeout) waits (14+) until the backend has exited, so that the next
# snapshot no longer shows it or the locks it held.
TERMINATE_WAIT_MS = 5000


def pids_of(pids: Scalar | Sequence[int]) -> tuple[int, ...]:
    """The pids as a tuple of ints, from one pid, a tuple or list, or "4242,4243"."""
    if isinstance(pids, bool) or pids is None:
        raise ValueError("pids: give one or more session pids")
    if isinstance(pids, int):
        return (pids,)
    if isinstance(pids, str):
        pids = [p for p in pids.replace(",", " ").split() if p]
    try:
        found = tuple(dict.fromkeys(int(p) for p in pids))  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"pids: {pids!r} is not a list of session pids") from None
    if not found or any(p <= 0 for p in found):
        raise ValueError("pids: give one or more session pids")
    return found


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _same_session(row: Facts) -> Precondition:
    pid = row["pid"]
    description = f"session {pid} still runs what was shown (same backend start, same query start)"
    name = f"same_session_{pid}"
    if not row["found"]:
        return Precondition(name=name, description=description, passed=False,
                            detail=f"no session has pid {pid} now (it ended)")
    seen: dict[str, Scalar] = {"backend_start": _iso(row["backend_start"]), "query_start": _iso(row["query_start"])}
    if row["backend_type"] != "client backend":
        return Precondition(name=name, description=description, passed=False, seen=seen,
                            detail=f"pid {pid} is a {row['backend_type'] or 'server process'}, not a client session: "
                                   "dbtop signals client sessions only")
    if row["backend_start"] is None:
        return Precondition(name=name, description=description, passed=False, seen=seen,
                            detail=f"{row['role']} cannot see session {pid}'s start and query (it is {row['usename']}'s): "
                                   f"needs pg_read_all_stats (GRANT pg_monitor TO {row['role']})")
    query = " ".join((redact(row["query"]) or "").split())
    return Precondition(name=name, description=description, passed=True, seen=seen,
                        detail=f"{row['usename']} on {row['datname']}, {row['state'] or '?'}"
                               + (f" since {row['query_start']:%H:%M:%S}" if row["query_start"] else "")
                               + f": {query[:120] or '(no query yet)'}")


def _may_signal(row: Facts, verb: str) -> Precondition:
    pid = row["pid"]
    description = f"this role may {verb} session {pid}"
    name = f"may_signal_{pid}"
    role = row["role"]
    if not row["found"]:
        return Precondition(name=name, description=description, passed=False, detail="nothing to check")
    elsewhere = (f" (it is in database {row['datname']}: signals reach any database, with the same privileges)"
                 if row["datname"] and row["datname"] != row["here"] else "")
    if row["superuser"]:
        return Precondition(name=name, description=description, passed=True, detail=f"{role} is a superuser{elsewhere}")
    if row["superuser_session"]:
        owner = f"superuser {row['usename']}'s" if row["usename"] else "a server process's"
        return Precondition(name=name, description=description, passed=False,
                            detail=f"session {pid} is {owner}: only a superuser may {verb} it (pg_signal_backend "
                                   "does not reach superusers)")
    if row["member"]:
        return Precondition(name=name, description=description, passed=True,
                            detail=f"{role} is (a member of) {row['usename']}, its role{elsewhere}")
    if row["signal_backend"]:
        return Precondition(name=name, description=description, passed=True,
                            detail=f"{role} has pg_signal_backend{elsewhere}")
    return Precondition(name=name, description=description, passed=False,
                        detail=f"session {pid} is {row['usename']}'s: {role} needs pg_signal_backend "
                               f"(GRANT pg_signal_backend TO {role}) or membership in {row['usename']}{elsewhere}")


def signal_plan(action: str, rows: Sequence[Facts], *, target: PlanTarget, major: int,
                planned_at: datetime | None = None) -> Plan:
    """The plan to terminate (action 'terminate-session') or cancel ('cancel-query') the sessions
    described by `rows` (sql/action_sessions, one per pid, in the order asked)."""
    terminate = action == "terminate-session"
    verb = "terminate" if terminate else "cancel the query of"
    pids = tuple(r["pid"] for r in rows)
    preconditions: list[Precondition] = []
    statements = []
    warnings = []
    for row in rows:
        preconditions += [_same_session(row), _may_signal(row, "terminate" if terminate else "cancel")]
        if terminate and major >= 14:
            statements.append(PlannedStatement(text="SELECT pg_terminate_backend($1, $2)",
                                               arguments=(row["pid"], TERMINATE_WAIT_MS)))
        elif terminate:
            statements.append(PlannedStatement(text="SELECT pg_terminate_backend($1)", arguments=(row["pid"],)))
        else:
            statements.append(PlannedStatement(text="SELECT pg_cancel_backend($1)", arguments=(row["pid"],)))
        if row["waiting_behind"]:
            warnings.append(f"session {row['pid']} is a root blocker: {row['waiting_behind']} session(s) wait behind "
                            "it (pg_blocking_pids); they go on once it is gone")
        if row["found"] and row["datname"] and row["datname"] != row["here"]:
            warnings.append(f"session {row['pid']} is in database {row['datname']}, not {row['here']}")
    if terminate:
        warnings.append("terminating a session rolls back its open transaction and closes its connection")
    else:
        warnings.append("cancelling rolls back the running statement (and the transaction it is in)")
    behind = sum(r["waiting_behind"] or 0 for r in rows)
    who = (f"session {pids[0]}" + (f" ({rows[0]['usename']} on {rows[0]['datname']})" if rows[0]["found"] else "")
           if len(pids) == 1 else f"{len(pids)} sessions ({', '.join(map(str, pids))})")
    summary = f"{verb} {who}" + (f"; {behind} session(s) wait behind it" if behind else "")
    return Plan(action=action, target=target, summary=summary, params={"pids": pids}, statements=tuple(statements),
                preconditions=tuple(preconditions), risk="disruptive", warnings=tuple(warnings),
                confirm_text=",".join(map(str, pids)),
                statement_timeout_ms=TERMINATE_WAIT_MS + 5000 if terminate else 5000, lock_timeout_ms=500,
                planned_at=planned_at or utc_now())


class Signal:
    """terminate-session / cancel-query (pids: one pid or a tuple of them)."""

    engines = frozenset({"postgres"})

    def __init__(self, name: str):
        self.name = name

    async def plan(self, session: Any, *, pids: Scalar) -> Plan:
        wanted = pids_of(pids)
        rows = [dict(r) for r in await session.conn.fetch(session.sql("action_sessions"), list(wanted))]
        return signal_plan(self.name, rows, target=session.target, major=session.major)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        done, gone, slow = [], [], []
        for statement in plan.statements:
            pid = statement.arguments[0]
            if await session.conn.fetchval(statement.text, *statement.arguments):
                done.append(pid)
            elif await session.conn.fetchval(session.sql("action_backend_exists"), pid):
                slow.append(pid)
            else:
                gone.append(pid)
        verb = "terminated" if self.name == "terminate-session" else "cancelled the query of"
        said = []
        if done:
            said.append(f"{verb} session{'s' if len(done) > 1 else ''} {', '.join(map(str, done))}")
        if slow:
            said.append(f"signalled {', '.join(map(str, slow))}, still there after {TERMINATE_WAIT_MS / 1000:g} s")
        if gone:
            said.append(f"{', '.join(map(str, gone))} had already ended")
        return "; ".join(said)


TERMINATE_SESSION = Signal("terminate-session")
CANCEL_QUERY = Signal("cancel-query")
