"""Vacuum's other jobs, per table: freezing before transaction ID or multixact wraparound (TOAST
tables included), statistics that fell behind the table's changes, insert-only tables never
vacuumed, and prepared transactions that hold the horizon back.

dbtop actions and runbooks these point to: action:analyze, action:vacuum, runbook:xid-wraparound."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.quoting import qualified
from ...engines.snapshot import Catalog, Snapshot, TableFacts
from ..engine import CATALOG_ONLY, Thresholds, catalog_sections, rule
from ..model import Evidence, Finding, Severity
from ..wording import clean, duration

EVIDENCE_LIMIT = 10
WRAPAROUND = 2_147_483_648


def _setting(catalog: Catalog, name: str, default: float) -> float:
    setting = catalog.settings.get(name)
    return setting.number if setting is not None and setting.number is not None else default


def _freeze_severity(age: int, t: Thresholds) -> Severity:
    if age >= t.get("maintenance.xid_age_critical", 1_500_000_000):
        return Severity.CRITICAL
    return Severity.HIGH if age >= t.get("maintenance.xid_age_high", 1_000_000_000) else Severity.MEDIUM


def _aged(tables: list[TableFacts], limit: float, heap: str, toast: str) -> list[tuple[TableFacts, int, bool]]:
    """(table, its worst age, whether the TOAST table is the worse) for tables at or over `limit`."""
    aged = []
    for table in tables:
        own, of_toast = getattr(table, heap) or 0, getattr(table, toast) or 0
        if max(own, of_toast) >= limit:
            aged.append((table, max(own, of_toast), of_toast > own))
    return sorted(aged, key=lambda a: -a[1])


@rule(reads=CATALOG_ONLY)
def table_wraparound(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    """Tables whose relfrozenxid (or their TOAST table's) is older than anti-wraparound autovacuum
    should ever let it get: autovacuum is not keeping up with them."""
    catalog = catalog_sections(snapshot, "tables", "settings")
    if catalog is None:
        return
    freeze_max = _setting(catalog, "autovacuum_freeze_max_age", 200_000_000)
    limit = t.get("maintenance.table_freeze_factor", 1.5) * freeze_max
    aged = _aged(catalog.tables, limit, "xid_age", "toast_xid_age")
    if not aged:
        return
    worst = aged[0][1]
    yield Finding(
        id="maintenance.table_wraparound", rule="maintenance.table_wraparound", area="capacity",
        severity=_freeze_severity(worst, t),
        title=f"{len(aged)} table(s) past {limit / freeze_max:.1f}x autovacuum_freeze_max_age; the oldest at "
              f"{worst:,} transactions ({100 * worst / WRAPAROUND:.0f}% of wraparound)",
        evidence=[Evidence(subject=table.qualified_name + (" (its TOAST table)" if toast else ""),
                           detail=f"age(relfrozenxid) = {age:,}; autovacuum_freeze_max_age = {freeze_max:,.0f}")
                  for table, age, toast in aged[:EVIDENCE_LIMIT]],
        impact="Anti-wraparound autovacuum should have frozen these at autovacuum_freeze_max_age and has not "
               "(cancelled, blocked, or too slow): when the oldest reaches about 2 billion the server refuses "
               "writes until it is vacuumed. A TOAST table ages on its own and counts the same.",
        fix="VACUUM (FREEZE) the oldest first, outside peak hours; find what stops autovacuum on them (long "
            "transactions, a lock it keeps being cancelled by, cost limits too low for their size).",
        statement="\n".join(f"VACUUM (FREEZE, VERBOSE) {qualified(table.schema_name, table.name)};"
                            for table, _, _ in aged[:EVIDENCE_LIMIT]),
        addressed_by="runbook:xid-wraparound")


@rule(reads=CATALOG_ONLY)
def multixact_wraparound(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    """Multixact IDs (row locks shared by several transactions, foreign key checks) wrap around too,
    against autovacuum_multixact_freeze_max_age; per database and per table."""
    catalog = catalog_sections(snapshot, "tables", "databases", "settings")
    if catalog is None:
        return
    freeze_max = _setting(catalog, "autovacuum_multixact_freeze_max_age", 400_000_000)
    limit = t.get("maintenance.table_freeze_factor", 1.5) * freeze_max
    databases = sorted((d for d in catalog.databases if (d.mxid_age or 0) >= limit), key=lambda d: -(d.mxid_age or 0))
    aged = _aged(catalog.tables, limit, "mxid_age", "toast_mxid_age")
    if not databases and not aged:
        return
    worst = max([d.mxid_age or 0 for d in databases] + [age for _, age, _ in aged])
    evidence = [Evidence(subject=f"database {d.name}", detail=f"mxid_age(datminmxid) = {d.mxid_age:,}")
                for d in databases[:EVIDENCE_LIMIT]]
    evidence += [Evidence(subject=table.qualified_name + (" (its TOAST table)" if toast else ""),
                          detail=f"mxid_age(relminmxid) = {age:,}") for table, age, toast in aged[:EVIDENCE_LIMIT]]
    yield Finding(
        id="maintenance.mxid_wraparound", rule="maintenance.mxid_wraparound", area="capacity",
        severity=_freeze_severity(worst, t),
        title=f"Multixact age {worst:,} ({limit / freeze_max:.1f}x autovacuum_multixact_freeze_max_age "
              f"{freeze_max:,.0f} or more)",
        evidence=evidence,
        impact="Multixacts wrap around like transaction IDs: near 2 billion the server stops writes; well before "
               "that, the pg_multixact members area can fill and stop them too. Heavy SELECT … FOR SHARE or "
               "foreign key checks on hot rows consume them fast.",
        fix="VACUUM (FREEZE) the oldest tables; look for long transactions and for workloads that lock the same "
            "rows from many sessions.",
        statement="\n".join(f"VACUUM (FREEZE, VERBOSE) {qualified(table.schema_name, table.name)};"
                            for table, _, _ in aged[:EVIDENCE_LIMIT]) or None,
        addressed_by="runbook:xid-wraparound")


@rule(reads=CATALOG_ONLY)
def stale_statistics(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    """Statistics older than the table's changes: analyzed once, then modified far past the point where
    autovacuum should have analyzed it again. Ages are as of the catalog's reading, as the counts of
    changed rows are: evaluated once per reading (thousands of tables), not on every snapshot."""
    catalog = catalog_sections(snapshot, "tables")
    if catalog is None:
        return
    fraction = t.get("maintenance.stale_mod_fraction", 0.3)
    min_rows = t.get("maintenance.stale_min_rows", 10_000)
    min_age = t.get("maintenance.stale_min_age_s", 6 * 3600)
    stale = []
    for table in catalog.tables:
        last = max((v for v in (table.last_analyze, table.last_autoanalyze) if v is not None), default=None)
        changed = table.modified_since_analyze
        if last is None or changed is None or changed < min_rows or changed < fraction * max(table.live_rows, 1):
            continue
        age = (catalog.read_at - last).total_seconds()
        if age >= min_age:
            stale.append((table, changed, age))
    if not stale:
        return
    stale.sort(key=lambda s: -s[1])
    yield Finding(
        id="maintenance.stale_statistics", rule="maintenance.stale_statistics", area="performance",
        severity=Severity.MEDIUM,
        title=f"{len(stale)} table(s) changed well beyond their last ANALYZE",
        evidence=[Evidence(subject=table.qualified_name,
                           detail=f"{changed:,} rows modified since its last analyze {duration(age)} ago "
                                  f"({100 * changed / max(table.live_rows, 1):.0f}% of {table.live_rows:,})")
                  for table, changed, age in stale[:EVIDENCE_LIMIT]],
        impact="The planner estimates from the old distribution: new values look absent, row counts are off by "
               "the churn, and plans flip to nested loops or sequential scans that were right for the old data.",
        fix="ANALYZE them now; for tables that change in bursts lower autovacuum_analyze_scale_factor on the table "
            "(or analyze after the load job).",
        statement="\n".join(f"ANALYZE {qualified(table.schema_name, table.name)};"
                            for table, _, _ in stale[:EVIDENCE_LIMIT]),
        addressed_by="action:analyze", action_params={"table": stale[0][0].qualified_name})


@rule(reads=CATALOG_ONLY)
def vacuum_behind_inserts(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    """Insert-mostly tables whose inserted rows were never vacuumed (PostgreSQL 13 counts them): no
    visibility map for index-only scans, and all of it to freeze at once later."""
    catalog = catalog_sections(snapshot, "tables")
    if catalog is None:
        return
    min_rows = t.get("maintenance.inserts_unvacuumed_rows", 1_000_000)
    fraction = t.get("maintenance.inserts_unvacuumed_fraction", 0.5)
    behind = sorted(((tb, tb.inserted_since_vacuum) for tb in catalog.tables
                     if (tb.inserted_since_vacuum or 0) >= min_rows
                     and tb.inserted_since_vacuum >= fraction * max(tb.live_rows, 1)), key=lambda b: -b[1])
    if not behind:
        return
    yield Finding(
        id="maintenance.vacuum_behind_inserts", rule="maintenance.vacuum_behind_inserts", area="capacity",
        severity=Severity.LOW,
        title=f"{len(behind)} table(s) with most of their rows inserted since the last vacuum",
        evidence=[Evidence(subject=tb.qualified_name, detail=f"{rows:,} rows inserted since the last vacuum, "
                                                             f"{tb.live_rows:,} live")
                  for tb, rows in behind[:EVIDENCE_LIMIT]],
        impact="Pages not yet marked all-visible make index-only scans read the table, and every one of those "
               "rows must be frozen later, in one long anti-wraparound vacuum.",
        fix="Vacuum them; on PostgreSQL 13+ lower autovacuum_vacuum_insert_scale_factor for insert-only tables "
            "(before 13, schedule a vacuum after bulk loads).",
        statement="\n".join(f"VACUUM (ANALYZE) {qualified(tb.schema_name, tb.name)};" for tb, _ in behind[:EVIDENCE_LIMIT]),
        addressed_by="action:vacuum", action_params={"table": behind[0][0].qualified_name})


@rule
def prepared_transactions(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "prepared_xacts")
    max_age = t.get("maintenance.prepared_xact_max_age_s", 300)
    old = [p for p in (catalog.prepared_xacts if catalog else [])
           if (snapshot.taken_at - p.prepared).total_seconds() >= max_age]
    if not old:
        return
    oldest = max((snapshot.taken_at - p.prepared).total_seconds() for p in old)
    yield Finding(
        id="maintenance.prepared_xact", rule="maintenance.prepared_xact", area="capacity",
        severity=Severity.CRITICAL if oldest >= t.get("maintenance.prepared_xact_critical_s", 86400) else Severity.HIGH,
        title=f"{len(old)} prepared transaction(s) waiting, the oldest for {duration(oldest)}",
        evidence=[Evidence(subject=f"gid {clean(p.gid, 80)}",
                           detail=f"prepared {duration((snapshot.taken_at - p.prepared).total_seconds())} ago by "
                                  f"{p.owner or '?'} in {p.database or '?'}"
                                  + (f"; xid age {p.xid_age:,}" if p.xid_age is not None else ""))
                  for p in old[:EVIDENCE_LIMIT]],
        impact="A prepared transaction survives disconnects and restarts: it keeps its locks (writers to those "
               "rows wait), and holds back the xmin horizon, so vacuum cleans nothing newer anywhere and the "
               "transaction ID age climbs towards wraparound.",
        fix="Ask the transaction manager (the application's XA/2PC coordinator) whether each should commit or roll "
            "back; if it is gone, resolve them by hand in their database.",
        statement="\n".join(f"-- in database {clean(p.database or '?', 63)}: COMMIT PREPARED or\n"
                            f"ROLLBACK PREPARED '{clean(p.gid, 200).replace(chr(39), chr(39) * 2)}';"
                            for p in old[:EVIDENCE_LIMIT]),
        addressed_by="runbook:xid-wraparound")
