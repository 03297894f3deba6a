"""The actions dbtop knows, each a module of this package, imported lazily by name. An engine's
runner finds an action here and hands it a session of its own (for PostgreSQL,
engines.postgres.runner.ActionSession: a connection that is not the monitoring one)."""

from __future__ import annotations

from importlib import import_module
from typing import Any, Protocol

from ..engines.errors import UnknownAction
from .plan import Plan, Progress, Scalar

# action name -> (module, object), relative to this package. Each object is an `Action`.
ACTIONS: dict[str, tuple[str, str]] = {
    "backup": (".backup", "BACKUP"),
    "verify-backup": (".verify_backup", "VERIFY_BACKUP"),
    "prune-backups": (".prune_backups", "PRUNE_BACKUPS"),
    "terminate-session": (".sessions", "TERMINATE_SESSION"),
    "cancel-query": (".sessions", "CANCEL_QUERY"),
    "refresh-view": (".refresh_view", "REFRESH_VIEW"),
    "vacuum": (".maintenance", "VACUUM"),
    "analyze": (".maintenance", "ANALYZE"),
    "vacuum-analyze": (".maintenance", "VACUUM_ANALYZE"),
    "drop-index": (".indexes", "DROP_INDEX"),
    "reindex": (".indexes", "REINDEX"),
    "create-index": (".indexes", "CREATE_INDEX"),
    "drop-slot": (".slots", "DROP_SLOT"),
    "switchover": (".patroni", "SWITCHOVER"),
    "failover": (".patroni", "FAILOVER"),
    "pause": (".patroni", "PAUSE"),
    "resume": (".patroni", "RESUME"),
    "install-refresh-log": (".refresh_log", "INSTALL_REFRESH_LOG"),
    "uninstall-refresh-log": (".refresh_log", "UNINSTALL_REFRESH_LOG"),
    "promote": (".promote", "PROMOTE"),
}


class Action(Protocol):
    """One guarded action. `plan` checks its preconditions and changes nothing; `run` performs a
    confirmed plan (already planned again and compared by the runner) and returns one line saying
    what it did. Both receive the engine's action session; server errors propagate to the runner."""

    name: str
    engines: frozenset[str]

    async def plan(self, session: Any, **params: Scalar) -> Plan: ...

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str: ...


def action_named(name: str, engine: str) -> Action:
    """The action called `name` for an `engine` target; raises UnknownAction with a one-line reason."""
    try:
        module_name, object_name = ACTIONS[name]
    except KeyError:
        known = ", ".join(sorted(ACTIONS)) or "none yet"
        raise UnknownAction(f"dbtop has no action named {name!r} (actions: {known})") from None
    action: Action = getattr(import_module(module_name, __package__), object_name)
    if engine not in action.engines:
        raise UnknownAction(f"the {name} action is not available for {engine} targets")
    return action
