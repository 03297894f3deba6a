"""dbtop's refresh log: an event trigger that records every REFRESH MATERIALIZED VIEW (start, end,
role) in a small `dbtop` schema, because PostgreSQL itself records no refresh times.

Installing and removing it are explicit steps (`dbtop views install-refresh-log` /
`uninstall-refresh-log`); this module holds the SQL and runs it, the CLI shows it and asks.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ...profiles.target import Target
from ..errors import OperationFailed
from .connect import open_connection
from .queries import MARKER, sql

LOG_TABLE = ("dbtop", "refresh_log")  # (schema, table) of the log refresh_log_install@12.sql creates
OBJECTS = (
    "schema dbtop",
    "table dbtop.refresh_log (one row per refresh, the newest 50 per view)",
    "index dbtop.refresh_log_view_oid_id_idx",
    "function dbtop.record_refresh() (SECURITY DEFINER, search_path pinned)",
    "event trigger dbtop_record_refresh on ddl_command_end for REFRESH/CREATE MATERIALIZED VIEW",
    "grants: USAGE on schema dbtop and SELECT on dbtop.refresh_log to pg_monitor",
)


class RefreshLogError(OperationFailed):
    """A one-line reason the refresh log cannot be installed or removed, with what to do."""


@dataclass(frozen=True)
class RefreshLogState:
    database: str
    is_superuser: bool
    schema_exists: bool
    table_exists: bool
    trigger_exists: bool

    @property
    def installed(self) -> bool:
        return self.table_exists and self.trigger_exists


def _script(name: str) -> str:
    """A script as the operator is shown it and as it runs: without the monitoring-query marker."""
    return sql(name, 12).removeprefix(MARKER).lstrip("\n")


def install_sql() -> str:
    return _script("refresh_log_install")


def uninstall_sql() -> str:
    return _script("refresh_log_uninstall")


async def read_state(conn: asyncpg.Connection) -> RefreshLogState:
    row = await conn.fetchrow(sql("refresh_log_state", 12))
    return RefreshLogState(**dict(row))


async def install(conn: asyncpg.Connection) -> None:
    state = await read_state(conn)
    if not state.is_superuser:
        raise RefreshLogError("installing the refresh log needs a superuser (event triggers can only be created "
                              "by one): connect as a superuser, e.g. postgres")
    if state.installed:
        raise RefreshLogError(f"the refresh log is already installed in database {state.database}")
    if state.schema_exists:
        raise RefreshLogError(f"database {state.database} already has a schema named dbtop that dbtop did not "
                              "create: rename or drop it first")
    async with conn.transaction():
        await conn.execute(install_sql())


async def uninstall(conn: asyncpg.Connection) -> None:
    state = await read_state(conn)
    if not state.is_superuser:
        raise RefreshLogError("removing the refresh log needs a superuser: connect as a superuser, e.g. postgres")
    if not (state.schema_exists or state.trigger_exists):
        raise RefreshLogError(f"the refresh log is not installed in database {state.database}")
    try:
        async with conn.transaction():
            await conn.execute(uninstall_sql())
    except asyncpg.DependentObjectsStillExistError:
        raise RefreshLogError("schema dbtop holds objects dbtop did not create, so it was left in place (nothing was "
                              "removed): move them out of schema dbtop and run this again") from None


class RefreshLogSession:
    """A read-write connection on which the operator installs or removes the refresh log: its state
    read first, the SQL to show, and the change, which raises RefreshLogError when nothing changed."""

    objects = OBJECTS

    def __init__(self, conn: asyncpg.Connection, state: RefreshLogState):
        self.conn = conn
        self.state = state

    @staticmethod
    def install_sql() -> str:
        return install_sql()

    @staticmethod
    def uninstall_sql() -> str:
        return uninstall_sql()

    async def install(self) -> None:
        await self._change(install)

    async def uninstall(self) -> None:
        await self._change(uninstall)

    async def _change(self, change) -> None:
        try:
            await change(self.conn)
        except RefreshLogError:
            raise
        except Exception as exc:  # noqa: BLE001 - the server's reason, one line; the transaction rolled back
            raise RefreshLogError(f"{' '.join(str(exc).split())}: nothing was changed") from None

    async def close(self) -> None:
        await self.conn.close()


async def open_refresh_log(target: Target, *, statement_timeout_ms: int = 2000,
                           lock_timeout_ms: int = 500) -> RefreshLogSession:
    """Connect (read-write) to change the refresh log; raises ConnectError."""
    conn = await open_connection(target, statement_timeout_ms=statement_timeout_ms,
                                 lock_timeout_ms=lock_timeout_ms, read_only=False)
    try:
        return RefreshLogSession(conn, await read_state(conn))
    except BaseException:
        await conn.close()
        raise
