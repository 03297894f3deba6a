"""Maintenance: autovacuum, dead tuples, table bloat, never-analyzed tables, transaction ID
wraparound, sequences running out.

dbtop actions and runbooks these point to: action:vacuum, action:analyze, runbook:table-bloat,
runbook:xid-wraparound, runbook:sequence-exhaustion."""

from __future__ import annotations

from collections.abc import Iterator
from ...engines.snapshot import Snapshot
from ..engine import CATALOG_ONLY, Thresholds, catalog_sections, rule
from ..model import Evidence, Finding, Severity
from ..wording import duration, size
from ...engines.quoting import qualified, quote_ident

WRAPAROUND_LIMIT = 2_147_483_648


@rule
def autovacuum_off(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    settings = snapshot.server.settings if snapshot.server else {}
    if settings.get("autovacuum") == "off":
        yield Finding(
            id="maintenance.autovacuum_off", rule="maintenance.autovacuum_off", area="capacity", severity=Severity.HIGH,
            title="Autovacuum is off for the whole server",
            evidence=[Evidence(subject="autovacuum", detail="off")],
            impact="Dead rows are never cleaned, statistics go stale, and only the anti-wraparound vacuum still runs "
                   "(late, and all at once).",
            fix="Turn it back on; tune it per table instead of disabling it.",
            statement="ALTER SYSTEM SET autovacuum = on;\nSELECT pg_reload_conf();")
    catalog = catalog_sections(snapshot, "tables")
    dead_fraction = t.get("maintenance.dead_fraction", 0.2)
    for table in catalog.tables if catalog else []:
        if table.autovacuum_enabled:
            continue
        bloated = table.dead_rows >= t.get("maintenance.dead_min_rows", 10_000) and \
            table.dead_rows >= dead_fraction * max(table.live_rows, 1)
        yield Finding(
            id=f"maintenance.table_autovacuum_off:{table.qualified_name}", rule="maintenance.table_autovacuum_off",
            area="capacity", severity=Severity.HIGH if bloated else Severity.MEDIUM,
            title=f"Autovacuum is disabled on {table.qualified_name}"
                  + (f" and it holds {table.dead_rows:,} dead rows" if bloated else ""),
            evidence=[Evidence(subject=table.qualified_name,
                               detail=f"autovacuum_enabled = false; {table.live_rows:,} live, {table.dead_rows:,} dead rows")],
            impact="Nothing cleans this table's dead rows: it grows, its scans slow down, and its statistics age.",
            fix="Re-enable autovacuum for the table (tune its thresholds if it was disabled for load), and vacuum it now.",
            statement=f"ALTER TABLE {qualified(table.schema_name, table.name)} RESET (autovacuum_enabled);\n"
                      f"VACUUM (ANALYZE) {qualified(table.schema_name, table.name)};",
            addressed_by="action:vacuum", action_params={"table": table.qualified_name})


@rule
def dead_tuples(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "tables")
    if catalog is None:
        return
    fraction = t.get("maintenance.dead_fraction", 0.2)
    min_dead = t.get("maintenance.dead_min_rows", 10_000)
    max_age = t.get("maintenance.vacuum_max_age_s", 86400)
    for table in catalog.tables:
        if table.dead_rows < min_dead or table.dead_rows < fraction * max(table.live_rows, 1):
            continue
        last = max((v for v in (table.last_vacuum, table.last_autovacuum) if v is not None), default=None)
        age = (snapshot.taken_at - last).total_seconds() if last else None
        if age is not None and age < max_age:
            continue
        yield Finding(
            id=f"maintenance.dead_tuples:{table.qualified_name}", rule="maintenance.dead_tuples", area="capacity",
            severity=Severity.HIGH if table.dead_rows >= table.live_rows else Severity.MEDIUM,
            title=f"{table.qualified_name}: {table.dead_rows:,} dead rows ({100 * table.dead_rows / max(table.live_rows, 1):.0f}% "
                  f"of live), last vacuumed {'never' if last is None else duration(age) + ' ago'}",
            evidence=[Evidence(subject=table.qualified_name,
                               detail=f"{table.live_rows:,} live, {table.dead_rows:,} dead; "
                                      + (f"last vacuum {last:%Y-%m-%d %H:%M}" if last else "never vacuumed")
                                      + ("; autovacuum disabled" if not table.autovacuum_enabled else ""))],
            impact="Dead rows take space and are read by every scan; the table and its indexes bloat.",
            fix="Vacuum it now; find what stops autovacuum (disabled, long transactions, too conservative settings).",
            statement=f"VACUUM (ANALYZE, VERBOSE) {qualified(table.schema_name, table.name)};",
            addressed_by="action:vacuum", action_params={"table": table.qualified_name})


@rule(reads=CATALOG_ONLY)
def table_bloat(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "table_bloat")
    if catalog is None:
        return
    min_wasted = t.get("maintenance.bloat_min_bytes", 100 * 1024 * 1024)
    min_fraction = t.get("maintenance.bloat_fraction", 0.5)
    for table in catalog.table_bloat:
        wasted = table.wasted_bytes
        if wasted is None or wasted < min_wasted or wasted < min_fraction * table.size_bytes:
            continue
        fraction = wasted / table.size_bytes
        name = qualified(table.schema_name, table.table)
        yield Finding(
            id=f"maintenance.table_bloat:{table.qualified_name}", rule="maintenance.table_bloat", area="capacity",
            severity=Severity.HIGH if fraction >= 0.8 and wasted >= 1024 ** 3 else Severity.MEDIUM,
            title=f"{table.qualified_name}: about {size(wasted)} of its {size(table.size_bytes)} is empty space "
                  f"({100 * fraction:.0f}%, estimated)",
            evidence=[Evidence(subject=table.qualified_name,
                               detail=f"{size(table.size_bytes)} on disk; {table.estimated_rows:,} rows would fill "
                                      f"about {size(table.expected_bytes)} at fillfactor {table.fillfactor} "
                                      "(estimate from the planner's statistics: re-ANALYZE if they are old)")],
            impact="Every sequential scan reads the empty pages too, backups and replicas carry them, and the cache "
                   "holds less of the live data.",
            fix="VACUUM makes the space reusable but does not give it back. To shrink the table use pg_repack "
                "(online; needs the extension and a primary key) or VACUUM FULL in a maintenance window (it holds "
                "an ACCESS EXCLUSIVE lock for the whole rewrite and needs free disk for a copy of the live data). "
                "First find what let it bloat: long transactions, or autovacuum too slow for the table's churn.",
            statement=f"VACUUM (FULL, ANALYZE, VERBOSE) {name};  -- blocks every read and write of it until done",
            addressed_by="runbook:table-bloat")


@rule(reads=CATALOG_ONLY)
def never_analyzed(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "tables")
    tables = [tb for tb in (catalog.tables if catalog else [])
              if tb.last_analyze is None and tb.last_autoanalyze is None and tb.live_rows + tb.dead_rows > 0]
    if not tables:
        return
    yield Finding(
        id="maintenance.never_analyzed", rule="maintenance.never_analyzed", area="monitoring", severity=Severity.MEDIUM,
        title=f"{len(tables)} table(s) with rows have never been analyzed",
        evidence=[Evidence(subject=tb.qualified_name, detail=f"{tb.live_rows:,} rows, no ANALYZE on record")
                  for tb in tables[:10]],
        impact="The planner guesses their row counts and value distributions: joins and index choices go wrong.",
        fix="ANALYZE them; check autovacuum is on for them.",
        statement="\n".join(f"ANALYZE {qualified(tb.schema_name, tb.name)};" for tb in tables[:10]),
        addressed_by="action:analyze", action_params={"table": tables[0].qualified_name})


@rule(reads=CATALOG_ONLY)
def xid_wraparound(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "databases")
    for database in catalog.databases if catalog else []:
        age = database.xid_age
        if age < t.get("maintenance.xid_age_medium", 200_000_000):
            continue
        severity = (Severity.CRITICAL if age >= t.get("maintenance.xid_age_critical", 1_500_000_000) else
                    Severity.HIGH if age >= t.get("maintenance.xid_age_high", 1_000_000_000) else Severity.MEDIUM)
        yield Finding(
            id=f"maintenance.xid_wraparound:{database.name}", rule="maintenance.xid_wraparound", area="capacity",
            severity=severity,
            title=f"Database {database.name}: transaction ID age {age:,} ({100 * age / WRAPAROUND_LIMIT:.0f}% of wraparound)",
            evidence=[Evidence(subject=database.name, detail=f"age(datfrozenxid) = {age:,}")],
            impact="At about 2 billion the server stops accepting writes to prevent data loss until the database is "
                   "vacuumed; anti-wraparound vacuums before that are long and heavy.",
            fix="Find the tables with the oldest relfrozenxid and VACUUM (FREEZE) them; end long transactions and "
                "abandoned replication slots or prepared transactions that hold the horizon back.",
            addressed_by="runbook:xid-wraparound")


@rule(reads=CATALOG_ONLY)
def sequence_exhaustion(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    """A sequence runs out at its own maximum or at its column's, whichever is lower: a bigint
    sequence feeding an integer column fails at 2^31."""
    catalog = catalog_sections(snapshot, "sequences")
    for sequence in catalog.sequences if catalog else []:
        if sequence.last_value is None or sequence.limit <= 0:
            continue
        used = max(0, sequence.last_value) / sequence.limit
        if used < t.get("maintenance.sequence_used", 0.9):
            continue
        name = f"{sequence.schema_name}.{sequence.name}"
        column = sequence.column_max is not None
        where = (f"column {sequence.column_table}.{sequence.column_name} ({sequence.column_type})" if column
                 else f"range ({sequence.data_type})")
        widen = (f"ALTER TABLE {qualified(sequence.column_schema, sequence.column_table)} ALTER COLUMN "
                 f"{quote_ident(sequence.column_name)} TYPE bigint;  -- rewrites the table: plan it\n"
                 if column and sequence.column_name else "-- and ALTER TABLE … ALTER COLUMN … TYPE bigint\n")
        yield Finding(
            id=f"maintenance.sequence_exhaustion:{name}", rule="maintenance.sequence_exhaustion", area="capacity",
            severity=Severity.CRITICAL if used >= 0.98 else Severity.HIGH,
            title=f"Sequence {name} has used {100 * used:.1f}% of its {where}",
            evidence=[Evidence(subject=name, detail=f"last_value {sequence.last_value:,} of max {sequence.limit:,}"
                                                    + (f" (the {sequence.column_type} column's; the sequence's "
                                                       f"own max is {sequence.max_value:,})" if column else ""))],
            impact="When it reaches the maximum every insert that needs a new value fails"
                   + (": the column overflows before the sequence does." if column else "."),
            fix="Change the column and the sequence to bigint (a table rewrite: plan it), or reset the sequence if "
                "old values are free.",
            statement=widen + f"ALTER SEQUENCE {qualified(sequence.schema_name, sequence.name)} AS bigint "
                              "MAXVALUE 9223372036854775807;",
            addressed_by="runbook:sequence-exhaustion")

