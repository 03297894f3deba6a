"""Opening a monitoring connection, and turning every way that can fail into one line that says
what is wrong and what to do."""

from __future__ import annotations

import asyncio
import socket
import ssl

import asyncpg

from ...profiles.target import Target, mask_url
from ..errors import ConnectError
from .queries import MARKER
from .queries import sql

APPLICATION_NAME = "dbtop"
OLDEST_SUPPORTED = 120000


def refused_password(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.InvalidPasswordError) or (
        isinstance(exc, asyncpg.InterfaceError) and "password" in str(exc).lower())


def session_settings(read_only: bool = True, application_name: str = APPLICATION_NAME) -> dict[str, str]:
    """Settings sent at startup. The timeouts are SET afterwards instead: a startup setting becomes
    the session's reset value, which would hide the server's own default from pg_settings."""
    settings = {
        "application_name": application_name,
        # JIT compiling a catalog query costs more than the query.
        "jit": "off",
    }
    if read_only:
        settings["default_transaction_read_only"] = "on"
    return settings


def timeout_statements(statement_timeout_ms: int, lock_timeout_ms: int) -> str:
    # Marked like every query dbtop sends, so pg_stat_statements counts them as dbtop's own.
    return (f"{MARKER} SET statement_timeout = {int(statement_timeout_ms)}; "
            f"{MARKER} SET lock_timeout = {int(lock_timeout_ms)}")


async def open_connection(target: Target, *, statement_timeout_ms: int = 2000, lock_timeout_ms: int = 500,
                          read_only: bool = True, application_name: str = APPLICATION_NAME) -> asyncpg.Connection:
    """A connection with dbtop's session settings, or ConnectError with the reason and the fix."""
    kwargs: dict = {
        "host": target.hosts or None,
        "port": target.ports or None,
        "user": target.user,
        "database": target.database,
        "password": target.password.get_secret_value() if target.password else None,
        "timeout": target.connect_timeout_s,
        "command_timeout": statement_timeout_ms / 1000 + 3,
        "server_settings": session_settings(read_only, application_name),
    }
    options = dict(target.options)
    if "passfile" in options:
        kwargs["passfile"] = options.pop("passfile")
    if options:
        # The remaining libpq options (sslmode, sslrootcert, …) are understood by asyncpg's DSN parser.
        kwargs["dsn"] = "postgresql://?" + "&".join(f"{k}={v}" for k, v in options.items())
    try:
        conn = await asyncpg.connect(**{k: v for k, v in kwargs.items() if v is not None})
    except Exception as exc:  # noqa: BLE001 - every failure becomes one explained line
        raise ConnectError(explain_connect_error(exc, target), password_refused=refused_password(exc),
                           server_answered=isinstance(exc, asyncpg.PostgresError)) from None
    try:
        await conn.execute(timeout_statements(statement_timeout_ms, lock_timeout_ms))
    except Exception as exc:  # noqa: BLE001
        conn.terminate()
        raise ConnectError(explain_connect_error(exc, target)) from None
    version = conn.get_server_version()
    version_num = version.major * 10000 + version.minor
    if version_num < OLDEST_SUPPORTED:
        await conn.close()
        raise ConnectError(unsupported_version_message(target, f"{version.major}.{version.minor}"))
    return conn


async def probe(target: Target) -> str:
    """Connect once and say what answered: 'PostgreSQL 15.4 primary, as ops'; ConnectError otherwise."""
    conn = await open_connection(target)
    try:
        row = await conn.fetchrow(sql("probe", 12))
    finally:
        await conn.close()
    role = "standby" if row["standby"] else "primary"
    return f"PostgreSQL {row['version'].split(' ')[0]} {role}, as {row['who']}"


async def close_connection(conn: asyncpg.Connection) -> None:
    """Close politely, within two seconds; a dead or stuck connection is dropped instead."""
    if conn.is_closed():
        return
    try:
        await asyncio.wait_for(conn.close(), timeout=2)
    except (Exception, asyncio.TimeoutError):  # noqa: BLE001 - closing a dead connection
        conn.terminate()


def unsupported_version_message(target: Target, version: str) -> str:
    return (f"{target.label} runs PostgreSQL {version}, which dbtop does not support: "
            "it needs PostgreSQL 12 or newer (12 to 17 are supported)")


def explain_connect_error(exc: BaseException, target: Target) -> str:
    where = target.label
    user = target.user
    database = target.database
    detail = mask_url(" ".join(str(exc).split()))
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return (f"password authentication failed for user {user!r} at {where}: check the password "
                "(the profile's keyring entry, ~/.pgpass or PGPASSWORD)")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return (f"database {database!r} does not exist on {where}: name an existing database "
                "(dbname=… or /dbname in the URL; psql -l lists them)")
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        if "pg_hba.conf" in detail:
            return (f"the server refused {where} ({detail}): add a pg_hba.conf entry for this user, "
                    "database and address, or connect from an allowed host")
        return f"the server refused user {user!r} at {where} ({detail}): check the user name, or create the role"
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return (f"user {user!r} may not connect to database {database!r} at {where} ({detail}): "
                f"GRANT CONNECT ON DATABASE {database} TO {user}")
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        return (f"{where} has no free connection slot ({detail}): close idle sessions, "
                "or connect as a superuser to use a reserved slot")
    if isinstance(exc, asyncpg.CannotConnectNowError):
        return f"{where} is not accepting connections now ({detail}): wait for it to start, or check its log"
    if isinstance(exc, asyncpg.ClientConfigurationError):
        return f"the connection settings for {where} are invalid ({detail}): fix the target's options"
    if isinstance(exc, asyncpg.PostgresError):
        return f"{where} refused the connection ({detail}): check the target's settings"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name of {where} ({detail}): check the host name and DNS"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return (f"no answer from {where} within {target.connect_timeout_s:g} s: check the host, port and "
                "firewall, or raise connect_timeout")
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {where} failed ({detail}): check sslmode and the CA file (sslrootcert)"
    if isinstance(exc, ConnectionRefusedError) or "Connection refused" in detail:
        return f"cannot reach {where}: connection refused: is the server running and listening on that port?"
    if isinstance(exc, FileNotFoundError) or "No such file" in detail:
        return (f"cannot reach {where}: no server socket there: is the server running, "
                "and is the socket directory (host=/path) right?")
    if isinstance(exc, OSError):
        return f"cannot reach {where} ({detail or type(exc).__name__}): check the host, port and network"
    if isinstance(exc, asyncpg.InterfaceError) and "password" in detail.lower():
        return (f"{where} asks for a password and none was given: store it in the profile's keyring entry "
                "or ~/.pgpass, or set PGPASSWORD")
    return f"cannot connect to {where} ({type(exc).__name__}: {detail})"
