"""Snapshots built in code, and a collector that replays them: rules, panels and the app are tested
without a server.

The builders below are the one place that knows how a snapshot is assembled from the models of
`dbtop.engines.snapshot`. Tests build snapshots through them, never by calling the models, so when
the model changes shape (an engine-neutral core plus engine sections) only this file changes. Each
builder has realistic defaults and takes keyword overrides (any field of what it builds), so a
test states only what it cares about:

    snap = snapshot(sessions=[idle_in_transaction(101, 900)], server=server(max_connections=20))

Times: every built time is relative to NOW, fixed when this module is imported, and a snapshot is
taken at NOW unless told otherwise, so `backup(age_s=3600)` is exactly an hour old to the rules
and the panels.

`healthy()` is a whole snapshot on which no rule fires; `unreachable()` is a failed poll.
`FakeCollector` replays built snapshots through the collector protocol, so `DbtopApp` runs in
`App.run_test()` fed by the real SnapshotPoller (see `fake_dashboard`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from dbtop.engines import snapshot as model
from dbtop.engines.blocking import build_blocking
from dbtop.engines.errors import ConnectError
from dbtop.engines.policy import WatchPolicy
from dbtop.profiles.target import Target

NOW = datetime.now(timezone.utc).replace(microsecond=0)
HOUR = 3600.0
DAY = 24 * HOUR
MIB = 1024 * 1024
TARGET = Target(hosts=["db1.example"], ports=[5432], user="ops", database="app")

# The newest PostgreSQL release the findings' version table knows: no version finding on it.
HEALTHY_MAJOR = 17

# Settings on which no settings rule fires; `server(settings=…)` changes only the keys it names.
HEALTHY_SETTINGS = {
    "idle_in_transaction_session_timeout": "300000",
    "log_min_duration_statement": "1000",
    "ssl": "on",
    "password_encryption": "scram-sha-256",
    "autovacuum": "on",
    "archive_mode": "on",
}


def ago(seconds: float | None) -> datetime | None:
    """The time `seconds` before NOW (None stays None)."""
    return None if seconds is None else NOW - timedelta(seconds=seconds)


def _with(defaults: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    return {**defaults, **overrides}


# -- server and sessions -------------------------------------------------------------------------

def healthy_version() -> tuple[str, int]:
    """(version, version_num) of the newest minor of HEALTHY_MAJOR in the findings' version table."""
    from dbtop.findings.rules.technology import postgres_versions

    minor = postgres_versions()["versions"][str(HEALTHY_MAJOR)]["newest_minor"]
    return f"{HEALTHY_MAJOR}.{minor}", HEALTHY_MAJOR * 10000 + minor


def server(*, settings: Mapping[str, str] | None = None, version_num: int | None = None, **overrides) -> model.ServerInfo:
    """A primary's facts. `settings` are merged over HEALTHY_SETTINGS; `version_num` alone also sets
    `version` (150004 -> "15.4")."""
    version, number = healthy_version()
    if version_num is not None:
        number, version = version_num, f"{version_num // 10000}.{version_num % 10000}"
    return model.ServerInfo(**_with(dict(
        engine="postgres", version=version, version_num=number, started_at=ago(30 * DAY), uptime_s=30 * DAY,
        is_standby=False, max_connections=100, reserved_connections=3, database="app", current_user="ops",
        monitoring_roles=["pg_monitor"], settings={**HEALTHY_SETTINGS, **(settings or {})}, facts_read_at=NOW,
    ), overrides))


def session(pid: int, state: str | None = "active", *, for_s: float = 0.05, **overrides) -> model.Session:
    """A client session that has been in `state` for `for_s` seconds: its query started then, and so
    did its transaction unless it is idle."""
    in_transaction = state not in (None, "idle")
    return model.Session(**_with(dict(
        pid=pid, user="app", database="app", application="api", client=f"10.0.0.{pid % 250}:5{pid % 10000:04d}",
        backend_type="client backend", state=state, wait_event_type=None if state == "active" else "Client",
        wait_event=None if state == "active" else "ClientRead", backend_start=ago(HOUR),
        xact_start=ago(for_s) if in_transaction else None, query_start=ago(for_s), state_s=for_s,
        xact_s=for_s if in_transaction else None, query_s=for_s, query_id=pid,
        query="SELECT id, total FROM orders WHERE customer_id = $1",
    ), overrides))


def idle(pid: int, for_s: float = 30.0, **overrides) -> model.Session:
    return session(pid, "idle", for_s=for_s, **overrides)


def idle_in_transaction(pid: int, for_s: float, **overrides) -> model.Session:
    return session(pid, "idle in transaction", for_s=for_s,
                   **_with(dict(query="UPDATE orders SET status = 'paid' WHERE id = $1"), overrides))


def running(pid: int, for_s: float, **overrides) -> model.Session:
    """An active query running for `for_s` seconds."""
    return session(pid, "active", for_s=for_s, **_with(dict(query="SELECT count(*) FROM events"), overrides))


def blocked(pid: int, by: int | Iterable[int], wait_s: float, **overrides) -> model.Session:
    """A session waiting `wait_s` seconds for a row lock held by `by`."""
    blockers = [by] if isinstance(by, int) else list(by)
    return session(pid, "active", for_s=wait_s, **_with(dict(
        wait_event_type="Lock", wait_event="transactionid", blocked_by=blockers,
        query="UPDATE orders SET status = 'shipped' WHERE id = $1"), overrides))


def background(pid: int, backend_type: str = "autovacuum worker", **overrides) -> model.Session:
    """A server process that is not a client (autovacuum, walsender, …)."""
    return session(pid, "active", for_s=HOUR, **_with(dict(
        backend_type=backend_type, user=None, application=None, client=None,
        query="autovacuum: VACUUM public.orders"), overrides))


def lock_chain(holder: int, *waiters: int, wait_s: float = 45.0, holder_idle_s: float | None = None) -> list[model.Session]:
    """A holder idle in transaction and sessions queued behind it, each waiting for the one before:
    `lock_chain(100, 101, 102)` is 100 <- 101 <- 102. The snapshot builds the blocking tree."""
    chain = [idle_in_transaction(holder, holder_idle_s if holder_idle_s is not None else wait_s + 5,
                                 application="billing")]
    previous = holder
    for pid in waiters:
        chain.append(blocked(pid, previous, wait_s))
        previous = pid
    return chain


def lock(pid: int, mode: str = "RowExclusiveLock", *, granted: bool = True, relation: str | None = "public.orders",
         locktype: str = "relation", wait_s: float | None = None) -> model.Lock:
    return model.Lock(pid=pid, locktype=locktype, mode=mode, granted=granted, relation=relation, wait_s=wait_s)


def blocking(sessions: Iterable[model.Session], locks: Iterable[model.Lock] = ()) -> model.Blocking:
    """The blocking tree of these sessions, built as the engine builds it."""
    return build_blocking(list(sessions), list(locks))


# -- statements and activity ---------------------------------------------------------------------

def statement(query_id: int, query: str | None = "SELECT * FROM orders WHERE id = $1", *, calls: int = 1000,
              mean_time_ms: float = 0.5, **overrides) -> model.Statement:
    """A pg_stat_statements entry; total time is calls x mean unless given."""
    values = _with(dict(
        key=f"{query_id}:10:16384:t", query_id=query_id, user_id=10, database_id=16384, user="app",
        database="app", toplevel=True, from_dbtop=False, query=query, calls=calls,
        total_time_ms=calls * mean_time_ms, mean_time_ms=mean_time_ms, rows=calls,
        shared_blks_hit=calls * 10, shared_blks_read=calls // 100,
    ), overrides)
    return model.Statement(**values)


def delta(calls: int, total_time_ms: float, *, interval_s: float = 2.0, rows: int | None = None,
          shared_blks_hit: int | None = None, shared_blks_read: int = 0) -> model.StatementDelta:
    """What a statement did in the last interval; the per-second rates follow."""
    rows = calls if rows is None else rows
    hit = calls * 10 if shared_blks_hit is None else shared_blks_hit
    return model.StatementDelta(
        interval_s=interval_s, calls=calls, total_time_ms=total_time_ms, rows=rows, shared_blks_hit=hit,
        shared_blks_read=shared_blks_read, calls_per_s=calls / interval_s, time_ms_per_s=total_time_ms / interval_s,
        rows_per_s=rows / interval_s, shared_blks_hit_per_s=hit / interval_s,
        shared_blks_read_per_s=shared_blks_read / interval_s)


def statements(*entries: model.Statement, ran: Mapping[int, model.StatementDelta] | None = None,
               interval_s: float | None = None, **overrides) -> model.Statements:
    """The tracked statements; `ran` maps a query_id to what it did in the last interval. With `ran`,
    the interval defaults to that of its deltas; without, this is a first reading (no interval)."""
    by_id = {s.query_id: s for s in entries}
    deltas = {by_id[query_id].key: d for query_id, d in (ran or {}).items()}
    if interval_s is None and deltas:
        interval_s = next(iter(deltas.values())).interval_s
    return model.Statements(**_with(dict(extension_version="1.10", entries=list(entries), interval_s=interval_s,
                                         deltas=deltas), overrides))


def activity(**overrides) -> model.Activity:
    """pg_stat_database counters with a 99.9% hit ratio and their rates."""
    return model.Activity(**_with(dict(
        xact_commit=5_000_000, xact_rollback=1200, blks_hit=999_000_000, blks_read=1_000_000,
        tup_returned=80_000_000, tup_fetched=20_000_000, tup_inserted=500_000, tup_updated=300_000,
        tup_deleted=10_000, deadlocks=0, temp_bytes=0, interval_s=2.0, commits_per_s=240.0, rollbacks_per_s=0.5,
        transactions_per_s=240.5, cache_hit_ratio=0.999, tuples_written_per_s=400.0, tuples_read_per_s=9000.0,
    ), overrides))


def unavailable(reason: str, fix: str | None = None, **overrides) -> model.PartStatus:
    """A part of the snapshot that could not be collected, and why."""
    return model.PartStatus(**_with(dict(available=False, reason=reason, fix=fix), overrides))


# -- replication ---------------------------------------------------------------------------------

def standby(pid: int = 4000, application: str = "replica1", *, replay_lag_s: float | None = 0.2,
            **overrides) -> model.Standby:
    """A standby streaming from this primary."""
    return model.Standby(**_with(dict(
        pid=pid, application=application, client="10.0.1.2:40112", state="streaming", sync_state="async",
        sent_lsn="3/5A000060", write_lsn="3/5A000060", flush_lsn="3/5A000060", replay_lsn="3/59FFF000",
        write_lag_s=0.01, flush_lag_s=0.02, replay_lag_s=replay_lag_s, replay_lag_bytes=4096,
    ), overrides))


def slot(name: str = "replica1", *, active: bool = True, retained_wal_bytes: int | None = 16 * MIB,
         **overrides) -> model.ReplicationSlot:
    return model.ReplicationSlot(**_with(dict(
        name=name, slot_type="physical", database=None, active=active, active_pid=4000 if active else None,
        retained_wal_bytes=retained_wal_bytes, wal_status="reserved",
    ), overrides))


def wal_receiver(**overrides) -> model.WalReceiver:
    """A standby's view of its upstream."""
    return model.WalReceiver(**_with(dict(
        status="streaming", sender="db1.example:5432", received_lsn="3/5A000060", replayed_lsn="3/59FFF000",
        last_message_at=ago(1), replay_paused=False, replay_lag_s=0.3, replay_lag_bytes=4096,
        last_replayed_xact_at=ago(1),
    ), overrides))


_DEFAULT = object()


def replication(role: str = "primary", *, standbys: Any = _DEFAULT, receiver: Any = _DEFAULT) -> model.Replication:
    """A primary with one streaming standby by default (`standbys=[]` for none); a standby
    (`role="standby"`) with a streaming receiver. Slots are PostgreSQL's: `snapshot(slots=…)`."""
    if standbys is _DEFAULT:
        standbys = [standby()] if role == "primary" else []
    if receiver is _DEFAULT:
        receiver = wal_receiver() if role == "standby" else None
    return model.Replication(role=role, standbys=list(standbys), receiver=receiver)


def patroni_member(name: str = "node1", role: str = "leader", *, state: str | None = None, timeline: int = 3,
                   lag_bytes: int | None = 0, **overrides) -> model.PatroniMember:
    """A member as Patroni's GET /cluster lists it (3.x words: a streaming replica is "running")."""
    number = int(name[-1]) if name[-1].isdigit() else 1
    return model.PatroniMember(**_with(dict(
        name=name, role=role, state=state or "running", host="10.0.1.%d" % number, port=5432,
        api_url=f"http://10.0.1.{number}:8008/patroni", timeline=timeline,
        lag_bytes=None if role == "leader" else lag_bytes, pending_restart=False,
    ), overrides))


def patroni_manager(member: str = "node1", *, members: Any = _DEFAULT, paused: bool = False,
                    **overrides) -> model.ClusterManager:
    """A cluster Patroni manages, seen from `member`: node1 leads, node2 streams from it by default."""
    if members is _DEFAULT:
        members = [patroni_member("node1"), patroni_member("node2", "replica")]
    cluster = model.PatroniCluster(read_at=NOW, members=list(members), paused=paused, scope="prod-ha",
                                   version="3.0.2")
    return model.ClusterManager(**_with(dict(
        kind="patroni", evidence=("GET http://10.0.1.1:8008/patroni answered",), api_url="http://10.0.1.1:8008",
        member=member, patroni_cluster=cluster, read_at=NOW,
        promote_instead="dbtop act switchover prod --candidate node2"), overrides))


# -- materialized views --------------------------------------------------------------------------

def matview(name: str = "daily_sales", schema: str = "analytics", *, age_s: float | None = 600.0,
            threshold_s: float = 4 * HOUR, source: str = "refresh_log", populated: bool = True,
            unique_index: bool = True, **overrides) -> model.MaterializedView:
    """A materialized view last refreshed `age_s` ago, as `source` tells. Staleness follows as the
    engine decides it: exact sources say stale or fresh; a file time (a lower bound) says fresh or
    not known; no source says not known."""
    at = ago(age_s) if populated and source != "unknown" else None
    if at is None:
        stale = None
    elif source == "file_time":
        stale = False if age_s <= threshold_s else None
    else:
        stale = age_s > threshold_s
    refresh = model.ViewRefresh(source=source if at is not None else "unknown", at=at,
                                duration_s=4.2 if source in ("refresh_log", "dbtop_action") else None,
                                role="etl" if source == "refresh_log" else None,
                                concurrently=unique_index if source == "refresh_log" else None)
    return model.MaterializedView(**_with(dict(
        schema_name=schema, name=name, owner="etl", size_bytes=48 * MIB if populated else 8192,
        rows_estimate=120_000 if populated else 0, populated=populated, unique_index=unique_index,
        last_refresh=refresh, threshold_s=threshold_s, age_s=age_s if at is not None else None, stale=stale,
    ), overrides))


def views(*items: model.MaterializedView, **overrides) -> model.Views:
    return model.Views(**_with(dict(read_at=NOW, refresh_log_installed=True, file_times_readable=True,
                                    views=list(items)), overrides))


# -- backups -------------------------------------------------------------------------------------

def backup(name: str = "app-nightly.dump", status: str = "verified", *, age_s: float = 6 * HOUR,
           origin: str = "dbtop", **overrides) -> model.BackupEntry:
    """A backup finished `age_s` ago (verified a minute later when its status says so)."""
    verified = status == "verified"
    return model.BackupEntry(**_with(dict(
        origin=origin, name=name, path=f"/var/backups/postgresql/{name}", status=status,
        format="custom" if origin != "pgbackrest" else None, database="app", server_version=healthy_version()[0],
        tool_version="pg_dump 17", started_at=ago(age_s + 300), finished_at=ago(age_s), file_time=ago(age_s),
        size_bytes=512 * MIB, sha256="ab" * 32 if origin == "dbtop" else None,
        verified_at=ago(age_s - 60) if verified else None,
        verification_detail="pg_restore --list: 214 entries" if verified else None,
    ), overrides))


def archiving(**overrides) -> model.WalArchiving:
    """WAL archiving on and working: the last segment archived a minute ago, no failure."""
    return model.WalArchiving(**_with(dict(
        archive_mode="on", archive_command_set=True, archived_count=12_000, last_archived_wal="000000010000000300000059",
        last_archived_at=ago(60), failed_count=0, stats_reset=ago(30 * DAY),
    ), overrides))


def backups(*entries: model.BackupEntry, rpo_s: float = DAY, **overrides) -> model.Backups:
    """The inventory; the newest verified backup and the recovery point age follow from `entries`.
    WAL archiving and pgBackRest are PostgreSQL's: `snapshot(archiving=…)`."""
    verified = [e.taken_at for e in entries if e.status == "verified" and e.taken_at is not None]
    newest = max(verified, default=None)
    return model.Backups(**_with(dict(
        read_at=NOW, directory="/var/backups/postgresql", entries=list(entries), rpo_s=rpo_s,
        retention_s=7 * DAY, retention_keep=3,
        newest_verified_at=newest, recovery_point_age_s=(NOW - newest).total_seconds() if newest else None,
    ), overrides))


# -- the catalog ---------------------------------------------------------------------------------

def table(name: str = "orders", schema: str = "public", **overrides) -> model.TableFacts:
    """A vacuumed, analyzed table with a primary key, mostly read through its index."""
    return model.TableFacts(**_with(dict(
        schema_name=schema, name=name, size_bytes=64 * MIB, live_rows=250_000, dead_rows=1_000,
        seq_scan=10, seq_tup_read=2_500_000, idx_scan=900_000, last_vacuum=None, last_autovacuum=ago(2 * HOUR),
        last_analyze=None, last_autoanalyze=ago(2 * HOUR), autovacuum_enabled=True, unlogged=False,
        has_primary_key=True, index_count=2, rows_inserted=250_000, rows_updated=20_000, rows_deleted=1_000,
        rows_hot_updated=18_000, modified_since_analyze=500, inserted_since_vacuum=100, fillfactor=100,
        xid_age=50_000_000, mxid_age=1_000, toast_xid_age=None, toast_mxid_age=None,
    ), overrides))


def index(name: str, table_name: str = "orders", columns: Iterable[int] = (1,), *, schema: str = "public",
          unique: bool = False, primary: bool = False, valid: bool = True, scans: int | None = 5000,
          size_bytes: int = 8 * MIB, **overrides) -> model.IndexFacts:
    """An index on attribute numbers `columns` (0 for an expression)."""
    columns = list(columns)
    kind = "UNIQUE INDEX" if unique or primary else "INDEX"
    definition = f"CREATE {kind} {name} ON {schema}.{table_name} USING btree ({', '.join(f'c{c}' for c in columns)})"
    return model.IndexFacts(**_with(dict(
        schema_name=schema, table=table_name, name=name, definition=definition, method="btree", key_columns=columns,
        predicate=None, has_expressions=0 in columns, is_unique=unique or primary, is_primary=primary, is_valid=valid,
        constraint=f"{table_name}_pkey" if primary else None, scans=scans, size_bytes=size_bytes,
    ), overrides))


def table_bloat(table_name: str = "orders", *, size_bytes: int = 64 * MIB, expected_bytes: int | None = 56 * MIB,
                schema: str = "public", **overrides) -> model.TableBloat:
    return model.TableBloat(**_with(dict(
        schema_name=schema, table=table_name, size_bytes=size_bytes, estimated_rows=250_000, fillfactor=100,
        expected_bytes=expected_bytes,
    ), overrides))


def foreign_key(name: str, table_name: str, columns: Iterable[str], referenced_table: str, *,
                on_delete: str = "NO ACTION", has_supporting_index: bool = True, schema: str = "public",
                **overrides) -> model.ForeignKeyFacts:
    columns = list(columns)
    return model.ForeignKeyFacts(**_with(dict(
        schema_name=schema, table=table_name, name=name, columns=columns,
        column_numbers=list(range(2, 2 + len(columns))), referenced_schema=schema, referenced_table=referenced_table,
        on_delete=on_delete, validated=True, has_supporting_index=has_supporting_index,
    ), overrides))


def not_valid_constraint(name: str, table_name: str = "orders", *, kind: str = "c",
                         definition: str = "CHECK ((total >= 0)) NOT VALID", schema: str = "public") -> model.ConstraintFacts:
    return model.ConstraintFacts(schema_name=schema, table=table_name, name=name, kind=kind, definition=definition)


SEQUENCE_MAX = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}


def sequence(name: str = "orders_id_seq", last_value: int | None = 250_000, *, data_type: str = "bigint",
             schema: str = "public", **overrides) -> model.SequenceFacts:
    return model.SequenceFacts(**_with(dict(
        schema_name=schema, name=name, data_type=data_type, last_value=last_value, max_value=SEQUENCE_MAX[data_type],
        increment=1,
    ), overrides))


def database_age(name: str = "app", xid_age: int = 50_000_000, mxid_age: int | None = 1000) -> model.DatabaseAge:
    return model.DatabaseAge(name=name, xid_age=xid_age, mxid_age=mxid_age)


def disabled_trigger(name: str, table_name: str = "orders", schema: str = "public") -> model.TriggerFacts:
    return model.TriggerFacts(schema_name=schema, table=table_name, name=name)


def role(name: str, *, superuser: bool = False, can_login: bool = True) -> model.RoleFacts:
    return model.RoleFacts(name=name, superuser=superuser, can_login=can_login)


def hba_rule(line_number: int, auth_method: str = "scram-sha-256", *, type: str = "host",
             address: str | None = "10.0.0.0", netmask: str | None = "255.255.0.0", **overrides) -> model.HbaRule:
    return model.HbaRule(**_with(dict(
        line_number=line_number, type=type, database=["all"], user_name=["all"],
        address=None if type == "local" else address, netmask=None if type == "local" else netmask,
        auth_method=auth_method, error=None,
    ), overrides))


def insecure_connection(pid: int, client: str = "10.0.3.7", **overrides) -> model.InsecureConnection:
    return model.InsecureConnection(**_with(dict(pid=pid, user="app", client=client, application="api"), overrides))


def index_bloat(name: str = "orders_pkey", table_name: str = "orders", *, size_bytes: int = 16 * MIB,
                expected_bytes: int | None = 12 * MIB, schema: str = "public", **overrides) -> model.IndexBloat:
    return model.IndexBloat(**_with(dict(
        schema_name=schema, table=table_name, name=name, size_bytes=size_bytes, estimated_rows=250_000,
        fillfactor=90, expected_bytes=expected_bytes,
    ), overrides))


def definer_function(name: str = "grant_credit", schema: str = "public", **overrides) -> model.DefinerFunction:
    return model.DefinerFunction(**_with(dict(schema_name=schema, name=name, arguments="integer", owner="postgres"),
                                         overrides))


def unenforced_policies(table_name: str = "accounts", policies: int = 1, schema: str = "public") -> model.UnenforcedPolicies:
    return model.UnenforcedPolicies(schema_name=schema, table=table_name, policies=policies)


def partitioned_table(name: str = "events", *, strategy: str = "r", upper_bounds: Iterable[str] | None = None,
                      default_partition: str | None = None, default_rows: int | None = None, schema: str = "public",
                      **overrides) -> model.PartitionedTable:
    """A range-partitioned table with monthly partitions up to 90 days from NOW unless told."""
    if upper_bounds is None and strategy == "r":
        upper_bounds = [f"'{(NOW + timedelta(days=d)).date()}'" for d in (30, 60, 90)]
    bounds = list(upper_bounds) if upper_bounds is not None else None
    return model.PartitionedTable(**_with(dict(
        schema_name=schema, name=name, strategy=strategy, partition_count=len(bounds or []) + bool(default_partition),
        default_partition=default_partition, default_rows=default_rows, upper_bounds=bounds,
    ), overrides))


def avoided_types(table_name: str = "invoices", *columns: str, schema: str = "public") -> model.AvoidedTypes:
    return model.AvoidedTypes(schema_name=schema, table=table_name,
                              columns=list(columns) or ["issued timestamp without time zone"])


def foreign_key_type_mismatch(name: str = "invoices_customer_id_fkey", table_name: str = "invoices", *,
                              column: str = "customer_id", column_type: str = "integer",
                              referenced_table: str = "customers", referenced_type: str = "bigint",
                              schema: str = "public") -> model.ForeignKeyTypeMismatch:
    return model.ForeignKeyTypeMismatch(
        schema_name=schema, table=table_name, name=name, column=column, column_type=column_type,
        referenced_schema=schema, referenced_table=referenced_table, referenced_column="id",
        referenced_type=referenced_type)


def column_ref(table_name: str, column: str, schema: str = "public") -> model.ColumnRef:
    return model.ColumnRef(schema_name=schema, table=table_name, column=column)


def mostly_null_index(name: str = "orders_cancelled_at_idx", table_name: str = "orders", *, column: str = "cancelled_at",
                      null_frac: float = 0.97, size_bytes: int = 40 * MIB, schema: str = "public") -> model.MostlyNullIndex:
    return model.MostlyNullIndex(schema_name=schema, table=table_name, name=name, column=column, null_frac=null_frac,
                                 size_bytes=size_bytes)


def prepared_xact(gid: str = "txn-42", age_s: float = 2 * HOUR, **overrides) -> model.PreparedXact:
    return model.PreparedXact(**_with(dict(gid=gid, prepared=ago(age_s), owner="app", database="app",
                                           xid_age=5_000_000), overrides))


def checkpoints(timed: int = 900, requested: int = 20, **overrides) -> model.Checkpoints:
    """Checkpoint counters since a reset 30 days ago, and reads averaging 0.2 ms (track_io_timing on)."""
    return model.Checkpoints(**_with(dict(timed=timed, requested=requested, stats_reset=ago(30 * DAY),
                                          blocks_read=1_000_000, block_read_time_ms=200_000.0), overrides))


def archive_backlog(ready: int = 0, oldest_s: float | None = None) -> model.ArchiveBacklog:
    return model.ArchiveBacklog(ready=ready, oldest_ready_at=ago(oldest_s))


# pg_settings' raw values and units, as catalog_settings reads them, on a tuned production server.
HEALTHY_CATALOG_SETTINGS = {
    "fsync": ("on", ""), "full_page_writes": ("on", ""), "synchronous_commit": ("on", ""),
    "data_checksums": ("on", ""), "random_page_cost": ("1.1", ""), "work_mem": ("16384", "kB"),
    "shared_buffers": ("524288", "8kB"), "max_slot_wal_keep_size": ("10240", "MB"),
    "autovacuum_freeze_max_age": ("200000000", ""), "autovacuum_multixact_freeze_max_age": ("400000000", ""),
    "max_wal_size": ("4096", "MB"), "checkpoint_timeout": ("300", "s"), "wal_level": ("replica", ""),
}


def catalog_settings(**changed: str | tuple[str, str]) -> dict[str, model.CatalogSetting]:
    """HEALTHY_CATALOG_SETTINGS with `changed` (a value, or (value, unit)); a changed one left at its
    default reads source 'default' when given as ("4", "", "default")."""
    values: dict[str, model.CatalogSetting] = {}
    for name, (setting, unit) in HEALTHY_CATALOG_SETTINGS.items():
        given = changed.get(name)
        source = "configuration file"
        if isinstance(given, tuple):
            setting, unit, *rest = given
            source = rest[0] if rest else source
        elif given is not None:
            setting = given
        values[name] = model.CatalogSetting(setting=setting, unit=unit, source=source)
    return values


def statement_spill(query_id: int, temp_blks_written: int, calls: int = 100) -> model.StatementSpill:
    return model.StatementSpill(query_id=query_id, calls=calls, temp_blks_written=temp_blks_written)


def catalog(**overrides) -> model.Catalog:
    """Catalog facts: every section read and empty unless given (`tables=[table(…)]`, `gaps={…}`)."""
    return model.Catalog(**_with(dict(read_at=NOW, objects_cap=2000, stats_reset=ago(30 * DAY),
                                      server_addresses=["10.0.0.10"], md5_password_roles=[]), overrides))


# -- whole snapshots -----------------------------------------------------------------------------

POSTGRES_PARTS = ("activity", "catalog", "slots", "archiving", "pgbackrest", "manager")


def snapshot(*, sessions: Iterable[model.Session] = (), locks: Iterable[model.Lock] = (), **overrides) -> model.Snapshot:
    """A reachable snapshot of a primary with these sessions and nothing else read. The blocking
    tree is built from the sessions' `blocked_by` (and `locks`) unless `blocking` is given;
    connections_used counts the client sessions plus dbtop's own unless given. PostgreSQL's own
    parts are given here too and land in its section: `activity`, `catalog`, `slots`, `archiving`,
    `pgbackrest`."""
    sessions = list(sessions)
    locks = list(locks)
    section = {name: overrides.pop(name) for name in POSTGRES_PARTS if name in overrides}
    clients = sum(1 for s in sessions if s.counts_as_client)
    values = _with(dict(
        sequence=1, taken_at=NOW, target=TARGET.label, engine="postgres", reachable=True, interval_s=2.0,
        server=server(), connections_used=clients + 1, sessions=sessions,
        postgres=model.PostgresSection(**section),
    ), overrides)
    if "blocking" not in overrides:
        values["blocking"] = blocking(sessions, locks)
    return model.Snapshot(**values)


def healthy_sessions() -> list[model.Session]:
    return [session(201, "active"), session(202, "active", application="worker", for_s=0.4),
            idle(203), idle(204, application="reporting", user="analyst"),
            session(205, "idle in transaction", for_s=0.2), background(206)]


def healthy_statements() -> model.Statements:
    fast = statement(1, "SELECT * FROM orders WHERE id = $1", calls=900, mean_time_ms=0.3, rows=900)
    report = statement(2, "SELECT region, sum(total) FROM orders GROUP BY region", calls=40, mean_time_ms=85.0,
                       rows=400)
    insert = statement(3, "INSERT INTO events (kind, at) VALUES ($1, now())", calls=5000, mean_time_ms=0.1, rows=5000)
    own = statement(4, "/* dbtop */ SELECT pid FROM pg_stat_activity", calls=50, mean_time_ms=1.0, from_dbtop=True)
    return statements(fast, report, insert, own, ran={1: delta(30, 9.0), 2: delta(2, 170.0, rows=20),
                                                      3: delta(180, 18.0)})


def healthy_catalog() -> model.Catalog:
    return catalog(
        tables=[table("orders"), table("customers", live_rows=40_000, size_bytes=8 * MIB, index_count=1),
                table("order_lines", live_rows=900_000, size_bytes=120 * MIB, index_count=2)],
        indexes=[index("orders_pkey", "orders", [1], primary=True), index("orders_customer_id_idx", "orders", [2]),
                 index("customers_pkey", "customers", [1], primary=True),
                 index("order_lines_pkey", "order_lines", [1], primary=True),
                 index("order_lines_order_id_idx", "order_lines", [2])],
        table_bloat=[table_bloat("orders"), table_bloat("order_lines", size_bytes=120 * MIB, expected_bytes=110 * MIB)],
        foreign_keys=[foreign_key("orders_customer_id_fkey", "orders", ["customer_id"], "customers"),
                      foreign_key("order_lines_order_id_fkey", "order_lines", ["order_id"], "orders",
                                  on_delete="CASCADE")],
        sequences=[sequence("orders_id_seq"), sequence("order_lines_id_seq", 900_000)],
        databases=[database_age("app"), database_age("postgres", 40_000_000)],
        roles=[role("postgres", superuser=True), role("app"), role("ops"), role("analyst")],
        hba_rules=[hba_rule(90, "peer", type="local"), hba_rule(95, "trust", address="127.0.0.1",
                                                                netmask="255.255.255.255"),
                   hba_rule(100, "scram-sha-256")],
        index_bloat=[index_bloat("orders_pkey"), index_bloat("order_lines_pkey", "order_lines")],
        partitioned_tables=[partitioned_table("events", default_partition="events_default", default_rows=0)],
        checkpoints=checkpoints(), archive_backlog=archive_backlog(), settings=catalog_settings(),
        statement_spills=[],
    )


def healthy(**overrides) -> model.Snapshot:
    """Everything read, and all of it well: no rule fires on this snapshot. Override a part to make
    one thing wrong (`healthy(backups=backups())`, `healthy(slots=[slot(active=False)])`)."""
    values = _with(dict(
        sessions=healthy_sessions(), statements=healthy_statements(), activity=activity(), replication=replication(),
        slots=[slot()], views=views(matview(), matview("weekly_signups", age_s=2 * HOUR)),
        backups=backups(backup(), backup("app-previous.dump", age_s=30 * HOUR)), archiving=archiving(),
        pgbackrest=model.PgBackRestStatus(available=False), catalog=healthy_catalog(),
    ), overrides)
    return snapshot(**values)


def unreachable(error: str = "connection refused: is the server running on db1.example:5432?",
                **overrides) -> model.Snapshot:
    """A failed poll: the snapshot says what failed and carries no data."""
    return model.Snapshot(**_with(dict(sequence=1, taken_at=NOW, target=TARGET.label, engine="postgres",
                                       reachable=False, error=error), overrides))


def with_sequence(snap: model.Snapshot, sequence: int) -> model.Snapshot:
    return snap.model_copy(update={"sequence": sequence})


# -- MongoDB -------------------------------------------------------------------------------------
# Built like the MongoCollector builds them from mongod 7.0's replies (tests/mongo_mock.py).

MONGO_TARGET = Target(engine="mongo", mongo_uri="mongodb://db1.example:27017/?replicaSet=rs0")


def mongo_server(**overrides) -> model.ServerInfo:
    return model.ServerInfo(**_with(dict(
        engine="mongo", version="7.0.12", version_num=70012, uptime_s=30 * DAY, started_at=ago(30 * DAY),
        is_standby=False, max_connections=800, database="admin", current_user="monitor",
        monitoring_roles=["clusterMonitor@admin"], replica_set="rs0", facts_read_at=NOW), overrides))


def mongo_op(opid: int, for_s: float = 0.05, *, waiting: bool = False, **overrides) -> model.Session:
    """An operation in flight as currentOp shows it (a client's, active)."""
    return model.Session(**_with(dict(
        pid=opid, user="app", database="shop", application="shop-api", client="10.0.0.5:51234",
        backend_type="client backend", state="active", wait_event_type="Lock" if waiting else None,
        wait_event="Collection" if waiting else None, query_start=ago(for_s), query_s=for_s, state_s=for_s,
        query='{"find": "orders", "filter": {"status": "open"}, "$db": "shop"}'), overrides))


def mongo_lock_wait(opid: int, wait_s: float = 5.0, **overrides) -> model.Lock:
    return model.Lock(**_with(dict(pid=opid, locktype="Collection", mode="W", granted=False,
                                   relation="shop.orders", wait_s=wait_s), overrides))


def mongo_member(_id: int, name: str, state: str = "SECONDARY", *, lag_s: float | None = 1.0,
                 **overrides) -> model.Standby:
    return model.Standby(**_with(dict(pid=_id, application=name, client=name, state=state, replay_lag_s=lag_s,
                                      sync_source="db1.example:27017", health=True, last_heartbeat_at=ago(1)),
                                 overrides))


def mongo_statement(key: str = "shop.orders query 5F5A8F3D", *, plan: str = "IXSCAN { status: 1 }",
                    calls: int = 20, mean_time_ms: float = 150.0, **overrides) -> model.Statement:
    return model.Statement(**_with(dict(
        key=key, query_id=0x5F5A8F3D, user_id=0, database_id=0, user="app@shop", database="shop",
        query='{"find": "orders", "filter": {"status": "open"}, "$db": "shop"}', calls=calls,
        total_time_ms=calls * mean_time_ms, mean_time_ms=mean_time_ms, rows=calls * 5, plan_summary=plan),
        overrides))


def mongo_section(**overrides) -> model.MongoSection:
    """A healthy section: auth and TLS on, 3 voting members, 48 h of oplog, 40% disk, 12% memory."""
    return model.MongoSection(**_with(dict(
        opcounters=model.OpCounters(insert=100, query=2000, update=300, delete=10, getmore=50, command=5000,
                                    interval_s=2.0, per_s={"insert": 5.0, "query": 40.0, "update": 3.0,
                                                           "delete": 0.0, "getmore": 1.0, "command": 60.0}),
        connections_total_created=1234, network_bytes_in=10_000_000, network_bytes_out=50_000_000,
        cache=model.WiredTigerCache(bytes_in_cache=3 * 2**30, max_bytes=8 * 2**30, dirty_bytes=20 * MIB),
        global_lock=model.GlobalLock(queue_total=0, queue_readers=0, queue_writers=0, active_readers=1,
                                     active_writers=2),
        resident_mb=2000, host_memory_mb=16000,
        oplog=model.OplogWindow(first_at=ago(48 * HOUR), last_at=NOW),
        databases=[model.DatabaseStats(name="shop", collections=4, views=1, objects=10000, data_size=2_000_000,
                                       index_size=300_000, storage_size=1_000_000, fs_used_size=40 * 2**30,
                                       fs_total_size=100 * 2**30, profiling_level=1)],
        cmdline=model.CommandLine(authorization=True, tls_mode="requireTLS", bind_ip=["127.0.0.1", "10.0.0.2"]),
        users=[model.MongoUser(user="admin", db="admin", roles=["root@admin"]),
               model.MongoUser(user="monitor", db="admin", roles=["clusterMonitor@admin"]),
               model.MongoUser(user="app", db="shop", roles=["readWrite@shop"])],
        members_total=3, voting_members=3), overrides))


def mongo_snapshot(*, sessions: Iterable[model.Session] = (), locks: Iterable[model.Lock] = (),
                   **overrides) -> model.Snapshot:
    """A reachable MongoDB snapshot with these operations and nothing else read; `locks` are the
    operations waiting for a lock (MongoDB names no holder: no trees)."""
    locks = list(locks)
    sessions = list(sessions)
    values = _with(dict(
        sequence=1, taken_at=NOW, target=MONGO_TARGET.label, engine="mongo", reachable=True, interval_s=2.0,
        server=mongo_server(), connections_used=40, sessions=sessions,
        blocking=model.Blocking(blocked_count=len(locks), locks=locks)), overrides)
    return model.Snapshot(**values)


def mongo_healthy(**overrides) -> model.Snapshot:
    """A healthy three-member replica set's primary: no MongoDB rule fires on it."""
    values = _with(dict(
        sessions=[mongo_op(301), mongo_op(302, 0.4, application="worker")],
        statements=model.Statements(extension_version="profiler", entries=[mongo_statement()]),
        replication=model.Replication(role="primary", standbys=[mongo_member(1, "db2.example:27017"),
                                                                 mongo_member(2, "db3.example:27017", lag_s=0.5)]),
        backups=backups(backup("shop-nightly.archive.gz"), backup("shop-previous.archive.gz", age_s=30 * HOUR)),
        mongo=mongo_section()), overrides)
    return mongo_snapshot(**values)


# -- the collector -------------------------------------------------------------------------------

class FakeCollector:
    """Replays built snapshots through the collector protocol (engines/base.py), with no server.

    Each `snapshot()` returns the next one given, numbered 1, 2, 3, … as a collector numbers its
    polls; after the last it keeps returning the last, newly numbered, as a server that does not
    change would. `connect_error` makes `connect()` raise ConnectError with that line.
    `more(…)` queues further snapshots while the app runs."""

    def __init__(self, snapshots: model.Snapshot | Iterable[model.Snapshot], *, target: Target = TARGET,
                 policy: WatchPolicy | None = None, connect_error: str | None = None, engine: str = "postgres"):
        queue = [snapshots] if isinstance(snapshots, model.Snapshot) else list(snapshots)
        if not queue:
            raise ValueError("FakeCollector needs at least one snapshot to replay")
        self.engine = engine
        self.target = target
        self.policy = policy if policy is not None else WatchPolicy()
        self.connect_error = connect_error
        self.queue = queue
        self.served: list[model.Snapshot] = []
        self.connects = 0
        self.closed = False

    async def connect(self) -> None:
        self.connects += 1
        if self.connect_error is not None:
            raise ConnectError(self.connect_error)

    async def snapshot(self) -> model.Snapshot:
        position = min(len(self.served), len(self.queue) - 1)
        served = with_sequence(self.queue[position], len(self.served) + 1)
        self.served.append(served)
        return served

    async def close(self) -> None:
        self.closed = True

    def more(self, *snapshots: model.Snapshot) -> None:
        """Queue snapshots to serve after the ones not yet served (the last one repeats)."""
        missing = len(self.served) - len(self.queue)
        self.queue.extend([self.queue[-1]] * max(0, missing) + list(snapshots))


@contextlib.asynccontextmanager
async def fake_dashboard(collector: FakeCollector, size: tuple[int, int] = (120, 40), interval_s: float = 60.0,
                         **app_options):
    """DbtopApp fed by `collector` through the real SnapshotPoller, in `run_test` at `size`, once the
    first snapshot is shown. The interval is long: `next_snapshot()` asks for the next poll."""
    from dbtop.tui.app import DbtopApp
    from dbtop.tui.poller import SnapshotPoller

    from .test_app import until

    poller = SnapshotPoller(collector, interval_s)
    await asyncio.to_thread(poller.connect)
    app = DbtopApp(poller, theme_name=app_options.pop("theme_name", "dbtop-dark"), **app_options)
    async with app.run_test(size=size, notifications=True) as pilot:
        await until(pilot, lambda: app.latest is not None)
        await app.other_panels_composed()  # the panels after the first are composed once it is drawn
        await pilot.pause()
        yield app, pilot


async def next_snapshot(app, pilot) -> model.Snapshot:
    """Poll now and wait until the app has the next snapshot."""
    from .test_app import until

    seen = app.latest.sequence if app.latest is not None else 0
    app.poller.wake()
    await until(pilot, lambda: app.latest is not None and app.latest.sequence > seen)
    await pilot.pause()
    return app.latest
