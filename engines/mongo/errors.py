"""How PyMongo's errors read to the operator: one line each, with the role that would help."""

from __future__ import annotations

from pymongo.errors import (
    AutoReconnect,
    ConfigurationError,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from ..parts import PartFailed

UNAUTHORIZED = 13  # ErrorCodes::Unauthorized
MAX_TIME_EXPIRED = 50  # ErrorCodes::MaxTimeMSExpired
COMMAND_NOT_FOUND = 59

# What each part needs, by the built-in role that grants it.
PART_ROLES = {
    "server": "clusterMonitor",
    "status": "clusterMonitor",
    "sessions": "clusterMonitor (inprog)",
    "replication": "clusterMonitor (replSetGetStatus)",
    "oplog": "clusterMonitor (read on local.oplog.rs)",
    "databases": "clusterMonitor (listDatabases, dbStats)",
    "statements": "read on each database's system.profile (or dbAdmin)",
    "cmdline": "clusterMonitor (getCmdLineOpts)",
    "users": "userAdminAnyDatabase, or viewUser on admin",
    "host": "clusterMonitor (hostInfo)",
    "views": "read on each database (listCollections, and find on the collections named in data_age_columns)",
}

# A lost or unreachable server: the snapshot says the target is unreachable, the next poll reconnects.
CONNECTION_LOST = (ServerSelectionTimeoutError, ConnectionFailure)


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def explain_error(part: str, exc: BaseException, *, command: str, max_time_ms: int,
                  socket_timeout_ms: int) -> PartFailed | None:
    """The PartFailed for a failure of `part` (`command` is what it ran), or None for a failure that
    is not the part's own (the connection is gone)."""
    role = PART_ROLES.get(part, "clusterMonitor")
    if isinstance(exc, NetworkTimeout):
        return PartFailed(f"{command}: no answer within {socket_timeout_ms / 1000:g} s (socket timeout)",
                          "the server may be overloaded; the part is retried later")
    if isinstance(exc, ExecutionTimeout) or (isinstance(exc, OperationFailure) and exc.code == MAX_TIME_EXPIRED):
        return PartFailed(f"{command}: stopped by maxTimeMS after {max_time_ms / 1000:g} s",
                          "the server is slow to answer this command; the part is retried later")
    if isinstance(exc, OperationFailure):
        message = one_line((exc.details or {}).get("errmsg") or str(exc))
        if exc.code == UNAUTHORIZED or "not authorized" in message.lower():
            return PartFailed(f"{message} — needs {role}", f"grant the monitoring user {role}")
        if exc.code == COMMAND_NOT_FOUND:
            return PartFailed(f"{command}: not supported by this server ({message})", None, back_off=False)
        return PartFailed(f"{command} failed: {message}", None)
    if isinstance(exc, (AutoReconnect, ServerSelectionTimeoutError, ConnectionFailure, ConfigurationError)):
        return None
    return None


# What each command an action sends needs, by the built-in role that grants it (a user may always
# kill its own operations).
ACTION_ROLES = {
    "killOp": "hostManager (the killop action on the cluster; clusterAdmin includes it)",
    "replSetStepDown": "clusterManager (the replSetStateChange action; clusterAdmin includes it)",
    "replSetFreeze": "clusterManager (the replSetStateChange action; clusterAdmin includes it)",
    "currentOp": "clusterMonitor (the inprog action)",
    "replSetGetStatus": "clusterMonitor",
    "replSetGetConfig": "clusterMonitor",
    "mongodump": "backup",
    "mongorestore": "restore",
}


def explain_action_error(exc: BaseException, *, command: str, max_time_ms: int | None) -> str | None:
    """One line saying why an action's command `command` failed, naming the role that would allow it;
    None when the connection is gone (the caller says so)."""
    if isinstance(exc, NetworkTimeout):
        return f"{command}: no answer in time (socket timeout): check whether it took effect"
    if isinstance(exc, ExecutionTimeout) or (isinstance(exc, OperationFailure) and exc.code == MAX_TIME_EXPIRED):
        return f"{command}: stopped by maxTimeMS" + (f" after {max_time_ms / 1000:g} s" if max_time_ms else "")
    if isinstance(exc, OperationFailure):
        message = one_line((exc.details or {}).get("errmsg") or str(exc))
        if exc.code == UNAUTHORIZED or "not authorized" in message.lower():
            return f"{message} — needs {ACTION_ROLES.get(command, 'a role allowing ' + command)}"
        return f"{command} failed: {message}"
    return None
