"""Who manages a PostgreSQL cluster's failover: Patroni, repmgr, pg_auto_failover, or nobody.

A managed cluster is changed only through its manager: a raw `pg_promote()` on a Patroni replica
made two writable primaries, and Patroni then rewound the node and the writes made on it were lost
(../shared/recipes/ha-and-backup.md). What the server says in SQL (settings Patroni passes on the
postgres command line, the `Patroni` application name, `cluster_name`, repmgr's schema,
pg_auto_failover's extension and role) only makes dbtop *look*: Patroni is confirmed by its REST API
(`GET /patroni`) answering with the server's own system identifier. Every HTTP call has a short
overall deadline: a REST API that does not answer never holds a poll or an action up.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from ..snapshot import ClusterManager, PatroniCluster, PatroniMember
from ...profiles.target import Target
from .connect import close_connection, open_connection
from .errors import one_line
from .queries import sql

DEFAULT_PATRONI_PORT = 8008
# The settings Patroni passes to postgres as --name=value (the same set in 3.0.2 and 4.1.5): their
# pg_settings.source is 'command line'. A plain server started by pg_ctl has none of them there.
PATRONI_COMMAND_LINE = frozenset({
    "cluster_name", "hot_standby", "listen_addresses", "max_connections", "max_locks_per_transaction",
    "max_prepared_transactions", "max_replication_slots", "max_wal_senders", "max_worker_processes", "port",
    "track_commit_timestamp", "wal_level", "wal_log_hints"})
# How many of them must be on the command line to count as Patroni's fingerprint (a future Patroni may
# drop one or two).
FINGERPRINT_AT_LEAST = 10
PATRONI_APPLICATION_NAMES = ("Patroni", "Patroni heartbeat", "Patroni restapi")
# The manager's own command to promote a standby, shown instead of a raw promotion.
REPMGR_PROMOTE = "repmgr standby promote (on the standby's host, as the repmgr user)"
PG_AUTO_FAILOVER_PROMOTE = "pg_autoctl perform failover (or pg_autoctl perform promotion --name NODE)"


class PatroniUnanswered(Exception):
    """The REST API did not answer as Patroni's: str() is one line saying what happened."""


@dataclass(frozen=True)
class PatroniAnswer:
    """One REST API answer: the HTTP status, the body as JSON when it is JSON, and one line of it."""

    status: int
    body: Any
    message: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def patroni_base_url(patroni_url: str | None, host: str | None) -> str:
    """The REST API's base URL: the profile's `patroni_url` (a trailing /patroni is dropped), else
    port 8008 on the server's host (a socket directory means this machine)."""
    if patroni_url:
        url = patroni_url.strip().rstrip("/")
        if "://" not in url:
            url = f"http://{url}"
        return url.removesuffix("/patroni")
    if not host or host.startswith("/"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{DEFAULT_PATRONI_PORT}"


def _message(body: Any, text: str) -> str:
    """One line of what the API said: Patroni answers errors as a bare string (JSON-quoted or not)."""
    if isinstance(body, str):
        said = body
    elif isinstance(body, dict) and isinstance(body.get("message"), str):
        said = body["message"]
    elif text.lstrip().startswith("<"):
        said = "an HTML error page"
    else:
        said = text
    return _short(said, 200)


def _short(value: Any, limit: int) -> str:
    """Untrusted text on one line, cut at `limit` (panels strip control characters when they render)."""
    text = one_line(str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def patroni_request(base_url: str, method: str, path: str, *, body: dict[str, Any] | None = None,
                          timeout_s: float) -> PatroniAnswer:
    """One request to the REST API, with an overall deadline of `timeout_s`; raises
    PatroniUnanswered when nothing (or something that is not HTTP) answers in time."""
    import httpx  # here, not at the top: most servers have no Patroni, and the dashboard starts faster

    url = f"{base_url}{path}"
    try:
        async with asyncio.timeout(timeout_s):
            async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False, trust_env=False) as client:
                response = await client.request(method, url, json=body)
    except TimeoutError:
        raise PatroniUnanswered(f"no answer from {url} within {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        reason = _short(str(exc), 160) or type(exc).__name__
        raise PatroniUnanswered(f"nothing answered at {url}: {reason}") from None
    text = response.text
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return PatroniAnswer(response.status_code, parsed, _message(parsed, text))


async def patroni_json(base_url: str, path: str, *, timeout_s: float) -> dict[str, Any]:
    """GET `path` and its JSON object; PatroniUnanswered when it is anything else. 503 is an answer
    (Patroni says "not the leader", "not running" with a JSON body)."""
    answer = await patroni_request(base_url, "GET", path, timeout_s=timeout_s)
    if not isinstance(answer.body, dict):
        raise PatroniUnanswered(f"{base_url}{path} answered HTTP {answer.status}, not as Patroni's REST API")
    return answer.body


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def patroni_cluster_from(answer: dict[str, Any], *, version: str | None = None,
                         scope: str | None = None) -> PatroniCluster:
    """The cluster from `GET /cluster`'s JSON (3.x and 4.x); member names and states are untrusted text."""
    members = []
    for raw in answer.get("members") or []:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            continue
        members.append(PatroniMember(
            name=_short(raw["name"], 128), role=_short(raw.get("role") or "unknown", 40),
            state=_short(raw["state"], 40) if isinstance(raw.get("state"), str) else None,
            host=_short(raw["host"], 255) if isinstance(raw.get("host"), str) else None,
            port=_int_or_none(raw.get("port")),
            api_url=_short(raw["api_url"], 255) if isinstance(raw.get("api_url"), str) else None,
            timeline=_int_or_none(raw.get("timeline")),
            lag_bytes=_int_or_none(raw.get("lag")),
            pending_restart=bool(raw.get("pending_restart"))))
    return PatroniCluster(read_at=datetime.now(timezone.utc), members=members, paused=bool(answer.get("pause")),
                          scope=scope, version=version)


async def read_patroni_cluster(base_url: str, *, timeout_s: float, version: str | None = None,
                               scope: str | None = None) -> PatroniCluster:
    """`GET /cluster`: members, roles, states, lag, timelines, pending restarts, pause."""
    return patroni_cluster_from(await patroni_json(base_url, "/cluster", timeout_s=timeout_s),
                                version=version, scope=scope)


def _netloc(url: str | None) -> str:
    return urlsplit(url).netloc.lower() if url else ""


def _connected_member(cluster: PatroniCluster, about: dict[str, Any], base_url: str, port: int | None) -> str | None:
    """The member name of the server dbtop is connected to: /patroni names it from 4.0 on; before,
    the member whose REST API is the one that answered, else the one on the server's port."""
    named = (about.get("patroni") or {}).get("name") if isinstance(about.get("patroni"), dict) else None
    if isinstance(named, str):
        return _short(named, 128)
    here = _netloc(base_url)
    for member in cluster.members:
        if _netloc(member.api_url) == here:
            return member.name
    on_port = [m for m in cluster.members if port is not None and m.port == port]
    return on_port[0].name if len(on_port) == 1 else None


def patroni_promote_instead(cluster: PatroniCluster | None, member: str | None, target: str) -> str:
    """What to run instead of promoting a Patroni member."""
    candidate = member
    if cluster is not None and (member is None or (cluster.member(member) and cluster.member(member).is_leader)):
        replicas = [m.name for m in cluster.members if not m.is_leader]
        candidate = replicas[0] if replicas else None
    name = candidate or "MEMBER"
    return (f"dbtop act switchover {target} --candidate {name} (or dbtop act failover {target} --candidate {name} "
            "when the leader is down)")


async def detect_manager(conn: asyncpg.Connection, *, host: str | None, patroni_url: str | None,
                         timeout_s: float, target: str = "TARGET") -> ClusterManager:
    """Who manages the cluster `conn` is connected to. SQL errors propagate (the caller's part
    records them); an unanswered REST API is reported in the result, never raised. `target` is how
    the operator names the target on the command line, for the command shown instead of a promote."""
    row = await conn.fetchrow(sql("manager_hints", conn.get_server_version().major))
    now = datetime.now(timezone.utc)
    evidence: list[str] = []
    on_command_line = PATRONI_COMMAND_LINE & set(row["command_line_settings"] or ())
    fingerprint = len(on_command_line) >= FINGERPRINT_AT_LEAST
    if fingerprint:
        evidence.append(f"{len(on_command_line)} of Patroni's {len(PATRONI_COMMAND_LINE)} settings are given "
                        "on the postgres command line")
    sessions = list(row["patroni_sessions"] or ())
    if sessions:
        evidence.append("sessions named " + ", ".join(repr(s) for s in sessions))
    cluster_name = _short(row["cluster_name"] or "", 64)
    if cluster_name:
        evidence.append(f"cluster_name = {cluster_name!r}")
    patroni_hinted = fingerprint or bool(sessions)

    error = None
    if patroni_url or patroni_hinted or cluster_name:
        base_url = patroni_base_url(patroni_url, host)
        try:
            about = await patroni_json(base_url, "/patroni", timeout_s=timeout_s)
        except PatroniUnanswered as exc:
            error = str(exc)
            evidence.append(f"Patroni fingerprint but no REST API answered at {base_url}" if patroni_hinted
                            else f"no Patroni REST API answered at {base_url}")
        else:
            theirs = str(about.get("database_system_identifier") or "")
            patroni = about.get("patroni") if isinstance(about.get("patroni"), dict) else {}
            version = _short(patroni.get("version"), 20) if isinstance(patroni.get("version"), str) else None
            scope = _short(patroni.get("scope"), 64) if isinstance(patroni.get("scope"), str) else None
            if theirs and theirs == row["system_identifier"]:
                evidence.append(f"GET {base_url}/patroni answered (Patroni {version or '?'}, scope {scope or '?'}) "
                                "with this server's system identifier")
                cluster = None
                try:
                    cluster = await read_patroni_cluster(base_url, timeout_s=timeout_s, version=version, scope=scope)
                except PatroniUnanswered as exc:
                    error = f"GET /cluster: {exc}"
                port = int(row["port"]) if str(row["port"]).isdigit() else None
                member = _connected_member(cluster, about, base_url, port) if cluster else (
                    _short(patroni.get("name"), 128) if isinstance(patroni.get("name"), str) else None)
                return ClusterManager(kind="patroni", evidence=tuple(evidence), api_url=base_url, member=member,
                                      patroni_cluster=cluster, error=error, read_at=now,
                                      promote_instead=patroni_promote_instead(cluster, member, target))
            error = (f"{base_url}/patroni answered for another cluster (system identifier {_short(theirs, 24) or '?'}, "
                     f"this server's {row['system_identifier']})")
            evidence.append(error)

    if row["repmgr_schema"]:
        return ClusterManager(kind="repmgr", evidence=(*evidence, "schema 'repmgr' exists"), error=error,
                              promote_instead=REPMGR_PROMOTE, read_at=now)
    if row["pgautofailover_extension"] or row["pgautofailover_role"]:
        found = "extension 'pgautofailover' is installed" if row["pgautofailover_extension"] \
            else "role 'pgautofailover_monitor' exists"
        return ClusterManager(kind="pg_auto_failover", evidence=(*evidence, found), error=error,
                              promote_instead=PG_AUTO_FAILOVER_PROMOTE, read_at=now)
    if patroni_hinted or patroni_url:
        return ClusterManager(kind="unknown", evidence=tuple(evidence), error=error, read_at=now,
                              promote_instead="the cluster's manager (Patroni's fingerprint was seen: patronictl "
                                              "switchover/failover), not a raw promotion")
    return ClusterManager(kind="none", evidence=tuple(evidence) or ("no manager's trace in SQL",), read_at=now)


def member_target(target: Target, member: PatroniMember) -> Target:
    """The same credentials, pointed at a member's own host and port (as Patroni lists them)."""
    options = {k: v for k, v in target.options.items() if k != "target_session_attrs"}
    return target.model_copy(update={"hosts": [member.host] if member.host else [],
                                     "ports": [member.port] if member.port else [], "options": options})


async def read_on_member(target: Target, member: PatroniMember, query: str, *args: Any,
                         statement_timeout_ms: int = 2000) -> asyncpg.Record | None:
    """One row of query `query` (engines/postgres/sql/) read on `member`'s server, on a connection of
    its own; raises ConnectError or the server's error."""
    conn = await open_connection(member_target(target, member), statement_timeout_ms=statement_timeout_ms,
                                 lock_timeout_ms=500, application_name="dbtop action")
    try:
        return await conn.fetchrow(sql(query, conn.get_server_version().major), *args)
    finally:
        await close_connection(conn)
