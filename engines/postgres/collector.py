"""The PostgreSQL collector: one dedicated, read-only connection and one snapshot per call.

Every query runs under statement_timeout and lock_timeout. A part that times out or lacks a
privilege is marked unavailable with the reason and the fix, the rest of the snapshot still
arrives, and a part that keeps failing is backed off instead of retried on every poll. Slow
facts (settings, sizes, names) are read at a low rate. A lost connection yields a snapshot that
says so; the next call reconnects.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import asyncpg

from ...profiles.target import Target, mask_url
from ..blocking import build_blocking
from ..policy import WatchPolicy
from ..snapshot import (
    Activity,
    Backups,
    Blocking,
    CollectorCost,
    Lock,
    PartStatus,
    PgBackRestStatus,
    PostgresSection,
    Replication,
    ReplicationSlot,
    ServerInfo,
    Session,
    Snapshot,
    Standby,
    Statement,
    StatementDelta,
    Statements,
    Views,
    WalArchiving,
    WalReceiver,
)
from ..errors import ConnectError
from ..redact import redact
from .connect import APPLICATION_NAME, open_connection
from .queries import MARKER, sql, statements_sql
from .catalog import read_catalog
from .views import ViewsReader

T = TypeVar("T")

SETTINGS_READ = [
    "max_connections", "superuser_reserved_connections", "reserved_connections", "shared_buffers",
    "work_mem", "maintenance_work_mem", "effective_cache_size", "statement_timeout", "lock_timeout",
    "idle_in_transaction_session_timeout", "idle_session_timeout", "log_min_duration_statement",
    "autovacuum", "track_io_timing", "track_activity_query_size", "archive_mode", "archive_command",
    "archive_library", "wal_level", "max_wal_senders", "max_replication_slots", "hot_standby",
    "synchronous_commit", "synchronous_standby_names", "ssl", "password_encryption",
    "shared_preload_libraries", "pg_stat_statements.max", "pg_stat_statements.track",
    "data_checksums", "block_size", "server_encoding", "TimeZone", "max_wal_size", "checkpoint_timeout",
]

# What each part needs when a role may not read it.
PRIVILEGE_FIX = {
    "sessions": "GRANT pg_monitor TO {user}  (or pg_read_all_stats)",
    "statements": "GRANT pg_monitor TO {user}  (or pg_read_all_stats)",
    "replication": "GRANT pg_monitor TO {user}",
    "locks": "GRANT pg_monitor TO {user}",
    "settings": "GRANT pg_monitor TO {user}  (or pg_read_all_settings)",
    "database_size": "GRANT CONNECT ON DATABASE … TO {user}, or GRANT pg_monitor TO {user}",
    "views": "GRANT pg_monitor TO {user}",
    "backups": "GRANT pg_monitor TO {user}",
}

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
MAX_BACKOFF_S = 300.0
TEXT_CACHE_LIMIT = 20000
BACKUP_SCAN_TIMEOUT_S = 5.0


class PartFailed(Exception):
    """A part could not be collected; carries the operator's reason and fix."""

    def __init__(self, reason: str, fix: str | None = None, back_off: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.fix = fix
        self.back_off = back_off


@dataclass
class Backoff:
    failures: int
    retry_at: float
    reason: str
    fix: str | None


@dataclass
class SlowPart:
    """A part read at a low rate: its last value and status are carried into the snapshots between."""

    due_at: float = 0.0
    value: Any = None
    status: PartStatus | None = None


@dataclass
class Counters:
    values: tuple
    at: float


class PostgresCollector:
    """Collects snapshots of one PostgreSQL server. Not safe for concurrent snapshot() calls:
    the caller schedules the next poll when the last one finishes."""

    engine = "postgres"

    def __init__(self, target: Target, *, statement_timeout_ms: int = 2000, lock_timeout_ms: int = 500,
                 facts_every_s: float = 60.0, size_every_s: float = 900.0, backoff_base_s: float = 5.0,
                 policy: WatchPolicy | None = None, views_every_s: float = 30.0, backups_every_s: float = 60.0,
                 catalog_every_s: float = 300.0, catalog_first_after_s: float = 10.0, objects_cap: int = 2000):
        self.target = target
        self.policy = policy or WatchPolicy()
        self.every_s = {"views": views_every_s, "backups": backups_every_s, "catalog": catalog_every_s}
        self.objects_cap = objects_cap
        # The catalog is the costliest part: read it once the dashboard is up, not before the first screen.
        self._slow: dict[str, SlowPart] = {"catalog": SlowPart(due_at=time.monotonic() + catalog_first_after_s)}
        self._views = ViewsReader(self.policy)
        self.statement_timeout_ms = statement_timeout_ms
        self.lock_timeout_ms = lock_timeout_ms
        self.facts_every_s = facts_every_s
        self.size_every_s = size_every_s
        self.backoff_base_s = backoff_base_s
        self._conn: asyncpg.Connection | None = None
        self._prepared: set[str] = set()
        self._own_pids: set[int] = set()
        self._sequence = 0
        self._last_ok_at: float | None = None
        self._facts: dict[str, Any] | None = None
        self._facts_at = -1e18
        self._settings: dict[str, str] = {}
        self._names: dict[tuple[str, int], str] = {}
        self._size: tuple[int, datetime] | None = None
        self._size_due = 0.0
        self._activity: Counters | None = None
        self._statements: dict[tuple, tuple[tuple, Statement]] = {}
        self._statements_at: float | None = None
        self._statements_names: dict[tuple[str, int], str] | None = None
        self._texts: dict[int, str] = {}
        self._backoff: dict[str, Backoff] = {}
        self._parts: dict[str, PartStatus] = {}
        self._queries = 0
        self._round_trips = 0

    # -- connection ------------------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the monitoring connection; raises ConnectError with a one-line reason."""
        conn = await open_connection(self.target, statement_timeout_ms=self.statement_timeout_ms,
                                     lock_timeout_ms=self.lock_timeout_ms)
        self._conn = conn
        self._prepared = set()
        self._own_pids.add(conn.get_server_pid())
        self._facts_at = -1e18
        self._size_due = time.monotonic() + min(30.0, self.size_every_s)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), timeout=2)
            except (Exception, asyncio.TimeoutError):  # noqa: BLE001 - closing a dead connection
                conn.terminate()

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def _fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        assert self._conn is not None
        self._queries += 1
        # A statement asyncpg has not prepared on this connection costs a Parse/Describe round trip.
        self._round_trips += 1 if query in self._prepared else 2
        self._prepared.add(query)
        try:
            return await self._conn.fetch(query, *args)
        except asyncio.TimeoutError:
            raise PartFailed(f"no answer within {self.statement_timeout_ms / 1000 + 3:g} s (client timeout)") from None

    # -- the snapshot ----------------------------------------------------------------------------
    async def snapshot(self) -> Snapshot:
        """One snapshot. Never raises for anything the server does: a failure is in the snapshot."""
        started = time.monotonic()
        cpu_started = time.process_time()
        self._sequence += 1
        self._queries = self._round_trips = 0
        self._parts = {}
        if not self.connected:
            try:
                await self.connect()
            except ConnectError as exc:
                return self._unreachable(str(exc))
        try:
            return await self._collect(started, cpu_started)
        except CONNECTION_LOST as exc:
            return self._drop_connection(f"connection to {self.target.label} lost", exc)
        except Exception as exc:  # noqa: BLE001 - a monitor reports its own faults, it does not die of them
            return self._drop_connection("unexpected error while collecting; reconnecting", exc)

    def _drop_connection(self, what: str, exc: BaseException) -> Snapshot:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()
        detail = mask_url(" ".join(str(exc).split())) or type(exc).__name__
        return self._unreachable(f"{what}: {detail}")

    def _unreachable(self, error: str) -> Snapshot:
        return Snapshot(sequence=self._sequence, taken_at=datetime.now(timezone.utc), target=self.target.label,
                        engine="postgres", reachable=False, error=redact(error))

    async def _collect(self, started: float, cpu_started: float) -> Snapshot:
        assert self._conn is not None
        major = self._conn.get_server_version().major
        if self._facts is None or time.monotonic() - self._facts_at >= self.facts_every_s:
            await self._part("server", self._read_facts)
        facts = self._facts

        activity_row = await self._part("activity", lambda: self._fetch(sql("database_activity", major)))
        if facts is not None and activity_row and activity_row[0]["in_recovery"] != facts["is_standby"]:
            await self._part("server", self._read_facts)  # promoted or demoted since the facts were read
            facts = self._facts

        sessions_rows = await self._part("sessions", lambda: self._fetch(sql("activity", major)))
        sessions: list[Session] = []
        connections_used = connections_hidden = None
        if sessions_rows is not None:
            sessions, connections_used, connections_hidden = self._sessions(sessions_rows)
            if facts is not None and not self._reads_all_stats(facts):
                hidden = sum(1 for s in sessions if s.hidden)
                self._parts["sessions"] = PartStatus(
                    available=True,
                    reason=f"other roles' state, query text and client are hidden ({hidden} processes; "
                           "connections counted by user and database)",
                    fix=PRIVILEGE_FIX["sessions"].format(user=facts["current_user"]))

        blocking = Blocking()
        involved = {s.pid for s in sessions if s.blocked_by} | {p for s in sessions for p in s.blocked_by}
        if involved:
            lock_rows = await self._part("locks", lambda: self._fetch(sql("locks", major), sorted(involved)))
            locks = [Lock(**dict(r)) for r in lock_rows or []]
            blocking = build_blocking(sessions, locks)

        if facts is None:
            reason = f"needs the server facts, which could not be read ({self._parts['server'].reason})"
            for name in ("statements", "replication"):
                self._parts[name] = PartStatus(available=False, reason=reason, fix=self._parts["server"].fix)
            section = PostgresSection(activity=self._activity_rates(activity_row[0]) if activity_row else None)
            return self._snapshot(started, cpu_started, None, (connections_used, connections_hidden), sessions,
                                  blocking, None, None, section)
        statements = await self._part("statements", lambda: self._read_statements(facts))
        # pg_stat_replication scans every backend: only worth asking when a walsender exists (or may:
        # a session whose type is hidden can be one).
        walsenders = sessions_rows is None or any(s.backend_type == "walsender" or s.hidden for s in sessions)
        replication = await self._part("replication", lambda: self._read_replication(facts, major, walsenders))
        if time.monotonic() >= self._size_due:
            await self._part("database_size", self._read_database_size)
            self._size_due = time.monotonic() + self.size_every_s
        views = await self._slow_part("views", self._read_views)
        backups, archiving, pgbackrest = await self._slow_part("backups", lambda: self._read_backups(major)) or (
            None, None, None)
        catalog = await self._slow_part("catalog", lambda: read_catalog(self._fetch, major, objects_cap=self.objects_cap))
        slots = replication[1] if replication else []
        section = PostgresSection(activity=self._activity_rates(activity_row[0]) if activity_row else None,
                                  catalog=catalog, slots=slots, archiving=archiving, pgbackrest=pgbackrest)
        return self._snapshot(started, cpu_started, self._server_info(facts), (connections_used, connections_hidden),
                              sessions, blocking, statements, replication[0] if replication else None, section,
                              views, backups)

    async def _slow_part(self, name: str, fetch: Callable[[], Awaitable[T]]) -> T | None:
        """A part read every `every_s[name]` seconds; between readings the last value is reused."""
        slow = self._slow.setdefault(name, SlowPart())
        now = time.monotonic()
        if now < slow.due_at:
            if slow.status is not None:
                self._parts[name] = slow.status
            return slow.value
        value = await self._part(name, fetch)
        slow.status = self._parts.get(name)
        slow.value = value
        slow.due_at = time.monotonic() + self.every_s[name]
        return slow.value

    async def _read_views(self) -> Views:
        views = await self._views.read(self._fetch)
        if self._views.refresh_log_note:
            self._parts["views"] = PartStatus(available=True, reason=self._views.refresh_log_note)
        return views

    async def _read_backups(self, major: int) -> tuple[Backups, WalArchiving, PgBackRestStatus]:
        from ..backup_inventory import collect_backup_inventory, default_backup_dir

        archiving = WalArchiving(**dict((await self._fetch(sql("archiver", major)))[0]))
        policy = self.policy
        directory = Path(policy.backup_dir).expanduser() if policy.backup_dir else default_backup_dir(
            policy.profile, self.target.label)
        try:
            backups, pgbackrest = await asyncio.wait_for(
                collect_backup_inventory(directory, rpo_s=policy.rpo_s, retention_s=policy.retention_s,
                                         keep=policy.retention_keep, pgbackrest_timeout_s=policy.pgbackrest_timeout_s),
                BACKUP_SCAN_TIMEOUT_S + policy.pgbackrest_timeout_s)
            return backups, archiving, pgbackrest
        except asyncio.TimeoutError:
            raise PartFailed(f"reading the backup directory {directory} did not finish in time",
                             "check that the file system holding it answers (a hung network mount?)") from None

    def _snapshot(self, started, cpu_started, server, connections, sessions, blocking, statements,
                  replication, section: PostgresSection, views=None, backups=None) -> Snapshot:
        """`connections`: (client backends counted, how many of them by their user and database alone)."""
        finished = time.monotonic()
        interval = finished - self._last_ok_at if self._last_ok_at is not None else None
        self._last_ok_at = finished
        return Snapshot(
            sequence=self._sequence,
            taken_at=datetime.now(timezone.utc),
            target=self.target.label,
            engine="postgres",
            reachable=True,
            interval_s=interval,
            server=server,
            connections_used=connections[0],
            connections_hidden=connections[1],
            sessions=sessions,
            blocking=blocking,
            statements=statements or Statements(),
            replication=replication,
            views=views,
            backups=backups,
            postgres=section,
            parts=dict(self._parts),
            cost=CollectorCost(queries=self._queries, round_trips=self._round_trips,
                               wall_ms=(finished - started) * 1000,
                               client_cpu_ms=(time.process_time() - cpu_started) * 1000),
        )

    @staticmethod
    def _reads_all_stats(facts: dict[str, Any]) -> bool:
        return bool(facts["is_superuser"]) or "pg_read_all_stats" in facts["monitoring_roles"]

    async def _part(self, name: str, fetch: Callable[[], Awaitable[T]]) -> T | None:
        """Run one part under the backoff rules; a failure marks the part and returns None."""
        now = time.monotonic()
        backoff = self._backoff.get(name)
        if backoff and backoff.retry_at > now:
            retry_at = datetime.now(timezone.utc) + timedelta(seconds=backoff.retry_at - now)
            self._parts[name] = PartStatus(available=False, reason=f"{backoff.reason}; paused until the next retry",
                                           fix=backoff.fix, retry_at=retry_at)
            return None
        try:
            result = await fetch()
        except CONNECTION_LOST:
            raise
        except PartFailed as exc:
            self._fail(name, exc.reason, exc.fix, exc.back_off)
            return None
        except asyncpg.QueryCanceledError:
            self._fail(name, f"timed out after {self.statement_timeout_ms / 1000:g} s (statement_timeout)",
                       "the server is slow to answer this part; dbtop retries it less often")
            return None
        except asyncpg.LockNotAvailableError:
            self._fail(name, f"waited {self.lock_timeout_ms} ms for a lock held by another session (lock_timeout)",
                       "see the Locks panel for the session holding it")
            return None
        except asyncpg.InsufficientPrivilegeError as exc:
            user = (self._facts or {}).get("current_user", self.target.user)
            self._fail(name, f"permission denied: {exc}", PRIVILEGE_FIX.get(name, "GRANT pg_monitor TO {user}")
                       .format(user=user))
            return None
        except asyncpg.PostgresError as exc:
            self._fail(name, " ".join(str(exc).split()), None)
            return None
        self._backoff.pop(name, None)
        self._parts.setdefault(name, PartStatus())
        return result

    def _fail(self, name: str, reason: str, fix: str | None, back_off: bool = True) -> None:
        reason = redact(reason)  # server error text may quote a statement or a connection string
        previous = self._backoff.get(name)
        failures = previous.failures + 1 if previous else 1
        retry_at = None
        if back_off:
            delay = min(MAX_BACKOFF_S, self.backoff_base_s * 2 ** (failures - 1))
            self._backoff[name] = Backoff(failures, time.monotonic() + delay, reason, fix)
            retry_at = datetime.now(timezone.utc) + timedelta(seconds=delay)
        self._parts[name] = PartStatus(available=False, reason=reason, fix=fix, retry_at=retry_at)

    # -- slow facts ------------------------------------------------------------------------------
    async def _read_facts(self) -> None:
        assert self._conn is not None
        major = self._conn.get_server_version().major
        self._facts_at = time.monotonic()  # also on failure: the backoff decides the next try
        rows = await self._fetch(sql("server_facts", major))
        facts = dict(rows[0])
        facts["monitoring_roles"] = list(facts["monitoring_roles"] or [])
        facts["read_at"] = datetime.now(timezone.utc)
        facts["read_monotonic"] = time.monotonic()
        self._facts = facts
        settings = await self._part("settings", lambda: self._fetch(sql("settings", major), SETTINGS_READ))
        if settings is not None:
            self._settings = {r["name"]: redact(r["value"]) for r in settings}
        names = await self._part("names", lambda: self._fetch(sql("names", major)))
        if names is not None:
            self._names = {(r["kind"], r["oid"]): r["name"] for r in names}

    async def _read_database_size(self) -> None:
        rows = await self._fetch(sql("database_size", 12))
        self._size = (rows[0]["size"], datetime.now(timezone.utc))

    def _server_info(self, facts: dict[str, Any]) -> ServerInfo:
        return ServerInfo(
            engine="postgres",
            version=facts["version"],
            version_num=facts["version_num"],
            started_at=facts["started_at"],
            uptime_s=facts["uptime_s"] + (time.monotonic() - facts["read_monotonic"]),
            is_standby=facts["is_standby"],
            max_connections=facts["max_connections"],
            reserved_connections=facts["reserved_connections"],
            database=facts["database"],
            current_user=facts["current_user"],
            is_superuser=bool(facts["is_superuser"]),
            monitoring_roles=facts["monitoring_roles"],
            database_size_estimate_bytes=facts["size_estimate"],
            database_size_bytes=self._size[0] if self._size else None,
            database_size_measured_at=self._size[1] if self._size else None,
            settings=self._settings,
            facts_read_at=facts["read_at"],
        )

    # -- sessions --------------------------------------------------------------------------------
    def _sessions(self, rows: list[asyncpg.Record]) -> tuple[list[Session], int, int]:
        """The sessions (dbtop's own left out), the client backends among them (dbtop's own counted:
        it takes a slot), and how many of those were counted with their type hidden."""
        if not rows:
            return [], 0, 0
        columns = tuple(rows[0].keys())
        build = Session.from_trusted
        own = self._own_pids
        sessions = []
        used = hidden = 0
        for r in rows:
            row = dict(zip(columns, r))
            row["query"] = redact(row["query"])
            session = build(row)
            if session.counts_as_client:
                used += 1
                if session.hidden:
                    hidden += 1
                elif row["pid"] in own and row["application"] == APPLICATION_NAME:
                    continue
            sessions.append(session)
        return sessions, used, hidden

    # -- database-wide rates ---------------------------------------------------------------------
    def _activity_rates(self, row: asyncpg.Record) -> Activity:
        fields = ("xact_commit", "xact_rollback", "blks_hit", "blks_read", "tup_returned", "tup_fetched",
                  "tup_inserted", "tup_updated", "tup_deleted", "deadlocks", "temp_bytes")
        values = tuple(row[f] or 0 for f in fields)
        now = time.monotonic()
        previous, self._activity = self._activity, Counters(values, now)
        counters = dict(zip(fields, values))
        if previous is None or now <= previous.at:
            return Activity(**counters)
        interval = now - previous.at
        d = {f: max(0, v - p) for f, v, p in zip(fields, values, previous.values)}
        blocks = d["blks_hit"] + d["blks_read"]
        return Activity(
            **counters,
            interval_s=interval,
            commits_per_s=d["xact_commit"] / interval,
            rollbacks_per_s=d["xact_rollback"] / interval,
            transactions_per_s=(d["xact_commit"] + d["xact_rollback"]) / interval,
            cache_hit_ratio=d["blks_hit"] / blocks if blocks else None,
            tuples_read_per_s=(d["tup_returned"] + d["tup_fetched"]) / interval,
            tuples_written_per_s=(d["tup_inserted"] + d["tup_updated"] + d["tup_deleted"]) / interval,
        )

    # -- pg_stat_statements ----------------------------------------------------------------------
    async def _read_statements(self, facts: dict[str, Any]) -> Statements:
        version = facts["statements_version"]
        preload = self._settings.get("shared_preload_libraries")
        preloaded = None if preload is None else "pg_stat_statements" in [p.strip() for p in preload.split(",")]
        if version is None:
            database = facts["database"]
            if preloaded is False:
                raise PartFailed(
                    "pg_stat_statements is not in shared_preload_libraries",
                    "add pg_stat_statements to shared_preload_libraries in postgresql.conf, restart the server, "
                    f"then run CREATE EXTENSION pg_stat_statements; in database {database}", back_off=False)
            raise PartFailed(
                f"the pg_stat_statements extension is not created in database {database}",
                f"CREATE EXTENSION pg_stat_statements;  (in database {database}; the library must also be in "
                "shared_preload_libraries)", back_off=False)
        try:
            rows = await self._fetch(statements_sql(version))
        except asyncpg.ObjectNotInPrerequisiteStateError:
            raise PartFailed(
                "the pg_stat_statements extension exists but its library is not loaded "
                "(not in shared_preload_libraries)",
                "add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart the server",
                back_off=False) from None
        now = time.monotonic()
        new_ids = [r["query_id"] for r in rows if r["query_id"] not in self._texts]
        if new_ids:
            if len(self._texts) + len(new_ids) > TEXT_CACHE_LIMIT:
                self._texts.clear()
                new_ids = [r["query_id"] for r in rows]
            texts = await self._fetch(sql("statement_texts", 12), list(set(new_ids)))
            self._texts.update((r["query_id"], redact(r["query"])) for r in texts)

        # Most entries do not move between two polls: for those, compare the decoded row with the
        # last one and keep the Statement built then. Columns: user_id, database_id, query_id,
        # toplevel (the key), then the counters.
        previous = self._statements
        reuse = self._statements_names is self._names  # rebuilt when the names were read again
        previous_at = self._statements_at
        current: dict[tuple, tuple[tuple, Statement]] = {}
        entries = []
        deltas: dict[str, StatementDelta] = {}
        names = self._names
        texts = self._texts
        interval = now - previous_at if previous_at is not None and now > previous_at else None
        zero = (0, 0.0, 0, 0, 0)
        for r in rows:
            raw = tuple(r)
            key = raw[:4]
            before = previous.get(key)
            if reuse and before is not None and before[0] == raw:
                current[key] = before
                entries.append(before[1])
                continue
            user_id, database_id, query_id, toplevel, calls, total, n_rows, hit, read = raw
            text = texts.get(query_id)
            statement = Statement.from_trusted({
                "key": f"{query_id}:{user_id}:{database_id}:{'t' if toplevel else 'f'}", "query_id": query_id,
                "user_id": user_id, "database_id": database_id, "user": names.get(("role", user_id)),
                "database": names.get(("database", database_id)), "toplevel": toplevel,
                "from_dbtop": text is not None and text.startswith(MARKER), "query": text,
                "calls": calls, "total_time_ms": total, "mean_time_ms": total / calls if calls else 0.0,
                "rows": n_rows, "shared_blks_hit": hit, "shared_blks_read": read})
            current[key] = (raw, statement)
            entries.append(statement)
            if interval is not None:
                # An entry missing from the last reading, or whose counters went down (a reset),
                # has counted only since then: all of it happened in this interval.
                counters = raw[4:]
                base = before[0][4:] if before is not None and calls >= before[0][4] else zero
                dc, dt, dr, dh, dd = (v - p for v, p in zip(counters, base))
                if dc or dt:
                    deltas[statement.key] = StatementDelta(
                        interval_s=interval, calls=dc, total_time_ms=dt, rows=dr, shared_blks_hit=dh,
                        shared_blks_read=dd, calls_per_s=dc / interval, time_ms_per_s=dt / interval,
                        rows_per_s=dr / interval, shared_blks_hit_per_s=dh / interval,
                        shared_blks_read_per_s=dd / interval)
        self._statements = current
        self._statements_names = names
        self._statements_at = now
        if not self._reads_all_stats(facts):
            self._parts["statements"] = PartStatus(
                available=True, reason="statements of other roles are hidden",
                fix=PRIVILEGE_FIX["statements"].format(user=facts["current_user"]))
        return Statements(extension_version=version, entries=entries, interval_s=interval, deltas=deltas)

    # -- replication -----------------------------------------------------------------------------
    async def _read_replication(self, facts: dict[str, Any], major: int,
                                walsenders: bool) -> tuple[Replication, list[ReplicationSlot]]:
        """The replication members, and the server's replication slots (PostgreSQL's section)."""
        slots = [ReplicationSlot(**dict(r)) for r in await self._fetch(sql("replication_slots", major))]
        if facts["is_standby"]:
            rows = await self._fetch(sql("wal_receiver", major))
            return Replication(role="standby", receiver=WalReceiver(**dict(rows[0]))), slots
        standbys = []
        if walsenders:
            standbys = [Standby(**dict(r)) for r in await self._fetch(sql("replication_standbys", major))]
        if not self._reads_all_stats(facts) and any(s.state is None for s in standbys):
            self._parts["replication"] = PartStatus(
                available=True, reason="the standbys' state, positions and lag are hidden",
                fix=PRIVILEGE_FIX["replication"].format(user=facts["current_user"]))
        return Replication(role="primary", standbys=standbys), slots
