"""vacuum, analyze and vacuum-analyze of one table (never VACUUM FULL: that is a runbook step with
its own warning), with progress from pg_stat_progress_vacuum / pg_stat_progress_analyze read on a
second connection. VACUUM cannot run inside a transaction block: it is sent on its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .pg_common import Facts, may_maintain, progress_reader, quoted, read_relation, same_relation, shown, utc_now
from .plan import Plan, PlannedStatement, PlanTarget, Progress

TABLE_KINDS = "rpm"  # tables, partitioned tables (each partition in turn), materialized views
STATEMENT_TIMEOUT_MS = 3_600_000  # a big table's VACUUM takes long; an hour bounds a forgotten one
LOCK_TIMEOUT_MS = 2000  # SHARE UPDATE EXCLUSIVE: never queue behind a DDL or another VACUUM

COMMANDS = {"vacuum": "VACUUM", "analyze": "ANALYZE", "vacuum-analyze": "VACUUM (ANALYZE)"}


def maintenance_plan(action: str, table: str, facts: Facts | None, *, target: PlanTarget,
                     planned_at: datetime | None = None) -> Plan:
    """The plan to VACUUM / ANALYZE / VACUUM (ANALYZE) the table `facts` describes
    (sql/action_relation), asked for as `table`."""
    command = COMMANDS[action]
    verb = "ANALYZE" if action == "analyze" else "VACUUM"
    found = same_relation(facts, table, TABLE_KINDS, "table")
    preconditions = (found, may_maintain(facts if found.passed else None, verb, database_owner=True))
    name = shown(facts) if facts and found.passed else table
    text = f"{command} {quoted(facts) if facts and found.passed else table}"
    warnings = ["it reads the whole table (IO); it does not block reads or writes"]
    if action != "analyze":
        warnings.append("it waits for no lock: if another VACUUM or a DDL holds the table, it fails at once "
                        f"(lock_timeout {LOCK_TIMEOUT_MS} ms) instead of queueing")
    return Plan(action=action, target=target, summary=f"{command} {name}", params={"table": table},
                statements=(PlannedStatement(text=text),), preconditions=preconditions, risk="reversible",
                warnings=tuple(warnings), statement_timeout_ms=STATEMENT_TIMEOUT_MS if verb == "VACUUM" else 600_000,
                lock_timeout_ms=LOCK_TIMEOUT_MS, planned_at=planned_at or utc_now())


class Maintenance:
    engines = frozenset({"postgres"})

    def __init__(self, name: str):
        self.name = name

    async def plan(self, session: Any, *, table: str) -> Plan:
        return maintenance_plan(self.name, table, await read_relation(session, table), target=session.target)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        view = "action_progress_analyze" if self.name == "analyze" else "action_progress_vacuum"
        try:
            read = progress_reader(session.sql(view), "sample blocks" if self.name == "analyze" else "heap blocks")
        except LookupError:  # pg_stat_progress_analyze is 13+
            read, progress = None, None
        started = utc_now()
        await session.execute_watched(plan.statements[0], progress, read)
        took = (utc_now() - started).total_seconds()
        return f"{COMMANDS[self.name]} {plan.params['table']} done in {took:.1f} s"


VACUUM = Maintenance("vacuum")
ANALYZE = Maintenance("analyze")
VACUUM_ANALYZE = Maintenance("vacuum-analyze")
