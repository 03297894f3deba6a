"""Maturity levels 1-5 for the ten areas of a database audit, derived from the findings and from what
could be checked at all; each level with its justification, and an overall level.

A checklist item is "not done" when any finding of its rules exists, whatever area the finding is
filed under (an architecture item can be undone by a security finding), and such a finding counts
towards the item's area too.
An area's level: its worst finding decides (Critical 1, High 2, Medium 3, Low 4); with no finding (or
Info only) it is 5 when every checklist item could be decided, else 4 (what could not be checked is
not assumed good).
An area where nothing could be checked is not assessed (no level). The overall level is the mean of
the assessed areas rounded down, and at most one above the weakest area: one broken area is not
averaged away.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..engines.snapshot import Snapshot
from .engine import LOCKABLE_SECTIONS, locked_tables_note
from .hba import unchecked_trust_lines
from .model import AREA_TITLES, Finding, Severity
from .project.migration_operations import KINDS as MIGRATION_KINDS

LEVEL_FOR_SEVERITY = {Severity.CRITICAL: 1, Severity.HIGH: 2, Severity.MEDIUM: 3, Severity.LOW: 4, Severity.INFO: 5}


@dataclass(frozen=True)
class AuditContext:
    """What the scorer knows besides the findings: the snapshot (None without a live target) and
    whether an application repository was audited."""

    snapshot: Snapshot | None
    project_audited: bool = False
    project_in_git: bool = False


Check = Callable[[AuditContext], str | None]  # None when it can be decided, else why not


@dataclass(frozen=True)
class ChecklistItem:
    text: str
    rules: tuple[str, ...]
    available: Check


class ChecklistResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    item: str
    status: Literal["done", "not done", "not checked"]
    note: str | None = None


class AreaScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    area: str
    title: str
    level: int | None
    justification: str
    checklist: list[ChecklistResult]
    finding_ids: list[str]


class Scores(BaseModel):
    model_config = ConfigDict(frozen=True)

    overall: int | None
    overall_justification: str
    areas: list[AreaScore]


def _live(ctx: AuditContext) -> str | None:
    snap = ctx.snapshot
    if snap is None or not snap.reachable or snap.server is None:
        return "no live database was examined"
    return None


def _part(name: str) -> Check:
    def check(ctx: AuditContext) -> str | None:
        missing = _live(ctx)
        if missing:
            return missing
        part = ctx.snapshot.part(name)
        if not part.available:
            return f"{name} could not be read: {part.reason}"
        return None
    return check


def _read(part: Callable[[Snapshot], object], what: str) -> Check:
    """The item can be decided when the snapshot has this part."""
    def check(ctx: AuditContext) -> str | None:
        missing = _live(ctx)
        if missing:
            return missing
        return None if part(ctx.snapshot) is not None else f"{what} was not read"
    return check


def _catalog(section: str, unread: str | None = None) -> Check:
    """`unread`: why not, when the section is None in the snapshot (a section older snapshots lack)."""
    def check(ctx: AuditContext) -> str | None:
        missing = _live(ctx)
        if missing:
            return missing
        catalog = ctx.snapshot.postgres.catalog if ctx.snapshot.postgres else None
        if catalog is None:
            return "the catalog was not read"
        if section in catalog.gaps:
            return catalog.gaps[section]
        if section in LOCKABLE_SECTIONS and catalog.locked_tables:
            return f"not read: {locked_tables_note(catalog)}"
        if unread and getattr(catalog, section) is None:
            return unread
        return None
    return check


def _every(*checks: Check) -> Check:
    """Decided when every check is; else the first reason why not."""
    def check(ctx: AuditContext) -> str | None:
        return next((why for why in (c(ctx) for c in checks) if why), None)
    return check


def _setting(name: str) -> Check:
    def check(ctx: AuditContext) -> str | None:
        missing = _live(ctx)
        if missing:
            return missing
        return None if name in ctx.snapshot.server.settings else f"setting {name} could not be read"
    return check


def _hba_rules(ctx: AuditContext) -> str | None:
    missing = _catalog("hba_rules")(ctx)
    if missing:
        return missing
    unchecked = unchecked_trust_lines(ctx.snapshot.postgres.catalog if ctx.snapshot.postgres else None)
    if not unchecked:
        return None
    return "; ".join(f"pg_hba.conf line {hba.line_number} not checked: {judged.why}" for hba, judged in unchecked)


def _project(ctx: AuditContext) -> str | None:
    return None if ctx.project_audited else "no application repository was given (--project PATH)"


def _pending_migrations(ctx: AuditContext) -> str | None:
    """Judged with a project and the database's applied migrations (alembic_version, django_migrations)."""
    missing = _project(ctx) or _catalog("applied_migrations")(ctx)
    if missing:
        return missing
    if ctx.snapshot.postgres.catalog.applied_migrations is None:
        return "which migrations the database has applied was not read"
    return None


def _project_git(ctx: AuditContext) -> str | None:
    missing = _project(ctx)
    if missing:
        return missing
    return None if ctx.project_in_git else "the repository is not a git work tree"


CHECKLIST: dict[str, list[ChecklistItem]] = {
    "technology": [
        ChecklistItem("The major version is supported by the community", ("technology.eol",), _live),
        ChecklistItem("The end of life is more than a year away", ("technology.eol_soon",), _live),
        ChecklistItem("The newest minor release is installed", ("technology.minor_behind",), _live),
    ],
    "architecture": [
        ChecklistItem("Applications use a non-superuser role", ("security.application_superuser",), _catalog("roles")),
        ChecklistItem("Application URLs use the driver the application runs on", ("project.config.sync_url",),
                      _project),
        ChecklistItem("Tables are logged (not UNLOGGED)", ("schema.unlogged_table",), _catalog("tables")),
    ],
    "performance": [
        ChecklistItem("No statement averages over 20 ms across 100+ calls", ("performance.slow_statement",),
                      _part("statements")),
        ChecklistItem("No N+1 query pattern", ("performance.n_plus_one",), _part("statements")),
        ChecklistItem("Cache hit ratio at least 99%", ("performance.cache_hit_ratio",), _read(lambda s: s.postgres.activity if s.postgres else None, "activity")),
        ChecklistItem("No query runs over 60 s, no transaction stays open over 10 min",
                      ("connections.long_query", "connections.long_transaction"), _part("sessions")),
        ChecklistItem("No session idle in transaction over 1 min", ("connections.idle_in_transaction",),
                      _part("sessions")),
        ChecklistItem("No session blocks others for over 30 s", ("connections.root_blocker",), _part("sessions")),
        ChecklistItem("Foreign keys have supporting indexes", ("performance.fk_without_index",), _catalog("foreign_keys")),
        ChecklistItem("Large tables are read through indexes", ("performance.seq_scan_heavy",), _catalog("tables")),
        ChecklistItem("idle_in_transaction_session_timeout is set", ("connections.no_idle_transaction_timeout",),
                      _setting("idle_in_transaction_session_timeout")),
        ChecklistItem("Statistics keep up with the tables' changes", ("maintenance.stale_statistics",),
                      _catalog("tables")),
        ChecklistItem("Checkpoints are started by time, not forced by WAL volume", ("performance.checkpoints_requested",),
                      _catalog("checkpoints", "the checkpoint counters were not read")),
        ChecklistItem("No index is written far more than it is read", ("indexes.write_heavy",),
                      _every(_catalog("indexes"), _catalog("tables"))),
        ChecklistItem("Updates on update-heavy tables are mostly HOT", ("performance.hot_updates",), _catalog("tables")),
        ChecklistItem("No statement takes a third of all execution time", ("performance.dominant_statement",),
                      _part("statements")),
        ChecklistItem("No statement spills large sorts or hashes to disk", ("performance.temp_spills",),
                      _catalog("statement_spills", "pg_stat_statements is not installed in this database")),
        ChecklistItem("Few transactions roll back, deadlocks are rare", ("performance.rollback_ratio",
                                                                          "performance.deadlocks"),
                      _read(lambda s: s.postgres.activity if s.postgres else None, "activity")),
        ChecklistItem("Planner and memory settings are sized for the server (not left at defaults)",
                      ("settings.random_page_cost", "settings.work_mem_default", "settings.shared_buffers_default"),
                      _catalog("settings")),
        ChecklistItem("Partitioned tables have a manageable number of partitions", ("partitions.too_many",),
                      _catalog("partitioned_tables")),
    ],
    "schema": [
        ChecklistItem("Every table has a primary key", ("schema.no_primary_key",), _catalog("tables")),
        ChecklistItem("Foreign keys to a table agree on ON DELETE", ("schema.mixed_on_delete",),
                      _catalog("foreign_keys")),
        ChecklistItem("No NOT VALID constraints", ("schema.not_valid_constraint",), _catalog("constraints_not_valid")),
        ChecklistItem("No disabled triggers", ("schema.disabled_trigger",), _catalog("disabled_triggers")),
        ChecklistItem("No duplicate or redundant indexes", ("indexes.duplicate", "indexes.redundant"),
                      _catalog("indexes")),
        ChecklistItem("No unused large indexes", ("indexes.unused",), _catalog("indexes")),
        ChecklistItem("No invalid indexes", ("indexes.invalid",), _catalog("indexes")),
        ChecklistItem("No table with more than 10 indexes", ("indexes.too_many",), _catalog("indexes")),
        ChecklistItem("Indexes are not mostly NULLs", ("indexes.mostly_null",), _catalog("mostly_null_indexes")),
        ChecklistItem("Columns avoid timestamp without time zone, char(n) and money", ("schema.avoided_types",),
                      _catalog("avoided_types")),
        ChecklistItem("Foreign key columns have the type of the key they reference", ("schema.fk_type_mismatch",),
                      _catalog("foreign_key_type_mismatches")),
        ChecklistItem("Columns that name a table (*_id) have a foreign key", ("schema.id_without_fk",),
                      _every(_catalog("unreferenced_id_columns"), _catalog("tables"))),
        ChecklistItem("Range-partitioned tables have partitions ahead and an empty default partition",
                      ("partitions.running_out", "partitions.default_rows"), _catalog("partitioned_tables")),
        ChecklistItem("Materialized views are populated, fresh and refreshable concurrently",
                      ("views.never_populated", "views.stale", "views.no_unique_index"), _read(lambda s: s.views, "the materialized views")),
    ],
    "migrations": [
        ChecklistItem("Alembic history has one head and no broken links",
                      ("project.alembic.multiple_heads", "project.alembic.dangling_down_revision",
                       "project.alembic.duplicate_revision", "project.alembic.shared_prefix",
                       "project.alembic.unreadable"), _project),
        ChecklistItem("Django apps have one leaf migration each", ("project.django.multiple_leaves",), _project),
        ChecklistItem("The application never alters or drops the schema when it starts or deploys (TypeORM "
                      "synchronize, Sequelize sync force/alter, Prisma push --accept-data-loss or reset, Mongoose "
                      "autoIndex)",
                      ("project.orm.typeorm_synchronize", "project.orm.sequelize_sync", "project.orm.prisma_data_loss",
                       "project.orm.mongoose_auto_index"),
                      _project),
        ChecklistItem("The pending migrations run no operation that locks its table while it scans or rewrites it, "
                      "or breaks running code (Squawk's list; each judged with its table's live size and writes)",
                      tuple(f"project.migration.{kind}" for kind in MIGRATION_KINDS), _pending_migrations),
    ],
    "backup": [
        ChecklistItem("A verified backup exists within the RPO", ("backup.no_verified_backup", "backup.rpo_exceeded"),
                      _read(lambda s: s.backups, "the backup inventory")),
        ChecklistItem("WAL archiving is on and succeeding", ("backup.archiving_off", "backup.archiving_failing"),
                      _read(lambda s: s.backups, "the backup inventory")),
        ChecklistItem("Every backup has been verified", ("backup.never_verified",), _read(lambda s: s.backups, "the backup inventory")),
        ChecklistItem("No failed or partial backup files", ("backup.bad_files",), _read(lambda s: s.backups, "the backup inventory")),
        ChecklistItem("WAL segments are archived as they are written", ("backup.archive_backlog",),
                      _catalog("archive_backlog", "the archive status directory was not read")),
        ChecklistItem("fsync and full_page_writes are on", ("settings.fsync_off", "settings.full_page_writes_off"),
                      _catalog("settings")),
        ChecklistItem("Commits are durable server-wide (synchronous_commit)", ("settings.synchronous_commit_off",),
                      _catalog("settings")),
        ChecklistItem("Data checksums detect storage corruption", ("settings.no_data_checksums",), _catalog("settings")),
    ],
    "availability": [
        ChecklistItem("A standby streams from the primary", ("availability.no_standby",), _read(lambda s: s.replication, "replication")),
        ChecklistItem("Replication lag under 10 s", ("availability.replication_lag",), _read(lambda s: s.replication, "replication")),
        ChecklistItem("No inactive replication slot retains WAL", ("availability.inactive_slot",),
                      _read(lambda s: s.replication, "replication")),
        ChecklistItem("Replication slots stay within max_slot_wal_keep_size, which is set",
                      ("availability.slot_near_wal_limit", "availability.slot_wal_unbounded"),
                      _every(_read(lambda s: s.replication, "replication"), _catalog("settings"))),
    ],
    "monitoring": [
        ChecklistItem("pg_stat_statements is installed and preloaded", ("performance.pg_stat_statements_missing",),
                      _live),
        ChecklistItem("Slow statements are logged", ("monitoring.slow_query_log_off",),
                      _setting("log_min_duration_statement")),
        ChecklistItem("Every table has been analyzed", ("maintenance.never_analyzed",), _catalog("tables")),
    ],
    "security": [
        ChecklistItem("SSL is on", ("security.ssl_off",), _setting("ssl")),
        ChecklistItem("Passwords are hashed with SCRAM", ("security.md5_password_encryption",
                                                          "security.md5_stored_password"),
                      _every(_setting("password_encryption"),
                             _catalog("md5_password_roles", "the stored password hashes were not read"))),
        ChecklistItem("No trust authentication for remote addresses", ("security.hba_trust_remote",),
                      _hba_rules),
        ChecklistItem("Remote clients use SSL", ("security.insecure_connection",), _catalog("insecure_connections")),
        ChecklistItem("No default or weak passwords in the application's files",
                      ("project.config.weak_password",), _project),
        ChecklistItem("No secrets committed to the repository", ("project.secrets.committed",), _project_git),
        ChecklistItem("The application does not log statements with their parameters (SQLAlchemy echo)",
                      ("project.orm.sqlalchemy_echo",), _project),
        ChecklistItem("The application's database URLs and connection settings set a TLS mode",
                      ("project.config.no_tls",), _project),
        ChecklistItem("MongoDB URIs carry credentials and TLS", ("project.mongo.no_credentials", "project.mongo.no_tls"),
                      _project),
        ChecklistItem("SECURITY DEFINER functions pin their search_path", ("security.definer_search_path",),
                      _catalog("definer_functions")),
        ChecklistItem("No untrusted procedural language is installed", ("security.untrusted_language",),
                      _catalog("untrusted_languages")),
        ChecklistItem("PUBLIC cannot create objects in any schema", ("security.public_create",),
                      _catalog("public_create_schemas")),
        ChecklistItem("Row-level security policies are enforced", ("security.rls_not_enforced",),
                      _catalog("unenforced_policies")),
        ChecklistItem("At most two roles log in as superuser", ("security.many_superusers",), _catalog("roles")),
    ],
    "capacity": [
        ChecklistItem("Connections below 80% of max_connections", ("connections.saturation",), _part("sessions")),
        ChecklistItem("Transaction ID age is far from wraparound", ("maintenance.xid_wraparound",),
                      _catalog("databases")),
        ChecklistItem("Every table (and TOAST table) is frozen before 1.5x autovacuum_freeze_max_age",
                      ("maintenance.table_wraparound",), _every(_catalog("tables"), _catalog("settings"))),
        ChecklistItem("Multixact age is far from wraparound", ("maintenance.mxid_wraparound",),
                      _every(_catalog("tables"), _catalog("databases"), _catalog("settings"))),
        ChecklistItem("No prepared transaction is left waiting", ("maintenance.prepared_xact",),
                      _catalog("prepared_xacts")),
        ChecklistItem("Insert-only tables are vacuumed", ("maintenance.vacuum_behind_inserts",), _catalog("tables")),
        ChecklistItem("No index is mostly empty space (estimated bloat)", ("indexes.bloat",), _catalog("index_bloat")),
        ChecklistItem("Sequences below 90% of their range", ("maintenance.sequence_exhaustion",),
                      _catalog("sequences")),
        ChecklistItem("Autovacuum is on and keeps dead tuples down",
                      ("maintenance.autovacuum_off", "maintenance.table_autovacuum_off", "maintenance.dead_tuples"),
                      _catalog("tables")),
        ChecklistItem("No table is mostly empty space (estimated bloat)", ("maintenance.table_bloat",),
                      _catalog("table_bloat")),
        ChecklistItem("Application pools fit within max_connections and are sized explicitly",
                      ("project.config.pool_oversubscribed", "project.mongo.pool_unset"), _project),
    ],
}


def _mongo(read: Callable[[object], object], what: str) -> Check:
    """The item can be decided when the MongoDB section has this figure."""
    return _read(lambda s: read(s.mongo) if s.mongo is not None else None, what)


_PROJECT_ITEMS = {area: [item for item in items if item.available in (_project, _project_git)]
                  for area, items in CHECKLIST.items()}

# A MongoDB target's checklist: the checks of findings/rules/mongo.py, and the project's.
MONGO_CHECKLIST: dict[str, list[ChecklistItem]] = {
    "technology": [ChecklistItem("The release is within its end of life", ("mongo.version_eol",), _live)],
    "architecture": _PROJECT_ITEMS["architecture"],
    "performance": [
        ChecklistItem("No operation runs over 60 s", ("mongo.long_operations",), _part("sessions")),
        ChecklistItem("No operation waits for a lock", ("mongo.lock_waits",), _part("sessions")),
        ChecklistItem("Slow operations use indexes (no COLLSCAN)", ("mongo.collection_scans",), _part("statements")),
    ],
    "schema": _PROJECT_ITEMS["schema"],
    "migrations": _PROJECT_ITEMS["migrations"],
    "backup": [ChecklistItem("A verified backup exists within the RPO", ("mongo.no_verified_backup",),
                             _read(lambda s: s.backups, "the backup inventory"))],
    "availability": [
        ChecklistItem("A replica set", ("mongo.not_replica_set",), _live),
        ChecklistItem("Three or more voting members", ("mongo.few_voting_members",),
                      _mongo(lambda m: m.voting_members, "the replica set's members")),
        ChecklistItem("Replication lag under 10 s", ("mongo.replication_lag",), _read(lambda s: s.replication, "replication")),
        ChecklistItem("The oplog holds 24 h or more", ("mongo.oplog_window",), _mongo(lambda m: m.oplog, "the oplog window")),
    ],
    "monitoring": [],
    "security": [
        ChecklistItem("Authorization is enabled", ("mongo.authorization_disabled",),
                      _mongo(lambda m: m.cmdline, "getCmdLineOpts")),
        ChecklistItem("TLS is required", ("mongo.tls",), _mongo(lambda m: m.cmdline, "getCmdLineOpts")),
        ChecklistItem("Application users hold no administrative role", ("mongo.privileged_users",),
                      _mongo(lambda m: m.users, "usersInfo")),
        *_PROJECT_ITEMS["security"],
    ],
    "capacity": [
        ChecklistItem("Connections below 80% of the total", ("mongo.connections",), _part("status")),
        ChecklistItem("Disk below 85%", ("mongo.disk",), _mongo(lambda m: m.disk_used_fraction, "dbStats")),
        ChecklistItem("Resident memory below 90% of the host's", ("mongo.memory",),
                      _mongo(lambda m: m.host_memory_mb, "hostInfo")),
        *_PROJECT_ITEMS["capacity"],
    ],
}


def checklist_for(ctx: AuditContext) -> dict[str, list[ChecklistItem]]:
    engine = ctx.snapshot.engine if ctx.snapshot is not None else "postgres"
    return MONGO_CHECKLIST if engine == "mongo" else CHECKLIST


def _level(findings: list[Finding], decided_all: bool) -> int:
    ceiling = 5 if decided_all else 4
    if findings:
        return min(LEVEL_FOR_SEVERITY[max(f.severity for f in findings)], ceiling)
    return ceiling


def _grouped(findings: list[Finding]) -> tuple[dict[str, list[Finding]], dict[str, list[Finding]]]:
    by_area: dict[str, list[Finding]] = {area: [] for area in AREA_TITLES}
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_area[finding.area].append(finding)
        by_rule.setdefault(finding.rule, []).append(finding)
    return by_area, by_rule


def _area_score(area: str, by_area: dict[str, list[Finding]], by_rule: dict[str, list[Finding]],
                ctx: AuditContext) -> AreaScore:
    checklist = []
    cited: set[str] = set()  # rules of its checklist found under other areas
    for item in checklist_for(ctx).get(area, []):
        missing = item.available(ctx)
        hit = sorted(r for r in item.rules if r in by_rule)
        if hit:
            elsewhere = [f for r in hit for f in by_rule[r] if f.area != area]
            cited.update(f.rule for f in elsewhere)
            filed = sorted({AREA_TITLES[f.area] for f in elsewhere})
            note = ", ".join(hit) + (f" (filed under {', '.join(filed)})" if filed else "")
            checklist.append(ChecklistResult(item=item.text, status="not done", note=note))
        elif missing:
            checklist.append(ChecklistResult(item=item.text, status="not checked", note=missing))
        else:
            checklist.append(ChecklistResult(item=item.text, status="done"))
    found = by_area[area] + [f for r in sorted(cited) for f in by_rule[r] if f.area != area]
    decided = [c for c in checklist if c.status != "not checked"]
    if not found and not decided:
        level, why = None, "not assessed: " + (checklist[0].note if checklist else "nothing to check")
    else:
        level = _level(found, len(decided) == len(checklist))
        why = _justify(area, found, checklist)
    return AreaScore(area=area, title=AREA_TITLES[area], level=level, justification=why, checklist=checklist,
                     finding_ids=[f.id for f in found])


def score(findings: list[Finding], ctx: AuditContext) -> Scores:
    by_area, by_rule = _grouped(findings)
    areas = [_area_score(area, by_area, by_rule, ctx) for area in AREA_TITLES]
    assessed = [a.level for a in areas if a.level is not None]
    if not assessed:
        return Scores(overall=None, overall_justification="nothing could be assessed", areas=areas)
    mean = sum(assessed) / len(assessed)
    overall = min(int(mean), min(assessed) + 1)
    weakest = [a.title for a in areas if a.level == min(assessed)]
    text = (f"mean of {len(assessed)} assessed areas {mean:.1f}, held to at most one above the weakest "
            f"({min(assessed)}: {', '.join(weakest)})")
    return Scores(overall=overall, overall_justification=text, areas=areas)


def _justify(area: str, found: list[Finding], checklist: list[ChecklistResult]) -> str:
    done = sum(c.status == "done" for c in checklist)
    unchecked = sum(c.status == "not checked" for c in checklist)
    parts = []
    if found:
        worst = max(found, key=lambda f: f.severity)
        filed = f" (filed under {AREA_TITLES[worst.area]})" if worst.area != area else ""
        parts.append(f"{len(found)} finding(s), the worst {worst.severity.label}: {worst.title}{filed}")
    else:
        parts.append("no findings")
    parts.append(f"{done} of {len(checklist)} checklist items done")
    if unchecked:
        parts.append(f"{unchecked} could not be checked")
    return "; ".join(parts)


def level_without(findings: list[Finding], finding: Finding, ctx: AuditContext) -> int | None:
    """The area's level once this finding (and every finding of the same rule) is fixed."""
    by_area, by_rule = _grouped([f for f in findings if f.rule != finding.rule])
    return _area_score(finding.area, by_area, by_rule, ctx).level  # only its area: scoring all took 20 ms a rule
