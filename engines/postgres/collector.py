"""The PostgreSQL collector: one dedicated, read-only connection and one snapshot per call.

Every query runs under statement_timeout and lock_timeout. A part that times out or lacks a
privilege is marked unavailable with the reason and the fix, the rest of the snapshot still
arrives, and a part that keeps failing is backed off instead of retried on every poll. Slow
facts (settings, sizes, names) are read at a low rate. A lost connection yields a snapshot that
says so; the next call reconnects. Actions run through `plan`/`run` on connections of their own
(runner.py), never this one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import asyncpg

from ...actions.plan import Outcome, Plan, Progress, Scalar
from ...profiles.target import Target, mask_url
from ..backups.inventory import BackupInventory
from ..blocking import build_blocking
from ..parts import CostCounter, PartFailed, Parts
from ..policy import WatchPolicy
from ..snapshot import (
    Activity,
    Backups,
    Blocking,
    ClusterManager,
    counts_as_client,
    Lock,
    PartStatus,
    PatroniCluster,
    PgBackRestStatus,
    PostgresSection,
    Replication,
    ReplicationSlot,
    ServerInfo,
    Session,
    Snapshot,
    Standby,
    Statements,
    Views,
    WalArchiving,
    WalReceiver,
)
from ..errors import ConnectError
from ..redact import redact
from .catalog import read_catalog
from .connect import APPLICATION_NAME, close_connection, open_connection
from .errors import CONNECTION_LOST, explain_error, one_line
from .managers import PatroniUnanswered, detect_manager, read_patroni_cluster
from .queries import sql
from .runner import PostgresActionRunner
from .signatures import HeldSignatures
from .statements import StatementsReader
from .views import ViewsReader

# How often pg_stat_statements is read while the app says no panel showing it is on screen (the
# findings on statements are then up to this old; the Slow queries panel gets a fresh reading as
# soon as it is shown).
STATEMENTS_UNSEEN_EVERY_S = 30.0

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


@dataclass
class Counters:
    values: tuple
    at: float


# The slow parts an action changes, read again at the next snapshot after it ran.
REREAD_AFTER: dict[str, tuple[str, ...]] = {
    "refresh-view": ("views",), "install-refresh-log": ("views",), "uninstall-refresh-log": ("views",),
    "vacuum": ("catalog",), "analyze": ("catalog",), "vacuum-analyze": ("catalog",),
    "drop-index": ("catalog",), "reindex": ("catalog",), "create-index": ("catalog",),
    "backup": ("backups",), "verify-backup": ("backups",), "prune-backups": ("backups",),
    "switchover": ("manager",), "failover": ("manager",), "pause": ("manager",), "resume": ("manager",),
    "promote": ("manager",),
    "pgbackrest-backup": ("backups",), "pgbackrest-verify": ("backups",),
}
# How long a request to a cluster manager's REST API may take before the part says it did not answer.
MANAGER_TIMEOUT_S = 1.0
# The activity statement names its columns as a Session's JSON does (state_s ...): its fields' names.
SESSION_FIELDS = {field.alias: name for name, field in Session.model_fields.items() if field.alias}
# The parts the dashboard's first screen (the overview strip and Connections) does not show, left to
# the poll that follows once that screen is drawn (first_screen_only): pg_stat_statements with every
# query text, the backup inventory and the manager's detection are most of a first poll's time.
AFTER_FIRST_SCREEN = ("statements", "views", "backups", "manager")
NOT_READ_YET = PartStatus(available=False, reason="not read yet: read right after the first screen")


class PostgresCollector:
    """Collects snapshots of one PostgreSQL server. Not safe for concurrent snapshot() calls:
    the caller schedules the next poll when the last one finishes."""

    engine = "postgres"

    def __init__(self, target: Target, *, statement_timeout_ms: int = 2000, lock_timeout_ms: int = 500,
                 facts_every_s: float = 60.0, size_every_s: float = 900.0, backoff_base_s: float = 5.0,
                 policy: WatchPolicy | None = None, views_every_s: float = 30.0, backups_every_s: float = 60.0,
                 catalog_every_s: float = 300.0, catalog_first_after_s: float = 10.0, objects_cap: int = 2000,
                 backups: BackupInventory | None = None, manager_every_s: float = 60.0):
        self.target = target
        self.policy = policy or WatchPolicy()
        self.backups = backups or BackupInventory.from_policy(self.policy, target.label)
        self.every_s = {"views": views_every_s, "backups": backups_every_s, "catalog": catalog_every_s,
                        "manager": manager_every_s}
        self.objects_cap = objects_cap
        self.parts = Parts(self._explain, backoff_base_s=backoff_base_s)
        # The catalog is the costliest part: read it once the dashboard is up, not before the first screen.
        self.parts.postpone("catalog", catalog_first_after_s)
        self._views = ViewsReader(self.policy)
        self._statements = StatementsReader()
        self.actions = PostgresActionRunner(target, self.policy)
        self.statement_timeout_ms = statement_timeout_ms
        self.lock_timeout_ms = lock_timeout_ms
        self.facts_every_s = facts_every_s
        self.size_every_s = size_every_s
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
        self._cost = CostCounter()
        self._focus: frozenset[str] | None = None  # panels on screen; None: not told, read everything
        self._statements_last: tuple[float, Statements | None, PartStatus | None] | None = None
        self._first_screen_only = False
        # The backends of the last poll, by pid: (signature, the Session as read (None: dbtop's own),
        # counted as a client backend, counted with its type hidden).
        self._backends: dict[int, tuple[int, Session | None, bool, bool]] = {}
        self._backend_signed: HeldSignatures[int] = HeldSignatures()  # signature -> pid, of the backends above
        # Of the sessions above, the pids of those waiting on a lock, and of those that are (or, their
        # type hidden, may be) walsenders: kept as the rows come, so a poll need not look at every session.
        self._blocked_pids: set[int] = set()
        self._walsender_pids: set[int] = set()

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
        if conn is not None:
            await close_connection(conn)

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def _fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        assert self._conn is not None
        # A statement asyncpg has not prepared on this connection costs a Parse/Describe round trip.
        self._cost.count(prepared=query in self._prepared)
        self._prepared.add(query)
        try:
            return await self._conn.fetch(query, *args)
        except asyncio.TimeoutError:
            raise PartFailed(f"no answer within {self.statement_timeout_ms / 1000 + 3:g} s (client timeout)") from None

    def reread_after(self, action: str) -> None:
        """Read the slow parts `action` changes again at the next snapshot (REREAD_AFTER). The app
        asks again once it has journaled the action: pgBackRest's verifications are read back from
        the journal, so a snapshot taken between the run and its journal line would miss one."""
        for part in REREAD_AFTER.get(action, ()):
            self.parts.postpone(part, 0)

    def focus(self, panels: frozenset[str]) -> bool:
        """The app's hint of the panels on screen (see engines/base.py). True when pg_stat_statements,
        read at the low rate while its panel was hidden, is due now that it is shown."""
        panels = frozenset(panels)
        shown_now = "statements" in panels and self._focus is not None and "statements" not in self._focus
        self._focus = panels
        return shown_now

    def first_screen_only(self) -> bool:
        """The dashboard's hint (see engines/base.py): the next snapshot reads only what the first
        screen shows, and marks the parts in AFTER_FIRST_SCREEN as not read yet."""
        self._first_screen_only = True
        return True

    async def _statements_part(self, facts: dict[str, Any]) -> Statements | None:
        """pg_stat_statements is the costliest read of a poll (thousands of rows): while the app says
        no panel showing it is on screen, it is read every STATEMENTS_UNSEEN_EVERY_S and the last
        reading (and its status) is carried on in between."""
        now = time.monotonic()
        last = self._statements_last
        unseen = self._focus is not None and "statements" not in self._focus
        if unseen and last is not None and now - last[0] < STATEMENTS_UNSEEN_EVERY_S:
            if last[2] is not None:
                self.parts.status["statements"] = last[2]
            return last[1]
        statements = await self.parts.read("statements", lambda: self._read_statements(facts))
        self._statements_last = (now, statements, self.parts.status.get("statements"))
        return statements

    # -- the snapshot ----------------------------------------------------------------------------
    async def snapshot(self) -> Snapshot:
        """One snapshot. Never raises for anything the server does: a failure is in the snapshot."""
        self._cost.begin()
        self._sequence += 1
        self.parts.begin()
        first_screen_only, self._first_screen_only = self._first_screen_only, False
        if not self.connected:
            try:
                await self.connect()
            except ConnectError as exc:
                return self._unreachable(str(exc))
        try:
            return await self._collect(first_screen_only)
        except CONNECTION_LOST as exc:
            return self._drop_connection(f"connection to {self.target.label} lost", exc)
        except Exception as exc:  # noqa: BLE001 - a monitor reports its own faults, it does not die of them
            return self._drop_connection("unexpected error while collecting; reconnecting", exc)

    def _drop_connection(self, what: str, exc: BaseException) -> Snapshot:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()
        detail = mask_url(one_line(str(exc))) or type(exc).__name__
        return self._unreachable(f"{what}: {detail}")

    def _unreachable(self, error: str) -> Snapshot:
        return Snapshot(sequence=self._sequence, taken_at=datetime.now(timezone.utc), target=self.target.label,
                        engine="postgres", reachable=False, error=redact(error))

    async def _collect(self, first_screen_only: bool = False) -> Snapshot:
        assert self._conn is not None
        major = self._conn.get_server_version().major
        if self._facts is None or time.monotonic() - self._facts_at >= self.facts_every_s:
            await self.parts.read("server", self._read_facts)
        facts = self._facts

        sessions_rows = await self.parts.read(
            "sessions", lambda: self._fetch(sql("activity", major), self._backend_signed.array_literal()))
        # The server-wide counters come on every row of the sessions' statement (a round trip fewer
        # per poll): the two parts are read, or fail, together.
        self.parts.status["activity"] = self.parts.status["sessions"] if sessions_rows is None else PartStatus()
        activity_row = sessions_rows[:1] if sessions_rows else None
        if facts is not None and activity_row and activity_row[0]["in_recovery"] != facts["is_standby"]:
            await self.parts.read("server", self._read_facts)  # promoted or demoted since the facts were read
            facts = self._facts

        sessions: list[Session] = []
        connections_used = connections_hidden = clock_s = None
        if sessions_rows is not None:
            clock_s = sessions_rows[0]["now_s"]
            sessions, connections_used, connections_hidden = self._sessions(sessions_rows)
            if facts is not None and not self._reads_all_stats(facts):
                hidden = sum(1 for s in sessions if s.hidden)
                self.parts.status["sessions"] = PartStatus(
                    available=True,
                    reason=f"other roles' state, query text and client are hidden ({hidden} processes; "
                           "connections counted by user and database)",
                    fix=PRIVILEGE_FIX["sessions"].format(user=facts["current_user"]))

        blocking = Blocking()
        if self._blocked_pids and sessions_rows is not None:
            backends = self._backends
            blocked = [backends[pid][1] for pid in sorted(self._blocked_pids)]  # not a pass over every session
            involved = {s.pid for s in blocked} | {p for s in blocked for p in s.blocked_by}
            lock_rows = await self.parts.read("locks", lambda: self._fetch(sql("locks", major), sorted(involved)))
            locks = [Lock(**dict(r)) for r in lock_rows or []]
            blocking = build_blocking(blocked, locks, clock_s)  # the graph is made of the blocked sessions alone

        if facts is None:
            reason = f"needs the server facts, which could not be read ({self.parts.status['server'].reason})"
            for name in ("statements", "replication"):
                self.parts.status[name] = PartStatus(available=False, reason=reason, fix=self.parts.status["server"].fix)
            section = PostgresSection.model_construct(
                activity=self._activity_rates(activity_row[0]) if activity_row else None)
            return self._snapshot(None, (connections_used, connections_hidden), clock_s, sessions, blocking, None,
                                  None, section)
        statements = None if first_screen_only else await self._statements_part(facts)
        # pg_stat_replication scans every backend: only worth asking when a walsender exists (or may:
        # a session whose type is hidden can be one).
        walsenders = sessions_rows is None or bool(self._walsender_pids)
        replication = await self.parts.read("replication", lambda: self._read_replication(facts, major, walsenders))
        if time.monotonic() >= self._size_due:
            await self.parts.read("database_size", self._read_database_size)
            self._size_due = time.monotonic() + self.size_every_s
        every_s = self.every_s
        if first_screen_only:
            views = backups = archiving = pgbackrest = manager = None
            for name in AFTER_FIRST_SCREEN:
                self.parts.status[name] = NOT_READ_YET
        else:
            views = await self.parts.read_every("views", every_s["views"], self._read_views)
            backups, archiving, pgbackrest = await self.parts.read_every(
                "backups", every_s["backups"], lambda: self._read_backups(major)) or (None, None, None)
            manager = await self._manager_part()
        catalog = await self.parts.read_every("catalog", every_s["catalog"],
                                              lambda: read_catalog(self._fetch, major, objects_cap=self.objects_cap))
        slots = replication[1] if replication else []
        section = PostgresSection.model_construct(
            activity=self._activity_rates(activity_row[0]) if activity_row else None, catalog=catalog, slots=slots,
            archiving=archiving, pgbackrest=pgbackrest, manager=manager)
        return self._snapshot(self._server_info(facts), (connections_used, connections_hidden), clock_s, sessions,
                              blocking, statements, replication[0] if replication else None, section, views, backups)

    async def _manager_part(self) -> ClusterManager | None:
        """Who manages the cluster, read at a low rate (it rarely changes); for Patroni, the cluster as
        Patroni sees it (`GET /cluster`) on every poll but the one that just read it."""
        manager = await self.parts.read_every("manager", self.every_s["manager"], self._read_manager)
        if manager is None or manager.kind != "patroni" or manager.api_url is None:
            return manager
        known = manager.patroni_cluster
        if known is not None and (datetime.now(timezone.utc) - known.read_at).total_seconds() < 0.5:
            return manager
        cluster = await self.parts.read("patroni", lambda: self._read_patroni(manager))
        return manager.model_copy(update={"patroni_cluster": cluster})

    async def _read_manager(self) -> ClusterManager:
        assert self._conn is not None
        self._cost.count(prepared=False)
        return await detect_manager(self._conn, host=self.target.hosts[0] if self.target.hosts else None,
                                    patroni_url=self.policy.patroni_url, timeout_s=MANAGER_TIMEOUT_S,
                                    target=self.policy.profile or self.target.label)

    async def _read_patroni(self, manager: ClusterManager) -> PatroniCluster:
        cluster = manager.patroni_cluster
        try:
            return await read_patroni_cluster(manager.api_url, timeout_s=MANAGER_TIMEOUT_S,
                                              version=cluster.version if cluster else None,
                                              scope=cluster.scope if cluster else None)
        except PatroniUnanswered as exc:
            raise PartFailed(str(exc), "check that Patroni runs and its REST API is reachable from here "
                                       "(the profile's patroni_url)") from None

    async def _read_views(self) -> Views:
        views = await self._views.read(self._fetch)
        if self._views.refresh_log_note:
            self.parts.status["views"] = PartStatus(available=True, reason=self._views.refresh_log_note)
        return views

    async def _read_backups(self, major: int) -> tuple[Backups, WalArchiving, PgBackRestStatus]:
        archiving = WalArchiving(**dict((await self._fetch(sql("archiver", major)))[0]))
        backups, pgbackrest = await self.backups.read()
        return backups, archiving, pgbackrest

    def _snapshot(self, server, connections, clock_s, sessions, blocking, statements, replication,
                  section: PostgresSection, views=None, backups=None) -> Snapshot:
        """`connections`: (client backends counted, how many of them by their user and database alone);
        `clock_s`: the server's clock when the sessions were read.

        The snapshot and its PostgreSQL section are put together from parts already of their types,
        without validation: validating them first builds the validators of every model they can hold
        (the catalog's, MongoDB's: ~20 ms of the first screen), and each poll again walks what it holds."""
        finished = time.monotonic()
        interval = finished - self._last_ok_at if self._last_ok_at is not None else None
        self._last_ok_at = finished
        return Snapshot.model_construct(
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
            server_clock_s=clock_s,
            blocking=blocking,
            statements=statements or Statements(),
            replication=replication,
            views=views,
            backups=backups,
            postgres=section,
            parts=dict(self.parts.status),
            cost=self._cost.cost(finished),
        )

    @staticmethod
    def _reads_all_stats(facts: dict[str, Any]) -> bool:
        return bool(facts["is_superuser"]) or "pg_read_all_stats" in facts["monitoring_roles"]

    def _explain(self, name: str, exc: BaseException) -> PartFailed | None:
        user = (self._facts or {}).get("current_user", self.target.user)
        return explain_error(exc, privilege_fix=PRIVILEGE_FIX.get(name, "GRANT pg_monitor TO {user}").format(user=user),
                             statement_timeout_ms=self.statement_timeout_ms, lock_timeout_ms=self.lock_timeout_ms)

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
        settings = await self.parts.read("settings", lambda: self._fetch(sql("settings", major), SETTINGS_READ))
        if settings is not None:
            self._settings = {r["name"]: redact(r["value"]) for r in settings}
        names = await self.parts.read("names", lambda: self._fetch(sql("names", major)))
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
        it takes a slot), and how many of those were counted with their type hidden.

        `rows` are the backends that changed since the last poll (activity@14.sql); the others are
        carried over from the last poll as they were: their durations, read then, move on by the
        server's clock (Session.read_at_s, Snapshot.server_clock_s)."""
        try:
            self._carry_backends(rows)
        except BaseException:
            # read every backend again next time
            self._backends, self._backend_signed = {}, HeldSignatures()
            self._blocked_pids, self._walsender_pids = set(), set()
            raise
        sessions = []
        append = sessions.append
        used = hidden_count = 0
        for _, session, counted, hidden in self._backends.values():
            used += counted
            hidden_count += hidden
            if session is not None:
                append(session)
        return sessions, used, hidden_count

    def _carry_backends(self, rows: list[asyncpg.Record]) -> None:
        """Update the backends held from the last poll with the rows of those that changed."""
        now_s = rows[0][0]
        columns = tuple(rows[0].keys())
        first = columns.index("pid")
        # a Session's, after now_s and the counters, before (signature, gone)
        fields = tuple(SESSION_FIELDS.get(name, name) for name in columns[first:-2])
        signed = self._backend_signed
        gone_signatures = [r[-1] for r in rows if r[-1] is not None]
        gone = {signed.pop(signature) for signature in gone_signatures}
        current = self._backends
        blocked_pids, walsender_pids = self._blocked_pids, self._walsender_pids
        build = Session.from_trusted
        own = self._own_pids
        for r in rows:
            pid = r[first]
            if pid is None:  # the row that only carries now_s and the counters, or a signature gone
                continue
            row = dict(zip(fields, r[first:-2]))
            row["read_at_s"] = now_s
            query = row["query"]
            if query:
                row["query"] = redact(query)
            backend_type = row["backend_type"]
            counted = counts_as_client(backend_type, row["user"], row["database"])
            hidden = counted and backend_type is None  # hidden from this role (Session.hidden)
            # Decided on the row, so that dbtop's own session is never built into a model.
            mine = counted and not hidden and pid in own and row["application"] == APPLICATION_NAME
            current[pid] = (r[-2], None if mine else build(row), counted, hidden)
            signed[r[-2]] = pid
            gone.discard(pid)
            if row["blocked_by"] and not mine:
                blocked_pids.add(pid)
            else:
                blocked_pids.discard(pid)
            if backend_type is None or backend_type == "walsender":  # a hidden type may be a walsender
                walsender_pids.add(pid)
            else:
                walsender_pids.discard(pid)
        for pid in gone:
            del current[pid]
            blocked_pids.discard(pid)
            walsender_pids.discard(pid)

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
            deadlocks_in_interval=d["deadlocks"],
            transactions_per_s=(d["xact_commit"] + d["xact_rollback"]) / interval,
            cache_hit_ratio=d["blks_hit"] / blocks if blocks else None,
            tuples_read_per_s=(d["tup_returned"] + d["tup_fetched"]) / interval,
            tuples_written_per_s=(d["tup_inserted"] + d["tup_updated"] + d["tup_deleted"]) / interval,
        )

    # -- pg_stat_statements ----------------------------------------------------------------------
    async def _read_statements(self, facts: dict[str, Any]) -> Statements:
        statements = await self._statements.read(
            self._fetch, version=facts["statements_version"], database=facts["database"],
            preload_libraries=self._settings.get("shared_preload_libraries"), names=self._names)
        if not self._reads_all_stats(facts):
            self.parts.status["statements"] = PartStatus(
                available=True, reason="statements of other roles are hidden",
                fix=PRIVILEGE_FIX["statements"].format(user=facts["current_user"]))
        return statements

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
            self.parts.status["replication"] = PartStatus(
                available=True, reason="the standbys' state, positions and lag are hidden",
                fix=PRIVILEGE_FIX["replication"].format(user=facts["current_user"]))
        return Replication(role="primary", standbys=standbys), slots

    # -- actions, on connections of their own ----------------------------------------------------
    async def plan(self, action: str, **params: Scalar) -> Plan:
        return await self.actions.plan(action, **params)

    async def run(self, plan: Plan, progress: Progress | None = None) -> Outcome:
        outcome = await self.actions.run(plan, progress)
        if outcome.status in ("done", "failed", "cancelled"):
            # the next snapshot shows the effect: the slow parts the action changed are read again
            self.reread_after(plan.action)
        return outcome
