"""Schema design a DBA reviews on a database handed over: columns of types to avoid, foreign keys
whose column type differs from the key they reference, *_id columns no foreign key protects, and
partitioned tables (a default partition collecting rows, range partitions about to run out, too
many partitions)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timezone

from ...engines.quoting import qualified, quote_ident
from ...engines.snapshot import PartitionedTable, Snapshot
from ..engine import CATALOG_ONLY, Thresholds, catalog_sections, rule
from ..model import Evidence, Finding, Severity
from ..wording import clean

EVIDENCE_LIMIT = 10
# A range bound that is a date or timestamp literal: '2026-01-01' or '2026-01-01 00:00:00+00'.
DATE_BOUND = re.compile(r"^'(\d{4}-\d{2}-\d{2})(?:[ T][0-9:.+-]*)?'$")


@rule(reads=CATALOG_ONLY)
def avoided_column_types(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "avoided_types")
    tables = catalog.avoided_types if catalog else []
    if not tables:
        return
    columns = sum(len(a.columns) for a in tables)
    yield Finding(
        id="schema.avoided_types", rule="schema.avoided_types", area="schema", severity=Severity.LOW,
        title=f"{columns} column(s) in {len(tables)} table(s) use types PostgreSQL's own wiki advises against",
        evidence=[Evidence(subject=f"{a.schema_name}.{a.table}", detail=clean(", ".join(a.columns), 300))
                  for a in tables[:EVIDENCE_LIMIT]],
        impact="timestamp without time zone stores wall-clock times that shift meaning with the client's time "
               "zone and across DST; char(n) pads with spaces that comparisons and lengths trip on; money "
               "depends on lc_monetary and rounds. Each has caused wrong results in production.",
        fix="Use timestamptz, text (or varchar with a CHECK), and numeric for amounts; convert in a planned "
            "migration (a type change rewrites the table).",
        statement="\n".join(f"-- ALTER TABLE {qualified(a.schema_name, a.table)} ALTER COLUMN … TYPE timestamptz "
                            "USING … AT TIME ZONE '<the zone it was written in>';" for a in tables[:3]))


@rule(reads=CATALOG_ONLY)
def foreign_key_type_mismatch(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "foreign_key_type_mismatches")
    for m in catalog.foreign_key_type_mismatches if catalog else []:
        yield Finding(
            id=f"schema.fk_type_mismatch:{m.schema_name}.{m.table}.{m.name}", rule="schema.fk_type_mismatch",
            area="schema", severity=Severity.MEDIUM,
            title=f"{m.schema_name}.{m.table}.{m.column} is {m.column_type} but references "
                  f"{m.referenced_table}.{m.referenced_column} ({m.referenced_type})",
            evidence=[Evidence(subject=m.name, detail=f"{m.table}.{m.column} {m.column_type} -> "
                                                      f"{m.referenced_schema}.{m.referenced_table}.{m.referenced_column} "
                                                      f"{m.referenced_type}")],
            impact="When the referenced key outgrows the narrower type, inserts of new references fail; joins "
                   "on the key compare across types (casts, and plans that cannot use the index on one side).",
            fix=f"Change {m.column} to {m.referenced_type} (a table rewrite: plan it like a migration).",
            statement=f"ALTER TABLE {qualified(m.schema_name, m.table)} ALTER COLUMN {quote_ident(m.column)} "
                      f"TYPE {m.referenced_type};  -- rewrites the table under an ACCESS EXCLUSIVE lock")


def _referenced_table(column: str, tables: dict[str, str]) -> str | None:
    """The table a `<thing>_id` column names, if one exists (thing, things, thinges; category -> categories)."""
    stem = column[:-3].lower()
    for name in (stem, stem + "s", stem + "es", stem[:-1] + "ies" if stem.endswith("y") else None):
        if name and name in tables:
            return tables[name]
    return None


@rule(reads=CATALOG_ONLY)
def id_columns_without_foreign_key(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "unreferenced_id_columns", "tables")
    if catalog is None:
        return
    tables = {tb.name.lower(): tb.qualified_name for tb in catalog.tables}
    loose = [(c, target) for c in catalog.unreferenced_id_columns
             if (target := _referenced_table(c.column, tables)) is not None]
    if not loose:
        return
    yield Finding(
        id="schema.id_without_fk", rule="schema.id_without_fk", area="schema", severity=Severity.INFO,
        title=f"{len(loose)} *_id column(s) name a table but have no foreign key",
        evidence=[Evidence(subject=f"{c.schema_name}.{c.table}.{c.column}", detail=f"no foreign key; {target} exists")
                  for c, target in loose[:EVIDENCE_LIMIT]],
        impact="Nothing stops a row pointing at a parent that does not exist (or was deleted): orphans "
               "accumulate and joins silently drop rows. Sometimes deliberate (sharding, soft deletes): say so.",
        fix="Add the foreign key NOT VALID (no scan, brief lock), then VALIDATE it (reads the table under a "
            "lock that lets writes through); index the column too.",
        statement="\n".join(
            f"ALTER TABLE {qualified(c.schema_name, c.table)} ADD FOREIGN KEY ({quote_ident(c.column)}) "
            f"REFERENCES {target} NOT VALID;" for c, target in loose[:3]))


def _newest_bound(table: PartitionedTable) -> date | None:
    dates = [date.fromisoformat(m.group(1)) for bound in table.upper_bounds or []
             if (m := DATE_BOUND.match(bound.strip()))]
    return max(dates) if dates else None


@rule
def partitions_running_out(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    """Range-partitioned by date with no default partition: an insert past the newest partition's upper
    bound fails."""
    catalog = catalog_sections(snapshot, "partitioned_tables")
    horizon = t.get("partitions.horizon_days", 7)
    today = snapshot.taken_at.astimezone(timezone.utc).date()
    for table in catalog.partitioned_tables if catalog else []:
        if table.strategy != "r" or table.default_partition or any(
                "MAXVALUE" in b.upper() for b in table.upper_bounds or []):
            continue
        newest = _newest_bound(table)
        if newest is None:
            continue
        days = (newest - today).days
        if days > horizon:
            continue
        name = f"{table.schema_name}.{table.name}"
        yield Finding(
            id=f"partitions.running_out:{name}", rule="partitions.running_out", area="schema",
            severity=Severity.CRITICAL if days <= 0 else Severity.HIGH,
            title=(f"{name}: no partition for rows from {newest} on: inserts for today fail" if days <= 0 else
                   f"{name}: the newest partition ends {newest}, in {days} day(s)"),
            evidence=[Evidence(subject=name, detail=f"range partitioned, {table.partition_count} partitions, newest "
                                                    f"upper bound {newest}, no default partition")],
            impact="An insert whose key is past the last partition fails with 'no partition of relation found for "
                   "row': the application's writes stop at midnight of that day.",
            fix="Create the next partitions now (and automate it: pg_partman or a scheduled job that keeps "
                "several ahead).",
            statement=f"CREATE TABLE {qualified(table.schema_name, table.name + '_next')} PARTITION OF "
                      f"{qualified(table.schema_name, table.name)} FOR VALUES FROM ('{newest}') TO ('<next bound>');")


@rule(reads=CATALOG_ONLY)
def default_partition_rows(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "partitioned_tables")
    for table in catalog.partitioned_tables if catalog else []:
        if not table.default_partition or (table.default_rows or 0) < t.get("partitions.default_min_rows", 1000):
            continue
        name = f"{table.schema_name}.{table.name}"
        yield Finding(
            id=f"partitions.default_rows:{name}", rule="partitions.default_rows", area="schema",
            severity=Severity.MEDIUM,
            title=f"The default partition of {name} holds about {table.default_rows:,} rows",
            evidence=[Evidence(subject=f"{table.schema_name}.{table.default_partition}",
                               detail=f"about {table.default_rows:,} rows (reltuples) that match no partition")],
            impact="Rows for ranges nobody created a partition for pile up where queries cannot prune them; and "
                   "creating the missing partition later scans the default partition under a lock and fails if "
                   "rows for the new range are there.",
            fix="Find which keys land there, create their partitions, and move the rows (detach the default, "
                "create the partitions, re-insert, attach).",
            statement=f"SELECT min(key), max(key), count(*) FROM "
                      f"{qualified(table.schema_name, table.default_partition)};  -- key: the partition key")


@rule(reads=CATALOG_ONLY)
def too_many_partitions(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "partitioned_tables")
    limit = t.get("partitions.max", 1000)
    for table in catalog.partitioned_tables if catalog else []:
        if table.partition_count <= limit:
            continue
        name = f"{table.schema_name}.{table.name}"
        yield Finding(
            id=f"partitions.too_many:{name}", rule="partitions.too_many", area="performance", severity=Severity.LOW,
            title=f"{name} has {table.partition_count:,} partitions",
            evidence=[Evidence(subject=name, detail=f"{table.partition_count:,} partitions, strategy {table.strategy}")],
            impact="Planning time and lock-table use grow with the partitions a query cannot prune at plan time; "
                   "a query without the key locks and plans all of them.",
            fix="Use coarser partitions (monthly rather than daily), detach and archive old ones, and make sure "
                "queries filter on the partition key.")
