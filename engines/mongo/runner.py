"""Plans and runs actions on MongoDB, each call on a client of its own: never the monitoring one,
named `dbtop action` (its appName), with maxTimeMS in every command it sends. The actions are
modules under actions/ (found through actions.registry); an action receives a `MongoActionSession`.

A command an action sends is planned as a `PlannedStatement` whose text is the command document as
Extended JSON, maxTimeMS included: the confirm screen shows it and the session sends exactly that
document (`command_statement`, `command_of`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bson import json_util
from bson.son import SON
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from ...actions.guard import ObjectsInUse, OutcomeOf, check_target, run_confirmed
from ...actions.plan import Outcome, Plan, PlannedStatement, PlanTarget, Progress, Scalar
from ...actions.registry import action_named
from ...profiles.target import Target, mask_url
from ..errors import ActionRefused, ConnectError
from ..policy import WatchPolicy
from .connect import explain_connect_error, open_client
from .errors import explain_action_error, one_line

ACTION_APP_NAME = "dbtop action"
# The action client checks the set's members this often, so it sees a new primary soon after a step-down.
HEARTBEAT_MS = 500


def command_statement(document: Mapping[str, Any]) -> PlannedStatement:
    """A command document as the planned statement that shows it and is sent as shown."""
    return PlannedStatement(text=json_util.dumps(SON(document)))


def command_of(statement: PlannedStatement) -> SON:
    """The command document a planned statement shows, in its order (the command's name first)."""
    return json_util.loads(statement.text, json_options=json_util.JSONOptions(document_class=SON))


def command_name(statement: PlannedStatement) -> str:
    return next(iter(command_of(statement)), "command")


@dataclass(frozen=True)
class MongoActionSession:
    """What a MongoDB action works with: a client of its own, the server's `hello` when the session
    opened, the identity of the target, how to connect (`connection`, for the client programs) and the
    watch policy (thresholds, the backup directory)."""

    engine = "mongo"
    client: AsyncMongoClient
    hello: dict[str, Any]
    target: PlanTarget
    max_time_ms: int
    connection: Target
    policy: WatchPolicy = field(default_factory=WatchPolicy)

    async def command(self, document: Mapping[str, Any], database: str = "admin") -> dict[str, Any]:
        """Run a command document, with maxTimeMS unless it carries its own."""
        sent = SON(document)
        sent.setdefault("maxTimeMS", self.max_time_ms)
        return await self.client[database].command(sent)

    async def send(self, statement: PlannedStatement, database: str = "admin") -> dict[str, Any]:
        """Run a planned command exactly as planned."""
        return await self.client[database].command(command_of(statement))


class MongoActionRunner:
    """The ActionRunner of one MongoDB target (actions.plan.ActionRunner)."""

    engine = "mongo"

    def __init__(self, target: Target, policy: WatchPolicy, *, max_time_ms: int = 5000,
                 server_selection_timeout_ms: int = 3000, socket_timeout_ms: int | None = None):
        self.target = target
        self.policy = policy
        self.max_time_ms = max_time_ms
        self.server_selection_timeout_ms = server_selection_timeout_ms
        self.socket_timeout_ms = socket_timeout_ms

    @contextlib.asynccontextmanager
    async def session(self, *, socket_timeout_ms: int | None = None) -> AsyncIterator[MongoActionSession]:
        """An action session on a new client, closed on leaving; raises ConnectError."""
        client = open_client(self.target, server_selection_timeout_ms=self.server_selection_timeout_ms,
                             socket_timeout_ms=socket_timeout_ms or self.socket_timeout_ms or self.max_time_ms + 3000,
                             app_name=ACTION_APP_NAME, heartbeatFrequencyMS=HEARTBEAT_MS, retryWrites=False)
        try:
            try:
                hello = await client.admin.command({"hello": 1, "maxTimeMS": self.max_time_ms})
            except PyMongoError as exc:
                raise ConnectError(explain_connect_error(exc, self.target)) from None
            identity = PlanTarget(engine=self.engine, label=self.target.label, profile=self.policy.profile,
                                  host=",".join(self.target.hosts) or hello.get("me"), database=None,
                                  system_identifier=await self._set_identity(client, hello))
            yield MongoActionSession(client, hello, identity, self.max_time_ms, self.target, self.policy)
        finally:
            await client.close()

    async def _set_identity(self, client: AsyncMongoClient, hello: dict[str, Any]) -> str:
        """The replica set's name and id (replSetGetConfig's settings.replicaSetId: a set rebuilt under
        the same name has another), or 'standalone'."""
        name = hello.get("setName")
        if not name:
            return "standalone"
        with contextlib.suppress(PyMongoError):
            config = await client.admin.command({"replSetGetConfig": 1, "maxTimeMS": self.max_time_ms})
            set_id = ((config.get("config") or {}).get("settings") or {}).get("replicaSetId")
            if set_id is not None:
                return f"{name} {set_id}"
        return str(name)

    async def plan(self, action: str, **params: Scalar) -> Plan:
        found = action_named(action, self.engine)  # before any connection: an unknown action costs nothing
        try:
            async with self.session() as session:
                return await found.plan(session, **params)
        except PyMongoError as exc:
            reason = explain_action_error(exc, command=_failed_command(exc), max_time_ms=self.max_time_ms)
            raise ActionRefused(f"{action} could not be planned: "
                                f"{reason or mask_url(one_line(str(exc)))[:300]}") from None

    # (target label, object) -> the plan running on it, for every runner of this process
    _in_use: ClassVar[ObjectsInUse] = ObjectsInUse()

    async def run(self, plan: Plan, progress: Progress | None = None) -> Outcome:
        check_target(plan, self.engine, self.target.label)
        found = action_named(plan.action, self.engine)
        outcome = OutcomeOf(plan)
        keys = [(plan.target.label, plan_object(plan))]
        return await self._in_use.one_at_a_time(keys, outcome, lambda: self._run(found, plan, progress, outcome))

    async def _run(self, found, plan: Plan, progress: Progress | None, outcome: OutcomeOf) -> Outcome:
        command = command_name(plan.statements[0]) if plan.statements else (plan.command[:1] or ("command",))[0]

        async def explain(exc: BaseException, running: bool) -> tuple[str, str | None]:
            reason = explain_action_error(exc, command=command if running else _failed_command(exc),
                                          max_time_ms=self.max_time_ms)
            if reason is None:
                lost = mask_url(one_line(str(exc)))[:300] or type(exc).__name__
                return ("the action's connection was lost: check whether it took effect" if running else
                        "nothing ran: the connection was lost while checking the plan again"), lost
            return (f"the server refused or stopped the action: {reason}" if running else
                    f"nothing ran: the plan could not be checked again: {reason}"), reason

        return await run_confirmed(outcome, self.session(socket_timeout_ms=plan_socket_timeout_ms(plan)), found,
                                   progress, errors=(PyMongoError,), explain=explain)


def plan_socket_timeout_ms(plan: Plan) -> int | None:
    """Long enough for the longest maxTimeMS the plan's commands carry, and a margin."""
    longest = max((command_of(s).get("maxTimeMS") or 0 for s in plan.statements), default=0)
    return int(longest) + 5000 if longest else None


def plan_object(plan: Plan) -> str:
    """What a plan acts on, for the one-action-per-object rule."""
    if "opid" in plan.params:
        return f"operation {plan.params['opid']}"
    if plan.action in ("backup", "verify-backup", "prune-backups"):
        return "backups"
    return "replica set member"


def _failed_command(exc: BaseException) -> str:
    """The command a server error answered, when its message names it."""
    message = str(exc)
    marker = "to execute command { "
    if marker in message:
        return message.split(marker, 1)[1].split(":", 1)[0].strip()
    return "command"

