"""Plans and runs actions on PostgreSQL, each call on a connection of its own: never the monitoring
one, read-write, named `dbtop action` in pg_stat_activity, with the plan's statement and lock
timeouts. The actions themselves are modules under actions/ (found through actions.registry); an
action receives an `ActionSession` and sends its SQL through it.

While an action runs, the object it acts on (a session, a relation, a slot …) is taken: a second
run on it in this process is refused, not queued. When the task running `run` is cancelled, the
action's own backend is cancelled from another connection, its connection closed, and `run`
returns an Outcome whose status is `cancelled`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import ClassVar

import asyncpg

from ...actions.plan import Outcome, Plan, PlannedStatement, PlanTarget, Progress, ProgressUpdate, Scalar, Status
from ...actions.pg_common import lock_holders_text, split_name
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


# How often a long action's progress is read, on a connection beside the action's.
PROGRESS_EVERY_S = 0.5
# How long a cancelled action's backend is given to go away.
CANCEL_WAIT_S = 5.0

ReadProgress = Callable[[asyncpg.Connection, int], Awaitable[ProgressUpdate | None]]


@dataclass(frozen=True)
class ActionSession:
    """What a PostgreSQL action works with: its own connection, the server's major version, and
    the identity of the target it is on; `side_connection()` opens another (progress, clean-up); for
    actions that run a client program or read the profile's expectations (the backups), how to connect
    (`connection`, with the password) and the watch policy."""

    engine = "postgres"
    conn: asyncpg.Connection
    major: int
    target: PlanTarget
    opener: Callable[[], Awaitable[asyncpg.Connection]] | None = None
    connection: Target | None = None
    policy: WatchPolicy = field(default_factory=WatchPolicy)

    def sql(self, name: str) -> str:
        """The text of query `name` (engines/postgres/sql/) for this server's version."""
        return sql(name, self.major)

    @contextlib.asynccontextmanager
    async def side_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A second connection of the action's own, closed on leaving; raises ConnectError."""
        if self.opener is None:
            raise ConnectError("this action session cannot open a second connection")
        conn = await self.opener()
        try:
            yield conn
        finally:
            await close_connection(conn)

    async def execute_watched(self, statement: PlannedStatement, progress: Progress | None,
                              read_progress: ReadProgress) -> str:
        """Run one statement (outside any transaction block); while it runs, report its progress as
        `read_progress` reads it on a side connection from the statement's backend pid. Progress is
        best effort: a side connection that fails leaves the statement running."""
        work = asyncio.ensure_future(self.conn.execute(statement.text, *statement.arguments))
        try:
            if progress is not None:
                pid = self.conn.get_server_pid()
                with contextlib.suppress(ConnectError, asyncpg.PostgresError, *CONNECTION_LOST):
                    async with self.side_connection() as side:
                        while not work.done():
                            await asyncio.wait({work}, timeout=PROGRESS_EVERY_S)
                            if not work.done():
                                update = await read_progress(side, pid)
                                if update is not None:
                                    progress(update)
            return await work
        finally:
            if not work.done():
                work.cancel()


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
            yield ActionSession(conn, major, identity, self._side_connection, target, self.policy)
        finally:
            await close_connection(conn)

    async def _side_connection(self) -> asyncpg.Connection:
        return await open_action_connection(self.target, statement_timeout_ms=self.statement_timeout_ms,
                                            lock_timeout_ms=self.lock_timeout_ms)

    async def plan(self, action: str, **params: Scalar) -> Plan:
        found = action_named(action, self.engine)  # before any connection: an unknown action costs nothing
        async with self.session() as session:
            return await found.plan(session, **params)

    # (target label, database, object) -> the plan running on it, for every runner of this process
    _running: ClassVar[dict[tuple[str, str | None, str], Plan]] = {}

    async def run(self, plan: Plan, progress: Progress | None = None) -> Outcome:
        if plan.target.engine != self.engine or plan.target.label != self.target.label:
            raise ActionRefused(f"the plan is for {plan.target.label} ({plan.target.engine}), "
                                f"not {self.target.label}: plan it again on this target")
        found = action_named(plan.action, self.engine)
        started = datetime.now(timezone.utc)

        def outcome(status: Status, detail: str, error: str | None = None, preconditions=()) -> Outcome:
            return Outcome(action=plan.action, target=plan.target, status=status, detail=detail, error=error,
                           preconditions=preconditions, started_at=started, finished_at=datetime.now(timezone.utc))

        keys = [(plan.target.label, plan.target.database, name) for name in plan_objects(plan)]
        busy = [(key[2], self._running[key]) for key in keys if key in self._running]
        if busy:
            name, other = busy[0]
            return outcome("refused", f"nothing ran: {other.action} is already running on {name} (since "
                                      f"{other.planned_at:%H:%M:%S}); wait for it to finish")
        for key in keys:
            self._running[key] = plan
        try:
            return await self._run(found, plan, progress, outcome)
        finally:
            for key in keys:
                self._running.pop(key, None)

    async def _run(self, found, plan: Plan, progress: Progress | None, outcome) -> Outcome:
        session: ActionSession | None = None
        running = False
        try:
            async with self.session(statement_timeout_ms=plan.statement_timeout_ms,
                                    lock_timeout_ms=plan.lock_timeout_ms) as session:
                fresh = await found.plan(session, **plan.params)
                changes = plan.changes_since(fresh)
                if changes or not fresh.ready:
                    reasons = changes or [f"{p.description}: {p.detail or 'failed'}" for p in fresh.failed]
                    return outcome("refused", "nothing ran: " + "; ".join(reasons),
                                   preconditions=fresh.preconditions)
                running = True
                try:
                    detail = await found.run(session, plan, progress)
                except asyncio.CancelledError:
                    detail = await self._cancelled(found, session, plan)
                    _uncancel()
                    return outcome("cancelled", detail, preconditions=fresh.preconditions)
                except ActionFailed as failed:
                    detail = failed.detail
                    if isinstance(failed.__cause__, asyncpg.LockNotAvailableError) and (
                            holders := await self._lock_holders(plan)):
                        detail += f"; the lock is held by {holders}"
                    return outcome("failed", detail, failed.error, preconditions=fresh.preconditions)
                return outcome("done", detail, preconditions=fresh.preconditions)
        except asyncio.CancelledError:
            if running:
                raise
            _uncancel()
            return outcome("cancelled", "nothing ran: cancelled before the action started")
        except ConnectError as exc:
            return outcome("failed", "nothing ran: the action's connection could not be opened", str(exc))
        except (asyncpg.PostgresError, *CONNECTION_LOST) as exc:
            failed = explain_error(exc, statement_timeout_ms=plan.statement_timeout_ms,
                                   lock_timeout_ms=plan.lock_timeout_ms)
            if failed is None:
                lost = one_line(str(exc)) or type(exc).__name__
                return outcome("failed", "the action's connection was lost: check whether it took effect", lost)
            detail, error = f"the server refused or stopped the action: {failed.reason}", failed.explained
            if isinstance(exc, asyncpg.LockNotAvailableError) and (holders := await self._lock_holders(plan)):
                detail += (f"; held by {holders}: wait for them to finish, or end them (Connections panel), "
                           "then run it again")
                error = failed.reason  # its generic fix ("see the Locks panel") is replaced by the names
            return outcome("failed", detail, error)

    async def _lock_holders(self, plan: Plan) -> str | None:
        """Who holds a lock on the plan's relation (or its index's table), or None when that cannot
        be said (no relation, or the question itself failed)."""
        names = [value for key in ("table", "view", "index") if isinstance(value := plan.params.get(key), str)]
        if not names:
            return None
        try:
            conn = await self._side_connection()
            try:
                rows = []
                for name in names:
                    rows += await conn.fetch(sql("action_lock_holders", conn.get_server_version().major),
                                             *split_name(name))
            finally:
                await close_connection(conn)
        except (ConnectError, asyncpg.PostgresError, *CONNECTION_LOST):
            return None
        return lock_holders_text(rows) or None

    async def _cancelled(self, found, session: ActionSession, plan: Plan) -> str:
        """The action's task was cancelled while its statement ran: cancel its backend from another
        connection, close its connection, wait (briefly) for the backend to go, and let the action
        clean up what it leaves behind. One line saying what happened."""
        pid = session.conn.get_server_pid()
        said = [f"cancelled while running (backend {pid} was cancelled)"]
        try:
            async with session.side_connection() as side:
                await side.fetchval(session.sql("action_cancel_backend"), pid)
                session.conn.terminate()
                deadline = asyncio.get_running_loop().time() + CANCEL_WAIT_S
                while await side.fetchval(session.sql("action_backend_exists"), pid):
                    if asyncio.get_running_loop().time() > deadline:
                        said.append(f"backend {pid} had not gone after {CANCEL_WAIT_S:g} s")
                        break
                    await asyncio.sleep(0.05)
                cleanup = getattr(found, "after_cancel", None)
                if cleanup is not None:
                    cleaned = await cleanup(session, side, plan)
                    if cleaned:
                        said.append(cleaned)
        except (ConnectError, asyncpg.PostgresError, *CONNECTION_LOST) as exc:
            session.conn.terminate()
            said.append(f"could not confirm the backend stopped: {one_line(str(exc))}")
        return "; ".join(said)


def plan_objects(plan: Plan) -> list[str]:
    """What a plan acts on, for the one-action-per-object rule: each session, the relation (table,
    view or index share pg_class's names), the slot; an action without such a parameter (the
    refresh log) is its own object; a request to the cluster's manager acts on the whole cluster."""
    if plan.request is not None:
        return ["the cluster's manager"]
    objects = []
    for name, value in sorted(plan.params.items()):
        if name == "pids":
            pids = value if isinstance(value, tuple) else (value,)
            objects += [f"session {pid}" for pid in pids]
        elif name in ("table", "view", "index"):
            objects.append(f"{value}")
        elif name == "slot":
            objects.append(f"slot {value}")
    return objects or [plan.action.removeprefix("install-").removeprefix("uninstall-")]


def _uncancel() -> None:
    """The cancellation was handled (the Outcome says so): the task goes on to return it."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
