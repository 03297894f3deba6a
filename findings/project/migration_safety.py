"""Migration safety with live sizes: the risky operations of the migrations the audited database has not
applied yet (newer than its `alembic_version` / `django_migrations`), each joined with its table's size and
write rate from the catalog, so that an index built without CONCURRENTLY on a 12-row table is Info and on a
40 GB table written 500 times a second is High, with the lock it takes and about how long it would hold it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from ...engines.snapshot import Catalog, TableFacts
from ..engine import Thresholds
from ..model import Evidence, Finding, Severity
from ..wording import clean, duration, size
from .alembic import AlembicChain
from .django import migration_class, migration_pairs
from .migration_operations import KINDS, MigrationOperation, alembic_operations, django_db_tables, django_operations

# How fast a build or rewrite reads the table, to turn its size into time blocked: a planning figure,
# set per profile (thresholds: migrations.scan_mb_per_s) to what this server's disks do.
DEFAULT_SCAN_MB_PER_S = 200


@dataclass(frozen=True)
class Pending:
    """The operations of the migrations not yet applied, and what could be said about the rest."""

    operations: list[MigrationOperation]
    notes: list[str]


def _alembic_pending(chain: AlembicChain, applied: list[str] | None) -> tuple[set[str], str | None]:
    """The revision ids of `chain` not applied: every one not an ancestor of (or equal to) an applied head."""
    ids = {r.revision for r in chain.revisions}
    if applied is None:
        return ids, f"{chain.directory}: no alembic_version table in the database: every revision taken as pending"
    downs = {r.revision: r.down_revisions for r in chain.revisions}
    done: set[str] = set()
    stack = [v for v in applied if v in ids]
    while stack:
        revision = stack.pop()
        if revision not in done:
            done.add(revision)
            stack += downs.get(revision, [])
    unknown = [v for v in applied if v not in ids]
    note = (f"{chain.directory}: alembic_version names {', '.join(clean(v, 40) for v in unknown)}, which no revision "
            f"file here defines") if unknown else None
    return ids - done, note


def pending_operations(chains: list[tuple[AlembicChain, dict[str, str]]], django_files: dict[str, str],
                       catalog: Catalog) -> Pending:
    """The risky operations of the pending migrations (`chains`: each Alembic history with its files' texts;
    `django_files`: Django migration files by path), judged pending from `catalog.applied_migrations`."""
    applied = catalog.applied_migrations
    assert applied is not None
    operations: list[MigrationOperation] = []
    notes: list[str] = []
    for chain, files in chains:
        pending, note = _alembic_pending(chain, applied.alembic)
        notes += [note] if note else []
        for revision in chain.revisions:
            if revision.revision in pending and revision.file in files:
                operations += alembic_operations(revision.revision, revision.file, files[revision.file])
        notes.append(f"{chain.directory}: {len(pending)} of {len(chain.revisions)} Alembic revisions pending")
    if django_files:
        if applied.django is None:
            notes.append("no django_migrations table in the database: every Django migration taken as pending")
        done = set(applied.django or [])
        tables = django_db_tables(django_files)
        count = 0
        for path, text in sorted(django_files.items()):
            p = PurePosixPath(path)
            label = p.parent.parent.name
            found = migration_class(text)
            replaces = migration_pairs(found[1].get("replaces")) if found else []
            if (label, p.stem) in done or (replaces and all(pair in done for pair in replaces)):
                continue
            count += 1
            operations += django_operations(label, p.stem, path, text, tables)
        notes.append(f"{count} of {len(django_files)} Django migrations pending")
    return Pending(operations, notes)


def _table(catalog: Catalog, name: str) -> TableFacts | None:
    schema, _, table = name.rpartition(".")
    matches = [t for t in catalog.tables if t.name == table and (not schema or t.schema_name == schema)]
    if len(matches) > 1:
        matches = [t for t in matches if t.schema_name == "public"] or matches
    return matches[0] if matches else None


def _writes_per_second(catalog: Catalog, table: TableFacts) -> float | None:
    counters = [table.rows_inserted, table.rows_updated, table.rows_deleted]
    if catalog.stats_reset is None or all(c is None for c in counters):
        return None
    seconds = (catalog.read_at - catalog.stats_reset).total_seconds()
    return sum(c or 0 for c in counters) / seconds if seconds > 0 else None


def _rate(writes: float | None) -> str:
    if writes is None:
        return "write rate unknown"
    return f"{writes:,.0f} writes/s" if writes >= 1 else f"{writes:.2f} writes/s"


def operation_finding(operation: MigrationOperation, catalog: Catalog, thresholds: Thresholds) -> Finding:
    kind = KINDS[operation.kind]
    table = _table(catalog, operation.table) if operation.table else None
    name = clean(operation.table or "?", 80)
    mb_per_s = thresholds.get("migrations.scan_mb_per_s", DEFAULT_SCAN_MB_PER_S)
    evidence = [Evidence(subject=operation.migration, detail=clean(operation.written, 160), location=operation.location)]
    if operation.kind == "concurrently_in_transaction":
        severity, title = Severity.HIGH, f"{operation.migration}: {kind.what} on {name}: {kind.blocks}"
    elif table is None:
        capped = catalog.truncated.get("tables", False)
        severity = Severity.LOW if capped else Severity.INFO
        where = (f"not among the {len(catalog.tables)} largest tables examined: smaller than "
                 f"{size(min((t.size_bytes for t in catalog.tables), default=0))}") if capped else \
            "no such table in the database (made by a pending migration, or named differently)"
        title = f"{operation.migration}: {kind.what} on {name} ({where})"
        evidence.append(Evidence(subject=name, detail=where))
    else:
        writes = _writes_per_second(catalog, table)
        since = f" since statistics were reset {duration((catalog.read_at - catalog.stats_reset).total_seconds())} ago" \
            if catalog.stats_reset else ""
        facts = f"{size(table.size_bytes)}, {table.live_rows:,} rows, {_rate(writes)}"
        evidence.append(Evidence(subject=table.qualified_name, detail=f"{facts}{since} (live, from the catalog)"))
        if kind.scans:
            blocked = table.size_bytes / (mb_per_s * 1_000_000)
            queued = (writes or 0) * blocked
            if blocked >= thresholds.get("migrations.blocked_high_s", 60) or \
                    queued >= thresholds.get("migrations.queued_writes_high", 10_000):
                severity = Severity.HIGH
            elif blocked >= thresholds.get("migrations.blocked_medium_s", 5) or queued >= 500:
                severity = Severity.MEDIUM
            elif blocked >= 1:
                severity = Severity.LOW
            else:
                severity = Severity.INFO
            consequence = f"{kind.blocks} (≈ {duration(blocked)} at {mb_per_s:.0f} MB/s" + (
                f", ≈ {queued:,.0f} writes held back)" if writes else ")")
        elif operation.kind == "required_column":
            severity = Severity.HIGH if table.live_rows > 0 else Severity.INFO
            consequence = f"fails: the table has {table.live_rows:,} rows" if table.live_rows > 0 else \
                "works only while the table is empty"
        else:
            used = bool(writes) or bool(table.seq_scan) or bool(table.idx_scan)
            severity = Severity.MEDIUM if used else Severity.LOW
            consequence = kind.blocks + ("" if used else " (no reads or writes counted on it)")
        title = f"{operation.migration}: {kind.what} on {table.qualified_name} ({facts}): {consequence}"
    impact = f"Takes {kind.lock} on the table: it {kind.blocks}."
    if operation.kind == "concurrently_in_transaction":
        impact = (f"The migration {kind.blocks}; migrations after it do not run until it is fixed, and a tool that "
                  "retries redeploys into the same error.")
    elif kind.lock.startswith("ACCESS EXCLUSIVE") or kind.scans:
        impact += (" While it waits for that lock behind running transactions, every later query on the table "
                   "queues behind it.")
    return Finding(
        id=f"project.migration.{operation.kind}:{operation.location}:{name}", rule=f"project.migration.{operation.kind}",
        area="migrations", severity=severity, title=title, evidence=evidence, impact=impact,
        fix=f"{kind.fix} Run migrations with a short lock_timeout (SET lock_timeout = '5s') and retry, so a migration "
            f"never queues the application behind it. (Squawk: {kind.squawk})",
        source="project")


def migration_safety_findings(chains: list[tuple[AlembicChain, dict[str, str]]], django_files: dict[str, str],
                              catalog: Catalog | None, thresholds: Thresholds) -> tuple[list[Finding], list[str]]:
    """The findings for the pending migrations' risky operations, and notes on what was judged."""
    if not chains and not django_files:
        return [], []
    if catalog is None:
        return [], ["migration safety not judged: give the database (TARGET) to tell the pending migrations from "
                    "the applied ones and to size their tables"]
    if catalog.applied_migrations is None:
        why = catalog.gaps.get("applied_migrations", "not read")
        return [], [f"migration safety not judged: which migrations are applied is not known ({why})"]
    if "tables" in catalog.gaps:
        return [], [f"migration safety not judged: the tables' sizes were not read ({catalog.gaps['tables']})"]
    pending = pending_operations(chains, django_files, catalog)
    return [operation_finding(o, catalog, thresholds) for o in pending.operations], pending.notes
