"""Opening a monitoring client on a MongoDB target, and saying in one line why it failed."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import ConfigurationError, InvalidURI, OperationFailure, PyMongoError
from pymongo.uri_parser import parse_uri

from ...profiles.target import Target, mask_url
from ..errors import ConnectError
from .errors import one_line

APP_NAME = "dbtop"


def client_options(target: Target, *, server_selection_timeout_ms: int, socket_timeout_ms: int,
                   app_name: str = APP_NAME) -> tuple[str, dict[str, Any]]:
    """The URI and the options dbtop adds: its appName and timeouts; the password from the keyring
    when the URI names a user without one. A URI naming one host and neither replicaSet nor
    directConnection connects to that host alone: dbtop watches the server it was pointed at (with
    readPreference honoured); name replicaSet=… to follow the set's primary."""
    if target.mongo_uri is None:
        raise ConnectError("no MongoDB URI: use mongodb://host:27017 or mongodb+srv://cluster.example.net")
    uri = target.mongo_uri.get_secret_value()
    try:
        parsed = parse_uri(uri, validate=True, warn=False, connect_timeout=target.connect_timeout_s)
    except (InvalidURI, ConfigurationError, ValueError) as exc:
        raise ConnectError(f"{mask_url(uri)} is not a MongoDB URI dbtop can use ({one_line(mask_url(str(exc)))})") from None
    options: dict[str, Any] = {
        "appName": app_name,
        "serverSelectionTimeoutMS": server_selection_timeout_ms,
        "socketTimeoutMS": socket_timeout_ms,
        "connectTimeoutMS": int(target.connect_timeout_s * 1000),
        "maxPoolSize": 2,
        "retryReads": False,  # a monitor reads again on its next poll; a retry doubles the wait
    }
    given = {k.lower() for k in parsed["options"]}
    if (uri.startswith("mongodb://") and len(parsed["nodelist"]) == 1
            and "replicaset" not in given and "directconnection" not in given):
        options["directConnection"] = True
    if parsed.get("username") and not parsed.get("password") and target.password is not None:
        options["password"] = target.password.get_secret_value()
    return uri, options


def open_client(target: Target, *, server_selection_timeout_ms: int = 3000, socket_timeout_ms: int = 5000,
                app_name: str = APP_NAME, **extra: Any) -> AsyncMongoClient:
    """A client on `target`; `extra` adds driver options (the action client's heartbeat)."""
    uri, options = client_options(target, server_selection_timeout_ms=server_selection_timeout_ms,
                                  socket_timeout_ms=socket_timeout_ms, app_name=app_name)
    options.update(extra)
    try:
        return AsyncMongoClient(uri, **options)
    except PyMongoError as exc:
        raise ConnectError(f"cannot use {target.label}: {one_line(mask_url(str(exc)))}") from None


def explain_connect_error(exc: BaseException, target: Target) -> str:
    detail = one_line(mask_url(str(exc)))
    if isinstance(exc, OperationFailure) and exc.code == 18:  # AuthenticationFailed
        return (f"authentication failed at {target.label}: check the user, the password (the profile's "
                "keyring entry) and authSource")
    if "Connection refused" in detail:
        return f"cannot reach {target.label}: connection refused: is mongod running and listening on that port?"
    if "timed out" in detail or "Timeout" in type(exc).__name__:
        return f"no answer from {target.label}: check the host, port and firewall ({detail[:200]})"
    return f"cannot connect to {target.label} ({type(exc).__name__}: {detail[:300]})"


async def probe(target: Target) -> str:
    """Connect once and say what answered: 'MongoDB 7.0.12 primary of rs0'; ConnectError otherwise."""
    client = open_client(target)
    try:
        hello = await client.admin.command("hello", maxTimeMS=3000)
        build = await client.admin.command("buildInfo", maxTimeMS=3000)
    except PyMongoError as exc:
        raise ConnectError(explain_connect_error(exc, target), password_refused=getattr(exc, "code", None) == 18) from None
    finally:
        await client.close()
    role = "primary" if hello.get("isWritablePrimary", hello.get("ismaster")) else (
        "secondary" if hello.get("secondary") else "member")
    where = f" of {hello['setName']}" if hello.get("setName") else " (standalone)"
    return f"MongoDB {build.get('version', '?')} {role}{where}"
