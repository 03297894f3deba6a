"""The typed data every engine produces: one immutable, timestamped snapshot per poll.

Panels, findings and `dbtop snapshot --json` read these models and nothing else. A snapshot has an
engine-neutral core (server, sessions with a normalised state, the blocking graph, statements,
replication members, views, backups, part statuses) that panels and rules read for every engine, and
one section per engine for what does not map (`Snapshot.postgres`, `Snapshot.mongo`). A figure an engine lacks is None,
never a made-up zero.

The JSON form is a stable interface: add fields, never rename or remove them without bumping
`SNAPSHOT_SCHEMA`. It keeps schema 1's layout: the PostgreSQL section's parts are written where
schema 1 had them (`activity` and `catalog` at the top, `slots` under `replication`, `archiving` and
`pgbackrest` under `backups`) and read back from there.
"""

# No `from __future__ import annotations` here: pydantic would evaluate every field's annotation from
# its string when each model is defined (~10 ms of every start); only forward references are quoted.
from datetime import datetime
from operator import is_
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

SNAPSHOT_SCHEMA = 1

# How each engine is named on screen: in full, and in the overview strip.
ENGINE_TITLES = {"postgres": "PostgreSQL", "mongo": "MongoDB"}
ENGINE_SHORT = {"postgres": "PG", "mongo": "Mongo"}


class Frozen(BaseModel):
    # defer_build: a model's validator is built when first used, not when this module is imported
    # (seventy models); the dashboard's first snapshot validates a handful (the collector puts the
    # snapshot itself together without validation).
    model_config = ConfigDict(frozen=True, defer_build=True)

    @classmethod
    def from_trusted(cls, values: dict[str, Any]) -> Self:
        """Build from values that already have the field types (rows the driver decoded from
        typed columns), skipping validation: a collector builds a thousand sessions per poll, and
        validating them again costs more than decoding them. `values` must name every field;
        tests/test_snapshot_model.py checks the result equals model_validate's."""
        obj = _new(cls)
        _set_dict(obj, values)
        _set_fields_set(obj, set(values))
        _set_extra(obj, None)
        _set_private(obj, None)
        return obj


_new = object.__new__
# BaseModel's slots, set through their descriptors: object.__setattr__ looks each one up by name
# first, which is most of the cost of a model built a thousand times per poll.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


class PartStatus(Frozen):
    """Whether one part of a snapshot could be collected, and if not, why and what to do."""

    available: bool = True
    reason: str | None = None
    fix: str | None = None
    retry_at: datetime | None = None


class ServerInfo(Frozen):
    engine: Literal["postgres", "mongo"]
    version: str
    version_num: int
    started_at: datetime | None = None
    uptime_s: float | None = None
    is_standby: bool = False
    max_connections: int | None = None
    reserved_connections: int = 0
    database: str
    current_user: str
    is_superuser: bool = False
    monitoring_roles: list[str] = Field(default_factory=list)
    database_size_estimate_bytes: int | None = None
    database_size_bytes: int | None = None
    database_size_measured_at: datetime | None = None
    settings: dict[str, str] = Field(default_factory=dict)
    facts_read_at: datetime | None = None
    replica_set: str | None = Field(default=None, description="MongoDB: the replica set's name (None: not a set)")


class Session(Frozen):
    """A server session (PostgreSQL backend) or operation in flight (MongoDB). `state` uses
    PostgreSQL's words, which every engine maps onto: active, idle, idle in transaction,
    idle in transaction (aborted), fastpath function call, disabled; None when hidden from this role.
    `backend_type` is the engine's own kind of process (None where the engine has none).

    Its durations (in its state, its transaction, its query) are as they were when it was read:
    `read_at_s` is the server's clock then, None when that is the clock of the snapshot holding it.
    A session that has not changed is carried into the next snapshot as the very same object, so
    read its durations as of a snapshot with `Snapshot.state_s(session)` and its kin. In JSON and
    when built, they keep their names (`state_s`, `xact_s`, `query_s`)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    pid: int
    user: str | None = None
    database: str | None = None
    application: str | None = None
    client: str | None = None
    backend_type: str | None = None
    state: str | None = None
    wait_event_type: str | None = None
    wait_event: str | None = None
    backend_start: datetime | None = None
    xact_start: datetime | None = None
    query_start: datetime | None = None
    read_state_s: float | None = Field(default=None, alias="state_s")
    read_xact_s: float | None = Field(default=None, alias="xact_s")
    read_query_s: float | None = Field(default=None, alias="query_s")
    query_id: int | None = None
    query: str | None = None
    blocked_by: list[int] = Field(default_factory=list)
    read_at_s: float | None = None

    @property
    def hidden(self) -> bool:
        """Another role's session seen by a role without pg_read_all_stats: the server shows its
        pid, user, database and application but hides its type, state, wait, times and query."""
        return self.backend_type is None

    @property
    def counts_as_client(self) -> bool:
        """A client backend (what max_connections limits); see `counts_as_client`."""
        return counts_as_client(self.backend_type, self.user, self.database)

    @property
    def in_transaction(self) -> bool:
        return self.read_xact_s is not None


def same_sessions(these: list[Session], those: list[Session]) -> bool:
    """Whether two snapshots hold the very same session objects, in the same order: no session began,
    ended or changed in between, only their durations moved (the collector carries a session that did
    not change into the next snapshot as it is)."""
    return len(these) == len(those) and all(map(is_, these, those))


def as_of(read_s: float | None, read_at_s: float | None, clock_s: float | None) -> float | None:
    """A duration read when the server's clock said `read_at_s`, as of `clock_s` (None stays None;
    either clock None: as read)."""
    if read_s is None or read_at_s is None or clock_s is None:
        return read_s
    return read_s + (clock_s - read_at_s)


def counts_as_client(backend_type: str | None, user: str | None, database: str | None) -> bool:
    """A client backend (what max_connections limits). A hidden session (no backend type) counts
    when it has a user and a database, as every client backend has: background processes lack one or
    both, though autovacuum and parallel workers do not and are counted too. A function of the row's
    values, so the collector decides it before building a Session."""
    if backend_type is not None:
        return backend_type == "client backend"
    return user is not None and database is not None


class Lock(Frozen):
    pid: int
    locktype: str
    mode: str
    granted: bool
    relation: str | None = None
    wait_s: float | None = None


class BlockingNode(Frozen):
    """A session in the blocking tree with the sessions waiting directly behind it."""

    pid: int
    wait_s: float | None = None
    waiting_for: Lock | None = None
    blocked: list["BlockingNode"] = Field(default_factory=list)


class RootBlocker(Frozen):
    """A session that blocks others and waits for no one: the row to act on."""

    pid: int
    blocks_direct: int
    blocks_total: int
    longest_wait_s: float | None = None
    holds: list[Lock] = Field(default_factory=list)
    tree: BlockingNode


class Blocking(Frozen):
    roots: list[RootBlocker] = Field(default_factory=list)
    blocked_count: int = 0
    locks: list[Lock] = Field(default_factory=list)


class StatementDelta(Frozen):
    """What one statement did between the previous snapshot and this one."""

    interval_s: float
    calls: int
    total_time_ms: float
    rows: int
    shared_blks_hit: int | None = None
    shared_blks_read: int | None = None
    calls_per_s: float
    time_ms_per_s: float
    rows_per_s: float
    shared_blks_hit_per_s: float | None = None
    shared_blks_read_per_s: float | None = None


class Statement(Frozen):
    """A pg_stat_statements entry, counted since its statistics were reset. The same object is
    carried from snapshot to snapshot while its counters do not move."""

    key: str
    query_id: int
    user_id: int
    database_id: int
    user: str | None = None
    database: str | None = None
    toplevel: bool = True
    from_dbtop: bool = False
    query: str | None = None
    calls: int
    total_time_ms: float
    mean_time_ms: float
    rows: int | None = Field(description="rows returned or affected; None where they are not counted (an "
                                         "operation in flight, from MongoDB's currentOp)")
    shared_blks_hit: int | None = Field(default=None, description="buffer blocks; None where the engine has none")
    shared_blks_read: int | None = None
    plan_summary: str | None = Field(default=None, description="MongoDB: the plan (COLLSCAN, IXSCAN { a: 1 })")

    @property
    def collection_scan(self) -> bool:
        return bool(self.plan_summary) and "COLLSCAN" in self.plan_summary


class Statements(Frozen):
    """All tracked statements, and what ran in the last interval.

    `interval_s` is None on the first reading (nothing to compare with yet). After that,
    `deltas` holds an entry for every statement that ran in the interval, keyed by
    `Statement.key`; a statement without one did not run."""

    extension_version: str | None = None
    entries: list[Statement] = Field(default_factory=list)
    interval_s: float | None = None
    deltas: dict[str, StatementDelta] = Field(default_factory=dict)

    def delta(self, statement: Statement) -> StatementDelta | None:
        return self.deltas.get(statement.key)


class Activity(Frozen):
    """Server-wide counters from pg_stat_database and their rates over the last interval."""

    xact_commit: int
    xact_rollback: int
    blks_hit: int
    blks_read: int
    tup_returned: int
    tup_fetched: int
    tup_inserted: int
    tup_updated: int
    tup_deleted: int
    deadlocks: int
    temp_bytes: int
    interval_s: float | None = None
    commits_per_s: float | None = None
    rollbacks_per_s: float | None = None
    deadlocks_in_interval: int | None = None
    transactions_per_s: float | None = None
    cache_hit_ratio: float | None = None
    tuples_written_per_s: float | None = None
    tuples_read_per_s: float | None = None

    @property
    def hit_ratio_since_reset(self) -> float | None:
        """Blocks found in shared buffers over all blocks read, since the statistics were reset
        (`cache_hit_ratio` is over the last interval only)."""
        reads = self.blks_hit + self.blks_read
        return self.blks_hit / reads if reads else None


class Standby(Frozen):
    pid: int
    application: str | None = None
    client: str | None = None
    state: str | None = None
    sync_state: str | None = None
    sent_lsn: str | None = None
    write_lsn: str | None = None
    flush_lsn: str | None = None
    replay_lsn: str | None = None
    write_lag_s: float | None = None
    flush_lag_s: float | None = None
    replay_lag_s: float | None = None
    replay_lag_bytes: int | None = None
    sync_source: str | None = Field(default=None, description="MongoDB: the member it replicates from")
    health: bool | None = Field(default=None, description="MongoDB: the member answers heartbeats")
    votes: int | None = Field(default=None, description="MongoDB: the member's votes in elections")
    last_heartbeat_at: datetime | None = None


class ReplicationSlot(Frozen):
    name: str
    slot_type: str
    database: str | None = None
    active: bool
    active_pid: int | None = None
    retained_wal_bytes: int | None = None
    wal_status: str | None = None


class WalReceiver(Frozen):
    """A standby's own view of its upstream."""

    status: str | None = None
    sender: str | None = None
    received_lsn: str | None = None
    replayed_lsn: str | None = None
    last_message_at: datetime | None = None
    replay_paused: bool = False
    replay_lag_s: float | None = None
    replay_lag_bytes: int | None = None
    last_replayed_xact_at: datetime | None = None


class Replication(Frozen):
    """The replication members as this server sees them: its standbys, or its upstream."""

    role: Literal["primary", "standby"]
    standbys: list[Standby] = Field(default_factory=list)
    receiver: WalReceiver | None = None


RefreshSource = Literal["refresh_log", "dbtop_action", "file_time", "unknown"]


class ViewRefresh(Frozen):
    """When a materialized view was last refreshed, and how dbtop knows.

    `refresh_log`: dbtop's event trigger recorded the refresh (start, end, role).
    `dbtop_action`: dbtop itself ran the refresh.
    `file_time`: the view's relation file was last written at `at`; the refresh happened at or
    before that only for a plain refresh, so it is a lower bound on freshness, not a refresh time.
    `unknown`: nothing tells; `at` is None."""

    source: RefreshSource = "unknown"
    at: datetime | None = None
    duration_s: float | None = None
    role: str | None = None
    concurrently: bool | None = None


class MaterializedView(Frozen):
    schema_name: str
    name: str
    owner: str | None = None
    size_bytes: int | None = None
    rows_estimate: int | None = None
    populated: bool
    unique_index: bool = Field(description="a unique index on plain columns without a predicate: "
                                           "REFRESH MATERIALIZED VIEW CONCURRENTLY is possible")
    locked_by: list[int] = Field(default_factory=list, description="sessions holding or awaiting an exclusive lock "
                                                                   "on it: a refresh in progress")
    last_refresh: ViewRefresh = Field(default_factory=ViewRefresh)
    threshold_s: float
    age_s: float | None = Field(default=None, description="seconds since last_refresh.at")
    stale: bool | None = Field(default=None, description="None when the age is not known for certain")
    data_age_column: str | None = None
    data_newest_at: datetime | None = None
    data_age_s: float | None = None
    data_age_error: str | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.schema_name}.{self.name}"


class Views(Frozen):
    read_at: datetime
    refresh_log_installed: bool = False
    file_times_readable: bool = False
    views: list[MaterializedView] = Field(default_factory=list)
    truncated: bool = False


BackupStatus = Literal["verified", "unverified", "verification_failed", "partial", "corrupt_metadata", "missing_file"]


class BackupEntry(Frozen):
    """One backup in the inventory: a dbtop backup (with metadata), a file found without metadata
    (foreign), or a backup pgBackRest reports."""

    origin: Literal["dbtop", "foreign", "pgbackrest"]
    name: str
    path: str | None = None
    status: BackupStatus
    problem: str | None = None
    format: str | None = None
    backup_type: str | None = Field(default=None, description="pgBackRest: full, diff or incr")
    database: str | None = None
    server_version: str | None = None
    tool_version: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    file_time: datetime | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    verified_at: datetime | None = None
    verification_detail: str | None = None
    prune: bool = Field(default=False, description="the retention policy would delete it")

    @property
    def taken_at(self) -> datetime | None:
        return self.finished_at or self.started_at or self.file_time


class WalArchiving(Frozen):
    archive_mode: str | None = None
    archive_command_set: bool = False
    archived_count: int = 0
    last_archived_wal: str | None = None
    last_archived_at: datetime | None = None
    failed_count: int = 0
    last_failed_wal: str | None = None
    last_failed_at: datetime | None = None
    stats_reset: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.archive_mode in ("on", "always")

    @property
    def failing(self) -> bool:
        """The last attempt failed: a failure newer than the last success."""
        if self.last_failed_at is None:
            return False
        return self.last_archived_at is None or self.last_failed_at > self.last_archived_at


class PgBackRestArchive(Frozen):
    """A stanza's WAL archive as `pgbackrest info` reports it: the oldest and newest segment kept,
    the window a point-in-time restore can reach (from the oldest backup's start onwards)."""

    stanza: str
    id: str = Field(description="e.g. 15-1: the PostgreSQL version and the stanza's database id")
    min: str | None = None
    max: str | None = None


class PgBackRestStatus(Frozen):
    available: bool = Field(description="the pgbackrest command exists here")
    profile_stanza: str | None = Field(default=None, description="the stanza the profile names; None: every "
                                                                 "stanza pgBackRest's configuration lists")
    stanzas: list[str] = Field(default_factory=list)
    error: str | None = None
    archives: list[PgBackRestArchive] = Field(default_factory=list)
    backup_running: list[str] = Field(default_factory=list, description="stanzas whose backup lock is held")
    system_ids: dict[str, str] = Field(default_factory=dict, description="stanza -> the system identifier of "
                                                                         "the cluster it backs up now")


class Backups(Frozen):
    read_at: datetime
    directory: str | None = None
    directory_error: str | None = None
    entries: list[BackupEntry] = Field(default_factory=list)
    rpo_s: float
    retention_s: float
    retention_keep: int
    newest_verified_at: datetime | None = None
    recovery_point_age_s: float | None = Field(default=None, description="age of the newest verified backup")


class TableFacts(Frozen):
    schema_name: str
    name: str
    size_bytes: int = Field(description="estimated from relpages (reading the size would take a lock)")
    live_rows: int
    dead_rows: int
    seq_scan: int | None = None
    seq_tup_read: int | None = None
    idx_scan: int | None = None
    last_vacuum: datetime | None = None
    last_autovacuum: datetime | None = None
    last_analyze: datetime | None = None
    last_autoanalyze: datetime | None = None
    autovacuum_enabled: bool = True
    unlogged: bool = False
    has_primary_key: bool
    index_count: int
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    rows_hot_updated: int | None = None
    modified_since_analyze: int | None = None
    inserted_since_vacuum: int | None = Field(default=None, description="PostgreSQL 13 and later")
    fillfactor: int = 100
    partitioned: bool = False
    xid_age: int | None = Field(default=None, description="age(relfrozenxid); None for a partitioned parent")
    mxid_age: int | None = None
    toast_xid_age: int | None = Field(default=None, description="of its TOAST table, if it has one")
    toast_mxid_age: int | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.schema_name}.{self.name}"


class TableBloat(Frozen):
    """A table's heap against what its rows would fill: an estimate from the planner's statistics."""

    schema_name: str
    table: str
    size_bytes: int = Field(description="the heap, from relpages")
    estimated_rows: int
    fillfactor: int = 100
    expected_bytes: int | None = Field(
        default=None, description="what the rows would fill at the fillfactor; None when some column has "
                                  "no statistics (never analyzed, or not readable by this role)")

    @property
    def qualified_name(self) -> str:
        return f"{self.schema_name}.{self.table}"

    @property
    def wasted_bytes(self) -> int | None:
        return None if self.expected_bytes is None else max(0, self.size_bytes - self.expected_bytes)


class IndexFacts(Frozen):
    schema_name: str
    table: str
    name: str
    definition: str
    method: str
    key_columns: list[int] = Field(description="attribute numbers; 0 for an expression")
    key_expressions: list[str] | None = Field(
        default=None, description="each key column or expression as SQL; read only for an INVALID unique index "
                                  "(the query that lists its duplicate keys needs them)")
    predicate: str | None = None
    has_expressions: bool = False
    is_unique: bool
    is_primary: bool
    is_valid: bool
    constraint: str | None = Field(default=None, description="the constraint it backs, if any")
    scans: int | None = None
    size_bytes: int


class ForeignKeyFacts(Frozen):
    schema_name: str
    table: str
    name: str
    columns: list[str]
    column_numbers: list[int]
    referenced_schema: str
    referenced_table: str
    on_delete: str
    validated: bool
    has_supporting_index: bool


class ConstraintFacts(Frozen):
    schema_name: str
    table: str
    name: str
    kind: str
    definition: str


class SequenceFacts(Frozen):
    schema_name: str
    name: str
    data_type: str
    last_value: int | None = None
    max_value: int
    increment: int = 1
    column_schema: str | None = Field(default=None, description="the table of the column it feeds (owned by, or "
                                                                "an identity column)")
    column_table: str | None = None
    column_name: str | None = None
    column_type: str | None = None

    @property
    def used_fraction(self) -> float | None:
        return None if self.last_value is None or self.max_value <= 0 else max(0, self.last_value) / self.max_value

    @property
    def column_max(self) -> int | None:
        """The largest value the column it feeds can hold, when that is below the sequence's own maximum."""
        limit = COLUMN_MAX.get(self.column_type or "")
        return limit if limit is not None and limit < self.max_value else None

    @property
    def limit(self) -> int:
        """Where it runs out: its maximum, or the column's if that is lower."""
        return self.column_max or self.max_value


COLUMN_MAX = {"smallint": 32767, "integer": 2147483647}


class DatabaseAge(Frozen):
    name: str
    xid_age: int
    mxid_age: int | None = None


class TriggerFacts(Frozen):
    schema_name: str
    table: str
    name: str


class RoleFacts(Frozen):
    name: str
    superuser: bool
    can_login: bool


class HbaRule(Frozen):
    line_number: int
    type: str
    database: list[str] = Field(default_factory=list)
    user_name: list[str] = Field(default_factory=list)
    address: str | None = None
    netmask: str | None = None
    auth_method: str | None = None
    error: str | None = None


class IndexBloat(Frozen):
    """A btree index's pages against what its entries would fill: an estimate from the planner's statistics."""

    schema_name: str
    table: str
    name: str
    size_bytes: int
    estimated_rows: int
    fillfactor: int = 90
    expected_bytes: int | None = None

    @property
    def wasted_bytes(self) -> int | None:
        return None if self.expected_bytes is None else max(0, self.size_bytes - self.expected_bytes)


class DefinerFunction(Frozen):
    schema_name: str
    name: str
    arguments: str = ""
    owner: str | None = None


class UnenforcedPolicies(Frozen):
    schema_name: str
    table: str
    policies: int


class PartitionedTable(Frozen):
    schema_name: str
    name: str
    strategy: str = Field(description="r (range), l (list) or h (hash)")
    partition_count: int
    default_partition: str | None = None
    default_rows: int | None = None
    upper_bounds: list[str] | None = Field(default=None, description="range partitions' TO (…) bounds as written")


class AvoidedTypes(Frozen):
    schema_name: str
    table: str
    columns: list[str] = Field(description="'name type' of each column of a type to avoid")


class ForeignKeyTypeMismatch(Frozen):
    schema_name: str
    table: str
    name: str
    column: str
    column_type: str
    referenced_schema: str
    referenced_table: str
    referenced_column: str
    referenced_type: str


class ColumnRef(Frozen):
    schema_name: str
    table: str
    column: str


class MostlyNullIndex(Frozen):
    schema_name: str
    table: str
    name: str
    column: str
    null_frac: float
    size_bytes: int


class PreparedXact(Frozen):
    gid: str
    prepared: datetime
    owner: str | None = None
    database: str | None = None
    xid_age: int | None = None


class DeadlockProcess(Frozen):
    """One process of a deadlock as the server's DETAIL lists it."""

    pid: int
    waits_for: str | None = Field(default=None, description="what it waited for: 'ShareLock on transaction 5678; "
                                                             "blocked by process 1235.'")
    statement: str | None = Field(default=None, description="its statement (redacted), None when the log omits it")


class DeadlockReport(Frozen):
    """A deadlock the server logged: `ERROR:  deadlock detected`, the processes of its DETAIL, and the
    STATEMENT of the transaction it aborted. Texts are redacted but untrusted (clean them to show)."""

    logged_at: str | None = Field(default=None, description="the time the log line prefix carries, as written")
    processes: list[DeadlockProcess] = Field(default_factory=list)
    statement: str | None = Field(default=None, description="the aborted transaction's statement (STATEMENT:)")


class DeadlockLog(Frozen):
    """The newest deadlock reports in the tail of the server's current log file."""

    file: str
    bytes_read: int
    file_size: int
    reports: list[DeadlockReport] = Field(default_factory=list)


class Checkpoints(Frozen):
    """Checkpoints since the counters' reset, and this database's block reads with their time."""

    timed: int
    requested: int
    stats_reset: datetime | None = None
    blocks_read: int | None = None
    block_read_time_ms: float | None = Field(default=None, description="0 unless track_io_timing is on")


class ArchiveBacklog(Frozen):
    ready: int
    oldest_ready_at: datetime | None = None


UNIT_BYTES = {"B": 1, "kB": 1024, "8kB": 8192, "MB": 1 << 20, "16MB": 16 << 20, "GB": 1 << 30, "TB": 1 << 40}


class CatalogSetting(Frozen):
    """A setting as pg_settings gives it: the raw value in its unit, and where it was set."""

    setting: str
    unit: str = ""
    source: str = "default"

    @property
    def number(self) -> float | None:
        try:
            return float(self.setting)
        except ValueError:
            return None

    @property
    def bytes(self) -> int | None:
        """A memory or size setting in bytes (None for another unit, or -1: unlimited)."""
        number, scale = self.number, UNIT_BYTES.get(self.unit)
        return None if number is None or scale is None or number < 0 else int(number * scale)


class StatementSpill(Frozen):
    query_id: int
    calls: int
    temp_blks_written: int


class InsecureConnection(Frozen):
    pid: int
    user: str | None = None
    client: str | None = None
    application: str | None = None


class AppliedMigrations(Frozen):
    """What the migration tools recorded as applied in the audited database: every `alembic_version`
    and `django_migrations` table found (in any schema). A list is None when no such table exists."""

    tables: list[str] = Field(default_factory=list, description="schema.table of each table read")
    alembic: list[str] | None = Field(default=None, description="version_num of every row (the applied heads)")
    django: list[tuple[str, str]] | None = Field(default=None, description="(app, name) of every row")


class Catalog(Frozen):
    """The slow-changing catalog facts findings need, read at a low rate with a cap on the objects
    examined (the largest tables first). A section that could not be read is in `gaps` with why."""

    read_at: datetime
    objects_cap: int
    truncated: dict[str, bool] = Field(default_factory=dict)
    gaps: dict[str, str] = Field(default_factory=dict)
    locked_tables: list[str] = Field(
        default_factory=list,
        description="schema.table whose index and constraint definitions were skipped this read: an ACCESS "
                    "EXCLUSIVE lock was held or awaited on it, and reading them would have waited")
    stats_reset: datetime | None = None
    tables: list[TableFacts] = Field(default_factory=list)
    indexes: list[IndexFacts] = Field(default_factory=list)
    table_bloat: list[TableBloat] = Field(default_factory=list)
    foreign_keys: list[ForeignKeyFacts] = Field(default_factory=list)
    constraints_not_valid: list[ConstraintFacts] = Field(default_factory=list)
    sequences: list[SequenceFacts] = Field(default_factory=list)
    databases: list[DatabaseAge] = Field(default_factory=list)
    disabled_triggers: list[TriggerFacts] = Field(default_factory=list)
    roles: list[RoleFacts] = Field(default_factory=list)
    hba_rules: list[HbaRule] = Field(default_factory=list)
    server_addresses: list[str] | None = Field(
        default=None, description="where the server listens and was reached: the address dbtop's connection "
                                  "reached (inet_server_addr(), none over a socket), then listen_addresses' "
                                  "entries as written (names and wildcards too); None when not read")
    insecure_connections: list[InsecureConnection] = Field(default_factory=list)
    md5_password_roles: list[str] | None = Field(
        default=None, description="roles whose stored password is an MD5 hash (pg_authid: superusers only); "
                                  "None when not read")
    index_bloat: list[IndexBloat] = Field(default_factory=list)
    definer_functions: list[DefinerFunction] = Field(default_factory=list)
    untrusted_languages: list[str] = Field(default_factory=list)
    public_create_schemas: list[str] = Field(default_factory=list)
    unenforced_policies: list[UnenforcedPolicies] = Field(default_factory=list)
    partitioned_tables: list[PartitionedTable] = Field(default_factory=list)
    avoided_types: list[AvoidedTypes] = Field(default_factory=list)
    foreign_key_type_mismatches: list[ForeignKeyTypeMismatch] = Field(default_factory=list)
    unreferenced_id_columns: list[ColumnRef] = Field(default_factory=list)
    mostly_null_indexes: list[MostlyNullIndex] = Field(default_factory=list)
    prepared_xacts: list[PreparedXact] = Field(default_factory=list)
    checkpoints: Checkpoints | None = None
    archive_backlog: ArchiveBacklog | None = Field(default=None, description="None when not read")
    settings: dict[str, CatalogSetting] = Field(default_factory=dict)
    statement_spills: list[StatementSpill] | None = Field(
        default=None, description="None when not read: pg_stat_statements is not installed in this database")
    applied_migrations: AppliedMigrations | None = Field(default=None, description="None when not read")
    deadlock_log: DeadlockLog | None = Field(default=None, description="None when not read (gaps says why)")


class CollectorCost(Frozen):
    """What taking this snapshot cost: dbtop measures itself so it can prove it is cheap."""

    queries: int
    round_trips: int
    wall_ms: float
    client_cpu_ms: float


class PatroniMember(Frozen):
    """One member of a Patroni cluster as `GET /cluster` lists it. `state` is Patroni's own word
    ("running", "streaming", "stopped" …: 3.x calls a streaming replica "running", 4.x "streaming")."""

    name: str
    role: str = Field(description="leader, replica, sync_standby or standby_leader")
    state: str | None = None
    host: str | None = None
    port: int | None = None
    api_url: str | None = None
    timeline: int | None = None
    lag_bytes: int | None = Field(default=None, description="None: Patroni said 'unknown' or gave none")
    pending_restart: bool = False

    @property
    def is_leader(self) -> bool:
        return self.role in ("leader", "standby_leader", "master", "primary")

    @property
    def streaming(self) -> bool:
        """A replica Patroni reports as replicating (3.x says "running", 4.x "streaming")."""
        return not self.is_leader and self.state in ("running", "streaming")


class PatroniCluster(Frozen):
    """The cluster as Patroni sees it (`GET /cluster`), read through the REST API at `api_url`."""

    read_at: datetime
    members: list[PatroniMember] = Field(default_factory=list)
    paused: bool = False
    scope: str | None = None
    version: str | None = Field(default=None, description="Patroni's version, from GET /patroni")

    @property
    def leader(self) -> PatroniMember | None:
        return next((m for m in self.members if m.is_leader), None)

    def member(self, name: str) -> PatroniMember | None:
        return next((m for m in self.members if m.name == name), None)


ManagerKind = Literal["patroni", "repmgr", "pg_auto_failover", "none", "unknown"]
MANAGER_TITLES: dict[str, str] = {"patroni": "Patroni", "repmgr": "repmgr", "pg_auto_failover": "pg_auto_failover",
                                  "none": "none (plain streaming)", "unknown": "unknown"}


class ClusterManager(Frozen):
    """Who manages the cluster's failover. SQL hints only make dbtop look; Patroni is confirmed by its
    REST API answering for the same system identifier. `promote_instead`: the manager's own way to
    promote, to use instead of a raw promotion (which a manager undoes, losing the writes made)."""

    kind: ManagerKind
    evidence: tuple[str, ...] = ()
    api_url: str | None = Field(default=None, description="the Patroni REST API that answered")
    member: str | None = Field(default=None, description="the connected server's Patroni member name")
    patroni_cluster: PatroniCluster | None = None
    error: str | None = Field(default=None, description="why the manager could not be read or confirmed")
    promote_instead: str | None = None
    read_at: datetime | None = None

    @property
    def title(self) -> str:
        return MANAGER_TITLES[self.kind]

    def role_disagreement(self, in_recovery: bool | None) -> str | None:
        """Where Patroni's view of the connected member differs from what the server itself reports
        (`pg_is_in_recovery()`), in one line; None when they agree or either is not known."""
        cluster = self.patroni_cluster
        if self.kind != "patroni" or cluster is None or self.member is None or in_recovery is None:
            return None
        member = cluster.member(self.member)
        if member is None:
            return f"Patroni does not list {self.member}, the server dbtop is connected to, as a member"
        if member.is_leader and in_recovery:
            return (f"Patroni calls {member.name} the leader, but the server is in recovery "
                    "(pg_is_in_recovery() is true)")
        if not member.is_leader and not in_recovery:
            return (f"Patroni calls {member.name} a {member.role}, but the server is not in recovery "
                    "(pg_is_in_recovery() is false): it accepts writes Patroni will discard when it rewinds it")
        return None


class PostgresSection(Frozen):
    """What only PostgreSQL has: pg_stat_database's counters, the catalog facts, replication slots,
    WAL archiving and pgBackRest."""

    activity: Activity | None = None
    catalog: Catalog | None = None
    slots: list[ReplicationSlot] = Field(default_factory=list)
    archiving: WalArchiving | None = None
    pgbackrest: PgBackRestStatus | None = None
    manager: ClusterManager | None = Field(default=None, description="who manages failover (Patroni, repmgr …)")


class OpCounters(Frozen):
    """serverStatus.opcounters: operations since the server started, and per second over the interval."""

    insert: int = 0
    query: int = 0
    update: int = 0
    delete: int = 0
    getmore: int = 0
    command: int = 0
    interval_s: float | None = None
    per_s: dict[str, float] | None = None

    @property
    def total_per_s(self) -> float | None:
        return None if self.per_s is None else sum(self.per_s.values())


class WiredTigerCache(Frozen):
    bytes_in_cache: int | None = None
    max_bytes: int | None = None
    dirty_bytes: int | None = None

    @property
    def used_fraction(self) -> float | None:
        if self.bytes_in_cache is None or not self.max_bytes:
            return None
        return self.bytes_in_cache / self.max_bytes


class GlobalLock(Frozen):
    """serverStatus.globalLock: operations queued for a lock and clients active."""

    queue_total: int | None = None
    queue_readers: int | None = None
    queue_writers: int | None = None
    active_readers: int | None = None
    active_writers: int | None = None


class OplogWindow(Frozen):
    """The first and last entries of local.oplog.rs: how far back a secondary may fall and still catch up."""

    first_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def window_s(self) -> float | None:
        if self.first_at is None or self.last_at is None:
            return None
        return (self.last_at - self.first_at).total_seconds()


class DatabaseStats(Frozen):
    """dbStats of one database (sizes in bytes; fs_* are the file system holding the data)."""

    name: str
    collections: int | None = None
    views: int | None = None
    objects: int | None = None
    data_size: int | None = None
    index_size: int | None = None
    storage_size: int | None = None
    fs_used_size: int | None = None
    fs_total_size: int | None = None
    profiling_level: int | None = None


class CommandLine(Frozen):
    """What getCmdLineOpts says of authorization, TLS and where the server listens."""

    authorization: bool | None = Field(default=None, description="security.authorization enabled")
    key_file: bool = False
    tls_mode: str | None = Field(default=None, description="net.tls.mode (disabled when not set)")
    bind_ip: list[str] = Field(default_factory=list)
    bind_ip_all: bool = False
    argv: list[str] = Field(default_factory=list)

    @property
    def listens_everywhere(self) -> bool:
        return self.bind_ip_all or any(ip.strip() in ("0.0.0.0", "::", "*") for ip in self.bind_ip)


class MongoUser(Frozen):
    user: str
    db: str
    roles: list[str] = Field(default_factory=list, description="role@db")


class MongoView(Frozen):
    """A MongoDB view: no data of its own; its pipeline runs on its source collection at every read."""

    database: str
    name: str
    view_on: str | None = Field(default=None, description="the collection (or view) it reads")
    pipeline: str | None = Field(default=None, description="its aggregation pipeline, one line of Extended JSON")

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"


class FedCollection(Frozen):
    """A collection an aggregation writes ($merge or $out), named in the profile's data_age_columns with
    the field that dates its documents: how old its newest document is, against its threshold."""

    database: str
    name: str
    field: str
    newest_at: datetime | None = None
    age_s: float | None = None
    threshold_s: float
    stale: bool | None = Field(default=None, description="None when the age could not be read")
    error: str | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"


class MongoViews(Frozen):
    read_at: datetime
    listed: bool = Field(default=True, description="False: the databases, hence their views, could not be listed")
    views: list[MongoView] = Field(default_factory=list)
    fed: list[FedCollection] = Field(default_factory=list)
    truncated: bool = False


class MongoSection(Frozen):
    """What only MongoDB has: serverStatus's counters, the WiredTiger cache, the global lock queue,
    the oplog window, dbStats per database, the command line and the users."""

    opcounters: OpCounters | None = None
    connections_total_created: int | None = None
    network_bytes_in: int | None = None
    network_bytes_out: int | None = None
    cache: WiredTigerCache | None = None
    global_lock: GlobalLock | None = None
    resident_mb: int | None = None
    host_memory_mb: int | None = Field(default=None, description="hostInfo.system.memSizeMB")
    oplog: OplogWindow | None = None
    databases: list[DatabaseStats] | None = None
    cmdline: CommandLine | None = None
    users: list[MongoUser] | None = None
    members_total: int | None = None
    voting_members: int | None = None
    views: MongoViews | None = None

    @property
    def disk_used_fraction(self) -> float | None:
        fractions = [d.fs_used_size / d.fs_total_size for d in self.databases or []
                     if d.fs_used_size is not None and d.fs_total_size]
        return max(fractions) if fractions else None


class Snapshot(Frozen):
    schema_version: int = SNAPSHOT_SCHEMA
    sequence: int
    taken_at: datetime
    target: str
    engine: Literal["postgres", "mongo"]
    reachable: bool
    error: str | None = None
    interval_s: float | None = None
    server: ServerInfo | None = None
    connections_used: int | None = None
    connections_hidden: int | None = Field(
        default=None, description="of connections_used, sessions whose type this role may not read, counted as "
                                  "clients from their user and database (Session.counts_as_client): the count "
                                  "is an estimate when this is not 0")
    sessions: list[Session] = Field(default_factory=list)
    blocking: Blocking = Field(default_factory=Blocking)
    statements: Statements = Field(default_factory=Statements)
    replication: Replication | None = None
    views: Views | None = None
    backups: Backups | None = None
    parts: dict[str, PartStatus] = Field(default_factory=dict)
    cost: CollectorCost | None = None
    postgres: PostgresSection | None = None
    mongo: MongoSection | None = None
    server_clock_s: float | None = Field(
        default=None, description="the server's clock (epoch seconds) when the sessions were read: the sessions' "
                                  "durations are counted to it (Session.read_at_s)")

    def part(self, name: str) -> PartStatus:
        return self.parts.get(name, PartStatus())

    def state_s(self, session: Session) -> float | None:
        """How long `session` had been in its state when this snapshot was taken."""
        return as_of(session.read_state_s, session.read_at_s, self.server_clock_s)

    def xact_s(self, session: Session) -> float | None:
        """How long `session`'s transaction had been open when this snapshot was taken."""
        return as_of(session.read_xact_s, session.read_at_s, self.server_clock_s)

    def query_s(self, session: Session) -> float | None:
        """How long `session`'s query (running, or its last one) had been going when this snapshot was taken."""
        return as_of(session.read_query_s, session.read_at_s, self.server_clock_s)

    @model_serializer(mode="wrap")
    def _schema_1_layout(self, handler):
        data = handler(self)
        # Each session's durations as of this snapshot, under their names; the clocks they were
        # counted from stay inside.
        data.pop("server_clock_s", None)
        for session, out in zip(self.sessions, data.get("sessions") or ()):
            out.pop("read_at_s", None)
            for name, as_of_snapshot in (("state_s", self.state_s), ("xact_s", self.xact_s), ("query_s", self.query_s)):
                if name in out:
                    out[name] = as_of_snapshot(session)
        if data.get("mongo") is None:
            data.pop("mongo", None)
        if self.engine != "postgres":
            if data.get("postgres") is None:
                data.pop("postgres", None)
            return data
        section = data.pop("postgres", None) or {}
        data["activity"] = section.get("activity")
        data["catalog"] = section.get("catalog")
        data["manager"] = section.get("manager")
        if data.get("replication") is not None:
            data["replication"]["slots"] = section.get("slots", [])
        if data.get("backups") is not None:
            data["backups"]["archiving"] = section.get("archiving")
            data["backups"]["pgbackrest"] = section.get("pgbackrest")
        return data

    @model_validator(mode="before")
    @classmethod
    def _from_schema_1_layout(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("engine") != "postgres" or "postgres" in data:
            return data
        data = dict(data)
        section = {"activity": data.pop("activity", None), "catalog": data.pop("catalog", None),
                   "manager": data.pop("manager", None)}
        replication = data.get("replication")
        if isinstance(replication, dict):
            replication = data["replication"] = dict(replication)
            section["slots"] = replication.pop("slots", [])
        backups = data.get("backups")
        if isinstance(backups, dict):
            backups = data["backups"] = dict(backups)
            section["archiving"] = backups.pop("archiving", None)
            section["pgbackrest"] = backups.pop("pgbackrest", None)
        data["postgres"] = section
        return data
