"""install-refresh-log / uninstall-refresh-log: dbtop's refresh log of materialized views (the event
trigger of engines/postgres/refresh_log.py) as actions like the others: the script shown whole, the
same checks (a superuser; not installed yet, no foreign schema named dbtop; installed, to remove it),
the database's name typed to install it (it creates objects in someone's database) or to remove it
(its history goes with it), and a journal line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..engines.errors import ActionFailed
from ..engines.postgres import refresh_log
from .pg_common import utc_now
from .plan import Plan, PlannedStatement, PlanTarget, Precondition, Progress


def refresh_log_plan(install: bool, state: refresh_log.RefreshLogState, *, target: PlanTarget,
                     planned_at: datetime | None = None) -> Plan:
    seen = {"database": state.database, "schema_exists": state.schema_exists, "table_exists": state.table_exists,
            "trigger_exists": state.trigger_exists}
    superuser = Precondition(
        name="superuser", description="this role is a superuser (event triggers need one)", passed=state.is_superuser,
        detail=None if state.is_superuser else "needs a superuser: connect as one, e.g. postgres")
    if install:
        if state.installed:
            state_check = Precondition(name="state", description="the refresh log is not installed yet", passed=False,
                                       seen=seen, detail=f"it is already installed in database {state.database}")
        elif state.schema_exists:
            state_check = Precondition(name="state", description="the refresh log is not installed yet", passed=False,
                                       seen=seen, detail=f"database {state.database} already has a schema named dbtop "
                                                         "that dbtop did not create: rename or drop it first")
        else:
            state_check = Precondition(name="state", description="the refresh log is not installed yet", passed=True,
                                       seen=seen)
    else:
        present = state.schema_exists or state.trigger_exists
        state_check = Precondition(name="state", description="the refresh log is installed", passed=present, seen=seen,
                                   detail=None if present else f"it is not installed in database {state.database}")
    if install:
        return Plan(action="install-refresh-log", target=target,
                    summary=f"install dbtop's refresh log in database {state.database}",
                    statements=(PlannedStatement(text=refresh_log.install_sql()),), preconditions=(superuser, state_check),
                    risk="reversible", warnings=("it creates: " + "; ".join(refresh_log.OBJECTS),),
                    confirm_text=state.database, statement_timeout_ms=10_000, lock_timeout_ms=1000, planned_at=planned_at or utc_now())
    return Plan(action="uninstall-refresh-log", target=target,
                summary=f"remove dbtop's refresh log from database {state.database}",
                statements=(PlannedStatement(text=refresh_log.uninstall_sql()),), preconditions=(superuser, state_check),
                risk="destructive", warnings=("the recorded refresh times go with it",),
                confirm_text=state.database, statement_timeout_ms=10_000, lock_timeout_ms=1000,
                planned_at=planned_at or utc_now())


class RefreshLogAction:
    engines = frozenset({"postgres"})

    def __init__(self, install: bool):
        self.install = install
        self.name = "install-refresh-log" if install else "uninstall-refresh-log"

    async def plan(self, session: Any) -> Plan:
        return refresh_log_plan(self.install, await refresh_log.read_state(session.conn), target=session.target)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        try:
            await (refresh_log.install if self.install else refresh_log.uninstall)(session.conn)
        except refresh_log.RefreshLogError as exc:
            raise ActionFailed(f"nothing was changed: {exc}", str(exc)) from None
        database = plan.target.database
        return (f"installed: refreshes of materialized views in {database} are now recorded in dbtop.refresh_log"
                if self.install else f"removed: dbtop's refresh log is gone from {database}")


INSTALL_REFRESH_LOG = RefreshLogAction(True)
UNINSTALL_REFRESH_LOG = RefreshLogAction(False)
