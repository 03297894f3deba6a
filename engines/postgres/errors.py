"""What a server error met while reading means to the operator: the one map from asyncpg's errors
to a reason and a fix, used by the collector's parts and the catalog's sections alike."""

from __future__ import annotations

import asyncpg

from ..parts import PartFailed

# Errors that mean the connection is gone, not that a part failed: the collector reconnects.
CONNECTION_LOST = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.InternalClientError,
    ConnectionError,
    OSError,
)


def one_line(text: str) -> str:
    return " ".join(text.split())


def explain_error(exc: BaseException, *, privilege_fix: str | None = None, statement_timeout_ms: int | None = None,
                  lock_timeout_ms: int | None = None) -> PartFailed | None:
    """The reason and fix for `exc`, or None when it is not a server's answer to a query (a lost
    connection, a bug in dbtop), which the caller lets through. `privilege_fix` is what the part
    needs when the role may not read it."""
    if isinstance(exc, CONNECTION_LOST) or not isinstance(exc, asyncpg.PostgresError):
        return None
    if isinstance(exc, asyncpg.QueryCanceledError):
        after = f" after {statement_timeout_ms / 1000:g} s" if statement_timeout_ms is not None else ""
        return PartFailed(f"timed out{after} (statement_timeout)",
                          "the server is slow to answer this part; dbtop retries it less often")
    if isinstance(exc, asyncpg.LockNotAvailableError):
        waited = f"waited {lock_timeout_ms} ms" if lock_timeout_ms is not None else "waited"
        return PartFailed(f"{waited} for a lock held by another session (lock_timeout)",
                          "see the Locks panel for the session holding it")
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        message = one_line(str(exc))
        return PartFailed(message if message.startswith("permission denied") else f"permission denied: {message}",
                          privilege_fix)
    return PartFailed(one_line(str(exc)), None)
