"""The MongoDB collector: one PyMongo async client (appName=dbtop, 2 connections at most) and one
snapshot per call.

Every command carries maxTimeMS (the server stops it) and the client's socketTimeoutMS bounds the
wait for an answer that never comes. Each part (hello, serverStatus, currentOp, replSetGetStatus, the
oplog window, dbStats, the profiler, getCmdLineOpts, usersInfo) fails alone with its reason and the
role that would allow it; a part that keeps failing is backed off (engines/parts.py) and slow facts
are read at a low rate. readPreference from the URI is honoured for every command.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bson import json_util
from bson.timestamp import Timestamp
from pymongo import AsyncMongoClient

from ...actions.plan import Outcome, Plan, Progress, Scalar
from ...profiles.target import Target, mask_url
from ..backups.inventory import BackupInventory, build_backups, scan_backup_directory
from ..errors import ConnectError
from ..parts import CostCounter, PartFailed, Parts
from ..policy import WatchPolicy
from ..redact import redact
from ..snapshot import (
    Backups,
    Blocking,
    CommandLine,
    DatabaseStats,
    FedCollection,
    GlobalLock,
    Lock,
    MongoSection,
    MongoUser,
    MongoView,
    MongoViews,
    OpCounters,
    OplogWindow,
    PartStatus,
    Replication,
    ServerInfo,
    Session,
    Snapshot,
    Standby,
    Statement,
    StatementDelta,
    Statements,
    WalReceiver,
    WiredTigerCache,
)
from .connect import APP_NAME, explain_connect_error, open_client
from .errors import CONNECTION_LOST, explain_error, one_line
from .runner import MongoActionRunner

QUERY_TEXT_CAP = 4096
OPCOUNTER_FIELDS = ("insert", "query", "update", "delete", "getmore", "command")
DATABASES_CAP = 50
PROFILE_BATCH = 200
VIEWS_CAP = 500
SYSTEM_DATABASES = {"local", "config"}
# The slowly read parts an action changes.
REREAD_AFTER = {"backup": ("backups",), "verify-backup": ("backups",), "prune-backups": ("backups",),
                "step-down": ("server_facts", "oplog"), "freeze-member": ("server_facts",)}


def version_number(version: str) -> int:
    """7.0.12 -> 70012 (major * 10000 + minor * 100 + patch), like PostgreSQL's server_version_num."""
    parts = [int("".join(c for c in p if c.isdigit()) or 0) for p in version.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0] * 10000 + parts[1] * 100 + parts[2]


def command_text(command: Any) -> str | None:
    """A command as one line of text (Extended JSON), secrets hidden, cut at QUERY_TEXT_CAP."""
    if command is None:
        return None
    try:
        text = json_util.dumps(command)
    except Exception:  # noqa: BLE001 - a value json_util cannot write still deserves a line
        text = repr(command)
    return redact(one_line(text)[:QUERY_TEXT_CAP])


def as_datetime(value: Any) -> datetime | None:
    if isinstance(value, Timestamp):
        return value.as_datetime()
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def _int(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def operation_id(op: dict[str, Any]) -> int:
    """currentOp's opid (an int on mongod, 'shard:123' on mongos); an idle session has none and is
    numbered from its connection or session id, negative so it never meets an opid."""
    opid = op.get("opid")
    if isinstance(opid, int) and not isinstance(opid, bool):
        return opid
    if isinstance(opid, str) and opid.rsplit(":", 1)[-1].isdigit():
        return int(opid.rsplit(":", 1)[-1])
    if op.get("connectionId") is not None:
        return -int(op["connectionId"])
    return -(zlib.crc32(repr(op.get("lsid")).encode()) or 1)


@dataclass
class ProfileTotals:
    """What the profiler recorded of one kind of operation since dbtop started reading it."""

    ns: str
    op: str
    user: str | None = None
    query: str | None = None
    plan_summary: str | None = None
    query_hash: str | None = None
    calls: int = 0
    total_ms: float = 0.0
    rows: int = 0


@dataclass
class ProfileReader:
    """The profiler's new entries each poll (newest PROFILE_BATCH per database), added up by
    namespace, operation and query shape."""

    since: dict[str, datetime] = field(default_factory=dict)
    totals: dict[str, ProfileTotals] = field(default_factory=dict)
    read_at: float | None = None

    def add(self, entries: list[dict[str, Any]]) -> dict[str, tuple[int, float, int]]:
        """Fold new entries in; returns per key (calls, time ms, rows) of these entries."""
        new: dict[str, tuple[int, float, int]] = {}
        for doc in entries:
            ns, op = str(doc.get("ns", "")), str(doc.get("op", ""))
            shape = doc.get("queryHash") or doc.get("planSummary") or ""
            key = f"{ns} {op} {shape}"
            totals = self.totals.setdefault(key, ProfileTotals(ns=ns, op=op))
            millis = float(doc.get("millis") or 0)
            rows = _int(doc.get("nreturned")) or _int(doc.get("nModified")) or _int(doc.get("ndeleted")) or 0
            totals.calls += 1
            totals.total_ms += millis
            totals.rows += rows
            totals.user = doc.get("user") or totals.user
            totals.query = command_text(doc.get("command")) or totals.query
            totals.plan_summary = doc.get("planSummary") or totals.plan_summary
            totals.query_hash = doc.get("queryHash") or totals.query_hash
            calls, ms, r = new.get(key, (0, 0.0, 0))
            new[key] = (calls + 1, ms + millis, r + rows)
        return new


class MongoCollector:
    """Collects snapshots of one MongoDB server. Not safe for concurrent snapshot() calls."""

    engine = "mongo"

    def __init__(self, target: Target, *, max_time_ms: int = 2000, socket_timeout_ms: int | None = None,
                 server_selection_timeout_ms: int = 3000, facts_every_s: float = 60.0, oplog_every_s: float = 60.0,
                 databases_every_s: float = 300.0, users_every_s: float = 300.0, backups_every_s: float = 60.0,
                 views_every_s: float = 60.0,
                 backoff_base_s: float = 5.0, slow_op_s: float = 1.0, policy: WatchPolicy | None = None,
                 backups: BackupInventory | None = None, statement_timeout_ms: int | None = None,
                 lock_timeout_ms: int | None = None, catalog_first_after_s: float | None = None):
        # The commands' common options: --statement-timeout is MongoDB's maxTimeMS; MongoDB has no
        # per-command lock timeout (maxTimeMS covers the wait) and no catalog part.
        if statement_timeout_ms is not None:
            max_time_ms = statement_timeout_ms
        self.target = target
        self.policy = policy or WatchPolicy()
        self.backups = backups or BackupInventory.from_policy(self.policy, target.label)
        self.max_time_ms = max_time_ms
        self.socket_timeout_ms = socket_timeout_ms if socket_timeout_ms is not None else max_time_ms + 3000
        self.server_selection_timeout_ms = server_selection_timeout_ms
        self.every_s = {"server_facts": facts_every_s, "cmdline": facts_every_s, "host": facts_every_s,
                        "oplog": oplog_every_s, "databases": databases_every_s, "users": users_every_s,
                        "backups": backups_every_s, "views": views_every_s}
        self.slow_op_s = slow_op_s
        self.parts = Parts(self._explain, backoff_base_s=backoff_base_s)
        self._client: AsyncMongoClient | None = None
        self._sequence = 0
        self._last_ok_at: float | None = None
        self._opcounters: tuple[tuple[int, ...], float] | None = None
        self._profile = ProfileReader()
        self._cost = CostCounter()
        self._running: dict[str, str] = {}  # part -> the command it is running, for its error text
        self._plans: dict[int, str] = {}  # opid -> planSummary of the operations in flight
        self.actions = MongoActionRunner(target, self.policy, server_selection_timeout_ms=server_selection_timeout_ms)

    # -- connection ------------------------------------------------------------------------------
    async def connect(self) -> None:
        client = open_client(self.target, server_selection_timeout_ms=self.server_selection_timeout_ms,
                             socket_timeout_ms=self.socket_timeout_ms)
        try:
            await client.admin.command("ping", maxTimeMS=self.max_time_ms,
                                       read_preference=client.read_preference)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one explained line
            await client.close()
            raise ConnectError(explain_connect_error(exc, self.target),
                               password_refused=getattr(exc, "code", None) == 18) from None
        self._client = client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _command(self, part: str, database: str, command: dict[str, Any]) -> dict[str, Any]:
        """Run one command for `part` with maxTimeMS and the URI's read preference."""
        assert self._client is not None
        self._running[part] = next(iter(command))
        self._cost.count(prepared=True)
        try:
            return await self._client[database].command(
                {**command, "maxTimeMS": self.max_time_ms}, read_preference=self._client.read_preference)
        except asyncio.TimeoutError:
            raise PartFailed(f"{next(iter(command))}: no answer (client timeout)") from None

    async def _find(self, part: str, database: str, collection: str, filter: dict, *, sort: list,
                    limit: int, projection: dict | None = None) -> list[dict[str, Any]]:
        assert self._client is not None
        self._running[part] = f"find on {database}.{collection}"
        self._cost.count(prepared=True)
        coll = self._client[database].get_collection(collection, read_preference=self._client.read_preference)
        cursor = coll.find(filter, projection).sort(sort).limit(limit).max_time_ms(self.max_time_ms)
        return await cursor.to_list(limit)

    def _explain(self, name: str, exc: BaseException) -> PartFailed | None:
        return explain_error(name, exc, command=self._running.get(name, name), max_time_ms=self.max_time_ms,
                             socket_timeout_ms=self.socket_timeout_ms)

    # -- the snapshot ----------------------------------------------------------------------------
    async def snapshot(self) -> Snapshot:
        """One snapshot. Never raises for anything the server does: a failure is in the snapshot."""
        self._cost.begin()
        self._sequence += 1
        self.parts.begin()
        if self._client is None:
            try:
                await self.connect()
            except ConnectError as exc:
                return self._unreachable(str(exc))
        try:
            return await self._collect()
        except CONNECTION_LOST as exc:
            return await self._drop_client(f"connection to {self.target.label} lost", exc)
        except Exception as exc:  # noqa: BLE001 - a monitor reports its own faults, it does not die of them
            return await self._drop_client("unexpected error while collecting; reconnecting", exc)

    async def _drop_client(self, what: str, exc: BaseException) -> Snapshot:
        await self.close()
        detail = mask_url(one_line(str(exc)))[:300] or type(exc).__name__
        return self._unreachable(f"{what}: {detail}")

    def _unreachable(self, error: str) -> Snapshot:
        return Snapshot(sequence=self._sequence, taken_at=datetime.now(timezone.utc), target=self.target.label,
                        engine="mongo", reachable=False, error=redact(error))

    async def _collect(self) -> Snapshot:
        hello = await self.parts.read("server", lambda: self._command("server", "admin", {"hello": 1}))
        if hello is None:  # without hello nothing says what this server is
            return self._unreachable(f"{self.target.label}: {self.parts.status['server'].reason}")
        facts = await self.parts.read_every("server_facts", self.every_s["server_facts"], self._read_facts)
        host = await self.parts.read_every("host", self.every_s["host"],
                                           lambda: self._command("host", "admin", {"hostInfo": 1}))
        status = await self.parts.read("status", lambda: self._command("status", "admin", {
            "serverStatus": 1, "repl": 0, "metrics": 0, "locks": 0, "tcmalloc": 0}))
        ops = await self.parts.read("sessions", self._read_current_op)
        sessions = self._sessions(ops) if ops is not None else []
        blocking = self._blocking(ops or [])

        set_name = hello.get("setName")
        replication, members = None, (None, None)
        if set_name:
            read = await self.parts.read("replication", lambda: self._command(
                "replication", "admin", {"replSetGetStatus": 1}))
            if read is not None:
                replication, members = self._replication(read)
        else:
            replication = Replication(role="primary")
            self.parts.status["replication"] = PartStatus(
                available=True, reason="not a replica set: nothing replicates and nothing can take over")
        oplog = None
        if set_name:
            oplog = await self.parts.read_every("oplog", self.every_s["oplog"], self._read_oplog)
        databases = await self.parts.read_every("databases", self.every_s["databases"], self._read_databases)
        statements = await self.parts.read("statements", lambda: self._read_statements(databases, sessions))
        cmdline = await self.parts.read_every("cmdline", self.every_s["cmdline"], self._read_cmdline)
        users = await self.parts.read_every("users", self.every_s["users"], self._read_users)
        backups = await self.parts.read_every("backups", self.every_s["backups"], self._read_backups)
        views = await self.parts.read_every("views", self.every_s["views"], lambda: self._read_views(databases))

        section = self._section(status or {}, host, oplog, databases, cmdline, users, members)
        section = section.model_copy(update={"views": views})
        server = self._server_info(hello, facts or {}, status)
        connections = _int((status or {}).get("connections", {}).get("current"))
        finished = time.monotonic()
        interval = finished - self._last_ok_at if self._last_ok_at is not None else None
        self._last_ok_at = finished
        return Snapshot(
            sequence=self._sequence, taken_at=datetime.now(timezone.utc), target=self.target.label,
            engine="mongo", reachable=True, interval_s=interval, server=server,
            connections_used=connections, sessions=sessions, blocking=blocking,
            statements=statements or Statements(), replication=replication, backups=backups,
            parts=dict(self.parts.status), cost=self._cost.cost(finished), mongo=section)

    # -- server facts ----------------------------------------------------------------------------
    async def _read_facts(self) -> dict[str, Any]:
        build = await self._command("server_facts", "admin", {"buildInfo": 1})
        facts: dict[str, Any] = {"version": str(build.get("version", "?"))}
        try:  # who dbtop is: needs no privilege, and a failure here costs nothing else
            status = await self._command("server_facts", "admin", {"connectionStatus": 1})
        except CONNECTION_LOST:
            raise
        except Exception:  # noqa: BLE001
            status = {}
        auth = status.get("authInfo", {})
        users = auth.get("authenticatedUsers") or []
        facts["user"] = users[0].get("user") if users else None
        facts["roles"] = sorted({f"{r.get('role')}@{r.get('db')}" for r in auth.get("authenticatedUserRoles") or []})
        facts["read_at"] = datetime.now(timezone.utc)
        return facts

    def _server_info(self, hello: dict, facts: dict, status: dict | None) -> ServerInfo:
        version = facts.get("version") or (status or {}).get("version") or "?"
        connections = (status or {}).get("connections", {})
        current, available = _int(connections.get("current")), _int(connections.get("available"))
        uptime = (status or {}).get("uptime")
        local_time = as_datetime((status or {}).get("localTime"))
        roles = facts.get("roles") or []
        database = self._client.get_default_database().name if self._has_default_database() else "admin"
        return ServerInfo(
            engine="mongo", version=str(version), version_num=version_number(str(version)),
            started_at=local_time - timedelta(seconds=float(uptime)) if local_time and uptime is not None else None,
            uptime_s=float(uptime) if uptime is not None else None,
            is_standby=not hello.get("isWritablePrimary", hello.get("ismaster", False)),
            max_connections=current + available if current is not None and available is not None else None,
            reserved_connections=0, database=database, current_user=facts.get("user") or self.target.user or "",
            is_superuser="root@admin" in roles, monitoring_roles=roles,
            facts_read_at=facts.get("read_at"), replica_set=hello.get("setName"))

    def _has_default_database(self) -> bool:
        try:
            return self._client is not None and self._client.get_default_database() is not None
        except Exception:  # noqa: BLE001 - pymongo raises ConfigurationError when the URI names none
            return False

    # -- operations in flight --------------------------------------------------------------------
    async def _read_current_op(self) -> list[dict[str, Any]]:
        reply = await self._command("sessions", "admin", {
            "currentOp": 1, "$all": True,
            "$or": [{"active": True}, {"transaction": {"$exists": True}}]})
        return list(reply.get("inprog") or [])

    def _sessions(self, ops: list[dict[str, Any]]) -> list[Session]:
        now = datetime.now(timezone.utc)
        sessions = []
        self._plans = {operation_id(op): str(op["planSummary"]) for op in ops if op.get("planSummary")}
        for op in ops:
            command = op.get("command") or {}
            if op.get("appName") == APP_NAME and isinstance(command, dict) and "currentOp" in command:
                continue  # this very reading
            running = op.get("microsecs_running")
            query_s = running / 1e6 if isinstance(running, (int, float)) else (
                float(op["secs_running"]) if op.get("secs_running") is not None else None)
            transaction = op.get("transaction") or {}
            xact_s = transaction.get("timeOpenMicros") / 1e6 if transaction.get("timeOpenMicros") else None
            active = bool(op.get("active"))
            state = "active" if active else ("idle in transaction" if transaction else "idle")
            waiting = bool(op.get("waitingForLock"))
            users = op.get("effectiveUsers") or []
            ns = op.get("ns") or ""
            sessions.append(Session(
                pid=operation_id(op),
                user=users[0].get("user") if users else None,
                database=ns.split(".", 1)[0] or None,
                application=op.get("appName"),
                client=op.get("client") or op.get("client_s"),
                backend_type="client backend" if (op.get("client") or op.get("client_s")) else "background worker",
                state=state,
                wait_event_type="Lock" if waiting else ("FlowControl" if op.get("waitingForFlowControl") else None),
                wait_event=_lock_resource(op) if waiting else None,
                query_start=now - timedelta(seconds=query_s) if active and query_s is not None else None,
                xact_start=now - timedelta(seconds=xact_s) if xact_s is not None else None,
                query_s=query_s if active else None,
                state_s=query_s if active else None,
                xact_s=xact_s,
                query=command_text(op.get("command") or op.get("desc")) if command or op.get("desc") else None,
            ))
        return sessions

    def _blocking(self, ops: list[dict[str, Any]]) -> Blocking:
        """Operations waiting for a lock. MongoDB does not say which operation holds it, so there are
        no trees: the waiters, longest first, and what they wait on."""
        locks = []
        for op in ops:
            if not op.get("waitingForLock"):
                continue
            resource = _lock_resource(op)
            locks.append(Lock(pid=operation_id(op), locktype=resource or "unknown",
                              mode=str((op.get("locks") or {}).get(resource, "?")), granted=False,
                              relation=op.get("ns") or None,
                              wait_s=float(op["secs_running"]) if op.get("secs_running") is not None else None))
        locks.sort(key=lambda lock: -(lock.wait_s or 0))
        return Blocking(blocked_count=len(locks), locks=locks)

    # -- replication -----------------------------------------------------------------------------
    def _replication(self, status: dict[str, Any]) -> tuple[Replication, tuple[int | None, int | None]]:
        members = status.get("members") or []
        primary = next((m for m in members if m.get("state") == 1), None)
        primary_at = as_datetime(primary.get("optimeDate")) if primary else None

        def lag(member: dict) -> float | None:
            at = as_datetime(member.get("optimeDate"))
            return max(0.0, (primary_at - at).total_seconds()) if at and primary_at else None

        others, me = [], None
        for m in members:
            if m.get("self"):
                me = m
                continue
            others.append(Standby(
                pid=int(m.get("_id", len(others))), application=m.get("name"), client=m.get("name"),
                state=m.get("stateStr"), replay_lag_s=lag(m) if m.get("state") != 1 else None,
                sync_source=m.get("syncSourceHost") or None,
                health=bool(m["health"]) if m.get("health") is not None else None,
                last_heartbeat_at=as_datetime(m.get("lastHeartbeat"))))
        my_state = status.get("myState")
        if my_state == 1:
            replication = Replication(role="primary", standbys=others)
        else:
            replication = Replication(role="standby", standbys=others, receiver=WalReceiver(
                status=(me or {}).get("stateStr"), sender=status.get("syncSourceHost") or None,
                replay_lag_s=lag(me) if me else None))
            if primary is None:
                self.parts.status["replication"] = PartStatus(
                    available=True, reason="no member is primary: lag cannot be measured")
        voting = _int(status.get("votingMembersCount"))
        return replication, (len(members), voting)

    async def _read_oplog(self) -> OplogWindow:
        first = await self._find("oplog", "local", "oplog.rs", {}, sort=[("$natural", 1)], limit=1,
                                 projection={"ts": 1, "wall": 1})
        last = await self._find("oplog", "local", "oplog.rs", {}, sort=[("$natural", -1)], limit=1,
                                projection={"ts": 1, "wall": 1})
        return OplogWindow(first_at=as_datetime(first[0].get("ts")) if first else None,
                           last_at=as_datetime(last[0].get("ts")) if last else None)

    # -- databases and the profiler --------------------------------------------------------------
    async def _read_databases(self) -> list[DatabaseStats]:
        listing = await self._command("databases", "admin", {"listDatabases": 1, "nameOnly": True})
        names = [d["name"] for d in listing.get("databases") or [] if d.get("name")][:DATABASES_CAP]
        result = []
        for name in names:
            stats = await self._command("databases", name, {"dbStats": 1})
            level = None
            if name not in SYSTEM_DATABASES:
                try:
                    level = _int((await self._command("databases", name, {"profile": -1})).get("was"))
                except CONNECTION_LOST:
                    raise
                except Exception:  # noqa: BLE001 - not knowing the level only means no profiler reading
                    level = None
            result.append(DatabaseStats(
                name=name, collections=_int(stats.get("collections")), views=_int(stats.get("views")),
                objects=_int(stats.get("objects")), data_size=_int(stats.get("dataSize")),
                index_size=_int(stats.get("indexSize")), storage_size=_int(stats.get("storageSize")),
                fs_used_size=_int(stats.get("fsUsedSize")), fs_total_size=_int(stats.get("fsTotalSize")),
                profiling_level=level))
        return result

    async def _read_statements(self, databases: list[DatabaseStats] | None,
                               sessions: list[Session]) -> Statements:
        profiled = [d.name for d in databases or [] if d.profiling_level]
        if not profiled:
            return self._long_running(sessions)
        entries: list[dict[str, Any]] = []
        for name in profiled:
            since = self._profile.since.get(name)
            docs = await self._find("statements", name, "system.profile", {"ts": {"$gt": since}} if since else {},
                                    sort=[("ts", -1)], limit=PROFILE_BATCH)
            if docs:
                self._profile.since[name] = max(as_datetime(d.get("ts")) or since for d in docs
                                                if as_datetime(d.get("ts")) or since)
            entries.extend(docs)
        first = self._profile.read_at is None
        now = time.monotonic()
        interval = None if first else now - self._profile.read_at
        self._profile.read_at = now
        new = self._profile.add(entries)
        statements = [self._statement(key, totals) for key, totals in self._profile.totals.items()]
        deltas = {}
        if interval:
            for key, (calls, ms, rows) in new.items():
                deltas[key] = StatementDelta(interval_s=interval, calls=calls, total_time_ms=ms, rows=rows,
                                             calls_per_s=calls / interval, time_ms_per_s=ms / interval,
                                             rows_per_s=rows / interval)
        return Statements(extension_version="profiler", entries=statements, interval_s=interval, deltas=deltas)

    @staticmethod
    def _statement(key: str, t: ProfileTotals) -> Statement:
        query_id = int(t.query_hash, 16) if t.query_hash and all(c in "0123456789abcdefABCDEF" for c in t.query_hash) \
            else zlib.crc32(key.encode())
        return Statement(key=key, query_id=query_id, user_id=0, database_id=0, user=t.user,
                         database=t.ns.split(".", 1)[0] or None, query=t.query, calls=t.calls,
                         total_time_ms=t.total_ms, mean_time_ms=t.total_ms / t.calls if t.calls else 0.0,
                         rows=t.rows, plan_summary=t.plan_summary)

    def _long_running(self, sessions: list[Session]) -> Statements:
        """Without the profiler: the operations running for slow_op_s or longer, one entry each."""
        self.parts.status["statements"] = PartStatus(
            available=True, reason=f"the profiler is off: operations running {self.slow_op_s:g} s or longer "
                                   "from currentOp",
            fix="db.setProfilingLevel(1, { slowms: 100 }) on the databases to watch")
        entries = []
        for s in sessions:  # read in this very poll: their durations as read are this snapshot's
            if s.state != "active" or s.read_query_s is None or s.read_query_s < self.slow_op_s:
                continue
            ms = s.read_query_s * 1000
            entries.append(Statement(key=f"op:{s.pid}", query_id=s.pid, user_id=0, database_id=0, user=s.user,
                                     database=s.database, query=s.query, calls=1, total_time_ms=ms,
                                     mean_time_ms=ms, rows=None, plan_summary=self._plans.get(s.pid)))
        return Statements(extension_version="currentOp", entries=entries)

    # -- views and the collections aggregations feed ------------------------------------------------
    async def _read_views(self, databases: list[DatabaseStats] | None) -> MongoViews:
        """Every database's views (listCollections), and the data age of the collections the profile
        names in data_age_columns ("db.collection" = "field")."""
        names = [d.name for d in databases or []]
        if databases is None:  # the databases part says why; the collections named in the profile still count
            self.parts.status["views"] = PartStatus(
                available=True, reason="views not listed: the databases could not be listed (see the databases part)",
                fix="grant the monitoring user clusterMonitor (listDatabases)")
        views: list[MongoView] = []
        for name in [n for n in names if n not in SYSTEM_DATABASES][:DATABASES_CAP]:
            # nameOnly takes no collection locks (full listings lock each collection before 5.0, and need
            # listCollections); the views' definitions are then read for the views alone.
            listed = await self._command("views", name, {"listCollections": 1, "filter": {"type": "view"},
                                                         "nameOnly": True, "authorizedCollections": True})
            found = [str(d.get("name")) for d in (listed.get("cursor") or {}).get("firstBatch") or []]
            if not found:
                continue
            reply = await self._command("views", name, {"listCollections": 1, "nameOnly": False,
                                                        "filter": {"type": "view", "name": {"$in": found[:VIEWS_CAP]}}})
            defined = {str(d.get("name")): d.get("options") or {}
                       for d in (reply.get("cursor") or {}).get("firstBatch") or []}
            for view in found:
                options = defined.get(view, {})
                views.append(MongoView(database=name, name=view, view_on=options.get("viewOn"),
                                       pipeline=command_text(options.get("pipeline"))))
        fed = [await self._read_fed(key, field) for key, field in sorted(self.policy.data_age_columns.items())
               if "." in key]
        return MongoViews(read_at=datetime.now(timezone.utc), listed=databases is not None, views=views[:VIEWS_CAP],
                          fed=fed, truncated=len(views) > VIEWS_CAP)

    async def _read_fed(self, key: str, field: str) -> FedCollection:
        """The newest `field` value in collection `key` ("db.collection"): one find, sorted on the field
        (cheap with an index on it; without one maxTimeMS stops the scan and the row says so)."""
        database, _, name = key.partition(".")
        threshold = self.policy.freshness_for(database, name)
        fed = FedCollection(database=database, name=name, field=field, threshold_s=threshold)
        try:
            docs = await self._find("views", database, name, {field: {"$exists": True}}, sort=[(field, -1)],
                                    limit=1, projection={field: 1, "_id": 0})
        except CONNECTION_LOST:
            raise
        except Exception as exc:  # noqa: BLE001 - one collection's failure is its row's, not the part's
            failed = self._explain("views", exc)
            reason = failed.reason if failed else one_line(str(exc))
            if failed and "maxTimeMS" in failed.reason:
                reason += f" (an index on {{{field}: -1}} makes this read cheap)"
            return fed.model_copy(update={"error": redact(reason)})
        if not docs:
            return fed.model_copy(update={"error": f"no document of {key} has a {field} field"})
        value: Any = docs[0]
        for step in field.split("."):
            value = value.get(step) if isinstance(value, dict) else None
        at = as_datetime(value)
        if at is None:
            return fed.model_copy(update={"error": f"{field} holds a {type(value).__name__}, not a date"})
        age = max(0.0, (datetime.now(timezone.utc) - at).total_seconds())
        return fed.model_copy(update={"newest_at": at, "age_s": age, "stale": age > threshold})

    # -- security facts --------------------------------------------------------------------------
    async def _read_cmdline(self) -> CommandLine:
        reply = await self._command("cmdline", "admin", {"getCmdLineOpts": 1})
        parsed = reply.get("parsed") or {}
        net, security = parsed.get("net") or {}, parsed.get("security") or {}
        tls = net.get("tls") or net.get("ssl") or {}
        bind = net.get("bindIp")
        return CommandLine(
            authorization=security.get("authorization") == "enabled" or bool(security.get("keyFile")),
            key_file=bool(security.get("keyFile")),
            tls_mode=str(tls.get("mode")) if tls.get("mode") else "disabled",
            bind_ip=[ip.strip() for ip in str(bind).split(",")] if bind else [],
            bind_ip_all=bool(net.get("bindIpAll")))

    async def _read_users(self) -> list[MongoUser]:
        reply = await self._command("users", "admin", {"usersInfo": 1, "forAllDBs": True})
        return [MongoUser(user=str(u.get("user")), db=str(u.get("db")),
                          roles=[f"{r.get('role')}@{r.get('db')}" for r in u.get("roles") or []])
                for u in reply.get("users") or []]

    async def _read_backups(self) -> Backups:
        """mongodump archives (and dbtop's metadata) in the backup directory, through the inventory's
        scanner; pgBackRest is not asked."""
        inventory = self.backups
        now = datetime.now(timezone.utc)
        try:
            entries, error = await asyncio.wait_for(
                asyncio.to_thread(scan_backup_directory, Path(inventory.directory), now=now),
                inventory.scan_timeout_s)
        except asyncio.TimeoutError:
            raise PartFailed(f"reading the backup directory {inventory.directory} did not finish in time",
                             "check that the file system holding it answers (a hung network mount?)") from None
        return build_backups(directory=inventory.directory, directory_error=error, entries=entries,
                             rpo_s=inventory.rpo_s, retention_s=inventory.retention_s, keep=inventory.keep, now=now)

    # -- the MongoDB section ---------------------------------------------------------------------
    def _section(self, status: dict[str, Any], host: dict | None, oplog: OplogWindow | None,
                 databases: list[DatabaseStats] | None, cmdline: CommandLine | None, users: list[MongoUser] | None,
                 members: tuple[int | None, int | None]) -> MongoSection:
        cache = ((status.get("wiredTiger") or {}).get("cache")) or None
        lock = status.get("globalLock") or None
        memory = status.get("mem") or {}
        network = status.get("network") or {}
        system = (host or {}).get("system") or {}
        host_mb = _int(system.get("memLimitMB")) or _int(system.get("memSizeMB"))
        return MongoSection(
            opcounters=self._opcounter_rates(status.get("opcounters")),
            connections_total_created=_int((status.get("connections") or {}).get("totalCreated")),
            network_bytes_in=_int(network.get("bytesIn")), network_bytes_out=_int(network.get("bytesOut")),
            cache=WiredTigerCache(bytes_in_cache=_int(cache.get("bytes currently in the cache")),
                                  max_bytes=_int(cache.get("maximum bytes configured")),
                                  dirty_bytes=_int(cache.get("tracked dirty bytes in the cache"))) if cache else None,
            global_lock=GlobalLock(
                queue_total=_int((lock.get("currentQueue") or {}).get("total")),
                queue_readers=_int((lock.get("currentQueue") or {}).get("readers")),
                queue_writers=_int((lock.get("currentQueue") or {}).get("writers")),
                active_readers=_int((lock.get("activeClients") or {}).get("readers")),
                active_writers=_int((lock.get("activeClients") or {}).get("writers"))) if lock else None,
            resident_mb=_int(memory.get("resident")), host_memory_mb=host_mb, oplog=oplog, databases=databases,
            cmdline=cmdline, users=users, members_total=members[0], voting_members=members[1])

    def _opcounter_rates(self, counters: dict | None) -> OpCounters | None:
        if not counters:
            return None
        values = tuple(_int(counters.get(f)) or 0 for f in OPCOUNTER_FIELDS)
        now = time.monotonic()
        previous, self._opcounters = self._opcounters, (values, now)
        base = dict(zip(OPCOUNTER_FIELDS, values))
        if previous is None or now <= previous[1]:
            return OpCounters(**base)
        interval = now - previous[1]
        return OpCounters(**base, interval_s=interval,
                          per_s={f: max(0, v - p) / interval for f, v, p in zip(OPCOUNTER_FIELDS, values, previous[0])})

    # -- actions, on a client of their own (runner.py) --------------------------------------------
    async def plan(self, action: str, **params: Scalar) -> Plan:
        return await self.actions.plan(action, **params)

    async def run(self, plan: Plan, progress: Progress | None = None) -> Outcome:
        outcome = await self.actions.run(plan, progress)
        if outcome.status in ("done", "failed", "cancelled"):
            # the next snapshot shows the effect: what the action changed is read again at once
            for part in REREAD_AFTER.get(plan.action, ()):
                self.parts.postpone(part, 0)
        return outcome


def _lock_resource(op: dict[str, Any]) -> str | None:
    """The most specific lock an operation takes or waits for (Collection over Database over Global)."""
    locks = op.get("locks") or {}
    for resource in ("Collection", "Database", "Global"):
        if resource in locks:
            return resource
    return next(iter(locks), None)
