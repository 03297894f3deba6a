"""The catalog facts findings need (tables, indexes, foreign keys, sequences, roles, pg_hba …), read
at a low rate, section by section: a section that times out, waits on a lock or lacks a privilege is
recorded in `Catalog.gaps` and the others still arrive. Only the largest `objects_cap` tables (and
their indexes) are examined, so a database with thousands of tables cannot time the collector out.
The index and constraint definitions of a table under an ACCESS EXCLUSIVE lock are skipped
(`Catalog.locked_tables`): reading them would wait behind it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

import asyncpg

from ..snapshot import (
    AppliedMigrations,
    ArchiveBacklog,
    AvoidedTypes,
    Catalog,
    CatalogSetting,
    Checkpoints,
    ColumnRef,
    DefinerFunction,
    ForeignKeyTypeMismatch,
    IndexBloat,
    MostlyNullIndex,
    PartitionedTable,
    PreparedXact,
    StatementSpill,
    UnenforcedPolicies,
    ConstraintFacts,
    DatabaseAge,
    DeadlockLog,
    ForeignKeyFacts,
    HbaRule,
    IndexFacts,
    InsecureConnection,
    RoleFacts,
    SequenceFacts,
    TableBloat,
    TableFacts,
    TriggerFacts,
)
from ..quoting import qualified
from ..redact import redact
from .errors import explain_error
from .queries import sql
from .server_log import deadlock_reports

Fetch = Callable[..., Awaitable[list[asyncpg.Record]]]

SECTION_PRIVILEGE = {
    "hba_rules": "reading pg_hba_file_rules needs a superuser (or GRANT EXECUTE ON FUNCTION pg_hba_file_rules() "
                 "TO this role)",
    "insecure_connections": "other roles' client addresses need pg_read_all_stats: GRANT pg_monitor TO this role",
    "md5_password_roles": "reading stored password hashes (pg_authid) needs a superuser",
    "archive_backlog": "pg_ls_archive_statusdir() needs a superuser or pg_monitor: GRANT pg_monitor TO this role",
    "statement_spills": "other roles' statements need pg_read_all_stats: GRANT pg_monitor TO this role",
    "applied_migrations": "GRANT SELECT ON the alembic_version / django_migrations table TO this role",
    "deadlock_log": "log_directory is outside the data directory: GRANT pg_read_server_files TO this role",
}

# How much of the server log's end the deadlock reports are looked for in: a log is often GBs.
LOG_TAIL_BYTES = 1024 * 1024
DEADLOCK_REPORTS_KEPT = 5

# The settings the catalog's rules judge (besides those the collector reads for the panels).
CATALOG_SETTINGS = ["fsync", "full_page_writes", "synchronous_commit", "data_checksums", "random_page_cost",
                    "work_mem", "shared_buffers", "max_slot_wal_keep_size", "autovacuum_freeze_max_age",
                    "autovacuum_multixact_freeze_max_age", "max_wal_size", "checkpoint_timeout", "wal_level"]

# The JSON arrays of catalog_design and the model of their items (None: a list of names).
DESIGN_SECTIONS: dict[str, type | None] = {
    "definer_functions": DefinerFunction, "untrusted_languages": None, "public_create_schemas": None,
    "unenforced_policies": UnenforcedPolicies, "partitioned_tables": PartitionedTable,
    "avoided_types": AvoidedTypes, "foreign_key_type_mismatches": ForeignKeyTypeMismatch,
    "unreferenced_id_columns": ColumnRef, "mostly_null_indexes": MostlyNullIndex,
}


def _gap(section: str, exc: asyncpg.PostgresError) -> str:
    failed = explain_error(exc, privilege_fix=SECTION_PRIVILEGE.get(section))
    if failed is None:
        raise exc
    return failed.explained


def _without_lock_flag(row: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(row).items() if k != "locked"}


async def read_catalog(fetch: Fetch, major: int, *, objects_cap: int = 2000) -> Catalog:
    values: dict[str, Any] = {"read_at": datetime.now(timezone.utc), "objects_cap": objects_cap}
    gaps: dict[str, str] = {}
    truncated: dict[str, bool] = {}
    locked: set[str] = set()

    async def section(name: str, query: str, *args: Any) -> list[asyncpg.Record] | None:
        try:
            return await fetch(sql(query, major), *args)
        except asyncpg.PostgresError as exc:
            gaps[name] = redact(_gap(name, exc))
            return None

    tables = await section("tables", "catalog_tables", objects_cap)
    if tables is not None:
        values["tables"] = [TableFacts(**dict(r)) for r in tables]
        truncated["tables"] = bool(tables) and tables[0]["total"] > len(tables)
        values["stats_reset"] = tables[0]["stats_reset"] if tables else None
        indexes = await section("indexes", "catalog_indexes", [r["oid"] for r in tables])
        if indexes is not None:
            values["indexes"] = [IndexFacts(**_without_lock_flag(r)) for r in indexes if not r["locked"]]
            locked.update(f"{r['schema_name']}.{r['table']}" for r in indexes if r["locked"])
        bloat = await section("table_bloat", "catalog_table_bloat", [r["oid"] for r in tables])
        if bloat is not None:
            values["table_bloat"] = [TableBloat(**dict(r)) for r in bloat]
        index_bloat = await section("index_bloat", "catalog_index_bloat", [r["oid"] for r in tables])
        if index_bloat is not None:
            values["index_bloat"] = [IndexBloat(**dict(r)) for r in index_bloat]
        design = await section("design", "catalog_design", [r["oid"] for r in tables])
        if design is not None:
            row = design[0]
            for name, item in DESIGN_SECTIONS.items():
                items = json.loads(row[name])
                values[name] = items if item is None else [item(**i) for i in items]
        else:
            gaps.update({name: gaps["design"] for name in DESIGN_SECTIONS})
            del gaps["design"]
    else:
        for name in ("indexes", "table_bloat", "index_bloat", *DESIGN_SECTIONS):
            gaps[name] = "needs the tables, which could not be read"
    keys = await section("foreign_keys", "catalog_foreign_keys", objects_cap * 4)
    if keys is not None:
        values["foreign_keys"] = [ForeignKeyFacts(**dict(r)) for r in keys]
        truncated["foreign_keys"] = bool(keys) and keys[0]["total"] > len(keys)
    small = await section("small", "catalog_small")
    if small is not None:
        row = small[0]
        constraints = json.loads(row["constraints_not_valid"])
        values["constraints_not_valid"] = [ConstraintFacts(**_without_lock_flag(c)) for c in constraints
                                           if not c["locked"]]
        locked.update(f"{c['schema_name']}.{c['table']}" for c in constraints if c["locked"])
        values["disabled_triggers"] = [TriggerFacts(**t) for t in json.loads(row["disabled_triggers"])]
        values["roles"] = [RoleFacts(**r) for r in json.loads(row["roles"])]
        values["databases"] = [DatabaseAge(**d) for d in json.loads(row["databases"])]
    else:
        for name in ("constraints_not_valid", "disabled_triggers", "roles", "databases"):
            gaps[name] = gaps["small"]
        del gaps["small"]
    sequences = await section("sequences", "catalog_sequences", objects_cap)
    if sequences is not None:
        values["sequences"] = [SequenceFacts(**dict(r)) for r in sequences]
        truncated["sequences"] = bool(sequences) and sequences[0]["total"] > len(sequences)
    hba = await section("hba_rules", "catalog_hba")
    if hba is not None:
        values["hba_rules"] = [HbaRule(**{k: v for k, v in dict(r).items() if v is not None}) for r in hba]
    addresses = await section("server_addresses", "catalog_server_addresses")
    if addresses is not None:
        row = addresses[0]
        listed = [a.strip() for a in (row["listen_addresses"] or "").split(",") if a.strip()]
        values["server_addresses"] = ([row["reached"]] if row["reached"] else []) + listed
    md5 = await section("md5_password_roles", "catalog_password_hashes")
    if md5 is not None:
        values["md5_password_roles"] = [r["name"] for r in md5]
    insecure = await section("insecure_connections", "catalog_insecure_connections")
    if insecure is not None:
        values["insecure_connections"] = [InsecureConnection(**dict(r)) for r in insecure]
    prepared = await section("prepared_xacts", "catalog_prepared_xacts")
    if prepared is not None:
        values["prepared_xacts"] = [PreparedXact(**dict(r)) for r in prepared]
    checkpoints = await section("checkpoints", "catalog_checkpoints")
    if checkpoints:
        values["checkpoints"] = Checkpoints(**dict(checkpoints[0]))
    has_statements = bool(checkpoints) and checkpoints[0]["has_statements"]
    backlog = await section("archive_backlog", "catalog_archive_status")
    if backlog:
        values["archive_backlog"] = ArchiveBacklog(**dict(backlog[0]))
    settings = await section("settings", "catalog_settings", CATALOG_SETTINGS)
    if settings is not None:
        values["settings"] = {r["name"]: CatalogSetting(**{k: v for k, v in dict(r).items() if k != "name"})
                              for r in settings}
    spills = await section("statement_spills", "catalog_statement_spills") if has_statements else None
    if spills is not None:
        values["statement_spills"] = [StatementSpill(**dict(r)) for r in spills]
    migration_tables = await section("applied_migrations", "catalog_migration_tables")
    if migration_tables is not None:
        applied = await _applied_migrations(fetch, major, migration_tables, gaps)
        if applied is not None:
            values["applied_migrations"] = applied
    access = await section("deadlock_log", "catalog_server_log_access")
    if access is not None:
        role = access[0]["role"]
        if not access[0]["may_read"]:
            gaps["deadlock_log"] = (f"the server log is not readable by {role}: needs a superuser, or GRANT EXECUTE "
                                    f"ON FUNCTION pg_current_logfile(text), pg_stat_file(text, boolean), "
                                    f"pg_read_binary_file(text, bigint, bigint, boolean) TO {role} (and "
                                    f"pg_read_server_files when log_directory is outside the data directory)")
        elif not access[0]["logging_collector"]:
            gaps["deadlock_log"] = ("the server log is not kept in a file the server can read back: "
                                    "logging_collector is off (ALTER SYSTEM SET logging_collector = on; a restart)")
        else:
            tail = await section("deadlock_log", "catalog_server_log_tail", LOG_TAIL_BYTES)
            if tail is not None:
                values["deadlock_log"] = _deadlock_log(tail[0], gaps)
    return Catalog(**values, gaps=gaps, truncated=truncated, locked_tables=sorted(locked))


async def _applied_migrations(fetch: Fetch, major: int, tables: list[asyncpg.Record],
                              gaps: dict[str, str]) -> AppliedMigrations | None:
    """The rows of every alembic_version and django_migrations table found; None (and a gap) when one
    of them cannot be read: which migrations are pending is then unknown."""
    unreadable = [qualified(r["schema_name"], r["name"]) for r in tables if not r["readable"]]
    if unreadable:
        gaps["applied_migrations"] = (f"which migrations are applied is not known: no SELECT privilege on "
                                      f"{', '.join(unreadable)} (GRANT SELECT ON {', '.join(unreadable)} TO this role)")
        return None
    alembic: list[str] | None = None
    django: list[tuple[str, str]] | None = None
    try:
        for r in tables:
            table = qualified(r["schema_name"], r["name"])
            if r["name"] == "alembic_version":
                rows = await fetch(sql("catalog_alembic_versions", major).format(table=table))
                alembic = (alembic or []) + [row["version"] for row in rows]
            else:
                rows = await fetch(sql("catalog_django_migrations", major).format(table=table))
                django = (django or []) + [(row["app"], row["name"]) for row in rows]
    except asyncpg.PostgresError as exc:
        gaps["applied_migrations"] = redact(_gap("applied_migrations", exc))
        return None
    return AppliedMigrations(tables=[f"{r['schema_name']}.{r['name']}" for r in tables], alembic=alembic,
                             django=django)


def _deadlock_log(row: asyncpg.Record, gaps: dict[str, str]) -> DeadlockLog | None:
    if row["file"] is None or row["tail"] is None:
        gaps["deadlock_log"] = (f"the server logs to {row['any_file']} only (csvlog or jsonlog): dbtop reads deadlock "
                                "reports from the stderr log (add stderr to log_destination)" if row["any_file"] else
                                "the server keeps no log file now (log_destination has no stderr, or the file is gone)")
        return None
    tail: bytes = row["tail"]
    cut = (row["file_size"] or 0) > len(tail)  # read from offset 0 otherwise (the file may have grown meanwhile)
    reports = deadlock_reports(tail.decode("utf-8", errors="replace"), cut_at_start=cut, keep=DEADLOCK_REPORTS_KEPT)
    return DeadlockLog(file=row["file"], bytes_read=len(tail), file_size=row["file_size"] or len(tail), reports=reports)
