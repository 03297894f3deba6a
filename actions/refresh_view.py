"""refresh-view: REFRESH MATERIALIZED VIEW, CONCURRENTLY when a unique index allows it and the view
is populated (the Views panel's rule), else a plain refresh whose plan warns that it takes an ACCESS
EXCLUSIVE lock, blocking the view's readers, for about as long as its last refresh took. Its journal
line (same_view's seen oid) is what the Views panel reads as the `dbtop_action` refresh source."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..engines.postgres.views import journal_refreshes, latest_refresh
from ..engines.snapshot import ViewRefresh
from .journal import Journal
from .pg_common import Facts, may_maintain, quoted, read_relation, same_relation, shown, utc_now
from .plan import Plan, PlannedStatement, PlanTarget, Precondition, Progress

LOCK_TIMEOUT_MS = 1000  # a plain refresh's ACCESS EXCLUSIVE request queues every reader behind it
DEFAULT_TIMEOUT_MS = 1_800_000
SOURCES = {"refresh_log": "dbtop's refresh log", "dbtop_action": "dbtop's journal"}


def refresh_view_plan(view: str, facts: Facts | None, last: ViewRefresh | None, *, target: PlanTarget,
                      planned_at: datetime | None = None) -> Plan:
    """The plan to refresh `view`; `facts`: sql/action_relation's row, `last`: the last refresh known
    (refresh log or journal), for how long the lock will be held."""
    found = same_relation(facts, view, "m", "materialized view")
    facts = facts if found.passed else None
    concurrently = bool(facts and facts["populated"] and facts["unique_index"])
    took = (f"the last refresh took {last.duration_s:.1f} s (from {SOURCES.get(last.source, last.source)})"
            if last is not None and last.duration_s is not None else "how long it takes is not known (no refresh "
                                                                      "recorded)")
    preconditions = [found]
    if facts is not None:
        reason = ("a unique index allows it and the view is populated" if concurrently else
                  "it has never been populated (CONCURRENTLY is refused on an unpopulated view)"
                  if not facts["populated"] else "no unique index on plain columns allows a concurrent refresh")
        preconditions.append(Precondition(name="refresh_mode", description="how it is refreshed", passed=True,
                                          seen={"concurrently": concurrently},
                                          detail=("CONCURRENTLY: " if concurrently else "plain: ") + reason))
        locked = list(facts["locked_by"])
        preconditions.append(Precondition(
            name="not_locked", description="no session holds or awaits an ACCESS EXCLUSIVE lock on it",
            passed=not locked, detail=f"session(s) {', '.join(map(str, locked))} do (a refresh running?)"
            if locked else None))
    preconditions.append(may_maintain(facts, "REFRESH"))
    name = shown(facts) if facts else view
    text = f"REFRESH MATERIALIZED VIEW{' CONCURRENTLY' if concurrently else ''} {quoted(facts) if facts else view}"
    if concurrently:
        warnings = [f"readers go on while it runs; {took}"]
    else:
        warnings = [f"a plain refresh takes an ACCESS EXCLUSIVE lock on {name}: every reader of it waits until the "
                    f"refresh ends; {took}"]
    timeout = DEFAULT_TIMEOUT_MS
    if last is not None and last.duration_s is not None:
        timeout = int(min(DEFAULT_TIMEOUT_MS * 2, max(60_000, 4 * 1000 * last.duration_s)))
    return Plan(action="refresh-view", target=target,
                summary=f"refresh materialized view {name}{' concurrently' if concurrently else ''}",
                params={"view": view}, statements=(PlannedStatement(text=text),),
                preconditions=tuple(preconditions), risk="reversible" if concurrently else "disruptive",
                warnings=tuple(warnings), confirm_text=None if concurrently else name,
                statement_timeout_ms=timeout, lock_timeout_ms=LOCK_TIMEOUT_MS, planned_at=planned_at or utc_now())


async def last_refresh(session: Any, facts: Facts | None) -> ViewRefresh | None:
    """The last refresh of the view known to the Views panel's sources: the refresh log (when it is
    installed and readable) and the journal."""
    if facts is None:
        return None
    logged = None
    readable = await session.conn.fetchval(session.sql("action_refresh_log_readable"))
    if readable:
        row = await session.conn.fetchrow(session.sql("action_refresh_logged"), facts["oid"])
        if row is not None:
            logged = ViewRefresh(source="refresh_log", at=row["finished_at"],
                                 duration_s=(row["finished_at"] - row["started_at"]).total_seconds())
    try:
        journaled = journal_refreshes(Journal().entries(), session.target.system_identifier,
                                      session.target.database).get(facts["oid"])
    except OSError:
        journaled = None
    return latest_refresh(journaled, logged)


class RefreshView:
    name = "refresh-view"
    engines = frozenset({"postgres"})

    async def plan(self, session: Any, *, view: str) -> Plan:
        facts = await read_relation(session, view)
        return refresh_view_plan(view, facts, await last_refresh(session, facts), target=session.target)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        started = utc_now()
        await session.conn.execute(plan.statements[0].text)
        how = " concurrently" if "CONCURRENTLY" in plan.statements[0].text else ""
        return f"refreshed {plan.params['view']}{how} in {(utc_now() - started).total_seconds():.1f} s"


REFRESH_VIEW = RefreshView()
