"""Plans and runs actions on PostgreSQL, each call on a connection of its own: never the monitoring
one, read-write, named `dbtop action` in pg_stat_activity, with the plan's statement and lock
timeouts. The actions themselves are modules under actions/ (found through actions.registry); an
action receives an `ActionSession` and sends its SQL through it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import asyncpg

from ...actions.plan import Outcome, Plan, PlanTarget, Progress, Scalar, Status
from ...actions.registry import action_named
from ...profiles.target import Target
from ..errors import ActionFailed, ActionRefused, ConnectError
from ..policy import WatchPolicy
from .connect import close_connection, open_connection
from .errors import CONNECTION_LOST, explain_error, one_line
from .queries import sql

ACTION_APPLICATION_NAME = "dbtop action"


async def open_action_connection(target: Target, *, statement_timeout_ms: int,
                                 lock_timeout_ms: int) -> asyncpg.Connection:
    """A new read-write connection for one action; raises ConnectError with a one-line reason."""
    return await open_connection(target, statement_timeout_ms=statement_timeout_ms,
                                 lock_timeout_ms=lock_timeout_ms, read_only=False,
                                 application_name=ACTION_APPLICATION_NAME)


@dataclass(frozen=True)
class ActionSession:
    """What a PostgreSQL action works with: its own connection, the server's major version, and
    the identity of the target it is on; for actions that run a client program or read the
    profile's expectations (the backups), how to connect (`connection`, with the password) and the
    watch policy."""

    engine = "postgres"
    conn: asyncpg.Connection
    major: int
    target: PlanTarget
    connection: Target | None = None
    policy: WatchPolicy = field(default_factory=WatchPolicy)

    def sql(self, name: str) -> str:
        """The text of query `name` (engines/postgres/sql/) for this server's version."""
        return sql(name, self.major)


class PostgresActionRunner:
    """The ActionRunner of one PostgreSQL target (actions.plan.ActionRunner)."""

    engine = "postgres"

    def __init__(self, target: Target, policy: WatchPolicy, *, statement_timeout_ms: int = 2000,
                 lock_timeout_ms: int = 500):
        self.target = target
        self.policy = policy
        self.statement_timeout_ms = statement_timeout_ms
        self.lock_timeout_ms = lock_timeout_ms

    @contextlib.asynccontextmanager
    async def session(self, *, statement_timeout_ms: int | None = None,
                      lock_timeout_ms: int | None = None) -> AsyncIterator[ActionSession]:
        """An action session on a new connection, closed on leaving."""
        conn = await open_action_connection(self.target,
                                            statement_timeout_ms=statement_timeout_ms or self.statement_timeout_ms,
                                            lock_timeout_ms=lock_timeout_ms or self.lock_timeout_ms)
        try:
            major = conn.get_server_version().major
            row = await conn.fetchrow(sql("action_identity", major))
            target = self.target
            identity = PlanTarget(engine=self.engine, label=target.label, profile=self.policy.profile,
                                  host=",".join(target.hosts) or None, database=row["database"],
                                  system_identifier=row["system_identifier"])
            yield ActionSession(conn, major, identity, target, self.policy)
        finally:
            await close_connection(conn)

    async def plan(self, action: str, **params: Scalar) -> Plan:
        found = action_named(action, self.engine)  # before any connection: an unknown action costs nothing
        async with self.session() as session:
            return await found.plan(session, **params)

    async def run(self, plan: Plan, progress: Progress | None = None) -> Outcome:
        if plan.target.engine != self.engine or plan.target.label != self.target.label:
            raise ActionRefused(f"the plan is for {plan.target.label} ({plan.target.engine}), "
                                f"not {self.target.label}: plan it again on this target")
        found = action_named(plan.action, self.engine)
        started = datetime.now(timezone.utc)

        def outcome(status: Status, detail: str, error: str | None = None, preconditions=()) -> Outcome:
            return Outcome(action=plan.action, target=plan.target, status=status, detail=detail, error=error,
                           preconditions=preconditions, started_at=started, finished_at=datetime.now(timezone.utc))

        try:
            async with self.session(statement_timeout_ms=plan.statement_timeout_ms,
                                    lock_timeout_ms=plan.lock_timeout_ms) as session:
                fresh = await found.plan(session, **plan.params)
                changes = plan.changes_since(fresh)
                if changes or not fresh.ready:
                    reasons = changes or [f"{p.description}: {p.detail or 'failed'}" for p in fresh.failed]
                    return outcome("refused", "nothing ran: " + "; ".join(reasons),
                                   preconditions=fresh.preconditions)
                try:
                    detail = await found.run(session, plan, progress)
                except ActionFailed as exc:
                    return outcome("failed", str(exc), exc.error, preconditions=fresh.preconditions)
                return outcome("done", detail, preconditions=fresh.preconditions)
        except ConnectError as exc:
            return outcome("failed", "nothing ran: the action's connection could not be opened", str(exc))
        except (asyncpg.PostgresError, *CONNECTION_LOST) as exc:
            failed = explain_error(exc, statement_timeout_ms=plan.statement_timeout_ms,
                                   lock_timeout_ms=plan.lock_timeout_ms)
            if failed is None:
                lost = one_line(str(exc)) or type(exc).__name__
                return outcome("failed", "the action's connection was lost: check whether it took effect", lost)
            return outcome("failed", f"the server refused or stopped the action: {failed.reason}", failed.explained)
